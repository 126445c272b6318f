"""Outbound calls, the admin API's guard, and the `oioi mock` command line, over real HTTP."""

from __future__ import annotations

import io
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from mock_server.seed import DEFAULT_STATION
from oioi_cli import run
from tests.fixtures.mock import CPO_KEY, EMP_KEY, MockProcess, free_port

CONNECTOR = DEFAULT_STATION["connectors"][0]["id"]
START = {"user": {"identifier-type": "evco-id", "identifier": "DE*8PS*123456*7"}, "connector-id": CONNECTOR}


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_oioi_mock_send_makes_the_emp_start_a_session_at_the_cpo(emp: MockProcess, cpo: MockProcess) -> None:
    code, out, err = cli("mock", "send", "session-start", "--url", emp.url, "--body", json.dumps(START))
    assert (code, err) == (0, "")
    entry = json.loads(out)
    assert (entry["exchange"], entry["status"], entry["result_code"], entry["findings"]) == ("outbound", 200, 0, [])
    assert CPO_KEY not in out and entry["request_headers"]["Authorization"].endswith(CPO_KEY[-4:])
    connectors = {c["evse_id"]: c["status"] for c in cpo.state()["connectors"]}
    assert connectors[CONNECTOR] == "Occupied"
    assert [e["exchange"] for e in emp.journal(call="session-start")] == ["outbound"]
    assert [e["status"] for e in cpo.journal(call="session-start")] == [200]


def test_oioi_mock_send_reads_the_body_from_a_file(emp: MockProcess, cpo: MockProcess, tmp_path: Path) -> None:
    body = tmp_path / "start.json"
    body.write_text(json.dumps(START), encoding="utf-8")
    code, out, _err = cli("mock", "send", "session-start", "--url", emp.url, "--body", f"@{body}")
    assert (code, json.loads(out)["result_code"]) == (0, 0)


def test_a_body_that_breaks_the_schema_is_sent_only_when_allowed(emp: MockProcess, cpo: MockProcess) -> None:
    broken = json.dumps({"connector-id": CONNECTOR})  # no 'user'
    code, out, err = cli("mock", "send", "session-start", "--url", emp.url, "--body", broken)
    assert (code, out) == (2, "")
    assert "breaks the schema" in err and "allow_invalid" in err and err.count("\n") == 1
    assert emp.journal(call="session-start") == []

    code, out, _err = cli("mock", "send", "session-start", "--url", emp.url, "--body", broken, "--allow-invalid")
    entry = json.loads(out)
    assert (code, entry["status"], entry["result_code"]) == (0, 400, 230)  # refused, as it must be: a valid answer


def test_the_partners_answer_is_judged(emp: MockProcess, cpo: MockProcess) -> None:
    cpo.admin("POST", "faults", json={"count": 1, "malformed": True})
    entry = emp.admin("POST", "send", json={"call": "session-start", "body": START})
    assert entry["status"] == 200
    assert [f["rule"] for f in entry["findings"]] == ["message/json"]

    cpo.admin("POST", "faults", json={"count": 1, "status": 503, "retry_after": 1})
    entry = emp.admin("POST", "send", json={"call": "session-start", "body": START})
    assert (entry["status"], entry["result_code"], entry["findings"]) == (503, 100, [])


def test_a_partner_that_does_not_answer_is_journaled_as_no_answer(tmp_path: Path, cpo: MockProcess) -> None:
    silent = socket.socket()  # accepts connections (the backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    dead_port = free_port()
    try:
        for url, timeout in ((f"http://127.0.0.1:{dead_port}/api/v4/request", "5"),
                             (f"http://127.0.0.1:{silent.getsockname()[1]}/api/v4/request", "0.5")):
            emp = MockProcess("emp", tmp_path / f"emp-{timeout}.sqlite3", EMP_KEY, "--partner-url", url,
                              "--partner-api-key", CPO_KEY, "--timeout", timeout).start()
            try:
                entry = emp.admin("POST", "send", json={"call": "session-start", "body": START})
                assert (entry["status"], [f["rule"] for f in entry["findings"]]) == (None, ["transport/no-answer"])
                assert [e["id"] for e in emp.journal(exchange="outbound")] == [entry["id"]]
            finally:
                emp.kill()
    finally:
        silent.close()


