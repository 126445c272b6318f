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

from conformance._html import COLOURS, VERDICTS, render

SAMPLE = Path(__file__).parent / "fixtures" / "report-sample.json"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
HOSTILE = "<img src=x onerror=alert(1)>"


class Tree(HTMLParser):
    """Records elements, the text of each failure's <details>, script contents and every unbalanced tag."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.details: list[str] = []
        self.in_failure = 0  # depth of open <details class="failure"> (a requirement's basis is a <details> too)
        self.scripts: list[str] = []
        self.feed(document)
        self.close()
        self.errors += [f"<{tag}> never closed" for tag in self.stack]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "details" and "failure" in (dict(attrs).get("class") or "").split():
            self.details.append("")
            self.in_failure = len(self.stack) + 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            if len(self.stack) == self.in_failure:
                self.in_failure = 0
            self.stack.pop()
        else:
            self.errors.append(f"</{tag}> while <{self.stack[-1] if self.stack else 'nothing'}> is open")

    def handle_data(self, data: str) -> None:
        if self.in_failure:
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
    counted = {v: len(with_verdict(report_sample, v)) for v in VERDICTS}
    assert report_sample["summary"] == counted
    assert all(counted.values()) and counted["pass"] > 3


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
    failed["basis"] = failed["why"] = with_verdict(report, "pass")[0]["why"] = HOSTILE
    report["setup_warnings"] = [HOSTILE]
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
    opened = Tree(render(report_sample, expand=True)).having("details", class_="failure")
    assert len(opened) == 3 and all("open" in d for d in opened)


def test_chart_has_one_bar_per_area_in_order(report_sample: dict[str, Any], report_html: str) -> None:
    areas = list(dict.fromkeys(req["area"] for req in report_sample["requirements"]))
    bars = Tree(report_html).having("g", class_="bar")
    assert areas == ["transport", "remote-start", "reservation", "rfid", "poi", "cdr"]
    assert [bar["data-area"] for bar in bars] == areas


def test_reasons_of_skipped_requirements_appear(report_sample: dict[str, Any], report_html: str) -> None:
    skipped = with_verdict(report_sample, "inconclusive", "not-run", "not-applicable")
    assert len(skipped) == 6
    for req in skipped:
        assert f"Reason: {escape(req['reason'])}" in report_html


def test_passing_report_says_pass(report_sample: dict[str, Any]) -> None:
    report = copy.deepcopy(report_sample)
    for req in report["requirements"]:
        req.update(verdict="pass", reason=None, failures=[])
    report.update(verdict="pass", summary=None)
    page = render(report)
    assert '<div class="verdict pass">PASS</div>' in page and "No requirement failed." in page
    assert '<span class="badge pass">19 pass</span>' in page and Tree(page).details == []


def test_five_verdicts_each_have_their_own_colour() -> None:
    assert VERDICTS == ("pass", "fail", "inconclusive", "not-run", "not-applicable")
    assert set(COLOURS) == set(VERDICTS) and len({fill for fill, _ in COLOURS.values()}) == 5


def test_inconclusive_is_counted_shown_and_explained(report_sample: dict[str, Any], report_html: str) -> None:
    [undecided] = with_verdict(report_sample, "inconclusive")
    assert '<span class="badge inconclusive">1 inconclusive</span>' in report_html
    assert ".inconclusive{background:" + COLOURS["inconclusive"][0] in report_html
    assert '<span class="badge inconclusive">inconclusive</span>' in report_html
    assert f"Reason: {escape(undecided['reason'])}" in report_html
    assert "<b>inconclusive</b>: the check ran but could not decide; never fails the run" in report_html
    header = report_html.split('<table class=areas><thead>')[1].split("</thead>")[0]
    assert [h for h in re.findall(r"<th class=n>([a-z-]+)</th>", header)] == [*VERDICTS, "total"]


def test_chart_legend_has_five_verdicts_that_fit(report_html: str) -> None:
    """The legend's labels are spaced by their length: none overlaps the next, the last ends inside the chart."""
    svg = report_html.split('<svg class="chart"')[1].split("</svg>")[0]
    width = float(re.search(r'viewBox="0 0 ([0-9.]+) ', svg)[1])  # type: ignore[index]
    labels = re.findall(r'<text x="([0-9.]+)" y="16">([a-z-]+) \((\d+)\)</text>', svg)
    assert [(name, int(n)) for _, name, n in labels] == [("pass", 10), ("fail", 3), ("inconclusive", 1),
                                                         ("not-run", 2), ("not-applicable", 3)]
    starts = [float(x) for x, _, _ in labels]
    ends = [float(x) + 7.5 * len(f"{name} ({n})") for x, name, n in labels]  # 13 px system-ui: under 7.5 px a char
    assert all(end + 14 < start for end, start in zip(ends, starts[1:], strict=False))
    assert ends[-1] <= width
    assert 'class="bar" data-area="transport"' in svg and "1 inconclusive</title>" in svg


