"""The live page (``/ui/``) of the mock and of the proxy in a real browser: headless chromium over loopback.

Real servers: the mock as a child process (gunicorn, a SQLite file in ``tmp_path``), the proxy
with ``--ui``; the test plays the partner with ``requests``. Every wait is Playwright's
auto-waiting ``expect`` (up to 5 s: the page polls the journal every second), never a sleep.
The ``page`` fixture (tests/fixtures/browser.py) fails a test whose page made a request to any
host but 127.0.0.1 or had a JavaScript, console or CSP error. These tests run alone and last
(tests/fixtures/alone.py); without chromium they skip, under CI they fail.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from mock_server.client import RunningMock, start
from oioi import serving
from tests.fixtures.browser import Watch
from tests.fixtures.messages import session_post

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.browser

EMP_KEY = "page-test-emp-key-5c1f9a7e03"  # what the partner CPO sends to the EMP mock
CPO_KEY = "page-test-cpo-key-9e2b4d6a18"  # what the EMP mock sends to the partner CPO
TOKEN = "page-admin-token-4f0c2e8b7a91d3"  # --admin-token
ORDER_RULE = "semantic/session-interval-ordered"  # catalogue: session-post.intervals-consistent
VERIFY = {"rfid-verify": {"rfid": "04523022AA4881"}}  # valid, answered 200 by the EMP mock
CDR = session_post("c0ffee00-1234-4abc-9def-0123456789ab")  # a finished session's valid CDR


def unordered_cdr() -> dict[str, Any]:
    """A CDR whose session ends before it starts (and so its charging lies outside it)."""
    cdr = copy.deepcopy(CDR)
    cdr["session-post"]["session-interval"] = {"start": "2026-11-02T17:00:00+01:00",
                                               "stop": "2026-11-02T11:00:00+01:00"}
    return cdr


class Servers:
    """The servers of one test, each in ``folder``: mocks (a child process each) and proxies; `stop` kills them."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.children = folder, list[serving.Child]()

    def mock(self, role: str, *args: str, key: str = EMP_KEY) -> RunningMock:
        """A mock of ``role`` accepting ``key``, with extra command-line ``args``."""
        running = start(role, api_key=key, db=self.folder / f"{role}-{len(self.children)}.sqlite3", args=args)
        self.children.append(running.child)
        return running

    def proxy(self, *args: str) -> serving.Child:
        """``python -m mock_server.proxy ARGS --db …``."""
        db = self.folder / f"proxy-{len(self.children)}.sqlite3"
        self.children.append(serving.start([sys.executable, "-m", "mock_server.proxy", *args, "--db", str(db)],
                                           what="proxy"))
        return self.children[-1]

    def stop(self) -> None:
        for child in self.children:
            child.kill()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    """The test's servers, killed after the test."""
    started = Servers(tmp_path)
    yield started
    started.stop()


@pytest.fixture
def page(servers: Servers, page: Page) -> Page:
    """The browser page (tests/fixtures/browser.py), closed before the servers stop (a poll would hit a dead one)."""
    return page


@pytest.fixture
def emp(servers: Servers) -> RunningMock:
    """A mock EMP without a partner."""
    return servers.mock("emp")


def row(page: Page, entry_id: int) -> Locator:
    """The journal row of entry ``entry_id``."""
    return page.locator(f"#journal tbody tr.entry[data-id='{entry_id}']")


def open_panel(page: Page, selector: str) -> Locator:
    """The panel, opened as a person would: a closed <details> by a click on its summary."""
    panel = page.locator(selector)
    if panel.evaluate("element => element.tagName === 'DETAILS' && !element.open"):
        panel.locator("summary").first.click()
    return panel


def explained(url: str, entry_id: int) -> dict[str, Any]:
    """Entry ``entry_id`` of the journal at ``url`` as the page reads it (``explain=1``)."""
    answer = requests.get(f"{url}/admin/journal", params={"explain": 1}, timeout=10)
    assert answer.status_code == 200, answer.text
    (entry,) = [entry for entry in answer.json()["entries"] if entry["id"] == entry_id]
    return dict(entry)


