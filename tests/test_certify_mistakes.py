"""``oioi certify``: a user's mistake is one sentence on standard error and exit 2, before any check runs."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.references import REFERENCE_KEY

ROOT = Path(__file__).resolve().parent.parent


def certify(url: str, *options: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``oioi certify cpo --url URL OPTIONS…`` as a user runs it."""
    command = [sys.executable, "-m", "oioi_cli", "certify", "cpo", "--url", url, *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, "OIOI_API_KEY": REFERENCE_KEY, "OIOI_PARTNER_API_KEY": "partner-key-0001"})


def one_sentence(done: subprocess.CompletedProcess[str]) -> str:
    """The one line on standard error of a run that stopped before any check (exit 2)."""
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-3000:]
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    for noise in ("Traceback", "INTERNALERROR", "pytest exit status", "HARNESS ERROR"):
        assert noise not in done.stdout + done.stderr
    assert "certifying" not in done.stdout
    return done.stderr.strip()


def test_a_listen_address_in_use_is_said_before_any_check(reference_cpo: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        done = certify(reference_cpo, "--listen", address, "--report-dir", str(tmp_path / "r"))
    assert one_sentence(done) == (f"Cannot listen on {address} for the IUT's messages (Address already in use); "
                                  "give --listen a free HOST:PORT (the address the IUT sends to).")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("listen", "says"), [("10.255.255.1:8765", "(Cannot assign requested address)"),
                                              ("127.0.0.1:port", "is not HOST:PORT")])
def test_a_listen_address_that_cannot_be_bound_is_one_sentence(reference_cpo: str, listen: str, says: str) -> None:
    assert says in one_sentence(certify(reference_cpo, "--listen", listen))


def test_a_report_dir_that_is_a_file_is_said_before_any_check(reference_cpo: str, tmp_path: Path) -> None:
    (tmp_path / "reports").write_text("not a folder\n", encoding="utf-8")
    assert one_sentence(certify(reference_cpo, "--report-dir", str(tmp_path / "reports"))) == (
        f"Cannot write the reports to {tmp_path / 'reports'} (it is a file); give --report-dir a folder you can "
        "write to.")


def test_a_report_dir_that_cannot_be_created_is_one_sentence(reference_cpo: str) -> None:
    says = one_sentence(certify(reference_cpo, "--report-dir", "/proc/rep"))
    assert says.startswith("Cannot write the reports to /proc/rep (") and says.endswith("you can write to.")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_report_dir_is_one_sentence(reference_cpo: str, tmp_path: Path) -> None:
    (tmp_path / "locked").mkdir(mode=0o500)
    says = one_sentence(certify(reference_cpo, "--report-dir", str(tmp_path / "locked")))
    assert says == (f"Cannot write the reports to {tmp_path / 'locked'} (Permission denied); give --report-dir a "
                    "folder you can write to.")


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--conector-id", "X"], "oioi certify: unrecognized arguments: --conector-id X (did you mean --connector-id?) "
                                 "(see 'oioi certify --help')."),
        (["--report_dir=r"], "oioi certify: unrecognized arguments: --report_dir=r (did you mean --report-dir?) "
                             "(see 'oioi certify --help')."),
        (["--frobnicate"], "oioi certify: unrecognized arguments: --frobnicate (see 'oioi certify --help')."),
    ],
)
def test_an_unknown_option_names_certify_help_and_the_closest_option(options: list[str], says: str) -> None:
    """argparse hands a sub-command's unknown options up to ``oioi``; the sentence still names ``oioi certify``."""
    assert one_sentence(certify("http://127.0.0.1:9/api/v4/request", *options)) == says


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_listening(port: int, seconds: float) -> None:
    """Until something accepts on 127.0.0.1:``port`` (the run's partner: its checks have begun)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listened on {port} within {seconds} s"
            time.sleep(0.1)


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_says_how_far_it_got_in_one_sentence(
    reference_cpo: str, tmp_path: Path, how: signal.Signals
) -> None:
    """Ctrl-C, or a pipeline's SIGTERM, while the run waits for what the IUT sends: exit 2 and one sentence."""
    port = free_port()
    command = [sys.executable, "-m", "oioi_cli", "certify", "cpo", "--url", reference_cpo,
               "--listen", f"127.0.0.1:{port}", "--wait", "60",
               "--report-dir", str(tmp_path / "r")]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                          env={**os.environ, "OIOI_API_KEY": REFERENCE_KEY,
                               "OIOI_PARTNER_API_KEY": "partner-key-0001"}) as run:
        try:
            assert run.stdout is not None and run.stdout.readline().startswith("certifying the CPO")
            wait_until_listening(port, 60)
            time.sleep(1)
            run.send_signal(how)
            out, err = run.communicate(timeout=60)
        finally:
            run.kill()
    assert run.returncode == 2, out[-3000:] + err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert re.fullmatch(rf"The run was interrupted after \d+ of \d+ requirements; the reports so far are in "
                        rf"{re.escape(str(tmp_path / 'r'))}\.", err.strip()), err
    assert json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))["requirements"]
