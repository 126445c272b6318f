"""The schema walker: a Hypothesis strategy compiled from a call's schema, and ``messages``.

The walker reads the same schema files the validator uses (through the one loader), so the
two cannot drift. It understands exactly the keywords ``schemas/README.md`` allows; a
reference to a shared definition draws from `DOMAIN`'s realistic values. ``messages`` then
runs the call's realism fix-ups (`VALUE_FIXUPS`) and the fix-ups of its semantic rules
(`oioi._semantic.RULES`), which restore what a schema cannot express, and under ``lenient``
gives some draws the forms of the call's registered errata.
"""

from __future__ import annotations

import datetime
import functools
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

import hypothesis
from hypothesis import strategies as st

from oioi import _schemas, _semantic
from oioi.strategies._values import DOMAIN, TEXT_POOL, VALUE_FIXUPS, Draw, decimals, today

__all__ = ["deref", "json_types", "messages", "strategy"]

DEFS = f"{_schemas.SCHEMA_BASE}{_schemas.DEFINITIONS}#/$defs/"


def deref(node: dict[str, Any], base: str) -> tuple[dict[str, Any], str, str | None]:
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


def json_types(node: dict[str, Any]) -> list[str]:
    """The JSON types a schema node allows (``[]`` when it names none, e.g. an ``enum``)."""
    kind = node.get("type")
    if kind is None:
        if "enum" in node or "const" in node:
            return []
        if "properties" in node:
            return ["object"]
        return []
    return [kind] if isinstance(kind, str) else list(kind)


def strategy(node: dict[str, Any], base: str) -> st.SearchStrategy[Any]:
    """The strategy of one schema node (``base`` is the URI its relative ``$ref`` resolve against)."""
    node, base, name = deref(node, base)
    if name in DOMAIN and "null" not in json_types(node):
        return DOMAIN[name]()
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if "anyOf" in node:
        return st.one_of([strategy(branch, base) for branch in node["anyOf"]])
    kinds = json_types(node)
    if len(kinds) > 1:
        return st.one_of([strategy({**node, "type": t}, base) for t in kinds])
    if name in DOMAIN:  # a nullable shared definition, e.g. {"$ref": ".../evco-id", "type": ["string", "null"]}
        return DOMAIN[name]()
    kind = kinds[0] if kinds else "string"
    return _BY_TYPE[kind](node, base)


def _object(node: dict[str, Any], base: str) -> st.SearchStrategy[dict[str, Any]]:
    props = node.get("properties", {})
    needed = set(node.get("required", ()))
    required = st.fixed_dictionaries({k: strategy(v, base) for k, v in props.items() if k in needed})
    optional = [(k, strategy(v, base)) for k, v in props.items() if k not in needed]
    if not optional:
        return required

    @st.composite
    def with_optional(draw: Draw) -> dict[str, Any]:
        # One integer says which optional fields are present (it shrinks towards none):
        # far fewer choices than a boolean per field.
        value = dict(draw(required))
        present = draw(st.integers(0, 2 ** len(optional) - 1))
        for index, (key, field) in enumerate(optional):
            if present >> index & 1:
                value[key] = draw(field)
        return value

    return with_optional()


def _array(node: dict[str, Any], base: str) -> st.SearchStrategy[list[Any]]:
    if "prefixItems" in node:
        return st.tuples(*(strategy(item, base) for item in node["prefixItems"])).map(list)
    low = node.get("minItems", 0)
    high = node.get("maxItems", max(low, 3))
    items = strategy(node.get("items", {"type": "string"}), base)
    if node.get("uniqueItems"):
        return st.lists(items, min_size=low, max_size=high, unique_by=repr)
    return st.lists(items, min_size=low, max_size=high)


def _string(node: dict[str, Any], base: str) -> st.SearchStrategy[str]:
    if "pattern" in node:
        return st.from_regex(node["pattern"], fullmatch=True)
    low = node.get("minLength", 0)
    high = node.get("maxLength", max(low, 24))
    pool = [t for t in TEXT_POOL if low <= len(t) <= high]
    if pool:
        return st.sampled_from(pool)
    return st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=low, max_size=high)


def _number(node: dict[str, Any], base: str) -> st.SearchStrategy[float]:
    low = node.get("minimum", node.get("exclusiveMinimum", 0))
    high = node.get("maximum", node.get("exclusiveMaximum", 1000))
    value = decimals(low, high, 2)
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


# --- messages: the walked schema, fixed up ---------------------------------------------------------


class _Pick:
    """The generator's answers to a semantic rule's fix-up (`oioi._semantic.Pick`): Hypothesis draws."""

    def __init__(self, draw: Draw) -> None:
        self._draw = draw

    def integer(self, low: int, high: int) -> int:
        """An integer from ``low`` to ``high``, drawn."""
        return int(self._draw(st.integers(low, high)))

    def uuid(self) -> str:
        """A UUID, drawn."""
        return str(self._draw(st.uuids()))

    def today(self) -> datetime.datetime:
        """The start of the current day (UTC), from the clock seam of the values."""
        return today()


@functools.cache
def _walked(call: str, direction: str) -> st.SearchStrategy[dict[str, Any]]:
    schema = _schemas.schema(call, direction)
    return strategy(schema, schema["$id"])


def messages(call: str, direction: str = "request", profile: str = "strict") -> st.SearchStrategy[dict[str, Any]]:
    """Valid messages of one call and direction, as ``validate`` judges them under ``profile``.

    Under ``lenient`` some draws also take the forms of the call's registered errata.
    """
    _schemas.check_call(call, direction)
    realism = VALUE_FIXUPS.get((call, direction))
    rules = _semantic.rules(call, direction)
    errata = _schemas.errata_for(call, direction) if profile == "lenient" else ()

    @st.composite
    def draw_message(draw: Draw) -> dict[str, Any]:
        message: dict[str, Any] = draw(_walked(call, direction))
        if realism is not None:
            realism(draw, message)
        pick = _Pick(draw)
        for rule in rules:
            rule.fixup(pick, message)
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
                parent[last] = draw(strategy(erratum.accepts, _schemas.SCHEMA_BASE))
        elif isinstance(parent, dict) and last in parent:
            parent[last] = draw(strategy(erratum.accepts, _schemas.SCHEMA_BASE))
        elif isinstance(parent, list) and last == "*" and parent:
            parent[0] = draw(strategy(erratum.accepts, _schemas.SCHEMA_BASE))


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


_DRAWING = threading.Lock()  # Hypothesis's engine runs one test function at a time per process
EXAMPLE_DRAWS = 3  # the engine's first draw is the simplest message; a later one has realistic values


def example(call: str, direction: str = "request") -> dict[str, Any]:
    """One valid message of ``messages(call, direction)``, drawn outside a test (a form's pre-filled message).

    Hypothesis's ``.example()`` warns that it is meant for the shell, and the tests turn warnings
    into errors; this runs the engine for a few draws of its own instead and keeps the last one.
    """
    drawn: list[dict[str, Any]] = []

    @hypothesis.settings(max_examples=EXAMPLE_DRAWS, database=None, deadline=None, derandomize=False,
                         phases=[hypothesis.Phase.generate], suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(messages(call, direction))
    def keep(message: dict[str, Any]) -> None:
        drawn.append(message)

    with _DRAWING:
        keep()
    return drawn[-1]