def test_a_partners_invalid_message_appears_without_reload_with_its_finding(
        page: Page, expect: Callable[..., Any], emp: RunningMock) -> None:
    page.goto(emp.url)  # GET / leads to /ui/
    expect(page).to_have_url(re.compile(r"/ui/$"))
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#prompt")).to_be_hidden()
    expect(page.locator("#kind")).to_have_text("Mock EMP")
    expect(page.locator("#live")).to_contain_text("live")
    page.evaluate("window.stillTheSamePage = true")
    assert emp.post(unordered_cdr()).status_code == 400
    entry_id = emp.last_id()
    line = row(page, entry_id)
    expect(line).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True, "the page was reloaded"
    expect(line).to_have_class(re.compile(r"\bhas-findings\b"))
    expect(line.locator("td.direction")).to_have_text("inbound")
    expect(line.locator("td.call")).to_have_text("session-post")
    expect(line.locator("td.status")).to_have_text("400")
    expect(line.locator("td.findings span.badge.error", has_text=ORDER_RULE)).to_be_visible()

    quoted = next(f["sentence"] for f in explained(emp.url, entry_id)["findings"] if f["rule"] == ORDER_RULE)
    assert quoted is not None and quoted["quote"], "the catalogue quotes session-post.intervals-consistent"
    assert "session-post.intervals-consistent" in quoted["requirements"]
    line.click()
    detail = page.locator("#detail")
    expect(detail).to_be_visible()
    finding = detail.locator(".finding").filter(has=page.locator(".rule", has_text=ORDER_RULE))
    expect(finding).to_have_count(1)
    expect(finding.locator(".received")).to_contain_text("stop '2026-11-02T11:00:00+01:00' before start")
    expect(finding.locator(".expected")).to_contain_text("session-interval stop at or after its start")
    expect(finding.locator(".sentence")).to_contain_text(quoted["quote"])
    expect(finding.locator(".spec-file")).to_contain_text("calls/session_post.rst")
    expect(detail.locator(".request-body")).to_contain_text("2026-11-02T17:00:00+01:00")
    expect(detail.locator(".response-body")).to_contain_text("230")
    curl = detail.locator(".curl")
    expect(curl).to_contain_text("$OIOI_API_KEY")
    assert EMP_KEY not in curl.inner_text() and EMP_KEY not in page.content()


def test_a_call_sent_from_the_form_reaches_the_partner(
        page: Page, expect: Callable[..., Any], servers: Servers) -> None:
    cpo = servers.mock("cpo", key=CPO_KEY)
    emp = servers.mock("emp", "--partner-url", cpo.endpoint, "--partner-api-key", CPO_KEY)
    sends = emp.admin("GET", "info")["sends"]
    call = "rfid-post" if "rfid-post" in sends else sends[0]
    page.goto(emp.url + "/ui/")
    open_panel(page, "#send")
    page.locator("#send-call").select_option(call)
    body = page.locator("#send-body")
    expect(body).to_have_value(re.compile(r"^\s*\{[\s\S]*\S[\s\S]*\}\s*$"))  # the fields of a request
    filled = json.loads(body.input_value())
    assert isinstance(filled, dict) and filled, "the form is pre-filled with the body of a valid request"
    page.locator("#send-button").click()
    expect(page.locator("#send-result")).to_contain_text("200")
    sent = (page.locator("#journal tbody tr.entry").filter(has=page.locator("td.direction", has_text="outbound"))
            .filter(has=page.locator("td.call", has_text=call)))
    expect(sent).to_have_count(1)
    expect(sent.locator("td.status")).to_have_text("200")
    assert [entry["call"] for entry in cpo.received()] == [call]


def test_a_queued_503_answers_the_partners_next_request(
        page: Page, expect: Callable[..., Any], emp: RunningMock) -> None:
    page.goto(emp.url + "/ui/")
    open_panel(page, "#faults-panel")
    page.locator("#fault-status").fill("503")
    page.locator("#fault-count").fill("1")
    page.locator("#fault-add").click()
    expect(page.locator("#faults")).to_contain_text("503")
    assert [fault["remaining"] for fault in emp.state()["faults"]] == [1]
    assert emp.post(VERIFY).status_code == 503
    faulted = emp.last_id()
    assert emp.post(VERIFY).status_code == 200
    expect(row(page, faulted).locator("td.status")).to_have_text("503")
    expect(row(page, emp.last_id()).locator("td.status")).to_have_text("200")
    expect(page.locator("#faults")).not_to_contain_text("503")


def test_the_filters_hide_what_does_not_match(page: Page, expect: Callable[..., Any], emp: RunningMock) -> None:
    emp.post(VERIFY)
    clean = emp.last_id()
    emp.post(unordered_cdr())
    broken = emp.last_id()
    page.goto(emp.url + "/ui/")
    expect(row(page, clean)).to_be_visible()
    expect(row(page, broken)).to_be_visible()
    page.locator("#filter-findings").check()
    expect(row(page, clean)).to_be_hidden()
    expect(row(page, broken)).to_be_visible()
    page.locator("#filter-findings").uncheck()
    expect(row(page, clean)).to_be_visible()
    page.locator("#filter-direction").select_option("outbound")
    expect(row(page, clean)).to_be_hidden()
    expect(row(page, broken)).to_be_hidden()
    page.locator("#filter-direction").select_option("")
    page.locator("#filter-call").select_option("rfid-verify")
    expect(row(page, clean)).to_be_visible()
    expect(row(page, broken)).to_be_hidden()


def test_the_journal_downloads_as_jsonl_redacted_when_asked(
        page: Page, expect: Callable[..., Any], emp: RunningMock) -> None:
    emp.post(unordered_cdr())
    uid = CDR["session-post"]["user"]["identifier"]  # an RFID UID: redaction gives it a pseudonym
    page.goto(emp.url + "/ui/")
    expect(row(page, emp.last_id())).to_be_visible()
    open_panel(page, "#tools")
    exports = []
    for redact in (True, False):
        page.locator("#download-redact").set_checked(redact)
        with page.expect_download() as download:
            page.locator("#download").click()
        exports.append(Path(download.value.path()).read_text(encoding="utf-8"))
    redacted, clear = ([json.loads(line) for line in text.splitlines()] for text in exports)
    assert [(line["call"], line["direction"]) for line in redacted] == [("session-post", "request"),
                                                                         ("session-post", "response")]
    assert len(clear) == len(redacted)
    assert uid in exports[1] and uid not in exports[0]


