"""A load run's summary beside Locust's own files: report.json and a self-contained report.html.

report.json holds the mix actually sent (requests per call and their share), throughput and latency
per call over time (from Locust's ``_stats_history.csv``), conformance under load per rule, the
thresholds and their verdicts, and the invariants. report.html shows the same on one page that
opens offline (inline CSS, inline SVG charts; conformance/_html.py's page and escaping).
"""

from __future__ import annotations

import csv
import datetime
import json
from pathlib import Path
from typing import Any

from conformance._html import _e, _page
from oioi import SPEC_VERSION, __version__
from oioi_load._thresholds import Row, Statistics

__all__ = ["build", "render", "summary", "timeline", "write"]

MAX_POINTS = 600  # points per series kept in report.json (a long run's history is thinned evenly)
COLOURS = ("#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#5d4037", "#ad1457", "#455a64",
           "#9e9d24")
PERCENTILES_SHOWN = ("p50", "p95", "p99")


def build(prefix: Path, statistics: Statistics, thresholds: list[dict[str, Any]],
          invariants: list[dict[str, Any]] | None, settings: dict[str, Any]) -> dict[str, Any]:
    """report.json's content for a run whose Locust files start with ``prefix``."""
    total = statistics.total
    broken = any(v["verdict"] == "broken" for v in thresholds) or any(not i["holds"] for i in invariants or [])
    history = timeline(Path(f"{prefix}_stats_history.csv"))
    return {
        "tool": {"name": "oioi load", "version": __version__, "spec": SPEC_VERSION},
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **settings,
        "verdict": "fail" if broken else "pass",
        "summary": {**_figures(total), "duration": _duration(history)},
        "calls": [{"call": name, "share": row.requests / total.requests if total.requests else 0.0, **_figures(row)}
                  for name, row in sorted(statistics.calls.items(), key=lambda item: -item[1].requests)],
        "conformance": _conformance(statistics),
        "thresholds": thresholds,
        "invariants": invariants,
        "timeline": history,
        "files": {"locust_html": f"{prefix.name}.html", "stats": f"{prefix.name}_stats.csv",
                  "failures": f"{prefix.name}_failures.csv", "history": f"{prefix.name}_stats_history.csv",
                  "log": f"{prefix.name}.log"},
    }


def _figures(row: Row) -> dict[str, Any]:
    return {"requests": row.requests, "failures": row.failures, "errors": row.errors,
            "nonconforming": row.nonconforming, "rps": round(row.rps, 2), "avg_ms": row.avg,
            **{f"{p}_ms": row.latency.get(p) for p in (*PERCENTILES_SHOWN, "p100")}}


def _conformance(statistics: Statistics) -> dict[str, Any]:
    """Per rule, the answers that broke it under load, and on which calls."""
    rules: dict[str, dict[str, int]] = {}
    for name, row in statistics.calls.items():
        for rule, count in row.rules.items():
            rules.setdefault(rule, {})[name] = count
    listed = [{"rule": rule, "answers": sum(calls.values()), "calls": calls} for rule, calls in rules.items()]
    return {"nonconforming": statistics.total.nonconforming, "errors": statistics.total.errors,
            "rules": sorted(listed, key=lambda item: (-item["answers"], item["rule"]))}


