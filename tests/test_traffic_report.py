"""``oioi report``: report.json and report.html of traffic a real mock journaled, redaction, and its exit codes."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any

import pytest

from conformance import report_cli
from conformance._traffic_report import build, render
from mock_server import cli as mock_cli
from mock_server.client import RunningMock, start
from mock_server.seed import ACTIVE_EVCO_ID, ACTIVE_UID
from oioi.capture import curl
from oioi.cli import command, new_parser
from tests.test_report_html import Tree

KEY = "report-test-key-5f3a9c"
PARTNER = "c0ffee00-1234-4abc-9def-0123456789ab"
POSTED = "DE*8PS*E123456"
NEVER_POSTED = "DE*8PS*E999999"
STATION = {
    "id": "station-berlin-0001", "name": "Parkhaus Mitte", "latitude": 52.520008, "longitude": 13.404954,
    "address": {"street": "Torgauer Str.", "street-number": "12-15", "city": "Berlin", "zip": "10829",
                "country": "DE"},
    "contact": {"phone": "+49 30 8122321"}, "cpo-id": "DE*8PS", "is-open-24": True,
    "connectors": [{"id": POSTED, "name": "Type2", "speed": 22.0}],
    "deleted": False,
}
STATUS_RULE = "conversation/status-for-posted-connector"  # a status for a connector never posted (cpo/poi.rst)
INVALID_RULE = "schema/pattern"  # an RFID UID in lower case (calls/rfid_verify.rst)
NEGATIVE_ENERGY = {"session-post": {
    "user": {"identifier-type": "evco-id", "identifier": ACTIVE_EVCO_ID},
    "session-id": "9d1c7c2e-5f5e-4c1e-9a43-2b2f0b1d7e11", "connector-id": POSTED,
    "session-interval": {"start": "2026-11-02T11:00:00+01:00", "stop": "2026-11-02T17:00:00+01:00"},
    "charging-interval": {"start": "2026-11-02T11:05:00+01:00", "stop": "2026-11-02T16:00:00+01:00"},
    "energy-consumed": -16.5, "partner-identifier": PARTNER}}


def _status(connector: str) -> dict[str, Any]:
    return {"connector-post-status": {"connector-id": connector, "status": "Available", "partner-identifier": PARTNER}}


def _mock(db: Path) -> RunningMock:
    return start("emp", api_key=KEY, db=db, options={"partner-identifier": PARTNER})


def _clean_traffic(mock: RunningMock) -> None:
    """What a correct CPO sends: its station, the status of its connector, a verification of a known UID."""
    assert mock.post({"station-post": {"station": STATION, "partner-identifier": PARTNER}}).status_code == 200
    assert mock.post(_status(POSTED)).json()["result"]["code"] == 0
    assert mock.post({"rfid-verify": {"rfid": ACTIVE_UID}}).json()["evco-id"] == ACTIVE_EVCO_ID


@pytest.fixture(scope="module")
def journals(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Two journals the real mock EMP wrote: clean traffic, and the same with two faults of the CPO."""
    folder = tmp_path_factory.mktemp("journals")
    paths = {"clean": folder / "clean.sqlite3", "faulty": folder / "faulty.sqlite3"}
    for name, path in paths.items():
        mock = _mock(path)
        try:
            _clean_traffic(mock)
            if name == "faulty":
                # a status for a connector no station-post announced (cpo/poi.rst): a fault across messages
                assert mock.post(_status(NEVER_POSTED)).json()["result"]["code"] == 181
                # an RFID UID in lower case (calls/rfid_verify.rst): a fault within one message
                assert mock.post({"rfid-verify": {"rfid": ACTIVE_UID.lower()}}).status_code == 400
                # a CDR of a customer's EVCO ID with negative energy (calls/session_post.rst)
                assert mock.post(NEGATIVE_ENERGY).status_code == 400
        finally:
            mock.stop()
    yield paths