def test_rows_show_level_and_basis_with_why(report_sample: dict[str, Any], report_html: str) -> None:
    tree = Tree(report_html)
    whys = tree.having("details", class_="why")
    assert len(whys) == len(report_sample["requirements"])
    summaries = [attrs for tag, attrs in tree.elements if tag == "summary" and attrs.get("title")]
    assert [a["title"] for a in summaries] == [req["why"] for req in report_sample["requirements"]]
    assert len(tree.having("details", class_="basis-interpretation")) == sum(
        req["basis"] == "interpretation" for req in report_sample["requirements"])
    for req in report_sample["requirements"]:
        assert f'<span class="lvl-{req["level"]}">{req["level"]}</span><details class="why basis-{req["basis"]}">' \
            in report_html
        assert escape(req["why"]) in report_html


def test_a_row_without_basis_still_renders(report_sample: dict[str, Any]) -> None:
    report = copy.deepcopy(report_sample)
    for req in report["requirements"]:
        req.pop("basis"), req.pop("why")
    tree = Tree(render(report))
    assert tree.errors == [] and tree.having("details", class_="why") == []


def test_not_applicable_by_declaration_shows_its_reason(report_html: str) -> None:
    assert "Reason: the IUT&#x27;s declaration says it does not implement &#x27;offline-whitelist&#x27;" in report_html


def test_strict_is_in_the_header_and_decides_whether_a_should_failure_counts(report_sample: dict[str, Any],
                                                                             report_html: str) -> None:
    assert "<dt>Strict</dt><dd>no: only a failed MUST fails the run" in report_html
    [should] = [text for text in Tree(report_html).details if "transport.error-body-json" in text]
    assert "not fatal: a failed SHOULD fails the run only with --strict" in should
    assert "Basis: interpretation: request.rst says only" in should
    assert "<h2>Failures (3: 2 MUST, 1 SHOULD)</h2>" in report_html
    strict = copy.deepcopy(report_sample)
    strict["strict"] = True
    page = render(strict)
    assert "<dt>Strict</dt><dd>yes: a failed SHOULD fails the run too</dd>" in page
    assert "not fatal" not in page


def test_setup_warnings_come_first(report_sample: dict[str, Any], report_html: str) -> None:
    warning = report_sample["setup_warnings"][0]
    assert report_html.index("Check the setup first") < report_html.index("Summary by area")
    assert f"<li>{escape(warning)}</li>" in report_html
    report = copy.deepcopy(report_sample)
    report["setup_warnings"] = []
    assert "Check the setup first" not in render(report)


def test_an_interrupted_report_says_so_first_and_is_well_formed(report_sample: dict[str, Any]) -> None:
    """An older report.json (no ``interrupted`` key) renders as before; an interrupted one says so under the banner."""
    assert 'class="interrupted"' not in render(report_sample)
    report_sample |= {"interrupted": True, "verdict": "incomplete", "progress": {"reached": 7, "planned": 30}}
    page = render(report_sample)
    tree = Tree(page)
    assert not tree.errors
    assert tree.having("div", class_="verdict") == [{"class": "verdict incomplete"}]
    assert page.index('<div class="verdict incomplete">INCOMPLETE</div>') < page.index('class="interrupted"')
    assert page.index('class="interrupted"') < page.index("<h2>Summary by area</h2>")
    assert "It stopped after 7 of 30 requirements" in page
