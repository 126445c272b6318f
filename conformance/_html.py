"""Render a conformance run's report.json as one self-contained page, report.html.

The page opens offline: inline CSS, an inline SVG chart, no external resource. Every value taken from the
report goes through :func:`html.escape`, because bodies and headers come from the implementation under test
(IUT) and are untrusted; a Content-Security-Policy that allows only our own inline script backs that up.
"""

from __future__ import annotations

import base64
import hashlib
import json
from html import escape
from typing import Any

# ISO/IEC 9646 verdicts, in the order of report.json's summary.
VERDICTS = ("pass", "fail", "inconclusive", "not-run", "not-applicable")
# Fill of each verdict's chart segment, and a text colour that stays readable on it.
COLOURS = {
    "pass": ("#2e7d32", "#fff"),
    "fail": ("#c62828", "#fff"),
    "inconclusive": ("#6a1b9a", "#fff"),
    "not-run": ("#f9a825", "#222"),
    "not-applicable": ("#90a4ae", "#fff"),
}
# What each verdict and level means, under the summary (README: "What a FAIL means").
_MEANING = (
    '<p class="muted"><b>fail</b>: the IUT broke the requirement; a failed MUST fails the run, a failed SHOULD only '
    "with <code>--strict</code>. A MUST rests on a sentence of the spec (must, required, always, never, only) or on "
    "the definition of the call (basis <i>normative</i>); our own reading of the spec (<i>interpretation</i>) is "
    "always a SHOULD. <b>inconclusive</b>: the check ran but could not decide; never fails the run. "
    "<b>not-run</b>: the check could not start (the reason says why). <b>not-applicable</b>: another role, or a "
    "feature the IUT's declaration says it does not implement.</p>"
)
# Opens every <details> before printing, so that a printout shows each failure in full.
_SCRIPT = "addEventListener('beforeprint',()=>document.querySelectorAll('details').forEach(d=>d.open=true))"
_CSS = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;max-width:1160px;
 margin:0 auto;padding:24px}
