"""The requirement catalogue and the conformance checks agree, and the catalogue agrees with the spec."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import jsonschema
import pytest

from conformance._catalogue import catalogue, requirements

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "conformance" / "suite"


def _marked_requirements() -> dict[str, set[str]]:
    """Requirement ids named by ``requirement(...)`` marks in each check module (read from the source)."""
    found: dict[str, set[str]] = {}
    for module in sorted(SUITE.glob("test_*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "requirement"):
                for arg in node.args:
                    if isinstance(arg, ast.Constant):
                        found.setdefault(arg.value, set()).add(module.name)
                    elif isinstance(arg, ast.JoinedStr):  # f"{call}.answer" in test_answers.py
                        found.setdefault("<call>.answer", set()).add(module.name)
    return found


def test_catalogue_is_valid_under_its_schema() -> None:
    schema = json.loads((ROOT / "conformance" / "requirements.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(catalogue())


def test_requirement_ids_are_unique() -> None:
    ids = [r["id"] for r in requirements()]
    assert len(ids) == len(set(ids))


def test_every_check_names_a_catalogued_requirement() -> None:
    ids = {r["id"] for r in requirements()}
    marked = _marked_requirements()
    unknown = {rid: sorted(where) for rid, where in marked.items() if rid != "<call>.answer" and rid not in ids}
    assert unknown == {}


def test_every_tested_requirement_has_a_check() -> None:
    marked = set(_marked_requirements())
    answers = {f"{call}.answer" for call in catalogue()["calls"]}
    assert "<call>.answer" in marked  # test_answers.py speaks for every <call>.answer
    untested = [r["id"] for r in requirements() if "test" in r and r["id"] not in marked | answers]
    assert untested == []


def test_every_requirement_without_a_check_says_why() -> None:
    marked = set(_marked_requirements()) | {f"{call}.answer" for call in catalogue()["calls"]}
    silent = [r["id"] for r in requirements() if r["id"] not in marked and not r.get("untested")]
    assert silent == []
    claimed = [r["id"] for r in requirements() if r["id"] in marked and "untested" in r]
    assert claimed == []


def test_every_nonconformance_raised_names_a_catalogued_requirement() -> None:
    """Checks name the requirement they fail (requirement="…" literals in the suite and checks)."""
    ids = {r["id"] for r in requirements()}
    sources = [*SUITE.glob("*.py"), ROOT / "conformance" / "checks.py"]
    named = {m for path in sources for m in re.findall(r'"((?:transport|session|reservation|rfid|station|connector)'
                                                        r'[a-z-]*\.[a-z0-9.-]+)"', path.read_text(encoding="utf-8"))}
    assert sorted(named - ids) == []


@pytest.mark.parametrize("call", sorted(catalogue()["calls"]))
def test_result_codes_are_the_spec_files_lists(spec: Path, call: str) -> None:
    entry = catalogue()["calls"][call]
    text = (spec / entry["spec"]).read_text(encoding="utf-8")
    section = re.split(r"\nResult codes?\n~+\n", text)[1]
    listed = [int(code) for code in re.findall(r"^(\d+)\n", section.split("\nExamples\n")[0], flags=re.MULTILINE)]
    assert entry["result-codes"] == listed


def test_every_spec_reference_exists(spec: Path) -> None:
    for entry in requirements():
        text = (spec / entry["spec"]["file"]).read_text(encoding="utf-8")
        assert entry["spec"]["section"] in text, entry["id"]
        assert " ".join(entry["spec"]["quote"].split()) in " ".join(text.split()), entry["id"]
