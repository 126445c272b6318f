"""Spec examples as test vectors: drift between spec, schemas and errata fails here."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from oioi import Erratum, calls, errata, validate
from tests.fixtures.spec import (
    SPEC_EXAMPLES,
    VECTORS,
    rst_examples,
    spec_dir,
    vector_cases,
    vector_groups,
    wire_name,
)

ERRATA = {e.id: e for e in errata()}
# Errata about the HTTP exchange rather than a message (e.g. which status a refusal comes with): no
# spec example shows a status, they apply to every call ("*") and are read by the conformance checks.
TRANSPORT_ERRATA = {i for i, e in ERRATA.items() if e.rule.startswith("http/")}


@pytest.mark.parametrize("path", sorted(SPEC_EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_vector_file_has_the_test_suite_shape(path: Path) -> None:
    groups = json.loads(path.read_text())
    jsonschema.validate(groups, json.loads((VECTORS / "vector-schema.json").read_text()))
    descriptions = [(g["direction"], t["description"]) for g in groups for t in g["tests"]]
    assert [d for d, n in Counter(descriptions).items() if n > 1] == []
    assert {g["message"] for g in groups} == {path.stem}


@pytest.mark.parametrize(("group", "test"), vector_cases())
def test_spec_example_validates_under_lenient(group: dict[str, Any], test: dict[str, Any]) -> None:
    findings = validate(test["payload"], call=group["message"], direction=group["direction"], profile="lenient")
    assert [str(f) for f in findings if f.severity == "error"] == []
    assert test["valid"]["lenient"] is True


@pytest.mark.parametrize(("group", "test"), vector_cases())
def test_spec_example_fails_strict_exactly_by_its_errata(group: dict[str, Any], test: dict[str, Any]) -> None:
    findings = validate(test["payload"], call=group["message"], direction=group["direction"], profile="strict")
    errors = [f for f in findings if f.severity == "error"]
    assert (not errors) == test["valid"]["strict"], [str(f) for f in errors]
    assert [str(f) for f in errors if f.erratum is None] == [], "a strict error that no erratum explains"
    assert sorted({f.erratum for f in findings if f.erratum}) == sorted(test["errata"])


def _values(payload: Any) -> Iterator[Any]:
    """Every scalar in a payload."""
    if isinstance(payload, dict):
        for value in payload.values():
            yield from _values(value)
    elif isinstance(payload, list):
        for value in payload:
            yield from _values(value)
    else:
        yield payload


def _shown_elsewhere(erratum: Erratum) -> bool:
    """Whether a value ``example_does`` quotes appears in another call's spec example (a form the spec writes
    in one call's example and a field of the same kind in another call carries, e.g. a 9-character EVCO ID)
    and is the form the erratum accepts.
    """
    files = set(re.findall(r"calls/[a-z_-]+\.rst", erratum.example_does)) - {erratum.spec}
    quoted = set(re.findall(r'"([^"]+)"', erratum.example_does))
    accepts = jsonschema.Draft202012Validator(erratum.accepts)
    shown = {v for _name, g in vector_groups() if g["spec"].split("#")[0] in files for t in g["tests"]
             for v in _values(t["payload"])}
    return any(value in shown and accepts.is_valid(value) for value in quoted)


def test_every_erratum_is_seen_in_a_spec_example() -> None:
    listed = {e for _name, g in vector_groups() for t in g["tests"] for e in t["errata"]}
    elsewhere = {i for i, e in ERRATA.items() if i not in listed and _shown_elsewhere(e)}
    assert sorted(set(ERRATA) - TRANSPORT_ERRATA - listed - elsewhere) == [], "errata that no spec example shows"
    assert sorted(listed - set(ERRATA)) == [], "vectors naming errata that are not registered"


def test_an_erratum_seen_in_another_calls_example_names_a_value_it_shows() -> None:
    assert _shown_elsewhere(ERRATA["rfid-verify:response-evco-id-pattern"])
    wrong = dataclasses.replace(ERRATA["rfid-verify:response-evco-id-pattern"],
                                example_does='calls/reservation_start.rst sends "DE*8PS*999999999*9".')
    assert not _shown_elsewhere(wrong)


def test_errata_registry_entries_are_complete(spec: Path) -> None:
    ids = [e.id for e in errata()]
    assert len(ids) == len(set(ids))
    for erratum in errata():
        if erratum.id in TRANSPORT_ERRATA:
            assert (erratum.call, erratum.spec) == ("*", "request.rst"), erratum.id
            assert erratum.id.startswith("request:"), erratum.id
        else:
            assert erratum.call in calls(), erratum.id
            assert erratum.id.startswith(erratum.call + ":"), erratum.id
        assert erratum.profile == "lenient", erratum.id
        assert (spec / erratum.spec).is_file(), erratum.id
        assert erratum.description_says and erratum.example_does, erratum.id
        jsonschema.Draft202012Validator.check_schema(erratum.accepts)


def test_the_refusal_status_erratum_accepts_4xx_only() -> None:
    """request.rst's "the HTTP response code will not be 200" against the call files' "200 OK" only."""
    (erratum,) = [e for e in errata() if e.rule == "http/status"]
    accepts = jsonschema.Draft202012Validator(erratum.accepts)
    assert [s for s in (200, 400, 404, 422, 499, 500, 503) if accepts.is_valid(s)] == [400, 404, 422, 499]


@pytest.mark.parametrize("rst", sorted(spec_dir().glob("calls/*.rst")), ids=lambda p: p.name)
def test_every_spec_example_is_a_vector(rst: Path, spec: Path) -> None:
    path = SPEC_EXAMPLES / f"{wire_name(rst)}.json"
    assert path.is_file(), f"no vectors for {rst.name}"
    tests = [t for g in json.loads(path.read_text()) for t in g["tests"]]
    payloads = [t["payload"] for t in tests]
    repaired = [t for t in tests if "repaired" in t["description"].lower()]
    unparsed = 0
    for label, text in rst_examples(rst):
        try:
            example = json.loads(text)
        except json.JSONDecodeError:
            unparsed += 1
            continue
        assert example in payloads, f"{rst.name}: the {label!r} example is not among the vectors"
    assert unparsed <= len(repaired), f"{rst.name}: {unparsed} examples are not JSON; say 'repaired' in their vectors"
