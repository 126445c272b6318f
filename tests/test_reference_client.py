"""The reference implementations as senders: what ``POST /control`` makes them send, and how they deliver it.

Each test runs a reference in-process (Flask's test client, SQLite in memory) whose partner
is a ``RecordingPeer`` (tests/fixtures/peer.py) on a free loopback port: it records every request
and answers from a script, then 200 with result 0. The outbox's wait between
tries is recorded instead of slept (its ``sleep`` seam), except where real time is the point.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from examples import reference_cpo, reference_emp
from examples._reference import EXTENSION, PATH, Endpoint, Outbox
from oioi import validate
from tests.fixtures.peer import ACTIVE_UID, CPO_SESSION_ID, EVCO, SUCCESS, RecordingPeer, Scripted
from tests.test_reference import PROBES

API_KEY = "reference-client-test-key-0001"  # what the partner sends to the reference
PARTNER_KEY = "partner-key-of-the-test-0042"  # what the reference sends to its partner
CONNECTOR, CONNECTOR_2 = "DE*REF*E000001*1", "DE*REF*E000002*1"
NOW = datetime.datetime(2026, 12, 4, 18, 15, tzinfo=datetime.UTC)
SETTLE = 5.0  # seconds the outbox may take to deliver everything queued


@pytest.fixture
def peer() -> Iterator[RecordingPeer]:
    server = RecordingPeer()
    yield server
    server.stop()


@dataclasses.dataclass
class Reference:
    """A reference in-process: its test client, its outbox, the outbox's recorded waits."""

    client: FlaskClient
    endpoint: Endpoint
    sleeps: list[float]

    @property
    def outbox(self) -> Outbox:
        assert self.endpoint.outbox is not None
        return self.endpoint.outbox

    def control(self, action: str, **fields: Any) -> tuple[int, Any]:
        response = self.client.post("/control", json={"action": action, **fields})
        return response.status_code, response.get_json()

    def oioi(self, call: str, body: dict[str, Any]) -> Any:
        headers = {"Authorization": f"key={API_KEY}"}
        return self.client.post(PATH, json={call: body}, headers=headers).get_json()

    def settle(self) -> None:
        assert self.outbox.idle(SETTLE), "the outbox did not deliver everything in time"


CREATE: dict[str, Callable[..., Flask]] = {"cpo": reference_cpo.create_app, "emp": reference_emp.create_app}


def reference(role: str, peer: RecordingPeer | None, *faults: str, behaviours: tuple[str, ...] = ()) -> Reference:
    """A fresh reference with ``faults`` (and ``behaviours``), sending to ``peer``; clock and ids fixed, waits
    recorded.
    """
    url, key = (peer.url, PARTNER_KEY) if peer is not None else (None, None)
    app = CREATE[role](db_path=":memory:", api_keys=[API_KEY], faults=faults, partner_url=url, partner_api_key=key,
                       behaviours=behaviours)
    endpoint: Endpoint = app.extensions[EXTENSION]
    endpoint.now = lambda: NOW
    ids = itertools.count(1)
    endpoint.new_id = lambda: f"ref-session-{next(ids)}"
    sleeps: list[float] = []
    if endpoint.outbox is not None:
        endpoint.outbox.sleep = sleeps.append
    return Reference(app.test_client(), endpoint, sleeps)


def remote_start(cpo: Reference, connector: str = CONNECTOR) -> str:
    user = {"identifier-type": "evco-id", "identifier": EVCO}
    answer = cpo.oioi("session-start", {"user": user, "connector-id": connector})
    assert answer["result"]["code"] == 0, answer
    return str(answer["session-start"]["session-id"])


def later(cpo: Reference, hours: float) -> None:
    cpo.endpoint.now = lambda: NOW + datetime.timedelta(hours=hours)


# --- the CPO sends -------------------------------------------------------------------------------


def test_push_stations_sends_valid_station_posts(peer: RecordingPeer) -> None:
    cpo = reference("cpo", peer)
    assert cpo.control("push-stations") == (200, {"done": True, "stations": ["REF-STATION-1", "REF-STATION-2"]})
    cpo.settle()
    assert [validate(r.body) for r in peer.received] == [[], []]
    posts = peer.calls("station-post")
    assert [[c["id"] for c in p["station"]["connectors"]] for p in posts] == [
        ["DE*REF*E000001*1", "DE*REF*E000001*2"],
        ["DE*REF*E000002*1", "DE*REF*E000002*2"],
    ]
    assert {(p["partner-identifier"], p["station"]["cpo-id"], p["station"]["deleted"]) for p in posts} == {
        (reference_cpo.DEFAULT_PARTNER_IDENTIFIER, "DE*REF", False)
    }
    assert {(r.headers["Authorization"], r.headers["Content-Type"]) for r in peer.received} == {
        (f"key={PARTNER_KEY}", "application/json")
    }


