"""The invariants of a load run (oioi_load/_invariants.py) and the references' load faults they and the thresholds
must catch (examples/_reference/_faults.py).

Unit tests judge journals built here (each invariant holding, then broken); the real checks start
a reference with ``--fault`` on loopback: its 20th answer is a 500, every answer takes >= 1 s,
and a CPO driven through its API with a mock EMP as partner omits the final CDR of exactly every
5th session (and the invariants say so, where a correct CPO's run holds them all).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from examples.demo import start_reference
from examples.reference_cpo import DEFAULT_CONNECTORS
from mock_server.client import RunningMock
from mock_server.client import start as start_mock
from oioi.conversation import STATUS_RULE
from oioi.errors import HarnessError, InputError
from oioi_load._invariants import INVARIANTS, check, final_cdrs, holds, read_sessions

KEY = "load-invariants-key-5c1e09a7b3"  # the reference accepts it
PARTNER_KEY = "load-invariants-partner-key-e4d2"  # the CPO sends it to the mock EMP
EVCO = "DE*8PS*123456*7"
CPO_ID = "reference-cpo-partner-0001"
USER = {"identifier-type": "evco-id", "identifier": EVCO}

# --- journals built here ------------------------------------------------------------------------------------


def entry(n: int, call: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    """A mock journal row: what the CPO sent (inbound), answered ``status``."""
    return {"id": n, "exchange": "inbound", "call": call, "request_body": {call: body}, "status": status,
            "response_body": {"result": {"code": 0 if status == 200 else 100, "message": "m"}}, "peer": None}


def station(n: int, *connectors: str) -> dict[str, Any]:
    return entry(n, "station-post", {"station": {"id": f"S{n}", "connectors": [{"id": c} for c in connectors]},
                                     "partner-identifier": CPO_ID})


def status(n: int, connector: str) -> dict[str, Any]:
    return entry(n, "connector-post-status", {"connector-id": connector, "status": "Occupied",
                                              "partner-identifier": CPO_ID})


def cdr(n: int, session_id: str, *, final: bool = True, answered: int = 200) -> dict[str, Any]:
    interval = {"start": "2026-12-07T10:00:00+00:00", **({"stop": "2026-12-07T10:05:00+00:00"} if final else {})}
    return entry(n, "session-post", {"session-id": session_id, "connector-id": "C1", "session-interval": interval,
                                     "user": {"identifier-type": "evco-id", "identifier": EVCO},
                                     "partner-identifier": CPO_ID}, answered)


def started(session_id: str, stop_status: int | None = 200, code: int | None = 0) -> list[dict[str, Any]]:
    start = {"event": "start", "session-id": session_id, "connector-id": "C1", "evco-id": EVCO, "time": 1.0}
    if stop_status == -1:  # no stop line at all
        return [start]
    return [start, {**start, "event": "stop", "time": 2.0, "status": stop_status, "code": code}]


def verdicts(results: list[dict[str, Any]]) -> dict[str, bool]:
    return {r["invariant"]: r["holds"] for r in results}


def test_a_clean_run_holds_every_invariant() -> None:
    journal = [station(1, "C1"), status(2, "C1"), cdr(3, "s1", final=False), cdr(4, "s1"), status(5, "C1"),
               cdr(6, "s2")]
    results = check(journal, started("s1") + started("s2"))
    assert [r["invariant"] for r in results] == list(INVARIANTS)
    assert verdicts(results) == dict.fromkeys(INVARIANTS, True)
    assert holds(results)
    assert all(r["examples"] == [] and r["detail"].endswith(".") for r in results)


@pytest.mark.parametrize(("records", "example"), [
    (started("s1", -1), "no session-stop was sent"),
    (started("s1", 500, 100), "answered HTTP 500"),
    (started("s1", 200, 182), "result 182"),
    (started("s1", None, None), "answered HTTP None"),
])
def test_a_session_without_an_accepted_stop_breaks_sessions_stopped(records: list[dict[str, Any]],
                                                                     example: str) -> None:
    results = {r["invariant"]: r for r in check([station(1, "C1"), cdr(2, "s1")], records)}
    assert not results["sessions-stopped"]["holds"]
    assert example in results["sessions-stopped"]["examples"][0]
    assert results["one-final-cdr"]["holds"]


@pytest.mark.parametrize(("journal", "final"), [
    ([cdr(1, "s2")], 0),  # another session's CDR
    ([cdr(1, "s1", final=False)], 0),  # an update of the ongoing session is not final
    ([cdr(1, "s1", answered=503)], 0),  # a CDR the mock did not acknowledge
    ([cdr(1, "s1"), cdr(2, "s1")], 2),  # two final CDRs
])
def test_not_exactly_one_final_cdr_breaks_one_final_cdr(journal: list[dict[str, Any]], final: int) -> None:
    results = {r["invariant"]: r for r in check(journal, started("s1"))}
    assert not results["one-final-cdr"]["holds"]
    assert results["one-final-cdr"]["examples"] == [f"session s1 on C1: {final} final CDRs"]
    assert results["sessions-stopped"]["holds"]


def test_a_retried_cdr_is_one_final_cdr() -> None:
    """A try the mock answered 5xx and the CPO sent again is a retry: one acknowledged final CDR."""
    assert final_cdrs([cdr(1, "s1", answered=503), cdr(2, "s1")]) == {"s1": 1}
    assert verdicts(check([cdr(1, "s1", answered=503), cdr(2, "s1")], started("s1")))["one-final-cdr"]


def test_a_status_for_a_connector_never_posted_breaks_statuses_name_posted_connectors() -> None:
    results = {r["invariant"]: r for r in check([station(1, "C1"), status(2, "C1"), status(3, "C9")], [])}
    broken = results["statuses-name-posted-connectors"]
    assert not broken["holds"]
    assert broken["examples"] == [f"connector-post-status #3 for 'C9' as partner {CPO_ID!r}: no station-post "
                                  "announced it before"]
    assert STATUS_RULE == "conversation/status-for-posted-connector"  # the rule it reuses


def test_a_status_before_its_station_post_breaks_statuses_name_posted_connectors() -> None:
    assert not verdicts(check([status(1, "C1"), station(2, "C1")], []))["statuses-name-posted-connectors"]


def test_statuses_without_any_station_post_are_not_judged() -> None:
    """Stations pushed before the mock listened cannot be seen: no station-post at all is no verdict."""
    result = {r["invariant"]: r for r in check([status(1, "C1"), status(2, "C2")], [])}[
        "statuses-name-posted-connectors"]
    assert (result["holds"], result["judged"], result["examples"]) == (True, False, [])
    assert result["detail"].startswith("Not judged: the journal holds 2 connector-post-status but no station-post")


def test_an_independent_count_above_the_journal_breaks_acknowledged_in_journal() -> None:
    journal = [station(1, "C1"), status(2, "C1"), status(3, "C1") | {"status": 503}]
    assert verdicts(check(journal, [], acknowledged=2))["acknowledged-in-journal"]
    broken = {r["invariant"]: r for r in check(journal, [], acknowledged=3)}["acknowledged-in-journal"]
    assert not broken["holds"]
    assert broken["examples"] == ["3 answered 2xx by the mock, 2 such rows in its journal"]
    assert broken["detail"] == "1 of the 3 requests the mock acknowledged are missing from its journal."


def test_without_a_count_a_gap_in_the_journal_breaks_acknowledged_in_journal() -> None:
    holding = {r["invariant"]: r for r in check([station(1, "C1"), status(2, "C1")], [])}["acknowledged-in-journal"]
    assert holding["holds"] and holding["detail"].startswith("No independent count of acknowledged requests")
    gap = {r["invariant"]: r for r in check([station(1, "C1"), status(4, "C1")], [])}["acknowledged-in-journal"]
    assert not gap["holds"] and gap["examples"] == ["no journal row with id 2 to 3"]
    hollow = status(2, "C1") | {"response_body": None}
    broken = {r["invariant"]: r for r in check([station(1, "C1"), hollow], [])}["acknowledged-in-journal"]
    assert broken["examples"] == ["journal row #2 was answered 200 but holds no call, request or answer"]


def test_examples_are_at_most_five() -> None:
    records = [line for n in range(8) for line in started(f"s{n}", -1)]
    result = {r["invariant"]: r for r in check([], records)}["sessions-stopped"]
    assert len(result["examples"]) == 5
    assert result["detail"] == "8 of 8 sessions the load started got no accepted session-stop."


def test_the_sessions_file_is_read_line_by_line(tmp_path: Path) -> None:
    file = tmp_path / "sessions.jsonl"
    assert read_sessions(file) == []  # no file: no session started
    lines = [*started("s1"), {"session-id": "s2", "connector-id": "C2", "evco-id": EVCO, "time": 3.0}]
    file.write_text("".join(json.dumps(line) + "\n" for line in lines) + "\n", encoding="utf-8")
    records = read_sessions(file)
    assert records == lines
    assert {r["invariant"]: r for r in check([cdr(1, "s1")], records)}["sessions-stopped"]["examples"] == [
        "session s2 on C2: no session-stop was sent"]  # a line without "event" is a start
    file.write_text('{"session-id": "s1"}\nnot json\n', encoding="utf-8")
    with pytest.raises(InputError, match="line 2"):
        read_sessions(file)


# --- the references' load faults, for real ------------------------------------------------------------------

def post(url: str, message: dict[str, Any]) -> requests.Response:
    return requests.post(url, json=message, headers={"Authorization": f"key={KEY}"}, timeout=30)


def unknown_start() -> dict[str, Any]:  # answered 200/181 by a correct CPO: handled, changes nothing
    return {"session-start": {"user": {"identifier-type": "evco-id", "identifier": EVCO},
                              "connector-id": "DE*REF*E999999*1"}}


VALID = {"cpo": unknown_start(), "emp": {"rfid-verify": {"rfid": "04523022AA4881"}}}


@pytest.fixture
def stack() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as running:
        yield running


@pytest.mark.parametrize("role", ["cpo", "emp"])
def test_500_every_20th_answers_500_to_the_20th_and_40th_request(tmp_path: Path, stack: contextlib.ExitStack,
                                                                 role: str) -> None:
    reference = start_reference(role, "--api-key", KEY, "--db", str(tmp_path / "ref.sqlite"),
                                "--fault", "500-every-20th")
    stack.callback(reference.stop)
    answers = [post(reference.url, VALID[role]) for _ in range(45)]
    failed = [n for n, answer in enumerate(answers, 1) if answer.status_code != 200]
    assert failed == [20, 40]
    assert answers[19].json()["result"]["code"] == 100
    assert "load faults: 500-every-20th" in reference.stderr()


@pytest.mark.parametrize("role", ["cpo", "emp"])
def test_answers_after_1s_takes_a_second_for_every_answer(tmp_path: Path, stack: contextlib.ExitStack,
                                                          role: str) -> None:
    reference = start_reference(role, "--api-key", KEY, "--db", str(tmp_path / "ref.sqlite"),
                                "--fault", "answers-after-1s")
    stack.callback(reference.stop)
    for _ in range(2):
        began = time.monotonic()
        assert post(reference.url, VALID[role]).status_code == 200
        assert time.monotonic() - began >= 1.0


def test_an_unknown_fault_or_a_fault_with_variants_cannot_run(tmp_path: Path) -> None:
    from examples.reference_emp import create_app
    from oioi.errors import ConfigError

    with pytest.raises(ConfigError, match="drops-every-5th-cdr"):  # a CPO's fault, not the EMP's
        create_app(db_path=":memory:", api_keys=[KEY], faults=["drops-every-5th-cdr"])
    with pytest.raises(HarnessError, match="--fault"):  # the child's one sentence, exit 2
        start_reference("cpo", "--api-key", KEY, "--variants", str(tmp_path), "--fault", "answers-after-1s")


def run_sessions(tmp_path: Path, stack: contextlib.ExitStack, faults: list[str],
                 sessions: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A reference CPO (``faults`` on) sending to a mock EMP: its stations, then ``sessions`` remote sessions
    started and stopped through its API, recorded as the locustfile records them; (journal, records).
    """
    mock: RunningMock = start_mock("emp", api_key=PARTNER_KEY, db=tmp_path / "mock.sqlite3")
    stack.callback(mock.stop)
    cpo = start_reference("cpo", "--api-key", KEY, "--db", str(tmp_path / "cpo.sqlite"), "--partner-url",
                          mock.endpoint, "--partner-api-key", PARTNER_KEY, *[f"--fault={f}" for f in faults])
    stack.callback(cpo.stop)
    assert requests.post(cpo.base_url + "/control", json={"action": "push-stations"}, timeout=30).status_code == 200
    records = []
    for n in range(sessions):
        connector = DEFAULT_CONNECTORS[n % len(DEFAULT_CONNECTORS)]
        answer = post(cpo.url, {"session-start": {"user": USER, "connector-id": connector}}).json()
        line = {"event": "start", "session-id": answer["session-start"]["session-id"], "connector-id": connector,
                "evco-id": EVCO, "time": time.time()}
        stopped = post(cpo.url, {"session-stop": {"user": USER, "connector-id": connector,
                                                  "session-id": line["session-id"]}})
        records += [line, {**line, "event": "stop", "time": time.time(), "status": stopped.status_code,
                           "code": stopped.json()["result"]["code"]}]
    expected = 2 + sessions * 3 - sum(n % 5 == 4 for n in range(sessions)) * ("drops-every-5th-cdr" in faults)
    deadline = time.monotonic() + 20
    while len(mock.received()) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return mock.quiet(0, seconds=10, settle=0.5), records


