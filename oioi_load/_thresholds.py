"""Thresholds that fail the build: ``p95<300ms``, ``errors<0.1%``, ``nonconforming=0``, per call as well.

An expression is ``[CALL:]METRIC OP VALUE[UNIT]``:

- a latency: ``p50`` … ``p100`` (the percentiles Locust reports: 50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99,
  100), ``median``, ``avg``, ``max``; the value in ``ms`` or ``s``;
- ``errors`` (failures that are not a judged answer breaking a rule: 5xx, no answer, a timeout),
  ``nonconforming`` (answers that break a rule of the spec) and ``failures`` (both): a count, or a share of
  the requests with ``%``;
- ``rps`` (requests per second over the run) and ``requests`` (how many were sent);
- OP one of ``<``, ``<=``, ``>``, ``>=``, ``=`` (``==``).

They are judged against Locust's CSV statistics (``--csv PREFIX``): ``PREFIX_stats.csv`` (a row per call, its
Locust ``name``, and ``Aggregated``) and ``PREFIX_failures.csv``, whose ``Error`` is the failure's exception,
``nonconforming: <rule> …`` or ``error: <what>`` (oioi_load/locustfile.py). Nothing here imports Locust.
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import operator
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from oioi._schemas import calls, suggest
from oioi.errors import ConfigError, HarnessError

__all__ = ["PERCENTILES", "Statistics", "Threshold", "broken", "judge", "parse", "parse_all"]

# The percentiles Locust writes to its CSVs (locust.stats.PERCENTILES_TO_REPORT), as their column names.
PERCENTILES = ("50", "66", "75", "80", "90", "95", "98", "99", "99.9", "99.99", "100")
LATENCY_ALIASES = {"median": "p50", "max": "p100", "mean": "avg"}
COUNTS = ("errors", "nonconforming", "failures")
METRICS = (*(f"p{p}" for p in PERCENTILES), "avg", *LATENCY_ALIASES, *COUNTS, "rps", "requests")
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "<": operator.lt, ">": operator.gt, "=": operator.eq}
_EXPRESSION = re.compile(r"^\s*(?:(?P<call>[a-z][a-z0-9-]*)\s*:\s*)?(?P<metric>[a-z][a-z0-9.]*)\s*"
                         r"(?P<op><=|>=|==|<|>|=)\s*(?P<value>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>[a-z%/]*)\s*$")
_RULE = re.compile(r"[a-z][\w-]*/[\w./-]*\w")
EXAMPLES = "e.g. p95<300ms, errors<0.1%, nonconforming=0, rps>=100 or session-start:p95<300ms"


@dataclasses.dataclass(frozen=True)
class Threshold:
    """One threshold: ``metric op limit`` over one call (``call``) or the whole run (None).

    ``limit`` is in milliseconds for a latency, a percentage when ``percent``, else a count or a rate.
    """

    text: str
    metric: str
    op: str
    limit: float
    call: str | None = None
    percent: bool = False

    @property
    def latency(self) -> bool:
        """Whether the metric is a response time."""
        return self.metric == "avg" or self.metric.startswith("p")

    def holds(self, measured: float) -> bool:
        """Whether ``measured`` keeps the threshold."""
        return OPERATORS[self.op](measured, self.limit)


def parse(text: str) -> Threshold:
    """The threshold ``text`` says; `ConfigError` (one sentence, exit 2 before any load) when it says none."""
    found = _EXPRESSION.match(text.lower())
    if found is None:
        raise ConfigError(f"--threshold {text!r} is not METRIC OP VALUE ({EXAMPLES}).")
    call, metric, op, unit = found["call"], found["metric"], found["op"], found["unit"]
    value = float(found["value"])
    metric = LATENCY_ALIASES.get(metric, metric)
    if metric not in METRICS:
        close = suggest(metric, METRICS)
        hint = f"; did you mean {close}?" if close else f" ({EXAMPLES})"
        percentile = " (Locust reports p" + ", p".join(PERCENTILES) + ")" if metric.startswith("p") else ""
        raise ConfigError(f"--threshold {text!r}: {metric!r} is not a metric{percentile}{hint}")
    if call is not None and call not in calls():
        close = suggest(call, calls())
        raise ConfigError(f"--threshold {text!r}: {call!r} is not an OIOI call"
                          + (f"; did you mean {close!r}?" if close else "; see the file names in schemas/."))
    return Threshold(text=text.strip(), metric=metric, op=op, call=call, **_limit(text, metric, value, unit))


def _limit(text: str, metric: str, value: float, unit: str) -> dict[str, Any]:
    """The limit in the metric's unit (ms for a latency) and whether it is a percentage."""
    if metric == "avg" or metric.startswith("p"):
        if unit not in ("ms", "s"):
            raise ConfigError(f"--threshold {text!r}: a response time needs a unit, ms or s "
                              f"(e.g. {metric}<{value:g}ms), not {unit or 'none'!r}.")
        return {"limit": value * 1000 if unit == "s" else value}
    if metric in COUNTS and unit in ("", "%"):
        return {"limit": value, "percent": unit == "%"}
    if metric == "rps" and unit in ("", "/s"):
        return {"limit": value}
    if metric == "requests" and unit == "":
        return {"limit": value}
    allowed = {"rps": "none or /s", "requests": "none"}.get(metric, "none (a count) or % (a share of the requests)")
    raise ConfigError(f"--threshold {text!r}: {metric} takes {allowed} after its number, not {unit!r}.")


