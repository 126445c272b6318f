"""``oioi load cpo|emp`` and ``python -m oioi_load``: OIOI traffic on Locust, with thresholds that fail the build.

The IUT's parameters come as ``oioi certify`` takes them (the declaration, ``OIOI_*``, flags) and the
same preflight refuses a wrong URL or key in one sentence before any load. Locust runs in a child
process (``python -m locust -f oioi_load/locustfile.py``; importing Locust would patch this process's
sockets), configured through ``OIOI_LOAD_CONFIG`` (JSON) and ``OIOI_API_KEY``; its CSV and HTML
statistics and its output (locust.log) go to the report folder, where report.json and report.html join
them. Exit status: 0 every threshold kept (and every invariant held), 1 one broke, 2 the run could not
happen (one sentence). ``--master`` / ``--worker`` are Locust's distributed mode; everything binds
127.0.0.1 on free ports unless told otherwise.

Longer than 400 lines for a reason: the options, the checks before the run, the child process and the
verdicts after it are one command read top to bottom; the thresholds (`_thresholds`) and the reports
(`_report`) are modules of their own.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from oioi import mask
from oioi.cli import exit_with, missing_extra, standalone
from oioi.errors import ConfigError, HarnessError

if TYPE_CHECKING:
    from conformance._partner import Partner
    from conformance._target import Target
    from oioi_load._thresholds import Threshold

__all__ = ["DESCRIPTION", "UNIT_NAMES", "add_arguments", "add_parser", "load", "locust_command", "main", "run"]

DESCRIPTION = ("Send realistic OIOI traffic to a CPO's or EMP's endpoint at the rates given (business units: "
               "statuses, sessions, CDRs, …), on Locust; judge every answer as oioi validate does, then the "
               "thresholds (exit 1 when one broke). Writes Locust's CSV/HTML statistics, report.json and report.html.")
HELP = "load a CPO's or EMP's OIOI endpoint on Locust and judge thresholds"
PREFIX = "locust"  # Locust's files in the report folder: locust_stats.csv, …, locust.html, locust.log
# The business units of the traffic (oioi_load._traffic.UNITS, per role; tests/test_load_cli.py holds them equal):
# each has --UNIT-per-second and --UNIT-per-minute. Listed here so that building the parser imports nothing heavy.
UNITS_HELP = {
    "pushes": "against an EMP: station pushes (station-post of a virtual CPO's stations)",
    "statuses": "against an EMP: connector statuses (storms over the connectors the CPOs posted)",
    "verifies": "against an EMP: rfid-verify",
    "sessions": "against an EMP: charging sessions (rfid-verify, statuses, CDR updates, the final CDR); against a "
                "CPO: session-start → session-stop on the given connectors",
    "reservations": "against a CPO: reservation-start → reservation-stop",
    "whitelists": "against a CPO: rfid-post whitelists of hundreds of UIDs",
}
UNIT_NAMES = tuple(UNITS_HELP)
DEFAULT_RUN_TIME = 10  # seconds
STOP_TIMEOUT = 5  # seconds Locust lets a user finish its unit (a session's stop) when the run ends
GRACE = 30.0  # seconds beyond the run time (and the wait for workers) before the child is taken for hung
PROGRESS_EVERY = 2.0  # seconds between progress lines (Locust prints its statistics every 2 s)
DEFAULT_THRESHOLDS = ("nonconforming=0",)
_AGGREGATED = re.compile(r"^\s+Aggregated\s+(\d+)\s+(\d+)\([\d.]+%\)\s+\|")


def add_parser(commands: Any) -> None:
    """The ``load`` command of ``oioi``."""
    add_arguments(commands.add_parser("load", help=HELP, description=DESCRIPTION))


def add_arguments(c: argparse.ArgumentParser) -> None:
    """The arguments of ``load``, and its ``run``."""
    _iut_arguments(c)
    _load_arguments(c)
    _distributed_arguments(c)
    c.set_defaults(run=load, extra="load")


def _iut_arguments(c: argparse.ArgumentParser) -> None:
    """The IUT, as ``oioi certify`` takes it (conformance.cli)."""
    c.add_argument("role", nargs="?", choices=("cpo", "emp"), help="the IUT's role (or role in the declaration)")
    c.add_argument("--url", help="the IUT's OIOI endpoint, e.g. http://127.0.0.1:8000/api/v4/request")
    c.add_argument("--api-key", help="the API key the IUT accepts (or set OIOI_API_KEY)")
    c.add_argument("--declaration", metavar="FILE", help="the IUT's declaration, as oioi certify reads it (TOML; "
                   "or set OIOI_DECLARATION)")
    c.add_argument("--connector-id", action="append", default=[], metavar="ID",
                   help="an EVSE ID of the CPO IUT the load may start sessions and reservations on (repeat)")
    c.add_argument("--partner-identifier", action="append", default=[], metavar="ID",
                   help="a partner identifier the load sends, as agreed with the IUT (repeat: the load uses each)")
    c.add_argument("--rfid", action="append", default=[], metavar="STATE=UID",
                   help="UIDs the EMP IUT knows: active=…, inactive=…, unknown=… (default: testaccount.rst's)")
    c.add_argument("--seed", type=int, help="seed of the traffic (same seed, same requests)")
    c.add_argument("--timeout", type=float, help="seconds to wait for each answer (default: 10)")
    c.add_argument("--listen", metavar="HOST:PORT", help="run the mock partner here to receive what the IUT sends "
                   "under load; against a CPO the invariants are then judged from its journal")
    c.add_argument("--partner-api-key", metavar="KEY",
                   help="the key the IUT sends to the mock partner (or set OIOI_PARTNER_API_KEY)")
    c.add_argument("--control-url", metavar="URL", help="the IUT's test-control hook (see the README): with --listen, "
                   "the CPO is asked to push its stations once the mock partner listens, before the load")
    c.set_defaults(profile=None, wait=None, partner_timeout=None, retry_window=None,
                   delivery_window=None, backoff_tolerance=None, strict=False)  # certify's, not load's


def _load_arguments(c: argparse.ArgumentParser) -> None:
    """How much load, for how long, and what fails the build."""
    c.add_argument("--users", type=int, default=10, metavar="N",
                   help="concurrent Locust users at most (default: 10); the rates, not the users, set the load")
    c.add_argument("--spawn-rate", type=float, metavar="R", help="users started per second (default: all at once)")
    c.add_argument("--run-time", metavar="T", help=f"how long the load runs: 30, 30s, 2m, 1h10m (default: "
                   f"{DEFAULT_RUN_TIME}s)")
    c.add_argument("--requests", type=int, metavar="N",
                   help="stop after N requests in all (distributed: divided among the workers)")
    c.add_argument("--judge-fraction", type=float, default=1.0, metavar="F",
                   help="the fraction of answers judged against the spec (default: 1, every answer)")
    c.add_argument("--threshold", action="append", default=[], metavar="EXPR",
                   help="fails the run when broken (repeat): p95<300ms, p50<=0.2s, errors<0.1%%, nonconforming=0, "
                        "rps>=100, per call session-start:p95<300ms (default: nonconforming=0)")
    c.add_argument("--report-dir", metavar="DIR", help="where the reports go (default: reports/<timestamp>/)")
    rates = c.add_argument_group("rates", "business units per second (or --UNIT-per-minute R); the rates, not the "
                                 "users, set the load (default: oioi_load._traffic.DEFAULT_RATES)")
    for unit, what in UNITS_HELP.items():
        rates.add_argument(f"--{unit}-per-second", type=float, metavar="R", help=what)
        rates.add_argument(f"--{unit}-per-minute", type=float, metavar="R", help=argparse.SUPPRESS)


def _distributed_arguments(c: argparse.ArgumentParser) -> None:
    """Locust's distributed mode and web UI, bound to loopback unless told otherwise."""
    c.add_argument("--master", action="store_true", help="run Locust's master: workers (--worker) send the load")
    c.add_argument("--expect-workers", type=int, default=1, metavar="N",
                   help="the master starts once N workers are connected (default: 1); a worker: how many share "
                        "the rates")
    c.add_argument("--worker", action="store_true", help="run a Locust worker of a master (--master-host)")
    c.add_argument("--master-host", default="127.0.0.1", metavar="H", help="the master a worker connects to")
    c.add_argument("--master-port", type=int, metavar="P",
                   help="the master's port (a master: default a free one, printed; a worker: default 5557)")
    c.add_argument("--bind-host", default="127.0.0.1", metavar="H",
                   help="where the master and the web UI listen (default: 127.0.0.1)")
    c.add_argument("--web", action="store_true", help="Locust's web UI (on --bind-host, a free port) beside the run")