def test_with_an_admin_token_nothing_shows_but_the_prompt(
        page: Page, expect: Callable[..., Any], watch: Watch, servers: Servers) -> None:
    emp = servers.mock("emp", "--admin-token", TOKEN)
    marker = "7E57AB1DE0C0DE"  # a UID nobody else sends
    assert emp.post({"rfid-verify": {"rfid": marker}}).status_code == 200
    emp.admin_token = TOKEN  # the test's own client
    marked = emp.last_id()
    for path in ("journal", "info", "state", "journal.jsonl"):
        url = f"{emp.url}/admin/{path}"
        assert requests.get(url, timeout=10).status_code == 401, path
        assert requests.get(url, headers={"Authorization": f"key={EMP_KEY}"}, timeout=10).status_code == 403, path
        assert requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).status_code == 200, path

    watch.expect("status of 401")  # chromium's console line for each refused request
    page.goto(emp.url + "/ui/")
    expect(page.locator("#prompt")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    assert marker not in page.content() and "rfid-verify" not in page.locator("body").inner_text()
    page.locator("#token-input").fill("not-the-token")
    page.locator("#token-submit").click()
    expect(page.locator("#prompt-error")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    page.locator("#token-input").fill(TOKEN)
    page.locator("#token-submit").click()
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#prompt")).to_be_hidden()
    row(page, marked).click()
    expect(page.locator("#detail .request-body")).to_contain_text(marker)
    assert [url for url in watch.urls if TOKEN in url] == []


def test_the_proxys_page_shows_a_message_sent_through_it(
        page: Page, expect: Callable[..., Any], servers: Servers, emp: RunningMock) -> None:
    proxy = servers.proxy("--listen", "127.0.0.1:0", "--upstream", emp.url, "--name", "cpo", "--ui", "127.0.0.1:0")
    (url,) = re.findall(r"^page: (http://127\.0\.0\.1:\d+/ui/)", proxy.stdout(), re.MULTILINE)
    page.goto(url)
    expect(page.locator("#kind")).to_have_text("Proxy")
    expect(page.locator("#app")).to_be_visible()
    for panel in ("#state", "#send", "#faults-panel"):
        expect(page.locator(panel)).to_be_hidden()
    answer = requests.post(proxy.base_url + "/api/v4/request", json=unordered_cdr(), timeout=10,
                           headers={"Authorization": f"key={EMP_KEY}"})
    assert answer.status_code == 400, answer.text  # the mock EMP's answer, passed on
    line = page.locator("#journal tbody tr.entry").filter(has=page.locator("td.call", has_text="session-post"))
    expect(line).to_have_count(1)
    expect(line.locator("td.direction")).to_contain_text("cpo")
    expect(line.locator("td.findings span.badge.error", has_text=ORDER_RULE)).to_be_visible()
    line.click()
    finding = page.locator("#detail .finding").filter(has=page.locator(".rule", has_text=ORDER_RULE))
    expect(finding.locator(".expected")).to_contain_text("session-interval stop at or after its start")
    expect(finding.locator(".sentence")).not_to_have_text("no catalogue sentence")
    expect(finding.locator(".sentence")).to_contain_text("stop time of the session")


def test_the_state_follows_an_exchange_and_is_not_asked_for_every_second(
        page: Page, expect: Callable[..., Any], watch: Watch, emp: RunningMock) -> None:
    page.goto(emp.url + "/ui/")
    connectors = page.locator("#state-connectors")
    expect(connectors).to_contain_text("none")
    first = len(watch.urls)
    for _ in range(6):  # six journal polls of an idle mock, a second apart
        with page.expect_request(lambda request: "/admin/journal?" in request.url):
            pass
    asked = [url for url in watch.urls[first:] if "/admin/state" in url]
    assert len(asked) <= 2, f"the state was asked for {len(asked)} times in six idle polls"
    station = requests.get(emp.url + "/admin/example", params={"call": "station-post"}, timeout=10).json()["body"]
    assert emp.post({"station-post": station}).status_code == 200
    expect(connectors).to_contain_text(station["station"]["connectors"][0]["id"])  # at the next poll


def test_a_reset_by_another_client_empties_the_open_page(
        page: Page, expect: Callable[..., Any], emp: RunningMock) -> None:
    emp.post(VERIFY)
    before = emp.last_id()
    page.goto(emp.url + "/ui/")
    expect(row(page, before)).to_be_visible()
    emp.reset()  # another client (a test suite, a colleague's curl) empties the journal
    expect(page.locator("#journal tbody tr.entry")).to_have_count(0)
    emp.post(VERIFY)
    expect(row(page, emp.last_id())).to_be_visible()
    expect(page.locator("#journal tbody tr.entry")).to_have_count(1)
