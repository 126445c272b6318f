"""A report of captured live traffic: report.json's document and report.html, per partner, call and rule.

The traffic is a list of journal entries (the mock's and the proxy's journal schema, see
mock_server/_store.py; ``oioi.capture.read`` gives them for a journal, an export or a HAR file).
Each exchange is judged three ways, and a finding counts once per message (by rule and path):
a fresh `oioi.validate` of its request and answer (so an imported log without findings is judged
too), the findings already in the entry (the mock's or proxy's), and the cross-message rules of
`oioi.conversation.judge` over the whole capture. Every offending message is kept as evidence: the
request (API key masked), the answer, the finding, and a ``curl`` that sends it again.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from conformance._catalogue import requirement
from conformance._html import _e, _message_text, _page
from conformance._report import scrub
from conformance._sentences import sentence_of
from oioi import SPEC_VERSION, Finding, __version__, detect_call, masked_headers, validate
from oioi._findings import Severity, message_text
from oioi.capture import URL_VARIABLE, curl
from oioi.errors import HarnessError

__all__ = ["build", "judge", "render", "write"]

Entry = dict[str, Any]
Judged = list[tuple[str, Finding]]  # (the direction it concerns: "request" or "response", the finding)
TRANSPORT_SPEC = "request.rst"
SHOWN_PER_RULE = 50  # offending messages report.html shows per rule (report.json has them all)


# --- judging ------------------------------------------------------------------------------------


def judge(entries: list[Entry], profile: str = "strict") -> list[Judged]:
    """The findings of each entry (same order): fresh validation, then stored, then cross-message ones."""
    from oioi.conversation import judge as conversation

    across: dict[int, list[Finding]] = {}
    for entry, finding in conversation(entries):
        across.setdefault(id(entry), []).append(finding)
    judged = []
    for entry in entries:
        found = _fresh(entry, profile)
        for finding in [*_stored(entry), *across.get(id(entry), [])]:
            found.append((_direction(entry, finding), finding))
        judged.append(_once(found))
    return judged


def _once(found: Judged) -> Judged:
    """Each finding once per message, by rule and path (the first one kept: the fresh one)."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for direction, finding in found:
        if (finding.rule, finding.path) not in seen:
            seen.add((finding.rule, finding.path))
            kept.append((direction, finding))
    return kept


def _fresh(entry: Entry, profile: str) -> Judged:
    """`oioi.validate` of the request, and of the answer when its call is known (or it is an error answer)."""
    call = entry.get("call") or detect_call(entry.get("request_body"))
    request = entry.get("request_body")
    found = [] if request is None else [("request", f) for f in _validated(request, None, "request", None, profile)]
    status, answer = entry.get("status"), entry.get("response_body")
    if status is not None and answer is not None and not entry.get("fault") and (call or status != 200):
        found += [("response", f) for f in _validated(answer, call, "response", status, profile)]
    return found


def _validated(body: Any, call: str | None, direction: str, status: int | None, profile: str) -> list[Finding]:
    if isinstance(body, str):  # the journal keeps a body that is not JSON as the text on the wire
        shown = repr(body[:80]) + ("…" if len(body) > 80 else "")
        return [Finding("error", "", "message/json", message_text(f"a body that is not JSON: {shown}",
                                                                   "one JSON object"), TRANSPORT_SPEC)]
    try:
        return validate(body, call=call, direction=direction, status=status, profile=profile)
    except (HarnessError, ValueError):  # a call or status the schemas do not know: nothing to judge it by
        return []


def _stored(entry: Entry) -> list[Finding]:
    """The findings the mock or proxy journaled with the entry, as `Finding` objects."""
    found = []
    for item in entry.get("findings") or []:
        if isinstance(item, dict) and item.get("rule"):
            severity: Severity = "warning" if item.get("severity") == "warning" else "error"
            found.append(Finding(severity, str(item.get("path") or ""), str(item["rule"]),
                                 str(item.get("message") or ""), str(item.get("spec") or TRANSPORT_SPEC),
                                 item.get("erratum")))
    return found


def _direction(entry: Entry, finding: Finding) -> str:
    """Which message a stored finding is about: a path inside the call's object or a transport rule is the request's."""
    call = entry.get("call")
    if finding.rule.startswith(("mock/invalid-answer", "response/")) or (
        finding.path.startswith(("/result", "/error")) and not (call and finding.path.startswith(f"/{call}"))
    ):
        return "response"
    return "request"


# --- report.json --------------------------------------------------------------------------------