@dataclasses.dataclass(frozen=True)
class Run:
    """A load run, every option checked: what Locust is told and what is judged after it."""

    target: Target
    report_dir: Path
    run_time: int | None
    thresholds: list[Threshold]
    rates: dict[str, float]
    args: argparse.Namespace
    master_port: int | None = None
    web_port: int | None = None

    @property
    def prefix(self) -> Path:
        return self.report_dir / PREFIX

    @property
    def judged(self) -> bool:
        """Whether this process judges the run (a worker only sends)."""
        return not self.args.worker


def load(args: argparse.Namespace, stdout: TextIO, stderr: TextIO | None = None, stdin: TextIO | None = None) -> int:
    """Run the load and judge it; the exit status (0, 1 or 2)."""
    plan = _plan(args)
    with _partner(plan) as partner:
        _say_start(plan, stdout)
        _run_locust(plan, stdout)
        journal = _settled_journal(plan, partner) if partner is not None else None
    if not plan.judged:
        stdout.write("worker done: the master judges the run\n")
        return 0
    return _judge(plan, journal, stdout)


def _plan(args: argparse.Namespace) -> Run:
    """Every user mistake refused before any load: options, thresholds, the IUT (preflight), the report folder."""
    from conformance._preflight import unwritable
    from oioi_load._thresholds import parse_all

    _check_options(args)
    if importlib.util.find_spec("locust") is None:
        raise ConfigError(missing_extra(ModuleNotFoundError(name="locust"), "oioi load") or "Locust is missing.")
    thresholds = parse_all(args.threshold or DEFAULT_THRESHOLDS)
    run_time = _seconds(args.run_time) if args.run_time is not None else None if args.worker else DEFAULT_RUN_TIME
    rates = _rates(args)
    target = _target(args, rates)
    report_dir = Path(args.report_dir) if args.report_dir else _default_report_dir()
    if why := unwritable(report_dir):
        raise ConfigError(why)
    return Run(target, report_dir, run_time, thresholds, rates, args, master_port=_master_port(args),
               web_port=_free_port() if args.web else None)


