"""report.html: one self-contained, escaped, well-formed page rendered from report.json."""

from __future__ import annotations

import copy
import json
import re
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from conformance._html import render

SAMPLE = Path(__file__).parent / "fixtures" / "report-sample.json"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
HOSTILE = "<img src=x onerror=alert(1)>"


class Tree(HTMLParser):
    """Records elements, the text of each <details>, script contents and every unbalanced tag."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.details: list[str] = []
        self.scripts: list[str] = []
        self.feed(document)
        self.close()
        self.errors += [f"<{tag}> never closed" for tag in self.stack]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "details":
            self.details.append("")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.errors.append(f"</{tag}> while <{self.stack[-1] if self.stack else 'nothing'}> is open")

    def handle_data(self, data: str) -> None:
        if "details" in self.stack:
            self.details[-1] += data
        if self.stack and self.stack[-1] == "script":
            self.scripts.append(data)

    def having(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        """Attributes of every <tag> whose attributes include ``attrs`` (class matched as one of its words)."""
        wanted = attrs.pop("class_", None)
        return [
            found
            for name, found in self.elements
            if name == tag
            and all(found.get(key) == value for key, value in attrs.items())
            and (wanted is None or wanted in (found.get("class") or "").split())
        ]


@pytest.fixture
def report_sample() -> dict[str, Any]:
    return json.loads(SAMPLE.read_text())  # type: ignore[no-any-return]


@pytest.fixture
def report_html(report_sample: dict[str, Any]) -> str:
    return render(report_sample)


def with_verdict(report: dict[str, Any], *verdicts: str) -> list[dict[str, Any]]:
    return [req for req in report["requirements"] if req["verdict"] in verdicts]


def test_sample_summary_matches_its_requirements(report_sample: dict[str, Any]) -> None:
    counted = {v: len(with_verdict(report_sample, v)) for v in ("pass", "fail", "not-run", "not-applicable")}
    assert report_sample["summary"] == counted
    assert counted["fail"] and counted["not-run"] and counted["not-applicable"] and counted["pass"] > 3


def test_sample_renders_a_complete_document(report_html: str) -> None:
    assert report_html.startswith("<!DOCTYPE html>")
    assert "<title>OIOI conformance report</title>" in report_html
    for shown in ("http://127.0.0.1:8000/api/v4/request", "CPO", "quick", "1234", "OIOI 4.19.0"):
        assert shown in report_html
    assert "oioi-conformance 0.1.0" in report_html
    assert "2026-12-04T18:00:00+00:00" in report_html and "13.21 s" in report_html
    assert '<div class="verdict fail">FAIL</div>' in report_html
    assert '<span class="badge fail">3 fail</span>' in report_html


def test_document_tags_are_balanced(report_html: str) -> None:
    assert Tree(report_html).errors == []
    assert Tree(render(json.loads(SAMPLE.read_text()), expand=True)).errors == []


def test_balance_checker_catches_a_stray_tag() -> None:
    assert Tree("<div><span></div>").errors


def test_no_external_resources(report_html: str) -> None:
    tree = Tree(report_html)
    links = [value for _, attrs in tree.elements for key, value in attrs.items() if key in {"src", "href", "action"}]
    assert links and all(value and value.startswith("#") for value in links)
    assert set(re.findall(r"https?://[^\s<\"'&]+", report_html)) == {"http://127.0.0.1:8000/api/v4/request"}
    assert "url(" not in report_html and "@import" not in report_html


def test_script_from_the_iut_body_is_escaped(report_html: str) -> None:
    assert "<script>alert(1)</script>" not in report_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report_html
    assert len(Tree(report_html).scripts) == 1


def test_hostile_values_anywhere_stay_text(report_sample: dict[str, Any]) -> None:
    report = copy.deepcopy(report_sample)
    report["iut"]["url"] = report["profile"] = HOSTILE
    failed = with_verdict(report, "fail")[0]
    failed["id"] = failed["title"] = failed["area"] = failed["level"] = HOSTILE
    failure = failed["failures"][0]
    failure["received"] = failure["check"] = failure["curl"] = HOSTILE
    failure["request"]["headers"][HOSTILE] = HOSTILE
    with_verdict(report, "not-run")[0]["reason"] = HOSTILE
    tree = Tree(render(report))
    assert tree.having("img") == [] and len(tree.scripts) == 1 and tree.errors == []


def test_every_failed_requirement_is_inside_details(report_sample: dict[str, Any], report_html: str) -> None:
    details = Tree(report_html).details
    failed = with_verdict(report_sample, "fail")
    assert len(details) == len(failed) == 3
    for req in failed:
        assert any(req["id"] in text for text in details), req["id"]


def test_failure_shows_finding_exchange_and_curl(report_sample: dict[str, Any], report_html: str) -> None:
    [occupied] = [req for req in report_sample["requirements"] if req["id"] == "session-start.occupied"]
    failure = occupied["failures"][0]
    [text] = [text for text in Tree(report_html).details if "session-start.occupied" in text]
    assert f"Received: {failure['received']}\nExpected: {failure['expected']}" in text
    assert "test_session_start_occupied" in text
    assert "POST http://127.0.0.1:8000/api/v4/request\nAuthorization: key=************1234" in text
    assert '\n  "session-start": {\n    "user": {' in text  # the JSON body, pretty-printed
    assert "HTTP 200  (3.1 ms)\nContent-Type: application/json" in text
    assert failure["curl"] in text and "$OIOI_API_KEY" in text


def test_a_sending_failure_lists_the_journaled_messages(report_sample: dict[str, Any]) -> None:
    report = copy.deepcopy(report_sample)
    failed = with_verdict(report, "fail")[0]
    failed["failures"][0]["journal"] = [
        {"id": 7, "time": "2026-12-04T18:15:00.100+00:00", "call": "rfid-post", "status": 503,
         "injected": {"count": 2, "status": 503, "retry_after": 1}, "body": {"rfid-post": {"rfids": [HOSTILE]}}},
        {"id": 8, "time": "2026-12-04T18:15:00.300+00:00", "call": "rfid-post", "status": 503, "injected": None,
         "body": {"rfid-post": {"rfids": []}}},
    ]
    document = render(report)
    tree = Tree(document)
    [text] = [text for text in tree.details if failed["id"] in text]
    assert "Messages the IUT sent (mock partner's journal)" in text
    assert "2026-12-04T18:15:00.100+00:00" in text and "status 503, retry_after 1" in text
    assert "2026-12-04T18:15:00.300+00:00" in text and "none" in text
    failed["failures"][0]["request"] = failed["failures"][0]["response"] = None
    [text] = [text for text in Tree(render(report)).details if failed["id"] in text]
    assert "No request was recorded" not in text and "Messages the IUT sent" in text
    assert tree.having("img") == [] and tree.errors == []


def test_missing_response_is_stated(report_html: str) -> None:
    [text] = [text for text in Tree(report_html).details if "reservation-start.answers" in text]
    assert "No response: ReadTimeout: no answer within 10.0 s." in text


def test_must_failures_stand_out_from_should_failures(report_html: str) -> None:
    tree = Tree(report_html)
    must, should = tree.having("details", class_="must"), tree.having("details", class_="should")
    assert [d["id"] for d in must] == ["fail-session-start.occupied", "fail-reservation-start.answers"]
    assert [d["id"] for d in should] == ["fail-transport.error-body-json"]


def test_expand_opens_every_failure(report_sample: dict[str, Any], report_html: str) -> None:
    assert all("open" not in d for d in Tree(report_html).having("details"))
    opened = Tree(render(report_sample, expand=True)).having("details")
    assert len(opened) == 3 and all("open" in d for d in opened)


def test_chart_has_one_bar_per_area_in_order(report_sample: dict[str, Any], report_html: str) -> None:
    areas = list(dict.fromkeys(req["area"] for req in report_sample["requirements"]))
    bars = Tree(report_html).having("g", class_="bar")
    assert areas == ["transport", "remote-start", "reservation", "rfid", "poi", "cdr"]
    assert [bar["data-area"] for bar in bars] == areas


def test_reasons_of_skipped_requirements_appear(report_sample: dict[str, Any], report_html: str) -> None:
    skipped = with_verdict(report_sample, "not-run", "not-applicable")
    assert len(skipped) == 4
    for req in skipped:
        assert f"Reason: {escape(req['reason'])}" in report_html


def test_passing_report_says_pass(report_sample: dict[str, Any]) -> None:
    report = copy.deepcopy(report_sample)
    for req in report["requirements"]:
        req.update(verdict="pass", reason=None, failures=[])
    report.update(verdict="pass", summary=None)
    page = render(report)
    assert '<div class="verdict pass">PASS</div>' in page and "No requirement failed." in page
    assert '<span class="badge pass">17 pass</span>' in page and Tree(page).details == []
