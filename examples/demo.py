"""``oioi demo`` and ``python -m examples``: start the reference CPO and EMP, certify both, write the reports.

The reference launcher `start_reference` lives here too: the demo, the project's tests and the
benchmarks start a reference through it (``python -m examples.reference_<role>``, which
announces its URL the one way ``oioi.serving`` reads).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from conformance.cli import default_report_dir
from examples import declared_figures
from oioi import serving
from oioi.cli import exit_with, standalone

__all__ = ["add_arguments", "add_parser", "demo", "main", "run", "start_reference"]

HELP = "start the reference CPO and EMP, certify both, write the reports"
DESCRIPTION = ("Start the reference implementations (examples/reference_cpo, examples/reference_emp) on free loopback "
               "ports, certify each, and write the reports under --report-dir.")


def add_parser(commands: Any) -> None:
    """The ``demo`` command of ``oioi``."""
    add_arguments(commands.add_parser("demo", help=HELP, description=DESCRIPTION))


def add_arguments(d: argparse.ArgumentParser) -> None:
    """The arguments of ``demo``, and its ``run``."""
    d.add_argument("--profile", choices=("quick", "full"), default="full", help="default: full")
    d.add_argument("--seed", type=int, help="seed of the generated requests")
    d.add_argument("--report-dir", metavar="DIR", help="default: reports/<timestamp>/ (cpo/ and emp/ inside)")
    d.set_defaults(run=demo)


def start_reference(role: str, *options: str) -> serving.Child:
    """Start ``python -m examples.reference_<role> --port 0 OPTIONS`` (gunicorn) and wait for its URL."""
    return serving.start([sys.executable, "-m", f"examples.reference_{role}", "--port", "0", *options],
                         what=f"reference {role.upper()}")


def demo(args: argparse.Namespace, stdout: TextIO, stderr: TextIO | None = None, stdin: TextIO | None = None) -> int:
    """Certify the reference CPO and EMP, both at once; 0 when both pass.

    The two runs share nothing (each reference, mock partner and report folder is its own), so
    they run side by side; each line they print comes through prefixed with its role.
    """
    api_key, partner_key = "demo-" + secrets.token_hex(12), "demo-partner-" + secrets.token_hex(12)
    report_root = Path(args.report_dir) if args.report_dir else default_report_dir()
    lock = threading.Lock()

    def say(role: str, line: str) -> None:
        with lock:
            stdout.write(f"[{role}] {line}")
            stdout.flush()

    with tempfile.TemporaryDirectory(prefix="oioi-demo-") as workdir, contextlib.ExitStack() as running:
        runs = {}
        for role in ("cpo", "emp"):
            listen = f"127.0.0.1:{serving.free_port()}"
            reference = start_reference(role, "--api-key", api_key, "--db", f"{workdir}/reference-{role}.sqlite",
                                        "--partner-url", f"http://{listen}/api/v4/request",
                                        "--partner-api-key", partner_key)
            running.callback(reference.stop)
            say(role, f"reference {role.upper()} listening on {reference.url}\n")
            runs[role] = _certify(role, reference.url, listen, report_root / role, args,
                                  env={**os.environ, "OIOI_API_KEY": api_key, "OIOI_PARTNER_API_KEY": partner_key})
        verdicts = _relay_until_done(runs, say)
    stdout.write("\n" + "\n".join(f"{role.upper()}: {'PASS' if code == 0 else 'FAIL'} — "
                                  f"{report_root / role / 'report.html'}" for role, code in verdicts.items()) + "\n")
    if any(code == 2 for code in verdicts.values()):
        return 2
    return 0 if all(code == 0 for code in verdicts.values()) else 1


def _certify(role: str, url: str, listen: str, report_dir: Path, args: argparse.Namespace,
             env: dict[str, str]) -> subprocess.Popen[str]:
    """Start ``python -m conformance ROLE`` against the reference at ``url``; its output comes through a pipe."""
    from examples.reference_cpo import DEFAULT_CONNECTORS

    command = [sys.executable, "-m", "conformance", role, "--url", url, "--profile", args.profile,
               "--report-dir", str(report_dir), "--listen", listen,
               "--control-url", url.removesuffix("/api/v4/request") + "/control"]
    command += [f"--connector-id={c}" for c in DEFAULT_CONNECTORS] if role == "cpo" else []
    command += [f"--{figure}={value:g}" for figure, value in declared_figures(role).items()]
    command += ["--seed", str(args.seed)] if args.seed is not None else []
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**env, "PYTHONUNBUFFERED": "1"})


def _relay_until_done(runs: dict[str, subprocess.Popen[str]], say: Callable[[str, str], None]) -> dict[str, int]:
    """Pass on each line the runs print, prefixed with its role, until they end; their exit codes."""
    def relay(role: str, run: subprocess.Popen[str]) -> None:
        assert run.stdout is not None
        for line in run.stdout:
            say(role, line)

    readers = [threading.Thread(target=relay, args=(role, run), daemon=True) for role, run in runs.items()]
    for reader in readers:
        reader.start()
    verdicts = {role: run.wait() for role, run in runs.items()}
    for reader in readers:
        reader.join(timeout=10)
    return verdicts


# ``python -m examples``, the same arguments as ``oioi demo``: run(argv, stdout, stderr, stdin=None) -> int
run = standalone("python -m examples", DESCRIPTION, add_arguments)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """``python -m examples``."""
    exit_with(run, argv)