def report(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    parser, commands = new_parser("oioi", "test")
    report_cli.add_parser(commands)
    out, err = io.StringIO(), io.StringIO()
    return command(parser, ["report", *argv], out, err), out.getvalue(), err.getvalue()


def _files(directory: Path) -> tuple[dict[str, Any], str]:
    return json.loads((directory / "report.json").read_text()), (directory / "report.html").read_text()


def test_faulty_traffic_names_both_rules_with_their_messages(journals: dict[str, Path], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OIOI_API_KEY", KEY)
    code, out, err = report("--db", str(journals["faulty"]), "--report-dir", str(tmp_path))
    assert (code, err) == (1, "")
    data, page = _files(tmp_path)
    rules = {r["rule"]: r for r in data["findings"]}
    assert INVALID_RULE in rules, rules.keys()
    assert STATUS_RULE in rules, rules.keys()
    (offence,) = rules[STATUS_RULE]["messages"]
    assert "pushed by the same partner" in rules[STATUS_RULE]["spec"]["sentence"]
    assert offence["call"] == "connector-post-status"
    assert offence["request"]["body"]["connector-post-status"]["connector-id"] == NEVER_POSTED
    (invalid,) = rules[INVALID_RULE]["messages"]
    assert invalid["request"]["body"] == {"rfid-verify": {"rfid": ACTIVE_UID.lower()}}
    assert invalid["response"]["status"] == 400 and invalid["path"] == "/rfid-verify/rfid"
    assert "upper-case" in rules[INVALID_RULE]["spec"]["sentence"]
    assert rules[INVALID_RULE]["spec"]["file"] == "calls/rfid_verify.rst"
    for rule in (INVALID_RULE, STATUS_RULE):
        assert rule in page and escape(rules[rule]["messages"][0]["message"].splitlines()[0]) in page
        assert '"Authorization: key=$OIOI_API_KEY"' in rules[rule]["messages"][0]["curl"]
    assert "curl -sS" in page and NEVER_POSTED in page
    assert Tree(page).errors == [] and "<script src" not in page and "<link" not in page  # one self-contained page
    assert KEY not in json.dumps(data) and KEY not in page and KEY not in out
    assert f"{INVALID_RULE} (calls/rfid_verify.rst): 1 message" in out


def test_the_report_counts_messages_per_partner_and_call(journals: dict[str, Path], tmp_path: Path) -> None:
    assert report("--db", str(journals["faulty"]), "--report-dir", str(tmp_path))[0] == 1
    data, page = _files(tmp_path)
    (partner,) = data["partners"]
    calls = {c["call"]: c for c in partner["calls"]}
    assert partner["peer"] is None
    assert calls["connector-post-status"] == {"call": "connector-post-status", "requests": 2, "answers": 2,
                                              "status": {"2xx": 2}}
    assert calls["rfid-verify"]["status"] == {"2xx": 1, "4xx": 1}
    assert calls["session-post"]["status"] == {"4xx": 1}
    assert data["summary"]["messages"] == 6 and data["spec"]["version"] and data["tool"]["version"]
    assert "Messages per partner and call" in page


def test_clean_traffic_has_no_finding(journals: dict[str, Path], tmp_path: Path) -> None:
    code, out, err = report("--db", str(journals["clean"]), "--report-dir", str(tmp_path))
    data, page = _files(tmp_path)
    assert (code, err, data["findings"], data["verdict"]) == (0, "", [], "pass")
    assert "No message broke a rule." in page and "PASS" in out
    assert "0 errors, 0 warnings of 0 rules." in out.splitlines()[-1]


def test_redacted_report_has_no_uid_or_evco_id_of_the_original(journals: dict[str, Path], tmp_path: Path) -> None:
    plain, redacted = tmp_path / "plain", tmp_path / "redacted"
    report("--db", str(journals["faulty"]), "--report-dir", str(plain))
    code, _, err = report("--db", str(journals["faulty"]), "--report-dir", str(redacted), "--redact")
    assert (code, err) == (1, "")
    for text in (json.dumps(_files(plain)[0], ensure_ascii=False), _files(plain)[1]):
        assert ACTIVE_UID.lower() in text and ACTIVE_EVCO_ID in text  # the offending messages carry both
    for text in (json.dumps(_files(redacted)[0], ensure_ascii=False), _files(redacted)[1]):
        for original in (ACTIVE_UID, ACTIVE_UID.lower(), ACTIVE_EVCO_ID):
            assert original not in text, original
    data, _ = _files(redacted)
    assert data["redacted"] is True
    assert {r["rule"] for r in data["findings"]} == {r["rule"] for r in _files(plain)[0]["findings"]}


def test_a_journal_export_is_read_as_capture_and_judged_the_same(journals: dict[str, Path], tmp_path: Path) -> None:
    """``oioi mock journal --format jsonl`` keeps no headers and no findings: the report judges it afresh."""
    export = tmp_path / "journal.jsonl"
    out = io.StringIO()
    assert mock_cli.run(["journal", "--db", str(journals["faulty"])], out, io.StringIO()) == 0
    export.write_text(out.getvalue())
    code, _, err = report(str(export), "--report-dir", str(tmp_path / "export"), "--url", "http://127.0.0.1:9/x")
    assert (code, err) == (1, "")
    exported, _ = _files(tmp_path / "export")
    report("--db", str(journals["faulty"]), "--report-dir", str(tmp_path / "db"))
    journaled, _ = _files(tmp_path / "db")
    assert [(r["rule"], r["count"]) for r in exported["findings"]] == [(r["rule"], r["count"]) for r in
                                                                       journaled["findings"]]
    first = exported["findings"][0]["messages"][0]["curl"]
    assert "http://127.0.0.1:9/x" in first and '"Authorization: key=$OIOI_API_KEY"' in first


@pytest.mark.parametrize("content", [b"not a capture at all\n", b"SQLite format 3\x00" + b"\x00" * 200])
def test_an_unreadable_capture_is_one_sentence_and_exit_2(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "journal.sqlite3"
    bad.write_bytes(content)
    code, out, err = report("--db", str(bad), "--report-dir", str(tmp_path / "out"))
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv", [(), ("a.jsonl", "--db", "b.sqlite3")])
def test_exactly_one_capture_is_asked_for(argv: tuple[str, ...]) -> None:
    code, _, err = report(*argv)
    assert code == 2 and "--db PATH, or one CAPTURE" in err and err.count("\n") == 1


def test_an_imported_log_without_findings_is_judged_afresh() -> None:
    """A HAR or export has no findings of a mock: the report's own validation finds the invalid message."""
    entry = {"id": 7, "time": "2026-12-07T10:00:00Z", "exchange": "inbound", "call": "rfid-verify",
             "request_headers": {"Authorization": f"key={KEY}", "Content-Type": "application/json",
                                 "Content-Length": "33", "Host": "proxy:8080"},
             "request_body": {"rfid-verify": {"rfid": "abc"}}, "status": 200,
             "response_body": {"result": {"code": 0}}, "findings": [], "peer": "cpo"}
    data = build([entry], source="ticket.har")
    rules = {r["rule"]: r for r in data["findings"]}
    assert INVALID_RULE in rules and "schema/required" in rules  # the request's UID, the answer's result message
    assert {m["direction"] for r in rules.values() for m in r["messages"]} == {"request", "response"}
    command_line = curl(entry)
    assert KEY not in command_line and "Content-Length" not in command_line and '"$OIOI_URL"' in command_line
    assert KEY not in json.dumps(data) and KEY not in render(data)


def test_a_stored_finding_counts_once_with_the_fresh_one() -> None:
    entry = {"id": 1, "exchange": "inbound", "call": "rfid-verify", "request_body": {"rfid-verify": {"rfid": "abc"}},
             "status": None, "response_body": None,
             "findings": [{"severity": "error", "path": "/rfid-verify/rfid", "rule": INVALID_RULE,
                           "message": "Received: 'abc'", "spec": "calls/rfid_verify.rst"},
                          {"severity": "error", "path": "", "rule": "mock/internal-error", "message": "boom",
                           "spec": "request.rst"}]}
    data = build([entry], source="x")
    assert {r["rule"]: r["count"] for r in data["findings"]} == {INVALID_RULE: 1, "mock/internal-error": 1}


def test_partners_are_told_apart_by_peer_and_a_warning_alone_passes() -> None:
    def entry(peer: str | None, call: str, status: int | None) -> dict[str, Any]:
        return {"exchange": "inbound", "call": call, "request_body": {call: {"rfid": ACTIVE_UID}}, "status": status,
                "response_body": None, "peer": peer,
                "findings": [{"severity": "warning", "path": "/x", "rule": "proxy/slow", "message": "m", "spec": "s"}]}

    traffic = [entry("cpo", "rfid-verify", 200), entry("emp", "rfid-verify", None), entry("cpo", "rfid-verify", 503)]
    data = build(traffic, source="x")
    assert [(p["peer"], p["calls"][0]["requests"], p["calls"][0]["status"]) for p in data["partners"]] == [
        ("cpo", 2, {"2xx": 1, "5xx": 1}), ("emp", 1, {"none": 1})]
    assert (data["verdict"], data["summary"]["warnings"], data["summary"]["errors"]) == ("pass", 3, 0)


def test_a_report_folder_that_cannot_be_written_is_one_sentence(journals: dict[str, Path], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, out, err = report("--db", str(journals["clean"]), "--report-dir", str(blocker / "reports"))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("oioi report: cannot write the reports to")