def timeline(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Per call (and ``Aggregated``), a point per second: requests/s, failures/s, p50/p95 of the moment, totals.

    ``t`` is seconds since the first row; a missing file (no ``--csv-full-history``) is no timeline.
    """
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as file:
        records = list(csv.DictReader(file))
    start = min((int(r["Timestamp"]) for r in records if r.get("Timestamp", "").isdigit()), default=0)
    series: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if not record.get("Timestamp", "").isdigit() or record.get("50%") in (None, "N/A"):
            continue
        series.setdefault(record.get("Name") or "", []).append({
            "t": int(record["Timestamp"]) - start, "users": _int(record.get("User Count")),
            "rps": _float(record.get("Requests/s")), "fps": _float(record.get("Failures/s")),
            "p50_ms": _float(record.get("50%")), "p95_ms": _float(record.get("95%")),
            "requests": _int(record.get("Total Request Count")), "failures": _int(record.get("Total Failure Count"))})
    return {name: points[:: max(1, -(-len(points) // MAX_POINTS))] for name, points in series.items()}


def _float(text: str | None) -> float:
    try:
        return float(text or 0)
    except ValueError:
        return 0.0


def _int(text: str | None) -> int:
    return int(_float(text))


def _duration(history: dict[str, list[dict[str, Any]]]) -> int | None:
    points = history.get("Aggregated") or []
    return points[-1]["t"] if points else None


def write(report_dir: Path, report: dict[str, Any]) -> None:
    """report.json and report.html into ``report_dir``."""
    (report_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (report_dir / "report.html").write_text(render(report), encoding="utf-8")


def summary(report: dict[str, Any]) -> str:
    """A few lines for the terminal: the mix, latency, failures, each threshold's verdict."""
    s = report["summary"]
    mix = ", ".join(f"{c['call']} {c['requests']:,}" for c in report["calls"][:8]) or "none"
    lines = [f"sent {s['requests']:,} requests ({s['rps']:,.1f}/s): {mix}",
             f"latency p50 {_ms(s['p50_ms'])}, p95 {_ms(s['p95_ms'])}, p99 {_ms(s['p99_ms'])}; "
             f"failures {s['failures']:,} ({s['nonconforming']:,} nonconforming, {s['errors']:,} errors)"]
    lines += [f"threshold {v['threshold']}: {v['verdict']} ({_measured(v)})" for v in report["thresholds"]]
    lines += [f"invariant {i['invariant']}: {'holds' if i['holds'] else 'broken'}" for i in report["invariants"] or []]
    return "\n".join(lines) + "\n"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def _measured(verdict: dict[str, Any]) -> str:
    value, unit = verdict["measured"], verdict["unit"]
    if value is None:
        return "nothing measured"
    shown = {"ms": f"{value:,.0f} ms", "%": f"{value:.3g}%", "requests/s": f"{value:,.1f}/s"}
    return shown.get(unit, f"{value:,.0f}")


# --- report.html ---------------------------------------------------------------------------------


def render(report: dict[str, Any]) -> str:
    """report.html: verdict, thresholds, charts over time, the mix per call, conformance per rule, invariants."""
    history = report.get("timeline") or {}
    calls = {name: points for name, points in history.items() if name != "Aggregated"}
    body = [_header(report), _thresholds(report["thresholds"]),
            "<h2>Throughput and latency per call over time</h2>",
            _chart(calls, "rps", "requests/s"), _chart(calls, "p95_ms", "p95 (ms)"),
            _calls(report["calls"]), _rules(report["conformance"]), _invariants(report.get("invariants")),
            _files(report.get("files") or {})]
    return _page("OIOI load report", "\n".join(body))


def _header(report: dict[str, Any]) -> str:
    iut, run, s = report.get("iut") or {}, report.get("run") or {}, report["summary"]
    verdict = report["verdict"]
    facts = {"IUT": f"{str(iut.get('role', '')).upper()} at {iut.get('url')}", "API key": iut.get("api_key"),
             "users": run.get("users"), "run time": f"{run.get('run_time')} s", "requests cap": run.get("requests"),
             "rates (units/s)": ", ".join(f"{k} {v:g}" for k, v in (run.get("rates") or {}).items()) or "defaults",
             "judged": f"{float(run.get('judge_fraction') or 1):.0%} of the answers", "seed": run.get("seed"),
             "sent": f"{s['requests']:,} requests, {s['rps']:,.1f}/s",
             "latency": f"p50 {_ms(s['p50_ms'])}, p95 {_ms(s['p95_ms'])}, p99 {_ms(s['p99_ms'])}",
             "failures": f"{s['failures']:,} ({s['nonconforming']:,} nonconforming, {s['errors']:,} errors)"}
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts.items())
    return (f'<header><div><h1>OIOI load report</h1><dl>{rows}</dl></div><div class="outcome">'
            f'<span class="verdict {"pass" if verdict == "pass" else "fail"}">{_e(verdict.upper())}</span>'
            f'<p class="muted">{_e(report.get("created"))}</p></div></header>')


def _thresholds(verdicts: list[dict[str, Any]]) -> str:
    rows = "".join(f'<tr><td><code>{_e(v["threshold"])}</code></td><td class="n">{_e(_measured(v))}</td>'
                   f'<td><span class="badge {"pass" if v["verdict"] == "kept" else "fail"}">{_e(v["verdict"])}'
                   f'</span></td><td>{_e(v.get("sentence") or "")}</td></tr>' for v in verdicts)
    return ("<h2>Thresholds</h2><table><thead><tr><th>threshold</th><th>measured</th><th>verdict</th><th></th></tr>"
            f"</thead><tbody>{rows or '<tr><td colspan=4>none</td></tr>'}</tbody></table>")


