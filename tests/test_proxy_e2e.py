"""The reference CPO and the reference EMP talk to each other through one ``oioi proxy`` with two listeners.

Each reference's partner URL is the proxy's listener whose upstream is the other reference;
the tests make them act through their ``POST /control`` hooks and read the proxy's journal.
With correct references no exchange has a finding; with a faulty CPO the journal names the
rule of each fault at the message that has it: one fault spanning messages
(``status-before-station``: a status for a connector never posted; ``cdr-other-session-id``:
a CDR with another session-id than its start's) and one within a single message
(``rfid-lowercase``). One conversation of each kind, about 20 s in all.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from examples.demo import start_reference
from examples.reference_cpo import DEFAULT_CONNECTORS
from mock_server._store import Store
from oioi import serving

CPO_KEY = "e2e-key-the-emp-sends-3b9f01c2d4"  # the CPO accepts it; the EMP sends it
EMP_KEY = "e2e-key-the-cpo-sends-7e21a8c5f6"  # the EMP accepts it; the CPO sends it
EVCO_ID = "DE*8PS*123456*7"  # the reference EMP's active EVCO ID (UID 04523022AA4881)
UID = "04523022AA4881"
SESSION_SECONDS = 5.0  # a remote session this long is proven running beyond the CDR's whole-second times
STATUS_RULE, START_RULE = "conversation/status-for-posted-connector", "conversation/cdr-session-id-of-start"


class Conversation:
    """Both references and the proxy between them: the CPO's requests come in as peer 'cpo', the EMP's as 'emp'."""

    def __init__(self, folder: Path, defects: list[str], stack: contextlib.ExitStack) -> None:
        cpo_port, emp_port = serving.free_port(), serving.free_port()
        self.cpo = start_reference("cpo", "--api-key", CPO_KEY, "--db", str(folder / "cpo.sqlite"),
                                   "--partner-url", f"http://127.0.0.1:{cpo_port}/api/v4/request",
                                   "--partner-api-key", EMP_KEY, *[f"--defect={d}" for d in defects])
        stack.callback(self.cpo.stop)
        self.emp = start_reference("emp", "--api-key", EMP_KEY, "--db", str(folder / "emp.sqlite"),
                                   "--partner-url", f"http://127.0.0.1:{emp_port}/api/v4/request",
                                   "--partner-api-key", CPO_KEY)
        stack.callback(self.emp.stop)
        self.db = folder / "proxy.sqlite3"
        self.proxy = serving.start([sys.executable, "-m", "mock_server.proxy",
                                    "--listen", f"127.0.0.1:{cpo_port}", "--upstream", self.emp.url, "--name", "cpo",
                                    "--listen", f"127.0.0.1:{emp_port}", "--upstream", self.cpo.url, "--name", "emp",
                                    "--db", str(self.db)], what="proxy")
        stack.callback(self.proxy.stop)

    def act(self, who: serving.Child, action: str, **fields: str) -> dict[str, Any]:
        answer = requests.post(who.base_url + "/control", json={"action": action, **fields}, timeout=30)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def journal(self) -> list[dict[str, Any]]:
        return Store(str(self.db), create=False).journal()

    def settle(self, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 15.0) -> list[dict[str, Any]]:
        """The journal once ``until`` holds of it (the references send from an outbox, a moment later)."""
        deadline = time.monotonic() + timeout
        while not until(entries := self.journal()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert until(entries), [(e["peer"], e["call"], e["status"]) for e in entries]
        return entries

    def play(self, *, remote_session: bool) -> list[dict[str, Any]]:
        """Stations, statuses, an RFID session, the EMP's whitelist and (optionally) a remote session; the journal."""
        first, other = DEFAULT_CONNECTORS[0], DEFAULT_CONNECTORS[2]  # connectors of REF-STATION-1 and -2
        self.act(self.cpo, "push-stations")
        self.settle(lambda j: sum(e["call"] == "station-post" for e in j) >= 1)
        time.sleep(0.3)  # every station-post of the push is out
        self.act(self.cpo, "set-status", **{"connector-id": other, "status": "Offline"})
        self.act(self.cpo, "present-rfid", **{"connector-id": first, "rfid": UID})
        self.act(self.emp, "push-rfids")
        expected = {"rfid-verify": 1, "rfid-post": 1, "connector-post-status": 2}
        if remote_session:  # an EMP-started session on the second connector, stopped by the EMP
            self.act(self.emp, "start-session", **{"connector-id": DEFAULT_CONNECTORS[1], "evco-id": EVCO_ID})
            time.sleep(SESSION_SECONDS)
            self.act(self.emp, "stop-session", **{"connector-id": DEFAULT_CONNECTORS[1], "evco-id": EVCO_ID})
            expected |= {"session-start": 1, "session-stop": 1, "session-post": 1}
        return self.settle(lambda j: all(sum(e["call"] == c for e in j) >= n for c, n in expected.items()))


