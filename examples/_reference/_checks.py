"""The references' own request checks: each call's fields as the spec's field descriptions give them.

The references are independent witnesses of what the spec allows, so nothing here comes from
the harness: no ``oioi.validate``, no JSON Schema file, no strategy. `REQUESTS` is one rule per
call a reference receives, written from calls/*.rst and glossary.rst (the formats they state are
in examples/_reference/_formats.py) and built from a few small rules (`fields`, `text`,
`matching`, `one_of`, `number`, `array`, ...); `problems` lists every place a request breaks its
call's rule (empty: the request is valid).

The stance is lenient: unknown fields are accepted (index.rst: "new fields may be added to
requests and responses"), and where a call's own example contradicts its field description,
the example's form is accepted too (each such rule says so). examples/_reference/_strict.py
holds the stricter readings that the strict-validation behaviour adds.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any, NamedTuple

from examples._reference._formats import (
    CLOCK_TIME,
    CONNECTOR_NUMBER,
    CONNECTOR_TYPES,
    COUNTRIES,
    CPO_ID,
    CURRENCY,
    EVCO_ID_OF_EXAMPLES,
    EVSE_ID,
    IDENTIFIER_TYPES,
    PARTNER_IDENTIFIER_LENGTH,
    RESERVATION_IDENTIFIER_TYPES,
    RFC3339,
    STATUSES,
    UID,
    UID_OF_EXAMPLE,
    WEEKDAYS,
)

__all__ = ["REQUESTS", "problems"]

# --- the rules: each takes a value's path and the value, and yields what is wrong with it ------------

Problems = Iterator[str]
Rule = Callable[[str, Any], Problems]


class _Optional(NamedTuple):
    rule: Rule


def optional(rule: Rule) -> _Optional:
    """A member that may be left out: its field description says "(optional)"."""
    return _Optional(rule)


def problems(call: str, body: Any) -> list[str]:
    """Every place where the request ``{call: body}`` breaks its call's rule in `REQUESTS` (empty: valid)."""
    rule = REQUESTS.get(call)
    return [] if rule is None else list(rule(call, body))


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fields(members: Mapping[str, Rule | _Optional]) -> Rule:
    """An object with ``members`` (each required unless `optional`); other members are accepted, unread."""

    def rule(path: str, value: Any) -> Problems:
        if not isinstance(value, dict):
            yield f"{path}: {_show(value)} is not an object"
            return
        for name, member in members.items():
            if name in value:
                yield from (member.rule if isinstance(member, _Optional) else member)(f"{path}.{name}", value[name])
            elif not isinstance(member, _Optional):
                yield f"{path}.{name}: missing, and its field description does not mark it optional"

    return rule


def text(min_length: int = 0, where: str = "the field description") -> Rule:
    """A string of at least ``min_length`` characters (``where``: where the spec says so)."""

    def rule(path: str, value: Any) -> Problems:
        if not isinstance(value, str):
            yield f"{path}: {_show(value)} is not a string"
        elif len(value) < min_length:
            yield f"{path}: {_show(value)} is shorter than {min_length} characters ({where})"

    return rule


def matching(pattern: re.Pattern[str], what: str) -> Rule:
    """A string ``pattern`` matches as a whole (``what`` names the format and where the spec gives it)."""

    def rule(path: str, value: Any) -> Problems:
        if not isinstance(value, str) or pattern.fullmatch(value) is None:
            yield f"{path}: {_show(value)} is not {what}"

    return rule


def one_of(values: Collection[str], where: str) -> Rule:
    """One of the strings the field description lists (in ``where``)."""
    shown = ", ".join(list(values)[:8]) + (", ..." if len(values) > 8 else "")

    def rule(path: str, value: Any) -> Problems:
        if not isinstance(value, str) or value not in values:
            yield f"{path}: {_show(value)} is not one of {shown} ({where})"

    return rule


def any_of(*rules: Rule) -> Rule:
    """A value one of ``rules`` accepts; otherwise the first rule's problems."""

    def rule(path: str, value: Any) -> Problems:
        found = [list(each(path, value)) for each in rules]
        if all(found):
            yield from found[0]

    return rule


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number(*, low: float | None = None, high: float | None = None, above: float | None = None) -> Rule:
    """A JSON number (the spec's "float"), at least ``low``, at most ``high``, greater than ``above``."""

    def rule(path: str, value: Any) -> Problems:
        if not _is_number(value):
            yield f"{path}: {_show(value)} is not a number"
        elif low is not None and value < low:
            yield f"{path}: {value!r} is less than {low}"
        elif high is not None and value > high:
            yield f"{path}: {value!r} is more than {high}"
        elif above is not None and value <= above:
            yield f"{path}: {value!r} is not more than {above}"

    return rule