def build(entries: list[Entry], *, source: str, profile: str = "strict", url: str | None = None,
          redacted: bool = False) -> dict[str, Any]:
    """report.json's document for the traffic of ``entries`` (oldest first)."""
    judged = judge(entries, profile)
    rules = _rules(entries, judged, url)
    errors = sum(r["errors"] for r in rules)
    return {
        "tool": {"name": "oioi-conformance", "version": __version__},
        "spec": {"name": "OIOI", "version": SPEC_VERSION},
        "source": source,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "profile": profile,
        "redacted": redacted,
        "verdict": "fail" if errors else "pass",
        "summary": {"messages": len(entries), "with_findings": sum(bool(j) for j in judged),
                    "rules": len(rules), "errors": errors, "warnings": sum(r["warnings"] for r in rules)},
        "partners": _partners(entries),
        "findings": rules,
    }


def _family(status: Any) -> str:
    return f"{status // 100}xx" if isinstance(status, int) and 100 <= status <= 599 else "none"


def _partners(entries: list[Entry]) -> list[dict[str, Any]]:
    """Per partner (the ``peer`` that sent, None when unknown) and call: requests, answers by status family."""
    partners: dict[Any, dict[Any, dict[str, Any]]] = {}
    for entry in entries:
        calls = partners.setdefault(entry.get("peer"), {})
        seen = calls.setdefault(entry.get("call"), {"call": entry.get("call"), "requests": 0, "answers": 0,
                                                    "status": {}})
        seen["requests"] += 1
        seen["answers"] += entry.get("status") is not None
        family = _family(entry.get("status"))
        seen["status"][family] = seen["status"].get(family, 0) + 1
    return [{"peer": peer, "calls": list(calls.values())} for peer, calls in partners.items()]