def parse_all(texts: Iterable[str]) -> list[Threshold]:
    """Every ``--threshold``, all parsed before the run."""
    return [parse(text) for text in texts]


@dataclasses.dataclass
class Row:
    """One row of ``PREFIX_stats.csv``: a call's figures (or the run's, ``Aggregated``), times in ms."""

    requests: int
    failures: int
    rps: float
    avg: float | None
    latency: dict[str, float | None]  # "p50" … "p100": None when no request had an answer time
    errors: int = 0
    nonconforming: int = 0
    rules: dict[str, int] = dataclasses.field(default_factory=dict)  # rule id → answers that broke it


@dataclasses.dataclass
class Statistics:
    """What Locust's CSVs say about a run: a `Row` per call, and ``total`` for the whole run."""

    calls: dict[str, Row]
    total: Row

    @classmethod
    def read(cls, prefix: Path | str) -> Statistics:
        """Read ``PREFIX_stats.csv`` and ``PREFIX_failures.csv``; `HarnessError` when the stats are not there."""
        rows: dict[str, Row] = {}
        total: Row | None = None
        for record in _records(Path(f"{prefix}_stats.csv")):
            row = _row(record)
            if record.get("Name") == "Aggregated" and not record.get("Type"):
                total = row
            else:
                rows[record.get("Name") or ""] = row
        if total is None:
            raise HarnessError(f"Locust's statistics {prefix}_stats.csv have no Aggregated row; the run did not end "
                               "as it should (see locust.log beside it).")
        failures = Path(f"{prefix}_failures.csv")
        for record in _records(failures) if failures.exists() else []:
            kind, rules = classify(record.get("Error") or "")
            count = int(record.get("Occurrences") or 0)
            for row in (rows.setdefault(record.get("Name") or "", _empty()), total):
                _count_failure(row, kind, rules, count)
        return cls(rows, total)

    def row(self, call: str | None) -> Row:
        """The figures of ``call`` (None: the whole run); a call never sent has an empty row."""
        return self.total if call is None else self.calls.get(call, _empty())


