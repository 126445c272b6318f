"""The live page's server side over real HTTP: its files, its data, and who may read them.

The page (``/ui/``) is three static files that hold no data; everything it shows comes from the
admin API, which an OIOI key never opens and which, with ``--admin-token``, refuses every request
without the token. The browser tests (tests/test_page_browser.py) drive the page itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mock_server import _page
from oioi import capture, serving, validate
from tests.fixtures.mock import EMP_KEY, PARTNER, MockProcess

TOKEN = "page-admin-token-3c9e1f7a2b"
DATA = ["/admin/info", "/admin/journal", "/admin/journal?explain=1", "/admin/journal.jsonl", "/admin/state",
        "/admin/example?call=session-start"]
MARKER = "PAGE-MARKER-5d2e"  # a value only a journaled message carries
OUT_OF_ORDER = {"session-post": {
    "session-id": "9a1c2e3f-0000-4000-8000-000000000001", "partner-identifier": PARTNER,
    "user": {"identifier-type": "evco-id", "identifier": "DE*ABC*C00001*1"}, "connector-id": "DE*ABC*E0001",
    "session-interval": {"start": "2026-12-01T10:00:00Z", "stop": "2026-12-01T09:00:00Z"}}}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockProcess]:
    """A mock EMP whose admin API and page data need the admin token."""
    mock = MockProcess("emp", tmp_path_factory.mktemp("page") / "emp.sqlite3", EMP_KEY, "--admin-token", TOKEN)
    mock.start()
    yield mock
    mock.kill()


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", DATA)
def test_the_pages_data_needs_the_admin_token(guarded: MockProcess, path: str) -> None:
    assert requests.get(guarded.url + path, timeout=10).status_code == 401
    assert requests.get(guarded.url + path, headers=bearer("wrong-token"), timeout=10).status_code == 401
    refused = requests.get(guarded.url + path, headers={"Authorization": f"key={EMP_KEY}"}, timeout=10)
    assert refused.status_code == 403 and "OIOI API keys" in refused.json()["error"]
    assert requests.get(guarded.url + path, headers=bearer(), timeout=10).status_code == 200


def test_the_page_itself_holds_no_data_and_lets_the_browser_talk_to_its_own_server_only(guarded: MockProcess) -> None:
    posted = guarded.post({"connector-post-status": {"connector-id": MARKER}}, check=False)
    assert posted.status_code == 400
    for name in _page.FILES:
        got = requests.get(f"{guarded.url}/ui/{name}", timeout=10)
        assert got.status_code == 200 and MARKER not in got.text and TOKEN not in got.text
        assert got.headers["Content-Security-Policy"] == _page.POLICY
        assert "connect-src 'self'" in got.headers["Content-Security-Policy"]
        assert got.headers["X-Content-Type-Options"] == "nosniff"
    page = requests.get(f"{guarded.url}/ui/", timeout=10).text
    assert "http://" not in page and "https://" not in page  # nothing from another host
    assert requests.get(f"{guarded.url}/ui/", headers={"Authorization": f"key={EMP_KEY}"}, timeout=10).status_code \
        == 403
    home = requests.get(guarded.url + "/", allow_redirects=False, timeout=10)
    assert home.status_code == 302 and home.headers["Location"].endswith("/ui/")


def journal(mock: MockProcess, **params: Any) -> list[dict[str, Any]]:
    got = requests.get(mock.url + "/admin/journal", params=params, headers=bearer(), timeout=10)
    assert got.status_code == 200, got.text
    entries: list[dict[str, Any]] = got.json()["entries"]
    return entries


def test_an_explained_entry_has_its_partner_its_findings_sentence_and_a_curl_without_the_key(
        guarded: MockProcess) -> None:
    answer = guarded.post(OUT_OF_ORDER, check=False)
    assert answer.status_code == 400
    (entry,) = journal(guarded, latest=1, explain=1)
    assert entry["call"] == "session-post" and entry["partner"] == PARTNER
    rules = {f["rule"]: f for f in entry["findings"]}
    ordered = rules["semantic/session-interval-ordered"]["sentence"]
    assert ordered["requirements"] == ["session-post.intervals-consistent"]
    assert ordered["file"] == "calls/session_post.rst" and ordered["quote"]
    assert entry["url"] == guarded.url + "/api/v4/request"
    assert "$OIOI_API_KEY" in entry["curl"] and EMP_KEY not in json.dumps(entry)
    assert entry["curl"].startswith(f"curl -sS -i -X POST {guarded.url}/api/v4/request")
    plain = journal(guarded, latest=1)[0]
    assert "curl" not in plain and "sentence" not in plain["findings"][0]  # explain=1 only


def test_latest_and_since_page_through_the_journal(guarded: MockProcess) -> None:
    for n in range(3):
        guarded.post({"connector-post-status": {"connector-id": f"{MARKER}-{n}"}}, check=False)
    last_three = journal(guarded, latest=3)
    assert [e["request_body"]["connector-post-status"]["connector-id"] for e in last_three] == [
        f"{MARKER}-{n}" for n in range(3)]
    assert journal(guarded, since=last_three[0]["id"]) == last_three[1:]
    assert requests.get(guarded.url + "/admin/journal?latest=x", headers=bearer(), timeout=10).status_code == 400


def test_every_call_the_mock_sends_has_a_valid_example_with_its_own_partner_identifier(guarded: MockProcess) -> None:
    info = requests.get(guarded.url + "/admin/info", headers=bearer(), timeout=10).json()
    assert info["kind"] == "mock" and info["role"] == "emp" and info["refresh_ms"] == 1000
    assert info["sends"] == ["reservation-start", "reservation-stop", "rfid-post", "session-start", "session-stop"]
    for call in info["sends"]:
        got = requests.get(guarded.url + "/admin/example", params={"call": call}, headers=bearer(), timeout=30)
        assert got.status_code == 200, got.text
        message = {call: got.json()["body"]}
        assert [str(f) for f in validate(message) if f.severity == "error"] == []
        if "partner-identifier" in message[call]:
            assert message[call]["partner-identifier"] == "oioi-mock-partner-0000000000000001"
    unknown = requests.get(guarded.url + "/admin/example", params={"call": "nothing"}, headers=bearer(), timeout=10)
    assert unknown.status_code == 400 and "'call'" in unknown.json()["error"]


def test_the_journal_download_is_the_export_and_redacted_when_asked(guarded: MockProcess) -> None:
    guarded.post(OUT_OF_ORDER, check=False)
    plain = requests.get(guarded.url + "/admin/journal.jsonl", headers=bearer(), timeout=10)
    assert plain.status_code == 200 and "attachment" in plain.headers["Content-Disposition"]
    assert EMP_KEY not in plain.text and PARTNER in plain.text
    assert [e["call"] for e in capture.loads(plain.content).entries] == [e["call"] for e in journal(guarded)]
    redacted = requests.get(guarded.url + "/admin/journal.jsonl?redact=1", headers=bearer(), timeout=10)
    assert redacted.status_code == 200 and "DE*ABC*C00001*1" not in redacted.text  # the EVCO ID
    assert len(capture.loads(redacted.content).entries) == len(capture.loads(plain.content).entries)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory, guarded: MockProcess) -> Iterator[tuple[str, str, Path]]:
    """``oioi proxy`` in front of the mock, with its page behind the admin token: (listener URL, page URL, journal)."""
    db = tmp_path_factory.mktemp("proxy-page") / "journal.sqlite3"
    child = serving.start([sys.executable, "-m", "mock_server.proxy", "--listen", "127.0.0.1:0",
                           "--upstream", guarded.url, "--name", "cpo", "--db", str(db), "--ui", "127.0.0.1:0",
                           "--admin-token", TOKEN], what="proxy")
    try:
        out = child.stdout()
        listener = out.split(serving.ANNOUNCE)[1].split()[0]
        page = next(line.split()[1] for line in out.splitlines() if line.startswith("page: "))
        yield listener, page.removesuffix("/ui/"), db
    finally:
        assert child.stop() == 0, child.stderr()


def test_the_proxys_page_is_guarded_like_the_mocks_and_never_forwards(guarded: MockProcess,
                                                                       proxied: tuple[str, str, Path]) -> None:
    listener, page, _ = proxied
    before = len(journal(guarded))
    for path in ("/admin/info", "/admin/journal?explain=1", "/admin/journal.jsonl"):
        assert requests.get(page + path, timeout=10).status_code == 401
        assert requests.get(page + path, headers={"Authorization": f"key={EMP_KEY}"}, timeout=10).status_code == 403
    for path in ("/admin/state", "/admin/send", "/admin/faults", "/admin/example?call=session-start"):
        assert requests.get(page + path, headers=bearer(), timeout=10).status_code in (404, 405)  # no actions
    assert len(journal(guarded)) == before  # nothing asked of the page went upstream
    sent = requests.post(listener + "/api/v4/request", json=OUT_OF_ORDER,
                         headers={"Authorization": f"key={EMP_KEY}"}, timeout=10)
    assert sent.status_code == 400  # the mock's answer, through the proxy
    got = requests.get(page + "/admin/journal", params={"explain": 1, "latest": 1}, headers=bearer(), timeout=10)
    (entry,) = got.json()["entries"]
    assert entry["peer"] == "cpo" and entry["url"] == listener + "/api/v4/request"
    assert "session-post.intervals-consistent" in json.dumps(entry["findings"])
    info = requests.get(page + "/admin/info", headers=bearer(), timeout=10).json()
    assert info["kind"] == "proxy" and not any(info["features"].values())
    assert info["listeners"] == [{"name": "cpo", "url": listener, "upstream": guarded.url}]


def test_an_admin_token_without_a_page_is_one_sentence(tmp_path: Path) -> None:

    from oioi_cli import main  # noqa: F401  (the command as users run it)

    done = subprocess.run([sys.executable, "-m", "mock_server.proxy", "--listen", "127.0.0.1:0", "--upstream",
                           "http://127.0.0.1:9", "--db", str(tmp_path / "j.sqlite3"), "--admin-token", "x"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "give --ui HOST:PORT too" in done.stderr and "Traceback" not in done.stderr


def test_a_partner_url_is_shown_with_its_password_and_query_masked() -> None:
    from mock_server._admin import shown_url

    shown = shown_url("https://user:s3cret-pass-99@cpo.example.com:8443/api/v4/request?key=abcdef123456")
    assert "s3cret-pass" not in shown and "abcdef12" not in shown
    assert shown.startswith("https://user:") and "@cpo.example.com:8443/api/v4/request?key=" in shown
    assert shown_url("http://127.0.0.1:9/api/v4/request") == "http://127.0.0.1:9/api/v4/request"


def test_another_sites_page_cannot_use_the_admin_api_through_a_browser(guarded: MockProcess) -> None:
    for method, path in (("POST", "/admin/reset"), ("GET", "/admin/journal"), ("DELETE", "/admin/faults")):
        refused = requests.request(method, guarded.url + path, headers={**bearer(), "Origin": "http://evil.example"},
                                   timeout=10)
        assert refused.status_code == 403 and "evil.example" in refused.json()["error"]
    own = requests.get(guarded.url + "/admin/journal", headers={**bearer(), "Origin": guarded.url}, timeout=10)
    assert own.status_code == 200
