"""The journal: every exchange, under concurrent load, across a SIGKILL, exported for `oioi validate`."""

from __future__ import annotations

import concurrent.futures
import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import requests

from oioi_cli import run
from tests.fixtures.mock import EMP_KEY, MockProcess

THREADS = 8
REQUESTS = 2000
PARTNER = "journal-test-partner-0001"


def status_message(n: int) -> dict[str, Any]:
    # Unknown connectors: each answer is 181, and each request is told apart by its connector id.
    return {"connector-post-status": {"connector-id": f"DE*8PS*E{n:06d}", "status": "Available",
                                      "partner-identifier": PARTNER}}


def send_all(mock: MockProcess, numbers: range, acknowledged: list[int], stop: threading.Event | None = None) -> None:
    session = requests.Session()
    headers = {"Authorization": f"key={mock.key}"}
    for n in numbers:
        if stop is not None and stop.is_set():
            return
        try:
            answer = session.post(mock.endpoint, json=status_message(n), headers=headers, timeout=10)
        except requests.RequestException:
            return  # the server went away: this one was never acknowledged
        if answer.status_code == 200 and answer.json()["result"]["code"] == 181:
            acknowledged.append(n)


def journaled_numbers(mock: MockProcess) -> list[int]:
    entries = mock.journal(call="connector-post-status")
    return [int(e["request_body"]["connector-post-status"]["connector-id"][8:]) for e in entries]


def test_every_request_from_eight_threads_is_in_the_journal(emp: MockProcess) -> None:
    acknowledged: list[int] = []
    chunks = [range(i, REQUESTS, THREADS) for i in range(THREADS)]
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda chunk: send_all(emp, chunk, acknowledged), chunks))
    assert sorted(acknowledged) == list(range(REQUESTS))
    journaled = journaled_numbers(emp)
    assert sorted(journaled) == list(range(REQUESTS))
    assert len(journaled) == len(set(journaled))


def test_sigkill_mid_load_loses_no_acknowledged_exchange(tmp_path: Path) -> None:
    db = tmp_path / "killed.sqlite3"
    mock = MockProcess("emp", db, EMP_KEY).start()
    acknowledged: list[int] = []
    stop = threading.Event()
    workers = [threading.Thread(target=send_all, args=(mock, range(i, 100_000, 4), acknowledged, stop))
               for i in range(4)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    mock.kill()  # SIGKILL to the arbiter and its worker, mid-load
    stop.set()
    for worker in workers:
        worker.join(timeout=30)
    assert len(acknowledged) >= 300
    again = MockProcess("emp", db, EMP_KEY, port=0).start()
    try:
        journaled = set(journaled_numbers(again))
        assert set(acknowledged) <= journaled, f"{len(set(acknowledged) - journaled)} acknowledged exchanges lost"
        again.post(status_message(999_999))
        assert 999_999 in journaled_numbers(again), "the restarted mock journals into the same file"
    finally:
        again.kill()


def test_the_journal_filters_by_call_exchange_and_since(emp: MockProcess) -> None:
    emp.post({"rfid-verify": {"rfid": "04523022AA4881"}})
    first = emp.journal()[-1]["id"]
    emp.post(status_message(1))
    emp.post({"rfid-verify": {"rfid": "0477BD22AA4880"}})
    assert [e["call"] for e in emp.journal(since=first)] == ["connector-post-status", "rfid-verify"]
    assert [e["result_code"] for e in emp.journal(call="rfid-verify")] == [0, 192]
    assert emp.journal(exchange="outbound") == []
    entry = emp.journal(call="rfid-verify")[0]
    assert entry["status"] == 200 and entry["latency_ms"] > 0 and entry["time"].endswith("+00:00")
    answer = requests.get(emp.url + "/admin/journal", params={"exchange": "sideways"}, timeout=10)
    assert answer.status_code == 400 and "exchange" in answer.json()["error"]


def test_the_exported_journal_is_read_by_oioi_validate(emp: MockProcess) -> None:
    emp.post({"rfid-verify": {"rfid": "04523022AA4881"}})
    emp.post({"rfid-verify": {"rfid": "04523022aa4881"}})  # refused: lower-case UID
    emp.post({"rfid-verify": {"rfid": "04523022AA4881"}}, key="not-a-key-of-this-mock")  # refused: 401
    out, err = io.StringIO(), io.StringIO()
    assert run(["mock", "journal", "--db", str(emp.db), "--format", "jsonl"], out, err) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["direction"], line.get("status")) for line in lines] == [
        ("request", None), ("response", 200), ("request", None), ("response", 400),
        ("request", None), ("response", 401)]
    assert EMP_KEY not in out.getvalue()
    export = emp.db.parent / "export.jsonl"
    export.write_text(out.getvalue())
    out, err = io.StringIO(), io.StringIO()
    code = run(["validate", "--format", "json", str(export)], out, err)
    verdicts = [json.loads(line) for line in out.getvalue().splitlines()]
    assert code == 1, err.getvalue()
    assert [(v["call"], v["direction"], v["valid"]) for v in verdicts] == [
        ("rfid-verify", "request", True), ("rfid-verify", "response", True),
        ("rfid-verify", "request", False), ("rfid-verify", "response", True),
        ("rfid-verify", "request", True), ("rfid-verify", "response", True)]
    assert verdicts[2]["findings"][0]["path"] == "/rfid-verify/rfid"


def test_journal_export_of_a_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run(["mock", "journal", "--db", str(tmp_path / "nope.sqlite3")], out, err) == 2
    assert err.getvalue().count("\n") == 1 and "does not exist" in err.getvalue()
    not_a_db = tmp_path / "text.sqlite3"
    not_a_db.write_text("hello")
    err = io.StringIO()
    assert run(["mock", "journal", "--db", str(not_a_db)], out, err) == 2
    assert "not a mock journal" in err.getvalue()