def _records(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as file:
            return list(csv.DictReader(file))
    except OSError as failure:
        raise HarnessError(f"Cannot read Locust's statistics {path} ({failure.strerror or failure}).") from None


def _number(text: str | None) -> float | None:
    """A CSV figure (None for Locust's ``N/A`` or an empty cell)."""
    try:
        return float(text) if text not in (None, "", "N/A") else None
    except ValueError:
        return None


def _row(record: dict[str, str]) -> Row:
    requests = int(_number(record.get("Request Count")) or 0)
    latency = {f"p{p}": _number(record.get(f"{p}%")) if requests else None for p in PERCENTILES}
    return Row(requests=requests, failures=int(_number(record.get("Failure Count")) or 0),
               rps=_number(record.get("Requests/s")) or 0.0,
               avg=_number(record.get("Average Response Time")) if requests else None, latency=latency)


def _empty() -> Row:
    return Row(requests=0, failures=0, rps=0.0, avg=None, latency=dict.fromkeys(f"p{p}" for p in PERCENTILES))


def _count_failure(row: Row, kind: str, rules: list[str], count: int) -> None:
    if kind == "nonconforming":
        row.nonconforming += count
        for rule in rules:
            row.rules[rule] = row.rules.get(rule, 0) + count
    else:
        row.errors += count


def classify(error: str) -> tuple[str, list[str]]:
    """A failure's kind, ``nonconforming`` (with the rules it names) or ``error``, from Locust's ``Error`` cell.

    Locust writes the exception's ``repr`` (``CatchResponseError('nonconforming: schema/pattern')``) or the
    text it was given. Anything but a judged answer is an error.
    """
    message = error.strip()
    quoted = re.fullmatch(r"\w+\((?P<text>(?P<q>['\"]).*(?P=q))\)", message, re.DOTALL)
    if quoted:
        try:
            message = str(ast.literal_eval(quoted["text"]))
        except (ValueError, SyntaxError):
            message = quoted["text"][1:-1]
    if not message.startswith("nonconforming:"):
        return "error", []
    rest = message.removeprefix("nonconforming:").strip()
    return "nonconforming", _RULE.findall(rest) or [rest.split()[0] if rest else "unknown"]


def judge(thresholds: Iterable[Threshold], statistics: Statistics) -> list[dict[str, Any]]:
    """Each threshold with what was measured and its verdict (``kept``/``broken``), and a sentence when broken."""
    return [_verdict(threshold, statistics.row(threshold.call)) for threshold in thresholds]


def broken(verdicts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The verdicts of the thresholds that broke."""
    return [verdict for verdict in verdicts if verdict["verdict"] == "broken"]


def _verdict(threshold: Threshold, row: Row) -> dict[str, Any]:
    measured = _measured(threshold, row)
    kept = measured is not None and threshold.holds(measured)
    verdict: dict[str, Any] = {"threshold": threshold.text, "call": threshold.call, "metric": threshold.metric,
                               "op": threshold.op, "limit": threshold.limit,
                               "unit": _unit(threshold), "measured": measured,
                               "verdict": "kept" if kept else "broken"}
    verdict["sentence"] = None if kept else _sentence(threshold, row, measured)
    return verdict


def _measured(threshold: Threshold, row: Row) -> float | None:
    """The figure the threshold is about (None when no request gives it)."""
    metric = threshold.metric
    if threshold.latency:
        return row.avg if metric == "avg" else row.latency.get(metric)
    if metric == "rps":
        return row.rps
    if metric == "requests":
        return float(row.requests)
    count = {"errors": row.errors, "nonconforming": row.nonconforming, "failures": row.failures}[metric]
    if not threshold.percent:
        return float(count)
    return 100.0 * count / row.requests if row.requests else None


def _unit(threshold: Threshold) -> str:
    if threshold.latency:
        return "ms"
    return "%" if threshold.percent else "requests/s" if threshold.metric == "rps" else "count"


def _sentence(threshold: Threshold, row: Row, measured: float | None) -> str:
    """``p95 of session-start is 1,012 ms, over the threshold 300 ms``."""
    of = f"of {threshold.call}" if threshold.call else "of all calls"
    if measured is None:
        sent = f"no {threshold.call} request" if threshold.call else "no request"
        return f"{threshold.metric} {of} is unknown: {sent} was sent, so the threshold {threshold.text} cannot hold"
    side = ("over" if measured > threshold.limit else "under" if measured < threshold.limit
            else "not under" if threshold.op == "<" else "not over")
    shown = _figure(threshold, measured)
    if threshold.metric in COUNTS:
        count = {"errors": row.errors, "nonconforming": row.nonconforming, "failures": row.failures}[threshold.metric]
        shown = f"{count:,} of {row.requests:,} requests" + (f" ({_figure(threshold, measured)})"
                                                              if threshold.percent else "")
        if threshold.metric == "nonconforming" and row.rules:
            shown += " (" + ", ".join(f"{rule} {n:,}" for rule, n in sorted(row.rules.items(),
                                                                             key=lambda item: -item[1])[:3]) + ")"
    return f"{threshold.metric} {of} is {shown}, {side} the threshold {_figure(threshold, threshold.limit)}"


def _figure(threshold: Threshold, value: float) -> str:
    """A value as the threshold's unit shows it: ``1,012 ms``, ``0.5%``, ``98.3 requests/s``, ``3``."""
    if threshold.latency:
        return f"{value:,.0f} ms" if value >= 100 or value == int(value) else f"{value:,.1f} ms"
    if threshold.percent:
        return f"{value:.3g}%"
    if threshold.metric == "rps":
        return f"{value:,.1f} requests/s"
    return f"{value:,.0f}"
