"""Realistic values: what a real partner puts in each shared definition, and in a few calls.

`DOMAIN` gives a strategy per shared definition of ``common/definitions.json`` (EVSE IDs,
EVCO IDs, upper-case hexadecimal UIDs, recent times, coordinates in range, addresses);
the schema walker uses it wherever a schema refers to one. `VALUE_FIXUPS` make a drawn
message look like what its sender would send (a CDR names its customer by EVCO ID or UID,
a station's connectors belong to its operator); they are realism, not rules: ``validate``
does not judge them. The rules it does judge keep their own fix-ups (`oioi._semantic.RULES`).
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

__all__ = ["DOMAIN", "TEXT_POOL", "VALUE_FIXUPS", "Draw", "clock", "decimals", "today"]

Draw = Callable[[st.SearchStrategy[Any]], Any]

_UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_COUNTRIES = ("DE", "NL", "AT", "FR", "BE", "CH", "DK", "SE", "NO", "IT", "ES", "GB")
_WORDS = (
    "Berlin",
    "Hauptstr.",
    "Amsterdam",
    "Station",
    "Parkhaus",
    "Nord",
    "Mitte",
    "Ladepunkt",
    "Wien",
    "Lyon",
    "Am Markt",
    "10243",
    "+49 30 8122321",
    "info@example.com",
    "Ladesäule Süd",
    "Tiefgarage Ebene -1",
)
# Realistic free text, drawn in one choice (the walker's strings without a pattern).
TEXT_POOL = tuple(_WORDS) + tuple(f"{w} {n}" for w in _WORDS[:10] for n in (1, 2, 12, 123))


# --- the shared definitions ---------------------------------------------------------------------------
# Each value is built from a few integer draws rather than character by character: Hypothesis
# then draws a whole station-post in a fraction of the choices (see benchmarks/).


def _base36(width: int) -> st.SearchStrategy[str]:
    def render(number: int) -> str:
        digits = ""
        for _ in range(width):
            number, digit = divmod(number, 36)
            digits = _UPPER_ALNUM[digit] + digits
        return digits

    return st.integers(0, 36**width - 1).map(render)


# Operator prefixes (country and three-character party id), as EVSE and EVCO IDs start.
_PARTIES = tuple(f"{cc}*{party}" for cc in _COUNTRIES for party in ("8PS", "ABC", "X1Y", "123", "EMP"))


def _evse_id() -> st.SearchStrategy[str]:
    return st.builds(
        lambda party, number: f"{party}*E{number // 4}{('', '*1', '*2', 'A')[number % 4]}",
        st.sampled_from((*_PARTIES, "DE8PS")),
        st.integers(4, 4 * 10**9),
    )


def _evco_id() -> st.SearchStrategy[str]:
    def render(party: str, number: int) -> str:
        sep = ("*", "-", "")[number % 3]
        return f"{party.replace('*', sep)}{sep}{number // 33 % 10**6:06d}{sep}{'0123456789X'[number // 3 % 11]}"

    return st.builds(render, st.sampled_from(_PARTIES), st.integers(0, 33 * 10**6 - 1))


def _rfid_uid() -> st.SearchStrategy[str]:
    return st.builds(
        lambda length, number: f"{number % 16**length:0{length}X}",
        st.sampled_from([8, 14, 20]),
        st.integers(0, 16**20 - 1),
    )


clock = functools.partial(datetime.datetime.now, datetime.UTC)  # a seam for tests: what "now" is
_RECENT_DAYS = 14  # generated times lie within the last two weeks, as a partner's sessions and CDRs do


def today() -> datetime.datetime:
    """The start of the current day (UTC): times count back from it, so one seed draws the same all day."""
    now = clock()
    return datetime.datetime(now.year, now.month, now.day, tzinfo=datetime.UTC)


def _moment(seconds_ago: int, offset: int) -> str:
    """A whole-second RFC 3339 time ``seconds_ago`` before today's start, written at UTC offset ``offset`` minutes."""
    moment = today() - datetime.timedelta(seconds=seconds_ago)
    return moment.astimezone(datetime.timezone(datetime.timedelta(minutes=offset))).isoformat(timespec="seconds")


