"""oioi validate on the command line: inputs, formats and exit codes."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from oioi.cli import run


def oioi(*argv: str, stdin: str | bytes = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    raw = stdin if isinstance(stdin, bytes) else stdin.encode()
    stream = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8")
    code = run(list(argv), out, err, stream)
    return code, out.getvalue(), err.getvalue()


def jsonl(path: Path, *lines: Any) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


@pytest.fixture
def mixed_log(tmp_path: Path, station_post_request: dict[str, Any], session_post_request: dict[str, Any]) -> Path:
    broken_station = json.loads(json.dumps(station_post_request))
    del broken_station["station-post"]["station"]["address"]["zip"]
    broken_rfid = {"rfid-verify": {"rfid": "04523022aa4881"}}
    response = {
        "call": "rfid-verify",
        "direction": "response",
        "body": {"evco-id": "DE*8PS*123456*7", "result": {"code": "0", "message": "Success."}},
    }
    return jsonl(
        tmp_path / "capture.jsonl", station_post_request, broken_station, session_post_request, broken_rfid, response
    )


def test_valid_file_exits_0(tmp_path: Path, station_post_request: dict[str, Any]) -> None:
    path = tmp_path / "station.json"
    path.write_text(json.dumps(station_post_request, indent=2))
    code, out, err = oioi("validate", str(path))
    assert (code, err) == (0, "")
    assert out == "1 message: 1 valid, 0 invalid (0 errors, 0 warnings)\n"


def test_mixed_log_names_each_broken_field(mixed_log: Path) -> None:
    code, out, _err = oioi("validate", str(mixed_log))
    assert code == 1
    assert f"{mixed_log}:2: station-post request: 1 error" in out
    assert "error at /station-post/station/address/zip (schema/required" in out
    assert f"{mixed_log}:4: rfid-verify request: 1 error" in out
    assert "error at /rfid-verify/rfid (schema/pattern" in out
    assert f"{mixed_log}:5: rfid-verify response: 1 error" in out
    assert "error at /result/code (schema/type" in out
    assert f"{mixed_log}:1:" not in out and f"{mixed_log}:3:" not in out
    assert out.endswith("5 messages: 2 valid, 3 invalid (3 errors, 0 warnings)\n")


def test_json_format_is_one_object_per_message(mixed_log: Path) -> None:
    code, out, _err = oioi("validate", "--format", "json", str(mixed_log))
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert [r["valid"] for r in records] == [True, False, True, False, False]
    assert [r["source"] for r in records] == [f"{mixed_log}:{n}" for n in range(1, 6)]
    assert [r["call"] for r in records] == [
        "station-post",
        "station-post",
        "session-post",
        "rfid-verify",
        "rfid-verify",
    ]
    assert records[4]["direction"] == "response"
    [finding] = records[1]["findings"]
    assert set(finding) == {"severity", "path", "rule", "message", "spec"}
    assert finding["path"] == "/station-post/station/address/zip"


@pytest.fixture
def misspelt_station(tmp_path: Path, station_post_request: dict[str, Any]) -> Path:
    """A station-post whose station has 'adress' instead of 'address'."""
    station = station_post_request["station-post"]["station"]
    station["adress"] = station.pop("address")
    path = tmp_path / "station.json"
    path.write_text(json.dumps(station_post_request, indent=2))
    return path


def test_missing_field_carries_the_hint_to_its_misspelling(misspelt_station: Path) -> None:
    code, out, err = oioi("validate", str(misspelt_station))
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines[1:5] == [
        "  error at /station-post/station/address (schema/required; calls/station_post.rst)",
        "    Received: no field 'address'",
        "    Expected: field 'address', which the spec's field description requires here",
        "    Did you mean 'address'? The object has 'adress'; rename it to 'address'.",
    ]
    assert lines[5] == "  warning at /station-post/station/adress (schema/unknown-field; calls/station_post.rst)"
    assert out.endswith("1 message: 0 valid, 1 invalid (1 error, 1 warning)\n")


def test_json_format_puts_the_hint_on_the_first_finding(misspelt_station: Path) -> None:
    code, out, _err = oioi("validate", "--format", "json", str(misspelt_station))
    [record] = [json.loads(line) for line in out.splitlines()]
    first, second = record["findings"]
    assert code == 1
    assert (first["severity"], first["rule"], first["path"]) == (
        "error",
        "schema/required",
        "/station-post/station/address",
    )
    assert first["message"].endswith("\nDid you mean 'address'? The object has 'adress'; rename it to 'address'.")
    assert set(first) == {"severity", "path", "rule", "message", "spec"}
    assert (second["rule"], second["path"]) == ("schema/unknown-field", "/station-post/station/adress")


def test_installed_command_puts_the_hint_on_the_first_finding(misspelt_station: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "oioi_cli", "validate", str(misspelt_station)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (1, "")
    first = done.stdout.split("\n  warning at ")[0]
    assert "error at /station-post/station/address (schema/required" in first
    assert "Did you mean 'address'? The object has 'adress'" in first


def test_stdin_and_lenient_profile(station_post_request: dict[str, Any]) -> None:
    station_post_request["station-post"]["partner-identifier"] = "1"
    line = json.dumps(station_post_request)
    assert oioi("validate", "-", stdin=line)[0] == 1
    code, out, _err = oioi("validate", "--profile", "lenient", "-", stdin=line)
    assert code == 0
    assert "[erratum station-post:partner-identifier-short]" in out


def test_bare_response_needs_call(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "responses.jsonl", {"evco-id": "DE*8PS*123456*7", "result": {"code": 0,
                                                                                          "message": "Success."}})
    code, out, _err = oioi("validate", "--direction", "response", str(path))
    assert code == 1
    assert "message/call-unknown" in out
    assert oioi("validate", "--direction", "response", "--call", "station-post", str(path))[0] == 0


def test_line_that_is_not_json_is_a_finding(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "log.jsonl", '{"rfid-verify": {"rfid": "04523022AA4881"}}', "{not json")
    code, out, _err = oioi("validate", str(path))
    assert code == 1
    assert f"{path}:2: ? request: 1 error" in out
    assert "message/json" in out


def test_line_that_is_not_utf8_is_a_finding(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes('{"user-reset": {"identifier": "jürgen"}}\n'.encode("latin-1"))
    code, out, _err = oioi("validate", str(path))
    assert code == 1
    assert "message/utf-8" in out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["validate", "missing.jsonl"], "no such file"),
        (["validate", "--call", "sesion-start", "x.json"], "did you mean 'session-start'?"),
        (["validate", "--profile", "loose", "x.json"], "invalid choice: 'loose'"),
        (["validate"], "the following arguments are required: PATH"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(argv: list[str], says: str) -> None:
    code, out, err = oioi(*argv)
    assert (code, out) == (2, "")
    assert says in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_folder_is_a_usage_error(tmp_path: Path) -> None:
    code, _out, err = oioi("validate", str(tmp_path))
    assert code == 2
    assert "is a folder" in err


def test_version() -> None:
    code, out, _err = oioi("--version")
    assert code == 0
    assert "OIOI 4.19.0" in out


@pytest.mark.parametrize(
    ("secret", "shown"), [("", ""), ("abcd", "****"), ("abcde", "*bcde"), ("demo-key-0001", "*********0001")]
)
def test_mask_shows_only_the_last_four_characters(secret: str, shown: str) -> None:
    """The one mask every log, journal and report uses (oioi.mask)."""
    from oioi import mask

    assert mask(secret) == shown


def test_ctrl_c_is_one_line_and_status_130() -> None:
    """Ctrl-C while ``oioi validate -`` reads its input: no traceback."""
    with subprocess.Popen([sys.executable, "-m", "oioi_cli", "validate", "-"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"}) as reading:
        try:
            syscall, deadline = Path(f"/proc/{reading.pid}/syscall"), time.monotonic() + 30
            while syscall.read_text(encoding="utf-8").split()[:2] != ["0", "0x0"] and time.monotonic() < deadline:
                time.sleep(0.05)  # until it is blocked in read(0, …): reading its standard input (Linux)
            reading.send_signal(signal.SIGINT)
            out, err = reading.communicate(timeout=30)
        finally:
            reading.kill()
    assert (reading.returncode, err) == (130, "oioi: interrupted.\n"), out + err
