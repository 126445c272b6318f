"""`oioi validate` on logs as they come: HAR files, journals and their exports, OIOI v3 answers, bare envelopes."""

from __future__ import annotations

import base64
import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from oioi import validate
from oioi.cli import run
from oioi.errors import ConfigError
from tests.test_capture import OK, VERIFY, export, har_entry, har_file, journal_file

ROOT = Path(__file__).resolve().parent.parent
URL = "https://emp.example.com/api/v4/request"
LOWER_UID = {"rfid-verify": {"rfid": "04523022aa4881"}}  # rfid_verify.rst: upper-case hexadecimal
V3_START = {"session-start": {"success": True, "session-id": "2b0c6f1e-0d1a-4b7e-9f55-3c1d9f1b8a77"}}


def python_m_oioi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "oioi", "validate", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)


def oioi(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["validate", *args], out, err)
    return code, out.getvalue(), err.getvalue()


# --- OIOI v3: one finding per message, wherever its success flag sits --------------------------------


@pytest.mark.parametrize("call", ["session-start", None])
def test_a_nested_v3_success_flag_is_one_finding(call: str | None) -> None:
    (finding,) = validate(V3_START, call=call, direction="response")
    assert (finding.rule, finding.path, finding.spec) == ("message/oioi-v3", "/session-start/success", "request.rst")
    assert "This is OIOI v3:" in finding.message and "'result'" in finding.message


@pytest.mark.parametrize("status", [None, 200, 400])
def test_a_top_level_v3_success_flag_is_one_finding(status: int | None) -> None:
    v3_answer = {"success": False, "message": "Unknown RFID.", "code": 140}
    (finding,) = validate(v3_answer, call="rfid-verify", direction="response", status=status)
    assert (finding.rule, finding.path) == ("message/oioi-v3", "/success")
    assert "This is OIOI v3:" in finding.message


def test_the_specs_own_nested_example_is_judged_by_its_errata_not_as_v3() -> None:
    """user_unblock_rfid.rst's v4 example answers {"user-unblock-rfid": {"success": true}}: an erratum, not v3."""
    example = {"user-unblock-rfid": {"success": True}}
    lenient = validate(example, call="user-unblock-rfid", direction="response", profile="lenient")
    assert [f for f in lenient if f.severity == "error"] == [] and all(f.erratum for f in lenient)
    strict = validate(example, call="user-unblock-rfid", direction="response")
    assert strict and all(f.erratum and f.rule != "message/oioi-v3" for f in strict)


def test_a_v4_answer_is_not_taken_for_v3() -> None:
    v4_start = {"session-start": {"session-id": "2b0c6f1e-0d1a-4b7e-9f55-3c1d9f1b8a77", "is-stoppable": True},
                "result": {"code": 0, "message": "Success."}}
    assert validate(v4_start, call="session-start", direction="response") == []
    flagged = {**V3_START, "result": {"code": 0, "message": "Success."}}  # a result: v4, its extra field judged as v4
    assert "message/oioi-v3" not in {f.rule for f in validate(flagged, call="session-start", direction="response")}


# --- a bare error envelope: request.rst's error answer, no --call needed -----------------------------


@pytest.mark.parametrize("envelope", [{"result": {"code": 0, "message": "Success."}},
                                      {"result": {"code": 230, "message": "Bad request."}, "error": ["rfid: pattern"]}])
def test_a_valid_bare_envelope_needs_no_call(envelope: dict[str, Any]) -> None:
    assert validate(envelope, direction="response") == []


def test_an_invalid_bare_envelope_is_judged_by_request_rst() -> None:
    findings = validate({"result": {"code": "230"}}, direction="response")
    assert {(f.rule, f.path, f.spec) for f in findings} == {
        ("schema/type", "/result/code", "request.rst"), ("schema/required", "/result/message", "request.rst")}


def test_an_answer_with_more_than_the_envelope_still_needs_its_call() -> None:
    with pytest.raises(ConfigError, match="pass it"):
        validate({"evco-id": "DE*8PS*123456*7", "result": {"code": 0, "message": "Success."}}, direction="response")


