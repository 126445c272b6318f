"""Take the README's screenshots of the live page: ``python docs/screenshots.py`` (writes docs/page-*.png).

It starts, on free loopback ports, a mock EMP and a mock CPO that talk to each other through
``oioi proxy --ui``, plays a little traffic (a station, a remote start, a status, and a CDR
whose session ends before it starts), then opens the mock EMP's page and the proxy's page in
Debian's headless chromium (Playwright, ``executable_path``; nothing is downloaded) with the
CDR's exchange open. Needs the ``test`` extra and ``apt-get install chromium``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

import requests
from playwright.sync_api import Page, sync_playwright

from mock_server.client import RunningMock, start
from oioi import serving

HERE = Path(__file__).resolve().parent
EMP_KEY, CPO_KEY = "docs-emp-key-0000000001", "docs-cpo-key-0000000002"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
CDR = {"session-post": {
    "session-id": "4f1c2a9e-8d3b-4e6f-9a1c-2b3d4e5f6a7b", "partner-identifier": "oioi-mock-partner-0000000000000001",
    "user": {"identifier-type": "evco-id", "identifier": "DE*8PS*123456*7"}, "connector-id": "DE*8PS*E000001*1",
    "session-interval": {"start": "2026-12-07T17:00:00Z", "stop": "2026-12-07T11:00:00Z"},
    "energy-consumed": 16.5}}


def main() -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("docs/screenshots.py needs Debian's chromium: apt-get install chromium.")
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        emp_port, cpo_port, emp_side, cpo_side = (serving.free_port() for _ in range(4))
        proxy = serving.start([sys.executable, "-m", "mock_server.proxy",
                               "--listen", f"127.0.0.1:{emp_side}", "--upstream", f"http://127.0.0.1:{emp_port}",
                               "--name", "cpo",
                               "--listen", f"127.0.0.1:{cpo_side}", "--upstream", f"http://127.0.0.1:{cpo_port}",
                               "--name", "emp", "--db", f"{folder}/proxy.sqlite3", "--ui", "127.0.0.1:0"],
                              what="proxy")
        stack.callback(proxy.kill)
        emp = start("emp", api_key=EMP_KEY, db=f"{folder}/emp.sqlite3", port=emp_port,
                    options={"partner-url": f"http://127.0.0.1:{cpo_side}/api/v4/request", "partner-api-key": CPO_KEY})
        stack.callback(emp.kill)
        cpo = start("cpo", api_key=CPO_KEY, db=f"{folder}/cpo.sqlite3", port=cpo_port,
                    options={"partner-url": f"http://127.0.0.1:{emp_side}/api/v4/request", "partner-api-key": EMP_KEY})
        stack.callback(cpo.kill)
        play(emp, cpo, f"http://127.0.0.1:{emp_side}/api/v4/request")
        page_url = next(line.split()[1] for line in proxy.stdout().splitlines() if line.startswith("page: "))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            shoot(page, emp.url + "/ui/", HERE / "page-mock.png")
            shoot(page, page_url, HERE / "page-proxy.png")
            browser.close()
    print(f"wrote {HERE / 'page-mock.png'} and {HERE / 'page-proxy.png'}")


def play(emp: RunningMock, cpo: RunningMock, emp_through_proxy: str) -> None:
    """A station, a remote start with its status push, a session-stop with its CDR, and an invalid CDR."""
    cpo.admin("POST", "send", json={"call": "station-post"})  # the fixture station
    start_body = {"user": {"identifier-type": "evco-id", "identifier": "DE*8PS*123456*7"},
                  "connector-id": "DE*8PS*E000001*1"}
    started = emp.send("session-start", start_body)
    answer = json.loads(started.get("response_body") or "{}")
    session = (answer.get("session-start") or answer).get("session-id")
    if session:
        emp.send("session-stop", {"connector-id": "DE*8PS*E000001*1", "session-id": session,
                                  "user": start_body["user"]})
    requests.post(emp_through_proxy, json=CDR, headers={"Authorization": f"key={EMP_KEY}"}, timeout=10)


def shoot(page: Page, url: str, file: Path) -> None:
    """The page at ``url`` with its last exchange with findings open, as ``file``."""
    page.goto(url)
    page.locator("tr.entry.has-findings").last.click()
    page.locator("#detail .finding").first.wait_for()
    page.wait_for_timeout(300)
    page.screenshot(path=str(file))


if __name__ == "__main__":
    main()
