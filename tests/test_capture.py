"""`oioi.capture`: a journal (SQLite), its jsonl/json export and a HAR file, each read as journal entries."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest

from mock_server import cli as mock_cli
from mock_server._store import Store
from oioi import capture
from oioi.errors import InputError

KEY = "a39ff3fb-fe0a-40a3-bdde-df6372c07c89"
VERIFY = {"rfid-verify": {"rfid": "04523022AA4881"}}
OK = {"result": {"code": 0, "message": "Success."}}
STATUS = {"connector-post-status": {"connector-id": "DE*8PS*E000001*1", "status": "Available",
                                    "partner-identifier": "partner-1"}}
UNKNOWN = {"result": {"code": 181, "message": "Unknown connector."}}


def journal_file(tmp_path: Path) -> Path:
    """A journal the real mock store wrote: two answered exchanges and one request that is not JSON."""
    path = tmp_path / "journal.sqlite3"
    store = Store(str(path))
    with store.write() as db:
        store.record(db, {"exchange": "inbound", "call": "rfid-verify",
                          "request_headers": {"Authorization": f"key={KEY}"}, "request_body": json.dumps(VERIFY),
                          "status": 200, "response_body": json.dumps(OK),
                          "result_code": 0, "latency_ms": 1.5})
        store.record(db, {"exchange": "outbound", "call": "connector-post-status", "request_body": json.dumps(STATUS),
                          "status": 200, "response_body": json.dumps(UNKNOWN), "result_code": 181,
                          "findings": [{"severity": "error", "path": "", "rule": "x/y", "message": "m", "spec": "s"}]})
        store.record(db, {"exchange": "inbound", "call": None, "request_body": "{not json", "status": 400,
                          "response_body": json.dumps({"result": {"code": 230, "message": "Bad request."}}),
                          "result_code": 230})
    store.close()
    return path


def export(db: Path, output_format: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert mock_cli.run(["journal", "--db", str(db), "--format", output_format], out, err) == 0, err.getvalue()
    return out.getvalue()


def test_a_journal_file_reads_as_the_mock_reads_it(tmp_path: Path) -> None:
    path = journal_file(tmp_path)
    entries = capture.read(path)
    store = Store(str(path), create=False)
    assert [{**e, "peer": None} for e in store.journal()] == entries
    assert [e["call"] for e in entries] == ["rfid-verify", "connector-post-status", None]
    assert entries[0]["request_body"] == VERIFY and entries[0]["response_body"] == OK
    assert entries[0]["request_headers"] == {"Authorization": "key=" + "*" * 32 + "7c89"}
    assert entries[1]["findings"][0]["rule"] == "x/y" and entries[1]["result_code"] == 181
    assert entries[2]["request_body"] == "{not json"  # kept as the text on the wire
    assert all(e["peer"] is None for e in entries)


def test_a_journal_row_with_a_peer_keeps_it() -> None:
    row = {"id": 3, "request_headers": "{}", "findings": "[]", "fault": None, "request_body": json.dumps(VERIFY),
           "response_body": None, "peer": "cpo"}
    entry = capture.journal_entry(row)
    assert (entry["peer"], entry["request_body"], entry["response_body"]) == ("cpo", VERIFY, None)


@pytest.mark.parametrize("output_format", ["jsonl", "json"])
def test_a_journal_export_reads_as_its_journal(tmp_path: Path, output_format: str) -> None:
    db = journal_file(tmp_path)
    path = tmp_path / f"export.{output_format}"
    path.write_text(export(db, output_format))
    entries = capture.read(path)
    original = capture.read(db)
    keys = ("id", "time", "exchange", "call", "request_body", "status", "response_body", "result_code")
    assert [{k: e[k] for k in keys} for e in entries] == [{k: e[k] for k in keys} for e in original]
    assert all(e["peer"] is None and isinstance(e["latency_ms"], float) for e in entries)


def har_entry(method: str, url: str, body: str | None, status: int, answer: str, **content: Any) -> dict[str, Any]:
    request: dict[str, Any] = {"method": method, "url": url, "httpVersion": "HTTP/1.1",
                               "headers": [{"name": "Authorization", "value": f"key={KEY}"},
                                           {"name": "Content-Type", "value": "application/json"},
                                           {"name": ":authority", "value": "cpo.example.com"}]}
    if body is not None:
        request["postData"] = {"mimeType": "application/json", "text": body}
    return {"startedDateTime": "2026-12-07T10:00:00.000Z", "time": 12.5, "request": request,
            "response": {"status": status, "headers": [], "content": {"mimeType": "application/json",
                                                                      "text": answer, **content}}}


def har_file(tmp_path: Path, entries: list[dict[str, Any]]) -> Path:
    path = tmp_path / "traffic.har"
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "test", "version": "1"},
                                        "entries": entries}}))
    return path


def test_a_har_file_gives_its_oioi_posts_and_skips_the_rest(tmp_path: Path) -> None:
    url = "https://emp.example.com/api/v4/request"
    encoded = base64.b64encode(json.dumps(UNKNOWN).encode()).decode()
    path = har_file(tmp_path, [
        har_entry("GET", "https://emp.example.com/", None, 200, "<html></html>"),
        har_entry("POST", url, json.dumps(VERIFY), 200, json.dumps(OK)),
        har_entry("POST", "https://emp.example.com/login", '{"user": "x"}', 200, "{}"),
        har_entry("POST", "https://emp.example.com/oioi", json.dumps(STATUS), 200, encoded, encoding="base64"),
        har_entry("POST", url, "{broken", 400, '{"result": {"code": 230, "message": "Bad request."}}'),
        har_entry("POST", url, json.dumps(VERIFY), 0, ""),
    ])
    loaded = capture.load(path)
    assert (loaded.kind, loaded.skipped) == ("har", 2)
    first, second, broken, unanswered = loaded.entries
    assert [e["id"] for e in loaded.entries] == [2, 4, 5, 6]  # the position in log.entries
    assert (first["call"], first["request_body"], first["status"], first["response_body"]) == (
        "rfid-verify", VERIFY, 200, OK)
    assert first["request_headers"] == {"Authorization": "key=" + "*" * 32 + "7c89", "Content-Type": "application/json"}
    assert (first["time"], first["latency_ms"], first["exchange"], first["peer"]) == (
        "2026-12-07T10:00:00.000Z", 12.5, "inbound", None)
    assert (second["call"], second["response_body"], second["result_code"]) == ("connector-post-status", UNKNOWN, 181)
    assert (broken["call"], broken["request_body"], broken["status"]) == (None, "{broken", 400)
    assert (unanswered["status"], unanswered["response_body"]) == (None, None)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.txt", b"just some text\n"),
        ("data.json", b'{"station-post": {}}'),
        ("lines.jsonl", b'{"journal": 1, "direction": "request", "body": {}}\n{"rfid-verify": {}}\n'),
        ("broken.har", b'{"log": '),
    ],
)
def test_anything_else_is_one_sentence_naming_the_formats(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as raised:
        capture.read(path)
    text = str(raised.value)
    assert "HAR file" in text and "journal" in text and text.count(". ") == 0 and text.endswith(".")


def test_a_sqlite_file_without_a_journal_is_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "other.sqlite3"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(InputError, match="not a mock or proxy journal"):
        capture.read(path)


def test_a_missing_file_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        capture.read(tmp_path / "nothing.har")


def test_a_har_body_it_did_not_record_is_none_not_empty(tmp_path: Path) -> None:
    url = "https://emp.example.com/api/v4/request"
    unrecorded = har_entry("POST", url, json.dumps(VERIFY), 200, "", size=120)
    encoded_post = har_entry("POST", url, None, 200, json.dumps(OK))
    encoded_post["request"]["postData"] = {"mimeType": "application/json", "encoding": "base64",
                                           "text": base64.b64encode(json.dumps(VERIFY).encode()).decode()}
    empty = har_entry("POST", url, json.dumps(VERIFY), 200, "", size=0)
    first, second, third = capture.read(har_file(tmp_path, [unrecorded, encoded_post, empty]))
    assert (first["status"], first["response_body"]) == (200, None)
    assert (second["call"], second["request_body"]) == ("rfid-verify", VERIFY)
    assert third["response_body"] == ""


@pytest.mark.parametrize("output_format", ["jsonl", "json"])
def test_a_proxy_journals_peer_survives_its_export(tmp_path: Path, output_format: str) -> None:
    """Who sent each request through the proxy (peer) is in the export, and read back from it."""
    path = tmp_path / "proxy.sqlite3"
    store = Store(str(path))
    with store.write() as db:
        store.record(db, {"exchange": "inbound", "call": "rfid-verify", "request_body": json.dumps(VERIFY),
                          "status": 200, "response_body": json.dumps(OK), "result_code": 0, "peer": "cpo"})
    store.close()
    exported = tmp_path / f"export.{output_format}"
    exported.write_text(export(path, output_format))
    assert [e["peer"] for e in capture.read(exported)] == ["cpo"]
