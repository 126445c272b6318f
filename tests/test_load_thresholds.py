"""Thresholds (oioi_load/_thresholds.py): parsed before the run, judged against Locust's CSVs after it.

The CSVs are written here in Locust's own format (2.x): ``_stats.csv`` with a row per call and
``Aggregated``, ``_failures.csv`` whose ``Error`` is the failure's exception as Locust writes it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from oioi.errors import ConfigError, HarnessError
from oioi_load._thresholds import Statistics, Threshold, broken, classify, judge, parse, parse_all

HEADER = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
          "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
          "99.99%,100%")
STATS = f"""{HEADER}
POST,rfid-verify,1800,0,4,5.2,1.1,40.3,120.0,180.0,0.0,4,5,6,6,8,11,15,19,38,40,40
POST,session-start,200,12,310,402.7,12.0,1012.4,180.0,20.0,1.2,310,400,450,500,800,1012,1012,1012,1012,1012,1012
POST,session-stop,0,0,0,0.0,0,0,0.0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A
,Aggregated,2000,12,5,45.0,1.1,1012.4,126.0,200.0,1.2,5,6,7,8,12,300,800,1012,1012,1012,1012
"""
FAILURES = """Method,Name,Error,Occurrences,First Seen,Last Seen
POST,session-start,"CatchResponseError('nonconforming: schema/pattern')",7,2026-12-07T19:38:31Z,2026-12-07T19:38:33Z
POST,session-start,"CatchResponseError(""nonconforming: semantic/session-id-echoed, schema/required"")",2,,
POST,session-start,CatchResponseError('error: HTTP 500'),3,,
"""


@pytest.fixture
def statistics(tmp_path: Path) -> Statistics:
    """A run of 2,000 requests: rfid-verify fast and clean, session-start slow with 9 nonconforming and 3 errors."""
    (tmp_path / "locust_stats.csv").write_text(STATS, encoding="utf-8")
    (tmp_path / "locust_failures.csv").write_text(FAILURES, encoding="utf-8")
    return Statistics.read(tmp_path / "locust")


def verdict_of(text: str, statistics: Statistics) -> dict[str, object]:
    return judge([parse(text)], statistics)[0]


@pytest.mark.parametrize(("text", "expected"), [
    ("p95<300ms", Threshold("p95<300ms", "p95", "<", 300.0)),
    ("p50<=0.2s", Threshold("p50<=0.2s", "p50", "<=", 200.0)),
    ("errors<0.1%", Threshold("errors<0.1%", "errors", "<", 0.1, percent=True)),
    ("nonconforming=0", Threshold("nonconforming=0", "nonconforming", "=", 0.0)),
    ("rps>=100", Threshold("rps>=100", "rps", ">=", 100.0)),
    ("session-start:p95<300ms", Threshold("session-start:p95<300ms", "p95", "<", 300.0, call="session-start")),
    (" median < 20 ms ", Threshold("median < 20 ms", "p50", "<", 20.0)),
    ("p99.9<1s", Threshold("p99.9<1s", "p99.9", "<", 1000.0)),
    ("requests>=1000", Threshold("requests>=1000", "requests", ">=", 1000.0)),
    ("failures==0", Threshold("failures==0", "failures", "==", 0.0)),
])
def test_each_kind_of_expression_is_parsed(text: str, expected: Threshold) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(("text", "says"), [
    ("p95 under 300ms", "is not METRIC OP VALUE"),
    ("p95<300", "needs a unit, ms or s"),
    ("p95<300kg", "needs a unit"),
    ("p97<300ms", "Locust reports p50, p66"),
    ("eror<1%", "did you mean errors?"),
    ("session-strat:p95<1s", "did you mean 'session-start'?"),
    ("errors<1ms", "errors takes none (a count) or %"),
    ("rps>=100%", "rps takes none or /s"),
])
def test_a_threshold_that_cannot_be_parsed_is_one_sentence(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=r"^--threshold .*\.$|\?$") as refused:
        parse_all(["p95<300ms", text])
    assert says in str(refused.value) and "\n" not in str(refused.value)


def test_the_csvs_are_read_per_call_and_for_the_run(statistics: Statistics) -> None:
    start, total = statistics.row("session-start"), statistics.row(None)
    assert (start.requests, start.failures, start.nonconforming, start.errors) == (200, 12, 9, 3)
    assert start.rules == {"schema/pattern": 7, "semantic/session-id-echoed": 2, "schema/required": 2}
    assert start.latency["p95"] == 1012 and start.avg == 402.7
    assert (total.requests, total.nonconforming, total.errors, total.rps) == (2000, 9, 3, 200.0)
    assert statistics.row("session-stop").latency["p95"] is None  # Locust's N/A
    assert statistics.row("reservation-start").requests == 0  # never sent


@pytest.mark.parametrize(("text", "measured"), [
    ("p95<=300ms", 300.0),                  # the run's p95, at the limit of <=
    ("rfid-verify:p95<300ms", 11.0),        # per call
    ("rfid-verify:nonconforming=0", 0.0),
    ("rfid-verify:avg<10ms", 5.2),
    ("max<2s", 1012.0),
    ("errors<0.5%", 0.15),                  # 3 of 2,000
    ("errors<=3", 3.0),
    ("failures<1%", 0.6),
    ("rps>=100", 200.0),
    ("requests>=2000", 2000.0),
    ("session-start:requests=200", 200.0),
])
def test_a_kept_threshold(statistics: Statistics, text: str, measured: float) -> None:
    verdict = verdict_of(text, statistics)
    assert verdict["verdict"] == "kept" and verdict["sentence"] is None
    assert verdict["measured"] == pytest.approx(measured)


@pytest.mark.parametrize(("text", "sentence"), [
    ("session-start:p95<300ms", "p95 of session-start is 1,012 ms, over the threshold 300 ms"),
    ("p95<0.3s", "p95 of all calls is 300 ms, not under the threshold 300 ms"),
    ("p50<=0.2s", "p50 of session-start is 310 ms, over the threshold 200 ms"),
    ("errors<0.1%", "errors of all calls is 3 of 2,000 requests (0.15%), over the threshold 0.1%"),
    ("nonconforming=0", "nonconforming of all calls is 9 of 2,000 requests (schema/pattern 7, "
                        "semantic/session-id-echoed 2, schema/required 2), over the threshold 0"),
    ("rps>=250", "rps of all calls is 200.0 requests/s, under the threshold 250.0 requests/s"),
    ("session-stop:p95<300ms", "p95 of session-stop is unknown: no session-stop request was sent, so the "
                               "threshold session-stop:p95<300ms cannot hold"),
])
def test_a_broken_threshold_says_which_and_by_how_much(statistics: Statistics, text: str, sentence: str) -> None:
    if text == "p50<=0.2s":
        text = "session-start:p50<=0.2s"
    verdict = verdict_of(text, statistics)
    assert verdict["verdict"] == "broken"
    assert verdict["sentence"] == sentence


def test_broken_keeps_only_the_broken(statistics: Statistics) -> None:
    verdicts = judge(parse_all(["p95<2s", "nonconforming=0", "errors<1%"]), statistics)
    assert [v["threshold"] for v in broken(verdicts)] == ["nonconforming=0"]


@pytest.mark.parametrize(("error", "kind", "rules"), [
    ("CatchResponseError('nonconforming: schema/pattern')", "nonconforming", ["schema/pattern"]),
    ("nonconforming: semantic/session-interval-ordered at /session-interval", "nonconforming",
     ["semantic/session-interval-ordered"]),
    ("Exception(\"nonconforming: conversation/status-for-posted-connector, schema/type\")", "nonconforming",
     ["conversation/status-for-posted-connector", "schema/type"]),
    ("CatchResponseError('error: HTTP 503')", "error", []),
    ("ConnectionRefusedError(111, 'Connection refused')", "error", []),
])
def test_a_failure_is_classified_from_locusts_error_cell(error: str, kind: str, rules: list[str]) -> None:
    assert classify(error) == (kind, rules)


def test_statistics_without_their_aggregated_row_are_a_harness_error(tmp_path: Path) -> None:
    (tmp_path / "locust_stats.csv").write_text(HEADER + "\n", encoding="utf-8")
    with pytest.raises(HarnessError, match="no Aggregated row"):
        Statistics.read(tmp_path / "locust")
    with pytest.raises(HarnessError, match="Cannot read Locust's statistics"):
        Statistics.read(tmp_path / "missing")
