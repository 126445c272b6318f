"""Verdicts per requirement, and the files of a run: report.json and report.html.

report.json (documented in the README): ``tool``, ``spec``, ``iut`` (url, role), ``profile``, ``strict``,
``seed``, ``started``, ``duration_s``, ``interrupted`` (true when the run was stopped, by Ctrl-C or SIGTERM,
before its last check), ``verdict`` (``incomplete`` when interrupted; else ``fail`` when a MUST requirement failed,
with ``strict`` also a SHOULD; else ``pass``), ``progress`` (``reached`` of ``planned``: see :meth:`Recorder.progress`),
``summary`` (count per verdict), ``errors`` (checks the harness itself could not run) and
``requirements``: per catalogue entry its ``id``, ``title``, ``level``, ``basis`` (normative /
interpretation) and ``why``, ``feature`` (the optional part it belongs to, or null), ``roles``, ``area``,
``call``, ``spec``, ``verdict`` (pass / fail / inconclusive / not-run / not-applicable), ``reason`` ("interrupted"
for a requirement the interrupted run did not reach),
``checks`` and ``failures`` (each with the check, Received / Expected, request, response and curl).
"""

from __future__ import annotations

import datetime
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, TypeVar

import pytest

from conformance._catalogue import catalogue, requirements
from conformance._failures import Inconclusive, Nonconformance
from conformance._target import Target
from oioi import mask

__all__ = ["VERDICTS", "Recorder", "check_of", "summary_lines", "write"]

# ISO/IEC 9646 verdicts: pass, fail, inconclusive (the check ran but could not decide; never fails a
# run), not-run (the check could not start), not-applicable (the role, or a feature the IUT's
# declaration says it does not implement).
VERDICTS = ("pass", "fail", "inconclusive", "not-run", "not-applicable")


E = TypeVar("E", bound=BaseException)


def check_of(nodeid: str) -> str:
    """A check's name in the report: the test's node id without its file ("test_x[param]")."""
    return nodeid.split("::", 1)[-1]


def _first(error: BaseException | None, kind: type[E]) -> E | None:
    """The first ``kind`` in an error (Hypothesis may group several)."""
    if isinstance(error, kind):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            if found := _first(inner, kind):
                return found
    return None