def _date_time() -> st.SearchStrategy[str]:
    return st.builds(_moment, st.integers(0, _RECENT_DAYS * 86400), st.sampled_from([0, 60, 120, -300, 330]))


def decimals(low: float, high: float, places: int = 6) -> st.SearchStrategy[float]:
    """Numbers from ``low`` to ``high`` with at most ``places`` decimal places, drawn as one integer."""
    scale = 10**places
    return st.integers(int(low * scale), int(high * scale)).map(lambda n: n / scale)


_PLACES = (
    ("Berlin", "10243", "DE"),
    ("Hamburg", "20095", "DE"),
    ("Wien", "1010", "AT"),
    ("Amsterdam", "1012 AB", "NL"),
    ("Lyon", "69002", "FR"),
    ("Zürich", "8001", "CH"),
    ("Aarhus", "8000", "DK"),
    ("Milano", "20121", "IT"),
)
_STREETS = (
    "Warschauer Str.",
    "Hauptstraße",
    "Torgauer Str.",
    "Keizersgracht",
    "Rue de la République",
    "Bahnhofstrasse",
)


def _address() -> st.SearchStrategy[dict[str, str]]:
    return st.builds(
        lambda place, street, number: {
            "street": street,
            "street-number": str(number),
            "city": place[0],
            "zip": place[1],
            "country": place[2],
        },
        st.sampled_from(_PLACES),
        st.sampled_from(_STREETS),
        st.integers(1, 250),
    )


def _contact() -> st.SearchStrategy[dict[str, str]]:
    fields = (("fax", "+49 30 8122322"), ("website", "https://charge.example.com"), ("email", "support@example.com"))
    return st.builds(
        lambda number, present: {
            "phone": f"+49 30 {number}",
            **{k: v for i, (k, v) in enumerate(fields) if present >> i & 1},
        },
        st.integers(1000000, 9999999),
        st.integers(0, 7),
    )


_DAY_PAIRS = (("Mo", "Fr"), ("Sa", "Sa"), ("Su", "Su"), ("Mo", "Su"), ("Tu", "Th"), ("Sa", "Su"))
_HOUR_PAIRS = (("07:30", "19:00"), ("09:00", "15:00"), ("00:00", "24:00"), ("06:00", "22:00"), ("10:00", "14:30"))


def _open_hour_note() -> st.SearchStrategy[dict[str, list[str]]]:
    return st.builds(
        lambda days, times: {"times": list(times), "days": list(days)},
        st.sampled_from(_DAY_PAIRS),
        st.sampled_from(_HOUR_PAIRS),
    )


DOMAIN: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
    "address": _address,
    "contact": _contact,
    "open-hour-note": _open_hour_note,
    "evse-id": _evse_id,
    "evco-id": _evco_id,
    "cpo-id": lambda: st.builds(
        lambda cc, sep, op: f"{cc}{sep}{op}",
        st.sampled_from(_COUNTRIES),
        st.sampled_from(["*", ""]),
        st.text(_UPPER_ALNUM, min_size=3, max_size=3),
    ),
    "rfid-uid": _rfid_uid,
    "partner-identifier": lambda: st.uuids().map(str),
    "date-time": _date_time,
    "date": lambda: st.integers(0, _RECENT_DAYS).map(lambda d: str((today() - datetime.timedelta(days=d)).date())),
    "latitude": lambda: decimals(-90, 90),
    "longitude": lambda: decimals(-180, 180),
    "clock-time": lambda: st.builds(
        lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 45])
    ),
    "locale": lambda: st.sampled_from(["de", "en", "fr", "nl", "it", "es"]),
}


# --- realism in a few calls ----------------------------------------------------------------------------