def _check_options(args: argparse.Namespace) -> None:
    if args.master and args.worker:
        raise ConfigError("--master and --worker exclude each other: a process is Locust's master or one of its "
                          "workers.")
    for name, value, least in (("--users", args.users, 1), ("--requests", args.requests, 1),
                               ("--expect-workers", args.expect_workers, 1)):
        if value is not None and value < least:
            raise ConfigError(f"{name} must be a positive whole number, not {value}.")
    if args.spawn_rate is not None and args.spawn_rate <= 0:
        raise ConfigError(f"--spawn-rate must be a positive number of users per second, not {args.spawn_rate:g}.")
    if not 0 < args.judge_fraction <= 1:
        raise ConfigError(f"--judge-fraction must be a fraction above 0 and at most 1, not {args.judge_fraction:g}.")
    if args.worker and args.web:
        raise ConfigError("--web runs on the master (or a run without workers), not on a --worker.")


def _seconds(text: str) -> int:
    """``--run-time``: seconds, as Locust reads a time span (30, 30s, 2m, 1h10m)."""
    found = re.fullmatch(r"(\d+)|(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text.strip())
    if found is None or not text.strip() or not any(found.groups()):
        raise ConfigError(f"--run-time {text!r} is not a time span: give seconds (30), or 30s, 2m, 1h10m.")
    plain, hours, minutes, seconds = (int(part) if part else 0 for part in found.groups())
    total = plain or hours * 3600 + minutes * 60 + seconds
    if total < 1:
        raise ConfigError(f"--run-time {text!r} must be at least one second.")
    return total


def _rates(args: argparse.Namespace) -> dict[str, float]:
    """The business rates given, in units per second."""
    rates: dict[str, float] = {}
    for unit in UNIT_NAMES:
        per_second, per_minute = getattr(args, f"{unit}_per_second"), getattr(args, f"{unit}_per_minute")
        if per_second is not None and per_minute is not None:
            raise ConfigError(f"Give the {unit} rate once: --{unit}-per-second or --{unit}-per-minute.")
        for flag, value, per in ((f"--{unit}-per-second", per_second, 1.0), (f"--{unit}-per-minute", per_minute, 60.0)):
            if value is not None:
                if value < 0:
                    raise ConfigError(f"{flag} must be a rate of zero or more, not {value:g}.")
                rates[unit] = value / per
    return rates


def _check_rates(rates: dict[str, float], role: str) -> None:
    from oioi_load._traffic import UNITS

    if wrong := [unit for unit in rates if unit not in UNITS[role]]:
        plays, iut = ("CPOs", "an EMP") if role == "emp" else ("EMPs", "a CPO")
        raise ConfigError(f"--{wrong[0]}-per-second/-per-minute is not a rate of the load against {iut} (it plays "
                          f"{plays}): its units are {', '.join(UNITS[role])}.")


def _target(args: argparse.Namespace, rates: dict[str, float]) -> Target:
    """The IUT from the declaration, ``OIOI_*`` and the flags, as certify builds it; preflight before any load."""
    from conformance._preflight import preflight
    from conformance.cli import iut_target

    target = iut_target(args, "load")
    if target.role == "cpo" and not target.connectors:
        raise ConfigError("Load against a CPO needs its connectors: give --connector-id (repeat) or connector-id in "
                          "[iut] of the declaration.")
    _check_rates(rates, target.role)
    if why := preflight(target):
        raise ConfigError(why)
    return target


def _default_report_dir() -> Path:
    from conformance.cli import default_report_dir

    return default_report_dir()


def _free_port() -> int:
    from oioi.serving import free_port

    return free_port()


def _master_port(args: argparse.Namespace) -> int | None:
    if args.master:
        return int(args.master_port) if args.master_port else _free_port()
    return int(args.master_port or 5557) if args.worker else None


def config(plan: Run) -> dict[str, Any]:
    """``OIOI_LOAD_CONFIG``: what the locustfile reads (oioi_load._traffic.LoadConfig); never the API key."""
    from oioi_load import _invariants
    from oioi_load._traffic import LoadConfig

    target, args = plan.target, plan.args
    values: dict[str, Any] = {
        "role": target.role, "url": target.url, "rates": plan.rates, "connectors": list(target.connectors),
        "partner_identifiers": list(target.partner_identifiers), "rfids": dict(target.rfids),
        "judge_fraction": args.judge_fraction, "seed": target.seed, "requests": args.requests,
        "run_time": plan.run_time, "users": args.users, "workers": args.expect_workers if args.master or args.worker
        else 1, "timeout": target.timeout,
        "sessions_file": str((plan.report_dir / _invariants.SESSIONS_FILE).resolve()),
    }
    known = {field.name for field in dataclasses.fields(LoadConfig)}  # sessions_file once the locustfile writes it
    return {name: value for name, value in values.items() if name in known}


def locust_command(plan: Run) -> list[str]:
    """The child's command line: Locust on our locustfile, bounded, bound to loopback, files in the report folder."""
    from oioi_load import LOCUSTFILE

    args = plan.args
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE.resolve()), "--exit-code-on-error", "0",
               "--stop-timeout", str(STOP_TIMEOUT), "--loglevel", "INFO"]
    if args.worker:
        return [*command, "--worker", "--master-host", args.master_host, "--master-port", str(plan.master_port)]
    command += ["--users", str(args.users), "--spawn-rate", f"{args.spawn_rate or args.users:g}",
                "--run-time", f"{plan.run_time}s", "--csv", str(plan.prefix), "--csv-full-history",
                "--html", f"{plan.prefix}.html", "--web-host", args.bind_host]
    if args.web:
        command += ["--autostart", "--autoquit", "5", "--print-stats", "--web-port", str(plan.web_port)]
    else:
        command.append("--headless")
    if args.master:
        command += ["--master", "--master-bind-host", args.bind_host, "--master-bind-port", str(plan.master_port),
                    "--expect-workers", str(args.expect_workers), "--expect-workers-max-wait", str(int(GRACE * 2))]
    return command


