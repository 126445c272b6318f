"""``oioi certify`` and ``oioi demo`` as a user runs them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oioi_cli import run
from tests.fixtures.mock import EMP_KEY, PARTNER, MockProcess
from tests.fixtures.references import REFERENCE_KEY

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["certify", "cpo", "--url", "http://127.0.0.1:9/api/v4/request"], "No API key"),
        (["certify", "cpo", "--url", "ftp://x", "--api-key", "k"], "is not an http(s) URL"),
        (["certify", "emp", "--url", "http://127.0.0.1:9/api/v4/request", "--api-key", "k"], "Cannot reach the IUT"),
        (["certify", "emp", "--url", "http://127.0.0.1:9/x", "--api-key", "k", "--requirement", "x.y"],
         "not in the catalogue"),
        (["certify", "emp", "--url", "http://127.0.0.1:9/x", "--api-key", "k", "--rfid", "active"], "is not STATE=UID"),
        (["certify", "emp", "--url", "http://127.0.0.1:9/x", "--api-key", "k", "--rfid", "blocked=0A1B2C3D"],
         "--rfid states are"),
        (["certify", "fleet", "--url", "http://127.0.0.1:9/x"], "invalid choice"),
    ],
)
def test_usage_errors_are_one_sentence_and_status_2(
    argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OIOI_API_KEY", raising=False)
    out, err = io.StringIO(), io.StringIO()
    assert run(argv, out, err) == 2
    assert message in err.getvalue()
    assert len(err.getvalue().strip().splitlines()) == 1 and "Traceback" not in err.getvalue()


def test_demo_certifies_both_reference_implementations(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "oioi_cli", "demo", "--profile", "quick", "--report-dir",
                           str(tmp_path)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "CPO: PASS" in done.stdout and "EMP: PASS" in done.stdout
    for role in ("cpo", "emp"):
        report = json.loads((tmp_path / role / "report.json").read_text(encoding="utf-8"))
        assert (report["iut"]["role"], report["verdict"], report["summary"]["fail"]) == (role, "pass", 0)
        assert report["summary"]["pass"] >= 20
        assert (tmp_path / role / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
        assert "<testsuite" in (tmp_path / role / "junit.xml").read_text(encoding="utf-8")
        assert list((tmp_path / role / "allure-results").glob("*-result.json"))


def _requests_received(emp: MockProcess, tmp_path: Path, seed: int) -> list[object]:
    """Certify the EMP mock with ``seed``; the bodies of the requests it received, in order."""
    emp.admin("POST", "reset", json={"journal": True})
    command = [sys.executable, "-m", "oioi_cli", "certify", "emp", "--url", emp.endpoint, "--seed", str(seed),
               "--partner-identifier", PARTNER, "--partner-identifier", "oioi-mock-partner-0000000000000001",
               "--report-dir", str(tmp_path / f"run-{seed}-{len(list(tmp_path.iterdir()))}")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "OIOI_API_KEY": EMP_KEY})
    assert done.returncode == 0, done.stdout[-3000:]
    return [entry["request_body"] for entry in emp.journal(exchange="inbound")]


def test_same_seed_sends_the_same_requests(emp: MockProcess, tmp_path: Path) -> None:
    first, second = _requests_received(emp, tmp_path, 11), _requests_received(emp, tmp_path, 11)
    assert len(first) > 100
    assert first == second
    assert _requests_received(emp, tmp_path, 12) != first


def test_an_iut_that_does_not_answer_fails_within_the_timeout(emp: MockProcess, tmp_path: Path) -> None:
    """Never a hang: answers slower than --timeout are failures naming the wait (the mock's delay fault)."""
    emp.admin("POST", "faults", json={"count": 4, "call": "session-post", "delay_ms": 3000})
    command = [sys.executable, "-m", "oioi_cli", "certify", "emp", "--url", emp.endpoint, "--seed", "3",
               "--timeout", "0.5", "--partner-identifier", PARTNER, "--requirement", "session-post.update",
               "--report-dir", str(tmp_path)]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "OIOI_API_KEY": EMP_KEY})
    assert time.monotonic() - started < 60
    assert done.returncode == 1, done.stdout[-3000:]
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    failures = [f for r in report["requirements"] for f in r["failures"]]
    assert failures and {(f["received"], f["response"]) for f in failures} == {("no answer within 0.5 s", None)}


@pytest.mark.parametrize("path", ["", "/", "/api/v4"])
def test_a_url_that_does_not_answer_oioi_stops_with_one_sentence(
    reference_cpo: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--url without /api/v4/request: the IUT's 404s are a setup mistake, never judged as its answers."""
    monkeypatch.setenv("OIOI_API_KEY", REFERENCE_KEY)
    url = reference_cpo.removesuffix("/api/v4/request") + path
    out, err = io.StringIO(), io.StringIO()
    assert run(["certify", "cpo", "--url", url], out, err) == 2
    assert err.getvalue() == (f"The IUT at {url} answered HTTP 404 with result code 230: not an OIOI endpoint; "
                              "the URL usually ends in /api/v4/request.\n")
    assert "certifying" not in out.getvalue()


def test_a_connector_the_cpo_does_not_know_is_said_first_and_kept_in_the_report(
    reference_cpo: str, tmp_path: Path
) -> None:
    """A --connector-id the CPO answers 181 for: the run goes on, a warning comes before any check."""
    from examples.reference_cpo import DEFAULT_CONNECTORS

    command = [sys.executable, "-m", "oioi_cli", "certify", "cpo", "--url", reference_cpo, "--seed", "4",
               "--connector-id", DEFAULT_CONNECTORS[0], "--connector-id", "DE*XYZ*E999999*1",
               "--requirement", "session-stop.unknown-session", "--report-dir", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "OIOI_API_KEY": REFERENCE_KEY})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    warning = ("the IUT does not know DE*XYZ*E999999*1 (session-stop answered 181, EVSE not found): check "
               "--connector-id or the declaration")
    lines = done.stdout.splitlines()
    warned = [i for i, line in enumerate(lines) if warning in line]
    checks = [i for i, line in enumerate(lines) if line.startswith(("PASS ", "FAIL ", "INCONCLUSIVE ", "NOT-RUN "))]
    assert len(warned) == 1 and checks and warned[0] < checks[0], done.stdout[-3000:]
    assert DEFAULT_CONNECTORS[0] not in lines[warned[0]]
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert [w for w in report["setup_warnings"] if warning in w] == report["setup_warnings"] != []
