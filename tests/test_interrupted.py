"""An interrupted run says so: report.json and report.html say ``incomplete``, the requirements not reached
``not-run`` because "interrupted", and the summary line how far the run got."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from conformance._html import render
from conformance._report import Recorder, summary_lines
from conformance._target import Target
from tests.test_plugin import listening_url  # noqa: F401 (a fixture: something on a loopback port that answers)

# Four EMP requirements, each with the checks that speak for it.
PLANNED = {
    "transport.api-key.missing": {"test_missing"},
    "transport.api-key.wrong": {"test_wrong_first", "test_wrong_second"},
    "transport.content-type": {"test_content_type"},
    "transport.malformed-json": {"test_malformed"},
}


class _Report:
    """Just enough of a pytest.TestReport for `Recorder.record`."""

    def __init__(self, outcome: str) -> None:
        self.passed, self.skipped = outcome == "passed", outcome == "skipped"
        self.longrepr, self.longreprtext = None, ""


def _recorder(*, interrupted: bool) -> Recorder:
    """The missing-key check passed, the wrong-key check one of its two, malformed-json (a MUST) failed; then
    the stop, before the second wrong-key check and the content-type check."""
    from conformance._failures import Nonconformance

    recorder = Recorder(Target(url="http://127.0.0.1:9/api/v4/request", role="emp", api_key="k", seed=1))
    recorder.planned = {rid: set(checks) for rid, checks in PLANNED.items()}
    passed = _Report("passed")
    recorder.record("t.py::test_missing", ["transport.api-key.missing"], passed, None)  # type: ignore[arg-type]
    recorder.record("t.py::test_wrong_first", ["transport.api-key.wrong"], passed, None)  # type: ignore[arg-type]
    failure = Nonconformance(requirement="transport.malformed-json", received="HTTP 200 with result code 0",
                             expected="result code 900 (invalid JSON)")
    recorder.record("t.py::test_malformed", ["transport.malformed-json"], _Report("failed"),  # type: ignore[arg-type]
                    failure)
    recorder.interrupted = interrupted
    return recorder


def _rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in report["requirements"]}


def test_an_interrupted_run_is_incomplete_and_names_what_it_did_not_reach() -> None:
    report = _recorder(interrupted=True).report()
    rows = _rows(report)
    assert (report["interrupted"], report["verdict"]) == (True, "incomplete")
    assert report["progress"] == {"reached": 2, "planned": 4}
    assert (rows["transport.api-key.missing"]["verdict"], rows["transport.malformed-json"]["verdict"]) == (
        "pass", "fail")  # a failure stands: it is not undone by the checks that did not run
    for rid in ("transport.api-key.wrong", "transport.content-type"):  # one of two checks ran; none ran
        assert (rows[rid]["verdict"], rows[rid]["reason"]) == ("not-run", "interrupted"), rid
    unplanned = [row for rid, row in rows.items() if rid not in PLANNED and row["verdict"] == "not-run"]
    assert unplanned and all(row["reason"] != "interrupted" for row in unplanned)
    assert report["summary"]["not-run"] == sum(row["verdict"] == "not-run" for row in rows.values())


def test_the_summary_line_says_how_far_an_interrupted_run_got() -> None:
    last = summary_lines(_recorder(interrupted=True).report())[-1]
    assert last.startswith("OIOI EMP conformance: INCOMPLETE — interrupted after 2 of 4 requirements; "
                           "1 passed, 1 failed")
    assert "FAIL —" not in last and "PASS —" not in last


def test_report_html_shows_incomplete_in_the_banner_and_says_the_run_was_interrupted() -> None:
    page = render(_recorder(interrupted=True).report())
    assert '<div class="verdict incomplete">INCOMPLETE</div>' in page
    assert ('<section class="interrupted"><h4>The run was interrupted</h4><p>It stopped after 2 of 4 '
            "requirements") in page
    assert '<span class="badge not-run">not-run</span>' in page and "Reason: interrupted" in page
    assert ".incomplete{" in page  # the banner has its own colour


def test_a_run_that_was_not_interrupted_keeps_its_verdict() -> None:
    report = _recorder(interrupted=False).report()
    rows = _rows(report)
    assert (report["interrupted"], report["verdict"]) == (False, "fail")
    assert report["progress"] == {"reached": 4, "planned": 4}
    assert rows["transport.api-key.wrong"]["verdict"] == "pass"
    assert rows["transport.content-type"]["reason"] == "no check ran"
    assert "interrupted" not in summary_lines(report)[-1]
    assert 'class="interrupted"' not in render(report) and "INCOMPLETE" not in render(report)


SUITE = """
import os, signal
import pytest

STOP = os.environ.get("STOP")

@pytest.mark.requirement("transport.api-key.missing")
def test_missing():
    pass

@pytest.mark.requirement("transport.api-key.wrong")
def test_wrong():
    if STOP == "ctrl-c":
        raise KeyboardInterrupt
    if STOP == "sigterm":
        os.kill(os.getpid(), signal.SIGTERM)

@pytest.mark.requirement("transport.content-type")
def test_content_type():
    pass
"""


def _run(pytester: pytest.Pytester, url: str, stop: str, monkeypatch: pytest.MonkeyPatch) -> tuple[
        pytest.RunResult, dict[str, Any]]:
    pytester.makepyfile(test_suite=SUITE)
    monkeypatch.setenv("STOP", stop)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--oioi-url", url, "--oioi-role", "emp",
                                           "--oioi-api-key", "interrupt-key-0001", "--oioi-report-dir", "rep")
    report = json.loads((Path(pytester.path) / "rep" / "report.json").read_text(encoding="utf-8"))
    return result, report


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm"])
def test_a_stopped_pytest_run_writes_an_incomplete_report(
    pytester: pytest.Pytester, listening_url: str, stop: str, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    if stop == "sigterm" and not hasattr(signal, "SIGKILL"):
        pytest.skip("POSIX signals")
    result, report = _run(pytester, listening_url, stop, monkeypatch)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    rows = _rows(report)
    assert (report["interrupted"], report["verdict"], report["progress"]) == (True, "incomplete",
                                                                              {"reached": 1, "planned": 3})
    assert rows["transport.api-key.missing"]["verdict"] == "pass"
    for rid in ("transport.api-key.wrong", "transport.content-type"):
        assert (rows[rid]["verdict"], rows[rid]["reason"]) == ("not-run", "interrupted"), rid
    result.stdout.fnmatch_lines(["OIOI EMP conformance: INCOMPLETE — interrupted after 1 of 3 requirements; *"])
    page = (Path(pytester.path) / "rep" / "report.html").read_text(encoding="utf-8")
    assert '<div class="verdict incomplete">INCOMPLETE</div>' in page


def test_a_pytest_run_to_the_end_is_not_interrupted(
    pytester: pytest.Pytester, listening_url: str, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    result, report = _run(pytester, listening_url, "", monkeypatch)
    assert result.ret == pytest.ExitCode.OK
    assert (report["interrupted"], report["verdict"], report["progress"]) == (False, "pass",
                                                                              {"reached": 3, "planned": 3})
    result.stdout.fnmatch_lines(["OIOI EMP conformance: PASS — 3 passed, *"])