# What ``identifier`` holds for each identifier-type (calls/session_start.rst: "The identifier is something
# that uniquely identifies the customer, depending on the identifier-type").
_IDENTIFIERS: dict[str, Callable[[], st.SearchStrategy[str]]] = {
    "evco-id": _evco_id,
    "rfid": _rfid_uid,
    "username": lambda: st.integers(1, 99999).map(lambda n: f"driver{n}@example.com"),
    "token": lambda: st.uuids().map(str),
}


def _identify(draw: Draw, user: dict[str, Any], types: tuple[str, ...]) -> None:
    """Give ``user`` one of ``types`` and an identifier of that type."""
    kind = user["identifier-type"] if user["identifier-type"] in types else draw(st.sampled_from(types))
    user["identifier-type"], user["identifier"] = kind, draw(_IDENTIFIERS[kind]())


def _cdr_customer(draw: Draw, message: dict[str, Any]) -> None:
    """A CDR: its customer identified as a CPO knows them (EVCO ID or UID), and a session-id of its own."""
    body = message["session-post"]
    _identify(draw, body["user"], ("evco-id", "rfid"))
    body["session-id"] = str(draw(st.uuids()))


_OPERATOR_PREFIX = re.compile(r"^([A-Za-z]{2})\*?([A-Za-z0-9]{3})\*?E(.*)$")


def _operators_station(draw: Draw, message: dict[str, Any]) -> None:
    """A station as its CPO posts it: all of one operator, and not deleted.

    Its connectors are its operator's and ``cpo-id`` is that operator ("country code … CPO identifier",
    glossary.rst, EVSE); ``deleted`` is false, since a station posted for the first time cannot be deleted
    (calls/station_post.rst: "Soft delete the station").
    """
    station = message["station-post"]["station"]
    first = _OPERATOR_PREFIX.match(station["connectors"][0]["id"])
    assert first is not None  # the evse-id pattern guarantees it
    country, operator = first.group(1), first.group(2)
    for connector in station["connectors"]:
        found = _OPERATOR_PREFIX.match(connector["id"])
        assert found is not None
        connector["id"] = f"{country}*{operator}*E{found.group(3)}"
    station["cpo-id"] = f"{country}*{operator}"
    station["deleted"] = False


def _remote_user(draw: Draw, message: dict[str, Any]) -> None:
    """session-start and session-stop: "it is usually required that the identifier-type must be evco-id"."""
    body = next(iter(message.values()))
    _identify(draw, body["user"], ("evco-id",))
    if "session-id" in body:
        body["session-id"] = str(draw(st.uuids()))


def _reservation_holders(draw: Draw, message: dict[str, Any]) -> None:
    """One entry per customer: no EVCO ID (and no UID) twice in one reservation."""
    body = message["reservation-start"]
    seen: set[str] = set()
    holders = []
    for holder in body["identifier"]:
        if holder["evco-id"] not in seen and holder.get("rfid") not in seen:
            seen.update(v for v in (holder["evco-id"], holder.get("rfid")) if v)
            holders.append(holder)
    body["identifier"] = holders


def _reservation_identifier(draw: Draw, message: dict[str, Any]) -> None:
    body = message["reservation-stop"]
    body["identifier"] = draw(_IDENTIFIERS[body["identifier-type"]]())


def _reservation_ends_later(draw: Draw, message: dict[str, Any]) -> None:
    """The answer's ``end``: "the datetime when the reservation window closes", after the request."""
    body = message.get("reservation-start")
    if isinstance(body, dict) and isinstance(body.get("end"), str):
        body["end"] = (clock() + datetime.timedelta(minutes=draw(st.integers(1, 60)))).isoformat(timespec="seconds")


# Per call and direction; the generator runs them before the fix-ups of the semantic rules.
VALUE_FIXUPS: dict[tuple[str, str], Callable[[Draw, dict[str, Any]], None]] = {
    ("session-post", "request"): _cdr_customer,
    ("station-post", "request"): _operators_station,
    ("session-start", "request"): _remote_user,
    ("session-stop", "request"): _remote_user,
    ("reservation-start", "request"): _reservation_holders,
    ("reservation-stop", "request"): _reservation_identifier,
    ("reservation-start", "response"): _reservation_ends_later,
}