@contextlib.contextmanager
def _partner(plan: Run) -> Iterator[Partner | None]:
    """With ``--listen``, the mock of the opposite role receiving what the IUT sends under load (journal in the
    report folder); None without."""
    target = plan.target
    if not target.listen or plan.args.worker:
        yield None
        return
    from conformance._partner import Partner

    partner = Partner("emp" if target.role == "cpo" else "cpo", target.listen, target.partner_api_key or "",
                      iut_url=target.url, iut_key=target.api_key, db=plan.report_dir.resolve() / "partner.sqlite3")
    partner.start()
    try:
        _push_stations(target)
        yield partner
    finally:
        partner.stop()


def _push_stations(target: Target) -> None:
    """A CPO with a test-control hook pushes its stations now that the mock partner listens (cpo/poi.rst: a status
    names a connector a station-post announced), so that the invariants judge its statuses."""
    from conformance._partner import Control, NotDone

    if target.role == "cpo" and target.control_url:
        try:
            Control(target.control_url, ask=lambda prompt: False).act("push-stations", "push your stations")
        except NotDone as refused:
            raise HarnessError(f"The CPO did not push its stations before the load ({refused}).") from None


def _say_start(plan: Run, out: TextIO) -> None:
    target, args = plan.target, plan.args
    mode = " (Locust master)" if args.master else " (Locust worker)" if args.worker else ""
    bound = f"{plan.run_time} s" if plan.run_time else "until the master stops"
    capped = f", {args.requests:,} requests at most" if args.requests else ""
    out.write(f"loading the {target.role.upper()} at {target.url} (key {mask(target.api_key)}){mode}: "
              f"{args.users} users, {bound}{capped}\n")
    if args.master:
        out.write(f"master listening on {args.bind_host}:{plan.master_port}; start {args.expect_workers} worker(s) "
                  f"with: oioi load {target.role} --url {target.url} --worker --master-host {args.bind_host} "
                  f"--master-port {plan.master_port} --expect-workers {args.expect_workers} --users {args.users} "
                  "(and the same rates and --requests)\n")
    if args.web:
        out.write(f"Locust's web UI: http://{args.bind_host}:{plan.web_port}/\n")
    out.flush()


