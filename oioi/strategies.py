"""Hypothesis strategies for OIOI messages, built from the schemas.

``messages(call, direction, profile)`` draws valid messages with realistic values (EVSE
IDs, EVCO IDs, upper-case hexadecimal UIDs, consistent intervals, coordinates in range);
``invalid_messages(call, direction)`` draws messages that break exactly one rule and
says which. The strategies are compiled from the same schema files the validator uses,
so the two cannot drift; the few rules a schema cannot express are restored by per-call
fix-ups below.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import urljoin

from hypothesis import strategies as st

from oioi import _schemas
from oioi._findings import pointer

__all__ = ["Broken", "invalid_messages", "messages"]

DEFS = f"{_schemas.SCHEMA_BASE}common/definitions.json#/$defs/"
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
# Realistic free text, drawn in one choice.
_TEXT_POOL = tuple(_WORDS) + tuple(f"{w} {n}" for w in _WORDS[:10] for n in (1, 2, 12, 123))


class Broken(NamedTuple):
    """An invalid message and the rule it breaks, at the JSON pointer ``path``."""

    message: dict[str, Any]
    rule: str
    path: str


# --- realistic values for the shared definitions -------------------------------------------------
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


def _decimal(low: float, high: float, places: int = 6) -> st.SearchStrategy[float]:
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
    "latitude": lambda: _decimal(-90, 90),
    "longitude": lambda: _decimal(-180, 180),
    "clock-time": lambda: st.builds(
        lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 45])
    ),
    "locale": lambda: st.sampled_from(["de", "en", "fr", "nl", "it", "es"]),
}


# --- the schema walker ------------------------------------------------------------------------------


def _deref(node: dict[str, Any], base: str) -> tuple[dict[str, Any], str, str | None]:
    """Follow ``$ref`` (merging sibling keywords); returns the node, its base URI and the def's name."""
    name = None
    while "$ref" in node:
        target = urljoin(base, node["$ref"])
        if target.startswith(DEFS):
            name = target.removeprefix(DEFS)
        resolved = _schemas.resolve(target)
        node = {**resolved, **{k: v for k, v in node.items() if k != "$ref"}}
        base = target.partition("#")[0]
    return node, base, name


def _types(node: dict[str, Any]) -> list[str]:
    kind = node.get("type")
    if kind is None:
        if "enum" in node or "const" in node:
            return []
        if "properties" in node:
            return ["object"]
        return []
    return [kind] if isinstance(kind, str) else list(kind)


def _strategy(node: dict[str, Any], base: str) -> st.SearchStrategy[Any]:
    node, base, name = _deref(node, base)
    if name in DOMAIN and "null" not in _types(node):
        return DOMAIN[name]()
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if "anyOf" in node:
        return st.one_of([_strategy(branch, base) for branch in node["anyOf"]])
    types = _types(node)
    if len(types) > 1:
        return st.one_of([_strategy({**node, "type": t}, base) for t in types])
    if name in DOMAIN:  # a nullable shared definition, e.g. {"$ref": ".../evco-id", "type": ["string", "null"]}
        return DOMAIN[name]()
    kind = types[0] if types else "string"
    return _BY_TYPE[kind](node, base)


def _object(node: dict[str, Any], base: str) -> st.SearchStrategy[dict[str, Any]]:
    props = node.get("properties", {})
    needed = set(node.get("required", ()))
    required = st.fixed_dictionaries({k: _strategy(v, base) for k, v in props.items() if k in needed})
    optional = [(k, _strategy(v, base)) for k, v in props.items() if k not in needed]
    if not optional:
        return required

    @st.composite
    def with_optional(draw: Draw) -> dict[str, Any]:
        # One integer says which optional fields are present (it shrinks towards none):
        # far fewer choices than a boolean per field.
        value = dict(draw(required))
        present = draw(st.integers(0, 2 ** len(optional) - 1))
        for index, (key, strategy) in enumerate(optional):
            if present >> index & 1:
                value[key] = draw(strategy)
        return value

    return with_optional()


def _array(node: dict[str, Any], base: str) -> st.SearchStrategy[list[Any]]:
    if "prefixItems" in node:
        return st.tuples(*(_strategy(item, base) for item in node["prefixItems"])).map(list)
    low = node.get("minItems", 0)
    high = node.get("maxItems", max(low, 3))
    items = _strategy(node.get("items", {"type": "string"}), base)
    if node.get("uniqueItems"):
        return st.lists(items, min_size=low, max_size=high, unique_by=repr)
    return st.lists(items, min_size=low, max_size=high)