def test_set_status_sends_connector_post_status(peer: RecordingPeer) -> None:
    cpo = reference("cpo", peer)
    assert cpo.control("set-status", **{"connector-id": CONNECTOR_2, "status": "Offline"}) == (200, {"done": True})
    cpo.settle()
    (status,) = peer.calls("connector-post-status")
    assert status == {
        "connector-id": CONNECTOR_2,
        "status": "Offline",
        "partner-identifier": "reference-cpo-partner-0001",
    }
    assert validate(peer.received[0].body) == []


def test_present_rfid_normalises_the_uid_and_starts_a_session(peer: RecordingPeer) -> None:
    cpo = reference("cpo", peer)
    status, answer = cpo.control("present-rfid", **{"connector-id": CONNECTOR, "rfid": "4523022a a4881"})
    assert (status, answer["authorized"], answer["session-id"]) == (200, True, "ref-session-1")
    assert peer.calls("rfid-verify") == [{"rfid": ACTIVE_UID}]  # synchronous: there before the answer
    cpo.settle()
    assert peer.calls("connector-post-status")[0]["status"] == "Occupied"


def test_present_rfid_refused_starts_nothing(peer: RecordingPeer) -> None:
    cpo = reference("cpo", peer)
    status, answer = cpo.control("present-rfid", **{"connector-id": CONNECTOR, "rfid": "0477BD22AA4AAA"})
    assert (status, answer["authorized"], answer["session-id"]) == (200, False, None)
    cpo.settle()
    assert [r.call for r in peer.received] == ["rfid-verify"]


def test_plug_out_sends_the_cdr_with_the_session_start_answers_id(peer: RecordingPeer) -> None:
    cpo = reference("cpo", peer)
    session_id = remote_start(cpo)
    later(cpo, hours=2)
    assert cpo.control("plug-out", **{"connector-id": CONNECTOR}) == (200, {"done": True, "session-id": session_id})
    cpo.settle()
    assert [r.call for r in peer.received] == ["connector-post-status", "connector-post-status", "session-post"]
    assert [s["status"] for s in peer.calls("connector-post-status")] == ["Occupied", "Available"]
    (cdr,) = peer.calls("session-post")
    assert validate(peer.received[-1].body) == []
    assert cdr["session-id"] == session_id
    assert cdr["user"] == {"identifier-type": "evco-id", "identifier": EVCO}
    assert cdr["session-interval"] == {"start": "2026-12-04T18:15:00+00:00", "stop": "2026-12-04T20:15:00+00:00"}
    assert 0 <= cdr["energy-consumed"] <= 22.0 * 2


def test_received_session_stop_sends_the_cdr(peer: RecordingPeer) -> None:
    cpo = reference("cpo", peer)
    session_id = remote_start(cpo)
    answer = cpo.oioi("session-stop", {"user": {"identifier-type": "evco-id", "identifier": EVCO},
                                       "connector-id": CONNECTOR, "session-id": session_id})  # fmt: skip
    assert answer["result"]["code"] == 0
    cpo.settle()
    assert [c["session-id"] for c in peer.calls("session-post")] == [session_id]
    assert peer.calls("connector-post-status")[-1]["status"] == "Available"