h1{margin:0 0 6px;font-size:1.7rem}
h2{margin:34px 0 12px;font-size:1.25rem;border-bottom:2px solid #d8dee6;padding-bottom:4px}
h4{margin:14px 0 4px;font-size:.9rem}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
header{display:flex;gap:24px;justify-content:space-between;align-items:flex-start}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}
dt{color:#5f6b7a}
dd{margin:0}
.outcome{text-align:right}
.verdict{display:inline-block;font-size:2.2rem;font-weight:700;padding:8px 34px;border-radius:10px;letter-spacing:.05em}
.counts{display:flex;gap:6px;margin-top:10px;justify-content:flex-end;flex-wrap:wrap}
.badge{display:inline-block;padding:1px 7px;border-radius:4px;font-size:12px;font-weight:600;white-space:nowrap}
.pass{background:#2e7d32;color:#fff}
.fail{background:#c62828;color:#fff}
.inconclusive{background:#6a1b9a;color:#fff}
.not-run{background:#f9a825;color:#222}
.not-applicable{background:#90a4ae;color:#fff}
.incomplete{background:#455a64;color:#fff}
.interrupted{border:2px solid #455a64;background:#eceff1;border-radius:6px;padding:4px 14px;margin:14px 0}
.lvl-MUST{background:#c62828;color:#fff}
.lvl-SHOULD{background:#ef6c00;color:#fff}
.lvl-MUST,.lvl-SHOULD{border-radius:4px;padding:1px 6px;font-size:12px;font-weight:700}
td.level{min-width:8.5em}
details.why{font-size:12px;color:#5f6b7a;margin-top:3px}
details.why>summary{padding:0;font-weight:400;text-decoration:underline dotted}
details.why[open]{color:#1d2430;max-width:22em}
.basis-interpretation{font-style:italic}
.warnings{border:1px solid #f9a825;background:#fffbea;border-radius:6px;padding:4px 14px;margin:14px 0}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #d8dee6;vertical-align:top}
table.areas{width:auto;min-width:60%}
.n{text-align:right;font-variant-numeric:tabular-nums}
td.id{min-width:11em}
td.spec{font-size:13px;max-width:16em}
td.title{width:40%}
tbody th{background:#eef2f6;font-size:1rem}
.muted{color:#5f6b7a;font-size:13px}
details.failure{border:1px solid #d8dee6;border-left:6px solid #ef6c00;border-radius:6px;margin:10px 0;padding:0 14px}
details.failure.must{border-left-color:#c62828;background:#fff6f6}
details.failure.must>summary{font-size:1.05rem}
summary{cursor:pointer;padding:9px 0;font-weight:600}
pre{background:#f4f6f9;border:1px solid #d8dee6;border-radius:4px;padding:8px 10px;margin:0;white-space:pre-wrap;
 overflow-wrap:anywhere;max-height:32em;overflow:auto}
pre.finding{background:#fff;font-size:14px;border-color:#e0b4b4}
.attempt{padding-bottom:12px}
svg{max-width:100%;height:auto}
svg text{font:13px system-ui,sans-serif}
@media print{body{padding:0;font-size:12px}pre{max-height:none;overflow:visible}
 details.failure,tr{break-inside:avoid}*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""


def render(report: dict[str, Any], *, expand: bool = False) -> str:
    """Return report.html for a report.json mapping; ``expand`` opens every failure (screenshots, review)."""
    requirements: list[dict[str, Any]] = report.get("requirements") or []
    areas: dict[str, list[dict[str, Any]]] = {}
    for requirement in requirements:
        areas.setdefault(str(requirement.get("area", "other")), []).append(requirement)
    counts = {area: _count(reqs) for area, reqs in areas.items()}
    failed = [req for reqs in areas.values() for req in reqs if req.get("verdict") == "fail"]
    body = [_header(report, report.get("summary") or _count(requirements)), _interrupted(report),
            _warnings(report.get("setup_warnings"))]
    body.append(_summary(counts))
    body += [_failures(failed, expand, bool(report.get("strict"))), _requirements(areas)]
    return _page("OIOI conformance report", "\n".join(body))


def _e(value: object) -> str:
    """Escape a report value for HTML text or a quoted attribute; a missing value shows as a dash."""
    return "—" if value is None else escape(str(value))


def _count(requirements: list[dict[str, Any]]) -> dict[str, int]:
    return {verdict: sum(req.get("verdict") == verdict for req in requirements) for verdict in VERDICTS}


def _page(title: str, body: str) -> str:
    digest = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    csp = f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{digest}'"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n<script>{_SCRIPT}</script>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _header(report: dict[str, Any], summary: dict[str, int]) -> str:
    iut, tool, spec = report.get("iut") or {}, report.get("tool") or {}, report.get("spec") or {}
    duration = report.get("duration_s")
    meta = {
        "Implementation under test": f"<code>{_e(iut.get('url'))}</code>",
        "Role": _e(str(iut.get("role", "")).upper() or None),
        "Profile": _e(report.get("profile")),
        "Strict": ("yes: a failed SHOULD fails the run too" if report.get("strict")
                   else "no: only a failed MUST fails the run (<code>--strict</code> counts SHOULDs too)"),
        "Seed": f"<code>{_e(report.get('seed'))}</code>",
        "Spec": f"{_e(spec.get('name'))} {_e(spec.get('version'))}",
        "Tool": f"{_e(tool.get('name'))} {_e(tool.get('version'))}",
        "Started": _e(report.get("started")),
        "Duration": _e(None if duration is None else f"{duration:.2f} s"),
    }
    rows = "".join(f"<dt>{key}</dt><dd>{value}</dd>" for key, value in meta.items())
    verdict = str(report.get("verdict", "fail"))
    chips = "".join(f'<span class="badge {v}">{_e(summary.get(v, 0))} {v}</span>' for v in VERDICTS)
    return (
        f'<header><div><h1>OIOI conformance report</h1><dl>{rows}</dl></div><div class="outcome">'
        f'<div class="verdict {_e(verdict)}">{_e(verdict.upper())}</div>'
        f'<div class="counts">{chips}</div></div></header>'
    )


def _interrupted(report: dict[str, Any]) -> str:
    """Says first that the run was interrupted: its verdict is incomplete, whatever passed or failed so far."""
    if not report.get("interrupted"):
        return ""
    progress = report.get("progress") or {}
    return (
        '<section class="interrupted"><h4>The run was interrupted</h4><p>It stopped after '
        f"{_e(progress.get('reached', 0))} of {_e(progress.get('planned', 0))} requirements, so its verdict is "
        "<b>incomplete</b>: the requirements it did not reach are <i>not-run</i> with the reason "
        "&ldquo;interrupted&rdquo;. The failures below stand; run it again to the end for a verdict.</p></section>"
    )


def _warnings(warnings: list[str] | None) -> str:
    """The preflight's doubts about the setup, shown first: a setup mistake is never the IUT's FAIL."""
    if not warnings:
        return ""
    items = "".join(f"<li>{_e(w)}</li>" for w in warnings)
    return f'<section class="warnings"><h4>Check the setup first</h4><ul>{items}</ul></section>'


def _summary(counts: dict[str, dict[str, int]]) -> str:
    head = "<tr><th>Area</th>" + "".join(f"<th class=n>{v}</th>" for v in VERDICTS) + "<th class=n>total</th></tr>"
    rows = "".join(
        f"<tr><td>{_e(area)}</td>{''.join(f'<td class=n>{c[v]}</td>' for v in VERDICTS)}"
        f"<td class=n>{sum(c.values())}</td></tr>"
        for area, c in counts.items()
    )
    table = f"<table class=areas><thead>{head}</thead><tbody>{rows}</tbody></table>"
    return f"<section><h2>Summary by area</h2>{_chart(counts)}\n{table}{_MEANING}</section>"


def _chart(counts: dict[str, dict[str, int]]) -> str:
    """A horizontal stacked bar per area, drawn to one scale so that the areas compare by size."""
    label_w, bar_w, step, top = 150, 640, 30, 34
    scale = bar_w / max([sum(c.values()) for c in counts.values()] + [1])
    legend, x = [], label_w
    for v in VERDICTS:
        label = f"{v} ({sum(c[v] for c in counts.values())})"
        legend.append(f'<rect x="{x}" y="4" width="14" height="14" fill="{COLOURS[v][0]}"/>'
                      f'<text x="{x + 20}" y="16">{label}</text>')
        x += 20 + len(label) * 7 + 16  # about 7 px per character of the 13 px label
    bars = "".join(_bar(area, c, top + i * step, label_w, scale) for i, (area, c) in enumerate(counts.items()))
    height = top + len(counts) * step + 4
    return (
        f'<svg class="chart" viewBox="0 0 {label_w + bar_w + 50} {height}" width="{label_w + bar_w + 50}" '
        f'height="{height}" role="img" aria-label="Verdicts per area">{"".join(legend)}{bars}</svg>'
    )


def _bar(area: str, counts: dict[str, int], y: int, x: float, scale: float) -> str:
    label = f'<text x="{x - 10}" y="{y + 16}" text-anchor="end">{_e(area)}</text>'
    parts = [f'<g class="bar" data-area="{_e(area)}">{label}']
    for verdict in VERDICTS:
        width, (fill, ink) = counts[verdict] * scale, COLOURS[verdict]
        if width:
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="22" fill="{fill}">'
                f"<title>{_e(area)}: {counts[verdict]} {verdict}</title></rect>"
            )
        if width >= 18:
            middle, number = x + width / 2, counts[verdict]
            parts.append(f'<text x="{middle:.1f}" y="{y + 16}" text-anchor="middle" fill="{ink}">{number}</text>')
        x += width
    parts.append(f'<text x="{x + 8:.1f}" y="{y + 16}" fill="#5f6b7a">{sum(counts.values())}</text></g>')
    return "".join(parts)


def _failures(failed: list[dict[str, Any]], expand: bool, strict: bool) -> str:
    items = "\n".join(_failure(req, expand, strict) for req in failed) or "<p>No requirement failed.</p>"
    must = sum(req.get("level") == "MUST" for req in failed)
    split = f": {must} MUST, {len(failed) - must} SHOULD" if failed else ""
    return f"<section><h2>Failures ({len(failed)}{split})</h2>\n{items}</section>"


def _failure(req: dict[str, Any], expand: bool, strict: bool) -> str:
    level = str(req.get("level", ""))
    fatal = "" if level == "MUST" or strict else " · not fatal: a failed SHOULD fails the run only with --strict"
    basis = f" · Basis: {_e(req.get('basis'))}: {_e(req.get('why'))}" if req.get("basis") else ""
    attempts = "".join(_attempt(f) for f in req.get("failures") or []) or "<p>No failure details were recorded.</p>"
    return (
        f'<details class="failure {"must" if level == "MUST" else "should"}" id="fail-{_e(req.get("id"))}"'
        f'{" open" if expand else ""}><summary><span class="lvl-{_e(level)}">{_e(level)}</span> '
        f"<code>{_e(req.get('id'))}</code> — {_e(req.get('title'))}</summary>"
        f'<p class="muted">Call <code>{_e(req.get("call"))}</code> · {_spec(req.get("spec"))}{basis}{fatal}</p>'
        f"{attempts}</details>"
    )


def _attempt(failure: dict[str, Any]) -> str:
    if failure.get("received") is not None or failure.get("expected") is not None:
        finding = f"<b>Received:</b> {_e(failure.get('received'))}\n<b>Expected:</b> {_e(failure.get('expected'))}"
    else:
        finding = _e(failure.get("message"))
    parts = [f'<h4>Check <code>{_e(failure.get("check"))}</code></h4><pre class="finding">{finding}</pre>']
    if failure.get("request") or not failure.get("journal"):  # the journal alone is the evidence of a sequence
        parts += [
            f"<h4>Request</h4><pre>{_e(_request_text(failure.get('request')))}</pre>",
            f"<h4>Response</h4><pre>{_e(_response_text(failure.get('response'), failure.get('error')))}</pre>",
        ]
    if failure.get("journal"):
        parts.append(f"<h4>Messages the IUT sent (mock partner's journal)</h4>{_journal(failure['journal'])}")
    if failure.get("curl"):
        parts.append(
            '<h4>Reproduce with curl</h4><p class="muted">The command reads the API key from '
            f"<code>$OIOI_API_KEY</code>; set it first.</p><pre>{_e(failure['curl'])}</pre>"
        )
    return f'<div class="attempt">{"".join(parts)}</div>'


def _journal(entries: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{_e(e.get('id'))}</td><td>{_e(e.get('time'))}</td><td><code>{_e(e.get('call'))}</code></td>"
        f"<td>{_e(e.get('status'))}</td><td>{_e(_injected(e.get('injected')))}</td>"
        f"<td><pre>{_e(_pretty(e.get('body'))[:2000])}</pre></td></tr>"
        for e in entries
    )
    return ("<table><thead><tr><th>entry</th><th>received</th><th>call</th><th>HTTP answer</th>"
            f"<th>injected fault</th><th>body</th></tr></thead><tbody>{rows}</tbody></table>")


def _injected(fault: dict[str, Any] | None) -> str:
    if not fault:
        return "none"
    return ", ".join(f"{k} {v}" for k, v in fault.items() if k != "count")


def _request_text(request: dict[str, Any] | None) -> str:
    if not request:
        return "No request was recorded."
    head = f"{request.get('method', '')} {request.get('url', '')}"
    return _message_text(head, request.get("headers"), request.get("body"))


def _response_text(response: dict[str, Any] | None, error: str | None) -> str:
    if not response:
        return f"No response: {(error or 'the IUT did not answer (timeout, refused or reset connection)').rstrip('.')}."
    elapsed = response.get("elapsed_ms")
    head = f"HTTP {response.get('status')}" + ("" if elapsed is None else f"  ({elapsed} ms)")
    return _message_text(head, response.get("headers"), response.get("body"))


def _message_text(head: str, headers: dict[str, Any] | None, body: object) -> str:
    lines = [head, *(f"{name}: {value}" for name, value in (headers or {}).items())]
    return "\n".join(lines) + "\n\n" + _pretty(body)


def _pretty(body: object) -> str:
    """The body as sent, indented when it is JSON; a body that is not JSON is kept verbatim."""
    if body is None or body == "":
        return "(empty body)"
    if not isinstance(body, str):
        return json.dumps(body, indent=2, ensure_ascii=False)
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


def _spec(spec: dict[str, Any] | None) -> str:
    spec = spec or {}
    return f"<code>{_e(spec.get('file'))}</code> § {_e(spec.get('section'))}"


def _requirements(areas: dict[str, list[dict[str, Any]]]) -> str:
    head = "<tr><th>Verdict</th><th>Id</th><th>Level</th><th>Call</th><th>Title</th><th>Spec reference</th></tr>"
    groups = "".join(
        f'<tbody><tr><th colspan="6">{_e(area)}</th></tr>{"".join(_row(req) for req in reqs)}</tbody>'
        for area, reqs in areas.items()
    )
    return f"<section><h2>Requirements</h2><table><thead>{head}</thead>{groups}</table></section>"


def _level(req: dict[str, Any]) -> str:
    """The level as a badge, and the basis under it: the why on hover, and in full when opened (and printed)."""
    level, basis, why = req.get("level"), req.get("basis"), req.get("why")
    badge = f'<span class="lvl-{_e(level)}">{_e(level)}</span>'
    if not basis:
        return badge
    if not why:
        return f'{badge}<div class="muted basis-{_e(basis)}">{_e(basis)}</div>'
    return (f'{badge}<details class="why basis-{_e(basis)}"><summary title="{_e(why)}">{_e(basis)}</summary>'
            f"{_e(why)}</details>")


def _row(req: dict[str, Any]) -> str:
    verdict, ident = str(req.get("verdict", "")), _e(req.get("id"))
    shown = ident.replace(".", ".<wbr>")  # long ids break after a dot, never inside a word
    ident = f'<a href="#fail-{ident}"><code>{shown}</code></a>' if verdict == "fail" else f"<code>{shown}</code>"
    reason = f'<div class="muted">Reason: {_e(req["reason"])}</div>' if req.get("reason") else ""
    return (
        f'<tr><td><span class="badge {_e(verdict)}">{_e(verdict)}</span></td><td class="id">{ident}</td>'
        f"<td class=level>{_level(req)}</td><td class=call><code>{_e(req.get('call'))}</code></td>"
        f"<td class=title>{_e(req.get('title'))}{reason}</td><td class=spec>{_spec(req.get('spec'))}</td></tr>"
    )
