"""The OIOI endpoint of the mock (request.rst): every rule sends the bad input and checks status and code."""

from __future__ import annotations

import json

import pytest
import requests

from tests.fixtures.mock import EMP_KEY, MockProcess


def code_of(answer: requests.Response) -> int:
    code: int = answer.json()["result"]["code"]
    return code


def test_a_request_without_an_api_key_gets_401_and_210(emp: MockProcess) -> None:
    answer = requests.post(emp.endpoint, json={"rfid-verify": {"rfid": "04523022AA4881"}}, timeout=10)
    assert (answer.status_code, code_of(answer)) == (401, 210)


@pytest.mark.parametrize("header", ["key=wrong-key-0000", f"Bearer {EMP_KEY}", f"key={EMP_KEY}x", "key="])
def test_an_unknown_api_key_gets_401_and_210(emp: MockProcess, header: str) -> None:
    answer = emp.post({"rfid-verify": {"rfid": "04523022AA4881"}}, headers={"Authorization": header})
    assert (answer.status_code, code_of(answer)) == (401, 210)


def test_a_known_api_key_is_accepted(emp: MockProcess) -> None:
    answer = emp.post({"rfid-verify": {"rfid": "04523022AA4881"}})
    assert (answer.status_code, code_of(answer)) == (200, 0)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_body_that_is_not_declared_json_gets_400_and_230(emp: MockProcess, content_type: str) -> None:
    answer = emp.post(None, data=b'{"rfid-verify": {"rfid": "04523022AA4881"}}',
                      headers={"Content-Type": content_type})
    assert (answer.status_code, code_of(answer)) == (400, 230)
    assert "Content-Type" in answer.json()["result"]["message"]


JSON_CONTENT_TYPES = ["application/json; charset=utf-8", "Application/JSON", "application/json ;x=1"]


@pytest.mark.parametrize("content_type", JSON_CONTENT_TYPES)
def test_a_json_content_type_with_parameters_or_other_case_is_accepted(emp: MockProcess, content_type: str) -> None:
    answer = emp.post(None, data=b'{"rfid-verify": {"rfid": "04523022AA4881"}}',
                      headers={"Content-Type": content_type})
    assert (answer.status_code, code_of(answer)) == (200, 0)


def test_a_body_that_is_not_utf8_gets_400_and_230(emp: MockProcess) -> None:
    answer = emp.post(None, data='{"rfid-verify": {"rfid": "\u00e9"}}'.encode("latin-1"))
    assert (answer.status_code, code_of(answer)) == (400, 230)
    assert "UTF-8" in answer.json()["result"]["message"]


@pytest.mark.parametrize("body", [b"", b"{", b"[1, 2", b"not json", b"[" * 100_000 + b"]" * 100_000],
                         ids=["empty", "open", "unclosed", "words", "nested-100000-deep"])
def test_a_body_that_is_not_json_gets_400_and_230(emp: MockProcess, body: bytes) -> None:
    answer = emp.post(None, data=body)
    assert (answer.status_code, code_of(answer)) == (400, 230)


@pytest.mark.parametrize(
    ("body", "status", "code", "rule"),
    [(b'{"rfid-verify": {"rfid": NaN}}', 400, 230, "schema/type"),  # json.loads reads NaN; the schema refuses it
     (b'{"rfid-verify": {"rfid": ' + b"9" * 30 + b"}}", 400, 230, "schema/type"),  # beyond 64 bits: a number
     (b'{"rfid-verify": {"rfid": 7, "rfid": "04523022AA4881"}}', 200, 0, None),  # the last one counts
     (b'{"rfid-verify": {"rfid": "04523022AA4881"}} x', 400, 230, "message/json")],
    ids=["nan", "huge-integer", "duplicate-key", "trailing-text"],
)
def test_json_is_read_as_the_standard_library_reads_it(
    emp: MockProcess, body: bytes, status: int, code: int, rule: str | None
) -> None:
    answer = emp.post(None, data=body)
    assert (answer.status_code, code_of(answer)) == (status, code)
    (entry,) = emp.journal()
    assert [f["rule"] for f in entry["findings"] if f["severity"] == "error"] == ([rule] if rule else [])


