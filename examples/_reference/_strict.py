"""strict-validation: every field format the spec's field descriptions give, written from the spec's text.

Deliberately independent of ``oioi.validate`` and ``schemas/``: a witness that shares the
harness's assumptions proves nothing. Each rule quotes its sentence; `problems` lists every
field of a request that breaks one (empty: the request is acceptable).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["COUNTRIES", "problems"]

# ISO 3166-1 alpha-2, the officially assigned codes (glossary.rst: "Country Code (international two-letter
# code in accordance with ISO 3166-1 alpha-2)"; calls/station_post.rst, address.country).
COUNTRIES = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT
    JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY
    MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM
    PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT
    ZA ZM ZW
    """.split()  # noqa: SIM905 - the list reads as ISO publishes it
)
# glossary.rst, EVCO ID: country code, "The literal * or the literal - (optional)", "EMP identifier (letters and
# numbers; three characters ...)", "ID of the EVCO (letters and numbers; six characters)", "Check digit (A number
# or the literal X)".
EVCO_ID = re.compile(r"(?P<country>[A-Za-z]{2})[*-]?[A-Za-z0-9]{3}[*-]?[A-Za-z0-9]{6}[*-]?[0-9X]")
# glossary.rst, EVSE: "An EVSE ID must be valid with respect to the following structure:
# [A-Za-z]{2}\*?[A-Za-z0-9]{3}\*?E[A-Za-z0-9\*]{1,30}".
EVSE_ID = re.compile(r"(?P<country>[A-Za-z]{2})\*?[A-Za-z0-9]{3}\*?E[A-Za-z0-9*]{1,30}")
# calls/station_post.rst, cpo-id: "The EVSE identifier, e.g. DE*8PS, of the CPO" (the EVSE ID's first two parts).
CPO_ID = re.compile(r"(?P<country>[A-Za-z]{2})\*?[A-Za-z0-9]{3}")
# calls/rfid_post.rst, calls/rfid_verify.rst: "An RFID must have a length of 8, 14 or 20 characters", "All
# characters must be upper-case", "read from left to right using big-endian format": the bytes of a 4, 7 or
# 10 byte UID (ISO/IEC 14443's sizes) in upper-case hexadecimal.
UID = re.compile(r"[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20}")
# calls/session_post.rst: "The date/time format is RFC3339" (RFC 3339, 5.6: date-time; T, Z case-insensitive).
RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
)
# glossary.rst, Partner Identifier: "Must be a random string that is at least 16 characters long."
PARTNER_IDENTIFIER_LENGTH = 16
# calls/connector_post_status.rst, status: "One of the following strings".
STATUSES = ("Available", "Occupied", "Offline", "Reserved", "Unknown")
# calls/station_post.rst, connectors[].name: "Allowed types are:".
CONNECTOR_TYPES = (
    "Type2", "Combo", "Chademo", "Schuko", "Type3", "CeeBlue", "3PinSquare", "Type1", "CeeRed", "Cee2Poles", "Tesla",
    "Scame", "Nema5", "CeePlus", "T13", "T15", "T23", "Marechal", "TypeE",
)  # fmt: skip

Problems = Iterator[str]


def problems(call: str, body: Any) -> list[str]:
    """Every field of ``{call: body}`` whose format the spec's field descriptions do not allow."""
    rules = RULES.get(call)
    return [] if rules is None or not isinstance(body, dict) else list(rules(body))


def _country(match: re.Match[str] | None) -> bool:
    return match is not None and match["country"].upper() in COUNTRIES


def _evco_id(path: str, value: Any) -> Problems:
    if not isinstance(value, str) or not _country(EVCO_ID.fullmatch(value)):
        yield f"{path}: {value!r} is not an EVCO ID (glossary.rst: CC*EEE*NNNNNN*D, CC an ISO 3166-1 country)"


def _evse_id(path: str, value: Any) -> Problems:
    if not isinstance(value, str) or not _country(EVSE_ID.fullmatch(value)):
        yield f"{path}: {value!r} is not an EVSE ID (glossary.rst: CC*OOO*E..., CC an ISO 3166-1 country)"


def _uid(path: str, value: Any) -> Problems:
    if not isinstance(value, str) or not UID.fullmatch(value):
        yield f"{path}: {value!r} is not a UID (8, 14 or 20 upper-case characters, zero-padded on the left)"


def _date_time(path: str, value: Any) -> Problems:
    found = RFC3339.fullmatch(value) if isinstance(value, str) else None
    try:
        if found is None:
            raise ValueError
        year, month, day, hour, minute, second = (int(part) for part in found.groups())
        datetime.datetime(year, month, day, hour, minute, min(second, 59))  # 60: a leap second (RFC 3339, 5.7)
        if second > 60:
            raise ValueError
    except ValueError:
        yield f"{path}: {value!r} is not an RFC 3339 date-time (e.g. 2016-05-09T04:08:06+02:00)"


def _partner(path: str, value: Any) -> Problems:
    if not isinstance(value, str) or len(value) < PARTNER_IDENTIFIER_LENGTH:
        yield f"{path}: {value!r} is not a partner identifier of at least 16 characters (glossary.rst)"