def test_an_rfid_session_has_a_cdr_at_its_start_and_its_end(peer: RecordingPeer) -> None:
    """The EMP learns of the session from a CDR without a stop (cpo/cdr.rst); the final CDR updates it."""
    cpo = reference("cpo", peer)
    _status, answer = cpo.control("present-rfid", **{"connector-id": CONNECTOR, "rfid": ACTIVE_UID})
    later(cpo, hours=1)
    cpo.control("plug-out", **{"connector-id": CONNECTOR})
    cpo.settle()
    ongoing, final = peer.calls("session-post")
    assert [validate({"session-post": cdr}) for cdr in (ongoing, final)] == [[], []]
    assert {(cdr["session-id"], cdr["user"]["identifier-type"], cdr["user"]["identifier"]) for cdr in
            (ongoing, final)} == {(answer["session-id"], "rfid", ACTIVE_UID)}  # fmt: skip
    assert (ongoing["session-interval"], final["session-interval"]) == ({"start": HOUR["start"]}, HOUR)
    assert "energy-consumed" not in ongoing and final["energy-consumed"] <= 22.0


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"action": "no-such-action"}, 501),
        ({"action": "set-status", "connector-id": CONNECTOR}, 400),
        ({"action": "set-status", "connector-id": CONNECTOR, "status": "Broken"}, 400),
        ({"action": "set-status", "connector-id": "DE*REF*E999999*1", "status": "Available"}, 400),
        ({"action": "present-rfid", "connector-id": CONNECTOR, "rfid": "not-hex"}, 400),
        ({"action": "plug-out", "connector-id": CONNECTOR}, 409),
        ({"nothing": "here"}, 400),
    ],
)
def test_control_refusals(peer: RecordingPeer, fields: dict[str, Any], expected: int) -> None:
    response = reference("cpo", peer).client.post("/control", json=fields)
    assert (response.status_code, set(response.get_json())) == (expected, {"error"})


def test_control_without_partner_is_a_conflict() -> None:
    for role, action in (("cpo", "push-stations"), ("emp", "push-rfids")):
        assert reference(role, None).control(action)[0] == 409


# --- delivery (request.rst: retry 5xx, honour Retry-After, back off; never resend after 4xx) -----


def test_retries_honour_retry_after_and_grow(peer: RecordingPeer) -> None:
    cpo = reference("cpo", peer)
    peer.script = [Scripted(503, {"Retry-After": "3"}), Scripted(503), Scripted(502)]
    cpo.control("set-status", **{"connector-id": CONNECTOR, "status": "Available"})
    cpo.settle()
    assert (len(peer.received), cpo.sleeps) == (4, [3.0, 1.0, 2.0])
    assert len({json.dumps(r.body) for r in peer.received}) == 1  # the same message each time


def test_gives_up_after_four_tries(peer: RecordingPeer) -> None:
    cpo = reference("cpo", peer)
    peer.script = [Scripted(503)] * 5
    cpo.control("set-status", **{"connector-id": CONNECTOR, "status": "Available"})
    cpo.control("set-status", **{"connector-id": CONNECTOR, "status": "Occupied"})
    cpo.settle()
    assert (len(peer.received), cpo.sleeps) == (6, [0.5, 1.0, 2.0, 0.5])  # 4 tries, then the next message


def test_waits_for_retry_after_in_real_time(peer: RecordingPeer) -> None:
    cpo = reference("cpo", peer)
    cpo.outbox.sleep = time.sleep
    peer.script = [Scripted(503, {"Retry-After": "1"})]
    cpo.control("set-status", **{"connector-id": CONNECTOR, "status": "Available"})
    cpo.settle()
    first, second = peer.received
    assert second.at - first.at >= 1.0


def test_no_resend_after_400(peer: RecordingPeer) -> None:
    cpo = reference("cpo", peer)
    peer.script = [Scripted(400)]
    cpo.control("set-status", **{"connector-id": CONNECTOR, "status": "Available"})
    cpo.control("set-status", **{"connector-id": CONNECTOR, "status": "Occupied"})
    cpo.settle()
    assert [s["status"] for s in peer.calls("connector-post-status")] == ["Available", "Occupied"]


def test_retries_when_nobody_answers() -> None:
    silent = RecordingPeer()
    silent.stop()  # the port is closed: every try is a refused connection
    cpo = reference("cpo", silent)
    cpo.control("set-status", **{"connector-id": CONNECTOR, "status": "Available"})
    cpo.settle()
    assert cpo.sleeps == [0.5, 1.0, 2.0]


# --- the EMP sends -------------------------------------------------------------------------------


def test_emp_start_and_stop_session_use_the_cpos_session_id(peer: RecordingPeer) -> None:
    emp = reference("emp", peer)
    status, started = emp.control("start-session", **{"connector-id": CONNECTOR, "evco-id": EVCO})
    assert (status, started) == (200, {"done": True, "status": 200, "result": SUCCESS, "session-id": CPO_SESSION_ID})
    assert emp.control("stop-session", **{"connector-id": CONNECTOR, "evco-id": EVCO})[0] == 200
    start, stop = (r.body for r in peer.received)
    assert [validate(start), validate(stop)] == [[], []]
    assert start["session-start"]["user"] == {"identifier-type": "evco-id", "identifier": EVCO}
    assert stop["session-stop"]["session-id"] == CPO_SESSION_ID


