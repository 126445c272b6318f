"""Invalid messages: a valid draw with exactly one rule broken, and the rule and place it breaks.

``invalid_messages`` draws a valid message, lists every way to break it — a schema keyword
at each place of the message (`_schema_breakages`) and the breakages of the call's semantic
rules (`oioi._semantic.RULES`) — and applies one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from hypothesis import strategies as st

from oioi import _schemas, _semantic
from oioi._findings import pointer
from oioi.strategies._values import Draw
from oioi.strategies._walker import deref, json_types, messages

__all__ = ["Broken", "invalid_messages"]

Path = tuple[str | int, ...]
Replace = Callable[[Any], Any] | None  # a new value from the old one; None deletes the field


class Broken(NamedTuple):
    """An invalid message and the rule it breaks, at the JSON pointer ``path``."""

    message: dict[str, Any]
    rule: str
    path: str


class _Site(NamedTuple):
    path: Path
    node: dict[str, Any]
    value: Any
    parent_required: bool


def _sites(value: Any, node: dict[str, Any], base: str, path: Path, required: bool) -> list[_Site]:
    """Every place of a message with the schema node that judges it."""
    node, base, _name = deref(node, base)
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


def _schema_breakages(site: _Site, is_call_key: bool) -> list[tuple[str, Replace]]:
    """Ways to break one site: (rule, replacement function; None deletes the field)."""
    node, value = site.node, site.value
    out: list[tuple[str, Replace]] = []
    if not site.path:
        return out
    if site.parent_required and not is_call_key:
        out.append(("schema/required", None))
    kinds = json_types(node)
    wrong = [w for t, w in _WRONG_TYPE.items() if t not in kinds and not (t == "number" and "integer" in kinds)]
    if "number" in kinds or "integer" in kinds:
        wrong = [w for w in wrong if not isinstance(w, (int, float)) or isinstance(w, bool)]
    if kinds and "anyOf" not in node and "enum" not in node and "const" not in node:
        first_wrong = wrong[0]
        out.append(("schema/type", lambda _v: first_wrong))
    if isinstance(value, str):
        out += _string_breakages(node)
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


def _string_breakages(node: dict[str, Any]) -> list[tuple[str, Replace]]:
    """Ways to break a string: its enum, its pattern, its date-time format or its minimum length."""
    out: list[tuple[str, Replace]] = []
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
    return out


def _set(message: Any, path: Path, replace: Replace) -> None:
    parent = message
    for part in path[:-1]:
        parent = parent[part]
    if replace is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replace(parent[path[-1]])


def invalid_messages(call: str, direction: str = "request") -> st.SearchStrategy[Broken]:
    """Messages that break exactly one rule, each with the rule and the path it breaks."""
    _schemas.check_call(call, direction)
    schema = _schemas.schema(call, direction)
    semantic = [rule for rule in _semantic.rules(call, direction) if rule.breakage is not None]

    @st.composite
    def draw_broken(draw: Draw) -> Broken:
        message = draw(messages(call, direction))
        options: list[tuple[str, Path, Replace]] = []
        for site in _sites(message, schema, schema["$id"], (), False):
            call_key = direction == "request" and len(site.path) == 1
            options += [(rule, site.path, fn) for rule, fn in _schema_breakages(site, call_key)]
        choice = draw(st.integers(0, len(options) + len(semantic) - 1))
        if choice < len(options):
            rule, path, fn = options[choice]
            _set(message, path, fn)
            return Broken(message, rule, pointer(path))
        broken = semantic[choice - len(options)]
        assert broken.breakage is not None
        return Broken(message, broken.id, pointer(broken.breakage(message)))

    return draw_broken()