def _string(node: dict[str, Any], base: str) -> st.SearchStrategy[str]:
    if "pattern" in node:
        return st.from_regex(node["pattern"], fullmatch=True)
    low = node.get("minLength", 0)
    high = node.get("maxLength", max(low, 24))
    pool = [t for t in _TEXT_POOL if low <= len(t) <= high]
    if pool:
        return st.sampled_from(pool)
    return st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=low, max_size=high)


def _number(node: dict[str, Any], base: str) -> st.SearchStrategy[float]:
    low = node.get("minimum", node.get("exclusiveMinimum", 0))
    high = node.get("maximum", node.get("exclusiveMaximum", 1000))
    value = _decimal(low, high, 2)
    if "exclusiveMinimum" in node:
        value = value.filter(lambda v: v > node["exclusiveMinimum"])
    return value


def _integer(node: dict[str, Any], base: str) -> st.SearchStrategy[int]:
    return st.integers(node.get("minimum", 0), node.get("maximum", 10_000))


_BY_TYPE: dict[str, Callable[[dict[str, Any], str], st.SearchStrategy[Any]]] = {
    "object": _object,
    "array": _array,
    "string": _string,
    "number": _number,
    "integer": _integer,
    "boolean": lambda node, base: st.booleans(),
    "null": lambda node, base: st.none(),
}


# --- rules a schema cannot express: per-call fix-ups -------------------------------------------------

Draw = Callable[[st.SearchStrategy[Any]], Any]


def _consistent_session(draw: Draw, message: dict[str, Any]) -> None:
    """A CDR: its customer identified as a CPO knows them (EVCO ID or UID), a session-id of its own,
    and intervals in order (the stop of a finished session is not in the future).
    """
    body = message["session-post"]
    _identify(draw, body["user"], ("evco-id", "rfid"))
    body["session-id"] = str(draw(st.uuids()))
    minutes = draw(st.integers(1, 24 * 60))
    stop = datetime.datetime.fromisoformat(body["session-interval"]["start"])  # a drawn time: never in the future
    start = stop - datetime.timedelta(minutes=minutes)
    body["session-interval"]["start"] = start.isoformat(timespec="seconds")
    if "stop" in body["session-interval"]:
        body["session-interval"]["stop"] = stop.isoformat(timespec="seconds")
    if "charging-interval" in body:
        first = draw(st.integers(0, minutes))
        last = draw(st.integers(first, minutes))
        charging = {"start": (start + datetime.timedelta(minutes=first)).isoformat(timespec="seconds")}
        if "stop" in body["charging-interval"] or "stop" in body["session-interval"]:
            charging["stop"] = (start + datetime.timedelta(minutes=last)).isoformat(timespec="seconds")
        body["charging-interval"] = charging
    if isinstance(body.get("energy-consumed"), (int, float)):
        body["energy-consumed"] = abs(body["energy-consumed"])


_OPERATOR_PREFIX = re.compile(r"^([A-Za-z]{2})\*?([A-Za-z0-9]{3})\*?E(.*)$")


def _consistent_station(draw: Draw, message: dict[str, Any]) -> None:
    """A station as its CPO posts it: connectors unique and of the station's operator, ``cpo-id`` that
    operator ("country code … CPO identifier", glossary.rst, EVSE), and never ``deleted`` — a station
    posted for the first time cannot be deleted (calls/station_post.rst: "Soft delete the station").
    """
    station = message["station-post"]["station"]
    first = _OPERATOR_PREFIX.match(station["connectors"][0]["id"])
    assert first is not None  # the evse-id pattern guarantees it
    country, operator = first.group(1), first.group(2)
    for connector in station["connectors"]:
        found = _OPERATOR_PREFIX.match(connector["id"])
        assert found is not None
        connector["id"] = f"{country}*{operator}*E{found.group(3)}"
    station["connectors"] = list({c["id"]: c for c in reversed(station["connectors"])}.values())[::-1]
    station["cpo-id"] = f"{country}*{operator}"
    station["deleted"] = False


def _unique_rfids(draw: Draw, message: dict[str, Any]) -> None:
    body = message["rfid-post"]
    body["rfids"] = list(dict.fromkeys(body["rfids"]))


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


def _stoppable_has_id(draw: Draw, message: dict[str, Any]) -> None:
    body = message.get("session-start")
    if isinstance(body, dict) and body.get("is-stoppable") is True and not body.get("session-id"):
        body["session-id"] = str(draw(st.uuids()))


def _ordered_surface(draw: Draw, message: dict[str, Any]) -> None:
    body = message["station-get-surface"]
    for low, high in (("min-lat", "max-lat"), ("min-long", "max-long")):
        if isinstance(body.get(low), (int, float)) and isinstance(body.get(high), (int, float)):
            body[low], body[high] = sorted((body[low], body[high]))