def test_emp_push_rfids_sends_every_active_uid(peer: RecordingPeer) -> None:
    emp = reference("emp", peer)
    assert emp.control("push-rfids")[0] == 200
    emp.settle()
    assert peer.calls("rfid-post") == [{"rfids": [ACTIVE_UID], "partner-identifier": "reference-emp-partner-0001"}]


def test_emp_reserve_and_cancel(peer: RecordingPeer) -> None:
    emp = reference("emp", peer)
    assert emp.control("reserve", **{"connector-id": CONNECTOR, "evco-id": EVCO})[1]["result"] == SUCCESS
    assert emp.control("cancel-reservation", **{"evco-id": EVCO})[1]["result"] == SUCCESS
    assert [r.body for r in peer.received] == [
        {"reservation-start": {"connector-id": CONNECTOR, "identifier": [{"evco-id": EVCO}]}},
        {"reservation-stop": {"identifier-type": "evco-id", "identifier": EVCO}},
    ]
    assert [validate(r.body) for r in peer.received] == [[], []]


def _posted_station_shapes(cpo: Reference, peer: RecordingPeer) -> Any:
    cpo.control("push-stations")
    cpo.settle()
    return [type(p["station"]).__name__ for p in peer.calls("station-post")]


def _first_connector_id(cpo: Reference, peer: RecordingPeer) -> Any:
    cpo.control("push-stations")
    cpo.settle()
    return peer.calls("station-post")[0]["station"]["connectors"][0]["id"]


def _rfid_session_cdrs(cpo: Reference, peer: RecordingPeer, sessions: int = 1) -> list[tuple[str, bool]]:
    """(session-id, has a stop) of the CDRs of ``sessions`` RFID sessions one after the other at one connector."""
    for _ in range(sessions):
        cpo.control("present-rfid", **{"connector-id": CONNECTOR, "rfid": ACTIVE_UID})
        cpo.control("plug-out", **{"connector-id": CONNECTOR})
    cpo.settle()
    return [(c["session-id"], "stop" in c["session-interval"]) for c in peer.calls("session-post")]


def _session_ids_of_two_sessions(cpo: Reference, peer: RecordingPeer) -> Any:
    return len({session_id for session_id, _ in _rfid_session_cdrs(cpo, peer, sessions=2)})


def _partner_identifier(ref: Reference, peer: RecordingPeer) -> Any:
    _send_one(ref)
    return len(next(iter(peer.received[0].body.values()))["partner-identifier"])


def _top_level_keys(ref: Reference, peer: RecordingPeer) -> Any:
    _send_one(ref)
    return len(peer.received[0].body)


def _session_start_evco(emp: Reference, peer: RecordingPeer) -> Any:
    emp.control("start-session", **{"connector-id": CONNECTOR, "evco-id": EVCO})
    return peer.calls("session-start")[0]["user"]["identifier"]


def _session_stop_user(emp: Reference, peer: RecordingPeer) -> Any:
    emp.control("start-session", **{"connector-id": CONNECTOR, "evco-id": EVCO})
    emp.control("stop-session", **{"connector-id": CONNECTOR, "evco-id": EVCO})
    return [s["user"]["identifier-type"] for s in peer.calls("session-stop")]


def _rfid_posts(emp: Reference, peer: RecordingPeer) -> Any:
    emp.control("push-rfids")
    emp.settle()
    return len(peer.calls("rfid-post"))


def _reservation_calls(emp: Reference, peer: RecordingPeer) -> Any:
    emp.control("reserve", **{"connector-id": CONNECTOR, "evco-id": EVCO})
    emp.control("cancel-reservation", **{"evco-id": EVCO})
    return [(r.call, r.body[r.call].get("identifier-type")) for r in peer.received]


# --- every sender fault shows its bug: (what the scenario observes) correct != faulty -------------

Scenario = Callable[[Reference, RecordingPeer], Any]