@pytest.mark.parametrize(
    "message",
    [{}, {"rfid-verify": {"rfid": "04523022AA4881"}, "session-post": {}}, {"rfid-verfy": {}}, [], "rfid-verify"],
    ids=["no-key", "two-keys", "unknown-call", "array", "string"],
)
def test_a_body_without_exactly_one_known_call_gets_400_and_230(emp: MockProcess, message: object) -> None:
    answer = emp.post(message)
    assert (answer.status_code, code_of(answer)) == (400, 230)
    assert answer.json()["error"][0]["rule"].startswith("message/")


def test_a_call_the_role_does_not_receive_gets_403_and_220(emp: MockProcess, cpo: MockProcess) -> None:
    start = {"session-start": {"user": {"identifier-type": "evco-id", "identifier": "DE*8PS*123456*7"},
                               "connector-id": "DE*8PS*E000001*1"}}
    answer = emp.post(start)
    assert (answer.status_code, code_of(answer)) == (403, 220)
    assert "EMP" in answer.json()["result"]["message"]
    station = {"station-post": {"station": {}, "partner-identifier": "x" * 16}}
    answer = cpo.post(station)
    assert (answer.status_code, code_of(answer)) == (403, 220)


def test_an_invalid_request_gets_400_230_and_the_findings(emp: MockProcess) -> None:
    answer = emp.post({"rfid-verify": {"rfid": "04523022aa4881"}})
    assert (answer.status_code, code_of(answer)) == (400, 230)
    (finding,) = answer.json()["error"]
    assert (finding["path"], finding["rule"], finding["severity"]) == ("/rfid-verify/rfid", "schema/pattern", "error")
    assert finding["message"].startswith("Received: ")


def test_an_unknown_field_is_accepted_and_journaled_as_a_warning(emp: MockProcess) -> None:
    answer = emp.post({"rfid-verify": {"rfid": "04523022AA4881", "rfid-type": "mifare"}})
    assert (answer.status_code, code_of(answer)) == (200, 0)
    (entry,) = emp.journal(call="rfid-verify")
    assert [(f["severity"], f["rule"]) for f in entry["findings"]] == [("warning", "schema/unknown-field")]


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/v4/request"), ("POST", "/api/v3/request"),
                                              ("GET", "/nothing")])
def test_a_wrong_path_or_method_gets_a_json_4xx(emp: MockProcess, method: str, path: str) -> None:
    answer = requests.request(method, emp.url + path, timeout=10)
    assert answer.status_code in (404, 405)
    assert code_of(answer) == 230
    assert "POST /api/v4/request" in answer.json()["result"]["message"]


def test_a_body_over_the_size_limit_gets_413(emp: MockProcess) -> None:
    answer = emp.post(None, data=b'{"rfid-verify": {"rfid": "' + b"A" * (9 * 1024 * 1024) + b'"}}')
    assert answer.status_code == 413
    assert code_of(answer) == 230


def test_the_admin_api_refuses_an_oioi_key(emp: MockProcess) -> None:
    for path in ("journal", "state"):
        answer = requests.get(f"{emp.url}/admin/{path}", headers={"Authorization": f"key={EMP_KEY}"}, timeout=10)
        assert answer.status_code == 403
        assert "admin API" in answer.json()["error"]


def test_the_journal_masks_the_api_key(emp: MockProcess) -> None:
    emp.post({"rfid-verify": {"rfid": "04523022AA4881"}})
    emp.post({"rfid-verify": {"rfid": "04523022AA4881"}}, headers={"Authorization": "key=a-wrong-key-9876"})
    text = json.dumps(emp.journal())
    assert EMP_KEY not in text and "a-wrong-key-9876" not in text
    assert f"key={'*' * (len(EMP_KEY) - 4)}{EMP_KEY[-4:]}" in text
    assert EMP_KEY not in "".join(emp.output)


def test_the_journal_keeps_every_request_header(emp: MockProcess) -> None:
    emp.post({"rfid-verify": {"rfid": "04523022AA4881"}},
             headers={"X-Trace-Id": "abc-123", "X-Empty": "", "User-Agent": "oioi-test/1"})
    (entry,) = emp.journal(call="rfid-verify")
    headers = entry["request_headers"]
    assert headers["X-Trace-Id"] == "abc-123" and headers["X-Empty"] == "" and headers["User-Agent"] == "oioi-test/1"
    assert headers["Content-Type"] == "application/json" and headers["Content-Length"].isdigit()
    assert headers["Authorization"].startswith("key=*")