FIXUPS: dict[tuple[str, str], Callable[[Draw, dict[str, Any]], None]] = {
    ("session-post", "request"): _consistent_session,
    ("station-post", "request"): _consistent_station,
    ("rfid-post", "request"): _unique_rfids,
    ("session-start", "request"): _remote_user,
    ("session-stop", "request"): _remote_user,
    ("reservation-start", "request"): _reservation_holders,
    ("reservation-stop", "request"): _reservation_identifier,
    ("reservation-start", "response"): _reservation_ends_later,
    ("session-start", "response"): _stoppable_has_id,
    ("station-get-surface", "request"): _ordered_surface,
}


@functools.cache
def _base(call: str, direction: str) -> st.SearchStrategy[dict[str, Any]]:
    schema = _schemas.schema(call, direction)
    return _strategy(schema, schema["$id"])


def messages(call: str, direction: str = "request", profile: str = "strict") -> st.SearchStrategy[dict[str, Any]]:
    """Valid messages of one call and direction, as ``validate`` judges them under ``profile``.

    Under ``lenient`` some draws also take the forms of the call's registered errata.
    """
    _schemas.check_call(call, direction)
    fixup = FIXUPS.get((call, direction))
    errata = _schemas.errata_for(call, direction) if profile == "lenient" else ()

    @st.composite
    def draw_message(draw: Draw) -> dict[str, Any]:
        message: dict[str, Any] = draw(_base(call, direction))
        if fixup is not None:
            fixup(draw, message)
        for erratum in errata:
            if draw(st.booleans()):
                _apply_erratum(draw, message, erratum)
        return message

    return draw_message()


def _apply_erratum(draw: Draw, message: dict[str, Any], erratum: _schemas.Erratum) -> None:
    """Give ``message`` the erratum's form wherever its path exists (value errata and renames)."""
    *parent_path, last = erratum.path.split("/")[1:]
    for parent in _nodes(message, parent_path):
        if erratum.rule == "schema/required":
            alias = erratum.accepts.get("required", [None])[0]
            if isinstance(parent, dict) and alias and last in parent:
                parent[alias] = parent.pop(last)
        elif erratum.rule == "schema/unknown-field":
            if isinstance(parent, dict):
                parent[last] = draw(_strategy(erratum.accepts, _schemas.SCHEMA_BASE))
        elif isinstance(parent, dict) and last in parent:
            parent[last] = draw(_strategy(erratum.accepts, _schemas.SCHEMA_BASE))
        elif isinstance(parent, list) and last == "*" and parent:
            parent[0] = draw(_strategy(erratum.accepts, _schemas.SCHEMA_BASE))


def _nodes(root: Any, path: list[str]) -> list[Any]:
    found = [root]
    for part in path:
        step: list[Any] = []
        for node in found:
            if isinstance(node, dict) and (part in node or part == "*"):
                step.extend(node.values() if part == "*" else [node[part]])
            elif isinstance(node, list):
                if part == "*":
                    step.extend(node)
                elif part.isdigit() and int(part) < len(node):
                    step.append(node[int(part)])
        found = step
    return found


# --- invalid messages --------------------------------------------------------------------------------


class _Site(NamedTuple):
    path: tuple[str | int, ...]
    node: dict[str, Any]
    value: Any
    parent_required: bool


def _sites(value: Any, node: dict[str, Any], base: str, path: tuple[str | int, ...], required: bool) -> list[_Site]:
    node, base, _name = _deref(node, base)
    found = [_Site(path, node, value, required)]
    if "anyOf" in node:
        return found
    if isinstance(value, dict):
        props = node.get("properties", {})
        needed = set(node.get("required", ()))
        for key, child in value.items():
            if key in props:
                found += _sites(child, props[key], base, (*path, key), key in needed)
    elif isinstance(value, list):
        prefix = node.get("prefixItems")
        for index, child in enumerate(value):
            sub = prefix[index] if prefix and index < len(prefix) else node.get("items")
            if isinstance(sub, dict):
                found += _sites(child, sub, base, (*path, index), False)
    return found


# A value of each JSON type, in the order a wrong type is chosen for a field.
_WRONG_TYPE = {"string": "12.5", "number": 12.5, "boolean": True, "array": ["x"], "object": {"x": 1}}