def _user(path: str, user: Any, *, evco_only: bool) -> Problems:
    """user: "The identifier is something that uniquely identifies the customer, depending on the
    identifier-type" (calls/session_start.rst); for a start or stop "it is usually required that the
    identifier-type must be evco-id" — this CPO requires it.
    """
    user = user if isinstance(user, dict) else {}
    kind, identifier = user.get("identifier-type"), user.get("identifier")
    if evco_only and kind != "evco-id":
        yield f"{path}.identifier-type: {kind!r}; this CPO requires 'evco-id' (calls/session_start.rst)"
    checks: dict[Any, Callable[[str, Any], Problems]] = {"evco-id": _evco_id, "rfid": _uid}
    if kind in checks:
        yield from checks[kind](f"{path}.identifier", identifier)


def _interval(path: str, interval: Any, *, stop_required: bool) -> Problems:
    interval = interval if isinstance(interval, dict) else {}
    yield from _date_time(f"{path}.start", interval.get("start"))
    if stop_required or interval.get("stop") is not None:
        yield from _date_time(f"{path}.stop", interval.get("stop"))


def _session_start(body: dict[str, Any]) -> Problems:
    yield from _user("user", body.get("user"), evco_only=True)
    yield from _evse_id("connector-id", body.get("connector-id"))


def _session_stop(body: dict[str, Any]) -> Problems:
    yield from _session_start(body)


def _reservation_start(body: dict[str, Any]) -> Problems:
    yield from _evse_id("connector-id", body.get("connector-id"))
    for n, holder in enumerate(body.get("identifier") or []):
        holder = holder if isinstance(holder, dict) else {}
        yield from _evco_id(f"identifier[{n}].evco-id", holder.get("evco-id"))
        if holder.get("rfid") is not None:
            yield from _uid(f"identifier[{n}].rfid", holder["rfid"])


def _reservation_stop(body: dict[str, Any]) -> Problems:
    kind = body.get("identifier-type")
    yield from (_evco_id if kind == "evco-id" else _uid)("identifier", body.get("identifier"))


def _rfid_post(body: dict[str, Any]) -> Problems:
    for n, uid in enumerate(body.get("rfids") or []):
        yield from _uid(f"rfids[{n}]", uid)
    yield from _partner("partner-identifier", body.get("partner-identifier"))


def _rfid_verify(body: dict[str, Any]) -> Problems:
    yield from _uid("rfid", body.get("rfid"))


def _connector_post_status(body: dict[str, Any]) -> Problems:
    yield from _evse_id("connector-id", body.get("connector-id"))
    if body.get("status") not in STATUSES:
        yield f"status: {body.get('status')!r} is not one of {', '.join(STATUSES)}"
    yield from _partner("partner-identifier", body.get("partner-identifier"))


def _session_post(body: dict[str, Any]) -> Problems:
    """A CDR "after a customer finished charging" (glossary.rst) or "before the session finished": a stop
    is optional in the session interval ("The start and, optionally, stop time"), required in a charging one.
    """
    yield from _user("user", body.get("user"), evco_only=False)
    yield from _evse_id("connector-id", body.get("connector-id"))
    yield from _interval("session-interval", body.get("session-interval"), stop_required=False)
    if body.get("charging-interval") is not None:
        yield from _interval("charging-interval", body["charging-interval"], stop_required=True)
    yield from _partner("partner-identifier", body.get("partner-identifier"))


def _station_post(body: dict[str, Any]) -> Problems:
    station: dict[str, Any] = body["station"] if isinstance(body.get("station"), dict) else {}
    address: dict[str, Any] = station["address"] if isinstance(station.get("address"), dict) else {}
    country = address.get("country")
    if not isinstance(country, str) or country not in COUNTRIES:
        yield f"station.address.country: {country!r} is not an ISO 3166-1 alpha-2 code (calls/station_post.rst)"
    cpo_id = station.get("cpo-id")
    if not isinstance(cpo_id, str) or not _country(CPO_ID.fullmatch(cpo_id)):
        yield f"station.cpo-id: {cpo_id!r} is not a CPO's EVSE identifier such as 'DE*8PS' (calls/station_post.rst)"
    for n, connector in enumerate(station.get("connectors") or []):
        connector = connector if isinstance(connector, dict) else {}
        yield from _evse_id(f"station.connectors[{n}].id", connector.get("id"))
        if connector.get("name") not in CONNECTOR_TYPES:
            yield f"station.connectors[{n}].name: {connector.get('name')!r} is not an allowed type"
    yield from _partner("partner-identifier", body.get("partner-identifier"))


RULES: dict[str, Callable[[dict[str, Any]], Problems]] = {
    "session-start": _session_start,
    "session-stop": _session_stop,
    "reservation-start": _reservation_start,
    "reservation-stop": _reservation_stop,
    "rfid-post": _rfid_post,
    "rfid-verify": _rfid_verify,
    "connector-post-status": _connector_post_status,
    "session-post": _session_post,
    "station-post": _station_post,
}
