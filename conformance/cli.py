"""``oioi certify`` and ``python -m conformance``: run the conformance suite against an IUT.

certify runs pytest on ``conformance/suite`` through the plugin (``--oioi-*`` options),
with JUnit XML and Allure results beside report.json and report.html. Exit status: 0 no
MUST requirement failed, 1 one did, 2 the harness could not run (one sentence).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from oioi.cli import exit_with, standalone
from oioi.errors import ConfigError, HarnessError

if TYPE_CHECKING:
    from conformance._target import Target

__all__ = ["add_arguments", "add_parser", "certify", "default_report_dir", "interrupted", "iut_target", "main", "run"]

DESCRIPTION = ("Drive the OIOI endpoint of an implementation under test (IUT) and judge its answers against every "
               "requirement of the catalogue; writes report.json, report.html, junit.xml and allure-results/.")
SUITE = Path(__file__).resolve().parent / "suite"
# The figures an IUT declares about its own sending (flag, metavar, help); the declaration has them too.
FIGURES = (
    ("--partner-timeout", "S", "seconds the IUT waits for its partner's answer before it gives up; without it, the "
                               "timeout check is inconclusive when no retry comes"),
    ("--retry-window", "S", "seconds within which the IUT retries a message after a 5xx; without it, no retry seen "
                            "is inconclusive"),
    ("--delivery-window", "S", "seconds within which the IUT sends what an event calls for (a status after a change, "
                               "a CDR after a session); without it, nothing arriving within --wait is inconclusive"),
    ("--backoff-tolerance", "F", "how much shorter than the one before a gap between retries may be, as a fraction "
                                 "(jitter; default: 0.5)"),
)
HELP = "certify a CPO's or EMP's OIOI endpoint and write conformance reports"


def add_parser(commands: Any) -> None:
    """The ``certify`` command of ``oioi``."""
    add_arguments(commands.add_parser("certify", help=HELP, description=DESCRIPTION))


def add_arguments(c: argparse.ArgumentParser) -> None:
    """The arguments of ``certify``, and its ``run``."""
    c.add_argument("role", nargs="?", choices=("cpo", "emp"), help="the IUT's role (or role in the declaration)")
    c.add_argument("--url", help="the IUT's OIOI endpoint, e.g. http://127.0.0.1:8000/api/v4/request (or url in "
                   "the declaration)")
    c.add_argument("--declaration", metavar="FILE",
                   help="the IUT's declaration: the optional features it implements and the test parameters "
                        "(TOML; flags and OIOI_* variables override it; or set OIOI_DECLARATION)")
    c.add_argument("--write-declaration", nargs="?", const="iut.toml", metavar="FILE",
                   help="write a commented declaration template to FILE (default: iut.toml; - for standard "
                        "output) and exit")
    c.add_argument("--api-key", help="the API key the IUT accepts (or set OIOI_API_KEY)")
    c.add_argument("--connector-id", action="append", default=[], metavar="ID",
                   help="an EVSE ID of the CPO IUT the harness may start sessions on (repeat; two for every check)")
    c.add_argument("--partner-identifier", action="append", default=[], metavar="ID",
                   help="the partner identifier the harness sends, as agreed with the IUT (repeat for a second)")
    c.add_argument("--rfid", action="append", default=[], metavar="STATE=UID",
                   help="UIDs the EMP IUT knows: active=…, inactive=…, unknown=… (default: testaccount.rst's)")
    c.add_argument("--profile", choices=("quick", "full"),
                   help="quick: for every CI build (default); full: the certification run")
    c.add_argument("--seed", type=int, help="seed of the generated requests (same seed, same requests)")
    c.add_argument("--timeout", type=float, help="seconds to wait for each answer (default: 10)")
    c.add_argument("--requirement", action="append", default=[], metavar="ID",
                   help="run only the checks of this requirement (repeat)")
    c.add_argument("--report-dir", metavar="DIR", help="where the reports go (default: reports/<timestamp>/)")
    c.add_argument("--listen", metavar="HOST:PORT",
                   help="run the mock partner here to receive what the IUT sends (configure the IUT to send to "
                        "http://HOST:PORT/api/v4/request)")
    c.add_argument("--partner-api-key", metavar="KEY",
                   help="the key the IUT sends to the mock partner (or set OIOI_PARTNER_API_KEY)")
    c.add_argument("--control-url", metavar="URL", help="the IUT's test-control hook (see the README)")
    c.add_argument("--wait", type=float,
                   help="seconds to wait for each message the IUT sends (default: 10)")
    c.add_argument("--strict", action="store_true",
                   help="a failed SHOULD requirement fails the run too (default: only a failed MUST does)")
    c.add_argument("-v", "--verbose", action="store_true",
                   help="print pytest's own output (a line per test, with its path) instead of a line per requirement")
    for flag, metavar, help_text in FIGURES:
        c.add_argument(flag, type=float, metavar=metavar, help=help_text)
    c.set_defaults(run=certify, extra="certify")


def default_report_dir() -> Path:
    """reports/<timestamp>/, where a run's reports go unless told otherwise."""
    return Path("reports") / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")