def integer(*, low: int | None = None) -> Rule:
    """A JSON integer (a number without a fraction), at least ``low``."""

    def rule(path: str, value: Any) -> Problems:
        if not _is_number(value) or (isinstance(value, float) and not value.is_integer()):
            yield f"{path}: {_show(value)} is not an integer"
        elif low is not None and value < low:
            yield f"{path}: {value!r} is less than {low}"

    return rule


def boolean(path: str, value: Any) -> Problems:
    """``true`` or ``false``."""
    if not isinstance(value, bool):
        yield f"{path}: {_show(value)} is not a boolean"


def array(item: Rule, *, min_items: int = 0, length: int | None = None, unique: str | None = None) -> Rule:
    """A list of ``item``s: at least ``min_items``, exactly ``length`` when given, no two with the same ``unique``."""
    wanted = f"exactly {length}" if length is not None else f"at least {min_items}"

    def rule(path: str, value: Any) -> Problems:
        if not isinstance(value, list):
            yield f"{path}: {_show(value)} is not an array"
            return
        if len(value) < min_items or (length is not None and len(value) != length):
            yield f"{path}: {len(value)} items, not {wanted}"
        for n, each in enumerate(value):
            yield from item(f"{path}[{n}]", each)
        if unique is not None:
            yield from _repeats(path, value, unique)

    return rule


def _repeats(path: str, items: list[Any], member: str) -> Problems:
    seen: set[str] = set()
    for n, each in enumerate(items):
        key = each.get(member) if isinstance(each, dict) else None
        if isinstance(key, str) and key in seen:
            yield f"{path}[{n}].{member}: {key!r} again; each must be unique"
        if isinstance(key, str):
            seen.add(key)


def date_time(path: str, value: Any) -> Problems:
    """An RFC 3339 date-time (calls/session_post.rst: "The date/time format is RFC3339") on a real calendar day."""
    if instant(value) is None:
        yield f"{path}: {_show(value)} is not an RFC 3339 date-time (e.g. 2016-05-09T04:08:06+02:00)"


def instant(value: Any) -> datetime.datetime | None:
    """The moment an RFC 3339 date-time names (None: not one); a leap second (60, RFC 3339, 5.7) counts as 59."""
    found = RFC3339.fullmatch(value) if isinstance(value, str) else None
    if found is None or int(found[6]) > 60:
        return None
    year, month, day, hour, minute, second = (int(part) for part in found.groups()[:6])
    sign, hours, minutes = found.groups()[6:]
    offset = datetime.timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
    zone = datetime.timezone(-offset if sign == "-" else offset)
    try:
        return datetime.datetime(year, month, day, hour, minute, min(second, 59), tzinfo=zone)
    except ValueError:  # a day or an hour no calendar has, e.g. 2021-02-30 or 24:00:00
        return None


def _interval_ordered(path: str, value: Any) -> Problems:
    """An interval's stop is not before its start."""
    start, stop = instant(value.get("start")), instant(value.get("stop"))
    if start is not None and stop is not None and stop < start:
        yield f"{path}.stop: {value['stop']!r} is before the start {value['start']!r}"


def _charging_inside_session(path: str, body: Any) -> Problems:
    """calls/session_post.rst: charging-interval is "the time the charging first started and last ended", so it
    lies inside the session-interval ("the time the driver plugged in and out").
    """
    session, charging = body["session-interval"], body.get("charging-interval", {})
    start, session_start = instant(charging.get("start")), instant(session.get("start"))
    if start is not None and session_start is not None and start < session_start:
        yield f"{path}.charging-interval.start: {charging['start']!r} is before the session's start"
    stop, session_stop = instant(charging.get("stop")), instant(session.get("stop"))
    if stop is not None and session_stop is not None and stop > session_stop:
        yield f"{path}.charging-interval.stop: {charging['stop']!r} is after the session's stop"


def then(rule: Rule, *checks: Rule) -> Rule:
    """``rule``, and when it finds nothing, the ``checks`` across its fields (which may rely on its shape)."""

    def both(path: str, value: Any) -> Problems:
        found = list(rule(path, value))
        yield from found
        if not found:
            for check in checks:
                yield from check(path, value)

    return both


# --- the calls: one rule each, from its field descriptions --------------------------------------------

