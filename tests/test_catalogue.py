"""The requirement catalogue and the conformance checks agree, and the catalogue agrees with the spec."""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import oioi
from conformance._catalogue import FEATURES, calls, catalogue, receiver, requirements

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
    answers = {f"{call}.answer" for call in calls()}
    assert "<call>.answer" in marked  # test_answers.py speaks for every <call>.answer
    untested = [r["id"] for r in requirements() if "test" in r and r["id"] not in marked | answers]
    assert untested == []


def test_every_requirement_without_a_check_says_why() -> None:
    marked = set(_marked_requirements()) | {f"{call}.answer" for call in calls()}
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


def test_every_call_named_has_schemas() -> None:
    """A requirement's call is a wire name of the schemas, which hold its receiver, spec file and result codes."""
    assert set(calls()) <= set(oioi.calls())
    assert all(f"{call}.answer" in {r["id"] for r in requirements()} for call in calls())


def test_a_calls_requirements_judge_the_role_that_receives_it_or_sends_it() -> None:
    """The receiver comes from the schemas (x-receiver); the catalogue's roles of a call agree with it."""
    for entry in requirements():
        if entry["id"].endswith(".answer"):
            assert entry["roles"] == [receiver(entry["call"])], entry["id"]


def test_every_spec_reference_exists(spec: Path) -> None:
    for entry in requirements():
        text = (spec / entry["spec"]["file"]).read_text(encoding="utf-8")
        assert entry["spec"]["section"] in text, entry["id"]
        assert " ".join(entry["spec"]["quote"].split()) in " ".join(text.split()), entry["id"]


# The catalogue lint (issue 11): a FAIL is a proof. Only a MUST fails a run, so a MUST rests on a sentence that
# says must / required / always / never / only (or cannot) and binds the role the requirement judges, or on the
# definition of the call itself; our own reading is an interpretation, and an interpretation is a SHOULD.
NORMATIVE_WORDS = re.compile(r"\b(must|required|always|never|only|cannot)\b", re.IGNORECASE)
CALL_DEFINITION = "definition of the call"
# Sentences that bind one side only. A MUST may quote one only when it judges that side: "sender" — what the
# IUT itself sends, never how it treats a request it receives (request.rst: "The HTTP header must contain …" says
# what the sender puts in, not that a receiver must refuse anything else); "cpo" / "emp" — that role.
BINDS = {
    "The HTTP header must contain": "sender",
    "The HTTP body must contain the JSON request": "sender",
    "All data must be UTF-8 encoded": "sender",
    "PlugSurfing only accepts dynamic data changes": "emp",
    "the EMP will send": "emp",
    "the EMP must send": "emp",
    "The EMP needs to": "emp",
    "the CPO has to send": "cpo",
    "The CPO must send": "cpo",
}
# A requirement about how the IUT treats a request it receives says so in its title.
RECEIVING = re.compile(r"\b(is|are) refused\b|\bis accepted\b|\bgets an answer\b|\bAfter refusing\b")


def lint(entries: list[dict[str, Any]]) -> list[str]:
    """Every way a catalogue entry's level disagrees with its basis (an empty list when none does)."""
    problems = []
    for entry in entries:
        rid, level, basis, why = entry["id"], entry["level"], entry.get("basis"), entry.get("why") or ""
        quote = " ".join(entry["spec"]["quote"].split())
        if basis == "interpretation" and level != "SHOULD":
            problems.append(f"{rid}: an interpretation is a SHOULD, not a {level}")
        if level != "MUST":
            continue
        if basis != "normative" or not why:
            problems.append(f"{rid}: a MUST needs basis normative and a why (has {basis!r})")
        if not (NORMATIVE_WORDS.search(quote) or NORMATIVE_WORDS.search(why) or CALL_DEFINITION in why):
            problems.append(f"{rid}: neither quote nor why says must/required/always/never/only/cannot or rests on "
                            f"the {CALL_DEFINITION}")
        for sentence, side in BINDS.items():
            if sentence not in quote:
                continue
            if side == "sender" and RECEIVING.search(entry["title"]):
                problems.append(f"{rid}: {sentence!r} binds the sender, but this MUST judges a receiver")
            if side in ("cpo", "emp") and entry["roles"] != [side]:
                problems.append(f"{rid}: {sentence!r} binds the {side.upper()}, but this MUST judges {entry['roles']}")
    return problems


def test_catalogue_lint_holds() -> None:
    assert lint(requirements()) == []


def _mutated(rid: str, **changes: Any) -> list[dict[str, Any]]:
    entries = copy.deepcopy(requirements())
    [entry] = [e for e in entries if e["id"] == rid]
    for key, value in changes.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    return entries


@pytest.mark.parametrize(("rid", "changes", "caught"), [
    ("transport.content-type", {"level": "MUST", "basis": "normative"}, "binds the sender"),
    ("transport.non-utf8", {"level": "MUST", "basis": "normative"}, "binds the sender"),
    ("connector-post-status.own-connectors", {"level": "MUST", "basis": "normative"}, "binds the EMP"),
    ("session-start.success", {"level": "MUST", "basis": "normative"}, "binds the EMP"),
    ("sender.retry-timeout", {"level": "MUST"}, "an interpretation is a SHOULD"),
    ("station-post.all-stations", {"basis": "interpretation"}, "an interpretation is a SHOULD"),
    ("station-post.all-stations", {"why": None}, "needs basis normative and a why"),
    ("rfid-post.processed", {"why": "The answer field says what it counts."}, "neither quote nor why"),
], ids=lambda value: value if isinstance(value, str) and "." in value and " " not in value else "")
def test_catalogue_lint_catches(rid: str, changes: dict[str, Any], caught: str) -> None:
    """Each rule of the lint fails a catalogue that breaks it (a lint that cannot fail proves nothing)."""
    problems = lint(_mutated(rid, **changes))
    assert any(caught in problem and problem.startswith(rid) for problem in problems), problems


def test_feature_enum_is_features() -> None:
    schema = json.loads((ROOT / "conformance" / "requirements.schema.json").read_text(encoding="utf-8"))
    enum = schema["$defs"]["requirement"]["properties"]["feature"]["enum"]
    assert sorted(enum) == sorted(FEATURES)
    used = {r["feature"] for r in requirements() if "feature" in r}
    assert used <= set(FEATURES) and used == set(FEATURES)  # every optional part has its requirements


def test_schema_requires_basis_and_why() -> None:
    schema = json.loads((ROOT / "conformance" / "requirements.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    for key in ("basis", "why"):
        broken = copy.deepcopy(catalogue())
        del broken["requirements"][0][key]
        assert not validator.is_valid(broken), key
