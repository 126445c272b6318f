"""Rules of one message that a JSON Schema cannot express: one `Rule` each, in `RULES`.

A rule holds everything the project does with it: its **check** (for ``validate``), its
**fix-up** (for the generator, ``oioi.strategies.messages``: it makes a drawn message keep
the rule) and, where there is one, its **breakage** (for ``oioi.strategies.invalid_messages``:
it makes a valid message break the rule, and only it). To add a rule, write the three
functions next to each other below and add one `Rule` to `RULES`.

A check is a plain function named for the property it asserts. It takes the whole message
and yields a `Violation` for each place that breaks the property; the rule id is
``semantic/<function name with dashes>``. Checks run after schema validation, also on
messages the schema rejected, so they look before they touch. Fix-ups and breakages run
only on messages the generator drew, which the schema accepts.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, Protocol

__all__ = ["RULES", "Pick", "Rule", "Violation", "check", "rule_id", "rules"]


class Violation(NamedTuple):
    """One place where a message breaks a semantic rule."""

    path: tuple[str | int, ...]
    received: str
    expected: str
    severity: str = "error"


class Pick(Protocol):
    """What a fix-up may ask of the generator: a choice, a fresh id, and the generator's day."""

    def integer(self, low: int, high: int) -> int:
        """An integer from ``low`` to ``high``, both included."""

    def uuid(self) -> str:
        """A UUID, as text."""

    def today(self) -> datetime.datetime:
        """The start of the generator's current day (UTC): no generated time lies after it."""


Check = Callable[[Any], Iterator[Violation]]
Fixup = Callable[[Pick, dict[str, Any]], None]
Breakage = Callable[[dict[str, Any]], tuple[str | int, ...]]  # breaks the message; returns the finding's path


@dataclasses.dataclass(frozen=True)
class Rule:
    """One semantic rule of one call and direction: how to check it, keep it and break it."""

    call: str
    direction: str
    check: Check
    fixup: Fixup
    breakage: Breakage | None = None  # None: invalid_messages does not break this rule

    @property
    def id(self) -> str:
        """The rule id of its findings, e.g. ``semantic/energy-not-negative``."""
        return rule_id(self.check)


def _when(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.upper())  # RFC 3339 5.6: "t" and "z" may be lower case
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


def _text(moment: datetime.datetime) -> str:
    return moment.isoformat(timespec="seconds")


# --- session-post (calls/session_post.rst) -----------------------------------------------------------


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


def _session_of_minutes(pick: Pick, message: dict[str, Any]) -> None:
    """The session lasts 1 minute to a day and ends at its drawn start time (so never in the future)."""
    interval = message["session-post"]["session-interval"]
    minutes = pick.integer(1, 24 * 60)
    stop = datetime.datetime.fromisoformat(interval["start"])
    interval["start"] = _text(stop - datetime.timedelta(minutes=minutes))
    if "stop" in interval:
        interval["stop"] = _text(stop)


def _stop_before_start(message: dict[str, Any]) -> tuple[str | int, ...]:
    interval = message["session-post"]["session-interval"]
    message["session-post"].pop("charging-interval", None)
    start = datetime.datetime.fromisoformat(interval["start"])
    interval["stop"] = _text(start - datetime.timedelta(minutes=5))
    return ("session-post", "session-interval", "stop")


def charging_interval_ordered(message: Any) -> Iterator[Violation]:
    """session-post: charging stops at or after it starts (calls/session_post.rst)."""
    yield from _interval_ordered(message, "session-post", "charging-interval")


def _charging_in_order(pick: Pick, message: dict[str, Any]) -> None:
    """Swap a charging stop drawn before its start."""
    charging = message["session-post"].get("charging-interval", {})
    start, stop = _when(charging.get("start")), _when(charging.get("stop"))
    if start is not None and stop is not None and stop < start:
        charging["start"], charging["stop"] = charging["stop"], charging["start"]


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