STRING, NON_EMPTY = text(), text(1)
EVSE = matching(EVSE_ID, "an EVSE ID (glossary.rst: [A-Za-z]{2}*?[A-Za-z0-9]{3}*?E[A-Za-z0-9*]{1,30})")
PARTNER = text(PARTNER_IDENTIFIER_LENGTH, "glossary.rst, Partner Identifier")
USER = fields(
    {
        "identifier-type": one_of(IDENTIFIER_TYPES, "calls/session_start.rst"),
        "identifier": NON_EMPTY,  # "something that uniquely identifies the customer"
        "token": optional(STRING),
    }
)
REMOTE_CONNECTOR = any_of(EVSE, matching(CONNECTOR_NUMBER, "a connector number as in the call's example"))
HOLDER = fields(
    {
        "evco-id": matching(EVCO_ID_OF_EXAMPLES, "an EVCO ID (glossary.rst: CC*EEE*NNNNNN*D)"),
        "rfid": optional(matching(UID, "a UID (8, 14 or 20 upper-case hexadecimal characters)")),
    }
)
OPEN_HOURS = fields(
    {
        "times": array(matching(CLOCK_TIME, "a time of day HH:MM"), length=2),  # "Opening and closing time"
        "days": array(one_of(WEEKDAYS, "calls/station_post.rst"), length=2),  # "array of two strings"
    }
)
ADDRESS = fields(
    {
        "street": STRING,
        "street-number": STRING,
        "city": STRING,
        "zip": STRING,
        "country": one_of(sorted(COUNTRIES), "ISO 3166-1 alpha-2, calls/station_post.rst"),
    }
)
CONTACT = fields({"phone": STRING, "fax": optional(STRING), "website": optional(STRING), "email": optional(STRING)})
CONNECTOR = fields(
    {
        "id": EVSE,
        "name": one_of(CONNECTOR_TYPES, "calls/station_post.rst"),
        "speed": number(above=0),  # "Speed in kW (float)": a connector delivers some power
    }
)
STATION = fields(
    {
        "id": NON_EMPTY,  # "An identifier that uniquely identifies the station"
        "name": NON_EMPTY,  # "The name is shown to the EV driver"
        "description": optional(STRING),
        "latitude": number(low=-90, high=90),
        "longitude": number(low=-180, high=180),
        "address": ADDRESS,
        "contact": CONTACT,
        "cpo-id": matching(CPO_ID, "a CPO's EVSE identifier such as 'DE*8PS' (calls/station_post.rst)"),
        "is-open-24": boolean,
        # "The id of every connector must be globally unique."
        "connectors": array(CONNECTOR, min_items=1, unique="id"),
        "open-hour-notes": optional(array(OPEN_HOURS)),
        "notes": optional(STRING),
        "is-reservable": optional(boolean),
        "floor-level": optional(integer()),
        "is-free-charge": optional(boolean),
        "total-parking": optional(integer(low=0)),  # "The number of parking spots"
        "is-green-power-available": optional(boolean),
        "is-plugin-charge": optional(boolean),
        "is-roofed": optional(boolean),
        "is-private": optional(boolean),
        "deleted": boolean,
    }
)
INTERVAL = then(fields({"start": date_time, "stop": optional(date_time)}), _interval_ordered)
COST = fields({"amount": number(), "currency": matching(CURRENCY, "a currency code such as 'EUR'")})

REQUESTS: dict[str, Rule] = {
    # calls/session_start.rst, calls/session_stop.rst
    "session-start": fields({"user": USER, "connector-id": REMOTE_CONNECTOR, "payment-reference": optional(STRING)}),
    "session-stop": fields({"user": USER, "connector-id": REMOTE_CONNECTOR, "session-id": optional(NON_EMPTY)}),
    # calls/reservation_start.rst: "array of objects containing EVCO ID and UID"
    "reservation-start": fields({"connector-id": EVSE, "identifier": array(HOLDER, min_items=1)}),
    # calls/reservation_stop.rst
    "reservation-stop": fields(
        {
            "identifier-type": one_of(RESERVATION_IDENTIFIER_TYPES, "calls/reservation_stop.rst"),
            "identifier": NON_EMPTY,
        }
    ),
    # calls/rfid_post.rst
    "rfid-post": fields(
        {
            "rfids": array(matching(UID_OF_EXAMPLE, "a UID of 8, 14 or 20 hexadecimal characters")),
            "partner-identifier": PARTNER,
        }
    ),
    # calls/rfid_verify.rst
    "rfid-verify": fields({"rfid": matching(UID, "a UID (8, 14 or 20 upper-case hexadecimal characters)")}),
    # calls/connector_post_status.rst
    "connector-post-status": fields(
        {
            "connector-id": EVSE,
            "status": one_of(STATUSES, "calls/connector_post_status.rst"),
            "partner-identifier": PARTNER,
        }
    ),
    # calls/session_post.rst
    "session-post": then(
        fields(
            {
                "user": USER,
                "session-id": NON_EMPTY,  # "The session ID must be a globally unique identifier."
                "connector-id": EVSE,
                "session-interval": INTERVAL,  # "The start and, optionally, stop time of the session"
                "charging-interval": optional(INTERVAL),
                "energy-consumed": optional(number(low=0)),  # "The consumed energy in kWh"
                "calculated-cost": optional(COST),
                "partner-identifier": PARTNER,
            }
        ),
        _charging_inside_session,
    ),
    # calls/station_post.rst; its example sends the partner-identifier "1", so any non-empty one is accepted.
    "station-post": fields({"station": STATION, "partner-identifier": NON_EMPTY}),
}
