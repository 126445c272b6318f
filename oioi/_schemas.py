"""The one loader of ``schemas/``: schema files, the registry, validators and errata.

Nothing else in the project opens the schema files. Everything here is built once and
cached; the files are data and never change while a process runs. The protocol's facts
about each call live in its schemas and are read here only: the spec file (``x-spec``),
the role that receives the call (``x-receiver``, request schema), the result codes its
spec file lists (``x-result-codes``, response schema) and the shared patterns
(``common/definitions.json``).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema_rs

from oioi.errors import ConfigError

__all__ = [
    "ROLES",
    "SCHEMA_BASE",
    "Erratum",
    "calls",
    "definition",
    "errata",
    "receiver",
    "registry",
    "result_codes",
    "schema",
    "schema_dir",
    "spec_file",
    "validator",
]

SCHEMA_BASE = "https://schemas.oioi.invalid/4.19/"
DIRECTIONS = ("request", "response")
ROLES = ("cpo", "emp")  # the values of x-receiver
DEFINITIONS = "common/definitions.json"


@functools.cache
def schema_dir() -> Path:
    """Where the schema files are: shipped inside the wheel, or ``schemas/`` beside the package."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "schemas", here.parent / "schemas"):
        if (candidate / DEFINITIONS).is_file():
            return candidate
    raise ConfigError(
        f"Received: no schemas/ folder beside {here}\n"
        "Expected: the package's schema files. Reinstall the package (pip install .)."
    )


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@functools.cache
def _documents() -> dict[str, dict[str, Any]]:
    """Every schema document by its ``$id``."""
    root = schema_dir()
    docs = {}
    for path in sorted(root.rglob("*.json")):
        if path.name == "errata.json":
            continue
        doc = _read(path)
        docs[doc["$id"]] = doc
    return docs


def documents() -> dict[str, dict[str, Any]]:
    """A copy of every schema document by its ``$id``, for tools that build a validator of their own."""
    return copy.deepcopy(_documents())


@functools.cache
def calls() -> tuple[str, ...]:
    """Wire names of every call that has a request schema, sorted."""
    return tuple(sorted(p.name.removesuffix(".request.json") for p in schema_dir().glob("*.request.json")))


def check_call(call: str, direction: str) -> None:
    """Raise ConfigError unless ``call`` and ``direction`` name a schema."""
    if direction not in DIRECTIONS:
        raise ConfigError(f"Received: direction {direction!r}\nExpected: one of {list(DIRECTIONS)!r}.")
    if call not in calls():
        hint = suggest(call, calls())
        raise ConfigError(
            f"Received: call {call!r}\nExpected: an OIOI 4.19 wire name such as 'session-start'."
            + (f" Did you mean {hint!r}?" if hint else "")
        )


def suggest(word: str, choices: tuple[str, ...] | list[str]) -> str | None:
    """The closest of ``choices`` to ``word``, for "Did you mean …?" hints."""
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def schema(call: str, direction: str) -> dict[str, Any]:
    """The schema document of one call and direction."""
    check_call(call, direction)
    return _documents()[f"{SCHEMA_BASE}{call}.{direction}.json"]


def spec_file(call: str, direction: str = "request") -> str:
    """The spec file a call's schema names in ``x-spec``, e.g. ``calls/session_start.rst``."""
    return str(schema(call, direction)["x-spec"])


def receiver(call: str) -> str:
    """The role that receives ``call``, one of `ROLES` (``x-receiver`` of its request schema).

    ``emp`` also stands for the roaming platform, which receives the OEM calls (glossary.rst: "PlugSurfing
    is a roaming platform" and "is an EMP").
    """
    return str(schema(call, "request")["x-receiver"])


def result_codes(call: str) -> tuple[int, ...]:
    """The result codes the call's spec file lists, in its order (``x-result-codes`` of its response schema)."""
    return tuple(schema(call, "response")["x-result-codes"])


def definition(name: str) -> dict[str, Any]:
    """One shared definition of ``common/definitions.json`` by name, e.g. ``definition("rfid-uid")["pattern"]``."""
    defs: dict[str, Any] = _documents()[SCHEMA_BASE + DEFINITIONS]["$defs"]
    if name not in defs:
        hint = suggest(name, list(defs))
        raise ConfigError(
            f"Received: definition {name!r}\nExpected: a name under $defs of {DEFINITIONS}, such as 'evse-id'."
            + (f" Did you mean {hint!r}?" if hint else "")
        )
    found: dict[str, Any] = defs[name]
    return found


@functools.cache
def registry() -> jsonschema_rs.Registry:
    """A jsonschema-rs registry holding every schema document under its ``$id``."""
    return jsonschema_rs.Registry(list(_documents().items()))


@functools.cache
def validator(call: str, direction: str) -> Any:
    """The compiled (jsonschema-rs, draft 2020-12) validator for one call and direction."""
    return jsonschema_rs.Draft202012Validator(schema(call, direction), registry=registry(), validate_formats=True)


@functools.cache
def error_answer_validator() -> Any:
    """The validator for the body of a non-200 answer to any call (request.rst: ``result``, optional ``error``)."""
    ref = {"$ref": f"{SCHEMA_BASE}{DEFINITIONS}#/$defs/error-answer"}
    return jsonschema_rs.Draft202012Validator(ref, registry=registry(), validate_formats=True)


def resolve(uri: str) -> Any:
    """The schema node an absolute keyword location or ``$ref`` URI points to."""
    base, _, fragment = uri.partition("#")
    node: Any = _documents()[base]
    for part in fragment.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


@dataclasses.dataclass(frozen=True)
class Erratum:
    """One place where a spec example contradicts the field description next to it."""

    id: str
    call: str
    direction: str
    path: str
    rule: str
    description_says: str
    example_does: str
    accepts: dict[str, Any]
    profile: str
    spec: str

    @functools.cached_property
    def _path_re(self) -> re.Pattern[str]:
        parts = (("[^/]*" if seg == "*" else re.escape(seg)) for seg in self.path.split("/"))
        return re.compile("/".join(parts) + r"\Z")

    @functools.cached_property
    def _accepts(self) -> Any:
        return jsonschema_rs.validator_for(self.accepts)

    def allows(self, value: Any) -> bool:
        """Whether ``value`` is a form this erratum accepts (its ``accepts`` schema, compiled once)."""
        return bool(self._accepts.is_valid(value))

    def matches(self, call: str, direction: str, path: str, rule: str, value: Any) -> bool:
        """Whether a finding at ``path`` for ``rule`` with offending ``value`` is this erratum."""
        return (
            self.call == call
            and self.direction == direction
            and self.rule == rule
            and self._path_re.match(path) is not None
            and self.allows(value)
        )


@functools.cache
def errata() -> tuple[Erratum, ...]:
    """The errata registry, ``schemas/errata.json``."""
    path = schema_dir() / "errata.json"
    entries = _read(path) if path.is_file() else []
    return tuple(Erratum(**entry) for entry in entries)  # type: ignore[arg-type]


@functools.cache
def errata_for(call: str, direction: str) -> tuple[Erratum, ...]:
    """The errata registered for one call and direction."""
    return tuple(e for e in errata() if e.call == call and e.direction == direction)
