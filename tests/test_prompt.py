"""A person at the terminal is really asked: ``oioi certify`` without a hook, in a pseudo-terminal.

The test plays the person: it reads each prompt on the terminal, makes the action happen the way a
person at the charger would (here: by the reference CPO's own /control hook, which the run was not
given), presses Enter, and reads what the run says it received. The sending checks get judged.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import re
import select
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from examples.demo import start_reference
from oioi.serving import free_port

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "prompt-test-key-0123456789"
PARTNER_KEY = "prompt-test-partner-key-9876"
UID = "04523022AA4881"  # testaccount.rst's active UID, the run's default


class Terminal:
    """The person's side of a pseudo-terminal: read until a pattern shows, type a line."""

    def __init__(self, fd: int) -> None:
        self.fd, self.seen, self._read = fd, "", 0

    def expect(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        """Wait for ``pattern`` in what appeared since the last match (fails the test with the screen)."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.compile(pattern).search(self.seen, self._read)
            if found:
                self._read = found.end()
                return found
            left = deadline - time.monotonic()
            if left <= 0 or not self._more(left):
                pytest.fail(f"no {pattern!r} on the terminal within {timeout:g} s; it shows:\n{self.seen[-3000:]}")

    def type(self, line: str) -> None:
        os.write(self.fd, (line + "\n").encode())

    def _more(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], min(timeout, 1.0))
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # the run ended and closed the terminal
            return False
        self.seen += chunk.decode("utf-8", "replace")
        return bool(chunk)


def _controlling_terminal() -> None:
    """In the child, after setsid: make its standard input (the pseudo-terminal) its /dev/tty."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@pytest.fixture
def reference_cpo(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The reference CPO sending to a free port where the run's mock partner will listen; (its URL, listen)."""
    listen = f"127.0.0.1:{free_port()}"
    reference = start_reference("cpo", "--api-key", API_KEY, "--db", str(tmp_path / "cpo.sqlite"),
                                  "--partner-url", f"http://{listen}/api/v4/request", "--partner-api-key", PARTNER_KEY)
    yield reference.url, listen
    reference.stop()


@contextlib.contextmanager
def certify_in_a_terminal(url: str, listen: str, report: Path, *requirements: str) -> Iterator[
        tuple[subprocess.Popen[bytes], Terminal]]:
    """``oioi certify cpo`` without a hook, its terminal a pseudo-terminal the test reads and types into."""
    from examples.reference_cpo import DEFAULT_CONNECTORS

    command = [sys.executable, "-m", "oioi_cli", "certify", "cpo", "--url", url, "--listen", listen, "--wait", "5",
               "--seed", "7", "--report-dir", str(report), *[f"--requirement={r}" for r in requirements],
               *[f"--connector-id={c}" for c in DEFAULT_CONNECTORS]]
    env = {k: v for k, v in os.environ.items() if k != "OIOI_INTERACTIVE"}  # the run decides it from its stdin
    main, side = pty.openpty()
    run = subprocess.Popen(command, stdin=side, stdout=side, stderr=side, cwd=ROOT, start_new_session=True,
                           preexec_fn=_controlling_terminal,
                           env={**env, "OIOI_API_KEY": API_KEY, "OIOI_PARTNER_API_KEY": PARTNER_KEY})
    os.close(side)
    try:
        yield run, Terminal(main)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        os.close(main)


def test_a_person_at_the_terminal_is_walked_through_the_actions(
    reference_cpo: tuple[str, str], tmp_path: Path
) -> None:
    from examples.reference_cpo import DEFAULT_CONNECTORS

    url, listen = reference_cpo
    hook, connector = url.removesuffix("/api/v4/request") + "/control", DEFAULT_CONNECTORS[0]
    with certify_in_a_terminal(url, listen, tmp_path / "report", "rfid-verify.on-every-use",
                               "session-post.after-session") as (run, person):

        def do(action: str, **fields: str) -> None:  # what the person does at the charger, then Enter
            assert requests.post(hook, json={"action": action, **fields}, timeout=30).ok
            person.type("")

        person.expect(r"Make the CPO push all its stations \(station-post\), then press Enter")
        do("push-stations")
        person.expect(rf"Present the RFID token {UID} at {re.escape(connector)}, then press Enter \(or type 'skip'\)")
        do("present-rfid", **{"connector-id": connector, "rfid": UID})
        person.expect(r"waiting up to 5 s for rfid-verify")
        person.expect(rf"received: rfid-verify {UID}")
        person.expect(rf"Plug the EV out at {re.escape(connector)}, then press Enter")
        do("plug-out", **{"connector-id": connector})
        person.expect(rf"received: session-post {re.escape(connector)}")
        assert run.wait(timeout=60) == 0, person.seen[-3000:]
    report = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    verdicts = {row["id"]: row["verdict"] for row in report["requirements"]}
    assert verdicts["rfid-verify.on-every-use"] == "pass"
    assert verdicts["session-post.after-session"] == "pass"


def test_a_person_who_types_skip_skips_the_check(reference_cpo: tuple[str, str], tmp_path: Path) -> None:
    url, listen = reference_cpo
    with certify_in_a_terminal(url, listen, tmp_path / "report", "station-post.all-stations") as (run, person):
        person.expect(r"Make the CPO push all its stations \(station-post\), then press Enter")
        person.type("skip")
        assert run.wait(timeout=60) == 0, person.seen[-3000:]
    rows = {row["id"]: row for row in json.loads((tmp_path / "report" / "report.json").read_text(
        encoding="utf-8"))["requirements"]}
    assert rows["station-post.all-stations"]["verdict"] == "not-run"
    assert "skipped by the person at the terminal" in rows["station-post.all-stations"]["reason"]
