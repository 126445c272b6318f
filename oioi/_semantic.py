"""Rules of one message that a JSON Schema cannot express.

Each check is a plain function named for the property it asserts. It takes the whole
message and yields a `Violation` for each place that breaks the property; the rule id is
``semantic/<function name with dashes>``. Checks run after schema validation, also on
messages the schema rejected, so they look before they touch.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

__all__ = ["CHECKS", "Violation", "check", "rule_id"]


class Violation(NamedTuple):
    """One place where a message breaks a semantic rule."""

    path: tuple[str | int, ...]
    received: str
    expected: str
    severity: str = "error"


Check = Callable[[Any], Iterator[Violation]]


def _when(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _get(message: Any, *path: str) -> Any:
    node = message
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _interval_ordered(message: Any, call: str, field: str) -> Iterator[Violation]:
    interval = _get(message, call, field)
    start, stop = _when(_get(interval, "start")), _when(_get(interval, "stop"))
    if start is not None and stop is not None and stop < start:
        yield Violation(
            (call, field, "stop"),
            f"stop {interval['stop']!r} before start {interval['start']!r}",
            f"{field} stop at or after its start",
        )


def session_interval_ordered(message: Any) -> Iterator[Violation]:
    """session-post: the session stops at or after it starts (calls/session_post.rst)."""
    yield from _interval_ordered(message, "session-post", "session-interval")


def charging_interval_ordered(message: Any) -> Iterator[Violation]:
    """session-post: charging stops at or after it starts (calls/session_post.rst)."""
    yield from _interval_ordered(message, "session-post", "charging-interval")


def charging_inside_session(message: Any) -> Iterator[Violation]:
    """session-post: "the time the charging first started and last ended" lies inside the session."""
    session = _get(message, "session-post", "session-interval")
    charging = _get(message, "session-post", "charging-interval")
    s_start, s_stop = _when(_get(session, "start")), _when(_get(session, "stop"))
    c_start, c_stop = _when(_get(charging, "start")), _when(_get(charging, "stop"))
    if s_start is not None and c_start is not None and c_start < s_start:
        yield Violation(
            ("session-post", "charging-interval", "start"),
            f"charging start {charging['start']!r} before session start {session['start']!r}",
            "charging-interval inside session-interval",
        )
    if s_stop is not None and c_stop is not None and c_stop > s_stop:
        yield Violation(
            ("session-post", "charging-interval", "stop"),
            f"charging stop {charging['stop']!r} after session stop {session['stop']!r}",
            "charging-interval inside session-interval",
        )


def energy_not_negative(message: Any) -> Iterator[Violation]:
    """session-post: energy-consumed, "the consumed energy in kWh", is not negative."""
    energy = _get(message, "session-post", "energy-consumed")
    if isinstance(energy, (int, float)) and not isinstance(energy, bool) and energy < 0:
        yield Violation(("session-post", "energy-consumed"), f"{energy!r} kWh", "an amount of energy >= 0 kWh")


def connector_ids_unique(message: Any) -> Iterator[Violation]:
    """station-post: "The id of every connector must be globally unique" (calls/station_post.rst)."""
    connectors = _get(message, "station-post", "station", "connectors")
    if not isinstance(connectors, list):
        return
    seen: dict[str, int] = {}
    for index, connector in enumerate(connectors):
        cid = _get(connector, "id")
        if not isinstance(cid, str):
            continue
        if cid in seen:
            yield Violation(
                ("station-post", "station", "connectors", index, "id"),
                f"connector id {cid!r} again (first at index {seen[cid]})",
                "a different id for every connector of the station",
            )
        else:
            seen[cid] = index


def rfids_unique(message: Any) -> Iterator[Violation]:
    """rfid-post: the whitelist names each UID once (a repeat is harmless but suspicious)."""
    rfids = _get(message, "rfid-post", "rfids")
    if not isinstance(rfids, list):
        return
    seen: set[str] = set()
    for index, uid in enumerate(rfids):
        if isinstance(uid, str) and uid in seen:
            yield Violation(("rfid-post", "rfids", index), f"UID {uid!r} again", "each UID once", "warning")
        if isinstance(uid, str):
            seen.add(uid)


def stoppable_session_has_id(message: Any) -> Iterator[Violation]:
    """session-start response: "a session-id may be mandatory if the session is stoppable" (a warning)."""
    body = _get(message, "session-start")
    if _get(body, "is-stoppable") is True and not _get(body, "session-id"):
        yield Violation(
            ("session-start", "session-id"),
            "is-stoppable true and no session-id",
            "a session-id, which session-stop may need to name the session",
            "warning",
        )


def surface_bounds_ordered(message: Any) -> Iterator[Violation]:
    """station-get-surface: the minimum latitude and longitude are not above the maximum ones."""
    body = _get(message, "station-get-surface")
    for low, high, limit in (("min-lat", "max-lat", 90), ("min-long", "max-long", 180)):
        lo, hi = _get(body, low), _get(body, high)
        # Only two coordinates the schema accepts are compared; a bad one is the schema's finding.
        numbers = all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and -limit <= v <= limit for v in (lo, hi)
        )
        if numbers and lo > hi:
            yield Violation(("station-get-surface", low), f"{low} {lo!r} above {high} {hi!r}", f"{low} <= {high}")


CHECKS: dict[tuple[str, str], tuple[Check, ...]] = {
    ("session-post", "request"): (
        session_interval_ordered,
        charging_interval_ordered,
        charging_inside_session,
        energy_not_negative,
    ),
    ("station-post", "request"): (connector_ids_unique,),
    ("rfid-post", "request"): (rfids_unique,),
    ("session-start", "response"): (stoppable_session_has_id,),
    ("station-get-surface", "request"): (surface_bounds_ordered,),
}


def rule_id(check_function: Check) -> str:
    """The rule id of a check: ``semantic/`` and the function's name with dashes."""
    return "semantic/" + check_function.__name__.replace("_", "-")


def check(call: str, direction: str, message: Any) -> Iterator[tuple[str, tuple[str | int, ...], str, str, str]]:
    """Run the semantic checks of one call and direction: (rule, path, severity, received, expected)."""
    for function in CHECKS.get((call, direction), ()):
        for v in function(message):
            yield rule_id(function), v.path, v.severity, v.received, v.expected
