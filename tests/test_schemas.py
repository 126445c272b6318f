"""The schema files: complete, valid under the 2020-12 meta-schema, written to the conventions, and the spec's
facts about each call (spec file, receiver, result codes) as the spec states them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import oioi
from oioi import _schemas
from oioi.errors import ConfigError

SCHEMAS = Path(_schemas.schema_dir())
FILES = sorted(p for p in SCHEMAS.rglob("*.json") if p.name != "errata.json")
CALL_FILES = sorted(SCHEMAS.glob("*.*.json"))
ALLOWED = {
    "$schema",
    "$id",
    "$ref",
    "$defs",
    "$comment",
    "title",
    "description",
    "examples",
    "x-spec",
    "x-receiver",
    "x-result-codes",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "prefixItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "enum",
    "const",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "format",
    "anyOf",
}


def keywords(node: Any, parent: str | None = None) -> set[str]:
    """Every keyword used in a schema (property names and $defs names excluded)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if parent not in ("properties", "$defs"):
                found.add(key)
            found |= keywords(value, key)
    elif isinstance(node, list) and parent in ("prefixItems", "anyOf"):
        for item in node:
            found |= keywords(item)
    return found


def test_one_request_and_one_response_schema_per_spec_call(spec: Path) -> None:
    calls = sorted(p.stem.replace("_", "-") for p in (spec / "calls").glob("*.rst"))
    expected = sorted(f"{c}.{d}.json" for c in calls for d in ("request", "response"))
    assert [p.name for p in CALL_FILES] == expected
    assert len(expected) == 84


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SCHEMAS)))
def test_schema_is_valid_draft_2020_12(path: Path) -> None:
    schema = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == _schemas.SCHEMA_BASE + str(path.relative_to(SCHEMAS))


@pytest.mark.parametrize("path", CALL_FILES, ids=lambda p: p.name)
def test_call_schema_follows_the_conventions(path: Path, spec: Path) -> None:
    schema = json.loads(path.read_text())
    call, direction = path.name.removesuffix(".json").rsplit(".", 1)
    assert schema["description"]
    spec_file = schema["x-spec"]
    assert (spec / spec_file).is_file(), f"{path.name} points to {spec_file!r}, which is not in the spec"
    assert keywords(schema) <= ALLOWED, f"keywords the generators do not know: {keywords(schema) - ALLOWED}"
    if direction == "request":
        assert schema["required"] == [call] and list(schema["properties"]) == [call]
        assert schema["additionalProperties"] is False
        assert schema["x-receiver"] in oioi.ROLES
    else:
        assert "result" in schema["required"]
        assert all(isinstance(code, int) for code in schema["x-result-codes"])
        assert "x-receiver" not in schema, "the receiver is a fact of the call: its request schema names it"


@pytest.mark.parametrize("call", _schemas.calls())
@pytest.mark.parametrize("direction", ["request", "response"])
def test_every_reference_resolves(call: str, direction: str) -> None:
    validator = _schemas.validator(call, direction)
    assert not validator.is_valid({}), "compiling resolved every $ref, and an empty message lacks required fields"
    assert _schemas.spec_file(call, direction).startswith("calls/")


@pytest.mark.parametrize("call", _schemas.calls())
def test_result_codes_are_the_spec_files_list(spec: Path, call: str) -> None:
    text = (spec / oioi.spec_file(call)).read_text(encoding="utf-8")
    section = re.split(r"\nResult codes?\n~+\n", text)[1]
    listed = [int(code) for code in re.findall(r"^(\d+)\n", section.split("\nExamples\n")[0], flags=re.MULTILINE)]
    assert oioi.result_codes(call) == tuple(listed)


# cpo/*.rst: "* **Role:** Receiver" (or Sender) followed by "* **Implementation:** :ref:`calls-sessionstart-docs`".
ROLE_LINE = re.compile(r"\* \*\*Role:\*\* (Receiver|Sender)\n\* \*\*Implementation:\*\* :ref:`calls-([a-z]+)-docs`")


def test_receivers_are_the_cpo_pages_roles(spec: Path) -> None:
    """A call the CPO pages mark "Receiver" is received by the CPO; one they mark "Sender" by the EMP."""
    by_ref = {call.replace("-", ""): call for call in oioi.calls()}
    stated = {
        by_ref[ref]: "cpo" if role == "Receiver" else "emp"
        for page in sorted((spec / "cpo").glob("*.rst"))
        for role, ref in ROLE_LINE.findall(page.read_text(encoding="utf-8"))
    }
    assert len(stated) == 9
    assert {call: oioi.receiver(call) for call in stated} == stated


def test_definition_names_a_shared_definition() -> None:
    assert re.fullmatch(oioi.definition("rfid-uid")["pattern"], "04523022AA4881")
    with pytest.raises(ConfigError, match="Did you mean 'rfid-uid'"):
        oioi.definition("rfid_uid")