def _rules(entries: list[Entry], judged: list[Judged], url: str | None) -> list[dict[str, Any]]:
    """One group per rule and spec file, errors first, each with every message that broke it."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for entry, found in zip(entries, judged, strict=True):
        for direction, finding in found:
            group = groups.get((finding.rule, finding.spec))
            if group is None:
                group = groups[finding.rule, finding.spec] = _group(finding, entry)
            group["count"] += 1
            group["errors" if finding.severity == "error" else "warnings"] += 1
            group["messages"].append(_offence(entry, direction, finding, url))
    for group in groups.values():
        group["severity"] = "error" if group["errors"] else "warning"
    return sorted(groups.values(), key=lambda g: (g["severity"] != "error", -g["count"]))


def _group(finding: Finding, entry: Entry) -> dict[str, Any]:
    ids = sentence_of(finding, entry.get("call"))
    quotes = [requirement(i)["spec"] for i in ids]
    return {"rule": finding.rule, "severity": finding.severity,
            "spec": {"file": finding.spec, "requirements": list(ids),
                     "sentence": " ".join(q.get("quote", "") for q in quotes) or None,
                     "sentence_file": quotes[0].get("file") if quotes else None},
            "count": 0, "errors": 0, "warnings": 0, "messages": []}


def _offence(entry: Entry, direction: str, finding: Finding, url: str | None) -> dict[str, Any]:
    """One message that broke a rule: where and when, the finding, the exchange, and a curl that re-sends it."""
    answer = None
    if entry.get("status") is not None or entry.get("response_body") is not None:
        answer = {"status": entry.get("status"), "body": entry.get("response_body")}
    offence = {"id": entry.get("id"), "time": entry.get("time"), "peer": entry.get("peer"),
               "exchange": entry.get("exchange"), "call": entry.get("call"), "direction": direction,
               "severity": finding.severity, "path": finding.path, "message": finding.message,
               "request": {"headers": masked_headers(entry.get("request_headers") or {}),
                           "body": entry.get("request_body")},
               "response": answer, "curl": curl(entry, url)}
    if finding.erratum:
        offence["erratum"] = finding.erratum
    return offence


# --- files ----------------------------------------------------------------------------------------


def write(report: dict[str, Any], directory: Path, secrets: Iterable[str] = ()) -> None:
    """Write report.json and report.html to ``directory``; each of ``secrets`` is masked wherever it appears."""
    json_text, html_text = json.dumps(report, indent=2, ensure_ascii=False), render(report)
    for secret in secrets:
        json_text, html_text = scrub(json_text, secret), scrub(html_text, secret)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "report.json").write_text(json_text, encoding="utf-8")
        (directory / "report.html").write_text(html_text, encoding="utf-8")
    except OSError as error:
        raise HarnessError(f"oioi report: cannot write the reports to {directory}: "
                           f"{error.strerror or error}.") from None


# --- report.html ------------------------------------------------------------------------------------


def render(report: dict[str, Any]) -> str:
    """report.html for report.json's document: one self-contained page (conformance/_html.py's style)."""
    rules: list[dict[str, Any]] = report.get("findings") or []
    body = [_header(report), _traffic(report.get("partners") or []), _rules_html(rules)]
    return _page("OIOI traffic report", "\n".join(body))


def _header(report: dict[str, Any]) -> str:
    tool, spec, summary = report.get("tool") or {}, report.get("spec") or {}, report.get("summary") or {}
    meta = {
        "Traffic": f"<code>{_e(report.get('source'))}</code>",
        "Messages": _e(summary.get("messages")),
        "Profile": _e(report.get("profile")),
        "Redacted": "yes: keys, EVCO IDs, UIDs and personal fields are pseudonyms" if report.get("redacted")
        else "no",
        "Spec": f"{_e(spec.get('name'))} {_e(spec.get('version'))}",
        "Tool": f"{_e(tool.get('name'))} {_e(tool.get('version'))}",
        "Created": _e(report.get("created")),
    }
    rows = "".join(f"<dt>{key}</dt><dd>{value}</dd>" for key, value in meta.items())
    verdict = str(report.get("verdict", "fail"))
    chips = (f'<span class="badge fail">{_e(summary.get("errors", 0))} errors</span>'
             f'<span class="badge not-run">{_e(summary.get("warnings", 0))} warnings</span>'
             f'<span class="badge inconclusive">{_e(summary.get("rules", 0))} rules</span>')
    return (f'<header><div><h1>OIOI traffic report</h1><dl>{rows}</dl></div><div class="outcome">'
            f'<div class="verdict {_e(verdict)}">{_e(verdict.upper())}</div><div class="counts">{chips}</div>'
            "</div></header>")


def _traffic(partners: list[dict[str, Any]]) -> str:
    families = sorted({f for p in partners for c in p.get("calls") or [] for f in c.get("status") or {}})
    head = ("<tr><th>Partner (sender)</th><th>Call</th><th class=n>requests</th><th class=n>answers</th>"
            + "".join(f"<th class=n>{_e(f)}</th>" for f in families) + "</tr>")
    rows = "".join(
        f"<tr><td>{_e(p.get('peer') or 'unknown')}</td><td><code>{_e(c.get('call'))}</code></td>"
        f"<td class=n>{_e(c.get('requests'))}</td><td class=n>{_e(c.get('answers'))}</td>"
        + "".join(f"<td class=n>{_e((c.get('status') or {}).get(f, 0))}</td>" for f in families) + "</tr>"
        for p in partners for c in p.get("calls") or [])
    return f"<section><h2>Messages per partner and call</h2><table><thead>{head}</thead><tbody>{rows}</tbody></table>" \
           "</section>"


def _rules_html(rules: list[dict[str, Any]]) -> str:
    items = "\n".join(_rule(r) for r in rules) or "<p>No message broke a rule.</p>"
    errors = sum(r.get("severity") == "error" for r in rules)
    return f"<section><h2>Findings ({len(rules)} rules: {errors} with errors)</h2>\n{items}</section>"


def _rule(rule: dict[str, Any]) -> str:
    spec, error = rule.get("spec") or {}, rule.get("severity") == "error"
    sentence = ""
    if spec.get("sentence"):
        sentence = (f'<blockquote>&ldquo;{_e(spec["sentence"])}&rdquo; (<code>{_e(spec.get("sentence_file"))}</code>; '
                    f"{_e(', '.join(spec.get('requirements') or []))})</blockquote>")
    messages: list[dict[str, Any]] = rule.get("messages") or []
    shown = "".join(_message(m) for m in messages[:SHOWN_PER_RULE])
    if len(messages) > SHOWN_PER_RULE:
        shown += f'<p class="muted">And {len(messages) - SHOWN_PER_RULE} more in report.json.</p>'
    return (f'<details class="failure {"must" if error else "should"}" id="rule-{_e(rule.get("rule"))}" open>'
            f'<summary><span class="badge {"fail" if error else "not-run"}">{_e(rule.get("severity"))}</span> '
            f"<code>{_e(rule.get('rule'))}</code> — {_e(rule.get('count'))} message(s)</summary>"
            f'<p class="muted">Spec: <code>{_e(spec.get("file"))}</code></p>{sentence}{shown}</details>')


def _message(offence: dict[str, Any]) -> str:
    request, response = offence.get("request") or {}, offence.get("response")
    where = (f"Journal entry {_e(offence.get('id'))} · {_e(offence.get('time'))} · from "
             f"{_e(offence.get('peer') or 'unknown partner')} · <code>{_e(offence.get('call'))}</code> "
             f"{_e(offence.get('direction'))} at <code>{_e(offence.get('path') or '/')}</code>")
    answer = "No answer was recorded." if response is None else _message_text(
        f"HTTP {response.get('status')}", None, response.get("body"))
    return (f'<div class="attempt"><h4>{where}</h4><pre class="finding">{_e(offence.get("message"))}</pre>'
            f"<h4>Request</h4><pre>{_e(_message_text('POST', request.get('headers'), request.get('body')))}</pre>"
            f"<h4>Answer</h4><pre>{_e(answer)}</pre>"
            '<h4>Reproduce with curl</h4><p class="muted">The command reads the API key from '
            "<code>$OIOI_API_KEY</code> "
            f"(and the URL from <code>${URL_VARIABLE}</code> when the capture has none); set it first.</p>"
            f"<pre>{_e(offence.get('curl'))}</pre></div>")