def _cdr_of_remote_start(cpo: Reference, peer: RecordingPeer) -> Any:
    answer_id = remote_start(cpo)
    later(cpo, hours=1)
    cpo.control("plug-out", **{"connector-id": CONNECTOR})
    cpo.settle()
    return [(c["session-id"] == answer_id, c["session-interval"]) for c in peer.calls("session-post")]


def _verified_uid(cpo: Reference, peer: RecordingPeer) -> Any:
    cpo.control("present-rfid", **{"connector-id": CONNECTOR, "rfid": "4523022aa4881"})
    return peer.calls("rfid-verify")[0]["rfid"]


def _pushed_stations(cpo: Reference, peer: RecordingPeer) -> Any:
    cpo.control("push-stations")
    cpo.settle()
    return [p["station"]["id"] for p in peer.calls("station-post")]


def _status_sent(cpo: Reference, peer: RecordingPeer) -> Any:
    cpo.control("set-status", **{"connector-id": CONNECTOR, "status": "Offline"})
    cpo.settle()
    return len(peer.calls("connector-post-status"))


def _send_one(ref: Reference) -> None:
    """Make ``ref`` send one asynchronous message and wait until it is delivered or given up."""
    if ref.endpoint.role == "CPO":
        ref.control("set-status", **{"connector-id": CONNECTOR, "status": "Available"})
    else:
        ref.control("push-rfids")
    ref.settle()


def _delivery(script: list[Scripted]) -> Scenario:
    """Tries and recorded waits for one message, the peer answering ``script`` first."""

    def run(ref: Reference, peer: RecordingPeer) -> Any:
        peer.script = list(script)
        _send_one(ref)
        return len(peer.received), ref.sleeps

    return run


def _authorization(ref: Reference, peer: RecordingPeer) -> Any:
    _send_one(ref)
    return peer.received[0].headers["Authorization"]


def _session_start_user(emp: Reference, peer: RecordingPeer) -> Any:
    emp.control("start-session", **{"connector-id": CONNECTOR, "evco-id": EVCO})
    return peer.calls("session-start")[0]["user"]["identifier-type"]


def _session_stop_id(emp: Reference, peer: RecordingPeer) -> Any:
    emp.control("start-session", **{"connector-id": CONNECTOR, "evco-id": EVCO})
    emp.control("stop-session", **{"connector-id": CONNECTOR, "evco-id": EVCO})
    return peer.calls("session-stop")[0].get("session-id")


def _whitelist(emp: Reference, peer: RecordingPeer) -> Any:
    emp.control("push-rfids")
    emp.settle()
    return peer.calls("rfid-post")[0]["rfids"]


def _connector_ids_repeated(cpo: Reference, peer: RecordingPeer) -> Any:
    cpo.control("push-stations")
    cpo.settle()
    ids = [c["id"] for p in peer.calls("station-post") for c in p["station"]["connectors"]]
    return len(ids) - len(set(ids))


def _verifications(cpo: Reference, peer: RecordingPeer) -> Any:
    cpo.control("present-rfid", **{"connector-id": CONNECTOR, "rfid": "4523022aa4881"})
    return len(peer.calls("rfid-verify"))


def _stations_with_address(cpo: Reference, peer: RecordingPeer) -> Any:
    cpo.control("push-stations")
    cpo.settle()
    return ["address" in p["station"] for p in peer.calls("station-post")]


def _same_connectors_twice(cpo: Reference, peer: RecordingPeer) -> Any:
    cpo.control("push-stations")
    cpo.control("push-stations")
    cpo.settle()
    posts = [p["station"] for p in peer.calls("station-post") if p["station"]["id"] == "REF-STATION-1"]
    return posts[0]["connectors"] == posts[1]["connectors"]


def _authorized_after_refusal(cpo: Reference, peer: RecordingPeer) -> Any:
    peer.script = [Scripted(400)]  # the EMP refuses the UID
    return cpo.control("present-rfid", **{"connector-id": CONNECTOR, "rfid": "0477BD22AA4880"})[1]["authorized"]


def _cdr_fields(cpo: Reference, peer: RecordingPeer) -> Any:
    remote_start(cpo)
    later(cpo, hours=1)
    cpo.control("plug-out", **{"connector-id": CONNECTOR})
    cpo.settle()
    return peer.calls("session-post")[0]


def _cdr_energy_plausible(cpo: Reference, peer: RecordingPeer) -> Any:
    return _cdr_fields(cpo, peer)["energy-consumed"] <= 22.0  # one hour at 22 kW


