"""``oioi load`` (oioi_load/cli.py): mistakes are one sentence and exit 2 before any load; short real runs on Locust.

The real runs (marker ``load``) run alone (tests/fixtures/alone.py), each bounded by a request count and a
few seconds, on loopback: Locust runs in child processes only (importing it here would patch this
process's sockets).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance._target import Target
from examples.demo import start_reference
from mock_server.client import RunningMock, start
from oioi.cli import Parser, command
from oioi.serving import free_port
from oioi_load import UNITS
from oioi_load.cli import UNIT_NAMES, Run, add_parser, locust_command

ROOT = Path(__file__).resolve().parent.parent
KEY = "load-test-key-0123456789abcdef"
UNREACHABLE = "http://127.0.0.1:9/api/v4/request"  # discard port: nothing listens


def oioi_load(*argv: str) -> tuple[int, str, str]:
    """``oioi load ARGV`` through the command wrapper every sub-command uses; (exit code, stdout, stderr)."""
    parser = Parser(prog="oioi")
    add_parser(parser.add_subparsers(dest="command", parser_class=Parser))
    out, err = io.StringIO(), io.StringIO()
    code = command(parser, ["load", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _no_key_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OIOI_API_KEY", "OIOI_DECLARATION", "OIOI_URL", "OIOI_ROLE", "OIOI_PARTNER_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("argv", "says"), [
    (("emp", "--url", UNREACHABLE, "--api-key", KEY, "--threshold", "p95<300"), "needs a unit, ms or s"),
    (("emp", "--url", UNREACHABLE, "--api-key", KEY, "--threshold", "p95 under 1s"), "is not METRIC OP VALUE"),
    (("emp", "--url", UNREACHABLE, "--api-key", KEY, "--run-time", "ten"), "--run-time 'ten' is not a time span"),
    (("emp", "--url", UNREACHABLE, "--api-key", KEY, "--judge-fraction", "0"), "--judge-fraction must be a fraction"),
    (("emp", "--url", UNREACHABLE, "--api-key", KEY, "--users", "0"), "--users must be a positive whole number"),
    (("emp", "--url", UNREACHABLE, "--api-key", KEY, "--master", "--worker"), "exclude each other"),
    (("emp", "--url", UNREACHABLE, "--api-key", KEY, "--statuses-per-second", "5", "--statuses-per-minute", "5"),
     "Give the statuses rate once"),
    (("emp", "--url", UNREACHABLE, "--api-key", KEY, "--reservations-per-second", "1"),
     "not a rate of the load against an EMP"),
    (("cpo", "--url", UNREACHABLE, "--api-key", KEY), "needs its connectors"),
    (("emp", "--api-key", KEY), "No URL"),
    (("emp", "--url", UNREACHABLE), "No API key"),
    (("emp", "--url", UNREACHABLE, "--api-key", KEY), "Cannot reach the IUT at http://127.0.0.1:9"),
    (("emp", "--url", UNREACHABLE, "--api-key", KEY, "--userz", "3"), "did you mean --users?"),
    (("emp", "--url", UNREACHABLE, "--api-key", KEY, "--threshold", "session-strat:p95<1s"),
     "did you mean 'session-start'?"),
])
def test_a_mistake_is_one_sentence_and_exit_2_before_any_load(argv: tuple[str, ...], says: str,
                                                              tmp_path: Path) -> None:
    code, out, err = oioi_load(*argv, "--report-dir", str(tmp_path / "reports"))
    assert code == 2, err
    assert says in err and err.count("\n") == 1 and "Traceback" not in err
    assert KEY not in err + out
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())


def test_the_rate_flags_are_the_traffics_units() -> None:
    assert set(UNIT_NAMES) == {unit for units in UNITS.values() for unit in units}


def plan(*argv: str) -> Run:
    """A checked run of ``oioi load ARGV`` without its preflight (no IUT here)."""
    parser = Parser(prog="oioi")
    add_parser(parser.add_subparsers(dest="command", parser_class=Parser))
    args: argparse.Namespace = parser.parse_args(["load", *argv])
    target = Target(url="http://127.0.0.1:8000/api/v4/request", role="emp", api_key=KEY)
    return Run(target, Path("/tmp/r"), 10 if not args.worker else None, [], {}, args,
               master_port=5557 if args.master or args.worker else None, web_port=8089 if args.web else None)


def option(command_line: list[str], name: str) -> str:
    return command_line[command_line.index(name) + 1]


def test_locust_is_bounded_and_bound_to_loopback() -> None:
    alone = locust_command(plan("emp", "--users", "3"))
    assert "--headless" in alone and option(alone, "--run-time") == "10s" and option(alone, "--users") == "3"
    assert option(alone, "--web-host") == "127.0.0.1" and option(alone, "--csv") == "/tmp/r/locust"
    master = locust_command(plan("emp", "--master", "--expect-workers", "2"))
    assert option(master, "--master-bind-host") == "127.0.0.1" and option(master, "--master-bind-port") == "5557"
    assert option(master, "--expect-workers") == "2" and "--expect-workers-max-wait" in master
    worker = locust_command(plan("emp", "--worker", "--master-host", "10.0.0.5"))
    assert option(worker, "--master-host") == "10.0.0.5" and "--csv" not in worker and "--run-time" not in worker
    web = locust_command(plan("emp", "--web"))
    assert "--headless" not in web and option(web, "--web-port") == "8089" and "--autostart" in web
    assert KEY not in " ".join(alone + master + worker + web)  # the key goes in the environment only


# --- short real runs -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_emp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The reference EMP (examples/reference_emp), accepting `KEY`: its endpoint."""
    reference = start_reference("emp", "--api-key", KEY, "--db", str(tmp_path_factory.mktemp("ref") / "emp.sqlite"))
    yield reference.url
    reference.stop()