def _charging_in_session(pick: Pick, message: dict[str, Any]) -> None:
    """Charging starts and (when it has stopped, or the session has) stops in order, inside the session.

    A running session has no stop: its charging then ends within a day of its start and not after today.
    """
    body = message["session-post"]
    if "charging-interval" not in body:
        return
    session = body["session-interval"]
    start = datetime.datetime.fromisoformat(session["start"])
    end = datetime.datetime.fromisoformat(session["stop"]) if "stop" in session else pick.today()
    minutes = min(24 * 60, int((end - start).total_seconds()) // 60)
    first = pick.integer(0, minutes)
    last = pick.integer(first, minutes)
    charging = {"start": _text(start + datetime.timedelta(minutes=first))}
    if "stop" in body["charging-interval"] or "stop" in session:
        charging["stop"] = _text(start + datetime.timedelta(minutes=last))
    body["charging-interval"] = charging


def energy_not_negative(message: Any) -> Iterator[Violation]:
    """session-post: energy-consumed, "the consumed energy in kWh", is not negative."""
    energy = _get(message, "session-post", "energy-consumed")
    if isinstance(energy, (int, float)) and not isinstance(energy, bool) and energy < 0:
        yield Violation(("session-post", "energy-consumed"), f"{energy!r} kWh", "an amount of energy >= 0 kWh")


def _energy_positive(pick: Pick, message: dict[str, Any]) -> None:
    body = message["session-post"]
    if isinstance(body.get("energy-consumed"), (int, float)):
        body["energy-consumed"] = abs(body["energy-consumed"])


def _negative_energy(message: dict[str, Any]) -> tuple[str | int, ...]:
    message["session-post"]["energy-consumed"] = -1.5
    return ("session-post", "energy-consumed")


# --- station-post (calls/station_post.rst) -----------------------------------------------------------


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


def _one_connector_per_id(pick: Pick, message: dict[str, Any]) -> None:
    station = message["station-post"]["station"]
    station["connectors"] = list({c["id"]: c for c in reversed(station["connectors"])}.values())[::-1]


def _repeated_connector(message: dict[str, Any]) -> tuple[str | int, ...]:
    connectors = message["station-post"]["station"]["connectors"]
    connectors[1:] = [{**connectors[0]}]
    return ("station-post", "station", "connectors", 1, "id")


# --- rfid-post (calls/rfid_post.rst) -----------------------------------------------------------------


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


def _each_rfid_once(pick: Pick, message: dict[str, Any]) -> None:
    body = message["rfid-post"]
    body["rfids"] = list(dict.fromkeys(body["rfids"]))


# --- session-start response (calls/session_start.rst) ------------------------------------------------


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


def _stoppable_gets_id(pick: Pick, message: dict[str, Any]) -> None:
    body = message.get("session-start")
    if isinstance(body, dict) and body.get("is-stoppable") is True and not body.get("session-id"):
        body["session-id"] = pick.uuid()


# --- station-get-surface (calls/station_get_surface.rst) ---------------------------------------------

_BOUNDS = (("min-lat", "max-lat", 90), ("min-long", "max-long", 180))


def surface_bounds_ordered(message: Any) -> Iterator[Violation]:
    """station-get-surface: the minimum latitude and longitude are not above the maximum ones."""
    body = _get(message, "station-get-surface")
    for low, high, limit in _BOUNDS:
        lo, hi = _get(body, low), _get(body, high)
        # Only two coordinates the schema accepts are compared; a bad one is the schema's finding.
        numbers = all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and -limit <= v <= limit for v in (lo, hi)
        )
        if numbers and lo > hi:
            yield Violation(("station-get-surface", low), f"{low} {lo!r} above {high} {hi!r}", f"{low} <= {high}")


def _bounds_in_order(pick: Pick, message: dict[str, Any]) -> None:
    body = message["station-get-surface"]
    for low, high, _limit in _BOUNDS:
        if isinstance(body.get(low), (int, float)) and isinstance(body.get(high), (int, float)):
            body[low], body[high] = sorted((body[low], body[high]))


# --- the table: validate runs the checks in this order; the generator runs the fix-ups in it --------

RULES: tuple[Rule, ...] = (
    Rule("session-post", "request", session_interval_ordered, _session_of_minutes, _stop_before_start),
    Rule("session-post", "request", charging_interval_ordered, _charging_in_order),
    Rule("session-post", "request", charging_inside_session, _charging_in_session),
    Rule("session-post", "request", energy_not_negative, _energy_positive, _negative_energy),
    Rule("station-post", "request", connector_ids_unique, _one_connector_per_id, _repeated_connector),
    Rule("rfid-post", "request", rfids_unique, _each_rfid_once),
    Rule("session-start", "response", stoppable_session_has_id, _stoppable_gets_id),
    Rule("station-get-surface", "request", surface_bounds_ordered, _bounds_in_order),
)


def rules(call: str, direction: str) -> tuple[Rule, ...]:
    """The rules of one call and direction, in table order."""
    return _BY_MESSAGE.get((call, direction), ())


def _by_message() -> dict[tuple[str, str], tuple[Rule, ...]]:
    found: dict[tuple[str, str], tuple[Rule, ...]] = {}
    for rule in RULES:
        found[rule.call, rule.direction] = (*found.get((rule.call, rule.direction), ()), rule)
    return found


_BY_MESSAGE = _by_message()


def rule_id(check_function: Check) -> str:
    """The rule id of a check: ``semantic/`` and the function's name with dashes."""
    return "semantic/" + check_function.__name__.replace("_", "-")


def check(call: str, direction: str, message: Any) -> Iterator[tuple[str, tuple[str | int, ...], str, str, str]]:
    """Run the semantic checks of one call and direction: (rule, path, severity, received, expected)."""
    for rule in rules(call, direction):
        for v in rule.check(message):
            yield rule.id, v.path, v.severity, v.received, v.expected