def _cdr_partner_is_the_stations(cpo: Reference, peer: RecordingPeer) -> Any:
    return _cdr_fields(cpo, peer)["partner-identifier"] == "reference-cpo-partner-0001"


def _retried_cdr_session_ids(cpo: Reference, peer: RecordingPeer) -> Any:
    remote_start(cpo)
    cpo.settle()
    peer.script = [Scripted(200), Scripted(503)]  # the status Available goes through, the CDR fails once
    cpo.control("plug-out", **{"connector-id": CONNECTOR})
    cpo.settle()
    return len({cdr["session-id"] for cdr in peer.calls("session-post")}), len(peer.calls("session-post"))


def _calls_sent_by_push(cpo: Reference, peer: RecordingPeer) -> Any:
    cpo.control("push-stations")
    cpo.settle()
    return sorted({r.call for r in peer.received})


def _content_type(ref: Reference, peer: RecordingPeer) -> Any:
    _send_one(ref)
    return peer.received[0].headers["Content-Type"]


def _utf8(ref: Reference, peer: RecordingPeer) -> Any:
    _send_one(ref)
    try:
        peer.received[0].raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


HOUR = {"start": "2026-12-04T18:15:00+00:00", "stop": "2026-12-04T19:15:00+00:00"}
STORM = [Scripted(503, {"Retry-After": "5"})] * 8


SHARED: dict[str, tuple[Scenario, Any, Any]] = {
    "bearer-auth": (_authorization, f"key={PARTNER_KEY}", f"Bearer {PARTNER_KEY}"),
    "no-retry-after-503": (_delivery([Scripted(503)]), (2, [0.5]), (1, [])),
    "retry-storm": (_delivery(STORM), (4, [5.0, 5.0, 5.0]), (8, [0.0] * 7)),
    "text-plain-content-type": (_content_type, "application/json", "text/plain"),
    "no-retry-after-timeout": (_delivery([Scripted(0)]), (2, [0.5]), (1, [])),
    "utf16-body": (_utf8, True, False),
    "steady-retries": (_delivery([Scripted(503)] * 6), (4, [0.5, 1.0, 2.0]), (7, [0.5] + [1.0] * 5)),
    "partner-identifier-outside": (_top_level_keys, 1, 2),
    "short-partner-identifier": (_partner_identifier, 26, 12),
}


SCENARIOS: dict[str, dict[str, tuple[Scenario, Any, Any]]] = {
    "cpo": {
        "status-before-station": (_pushed_stations, ["REF-STATION-1", "REF-STATION-2"], ["REF-STATION-1"]),
        "cdr-stop-before-start": (
            _cdr_of_remote_start,
            [(True, HOUR)],
            [(True, {"start": HOUR["start"], "stop": "2026-12-04T18:10:00+00:00"})],
        ),
        "cdr-other-session-id": (_cdr_of_remote_start, [(True, HOUR)], [(False, HOUR)]),
        "rfid-lowercase": (_verified_uid, ACTIVE_UID, ACTIVE_UID.lower()),
        "rfid-unpadded": (_verified_uid, ACTIVE_UID, ACTIVE_UID.lstrip("0")),
        "retries-after-4xx": (_delivery([Scripted(400)]), (1, []), (2, [0.5])),
        "no-status-on-change": (_status_sent, 1, 0),
        "no-cdr": (_cdr_of_remote_start, [(True, HOUR)], []),
        "duplicate-connector-ids": (_connector_ids_repeated, 0, 1),
        "authorizes-offline-only": (_verifications, 1, 0),
        "station-without-address": (_stations_with_address, [True, True], [False, False]),
        "changes-connectors": (_same_connectors_twice, True, False),
        "sends-emp-calls": (_calls_sent_by_push, ["station-post"], ["rfid-post", "station-post"]),
        "cdr-energy-too-high": (_cdr_energy_plausible, True, False),
        "cdr-other-partner-identifier": (_cdr_partner_is_the_stations, True, False),
        "new-session-id-on-retry": (_retried_cdr_session_ids, (1, 2), (2, 2)),
        "ignores-verify-answer": (_authorized_after_refusal, False, True),
        "stations-in-one-post": (_posted_station_shapes, ["dict", "dict"], ["list"]),
        "one-station-id": (_pushed_stations, ["REF-STATION-1", "REF-STATION-2"], ["REF-STATION-1"] * 2),
        "changes-connector-speed": (_same_connectors_twice, True, False),
        "evse-id-without-e": (_first_connector_id, CONNECTOR, "DE*REF*000001*1"),
        "cdr-session-id-per-connector": (_session_ids_of_two_sessions, 2, 1),
        "cdr-update-new-session-id": (
            _rfid_session_cdrs,
            [("ref-session-1", False), ("ref-session-1", True)],
            [("ref-session-1", False), ("ref-session-2", True)],
        ),
        **SHARED,
    },
    "emp": {
        "session-start-rfid-identifier": (_session_start_user, "evco-id", "rfid"),
        "stop-without-session-id": (_session_stop_id, CPO_SESSION_ID, None),
        "partial-whitelist": (_whitelist, [ACTIVE_UID], []),
        "evco-id-without-check-digit": (_session_start_evco, EVCO, "DE*8PS*123456"),
        "stop-rfid-identifier": (_session_stop_user, ["evco-id"], ["rfid"]),
        "ignores-stop-session": (_session_stop_user, ["evco-id"], []),
        "no-rfid-post": (_rfid_posts, 1, 0),
        "reserve-sends-nothing": (
            _reservation_calls,
            [("reservation-start", None), ("reservation-stop", "evco-id")],
            [("reservation-stop", "evco-id")],
        ),
        "cancel-with-rfid-type": (
            _reservation_calls,
            [("reservation-start", None), ("reservation-stop", "evco-id")],
            [("reservation-start", None), ("reservation-stop", "rfid")],
        ),
        **SHARED,
    },
}