def test_send_without_a_partner_or_with_a_bad_call_is_a_400_sentence(tmp_path: Path) -> None:
    emp = MockProcess("emp", tmp_path / "emp.sqlite3", EMP_KEY).start()
    try:
        for payload, words in (({"call": "session-start", "body": START}, "--partner-url"),
                               ({"call": "session-begin", "body": {}}, "'call' must be an OIOI call"),
                               ({"call": "session-start"}, "Give the 'body'"),
                               ({"call": "session-start", "body": [1]}, "must be the JSON object")):
            answer = requests.post(emp.url + "/admin/send", json=payload, timeout=30)
            assert answer.status_code == 400 and words in answer.json()["error"], answer.text
    finally:
        emp.kill()


def test_an_admin_token_guards_the_admin_api(tmp_path: Path) -> None:
    token = "admin-token-94c1e0d2b7"
    emp = MockProcess("emp", tmp_path / "emp.sqlite3", EMP_KEY, "--admin-token", token).start()
    try:
        state = emp.url + "/admin/state"
        for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": token}):
            answer = requests.get(state, headers=headers, timeout=30)
            assert (answer.status_code, "Bearer" in answer.json()["error"]) == (401, True)
        assert requests.get(state, headers={"Authorization": f"key={EMP_KEY}"}, timeout=30).status_code == 403
        assert requests.get(state, headers={"Authorization": f"Bearer {token}"}, timeout=30).json()["role"] == "emp"
        code, _out, err = cli("mock", "send", "station-post", "--url", emp.url)
        assert code == 2 and "Bearer" in err
        assert token not in "".join(emp.output)
    finally:
        emp.kill()


def test_ctrl_c_stops_the_mock_cleanly_and_its_keys_are_masked(tmp_path: Path) -> None:
    emp = MockProcess("emp", tmp_path / "emp.sqlite3", EMP_KEY, "--api-key", "second-key-31b7c9d0e5").start()
    assert emp.proc is not None
    emp.post({"rfid-verify": {"rfid": "04523022AA4881"}})
    emp.proc.send_signal(signal.SIGINT)
    assert emp.proc.wait(timeout=15) == 0
    printed = "".join(emp.output)
    emp.kill()
    assert "accepting API keys: " in printed and EMP_KEY[-4:] in printed and "c9d0e5"[-4:] in printed
    assert EMP_KEY not in printed and "second-key-31b7c9d0e5" not in printed


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["mock", "emp"], "--api-key"),
        (["mock", "emp", "--api-key", "k" * 16, "--port", "70000"], "--port"),
        (["mock", "emp", "--api-key", "k" * 16, "--partner-url", "http://127.0.0.1:1/"], "--partner-api-key"),
        (["mock", "emp", "--api-key", "k" * 16, "--db", "/no/such/folder/x.sqlite3"], "does not exist"),
        (["mock", "lighthouse"], "invalid choice"),
        (["mock", "send", "session-start", "--url", "http://127.0.0.1:9", "--body", "{}"], "No mock answers"),
        (["mock", "send", "session-start", "--body", "{not json"], "--body is not JSON"),
        (["mock", "send", "session-start", "--body", "@/no/such/body.json"], "Cannot read --body file"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(argv: list[str], words: str) -> None:
    done = subprocess.run([sys.executable, "-m", "oioi_cli", *argv], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2
    assert words in done.stderr and "Traceback" not in done.stderr
    assert len([line for line in done.stderr.splitlines() if line.startswith("oioi")]) <= 2


def test_a_port_in_use_is_one_sentence(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        done = subprocess.run(
            [sys.executable, "-m", "oioi_cli", "mock", "emp", "--api-key", "k" * 16, "--port", port, "--db",
             str(tmp_path / "x.sqlite3")], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert f"127.0.0.1:{port}" in done.stderr and "--port 0" in done.stderr


