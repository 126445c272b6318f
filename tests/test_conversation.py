"""The cross-message rules (oioi.conversation): each broken by one conversation, kept by every allowed one."""

from __future__ import annotations

import datetime
import email.utils
import json
from typing import Any

import pytest

from oioi import Finding
from oioi.conversation import (
    IDENTIFIER_RULE,
    RETRY_RULE,
    START_RULE,
    STATUS_RULE,
    UPDATE_RULE,
    Conversation,
    judge,
    session_id_of_start,
    session_id_of_update,
)

T0 = datetime.datetime(2026, 12, 7, 10, 0, 0, tzinfo=datetime.UTC)
PARTNER = "oioi-harness-partner-0001"
OTHER_PARTNER = "oioi-harness-partner-0002"
CONNECTOR = "DE*ABC*E000001*1"
USER = {"identifier-type": "evco-id", "identifier": "DE*8PS*C12345*X"}


def at(seconds: float) -> str:
    """An RFC 3339 time ``seconds`` after T0, to the millisecond (as the journal writes it)."""
    return (T0 + datetime.timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def whole(seconds: float) -> str:
    """A CDR time in whole seconds, truncated (as the reference CPO sends them)."""
    return (T0 + datetime.timedelta(seconds=int(seconds))).isoformat(timespec="seconds").replace("+00:00", "Z")


def entry(call: str, body: dict[str, Any], *, time: float = 0.0, status: int = 200, code: int | None = 0,
          answer: dict[str, Any] | None = None, peer: str | None = None, latency_ms: float = 5.0,
          **extra: Any) -> dict[str, Any]:
    """One journal entry: the request of ``call`` and its answer, journaled at ``time`` seconds after T0."""
    reply = {"result": {"code": code, "message": "."}, **(answer or {})} if code is not None else None
    return {"id": 0, "time": at(time), "exchange": "inbound", "call": call, "request_headers": {},
            "request_body": {call: body}, "status": status, "response_body": json.dumps(reply) if reply else None,
            "result_code": code, "findings": [], "latency_ms": latency_ms, "fault": None, "peer": peer, **extra}


def station(connectors: list[str], partner: str = PARTNER, **kw: Any) -> dict[str, Any]:
    return entry("station-post", {"station": {"id": "S1", "connectors": [{"id": c, "name": "Type2", "speed": 22}
                                                                          for c in connectors]},
                                  "partner-identifier": partner}, **kw)


def status(connector: str = CONNECTOR, partner: str = PARTNER, **kw: Any) -> dict[str, Any]:
    return entry("connector-post-status", {"connector-id": connector, "status": "Available",
                                           "partner-identifier": partner}, **kw)


def cdr(session_id: str, start: str, stop: str | None = None, *, connector: str = CONNECTOR,
        user: dict[str, Any] | None = None, partner: str = PARTNER, **kw: Any) -> dict[str, Any]:
    interval = {"start": start, **({"stop": stop} if stop else {})}
    return entry("session-post", {"user": user or USER, "session-id": session_id, "connector-id": connector,
                                  "session-interval": interval, "partner-identifier": partner}, **kw)


def start(session_id: str | None = "S-1", *, time: float = 0.0, code: int = 0, connector: str = CONNECTOR,
          **kw: Any) -> dict[str, Any]:
    given = {"session-start": {"session-id": session_id, "is-stoppable": True}} if session_id else {}
    return entry("session-start", {"user": USER, "connector-id": connector}, time=time, code=code, answer=given,
                 peer="emp", **kw)


def stop(session_id: str = "S-1", *, time: float, code: int = 0) -> dict[str, Any]:
    return entry("session-stop", {"user": USER, "connector-id": CONNECTOR, "session-id": session_id},
                 time=time, code=code, peer="emp")


def rules(entries: list[dict[str, Any]]) -> list[str]:
    return [finding.rule for _, finding in judge(entries)]


def test_judge_pairs_each_finding_with_the_entry_object_that_raised_it() -> None:
    unposted = status()
    found = judge([station(["DE*ABC*E000009*1"]), unposted])
    assert [(e is unposted, f.rule, f.severity, f.path) for e, f in found] == [
        (True, STATUS_RULE, "warning", "/connector-post-status/connector-id")]
    assert found[0][1].message.startswith("Received: ") and "\nExpected: " in found[0][1].message
    assert found[0][1].spec == "cpo/poi.rst"


def test_add_gives_what_the_new_entry_raises_given_the_earlier_ones() -> None:
    conversation = Conversation()
    assert conversation.add(status()) != []
    assert conversation.add(station([CONNECTOR])) == []
    assert conversation.add(status()) == []  # announced now


# --- a. a status only for a connector the same sender announced ----------------------------------


@pytest.mark.parametrize(("conversation", "expected"), [
    ([status()], [STATUS_RULE]),
    ([station(["DE*ABC*E000001*2"]), status()], [STATUS_RULE]),
    ([station([CONNECTOR], OTHER_PARTNER), status()], [STATUS_RULE]),  # another partner identifier's station
    ([station([CONNECTOR], peer="another-cpo"), status(peer="cpo")], [STATUS_RULE]),  # another sender's station
    ([status(), status()], [STATUS_RULE]),  # said once per connector and identifier
    ([station([CONNECTOR]), status()], []),
    ([station(["DEABCE0000011"]), status()], []),  # glossary.rst: the * separators are optional
    ([station(["DE*ABC*E000009*1", CONNECTOR]), station(["DE*ABC*E000002*1"]), status()], []),
    ([station([CONNECTOR], peer="cpo"), status(peer="cpo")], []),
], ids=["never-posted", "other-connector", "other-partner-identifier", "other-sender", "once", "posted",
        "separators-optional", "second-connector", "same-peer"])
def test_status_for_posted_connector(conversation: list[dict[str, Any]], expected: list[str]) -> None:
    assert rules(conversation) == expected


# --- b. a CDR carries the session-id the CPO gave for its session --------------------------------


def remote_session(cdr_id: str, *, began: float = 0.0, ended: float = 10.0, **kw: Any) -> list[dict[str, Any]]:
    """A remote start answered at ``began``, stopped by session-stop at ``ended``, and the CPO's CDR."""
    return [start(time=began), stop(time=ended),
            cdr(cdr_id, whole(began), whole(ended), time=ended + 1, peer="cpo", **kw)]


@pytest.mark.parametrize(("conversation", "expected"), [
    (remote_session("NEW-ID"), [START_RULE]),
    (remote_session("NEW-ID", connector="DEABCE0000011"), [START_RULE]),
    (remote_session("S-1"), []),
    ([start(time=0, code=11), stop(time=10, code=0), cdr("NEW-ID", whole(0), whole(10), time=11)], [START_RULE]),
    ([start(time=0), cdr("NEW-ID", whole(0), whole(10), time=11)], []),  # no stop seen: running only at 0 s
    ([start(time=0), stop(time=1), cdr("NEW-ID", whole(0), whole(1), time=2)], []),  # too short to tell
    ([*remote_session("S-1")[:2], cdr("S-2", whole(13), whole(30), time=31)], []),  # a later session
    ([start(time=20), stop(time=40), cdr("S-0", whole(0), whole(19), time=41)], []),  # an earlier session
    (remote_session("NEW-ID", user={"identifier-type": "rfid", "identifier": "04523022AA4881"}), []),
    (remote_session("NEW-ID", connector="DE*ABC*E000001*2"), []),
    ([start(time=0, code=320), stop(time=10), cdr("NEW-ID", whole(0), whole(10), time=11)], []),  # refused
    ([start(None, time=0), stop(time=10), cdr("NEW-ID", whole(0), whole(10), time=11)], []),  # no id given
    ([start(time=0), stop(time=10, code=182), cdr("NEW-ID", whole(0), whole(10), time=11)], []),  # stop refused
], ids=["new-id", "separators-optional", "same-id", "started-011", "no-stop-seen", "short", "later-session",
        "earlier-session", "other-user", "other-connector", "start-refused", "no-session-id", "stop-refused"])
def test_cdr_session_id_of_start(conversation: list[dict[str, Any]], expected: list[str]) -> None:
    assert rules(conversation) == expected


def test_a_cdr_of_a_remote_session_with_a_new_id_is_an_error_naming_both_ids() -> None:
    [(_, finding)] = judge(remote_session("NEW-ID"))
    assert (finding.severity, finding.path, finding.spec) == ("error", "/session-post/session-id",
                                                             "calls/session_post.rst")
    assert "'NEW-ID'" in finding.message and "'S-1'" in finding.message


@pytest.mark.parametrize(("conversation", "expected"), [
    ([cdr("A", whole(0), time=1), cdr("B", whole(0), whole(60), time=61)], [UPDATE_RULE]),
    ([cdr("A", whole(0), time=1), cdr("B", at(0), at(60), time=61)], [UPDATE_RULE]),  # Z and +00:00: one instant
    ([cdr("A", whole(0), whole(60), time=61), cdr("B", whole(0), whole(60), time=70)], [UPDATE_RULE]),
    ([cdr("A", whole(0), time=1), cdr("A", whole(0), whole(60), time=61)], []),
    ([cdr("A", whole(0), time=1), cdr("B", whole(1), whole(60), time=61)], []),  # starts differ: maybe two
    ([cdr("A", whole(0), whole(5), time=6), cdr("B", whole(10), whole(60), time=61)], []),
    ([cdr("A", whole(0), time=1), cdr("B", whole(0), whole(60), connector="DE*ABC*E000001*2", time=61)], []),
    ([cdr("A", whole(0), time=1),
      cdr("B", whole(0), whole(60), user={"identifier-type": "rfid", "identifier": "04523022AA4881"}, time=61)], []),
], ids=["update-new-id", "same-instant-other-form", "redelivery-new-id", "update-same-id", "other-start",
        "two-sessions", "other-connector", "other-user"])
def test_cdr_same_session_id(conversation: list[dict[str, Any]], expected: list[str]) -> None:
    assert rules(conversation) == expected


def test_the_decisions_the_suite_takes_with_the_pairs_its_checks_know() -> None:
    begun, right, wrong = start(), cdr("S-1", whole(0), whole(9)), cdr("NEW", whole(0), whole(9))
    assert session_id_of_start(begun, right) is None
    assert isinstance(found := session_id_of_start(begun, wrong), Finding) and found.rule == START_RULE
    assert session_id_of_start(start(None), wrong) is None  # the answer gave no session-id to compare with
    ongoing = [cdr("A", whole(0)), cdr("A2", whole(0))]
    assert session_id_of_update(ongoing, cdr("A2", whole(0), whole(9))) is None
    assert isinstance(found := session_id_of_update(ongoing, wrong), Finding) and found.rule == UPDATE_RULE
    assert session_id_of_update([], wrong) is None


# --- c. a CDR under a partner identifier of its sender's stations and statuses ----------------------


@pytest.mark.parametrize(("conversation", "expected"), [
    ([station([CONNECTOR]), cdr("A", whole(0), partner=OTHER_PARTNER)], [IDENTIFIER_RULE]),
    ([station([CONNECTOR]), status(), cdr("A", whole(0), partner=OTHER_PARTNER),
      cdr("B", whole(9), partner=OTHER_PARTNER)], [IDENTIFIER_RULE]),  # said once per identifier
    ([station([CONNECTOR]), cdr("A", whole(0))], []),
    ([station([CONNECTOR]), station(["DE*ABC*E000002*1"], OTHER_PARTNER),
      cdr("A", whole(0), partner=OTHER_PARTNER)], []),  # glossary.rst: several identifiers are allowed
    ([cdr("A", whole(0), partner=OTHER_PARTNER)], []),  # nothing to compare with
    ([station([CONNECTOR], peer="another-cpo"), cdr("A", whole(0), partner=OTHER_PARTNER, peer="cpo")], []),
], ids=["other-identifier", "once", "same-identifier", "several-identifiers", "no-station", "other-sender"])
def test_partner_identifier_consistent(conversation: list[dict[str, Any]], expected: list[str]) -> None:
    assert rules(conversation) == expected
    assert all(f.severity == "warning" for _, f in judge(conversation))


# --- d. no retry sooner than the Retry-After of a 5xx -------------------------------------------------


def refused(*, time: float = 0.0, retry_after: Any = "2", status_code: int = 503, **kw: Any) -> dict[str, Any]:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return status(time=time, status=status_code, code=100, response_headers=headers, **kw)


def http_date(seconds: float) -> str:
    return email.utils.format_datetime(T0 + datetime.timedelta(seconds=seconds), usegmt=True)


@pytest.mark.parametrize(("conversation", "expected"), [
    ([station([CONNECTOR]), refused(), status(time=0.5)], [RETRY_RULE]),
    ([station([CONNECTOR]), refused(), refused(time=0.5), status(time=1.0)], [RETRY_RULE, RETRY_RULE]),
    ([station([CONNECTOR]), refused(retry_after=None, fault={"status": 503, "retry_after": 2}),
      status(time=1.0)], [RETRY_RULE]),  # the mock's journal: Retry-After is the fault it played
    ([station([CONNECTOR]), refused(retry_after=http_date(10)), status(time=3)], [RETRY_RULE]),
    ([station([CONNECTOR]), refused(), status(time=2.1)], []),
    ([station([CONNECTOR]), refused(), status(time=2.0, latency_ms=0.0)], []),
    ([station([CONNECTOR]), refused(retry_after=http_date(10)), status(time=9.5)], []),  # within the date's second
    ([station([CONNECTOR]), refused()], []),  # the capture may end: a missing retry is never judged
    ([station([CONNECTOR]), refused(retry_after=None), status(time=0.1)], []),  # no Retry-After asked
    ([station([CONNECTOR]), refused(status_code=400, retry_after="2"), status(time=0.1)], []),  # not a 5xx
    ([station([CONNECTOR, "DE*ABC*E000002*1"]), refused(), status("DE*ABC*E000002*1", time=0.5)], []),
    ([station([CONNECTOR, "DE*ABC*E000002*1"]), refused(), status("DE*ABC*E000002*1", time=0.5),
      status(time=0.6)], []),  # another message came between: not the retry
    ([station([CONNECTOR], peer="cpo"), station([CONNECTOR], peer="cpo-2"), refused(peer="cpo"),
      status(time=0.5, peer="cpo-2")], []),  # another sender
], ids=["too-soon", "each-too-soon-retry", "mock-fault", "http-date-too-soon", "after-retry-after", "exactly",
        "http-date-second", "no-retry-seen", "no-retry-after", "not-5xx", "other-message", "message-between",
        "other-sender"])
def test_retry_after_honoured(conversation: list[dict[str, Any]], expected: list[str]) -> None:
    assert rules(conversation) == expected


def test_a_too_early_retry_is_an_error_of_request_rst() -> None:
    [(_, finding)] = judge([station([CONNECTOR]), refused(), status(time=0.5)])
    assert (finding.severity, finding.spec, finding.path) == ("error", "request.rst", "")
    assert "Retry-After: 2" in finding.message and "no retry sooner than 2 s" in finding.message


def test_fields_of_any_json_type_are_judged_without_a_crash() -> None:
    odd: Any = [["DE*ABC*E000001*1"], {"id": 1}, 7, None, True]
    conversation = [entry("station-post", {"station": {"connectors": [{"id": v} for v in odd]},
                                           "partner-identifier": odd}),
                    *[status(v, v) for v in odd],
                    *[start(time=0, connector=v) for v in odd], stop(time=9),
                    *[cdr("A", whole(0), whole(9), connector=v, user={"identifier-type": v, "identifier": v},
                          partner=v, time=10) for v in odd],
                    *[cdr(v, whole(0), time=11) for v in odd]]
    assert set(rules(conversation)) <= {STATUS_RULE, IDENTIFIER_RULE, UPDATE_RULE}


def test_text_bodies_and_unknown_calls_raise_nothing() -> None:
    odd = [{"time": at(0), "call": None, "request_body": "not json", "status": 400, "response_body": "x"},
           {"call": "session-post", "request_body": "{\"session-post\": 1}"}, {}]
    assert judge(odd) == []


# --- the reference CPO's own messages, journaled as a proxy between it and a partner would ------------


class Journaled:
    """A reference CPO in-process (tests/fixtures/reference_client.py) whose clock a test moves, and the journal
    entries of what its partner sent it and what it sent its partner (a RecordingPeer), as a proxy would write
    them: journal times on the same clock, the partner's requests under peer "emp", the CPO's under "cpo".
    """

    def __init__(self, peer: Any, *defects: str) -> None:
        from tests.fixtures.reference_client import NOW, reference

        self.peer, self.ref, self.start, self.at = peer, reference("cpo", peer, *defects), NOW, 0.0
        self.ref.endpoint.now = lambda: self.start + datetime.timedelta(seconds=self.at)
        self.entries: list[dict[str, Any]] = []
        self.seen = 0

    def moment(self, seconds: float) -> None:
        """Move the CPO's clock (and the journal's) to ``seconds`` after the start."""
        self.at = seconds

    def control(self, action: str, **fields: Any) -> None:
        """An action at the CPO; what it sent the partner, journaled once delivered."""
        self.ref.control(action, **fields)
        self._sent()

    def oioi(self, call: str, body: dict[str, Any]) -> dict[str, Any]:
        """The partner's request to the CPO and its answer, journaled (then what the CPO sent); the answer."""
        answer = self.ref.oioi(call, body)
        self._journal(call, {call: body}, answer, peer="emp")
        self._sent()
        return dict(answer)

    def _sent(self) -> None:
        self.ref.settle()
        for received in self.peer.received[self.seen:]:
            self._journal(received.call, received.body, {"result": {"code": 0, "message": "Success."}}, peer="cpo")
        self.seen = len(self.peer.received)

    def _journal(self, call: str, request: Any, answer: Any, *, peer: str) -> None:
        moment = self.start + datetime.timedelta(seconds=self.at + 0.2)
        self.entries.append({"time": moment.isoformat(timespec="milliseconds"), "exchange": "inbound", "call": call,
                             "request_body": request, "status": 200, "response_body": json.dumps(answer),
                             "latency_ms": 3.0, "peer": peer})


REF_CONNECTOR = "DE*REF*E000001*1"
REF_USER = {"identifier-type": "evco-id", "identifier": "DE*8PS*C12345*X"}


def reference_conversation(*defects: str, seconds: float = 10.0) -> list[dict[str, Any]]:
    """Stations and a status pushed; a remote session of ``seconds`` ended by session-stop; an RFID session,
    whose final CDR the partner first refuses with 503 (no Retry-After; journaled as answered, which no rule here
    reads).
    """
    from tests.fixtures.peer import ACTIVE_UID, RecordingPeer, Scripted

    peer = RecordingPeer()
    try:
        cpo = Journaled(peer, *defects)
        cpo.control("push-stations")
        cpo.control("set-status", **{"connector-id": "DE*REF*E000002*1", "status": "Offline"})
        cpo.moment(1.3)
        started = cpo.oioi("session-start", {"user": REF_USER, "connector-id": REF_CONNECTOR})
        cpo.moment(1.3 + seconds)
        cpo.oioi("session-stop", {"user": REF_USER, "connector-id": REF_CONNECTOR,
                                  "session-id": started["session-start"]["session-id"]})
        cpo.moment(seconds + 20)
        cpo.control("present-rfid", **{"connector-id": REF_CONNECTOR, "rfid": ACTIVE_UID})
        cpo.moment(seconds + 80)
        peer.script = [Scripted(200), Scripted(503)]  # the status Available, then the final CDR
        cpo.control("plug-out", **{"connector-id": REF_CONNECTOR})
        return cpo.entries
    finally:
        peer.stop()


@pytest.mark.parametrize(("defect", "expected"), [
    (None, []),
    ("cdr-other-session-id", [START_RULE]),
    ("cdr-update-new-session-id", [UPDATE_RULE]),
    ("status-before-station", [STATUS_RULE]),
    ("cdr-other-partner-identifier", [IDENTIFIER_RULE]),
    ("new-session-id-on-retry", [UPDATE_RULE]),
])
def test_the_reference_cpo_breaks_only_its_defects_rule(defect: str | None, expected: list[str]) -> None:
    entries = reference_conversation(*([defect] if defect else []))
    assert {e["call"] for e in entries} >= {"station-post", "connector-post-status", "session-start", "session-stop",
                                            "rfid-verify", "session-post"}
    assert len([e for e in entries if e["call"] == "session-post"]) == 4  # remote; ongoing, refused, retried
    assert rules(entries) == expected


def test_a_remote_session_too_short_to_tie_its_cdr_is_not_judged() -> None:
    """With whole-second CDR times and a second of clock difference allowed, a 3 s session proves nothing."""
    assert rules(reference_conversation("cdr-other-session-id", seconds=3.0)) == []


def delivered_with_retry_after(*defects: str, behaviours: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """A status the partner answers twice with 503 and Retry-After: 3; each delivery journaled at the time the
    reference's outbox waited until (its waits are recorded, not slept).
    """
    from tests.fixtures.peer import RecordingPeer, Scripted
    from tests.fixtures.reference_client import reference

    peer = RecordingPeer()
    try:
        ref = reference("cpo", peer, *defects, behaviours=behaviours)
        ref.control("push-stations")
        ref.settle()
        posted = len(peer.received)
        peer.script = [Scripted(503, {"Retry-After": "3"}), Scripted(503, {"Retry-After": "3"})]
        ref.control("set-status", **{"connector-id": REF_CONNECTOR, "status": "Offline"})
        ref.settle()
    finally:
        peer.stop()
    entries = [entry(r.call, r.body[r.call], time=0.0, peer="cpo") for r in peer.received[:posted]]
    for n, received in enumerate(peer.received[posted:]):
        refused = n < 2
        entries.append(entry(received.call, received.body[received.call], time=1.0 + sum(ref.sleeps[:n]),
                             status=503 if refused else 200, code=100 if refused else 0, peer="cpo", latency_ms=1.0,
                             response_headers={"Retry-After": "3"} if refused else {}))
    return entries


@pytest.mark.parametrize(("defects", "behaviours", "expected"), [
    ((), (), []),
    ((), ("jittered-backoff",), []),
    (("retry-storm",), (), [RETRY_RULE, RETRY_RULE]),
])
def test_the_reference_cpo_honours_retry_after_unless_it_storms(defects: tuple[str, ...],
                                                                behaviours: tuple[str, ...],
                                                                expected: list[str]) -> None:
    entries = delivered_with_retry_after(*defects, behaviours=behaviours)
    assert [e["status"] for e in entries if e["call"] == "connector-post-status"][:3] == [503, 503, 200]
    assert rules(entries) == expected