@pytest.mark.parametrize(("role", "fault"), [(r, f) for r in SCENARIOS for f in SCENARIOS[r]])
def test_sender_fault_shows_its_bug(peer: RecordingPeer, role: str, fault: str) -> None:
    scenario, correct, faulty = SCENARIOS[role][fault]
    assert scenario(reference(role, peer), peer) == correct
    other = RecordingPeer()
    try:
        assert scenario(reference(role, other, fault), other) == faulty
    finally:
        other.stop()


def test_every_fault_has_a_probe_or_a_scenario() -> None:
    for role, module in (("cpo", reference_cpo), ("emp", reference_emp)):
        assert set(PROBES[role]).isdisjoint(SCENARIOS[role])
        assert set(PROBES[role]) | set(SCENARIOS[role]) == set(module.FAULTS)


# --- correct behaviours (examples/variants.json): what the spec allows, shown against the default ----------------


def _start_code(cpo: Reference, connector: str = CONNECTOR) -> int:
    user = {"identifier-type": "evco-id", "identifier": EVCO}
    return int(cpo.oioi("session-start", {"user": user, "connector-id": connector})["result"]["code"])


@pytest.mark.parametrize(("status", "code"), [("Offline", 310), ("Unknown", 310), ("Reserved", 320),
                                              ("Occupied", 320), ("Available", 0)])
def test_honours_statuses_refuses_a_start_on_a_connector_not_available(peer: RecordingPeer, status: str,
                                                                       code: int) -> None:
    default, honouring = reference("cpo", peer), reference("cpo", peer, behaviours=("honours-statuses",))
    for cpo in (default, honouring):
        assert cpo.control("set-status", **{"connector-id": CONNECTOR, "status": status})[0] == 200
    assert (_start_code(default), _start_code(honouring)) == (0, code)


def test_honours_statuses_refuses_a_reservation_on_a_reserved_connector(peer: RecordingPeer) -> None:
    cpo = reference("cpo", peer, behaviours=("honours-statuses",))
    cpo.control("set-status", **{"connector-id": CONNECTOR, "status": "Reserved"})
    answer = cpo.oioi("reservation-start", {"connector-id": CONNECTOR, "identifier": [{"evco-id": EVCO}]})
    assert answer["result"]["code"] == 323


def test_the_cpo_keeps_each_connectors_status(peer: RecordingPeer) -> None:
    """set-status and sessions set the status in the state (what self-validation reads after a run)."""
    cpo = reference("cpo", peer)

    def status() -> str:
        with cpo.endpoint.db.transaction() as tx:
            return str(tx.execute("SELECT status FROM connectors WHERE evse_id = ?", (CONNECTOR,)).fetchone()[0])

    assert status() == "Available"
    cpo.control("set-status", **{"connector-id": CONNECTOR, "status": "Offline"})
    assert status() == "Offline"
    session_id = remote_start(cpo)
    assert status() == "Occupied"
    cpo.oioi("session-stop", {"user": {"identifier-type": "evco-id", "identifier": EVCO}, "connector-id": CONNECTOR,
                              "session-id": session_id})
    assert status() == "Available"


