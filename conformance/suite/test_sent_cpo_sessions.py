"""What a CPO sends about charging sessions, as the mock EMP received it: rfid-verify and CDRs.

cpo/rfid_start.rst, cpo/cdr.rst, calls/rfid_verify.rst, calls/session_post.rst. Each session a
check starts (a token presented, or a remote start by the mock EMP) is ended when the check ends.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest

from conformance._failures import Inconclusive, Nonconformance
from conformance._partner import Control, Partner, answer_of
from conformance._sent import as_exchange, body, raised, valid_request, violated
from conformance._target import Target
from conformance.checks import instant
from conformance.suite._messages import UIDS as HARNESS_WHITELIST
from conformance.suite._sending import (
    MOCK_EVCO,
    act,
    awaited,
    cpo_connectors,
    expect,
    expect_arrival,
    posts_status,
    settled,
    skip_unless_done,
    uid_conforms,
    window,
)
from oioi import conversation
from oioi.conversation import session_id_of_start, session_id_of_update
from oioi.errors import HarnessError

pytestmark = pytest.mark.role("cpo")

UID_LENGTHS = (8, 14, 20)  # calls/rfid_verify.rst: "Valid lengths of UIDs are 8, 14, and 20 characters."
SECOND = 1.1  # seconds between the end of one session and the start of the next


def _as_read(uid: str) -> str:
    """The UID as a reader may report it: lower-case, and without its leading zeros when the CPO can pad it back.

    calls/rfid_verify.rst: "If you have shorter UIDs, you need to zero-pad them on the left" to 8, 14 or 20
    characters. Stripped to a length that is itself valid (or that pads to a shorter length than the UID's),
    the UID cannot be told back from the stripped form: then only its letter case is changed.
    """
    stripped = uid.lstrip("0")
    if len(stripped) in UID_LENGTHS:
        return uid.lower()
    width = next((n for n in UID_LENGTHS if n >= len(stripped)), 0)
    return stripped.lower() if stripped.upper().rjust(width, "0") == uid else uid.lower()


def _remote_start(partner: Partner, connector: str) -> dict[str, Any]:
    """The mock EMP starts a session at ``connector``; the journal entry of the exchange (skips if refused)."""
    entry = partner.send("session-start", {
        "user": {"identifier-type": "evco-id", "identifier": MOCK_EVCO}, "connector-id": connector})
    started = answer_of(entry)
    if not isinstance(started, dict) or started.get("result", {}).get("code") not in (0, 11, 12):
        pytest.skip(f"the CPO did not start a remote session at {connector} (answer {started!r:.200})")
    return entry


class _Session:
    """A session a check started at a connector (a token presented, or a remote start by the mock EMP).

    Ended in the check's ``finally`` when the check did not end it itself: by the session-stop of
    the remote start, with its session-id, or by plug-out (the hook, or the person who started it).
    """

    def __init__(self, control: Control, partner: Partner, connector: str) -> None:
        self.control, self.partner, self.connector = control, partner, connector
        self.running, self.by_person = False, False
        self.remote: dict[str, Any] | None = None  # the CPO's session-start answer, when the mock EMP started it
        self.started: dict[str, Any] | None = None  # the journal entry of that session-start

    def present(self, uid: str, *, rfid: str, note: str = "") -> dict[str, Any] | None:
        """The token ``uid`` is presented (the reader reports ``rfid``); the hook's answer.

        A session may run from then on, unless the hook said the token was not authorized.
        """
        answer = act(self.control, "present-rfid", f"Present the RFID token {uid}{note} at {self.connector}",
                     **{"connector-id": self.connector, "rfid": rfid})
        self.running = answer is not None and answer.get("authorized") is not False
        self.by_person = self.control.by_person
        return answer

    def start_remotely(self) -> dict[str, Any]:
        """The mock EMP starts the session (skips when the CPO refuses: the connector is not free)."""
        self.started = _remote_start(self.partner, self.connector)
        answer = answer_of(self.started)
        self.remote = dict(answer.get("session-start") or {})
        self.running = True
        return self.remote

    def plug_out(self) -> dict[str, Any] | None:
        answer = act(self.control, "plug-out", f"Plug the EV out at {self.connector}",
                     **{"connector-id": self.connector})
        self.running = answer is None  # nobody did it: the finally tries again
        return answer

    def cdrs_after_plug_out(self, target: Target, *, since: int, requirement: str, what: str,
                            final: bool = False) -> list[dict[str, Any]]:
        """Plug out; the CDRs at the connector from ``since`` on (only those of an ended session with ``final``),
        judged by `expect` when none came."""
        answer = self.plug_out()
        return expect_arrival(self.partner, self.control, target, call="session-post", since=since,
                              requirement=requirement, answer=answer, action="plug-out", what=what,
                              match=lambda e: self.at_connector(e) and not (final and _ongoing(e)))

    def at_connector(self, entry: dict[str, Any]) -> bool:
        return body(entry).get("connector-id") == self.connector

    def end(self) -> None:
        if not self.running:
            return
        self.running = False
        if self.remote is not None:
            stop: dict[str, Any] = {"user": {"identifier-type": "evco-id", "identifier": MOCK_EVCO},
                                    "connector-id": self.connector}
            if self.remote.get("session-id"):
                stop["session-id"] = self.remote["session-id"]
            with contextlib.suppress(HarnessError):
                self.partner.send("session-stop", stop)
            return
        self.control.undo("plug-out", f"Plug the EV out at {self.connector} (ends the check's session)",
                          by_person=self.by_person, **{"connector-id": self.connector})


@contextlib.contextmanager
def _plugged_in(control: Control, partner: Partner, connector: str) -> Iterator[_Session]:
    """A session the check starts at ``connector``, ended when the check ends, whatever its outcome."""
    session = _Session(control, partner, connector)
    try:
        yield session
    finally:
        session.end()


def _not_whitelisted(uid: str, partner: Partner) -> None:
    """cpo/rfid_start.rst, "Offline Authorization": "It is then the CPO's responsibility to authorize any UID
    … if the UID was part of the last push of UIDs from the EMP to the CPO." A UID this run pushed in a
    whitelist may be authorized without an rfid-verify, so it cannot show online verification (skips).
    """
    pushed = partner.sent("rfid-post")
    last = body(pushed[-1]).get("rfids") if pushed else None
    if uid in HARNESS_WHITELIST or (isinstance(last, list) and uid in last):
        pytest.skip(f"{uid} is in a whitelist pushed to the CPO in this run: the CPO may authorize it offline "
                    "without an rfid-verify (cpo/rfid_start.rst); give another UID with --rfid active=…")


def _whitelist_emptied(partner: Partner) -> bool:
    """The mock EMP pushes an empty whitelist; whether the CPO accepted it (result 0xx).

    cpo/rfid_start.rst, "Offline Authorization": the CPO authorizes a UID offline "if the UID was part of the
    last push of UIDs from the EMP to the CPO"; calls/rfid_post.rst: "All RFIDs that were pushed before with
    the same partner-identifier and are not part of a request must be made invalid". After an accepted empty
    push, no UID of this EMP may start without an rfid-verify. It also leaves no whitelist of the run behind.
    """
    try:
        answer = answer_of(partner.send("rfid-post", {"rfids": []}))
    except HarnessError:
        return False
    result = answer.get("result") if isinstance(answer, dict) else None
    code = result.get("code") if isinstance(result, dict) else None
    return type(code) is int and 0 <= code < 100


@pytest.mark.requirement("rfid-verify.on-every-use", "rfid.uid-format", "rfid.uid-upper-case",
                         "session-post.after-session", "session-post.intervals-consistent",
                         "session-post.energy-plausible", "identifiers.partner-identifier-consistent")
def test_cpo_verifies_rfid_and_sends_the_cdr(target: Target, partner: Partner, control: Control) -> None:
    connector, uid = cpo_connectors(target, partner)[0], target.rfids["active"]
    emptied = _whitelist_emptied(partner)
    _not_whitelisted(uid, partner)
    if not partner.received("station-post"):  # the connector's speed bounds the CDR's energy
        act(control, "push-stations", "Make the CPO push all its stations (station-post)")
    as_read = _as_read(uid)  # how a reader may report it: the CPO must pad and upper-case it
    with _plugged_in(control, partner, connector) as session:
        since = settled(partner)
        answer = session.present(uid, rfid=as_read)
        verifies = awaited(partner, control, "rfid-verify", since=since, seconds=window(target))
        if not verifies and answer is not None and not emptied:
            raise Inconclusive("rfid-verify.on-every-use", f"no rfid-verify within {window(target):g} s after "
                               f"present-rfid, and the CPO did not accept the mock EMP's empty whitelist: it may "
                               f"hold {uid} in a whitelist and authorize it offline (cpo/rfid_start.rst)")
        verify = expect(verifies, target, call="rfid-verify", requirement="rfid-verify.on-every-use", answer=answer,
                        action="present-rfid", what="an rfid-verify of the token (the mock EMP's last push of UIDs "
                                                    "was empty, so no offline authorization applies)")[0]
        _verified_as_given(verify, uid=uid, as_read=as_read)
        cdr = session.cdrs_after_plug_out(target, since=settled(partner), requirement="session-post.after-session",
                                          what=f"a CDR (session-post) for the session at {connector}")[0]
    valid_request(cdr, "sender.request-valid")
    _energy_plausible(cdr, partner)
    _same_partner_identifier(cdr, partner)


def same_uid(sent: Any, uid: str) -> bool:
    """``sent`` is ``uid``, or ``uid`` zero-padded on the left to a longer valid length (calls/rfid_verify.rst: "If
    you have shorter UIDs, you need to zero-pad them on the left"; 8, 14 and 20 are all valid lengths)."""
    return isinstance(sent, str) and (sent == uid or (len(sent) in UID_LENGTHS and len(sent) > len(uid)
                                                      and sent == uid.rjust(len(sent), "0")))


def _verified_as_given(verify: dict[str, Any], *, uid: str, as_read: str) -> None:
    """The rfid-verify sends ``uid`` as the operator gave it, whatever the reader reported (``as_read``)."""
    sent = body(verify).get("rfid", "")
    uid_conforms(sent, verify, expected=f"{uid!r}")
    if not same_uid(sent, uid):
        raise Nonconformance(requirement="rfid.uid-format", received=f"rfid {sent!r} (the reader gave {as_read!r})",
                             expected=f"{uid!r}: 8, 14 or 20 characters, zero-padded on the left",
                             exchange=as_exchange(verify))


def _energy_plausible(cdr: dict[str, Any], partner: Partner) -> None:
    """Not more energy than the connector's speed (its station-post) allows over the charging interval."""
    fields = body(cdr)
    speeds = [c.get("speed") for e in partner.received("station-post")
              for c in body(e).get("station", {}).get("connectors", []) if c.get("id") == fields.get("connector-id")]
    interval = fields.get("charging-interval") or fields.get("session-interval") or {}
    energy = fields.get("energy-consumed")
    if not speeds or not isinstance(energy, int | float) or "stop" not in interval:
        pytest.skip(f"the energy of the CDR could not be judged: no station-post of {fields.get('connector-id')!r} "
                    "or no charging interval and energy in the CDR")
    hours = (datetime.datetime.fromisoformat(interval["stop"]) - datetime.datetime.fromisoformat(interval["start"])
             ).total_seconds() / 3600
    limit = max(speeds) * max(hours, 0) * 1.05 + 0.01
    if energy > limit:
        raise Nonconformance(requirement="session-post.energy-plausible", received=f"energy-consumed {energy} kWh",
                             expected=f"at most {limit:.3f} kWh: {max(speeds)} kW over {hours * 60:.1f} minutes "
                                      "of charging", exchange=as_exchange(cdr))


def _same_partner_identifier(entry: dict[str, Any], partner: Partner) -> None:
    """The partner identifier of ``entry`` is one of the CPO's stations and statuses in this run (the
    conversation's rule decides, oioi.conversation)."""
    before = [e for call in ("station-post", "connector-post-status") for e in partner.received(call)]
    violated(raised(before, entry, conversation.IDENTIFIER_RULE), "identifiers.partner-identifier-consistent",
             entry=entry)


@pytest.mark.requirement("rfid-verify.charges-only-if-allowed")
def test_cpo_does_not_charge_a_refused_uid(target: Target, partner: Partner, control: Control) -> None:
    connector, uid = cpo_connectors(target, partner)[0], target.rfids["inactive"]
    _not_whitelisted(uid, partner)
    with _plugged_in(control, partner, connector) as session:
        since = settled(partner)
        answer = session.present(uid, rfid=uid, note=" (inactive)")
        verify = awaited(partner, control, "rfid-verify", since=since, seconds=window(target))
        if not verify:
            skip_unless_done(target, call="rfid-verify", answer=answer, action="present-rfid")
            raise Inconclusive("rfid-verify.charges-only-if-allowed",
                               f"no rfid-verify of {uid} within {window(target):g} s after present-rfid: the EMP "
                               "never refused it, so there is nothing to judge (rfid-verify.on-every-use judges "
                               "verifying)")
        settled(partner, settle=1.0)
        occupied = [e for e in partner.received("connector-post-status", since)
                    if posts_status("Occupied", connector=connector)(e)]
        session.running = bool(occupied) or (answer or {}).get("authorized") is True
    if occupied or (answer or {}).get("authorized") is True:
        raise Nonconformance(requirement="rfid-verify.charges-only-if-allowed",
                             received=f"charging started at {connector} for {uid}"
                                      + (" (status Occupied pushed)" if occupied else " (the hook said authorized)"),
                             expected="no session: the EMP refused the UID (rfid-verify answered 192)",
                             exchange=as_exchange(occupied[0]) if occupied else None, journal=verify + occupied)


@pytest.mark.requirement("session-post.session-id-by-cpo")
def test_cdr_of_remote_session_has_its_session_id(target: Target, partner: Partner, control: Control) -> None:
    connector = cpo_connectors(target, partner, need=2)[1]
    with _plugged_in(control, partner, connector) as session:
        session_id = session.start_remotely().get("session-id")
        if not session_id:
            pytest.skip(f"the CPO's session-start answer for {connector} gave no session-id to compare with")
        cdr = session.cdrs_after_plug_out(target, since=settled(partner), requirement="session-post.session-id-by-cpo",
                                          what=f"the CDR of session {session_id}")[0]
    if session.started is not None:  # the check knows the CDR is of its session; the rule decides the id
        violated(session_id_of_start(session.started, cdr), "session-post.session-id-by-cpo", entry=cdr)


@pytest.mark.requirement("session-post.redelivery-same-session")
def test_retried_cdr_is_the_same_session(target: Target, partner: Partner, control: Control) -> None:
    connector = cpo_connectors(target, partner, need=2)[1]
    with _plugged_in(control, partner, connector) as session:
        session.start_remotely()
        since = settled(partner)
        partner.fault(call="session-post", count=1, status=503)
        try:
            answer = session.plug_out()
            cdrs = awaited(partner, control, "session-post", since=since, seconds=window(target) + 2, count=2,
                           match=session.at_connector)
        finally:
            partner.clear_faults()
    cdrs = expect(cdrs, target, call="session-post", requirement="session-post.after-session", answer=answer,
                  action="plug-out", what="the CDR, then the same CDR again after the 503", waited=window(target) + 2)
    if len(cdrs) < 2:
        pytest.skip(f"the CDR was not delivered again within {window(target) + 2:g} s after the 503 "
                    "(sender.retry-5xx judges retrying)")
    changed = (session_id_of_update(cdrs[:1], retried) for retried in cdrs[1:])  # one session: the rule decides
    violated(next((finding for finding in changed if finding), None), "session-post.redelivery-same-session",
             journal=cdrs)


def _ongoing(entry: dict[str, Any]) -> bool:
    """A CDR of a session that has not ended: its session interval has no stop (cpo/cdr.rst)."""
    interval = body(entry).get("session-interval")
    return not isinstance(interval, dict) or not interval.get("stop")


def _rfid_session(target: Target, partner: Partner, control: Control, *, connector: str
                  ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One session started with the active UID and ended by plug-out: the CDRs sent while it ran, and the final one."""
    uid = target.rfids["active"]
    with _plugged_in(control, partner, connector) as session:
        since = settled(partner)
        answer = session.present(uid, rfid=uid)
        if answer is not None and answer.get("authorized") is False:
            pytest.skip(f"the CPO did not start charging for {uid} at {connector}: {answer!r:.200}")
        running = settled(partner, settle=1.0)
        if running == since:  # nobody presented the token: nothing was verified, no session started
            skip_unless_done(target, call="rfid-verify", answer=answer, action="present-rfid")
        during = [e for e in partner.received("session-post", since) if session.at_connector(e)]
        final = session.cdrs_after_plug_out(target, since=running, requirement="session-post.after-session",
                                            what=f"a CDR (session-post) for the session at {connector}", final=True)
    return during, final[-1]


@pytest.mark.requirement("session-post.update-same-session")
def test_cdr_update_keeps_the_session_id(target: Target, partner: Partner, control: Control) -> None:
    """A CDR sent while the session ran (cpo/cdr.rst allows it) and the final CDR share one session-id."""
    connector = cpo_connectors(target, partner)[0]
    during, final = _rfid_session(target, partner, control, connector=connector)
    ongoing = [e for e in during if _ongoing(e)]
    if not ongoing:
        pytest.skip(f"the CPO sent no CDR while the session at {connector} ran: there was nothing to update")
    violated(session_id_of_update(ongoing, final), "session-post.update-same-session", journal=[*ongoing, final])


@pytest.mark.requirement("session-post.session-id-unique")
def test_every_session_has_its_own_session_id(target: Target, partner: Partner, control: Control) -> None:
    """calls/session_post.rst: "The session ID must be a globally unique identifier." Two sessions one after the
    other at one connector; then no two CDRs of the run share a session-id unless they may be of one session.

    CDRs are of two sessions only when that is certain: at two connectors, or one started after the other
    had ended (times as instants: ``Z`` and ``+02:00``, fractions of seconds). A CDR that refines the start
    of its session (an update, cpo/cdr.rst) is the same session.
    """
    connector = cpo_connectors(target, partner)[0]
    _rfid_session(target, partner, control, connector=connector)
    time.sleep(SECOND)  # the second session starts in a later second than the first ended (CDRs may give whole seconds)
    _rfid_session(target, partner, control, connector=connector)
    cdrs = partner.received("session-post")
    for one, other in itertools.combinations(cdrs, 2):
        session_id = body(one).get("session-id")
        if session_id is None or body(other).get("session-id") != session_id:
            continue
        if why := _two_sessions(body(one), body(other)):
            raise Nonconformance(requirement="session-post.session-id-unique",
                                 received=f"session-id {session_id!r} for two sessions: {why}",
                                 expected="a new session-id for every session", journal=[one, other])


def _two_sessions(one: dict[str, Any], other: dict[str, Any]) -> str | None:
    """Why two CDRs are certainly of two sessions; None when they may be of one."""
    if _evse_key(one.get("connector-id")) != _evse_key(other.get("connector-id")):
        return f"one at {one.get('connector-id')!r}, the other at {other.get('connector-id')!r}"
    for earlier, later in ((one, other), (other, one)):
        stop = _session_interval(earlier).get("stop")
        start = _session_interval(later).get("start")
        ended, began = instant(stop), instant(start)
        if ended is not None and began is not None and began > ended:
            return f"one ended {stop}, the other started {start}, after it"
    return None


def _session_interval(fields: dict[str, Any]) -> dict[str, Any]:
    interval = fields.get("session-interval")
    return interval if isinstance(interval, dict) else {}


def _evse_key(evse_id: Any) -> Any:
    """glossary.rst, EVSE ID: each literal ``*`` between its parts is "(optional)": IDs differing only there are one."""
    return evse_id.replace("*", "") if isinstance(evse_id, str) else evse_id