def _breakages(site: _Site, is_call_key: bool) -> list[tuple[str, Callable[[Any], Any] | None]]:
    """Ways to break one site: (rule, replacement function; None deletes the field)."""
    node, value = site.node, site.value
    out: list[tuple[str, Callable[[Any], Any] | None]] = []
    if not site.path:
        return out
    if site.parent_required and not is_call_key:
        out.append(("schema/required", None))
    types = _types(node)
    wrong = [w for t, w in _WRONG_TYPE.items() if t not in types and not (t == "number" and "integer" in types)]
    if "number" in types or "integer" in types:
        wrong = [w for w in wrong if not isinstance(w, (int, float)) or isinstance(w, bool)]
    if types and "anyOf" not in node and "enum" not in node and "const" not in node:
        first_wrong = wrong[0]
        out.append(("schema/type", lambda _v: first_wrong))
    if isinstance(value, str):
        if "enum" in node:
            out.append(("schema/enum", lambda v: "Not" + v))
        elif "pattern" in node:
            limit = node.get("maxLength")
            # Prefix a character the patterns never allow, keeping within maxLength so that only the pattern breaks.
            out.append(("schema/pattern", lambda v: "!" + (v[1:] if limit is not None and len(v) >= limit else v)))
        elif node.get("format") == "date-time":
            out.append(("schema/format", lambda v: "2021-02-30T10:00:00+01:00"))
        if node.get("minLength", 0) > 1 and "pattern" not in node:
            out.append(("schema/minLength", lambda v: v[: node["minLength"] - 1]))
    if isinstance(value, list) and "maxItems" in node and "prefixItems" not in node and value:
        out.append(("schema/maxItems", lambda v: v + [v[0]] * (node["maxItems"] + 1 - len(v))))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in node:
            out.append(("schema/minimum", lambda v: node["minimum"] - 1))
        if "maximum" in node:
            out.append(("schema/maximum", lambda v: node["maximum"] + 1))
        if "exclusiveMinimum" in node:
            out.append(("schema/exclusiveMinimum", lambda v: node["exclusiveMinimum"]))
    return out


def _set(message: Any, path: tuple[str | int, ...], replace: Callable[[Any], Any] | None) -> None:
    parent = message
    for part in path[:-1]:
        parent = parent[part]
    if replace is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replace(parent[path[-1]])


SEMANTIC_BREAKAGES: dict[
    tuple[str, str], list[tuple[str, tuple[str | int, ...], Callable[[dict[str, Any]], bool]]]
] = {}


def _semantic_breakage(call: str, direction: str, rule: str, path: tuple[str | int, ...]) -> Callable[..., Any]:
    def register(function: Callable[[dict[str, Any]], bool]) -> Callable[[dict[str, Any]], bool]:
        SEMANTIC_BREAKAGES.setdefault((call, direction), []).append((rule, path, function))
        return function

    return register


@_semantic_breakage(
    "session-post", "request", "semantic/session-interval-ordered", ("session-post", "session-interval", "stop")
)
def _stop_before_start(message: dict[str, Any]) -> bool:
    interval = message["session-post"]["session-interval"]
    message["session-post"].pop("charging-interval", None)
    start = datetime.datetime.fromisoformat(interval["start"])
    interval["stop"] = (start - datetime.timedelta(minutes=5)).isoformat(timespec="seconds")
    return True


@_semantic_breakage("session-post", "request", "semantic/energy-not-negative", ("session-post", "energy-consumed"))
def _negative_energy(message: dict[str, Any]) -> bool:
    message["session-post"]["energy-consumed"] = -1.5
    return True


@_semantic_breakage(
    "station-post", "request", "semantic/connector-ids-unique", ("station-post", "station", "connectors", 1, "id")
)
def _repeated_connector(message: dict[str, Any]) -> bool:
    connectors = message["station-post"]["station"]["connectors"]
    connectors[1:] = [{**connectors[0]}]
    return True


def invalid_messages(call: str, direction: str = "request") -> st.SearchStrategy[Broken]:
    """Messages that break exactly one rule, each with the rule and the path it breaks."""
    _schemas.check_call(call, direction)
    schema = _schemas.schema(call, direction)

    @st.composite
    def draw_broken(draw: Draw) -> Broken:
        message = draw(messages(call, direction))
        options: list[tuple[str, tuple[str | int, ...], Callable[[Any], Any] | None]] = []
        for site in _sites(message, schema, schema["$id"], (), False):
            call_key = direction == "request" and len(site.path) == 1
            options += [(rule, site.path, fn) for rule, fn in _breakages(site, call_key)]
        semantic = SEMANTIC_BREAKAGES.get((call, direction), [])
        choice = draw(st.integers(0, len(options) + len(semantic) - 1))
        if choice < len(options):
            rule, path, fn = options[choice]
            _set(message, path, fn)
        else:
            rule, path, breaker = semantic[choice - len(options)]
            breaker(message)
        return Broken(message, rule, pointer(path))

    return draw_broken()