def stats(prefix: Path) -> dict[str, dict[str, str]]:
    """Locust's final ``_stats.csv``, a row per name (``Aggregated`` for the run)."""
    with Path(f"{prefix}_stats.csv").open(newline="") as file:
        return {row["Name"]: row for row in csv.DictReader(file)}


@pytest.mark.load
@pytest.mark.xdist_group("load")
def test_a_short_run_against_the_reference_emp_keeps_its_thresholds(reference_emp: str, tmp_path: Path) -> None:
    started = time.monotonic()
    code, out, err = oioi_load("emp", "--url", reference_emp, "--api-key", KEY, "--users", "4", "--run-time", "5",
                               "--requests", "400", "--statuses-per-second", "200", "--verifies-per-second", "20",
                               "--threshold", "p95<300ms", "--threshold", "nonconforming=0",
                               "--report-dir", str(tmp_path))
    assert code == 0, out + err
    assert time.monotonic() - started < 20
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict"] == "pass" and [v["verdict"] for v in report["thresholds"]] == ["kept", "kept"]
    rows = stats(tmp_path / "locust")
    total = int(rows.pop("Aggregated")["Request Count"])
    assert 0 < total <= 400 and sum(int(row["Request Count"]) for row in rows.values()) == total
    assert {c["call"]: c["requests"] for c in report["calls"]} == {n: int(r["Request Count"]) for n, r in rows.items()}
    assert {"station-post", "connector-post-status", "rfid-verify"} <= set(rows)
    assert report["summary"]["requests"] == total and report["timeline"]
    page = (tmp_path / "report.html").read_text()
    assert "<svg" in page and "src=" not in page and "http://" not in page.replace(reference_emp, "")
    assert KEY not in page + json.dumps(report) + out
    assert "threshold p95<300ms: kept" in out


@pytest.fixture
def mock_emp(tmp_path: Path) -> Iterator[RunningMock]:
    """The mock EMP (`oioi mock emp`): its journal holds every request it received."""
    running = start("emp", api_key=KEY, db=tmp_path / "mock.sqlite")
    yield running
    running.stop()