@pytest.fixture
def conversation(tmp_path: Path) -> Iterator[Callable[[list[str]], Conversation]]:
    with contextlib.ExitStack() as stack:
        yield lambda defects: Conversation(tmp_path, defects, stack)


def findings(journal: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(e["peer"], e["call"], f["rule"]) for e in journal for f in e["findings"]]


def test_correct_references_talk_through_the_proxy_without_a_finding(
        conversation: Callable[[list[str]], Conversation]) -> None:
    talk = conversation([])
    journal = talk.play(remote_session=True)
    assert findings(journal) == []
    assert {e["peer"] for e in journal} == {"cpo", "emp"}
    assert all(e["status"] == 200 for e in journal), [(e["call"], e["status"], e["response_body"]) for e in journal]
    assert "FINDING" not in talk.proxy.stdout()
    code, report = traffic_report(talk.db, talk.db.parent / "report")
    assert (code, report["findings"]) == (0, []), report["findings"]


def test_a_faulty_cpo_is_named_by_rule_at_the_message_that_breaks_it(
        conversation: Callable[[list[str]], Conversation]) -> None:
    talk = conversation(["status-before-station", "rfid-lowercase", "cdr-other-session-id"])
    journal = talk.play(remote_session=True)
    found = findings(journal)
    assert ("cpo", "connector-post-status", STATUS_RULE) in found  # a status for REF-STATION-2, never posted
    assert ("cpo", "rfid-verify", "schema/pattern") in found  # the UID in lower case
    assert ("cpo", "session-post", START_RULE) in found  # the CDR of the remote start, another session-id
    (status,) = [e for e in journal if any(f["rule"] == STATUS_RULE for f in e["findings"])]
    assert status["request_body"]["connector-post-status"]["connector-id"] == DEFAULT_CONNECTORS[2]
    (verify,) = [e for e in journal if e["call"] == "rfid-verify"]
    assert verify["request_body"] == {"rfid-verify": {"rfid": UID.lower()}}
    assert {peer for peer, _, _ in found} == {"cpo"}  # the correct EMP has none
    printed = talk.proxy.stdout()
    for entry in (status, verify):
        assert f"#{entry['id']}  " in printed and "FINDING  cpo" in printed
    code, report = traffic_report(talk.db, talk.db.parent / "report")
    assert code == 1
    reported = {group["rule"]: {m["id"] for m in group["messages"]} for group in report["findings"]}
    assert status["id"] in reported[STATUS_RULE] and verify["id"] in reported["schema/pattern"], reported
    assert START_RULE in reported
    page = (talk.db.parent / "report" / "report.html").read_text(encoding="utf-8")
    assert STATUS_RULE in page and START_RULE in page and UID.lower() in page


def traffic_report(db: Path, folder: Path) -> tuple[int, dict[str, Any]]:
    """``oioi report --db DB`` on the proxy's journal: its exit status and report.json."""
    done = subprocess.run([sys.executable, "-m", "oioi_cli", "report", "--db", str(db), "--report-dir", str(folder)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    report: dict[str, Any] = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    return done.returncode, report
