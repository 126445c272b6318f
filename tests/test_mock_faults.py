"""Fault injection (POST /admin/faults): how a partner's retry and back-off behaviour gets tested."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.fixtures.mock import MockProcess

VERIFY = {"rfid-verify": {"rfid": "04523022AA4881"}}


def fault(mock: MockProcess, **spec: Any) -> requests.Response:
    return requests.post(mock.url + "/admin/faults", json=spec, timeout=10)


def test_a_503_with_retry_after_for_the_next_two_requests(emp: MockProcess) -> None:
    assert fault(emp, count=2, status=503, retry_after=7).status_code == 201
    first, second = (requests.post(emp.endpoint, json=VERIFY, headers={"Authorization": f"key={emp.key}"}, timeout=10)
                     for _ in range(2))
    for answer in (first, second):
        assert (answer.status_code, answer.headers["Retry-After"], answer.json()["result"]["code"]) == (503, "7", 100)
    third = emp.post(VERIFY)
    assert (third.status_code, third.json()["result"]["code"]) == (200, 0)
    entries = emp.journal(call="rfid-verify")
    assert [e["status"] for e in entries] == [503, 503, 200]
    assert entries[0]["fault"]["status"] == 503 and entries[2]["fault"] is None


def test_a_fault_for_one_call_leaves_the_others_alone(emp: MockProcess) -> None:
    fault(emp, call="session-post", result_code=100)
    assert emp.post(VERIFY).json()["result"]["code"] == 0
    assert [f["remaining"] for f in emp.state()["faults"]] == [1]


def test_queued_faults_can_be_dropped(emp: MockProcess) -> None:
    fault(emp, count=5, status=503)
    assert requests.post(emp.endpoint, json=VERIFY, headers={"Authorization": f"key={emp.key}"},
                         timeout=10).status_code == 503
    cleared = requests.delete(emp.url + "/admin/faults", timeout=10)
    assert (cleared.status_code, cleared.json()) == (200, {"cleared": 1})
    assert emp.post(VERIFY).status_code == 200, "no fault is left"
    assert [f["remaining"] for f in emp.state()["faults"]] == [0]


def test_an_injected_result_code(emp: MockProcess) -> None:
    fault(emp, result_code=102)
    answer = emp.post(VERIFY, check=False)
    assert (answer.status_code, answer.json()["result"]["code"]) == (200, 102)


def test_a_delay(emp: MockProcess) -> None:
    fault(emp, delay_ms=400)
    started = time.monotonic()
    answer = emp.post(VERIFY)
    assert time.monotonic() - started >= 0.4
    assert answer.json()["result"]["code"] == 0, "a delay alone changes nothing else"
    assert emp.journal(call="rfid-verify")[0]["latency_ms"] >= 400


def test_a_delay_beyond_the_clients_timeout(emp: MockProcess) -> None:
    fault(emp, delay_ms=1500)
    with pytest.raises(requests.Timeout):
        requests.post(emp.endpoint, json=VERIFY, headers={"Authorization": f"key={emp.key}"}, timeout=0.3)


def test_a_malformed_body(emp: MockProcess) -> None:
    fault(emp, malformed=True)
    answer = requests.post(emp.endpoint, json=VERIFY, headers={"Authorization": f"key={emp.key}"}, timeout=10)
    assert answer.status_code == 200
    with pytest.raises(ValueError):
        answer.json()
    assert emp.journal(call="rfid-verify")[0]["response_body"].startswith('{"result"')


def test_a_dropped_connection(emp: MockProcess) -> None:
    fault(emp, drop=True)
    with pytest.raises(requests.ConnectionError):
        requests.post(emp.endpoint, json=VERIFY, headers={"Authorization": f"key={emp.key}"}, timeout=10)
    (entry,) = emp.journal(call="rfid-verify")
    assert (entry["status"], entry["fault"]["drop"]) == (None, True)
    assert emp.post(VERIFY).json()["result"]["code"] == 0, "the server is still there"


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"count": 0, "status": 503}, "'count'"),
        ({"status": 99}, "'status'"),
        ({"call": "sesion-post", "status": 503}, "'call'"),
        ({"delay_ms": -1}, "'delay_ms'"),
        ({"result_code": 777}, "'result_code'"),
        ({"count": 1}, "needs an effect"),
        ({"status": 503, "colour": "red"}, "Unknown fault field"),
    ],
)
def test_a_bad_fault_is_refused_with_a_sentence(emp: MockProcess, spec: dict[str, Any], words: str) -> None:
    answer = fault(emp, **spec)
    assert answer.status_code == 400
    assert words in answer.json()["error"]
    assert emp.state()["faults"] == []
