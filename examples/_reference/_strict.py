"""strict-validation: the stricter readings of the spec's field descriptions, on top of the transport's checks.

Like examples/_reference/_checks.py, written from the spec's text, independent of the harness's
validator and JSON Schema files: a witness that shares the harness's assumptions proves nothing.
Each rule quotes its sentence; `problems` lists every field of a request that breaks one (empty:
the request is acceptable). It runs after `_checks.problems` found nothing, so what those already
check (types, enums, date-times, the glossary's patterns) is not checked again: here are the
country codes inside the IDs, upper-case UIDs everywhere, an identifier of its identifier-type,
evco-id users for a remote start or stop, 16-character partner identifiers and a charging stop.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from examples._reference._formats import COUNTRIES, CPO_ID, EVCO_ID, EVSE_ID, PARTNER_IDENTIFIER_LENGTH, UID

__all__ = ["problems"]

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


def _stop(path: str, interval: Any) -> Problems:
    if not isinstance(interval, dict) or interval.get("stop") is None:
        yield f'{path}.stop: missing; a charging interval is its "start and stop time" (calls/session_post.rst)'


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


def _rfid_verify(body: dict[str, Any]) -> Problems:
    yield from _uid("rfid", body.get("rfid"))


def _connector_post_status(body: dict[str, Any]) -> Problems:
    yield from _evse_id("connector-id", body.get("connector-id"))


def _session_post(body: dict[str, Any]) -> Problems:
    """A CDR "after a customer finished charging" (glossary.rst) or "before the session finished": a stop
    is optional in the session interval ("The start and, optionally, stop time"), required in a charging one.
    """
    yield from _user("user", body.get("user"), evco_only=False)
    yield from _evse_id("connector-id", body.get("connector-id"))
    if body.get("charging-interval") is not None:
        yield from _stop("charging-interval", body["charging-interval"])


def _station_post(body: dict[str, Any]) -> Problems:
    station: dict[str, Any] = body["station"] if isinstance(body.get("station"), dict) else {}
    cpo_id = station.get("cpo-id")
    if not isinstance(cpo_id, str) or not _country(CPO_ID.fullmatch(cpo_id)):
        yield f"station.cpo-id: {cpo_id!r} is not a CPO's EVSE identifier such as 'DE*8PS' (calls/station_post.rst)"
    for n, connector in enumerate(station.get("connectors") or []):
        connector = connector if isinstance(connector, dict) else {}
        yield from _evse_id(f"station.connectors[{n}].id", connector.get("id"))
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