def pytest_args(args: argparse.Namespace, api_key: str, report_dir: Path) -> list[str]:
    """The pytest command line of a certify run: the options given (the plugin reads the declaration itself)."""
    argv = [str(SUITE), "-c", str(SUITE / "certify.ini"), "--rootdir", str(SUITE), "-p", "no:cacheprovider",
            "--assert=plain", f"--junitxml={report_dir / 'junit.xml'}",
            f"--alluredir={report_dir / 'allure-results'}", "--oioi-report-dir", str(report_dir)]
    # pytest's own output with -v; else none: the progress (conformance._progress) says each requirement
    argv += ["-v", "--tb=no", "--no-header", "-rN"] if args.verbose else ["-p", "no:terminal"]
    for option in ("connector_id", "partner_identifier", "rfid", "requirement"):
        for value in getattr(args, option):
            argv += [f"--oioi-{option.replace('_', '-')}", value]
    for option in ("declaration", "url", "role", "profile", "seed", "timeout", "wait", "listen", "control_url",
                   "partner_timeout", "retry_window", "delivery_window", "backoff_tolerance"):
        if getattr(args, option) is not None:
            argv += [f"--oioi-{option.replace('_', '-')}", str(getattr(args, option))]
    if args.strict:
        argv.append("--oioi-strict")
    return argv


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    """The Target settings given as flags (None: not given)."""
    from conformance._target import parse_rfids

    return {"url": args.url, "role": args.role, "control_url": args.control_url, "listen": args.listen,
            "profile": args.profile, "seed": args.seed, "timeout": args.timeout, "wait": args.wait,
            "partner_timeout": args.partner_timeout, "retry_window": args.retry_window,
            "delivery_window": args.delivery_window,
            "backoff_tolerance": args.backoff_tolerance, "strict": args.strict or None,
            "connectors": tuple(args.connector_id), "partner_identifiers": tuple(args.partner_identifier),
            "rfids": parse_rfids(args.rfid, base={})}


def write_declaration(args: argparse.Namespace, stdout: TextIO) -> int:
    """Write a commented declaration template (the flags given fill it in); 0."""
    from conformance import _declaration

    values = {name: value for name, value in _flags(args).items() if value not in (None, (), {})}
    text = _declaration.render(_declaration.sections(values))
    if args.write_declaration == "-":
        stdout.write(text)
        return 0
    path = Path(args.write_declaration)
    try:
        with path.open("x", encoding="utf-8") as file:
            file.write(text)
    except FileExistsError:
        raise ConfigError(f"{path} exists already; give --write-declaration another file name, or remove it.") from None
    except OSError as failure:
        raise ConfigError(f"Cannot write {path} ({failure.strerror or failure}).") from None
    stdout.write(f"wrote {path}: fill it in, then run oioi certify --declaration {path}\n")
    return 0


def certify(args: argparse.Namespace, stdout: TextIO, stderr: TextIO | None = None, stdin: TextIO | None = None) -> int:
    """Run the suite in this process and return the exit status (0, 1 or 2)."""
    import pytest

    if args.write_declaration is not None:
        return write_declaration(args, stdout)
    target, report_dir = _before_the_run(args)
    os.environ["OIOI_API_KEY"] = target.api_key  # handed to the plugin without putting it on a command line
    if target.partner_api_key:
        os.environ["OIOI_PARTNER_API_KEY"] = target.partner_api_key
    decide = "OIOI_INTERACTIVE" not in os.environ  # a person at the terminal? Inside a check pytest holds fd 0
    if decide:
        os.environ["OIOI_INTERACTIVE"] = "1" if sys.stdin is not None and sys.stdin.isatty() else "0"
    stdout.write(f"certifying the {target.role.upper()} at {target.url} (profile {target.profile})\n")
    stdout.flush()
    code = _run_suite(pytest_args(args, target.api_key, report_dir), None if args.verbose else stdout)
    if decide:
        os.environ.pop("OIOI_INTERACTIVE", None)
    report_file = report_dir / "report.json"
    if code == pytest.ExitCode.INTERRUPTED:
        _scrub_reports(report_dir, (target.api_key, target.partner_api_key or ""))
        raise HarnessError(interrupted(report_dir))
    if code not in (0, 1) or not report_file.exists():
        raise HarnessError(f"The conformance run stopped before it finished (pytest exit status {int(code)}); "
                           "see the messages above.")
    _scrub_reports(report_dir, (target.api_key, target.partner_api_key or ""))
    report = json.loads(report_file.read_text(encoding="utf-8"))
    stdout.write(f"reports: {report_dir}/report.html, report.json, junit.xml, allure-results/\n")
    if errors := report["errors"]:
        raise HarnessError(f"{len(errors)} check(s) could not run because of an error in the harness (first: "
                           f"{errors[0]['check']}: {errors[0]['error']}); please report it.")
    return 0 if report["verdict"] == "pass" else 1