def _run_locust(plan: Run, out: TextIO) -> None:
    """Locust in a child process until it ends; a progress line every few seconds; `HarnessError` when it fails."""
    log = plan.report_dir / f"{PREFIX}.log" if plan.judged else plan.report_dir / f"{PREFIX}-worker-{os.getpid()}.log"
    env = {**os.environ, "OIOI_LOAD_CONFIG": json.dumps(config(plan)), "OIOI_API_KEY": plan.target.api_key,
           "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as output:
        child = subprocess.Popen(locust_command(plan), stdout=output, stderr=subprocess.STDOUT, env=env,
                                 start_new_session=True)
    try:
        code = _follow(child, log, plan, out)
    except KeyboardInterrupt:
        _stop(child)
        raise HarnessError(f"The load run was interrupted; what Locust wrote so far is in {plan.report_dir}.") from None
    finally:
        _stop(child)
    _scrub(plan)
    if code != 0:
        raise HarnessError(f"Locust stopped with exit status {code} ({_last_line(log)}); see {log}.")


def _scrub(plan: Run) -> None:
    """Mask the API keys wherever Locust may have quoted one (its log, CSVs, HTML)."""
    keys = [key for key in (plan.target.api_key, plan.target.partner_api_key or "") if len(key) >= 4]
    for path in plan.report_dir.glob(f"{PREFIX}*"):
        if path.suffix in (".csv", ".log", ".html", ".json") and path.is_file():
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
            if any(key in text for key in keys):
                for key in keys:
                    text = text.replace(key, mask(key))
                path.write_text(text, encoding="utf-8", errors="surrogateescape")


def _follow(child: subprocess.Popen[bytes], log: Path, plan: Run, out: TextIO) -> int:
    """Wait for the child, bounded, writing Locust's own figures as they come (its statistics table's
    Aggregated line)."""
    waits = plan.run_time is not None
    deadline = time.monotonic() + (plan.run_time or 0) + STOP_TIMEOUT + GRACE * (3 if plan.args.master else 1)
    started = said = time.monotonic()
    offset, counts, before = 0, None, (started, 0)
    while (code := child.poll()) is None:
        if waits and time.monotonic() > deadline:
            raise HarnessError(f"Locust did not end within {deadline - started:.0f} s of its start; it was stopped "
                               f"(see {log}).")
        time.sleep(0.2)
        offset, counts = _progress(log, offset, counts)
        now = time.monotonic()
        if counts and now - said >= PROGRESS_EVERY:
            (requests, failures), rps = counts, (counts[0] - before[1]) / max(now - before[0], 1e-9)
            out.write(f"  {now - started:4.0f} s: {requests:,} requests, {rps:,.1f}/s, {failures:,} "
                      f"failure{'s' if failures != 1 else ''}\n")
            out.flush()
            said, before = now, (now, requests)
    return code


def _progress(log: Path, offset: int, counts: tuple[int, int] | None) -> tuple[int, tuple[int, int] | None]:
    """The newest requests and failures Locust printed after ``offset`` (its statistics' Aggregated line), and
    where it read to."""
    with log.open("rb") as file:
        file.seek(offset)
        chunk = file.read()
    end = chunk.rfind(b"\n") + 1
    for line in chunk[:end].decode("utf-8", "replace").splitlines():
        if found := _AGGREGATED.match(line):
            counts = int(found[1]), int(found[2])
    return offset + end, counts


def _stop(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM (Locust writes its files and quits), then SIGKILL the whole group after a while."""
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def _last_line(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "error" in line]
    return (errors or lines or ["no output"])[-1][:300]


def _settled_journal(plan: Run, partner: Partner) -> list[dict[str, Any]]:
    """The mock partner's journal once nothing new came for a second (the IUT sends from its outbox, a moment
    after its answers), waiting ``--timeout`` seconds at most."""
    from oioi.capture import read

    partner.quiet(0, seconds=plan.target.wait, settle=1.0)
    return read(partner.db)


def _judge(plan: Run, journal: list[dict[str, Any]] | None, out: TextIO) -> int:
    """Thresholds and invariants over the run; report.json and report.html; 0 all kept, 1 one broke."""
    from oioi_load import _report
    from oioi_load._thresholds import Statistics, broken, judge

    statistics = Statistics.read(plan.prefix)
    verdicts = judge(plan.thresholds, statistics)
    invariants = _invariants(plan, journal)
    report = _report.build(plan.prefix, statistics, verdicts, invariants, _report_settings(plan))
    _report.write(plan.report_dir, report)
    out.write(_report.summary(report))
    failed = broken(verdicts) + [i for i in invariants or [] if not i["holds"]]
    for failure in failed:
        sentence = failure.get("sentence") or f"invariant {failure['invariant']}: {failure['detail']}"
        out.write(f"BROKEN {sentence}\n")
    out.write(f"reports: {plan.report_dir}/report.html, report.json, {PREFIX}.html, {PREFIX}_*.csv, {PREFIX}.log\n")
    return 1 if failed else 0


def _invariants(plan: Run, journal: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """The invariants (against a CPO with ``--listen``, the mock's journal the witness); None when not judged."""
    if journal is None or plan.target.role != "cpo":
        return None
    from oioi_load import _invariants

    sessions: list[dict[str, Any]] = []
    for path in sorted(plan.report_dir.glob("sessions*.jsonl")):
        sessions += _invariants.read_sessions(path)
    return _invariants.check(journal, sessions)


def _report_settings(plan: Run) -> dict[str, Any]:
    target, args = plan.target, plan.args
    return {"iut": {"role": target.role, "url": target.url, "api_key": mask(target.api_key),
                    "connectors": list(target.connectors), "partner_identifiers": list(target.partner_identifiers),
                    "listen": target.listen},
            "run": {"users": args.users, "spawn_rate": args.spawn_rate or args.users, "run_time": plan.run_time,
                    "requests": args.requests, "judge_fraction": args.judge_fraction, "rates": plan.rates,
                    "seed": target.seed, "mode": "master" if args.master else "local",
                    "workers": args.expect_workers if args.master else 0}}


# ``python -m oioi_load``, the same arguments as ``oioi load``: run(argv, stdout, stderr, stdin=None) -> int
run = standalone("python -m oioi_load", DESCRIPTION, add_arguments)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """``python -m oioi_load``."""
    exit_with(run, argv)