def oioi_load_process(*argv: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen([sys.executable, "-m", "oioi_load", *argv], stdout=output, stderr=subprocess.STDOUT,
                                cwd=ROOT, env={**os.environ, "OIOI_API_KEY": KEY})


@pytest.mark.load
@pytest.mark.xdist_group("load")
def test_a_distributed_run_adds_up(mock_emp: RunningMock, tmp_path: Path) -> None:
    """One master and two workers, all on loopback: the master's total is what the workers sent, and what the
    IUT's journal received."""
    port, cap = free_port(), 240
    common = ("emp", "--url", mock_emp.endpoint, "--users", "4", "--requests", str(cap), "--expect-workers", "2",
              "--statuses-per-second", "240", "--master-port", str(port))
    master = oioi_load_process(*common, "--master", "--run-time", "10", "--report-dir", str(tmp_path / "master"),
                               "--threshold", "requests=240", log=tmp_path / "master.out")
    workers = [oioi_load_process(*common, "--worker", "--report-dir", str(tmp_path / f"worker-{n}"),
                                 log=tmp_path / f"worker-{n}.out") for n in (1, 2)]
    try:
        assert master.wait(timeout=90) == 0, (tmp_path / "master.out").read_text()
        assert all(worker.wait(timeout=30) == 0 for worker in workers)
    finally:
        for process in (master, *workers):
            process.kill()
            process.wait()
    rows = stats(tmp_path / "master" / "locust")
    total = int(rows.pop("Aggregated")["Request Count"])
    assert total == cap == sum(int(row["Request Count"]) for row in rows.values())
    preflights = 3  # each of the three processes first probed the IUT with one request, as certify does
    assert len(mock_emp.journal(exchange="inbound")) == total + preflights
    assert "master listening on 127.0.0.1" in (tmp_path / "master.out").read_text()


@pytest.mark.load
@pytest.mark.xdist_group("load")
def test_answers_that_fail_break_their_thresholds_with_exact_counts(mock_emp: RunningMock, tmp_path: Path) -> None:
    """The mock answers its first five statuses 500 and its first three station pushes with a body that is not
    JSON: in a run bounded by count, exactly 5 errors and 3 nonconforming answers, each threshold broken (exit 1)."""
    mock_emp.fault(count=5, call="connector-post-status", status=500)
    mock_emp.fault(count=3, call="station-post", malformed=True)
    code, out, err = oioi_load("emp", "--url", mock_emp.endpoint, "--api-key", KEY, "--users", "2",
                               "--requests", "150", "--statuses-per-second", "150", "--run-time", "8",
                               "--threshold", "errors=0", "--threshold", "nonconforming=0", "--threshold", "p95<1s",
                               "--report-dir", str(tmp_path))
    assert code == 1, out + err
    assert "BROKEN errors of all calls is 5 of 150 requests, over the threshold 0" in out
    assert "BROKEN nonconforming of all calls is 3 of 150 requests (message/json 3), over the threshold 0" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict"] == "fail" and [v["verdict"] for v in report["thresholds"]] == ["broken", "broken", "kept"]
    assert report["conformance"]["rules"] == [{"rule": "message/json", "answers": 3, "calls": {"station-post": 3}}]
    calls = {c["call"]: c for c in report["calls"]}
    assert calls["connector-post-status"]["errors"] == 5 and calls["station-post"]["nonconforming"] == 3
    assert sum(c["requests"] for c in report["calls"]) == report["summary"]["requests"] == 150


HISTORY = """Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,\
Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,\
Total Max Response Time,Total Average Content Size
1796672311,0,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0,0,0.0,0,0,0
1796672312,2,POST,rfid-verify,40.000000,0.000000,4,5,5,6,7,9,9,9,9,9,9,40,0,4,4.6,0.1,9.5,10.0
1796672312,2,,Aggregated,40.000000,0.000000,4,5,5,6,7,9,9,9,9,9,9,40,0,4,4.6,0.1,9.5,10.0
1796672313,2,POST,rfid-verify,60.000000,0.000000,5,5,6,6,8,11,15,19,38,40,40,100,0,4,5.0,0.1,40.3,10.0
1796672313,2,POST,session-start,20.000000,1.000000,310,400,450,500,800,1012,1012,1012,1012,1012,1012,20,1,6,5.1,0.2,9.7,10.0
1796672313,2,,Aggregated,80.000000,1.000000,5,6,7,8,12,300,800,1012,1012,1012,1012,120,1,5,4.8,0.1,40.3,10.0
"""


def test_the_report_gives_the_mix_the_timeline_and_the_verdicts_on_a_self_contained_page(tmp_path: Path) -> None:
    from oioi_load import _report
    from oioi_load._thresholds import Statistics, judge, parse_all
    from tests.test_load_thresholds import FAILURES, STATS

    for name, text in (("stats", STATS), ("failures", FAILURES), ("stats_history", HISTORY)):
        (tmp_path / f"locust_{name}.csv").write_text(text, encoding="utf-8")
    statistics = Statistics.read(tmp_path / "locust")
    verdicts = judge(parse_all(["session-start:p95<300ms", "rps>=100"]), statistics)
    settings = {"iut": {"role": "emp", "url": "http://127.0.0.1:1/<b>x</b>", "api_key": "****cdef"},
                "run": {"users": 2, "run_time": 10, "rates": {"statuses": 10.0}, "judge_fraction": 1.0}}
    report = _report.build(tmp_path / "locust", statistics, verdicts, None, settings)
    assert report["verdict"] == "fail" and report["summary"]["requests"] == 2000
    assert [(c["call"], c["requests"], round(c["share"], 2)) for c in report["calls"]] == [
        ("rfid-verify", 1800, 0.9), ("session-start", 200, 0.1), ("session-stop", 0, 0.0)]
    assert report["conformance"]["rules"][0] == {"rule": "schema/pattern", "answers": 7,
                                                 "calls": {"session-start": 7}}
    assert [p["t"] for p in report["timeline"]["rfid-verify"]] == [1, 2]  # seconds since the first row
    assert report["timeline"]["session-start"][0]["p95_ms"] == 1012
    _report.write(tmp_path, report)
    page = (tmp_path / "report.html").read_text()
    assert page.count("<svg") == 2 and "<polyline" in page and "p95 of session-start is 1,012 ms" in page
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "src=" not in page and "<link" not in page  # nothing to fetch: it opens offline
    assert json.loads((tmp_path / "report.json").read_text())["thresholds"] == verdicts
    assert "threshold session-start:p95<300ms: broken (1,012 ms)" in _report.summary(report)


# --- the references' load faults, through oioi load -----------------------------------------------------------


@pytest.fixture
def faulty_emp(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The reference EMP with the load fault the test names (``--fault``): its endpoint."""
    reference = start_reference("emp", "--api-key", KEY, "--db", str(tmp_path / "emp.sqlite"), "--fault",
                                request.param)
    yield reference.url
    reference.stop()


@pytest.mark.load
@pytest.mark.xdist_group("load")
@pytest.mark.parametrize("faulty_emp", ["500-every-20th"], indirect=True)
def test_an_emp_that_answers_500_to_every_20th_request_breaks_the_error_threshold(faulty_emp: str,
                                                                                 tmp_path: Path) -> None:
    """Bounded by count: the preflight's probe is its 1st request, the load's 100 are its 2nd to 101st, so the
    load meets the 500s of its 20th, 40th, 60th, 80th and 100th: exactly 5."""
    code, out, err = oioi_load("emp", "--url", faulty_emp, "--api-key", KEY, "--users", "2", "--requests", "100",
                               "--statuses-per-second", "150", "--run-time", "8", "--threshold", "errors<1%",
                               "--threshold", "nonconforming=0", "--report-dir", str(tmp_path))
    assert code == 1, out + err
    broken = [line for line in out.splitlines() if line.startswith("BROKEN")]
    assert broken == ["BROKEN errors of all calls is 5 of 100 requests (5%), over the threshold 1%"]


@pytest.mark.load
@pytest.mark.xdist_group("load")
@pytest.mark.parametrize("faulty_emp", ["answers-after-1s"], indirect=True)
def test_an_emp_that_answers_after_a_second_breaks_p95_under_300ms(faulty_emp: str, tmp_path: Path) -> None:
    code, out, err = oioi_load("emp", "--url", faulty_emp, "--api-key", KEY, "--users", "8", "--requests", "16",
                               "--run-time", "4", "--threshold", "p95<300ms", "--report-dir", str(tmp_path))
    assert code == 1, out + err
    verdict = json.loads((tmp_path / "report.json").read_text())["thresholds"][0]
    assert verdict["verdict"] == "broken" and verdict["measured"] >= 1000
    assert f"BROKEN p95 of all calls is {verdict['measured']:,.0f} ms, over the threshold 300 ms" in out


@pytest.mark.load
@pytest.mark.xdist_group("load")
def test_a_cpo_with_the_mock_partner_listening_keeps_the_invariants(tmp_path: Path) -> None:
    """Against the reference CPO with --listen: the mock EMP receives what it sends under load; with
    --control-url the CPO pushes its stations first, so its statuses are judged."""
    from examples.reference_cpo import DEFAULT_CONNECTORS

    listen, partner_key = f"127.0.0.1:{free_port()}", "load-partner-key-0123456789"
    cpo = start_reference("cpo", "--api-key", KEY, "--db", str(tmp_path / "cpo.sqlite"), "--partner-url",
                          f"http://{listen}/api/v4/request", "--partner-api-key", partner_key)
    try:
        code, out, err = oioi_load("cpo", "--url", cpo.url, "--api-key", KEY, "--listen", listen,
                                   "--partner-api-key", partner_key, "--control-url", f"{cpo.base_url}/control",
                                   *[f"--connector-id={c}" for c in DEFAULT_CONNECTORS], "--users", "2",
                                   "--requests", "40", "--run-time", "6", "--report-dir", str(tmp_path / "run"))
    finally:
        cpo.stop()
    assert code == 0, out + err
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    invariants = {i["invariant"]: i for i in report["invariants"]}
    assert all(i["holds"] for i in invariants.values()), invariants
    assert "names a connector it posted before" in invariants["statuses-name-posted-connectors"]["detail"]
    assert "the load started has exactly one final CDR" in invariants["one-final-cdr"]["detail"]
    assert not invariants["one-final-cdr"]["detail"].startswith("Each of the 0 ")  # sessions were recorded
    assert {"session-start", "session-stop"} <= {c["call"] for c in report["calls"]}
    assert (tmp_path / "run" / "partner.sqlite3").exists() and partner_key not in out


@pytest.mark.load
@pytest.mark.xdist_group("load")
def test_a_cpo_that_drops_every_5th_cdr_breaks_one_final_cdr(tmp_path: Path) -> None:
    from examples.reference_cpo import DEFAULT_CONNECTORS

    listen, partner_key = f"127.0.0.1:{free_port()}", "load-partner-key-0123456789"
    cpo = start_reference("cpo", "--api-key", KEY, "--db", str(tmp_path / "cpo.sqlite"), "--partner-url",
                          f"http://{listen}/api/v4/request", "--partner-api-key", partner_key,
                          "--fault", "drops-every-5th-cdr")
    try:
        code, out, err = oioi_load("cpo", "--url", cpo.url, "--api-key", KEY, "--listen", listen,
                                   "--partner-api-key", partner_key, "--control-url", f"{cpo.base_url}/control",
                                   *[f"--connector-id={c}" for c in DEFAULT_CONNECTORS], "--users", "2",
                                   "--sessions-per-second", "4", "--reservations-per-second", "0",
                                   "--whitelists-per-second", "0", "--requests", "24", "--run-time", "8",
                                   "--report-dir", str(tmp_path / "run"))
    finally:
        cpo.stop()
    assert code == 1, out + err
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert {i["invariant"]: i["holds"] for i in report["invariants"]}["one-final-cdr"] is False
    assert ("BROKEN invariant one-final-cdr: 2 of 12 sessions the load started have not exactly one final CDR in "
            "the journal (2 none, 0 more than one).") in out  # 24 requests: 12 sessions, the 5th and 10th CDR dropped
