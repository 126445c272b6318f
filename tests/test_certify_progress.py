"""What ``oioi certify`` prints while it runs, as a person reads it (issue 13, item 2).

A line per requirement with the id ``--requirement`` takes, never a test path; a line while the
run waits for the IUT (counting in place on a terminal, plain in a log); one summary; ``-v``
gives pytest's own output. Through the real command: a pipe, and a pseudo-terminal for the
waiting line and Ctrl-C.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from examples.demo import start_reference
from examples.reference_cpo import DEFAULT_CONNECTORS
from tests.fixtures.references import REFERENCE_KEY

ROOT = Path(__file__).resolve().parent.parent
PARTNER_KEY = "partner-key-0001"
# PASS  id  (0.2 s) | FAIL  id  (0.1 s) | INCONCLUSIVE  id  (1.0 s)  because … | NOT-RUN  id  because …
LINE = re.compile(r"(PASS|FAIL|INCONCLUSIVE|NOT-RUN) +([a-z0-9.-]+)(?:  \(\d+\.\d s\))?(?:  because (.+))?")
CONNECTORS = [f"--connector-id={c}" for c in DEFAULT_CONNECTORS[:2]]
STATUS_CHECK = "connector-post-status.on-change"  # waits --wait s for a status the IUT sends on its own


def environment() -> dict[str, str]:
    """The keys; nobody at the terminal (the run waits, it does not ask); colours allowed."""
    env = {**os.environ, "OIOI_API_KEY": REFERENCE_KEY, "OIOI_PARTNER_API_KEY": PARTNER_KEY,
           "OIOI_INTERACTIVE": "0", "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    return env


def command(url: str, *options: str) -> list[str]:
    return [sys.executable, "-m", "oioi_cli", "certify", "cpo", "--url", url, *options]


def certify(url: str, *options: str) -> subprocess.CompletedProcess[str]:
    """``oioi certify cpo --url URL OPTIONS…`` with its output in a pipe, as in a CI log."""
    return subprocess.run(command(url, *options), capture_output=True, text=True, timeout=180, cwd=ROOT,
                          env=environment())


def in_a_terminal(argv: list[str], *, interrupt_after: str | None = None, seconds: float = 180) -> tuple[int, str]:
    """Run ``argv`` on a pseudo-terminal; press Ctrl-C once ``interrupt_after`` shows. Exit status and output."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its standard streams and its controlling terminal
        os.chdir(ROOT)
        os.execve(argv[0], argv, environment())
    output, pressed, deadline = b"", False, time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if select.select([fd], [], [], 1.0)[0]:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            if interrupt_after and not pressed and interrupt_after.encode() in output:
                os.write(fd, b"\x03")  # Ctrl-C: the terminal sends SIGINT to the run
                pressed = True
        else:
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"the run did not end within {seconds} s: {output[-2000:]!r}")
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), output.decode("utf-8", "replace")


def verdict_lines(text: str) -> dict[str, tuple[str, str | None]]:
    """Requirement id -> (verdict, reason) of each requirement line."""
    found = {}
    for line in text.splitlines():
        if match := LINE.fullmatch(line.strip("\r")):
            found[match[2]] = (match[1], match[3])
    return found


