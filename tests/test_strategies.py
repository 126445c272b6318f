"""The Hypothesis generators agree with the validator, call by call."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from oioi import calls, validate
from oioi.strategies import invalid_messages, messages

DIRECTIONS = ["request", "response"]


def errors(message: Any, call: str, direction: str, profile: str = "strict") -> list[str]:
    return [str(f) for f in validate(message, call=call, direction=direction, profile=profile) if f.severity == "error"]


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("call", calls())
@given(data=st.data())
def test_valid_draws_pass_strict(call: str, direction: str, data: st.DataObject) -> None:
    message = data.draw(messages(call, direction))
    assert errors(message, call, direction) == []


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("call", calls())
@given(data=st.data())
def test_lenient_draws_pass_lenient(call: str, direction: str, data: st.DataObject) -> None:
    message = data.draw(messages(call, direction, profile="lenient"))
    assert errors(message, call, direction, "lenient") == []


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("call", calls())
@given(data=st.data())
def test_invalid_draws_fail_on_their_stated_rule(call: str, direction: str, data: st.DataObject) -> None:
    broken = data.draw(invalid_messages(call, direction))
    note(f"breaks {broken.rule} at {broken.path}")
    findings = [f for f in validate(broken.message, call=call, direction=direction) if f.severity == "error"]
    assert (broken.rule, broken.path) in {(f.rule, f.path) for f in findings}
    assert {f.path for f in findings} == {broken.path}, "the draw broke more than the one place it names"


@pytest.mark.slow
@pytest.mark.parametrize(
    "call", ["station-post", "session-post", "session-start", "rfid-post", "connector-post-status"]
)
@settings(max_examples=300)
@given(data=st.data())
def test_core_calls_thoroughly(call: str, data: st.DataObject) -> None:
    message = data.draw(messages(call))
    assert errors(message, call, "request") == []
    broken = data.draw(invalid_messages(call))
    findings = validate(broken.message, call=call)
    assert (broken.rule, broken.path) in {(f.rule, f.path) for f in findings if f.severity == "error"}


def test_lenient_draws_do_take_erratum_forms() -> None:
    seen: set[str] = set()

    @settings(max_examples=60, derandomize=True, database=None)
    @given(messages("station-post", profile="lenient"))
    def collect(message: dict[str, Any]) -> None:
        seen.update(f.erratum for f in validate(message, profile="lenient") if f.erratum)

    collect()
    assert "station-post:partner-identifier-short" in seen