class Recorder:
    """Collects what each check found, per requirement."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.started, self.finished = time.time(), time.time()
        self.outcomes: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.errors: list[dict[str, str]] = []  # checks the harness itself could not run (never a verdict)
        self.setup_warnings: list[str] = []  # the preflight's doubts about the given connectors and UIDs
        self.declaration: dict[str, Any] | None = None  # what the IUT declared and the run used (keys masked)
        self.planned: dict[str, set[str]] | None = None  # the checks selected per requirement, once collected
        self.interrupted = False  # the run stopped before its last check (Ctrl-C, SIGTERM)

    def cut_short(self, rid: str) -> bool:
        """Whether the interruption came before every check of ``rid`` had run (all of them, before collection)."""
        if not self.interrupted:
            return False
        if self.planned is None:
            return not self.target.only or rid in self.target.only
        ran = {o["check"] for o in self.outcomes.get(rid, [])}
        return bool(self.planned.get(rid, set()) - ran)

    def progress(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        """How far the run got: ``reached`` of ``planned`` requirements.

        ``planned`` counts the requirements the run set out to judge: the catalogue entries with at least one
        selected check, plus, when the run was interrupted before collection ended, every entry it did not reach.
        ``reached`` counts those whose every check finished, or that had already failed; the others are
        ``not-run`` with the reason "interrupted". A run that was not interrupted reached all it planned.
        """
        planned = self.planned or {}
        reached = sum(r["id"] in planned and r["reason"] != "interrupted" for r in rows)
        return {"reached": reached, "planned": reached + sum(r["reason"] == "interrupted" for r in rows)}

    def record(self, nodeid: str, ids: list[str], report: pytest.TestReport, error: BaseException | None) -> None:
        """Turn one test report into outcomes of the requirements it speaks for."""
        check = check_of(nodeid)
        if report.passed:
            for rid in ids:
                self.outcomes[rid].append({"verdict": "pass", "check": check})
        elif report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            for rid in ids:
                self.outcomes[rid].append({"verdict": "not-run", "check": check, "reason": reason.removeprefix(
                    "Skipped: ")})
        elif failure := _first(error, Nonconformance):
            rid = failure.requirement or ids[0]
            self.outcomes[rid].append({"verdict": "fail", "check": check, "failure": {"check": check,
                                                                                       **failure.to_dict()}})
            for other in ids:
                if other != rid:
                    self.outcomes[other].append({"verdict": "not-run", "check": check,
                                                 "reason": f"not judged: its check stopped at a failure of {rid}"})
        elif undecided := _first(error, Inconclusive):
            rid = undecided.requirement or ids[0]
            self.outcomes[rid].append({"verdict": "inconclusive", "check": check, "reason": undecided.reason,
                                       "journal": undecided.journal or []})
            for other in ids:
                if other != rid:
                    self.outcomes[other].append({"verdict": "not-run", "check": check,
                                                 "reason": f"not judged: its check stopped, {rid} inconclusive"})
        else:
            why = report.longreprtext.strip().splitlines()[-1] if report.longreprtext else "unknown error"
            self.errors.append({"check": check, "error": why})
            for rid in ids:
                self.outcomes[rid].append({"verdict": "not-run", "check": check,
                                           "reason": f"the check could not run: {why}"})

    def verdict(self, entry: dict[str, Any]) -> tuple[str, str | None, list[str], list[dict[str, Any]]]:
        """Verdict, reason, checks and failures of one catalogue entry."""
        target, outcomes = self.target, self.outcomes.get(entry["id"], [])
        checks = sorted({o["check"] for o in outcomes})
        if target.role not in entry["roles"]:
            return "not-applicable", f"applies to the {'/'.join(r.upper() for r in entry['roles'])} role", [], []
        if entry.get("feature") in target.not_implemented:
            return "not-applicable", (f"the IUT's declaration says it does not implement {entry['feature']!r}"), [], []
        if "untested" in entry:
            return "not-run", entry["untested"], [], []
        failures = [o["failure"] for o in outcomes if o["verdict"] == "fail"]
        if failures:
            return "fail", None, checks, failures
        if self.cut_short(entry["id"]):
            return "not-run", "interrupted", checks, []
        undecided = sorted({o["reason"] for o in outcomes if o["verdict"] == "inconclusive"})
        if undecided:
            return "inconclusive", "; ".join(undecided), checks, []
        if any(o["verdict"] == "pass" for o in outcomes):
            return "pass", None, checks, []
        if target.only and entry["id"] not in target.only:
            return "not-run", "not selected (--requirement)", [], []
        reasons = sorted({o["reason"] for o in outcomes if o.get("reason")})
        return "not-run", "; ".join(reasons) or "no check ran", checks, []

    def report(self) -> dict[str, Any]:
        """The whole report.json document."""
        from oioi import SPEC_VERSION, __version__

        rows, summary = [], dict.fromkeys(VERDICTS, 0)
        for entry in requirements():
            verdict, reason, checks, failures = self.verdict(entry)
            summary[verdict] += 1
            rows.append({key: entry.get(key) for key in ("id", "title", "level", "basis", "why", "feature", "roles",
                                                          "area", "call", "spec")}
                        | {"verdict": verdict, "reason": reason, "checks": checks, "failures": failures})
        fatal = ("MUST", "SHOULD") if self.target.strict else ("MUST",)
        failed = any(r["verdict"] == "fail" and r["level"] in fatal for r in rows)
        verdict = "incomplete" if self.interrupted else "fail" if failed else "pass"
        started = datetime.datetime.fromtimestamp(self.started, datetime.UTC)
        return {
            "tool": {"name": "oioi-conformance", "version": __version__},
            "spec": {"name": "OIOI", "version": catalogue()["spec"].get("version", SPEC_VERSION)},
            "iut": {"url": self.target.url, "role": self.target.role},
            "declaration": self.declaration,
            "setup_warnings": self.setup_warnings,
            "profile": self.target.profile,
            "strict": self.target.strict,
            "seed": self.target.seed,
            "started": started.isoformat(timespec="seconds"),
            "duration_s": round(self.finished - self.started, 2),
            "interrupted": self.interrupted,
            "verdict": verdict,
            "progress": self.progress(rows),
            "summary": summary,
            "errors": self.errors,
            "requirements": rows,
        }


def write(report: dict[str, Any], directory: Path, api_key: str) -> None:
    """Write report.json and report.html; the API key is masked wherever it might appear."""
    from conformance._html import render

    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    (directory / "report.json").write_text(scrub(text, api_key), encoding="utf-8")
    (directory / "report.html").write_text(scrub(render(report), api_key), encoding="utf-8")


def scrub(text: str, api_key: str) -> str:
    """``text`` with every occurrence of the key masked."""
    return text.replace(api_key, mask(api_key)) if len(api_key) >= 4 else text


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The table printed after a run: counts per area, every failure, the verdict.

    The last line gives the run's verdict and counts; an interrupted run's says "INCOMPLETE — interrupted after N
    of M requirements" first (N and M as in `Recorder.progress`).
    """
    by_area: dict[str, dict[str, int]] = {}
    for row in report["requirements"]:
        by_area.setdefault(row["area"], dict.fromkeys(VERDICTS, 0))[row["verdict"]] += 1
    lines = ["", f"{'area':<14}{'pass':>6}{'fail':>6}{'inconcl.':>10}{'not-run':>9}{'n/a':>6}"]
    for area, counts in by_area.items():
        lines.append(f"{area:<14}{counts['pass']:>6}{counts['fail']:>6}{counts['inconclusive']:>10}"
                     f"{counts['not-run']:>9}{counts['not-applicable']:>6}")
    failed = [r for r in report["requirements"] if r["verdict"] == "fail"]
    if failed:
        lines.append("")
    for row in failed:
        lines.append(f"FAIL {row['level']:<6} {row['id']}: {row['title']}")
        message = row["failures"][0]["message"].splitlines()
        lines.extend(f"       {line}" for line in message[:2])
    s = report["summary"]
    for error in report.get("errors", []):
        lines.append(f"HARNESS ERROR in {error['check']}: {error['error']}")
    role, verdict = report["iut"]["role"].upper(), report["verdict"].upper()
    lines += ["", f"OIOI {role} conformance: {verdict} — {_interrupted(report)}{s['pass']} passed, "
              f"{s['fail']} failed, {s['inconclusive']} inconclusive, {s['not-run']} not run, "
              f"{s['not-applicable']} not applicable" + _should_note(failed, strict=bool(report.get("strict")))]
    return lines


def _should_note(failed: list[dict[str, Any]], *, strict: bool) -> str:
    """Whether the failed SHOULDs counted: only a failed MUST fails a run, unless --strict."""
    should = sum(row["level"] == "SHOULD" for row in failed)
    if not should:
        return ""
    failures = f"{should} SHOULD failure{'s' * (should != 1)}"
    return f"; {failures} (fatal: --strict)" if strict else f"; {failures} (not fatal; --strict makes them fail)"


def _interrupted(report: dict[str, Any]) -> str:
    """The start of the summary line of an interrupted run: how far it got (see `Recorder.progress`)."""
    if not report.get("interrupted"):
        return ""
    progress = report.get("progress") or {}
    return f"interrupted after {progress.get('reached', 0)} of {progress.get('planned', 0)} requirements; "