def rows(report_dir: Path) -> dict[str, dict[str, Any]]:
    report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    return {row["id"]: row for row in report["requirements"]}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def defective_cpo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The reference CPO with a defect: it answers a request without an API key (transport.api-key.missing)."""
    directory = tmp_path_factory.mktemp("defective-cpo")
    reference = start_reference("cpo", "--api-key", REFERENCE_KEY, "--db", str(directory / "cpo.sqlite"),
                                "--defect", "ignores-api-key")
    yield reference.url
    reference.stop()


def test_each_requirement_gets_one_line_with_its_verdict_and_no_test_path(reference_cpo: str, tmp_path: Path) -> None:
    chosen = ["transport.api-key.missing", "session-start.unknown-connector", "station-post.all-stations",
              "session-start.is-stoppable"]  # pass, pass, not run (needs --listen), not run (no check)
    done = certify(reference_cpo, *CONNECTORS, *[f"--requirement={rid}" for rid in chosen],
                   "--report-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    said, judged = verdict_lines(done.stdout), rows(tmp_path)
    assert set(chosen) <= set(said), done.stdout  # and those the chosen checks judge too
    for rid, row in judged.items():
        if rid in said:
            assert said[rid] == (row["verdict"].upper(), None if row["verdict"] == "pass" else row["reason"]), rid
        else:  # neither chosen nor judged
            assert row["verdict"] in ("not-run", "not-applicable") and not row["checks"], rid
    assert (said["station-post.all-stations"][1] or "").startswith("needs --listen")
    assert "::" not in done.stdout and ".py" not in done.stdout and "passed in" not in done.stdout
    passed = sum(verdict == "PASS" for verdict, _ in said.values())
    assert [line for line in done.stdout.splitlines() if line.startswith("OIOI CPO conformance:")] == [
        f"OIOI CPO conformance: PASS — {passed} passed, 0 failed, 0 inconclusive, {len(judged) - 24 - passed} not "
        "run, 24 not applicable"]
    assert "\r" not in done.stdout and "\x1b[" not in done.stdout  # a log is plain


def test_a_failed_requirement_says_fail_and_what_was_received(defective_cpo: str, tmp_path: Path) -> None:
    done = certify(defective_cpo, *CONNECTORS, "--requirement", "transport.api-key.missing",
                   "--report-dir", str(tmp_path))
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("FAIL          transport.api-key.missing  ("))
    assert lines[at + 1].strip().startswith("Received"), lines[at:at + 3]


def test_verbose_gives_pytests_own_output(reference_cpo: str, tmp_path: Path) -> None:
    done = certify(reference_cpo, *CONNECTORS, "-v", "--requirement", "transport.api-key.missing",
                   "--report-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.search(r"test_transport\.py::test_\S+ PASSED", done.stdout), done.stdout
    assert not verdict_lines(done.stdout)
    assert re.search(r"^OIOI CPO conformance: PASS — \d+ passed", done.stdout, re.MULTILINE), done.stdout


def test_a_wait_for_the_iut_is_one_plain_line_in_a_log(reference_cpo: str, tmp_path: Path) -> None:
    port = free_port()
    done = certify(reference_cpo, *CONNECTORS, "--listen", f"127.0.0.1:{port}", "--wait", "2",
                   "--requirement", STATUS_CHECK, "--report-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert f"watch the conversation at http://127.0.0.1:{port}/ui/" in done.stdout  # the mock partner's page
    waits = [line for line in done.stdout.splitlines() if line.startswith("waiting")]
    assert waits == ["waiting up to 2 s for a connector-post-status from the IUT"], done.stdout
    assert verdict_lines(done.stdout)[STATUS_CHECK][0] == "NOT-RUN"  # nobody made the status change
    assert "\r" not in done.stdout


def test_a_wait_for_the_iut_counts_in_place_on_a_terminal(reference_cpo: str, tmp_path: Path) -> None:
    status, output = in_a_terminal(command(reference_cpo, *CONNECTORS, "--listen", f"127.0.0.1:{free_port()}",
                                           "--wait", "3", "--requirement", STATUS_CHECK,
                                           "--report-dir", str(tmp_path)))
    assert status == 0, output[-3000:]
    assert "waiting up to 3 s for a connector-post-status from the IUT … 1 s\r\x1b[K" in output, output
    assert "waiting up to 3 s for a connector-post-status from the IUT … 2 s" in output
    assert f"\x1b[33mNOT-RUN\x1b[0m       {STATUS_CHECK}  because no connector-post-status arrived" in output


def test_ctrl_c_in_a_terminal_says_how_far_the_run_got_without_pytest(reference_cpo: str, tmp_path: Path) -> None:
    status, output = in_a_terminal(command(reference_cpo, *CONNECTORS, "--listen", f"127.0.0.1:{free_port()}",
                                           "--wait", "60", "--report-dir", str(tmp_path)),
                                   interrupt_after="waiting up to 60 s")
    assert status == 2, output[-3000:]
    assert re.search(r"The run was interrupted after \d+ of \d+ requirements; the reports so far are in "
                     rf"{re.escape(str(tmp_path))}\.", output), output[-3000:]
    for noise in ("KeyboardInterrupt", "Traceback", "!!!", "pytest", ".py"):
        assert noise not in output.replace(str(tmp_path), "DIR"), noise
    assert "OIOI CPO conformance: INCOMPLETE — interrupted after" in output
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert (report["interrupted"], report["verdict"]) == (True, "incomplete")


def test_ctrl_c_before_the_first_check_is_one_sentence(tmp_path: Path) -> None:
    """The checks before the run wait for an IUT that does not answer; Ctrl-C there writes nothing."""
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/api/v4/request"
        with subprocess.Popen(command(url, "--timeout", "60", "--report-dir", str(tmp_path / "r")),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                              env=environment()) as run:
            try:
                silent.settimeout(60)
                asked, _ = silent.accept()
                with asked:
                    asked.recv(1)  # the run's first request has come: it waits for the answer
                    run.send_signal(signal.SIGINT)
                    out, err = run.communicate(timeout=60)
            finally:
                run.kill()
    assert run.returncode == 2, out + err
    assert err == "The run was interrupted before its first check; nothing was written.\n"
    assert "certifying" not in out and not (tmp_path / "r").exists()