def _before_the_run(args: argparse.Namespace) -> tuple[Target, Path]:
    """The run's target and report folder, every user mistake refused first; Ctrl-C or SIGTERM here is one
    sentence too (the checks before the run may wait for the IUT)."""
    from conformance._preflight import unwritable
    from conformance.plugin import sigterm_interrupts

    try:
        with sigterm_interrupts():
            target = _target(args)
    except KeyboardInterrupt:
        raise HarnessError("The run was interrupted before its first check; nothing was written.") from None
    report_dir = Path(args.report_dir) if args.report_dir else default_report_dir()
    if why := unwritable(report_dir):
        raise ConfigError(why)
    return target, report_dir


def _run_suite(argv: list[str], out: TextIO | None) -> int:
    """pytest on the suite, with certify's progress written to ``out`` (None: pytest's own output); SIGTERM
    (a pipeline stopping the run) interrupts it as Ctrl-C does.

    pytest turns a KeyboardInterrupt into exit status 2 (interrupted) once its session runs; one
    that comes before (while pytest starts) is the same interruption.
    """
    import pytest

    from conformance._progress import Progress
    from conformance.plugin import sigterm_interrupts

    code = int(pytest.ExitCode.INTERRUPTED)
    with contextlib.ExitStack() as stack:
        plugins = [] if out is None else [Progress(stack.enter_context(_own_stream(out)), live=_terminal(out))]
        stack.enter_context(sigterm_interrupts())
        with contextlib.suppress(KeyboardInterrupt):
            code = int(pytest.main(argv, plugins=plugins))
    return code


@contextlib.contextmanager
def _own_stream(out: TextIO) -> Iterator[TextIO]:
    """``out`` on a file descriptor of its own: pytest captures fd 1 during each check, and the progress says
    what a check waits for while it runs. A stream without a descriptor (a test's) is taken as it is."""
    try:
        fd = os.dup(out.fileno())
    except (AttributeError, OSError, ValueError):
        yield out
        return
    out.flush()
    with os.fdopen(fd, "w", encoding="utf-8", errors="replace", buffering=1) as own:
        yield own


def _terminal(out: TextIO) -> bool:
    """Whether ``out`` is a terminal (a waiting line may then count in place)."""
    try:
        return out.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


def interrupted(report_dir: Path) -> str:
    """The sentence for a run stopped before its end (Ctrl-C, SIGTERM): how far it got, where its reports are."""
    try:
        report = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report = None
    if not isinstance(report, dict) or not isinstance(report.get("requirements"), list):
        return f"The run was interrupted before it wrote report.json; what it wrote is in {report_dir}."
    rows = report["requirements"]
    progress = report.get("progress") or {"reached": sum(r.get("verdict") != "not-run" for r in rows),
                                          "planned": len(rows)}
    return (f"The run was interrupted after {progress.get('reached', 0)} of {progress.get('planned', 0)} "
            f"requirements; the reports so far are in {report_dir}.")


def _target(args: argparse.Namespace) -> Target:
    """The run's `Target` from the declaration, ``OIOI_*`` and the flags; `ConfigError` when it cannot run."""
    from conformance._catalogue import requirement
    from conformance._preflight import preflight

    target = iut_target(args, "certify")
    for rid in args.requirement:
        try:
            requirement(rid)
        except KeyError:
            raise ConfigError(f"--requirement {rid!r} is not in the catalogue; see the ids in "
                              "conformance/requirements.json.") from None
    if why := preflight(target):
        raise ConfigError(why)
    return target


def iut_target(args: argparse.Namespace, command: str) -> Target:
    """The IUT as ``oioi COMMAND`` was told of it: the declaration, overridden by ``OIOI_*``, overridden by the
    flags (certify's, which ``oioi load`` shares); `ConfigError` (one sentence) without a role or a URL."""
    from conformance._declaration import settings
    from conformance._target import Target

    args.declaration = args.declaration or os.environ.get("OIOI_DECLARATION") or None
    values = settings(args.declaration, os.environ, _flags(args))
    if not values.get("role"):
        raise ConfigError(f"No role: give cpo or emp after 'oioi {command}', or role in [iut] of the declaration.")
    if not values.get("url"):
        raise ConfigError("No URL: give --url with the IUT's OIOI endpoint (e.g. "
                          "http://127.0.0.1:8000/api/v4/request), or url in [iut] of the declaration.")
    values = {name: value for name, value in values.items() if name in Target.__dataclass_fields__}
    return Target(**values, api_key=args.api_key or os.environ.get("OIOI_API_KEY", ""),
                  partner_api_key=args.partner_api_key or os.environ.get("OIOI_PARTNER_API_KEY"))


def _scrub_reports(report_dir: Path, keys: tuple[str, ...]) -> None:
    """Mask every API key left in the reports (pytest's own files may quote one)."""
    from conformance._report import scrub

    for path in report_dir.rglob("*"):
        if path.is_file() and path.suffix in (".xml", ".json", ".html", ".txt"):
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
            for key in keys:
                if len(key) >= 4 and key in text:
                    text = scrub(text, key)
                    path.write_text(text, encoding="utf-8", errors="surrogateescape")


# ``python -m conformance``, the same arguments as ``oioi certify``: run(argv, stdout, stderr, stdin=None) -> int
run = standalone("python -m conformance", DESCRIPTION, add_arguments)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """``python -m conformance``."""
    exit_with(run, argv)