def test_a_correct_cpo_holds_every_invariant(tmp_path: Path, stack: contextlib.ExitStack) -> None:
    journal, records = run_sessions(tmp_path, stack, [], 10)
    results = check(journal, records)
    assert holds(results), results
    assert len(final_cdrs(journal)) == 10
    assert {r["invariant"]: r["detail"] for r in results}["one-final-cdr"] == (
        "Each of the 10 sessions the load started has exactly one final CDR in the journal.")


def test_drops_every_5th_cdr_omits_the_5th_and_10th_and_breaks_one_final_cdr(tmp_path: Path,
                                                                             stack: contextlib.ExitStack) -> None:
    journal, records = run_sessions(tmp_path, stack, ["drops-every-5th-cdr"], 10)
    session_ids = [r["session-id"] for r in records if r["event"] == "start"]
    assert set(final_cdrs(journal)) == set(session_ids) - {session_ids[4], session_ids[9]}
    assert sum(e["call"] == "connector-post-status" for e in journal) == 20  # its statuses are still sent
    results = {r["invariant"]: r for r in check(journal, records)}
    assert {name: r["holds"] for name, r in results.items()} == {
        "sessions-stopped": True, "one-final-cdr": False, "statuses-name-posted-connectors": True,
        "acknowledged-in-journal": True}
    assert results["one-final-cdr"]["detail"] == ("2 of 10 sessions the load started have not exactly one final "
                                                  "CDR in the journal (2 none, 0 more than one).")
    assert [e.split(":")[0] for e in results["one-final-cdr"]["examples"]] == [
        f"session {session_ids[4]} on {DEFAULT_CONNECTORS[0]}", f"session {session_ids[9]} on {DEFAULT_CONNECTORS[1]}"]