def test_oioi_validate_judges_bare_envelopes_and_v3_answers_without_call(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text(json.dumps({"result": {"code": 0, "message": "Success."}}) + "\n")
    bad.write_text(json.dumps({"result": {"code": 0}}) + "\n" + json.dumps(V3_START) + "\n")
    assert oioi("--direction", "response", str(good)) == (0, "1 message: 1 valid, 0 invalid (0 errors, 0 warnings)\n",
                                                          "")
    code, out, _err = oioi("--direction", "response", str(bad))
    assert code == 1 and "message/call-unknown" not in out
    assert f"{bad}:1: ? response: 1 error" in out and "/result/message (schema/required; request.rst)" in out
    assert f"{bad}:2: session-start response: 1 error" in out and "This is OIOI v3:" in out


# --- HAR files --------------------------------------------------------------------------------------------


def test_a_har_with_an_invalid_message_exits_1_naming_it(tmp_path: Path) -> None:
    encoded = base64.b64encode(json.dumps(OK).encode()).decode()
    path = har_file(tmp_path, [
        har_entry("GET", "https://emp.example.com/", None, 200, "<html></html>"),
        har_entry("POST", URL, json.dumps(VERIFY), 200, encoded, encoding="base64"),
        har_entry("POST", URL, json.dumps(LOWER_UID), 200, json.dumps(OK)),
    ])
    done = python_m_oioi(str(path))
    assert (done.returncode, done.stderr) == (1, "")
    assert f"{path}#3: rfid-verify request: 1 error" in done.stdout
    assert "error at /rfid-verify/rfid (schema/pattern; calls/rfid_verify.rst)" in done.stdout
    assert f"{path}#2" not in done.stdout  # valid both ways (its answer base64-encoded in the HAR)
    assert f"{path}: 1 HAR entry skipped" in done.stdout
    assert done.stdout.endswith("4 messages: 3 valid, 1 invalid (1 error, 0 warnings)\n")


def test_a_har_of_a_v3_partner_says_so_once_per_answer(tmp_path: Path) -> None:
    path = har_file(tmp_path, [har_entry("POST", URL, json.dumps({"session-start": {
        "user": {"identifier-type": "evco-id", "identifier": "DE*8PS*123456*7"}, "connector-id": "DE*8PS*E1*1"}}),
        200, json.dumps(V3_START))])
    code, out, _err = oioi("--format", "json", str(path))
    answer = [json.loads(line) for line in out.splitlines()][-1]
    assert code == 1
    assert (answer["source"], answer["direction"]) == (f"{path}#1", "response")
    assert [f["rule"] for f in answer["findings"]] == ["message/oioi-v3"]


def test_a_file_that_is_no_capture_is_one_sentence_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "traffic.har"
    path.write_text("this is not a HAR file\n")
    done = python_m_oioi(str(path))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.count("\n") == 1 and "HAR file" in done.stderr and "Traceback" not in done.stderr
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    code, _out, err = oioi(str(other))
    assert code == 2 and "not a mock or proxy journal" in err and err.count("\n") == 1


# --- journals and their exports ---------------------------------------------------------------------------


def test_a_journal_file_exits_1_naming_its_invalid_exchanges(tmp_path: Path) -> None:
    db = journal_file(tmp_path)
    done = python_m_oioi(str(db))
    assert (done.returncode, done.stderr) == (1, "")
    assert f"{db}#2: connector-post-status request: 1 error" in done.stdout  # partner-identifier too short
    assert f"{db}#3: ? request: 1 error" in done.stdout and "text that is not JSON: '{not json'" in done.stdout
    assert f"{db}#1" not in done.stdout
    assert done.stdout.endswith("6 messages: 4 valid, 2 invalid (2 errors, 0 warnings)\n")


@pytest.mark.parametrize("output_format", ["jsonl", "json"])
def test_a_journal_export_is_judged_as_its_journal(tmp_path: Path, output_format: str) -> None:
    db = journal_file(tmp_path)
    path = tmp_path / f"export.{output_format}"
    path.write_text(export(db, output_format))
    done = python_m_oioi("--format", "json", str(path))
    _code, out, _err = oioi("--format", "json", str(db))
    assert done.returncode == 1
    judged = [json.loads(line) for line in done.stdout.splitlines()]
    original = [json.loads(line) for line in out.splitlines()]
    assert [r["source"].replace(str(path), "FILE") for r in judged] == [
        r["source"].replace(str(db), "FILE") for r in original]
    assert [(r["call"], r["direction"], r["valid"], r["findings"]) for r in judged] == [
        (r["call"], r["direction"], r["valid"], r["findings"]) for r in original]


def test_an_answer_the_har_did_not_record_is_not_judged(tmp_path: Path) -> None:
    path = har_file(tmp_path, [har_entry("POST", URL, json.dumps(VERIFY), 200, "", size=120),
                               har_entry("POST", URL, json.dumps(VERIFY), 200, "", size=0)])
    code, out, _err = oioi(str(path))
    assert code == 1
    assert f"{path}#1" not in out
    assert f"{path}#2: rfid-verify response: 1 error" in out and "Received: an empty body" in out
    assert out.endswith("3 messages: 2 valid, 1 invalid (1 error, 0 warnings)\n")