def test_stop_needs_session_id(peer: RecordingPeer) -> None:
    cpo = reference("cpo", peer, behaviours=("stop-needs-session-id",))
    session_id = remote_start(cpo)
    stop = {"user": {"identifier-type": "evco-id", "identifier": EVCO}, "connector-id": CONNECTOR}
    assert cpo.oioi("session-stop", stop)["result"]["code"] == 182
    assert cpo.oioi("session-stop", {**stop, "session-id": session_id})["result"]["code"] == 0


@pytest.mark.parametrize("code", [11, 12])
def test_start_answers_011_or_012(peer: RecordingPeer, code: int) -> None:
    cpo = reference("cpo", peer, behaviours=(f"start-{code:03d}",))
    answer = cpo.oioi("session-start", {"user": {"identifier-type": "evco-id", "identifier": EVCO},
                                        "connector-id": CONNECTOR})
    assert answer["result"]["code"] == code and answer["session-start"]["session-id"]


def test_offline_whitelist_starts_a_whitelisted_uid_without_rfid_verify(peer: RecordingPeer) -> None:
    cpo = reference("cpo", peer, behaviours=("offline-whitelist",))
    cpo.oioi("rfid-post", {"rfids": [ACTIVE_UID], "partner-identifier": "emp-partner-identifier-01"})
    status, answer = cpo.control("present-rfid", **{"connector-id": CONNECTOR, "rfid": ACTIVE_UID.lower()})
    assert (status, answer["authorized"]) == (200, True)
    cpo.settle()
    assert peer.calls("rfid-verify") == []
    status, answer = cpo.control("present-rfid", **{"connector-id": CONNECTOR_2, "rfid": "0477BD22AA4AAA"})
    assert (status, answer["authorized"]) == (200, False)
    assert peer.calls("rfid-verify") == [{"rfid": "0477BD22AA4AAA"}]


def test_the_emp_takes_011_as_a_started_session(peer: RecordingPeer) -> None:
    """request.rst: "the code 000 is valid, as well as the more specific 011": the session-id is kept."""
    emp = reference("emp", peer)
    partner_answer = {"session-start": {"session-id": "cpo-011"}, "result": {"code": 11, "message": "Started."}}
    peer.script = [Scripted(200, body=partner_answer)]
    status, answer = emp.control("start-session", **{"connector-id": CONNECTOR, "evco-id": EVCO})
    assert (status, answer["session-id"]) == (200, "cpo-011")


def test_slow_client_timeout_waits_30_seconds(peer: RecordingPeer) -> None:
    assert reference("cpo", peer).outbox.timeout == 2.0
    assert reference("cpo", peer, behaviours=("slow-client-timeout",)).outbox.timeout == 30.0


def test_jittered_backoff_grows_with_half_of_it_random(peer: RecordingPeer) -> None:
    """Equal jitter on 2 s * 2^(n-1): 1-2 s, 2-4 s, 4-8 s; a longer Retry-After is honoured."""
    cpo = reference("cpo", peer, behaviours=("jittered-backoff",))
    for fraction in (0.0, 1.0):
        cpo.outbox.random = lambda fraction=fraction: fraction  # type: ignore[misc]
        assert [cpo.outbox.delay(n, None) for n in (1, 2, 3)] == [1.0 + fraction, 2.0 + 2 * fraction,
                                                                  4.0 + 4 * fraction]
    assert cpo.outbox.delay(1, 5.0) == 5.0
    peer.script = [Scripted(503), Scripted(503)]
    cpo.control("set-status", **{"connector-id": CONNECTOR, "status": "Offline"})
    cpo.settle()
    assert len(peer.calls("connector-post-status")) == 3 and len(cpo.sleeps) == 2


def test_connection_close_is_sent(peer: RecordingPeer) -> None:
    cpo = reference("cpo", peer, behaviours=("connection-close",))
    cpo.control("set-status", **{"connector-id": CONNECTOR, "status": "Offline"})
    cpo.settle()
    assert peer.received[-1].headers.get("Connection") == "close"