def _calls(calls: list[dict[str, Any]]) -> str:
    head = "".join(f"<th class='n'>{h}</th>" for h in ("requests", "share", "req/s", "nonconforming", "errors",
                                                        "p50", "p95", "p99", "max"))
    rows = "".join(
        f"<tr><td><code>{_e(c['call'])}</code></td><td class='n'>{c['requests']:,}</td>"
        f"<td class='n'>{c['share']:.1%}</td><td class='n'>{c['rps']:,.1f}</td><td class='n'>{c['nonconforming']:,}"
        f"</td><td class='n'>{c['errors']:,}</td>"
        + "".join(f"<td class='n'>{_e(_ms(c[f'{p}_ms']))}</td>" for p in (*PERCENTILES_SHOWN, "p100")) + "</tr>"
        for c in calls)
    return (f"<h2>The mix actually sent, per call</h2><table><thead><tr><th>call</th>{head}</tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _rules(conformance: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td><code>{_e(r['rule'])}</code></td><td class='n'>{r['answers']:,}</td><td>"
                   + _e(", ".join(f"{call} {n:,}" for call, n in r["calls"].items())) + "</td></tr>"
                   for r in conformance["rules"])
    if not rows:
        return "<h2>Conformance under load</h2><p>Every judged answer conformed to the spec.</p>"
    return ("<h2>Conformance under load</h2><table><thead><tr><th>rule</th><th class='n'>answers</th><th>calls"
            f"</th></tr></thead><tbody>{rows}</tbody></table>")


def _invariants(invariants: list[dict[str, Any]] | None) -> str:
    if invariants is None:
        return ("<h2>Invariants</h2><p class='muted'>Not judged: they need a CPO and <code>--listen</code> (the mock "
                "partner's journal is the witness).</p>")
    rows = "".join(f"<tr><td><code>{_e(i['invariant'])}</code></td><td><span class='badge "
                   f"{'pass' if i['holds'] else 'fail'}'>{'holds' if i['holds'] else 'broken'}</span></td>"
                   f"<td>{_e(i['detail'])}" + "".join(f"<br><small>{_e(x)}</small>" for x in i.get("examples") or [])
                   + "</td></tr>" for i in invariants)
    return f"<h2>Invariants</h2><table><tbody>{rows}</tbody></table>"


def _files(files: dict[str, str]) -> str:
    links = "".join(f'<li><a href="{_e(name)}">{_e(name)}</a></li>' for name in files.values())
    return f"<h2>Locust's own files</h2><ul>{links}</ul>"


def _chart(series: dict[str, list[dict[str, Any]]], key: str, label: str) -> str:
    """An inline SVG line chart of ``key`` over time, a line per call, with its legend."""
    width, height, left, top, bottom = 860, 240, 56, 14, 30
    points = [p for line in series.values() for p in line]
    if not points:
        return f"<p class='muted'>No {_e(label)} over time: the run left no history.</p>"
    t_max = max(p["t"] for p in points) or 1
    v_max = max(float(p[key]) for p in points) or 1.0
    lines, legend = [], []
    for index, (name, line) in enumerate(sorted(series.items())):
        colour = COLOURS[index % len(COLOURS)]
        coords = " ".join(f"{left + (width - left - 10) * p['t'] / t_max:.1f},"
                          f"{top + (height - top - bottom) * (1 - float(p[key]) / v_max):.1f}" for p in line)
        lines.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{coords}"/>')
        legend.append(f'<span class="badge" style="background:{colour};color:#fff">{_e(name)}</span>')
    axes = (f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#5f6b7a"/>'
            f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#5f6b7a"/>'
            f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">{v_max:,.0f}</text>'
            f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end">0</text>'
            f'<text x="{width - 10}" y="{height - 8}" text-anchor="end">{t_max} s</text>'
            f'<text x="{left + 4}" y="{top + 10}">{_e(label)}</text>')
    return (f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="{_e(label)} per call over time">{axes}{"".join(lines)}</svg>'
            f'<div class="counts" style="justify-content:flex-start">{"".join(legend)}</div>')
