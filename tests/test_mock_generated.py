"""The mock against the spec's own examples and a thousand generated invalid messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server import _cpo, _emp
from oioi import receiver, result_codes
from oioi.strategies import invalid_messages
from tests.fixtures.mock import CPO_KEY, EMP_KEY, MockProcess
from tests.fixtures.spec import vector_groups

RECEIVES = {"emp": sorted(_emp.HANDLERS), "cpo": sorted(_cpo.HANDLERS)}
INVALID_PER_CALL = -(-1000 // sum(len(c) for c in RECEIVES.values()))  # at least 1000 in all


@pytest.fixture(scope="module")
def lenient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, MockProcess]]:
    """An EMP and a CPO mock that judge requests with the lenient profile (the spec's examples have errata)."""
    folder = tmp_path_factory.mktemp("lenient")
    mocks = {"emp": MockProcess("emp", folder / "emp.sqlite3", EMP_KEY, "--profile", "lenient").start()}
    try:
        mocks["cpo"] = MockProcess("cpo", folder / "cpo.sqlite3", CPO_KEY, "--profile", "lenient").start()
        yield mocks
    finally:
        for mock in mocks.values():
            mock.kill()


def example_requests() -> list[Any]:
    cases = []
    for _name, group in vector_groups():
        if group["direction"] != "request":
            continue
        role = next((r for r, received in RECEIVES.items() if group["message"] in received), None)
        if role is None:
            continue
        for test in group["tests"]:
            cases.append(pytest.param(role, group["message"], test["payload"], id=f"{role}-{test['description'][:40]}"))
    return cases


@pytest.mark.parametrize(("role", "call", "payload"), example_requests())
def test_every_spec_example_request_is_accepted(lenient: dict[str, MockProcess], role: str, call: str,
                                                payload: dict[str, Any]) -> None:
    answer = lenient[role].post(payload)
    assert answer.status_code == 200, answer.text
    code = answer.json()["result"]["code"]
    assert code in result_codes(call), answer.text


def test_each_mock_role_handles_the_calls_its_role_receives() -> None:
    """The mock's handlers agree with the schemas' x-receiver (the EMP also stands for the roaming platform)."""
    assert {call: receiver(call) for handled in RECEIVES.values() for call in handled} == {
        call: role for role, handled in RECEIVES.items() for call in handled
    }


def test_every_call_a_role_receives_has_a_spec_example() -> None:
    covered = {p.values[1] for p in example_requests()}
    assert covered == set(RECEIVES["emp"]) | set(RECEIVES["cpo"])


@pytest.mark.parametrize(("role", "call"), [(r, c) for r, calls in RECEIVES.items() for c in calls])
@settings(max_examples=INVALID_PER_CALL, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_invalid_requests_get_400_and_230_never_5xx(mock_pair: tuple[MockProcess, MockProcess], role: str,
                                                              call: str, data: st.DataObject) -> None:
    mock = mock_pair[0] if role == "emp" else mock_pair[1]
    broken = data.draw(invalid_messages(call, "request"))
    answer = mock.post(broken.message)
    assert (answer.status_code, answer.json()["result"]["code"]) == (400, 230), (broken.rule, broken.path)
    assert broken.path in {f["path"] for f in answer.json()["error"]}

