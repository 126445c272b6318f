"""What the IUT sends: received by the mock partner (``--listen``), made to happen by the test-control hook.

cpo/poi.rst, cpo/cdr.rst, cpo/rfid_start.rst, request.rst (headers, UTF-8, retries). Without a
hook (``--control-url``), or for an action the IUT does not support, each check waits
``--wait`` seconds for the traffic to come on its own (asking the person at the terminal, when
there is one, and telling them what arrived); a check that saw nothing is not run, with the
reason — never passed. Every check leaves the IUT as it found it (statuses back to Available,
sessions ended, reservations cancelled), in a ``finally``.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conformance._failures import Inconclusive, Nonconformance
from conformance._partner import Control, NotDone, Partner, answer_of, arrival
from conformance._sent import (
    UID,
    as_exchange,
    authenticated,
    body,
    for_the_partners_role,
    identifiers,
    json_content_type,
    one_call,
    tries_thin_out,
    utf8,
    valid_request,
    waits,
    waits_grow,
)
from conformance._target import Target
from conformance.suite._messages import UIDS as HARNESS_WHITELIST
from oioi.errors import HarnessError

# The mock partner's own fixtures: the staging EVCO ID of testaccount.rst's active UID, and the
# connectors of the CPO mock's station (README, "oioi mock").
MOCK_EVCO = "DE*8PS*123456*7"
MOCK_CPO_CONNECTOR = "DE*8PS*E000001*1"


def _act(control: Control, action: str, prompt: str, **fields: Any) -> dict[str, Any] | None:
    try:
        return control.act(action, prompt, **fields)
    except NotDone as refusal:
        pytest.skip(str(refusal))


def _summary(entry: dict[str, Any]) -> str:
    """One journaled message in a few words, for the person at the terminal: "rfid-verify 04523022AA4881"."""
    fields = body(entry)
    station = fields.get("station")
    shown = [str(station.get("id"))] if isinstance(station, dict) else []
    shown += [str(fields[k]) for k in ("rfid", "connector-id", "status", "session-id") if k in fields]
    return " ".join([str(entry.get("call")), *shown])


def _await(partner: Partner, control: Control, call: str, since: int, seconds: float, *, count: int = 1,
           match: Callable[[dict[str, Any]], bool] = lambda entry: True) -> list[dict[str, Any]]:
    """``partner.wait_for``, saying what it waits for and what arrived to a person who did the action."""
    control.say(f"waiting up to {seconds:g} s for {call} ...")
    found = partner.wait_for(call, since, seconds, count=count, match=match)
    control.say(f"received: {'; '.join(_summary(e) for e in found)}" if found
                else f"nothing arrived: no {call} within {seconds:g} s")
    return found


def _settled(partner: Partner, settle: float = 0.5, at_most: float = 3.0) -> int:
    """The journal's last entry once the IUT's earlier messages have stopped coming."""
    deadline, last = time.monotonic() + at_most, partner.last_id()
    while time.monotonic() < deadline:
        time.sleep(settle)
        now = partner.last_id()
        if now == last:
            break
        last = now
    return last


def _nothing(call: str, oioi: Target, answer: dict[str, Any] | None, action: str) -> None:
    """Nothing came: a failure when the IUT said it acted, otherwise not run (never a pass)."""
    if answer:
        return
    how = "the control hook does not support it" if oioi.control_url else "no --control-url and nobody to ask"
    pytest.skip(f"no {call} arrived within {oioi.wait:g} s after asking for {action!r} ({how})")


def _expect(entries: list[dict[str, Any]], call: str, requirement: str, oioi: Target,
            answer: dict[str, Any] | None, action: str, what: str) -> list[dict[str, Any]]:
    if entries:
        return entries
    _nothing(call, oioi, answer, action)
    raise Nonconformance(requirement=requirement, received=f"no {call} within {oioi.wait:g} s",
                         expected=f"{what} (the test-control hook answered that {action!r} was done)")


def _uid_conforms(uid: Any, entry: dict[str, Any], expected: str = "a UID") -> None:
    """calls/rfid_post.rst, calls/rfid_verify.rst: 8, 14 or 20 characters, zero-padded, all upper-case."""
    if not isinstance(uid, str) or uid.upper() != uid:
        raise Nonconformance(requirement="rfid.uid-upper-case", received=f"rfid {uid!r}",
                             expected=f"{expected}: all characters upper-case", exchange=as_exchange(entry))
    if not UID.match(uid):
        raise Nonconformance(requirement="rfid.uid-format", received=f"rfid {uid!r} ({len(uid)} characters)",
                             expected=f"{expected}: 8, 14 or 20 hexadecimal characters, zero-padded on the left",
                             exchange=as_exchange(entry))


def _status_body(status: str, connector: str) -> Any:
    return lambda e: body(e).get("connector-id") == connector and body(e).get("status") == status


def _connectors(oioi: Target, partner: Partner, need: int = 1) -> list[str]:
    """The CPO IUT's connectors: from --connector-id, else from the station-posts it sent (skips with fewer)."""
    connectors = list(oioi.connectors) or [
        c["id"] for e in partner.received("station-post") for c in body(e).get("station", {}).get("connectors", [])]
    if len(connectors) < need:
        pytest.skip("needs two connectors: give --connector-id twice" if need > 1 else
                    "no connector known: give --connector-id or let the CPO push its stations")
    return connectors


def _remote_start(partner: Partner, connector: str) -> dict[str, Any]:
    """The mock EMP starts a session at ``connector``; the answer's session-start payload (skips if refused)."""
    started = answer_of(partner.send("session-start", {
        "user": {"identifier-type": "evco-id", "identifier": MOCK_EVCO}, "connector-id": connector}))
    if not isinstance(started, dict) or started.get("result", {}).get("code") not in (0, 11, 12):
        pytest.skip(f"the CPO did not start a remote session at {connector} (answer {started!r:.200})")
    return dict(started.get("session-start") or {})


class _Session:
    """A session a check started at a connector (a token presented, or a remote start by the mock EMP).

    Ended in the check's ``finally`` when the check did not end it itself: by the session-stop of
    the remote start, with its session-id, or by plug-out (the hook, or the person who started it).
    """

    def __init__(self, control: Control, connector: str, partner: Partner | None = None) -> None:
        self.control, self.connector, self.partner = control, connector, partner
        self.running, self.by_person = False, False
        self.remote: dict[str, Any] | None = None  # the CPO's session-start answer, when the mock EMP started it

    def started(self, answer: dict[str, Any] | None, *, by_person: bool) -> None:
        """A token was presented: a session may run unless the hook said it was not authorized."""
        self.running = answer is not None and answer.get("authorized") is not False
        self.by_person = by_person

    def start_remotely(self) -> dict[str, Any]:
        """The mock EMP starts the session (skips when the CPO refuses: the connector is not free)."""
        assert self.partner is not None
        self.remote = _remote_start(self.partner, self.connector)
        self.running = True
        return self.remote

    def plug_out(self) -> dict[str, Any] | None:
        answer = _act(self.control, "plug-out", f"Plug the EV out at {self.connector}",
                      **{"connector-id": self.connector})
        self.running = answer is None  # nobody did it: the finally tries again
        return answer

    def end(self) -> None:
        if not self.running:
            return
        self.running = False
        if self.remote is not None and self.partner is not None:
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
def _plugged_in(control: Control, connector: str, partner: Partner | None = None) -> Iterator[_Session]:
    """A session the check starts at ``connector``, ended when the check ends, whatever its outcome."""
    session = _Session(control, connector, partner)
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


# --- CPO: stations, statuses, RFID starts, CDRs ---------------------------------------------------


def _push_stations(oioi: Target, partner: Partner, control: Control) -> list[dict[str, Any]]:
    since = _settled(partner)
    answer = _act(control, "push-stations", "Make the CPO push all its stations (station-post)")
    control.say(f"waiting up to {oioi.wait:g} s for station-post ...")
    posts = [e for e in partner.quiet(since, oioi.wait) if e["call"] == "station-post"]
    control.say(f"received: {'; '.join(_summary(e) for e in posts)}" if posts else "nothing arrived")
    return _expect(posts, "station-post", "station-post.connector-id-unique", oioi, answer, "push-stations",
                   "a station-post for each station")


def _stations(posts: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(station, entry) of each station-post: one station object each (calls/station_post.rst)."""
    stations = []
    for entry in posts:
        station = body(entry).get("station")
        if not isinstance(station, dict):
            raise Nonconformance(requirement="station-post.one-station-per-request",
                                 received=f"station {station!r:.160}",
                                 expected="one station object per station-post ('You have to send one request "
                                          "for each station.')", exchange=as_exchange(entry))
        stations.append((station, entry))
    return stations


def _connector_ids(station: dict[str, Any]) -> list[Any]:
    return [c.get("id") if isinstance(c, dict) else c for c in station.get("connectors") or []]


@pytest.mark.role("cpo")
@pytest.mark.requirement("station-post.one-station-per-request", "station-post.station-id-unique",
                         "station-post.connector-id-unique", "station-post.connector-ids-unchanged",
                         "station-post.connectors-unchanged")
def test_cpo_pushes_its_stations(oioi: Target, partner: Partner, control: Control) -> None:
    first = _stations(_push_stations(oioi, partner, control))
    pushed: dict[Any, dict[str, Any]] = {}
    for station, entry in first:  # one full push: each id one station, each connector in one station
        earlier = pushed.setdefault(station.get("id"), station)
        if earlier is not station and earlier != station:
            raise Nonconformance(requirement="station-post.station-id-unique",
                                 received=f"two different stations with id {station.get('id')!r} in one push "
                                          f"(connectors {_connector_ids(earlier)} and {_connector_ids(station)})",
                                 expected="a station id that names one station only", exchange=as_exchange(entry))
    owner: dict[Any, Any] = {}
    for station, entry in first:
        for connector in _connector_ids(station):
            held_by = owner.setdefault(connector, station.get("id"))
            if held_by != station.get("id"):
                raise Nonconformance(requirement="station-post.connector-id-unique",
                                     received=f"connector {connector!r} in stations {held_by!r} and "
                                              f"{station.get('id')!r}",
                                     expected="every connector id in one station only", exchange=as_exchange(entry))
    for station, entry in _stations(_push_stations(oioi, partner, control)):  # a second full push: no change
        before = pushed.get(station.get("id"))
        if before is None or before.get("connectors") == station.get("connectors"):
            continue
        ids_changed = _connector_ids(before) != _connector_ids(station)
        raise Nonconformance(
            requirement="station-post.connector-ids-unchanged" if ids_changed else "station-post.connectors-unchanged",
            received=f"station {station.get('id')!r} posted again with connectors "
                     + (f"{_connector_ids(station)}" if ids_changed else f"{station.get('connectors')!r:.200}"),
            expected="the connectors it was posted with: "
                     + (f"{_connector_ids(before)}" if ids_changed else f"{before.get('connectors')!r:.200}")
                     + " (calls/station_post.rst: 'It is not allowed to change the connectors')",
            exchange=as_exchange(entry))


@pytest.mark.role("cpo")
@pytest.mark.requirement("station-post.all-stations")
def test_cpo_pushes_every_station(oioi: Target, partner: Partner, control: Control) -> None:
    """Every connector the operator declared (--connector-id) arrives in a station-post."""
    if not oioi.connectors:
        pytest.skip("which stations the CPO has is known only from --connector-id: give each of its connectors")
    posts = partner.received("station-post") or _push_stations(oioi, partner, control)
    posted = {c for station, _ in _stations(posts) for c in _connector_ids(station)}
    missing = [c for c in oioi.connectors if c not in posted]
    if missing:
        raise Nonconformance(requirement="station-post.all-stations",
                             received=f"station-posts for connectors {sorted(map(str, posted))}",
                             expected=f"a station-post for every station, also those of {missing}",
                             exchange=as_exchange(posts[-1]))


@pytest.mark.role("cpo")
@pytest.mark.requirement("connector-post-status.on-change", "connector-post-status.own-connectors")
def test_cpo_pushes_status_changes_of_posted_connectors(oioi: Target, partner: Partner, control: Control) -> None:
    connectors = _connectors(oioi, partner)
    posted = {(c["id"], body(e).get("partner-identifier")) for e in partner.received("station-post")
              for c in body(e).get("station", {}).get("connectors", [])}
    for connector in connectors:
        since = _settled(partner)
        answer = _act(control, "set-status", f"Make connector {connector} Available", **{
            "connector-id": connector, "status": "Available"})
        found = _await(partner, control, "connector-post-status", since, oioi.wait,
                       match=_status_body("Available", connector))
        entry = _expect(found, "connector-post-status", "connector-post-status.on-change", oioi, answer,
                        "set-status", f"a connector-post-status for {connector}")[0]
        if (connector, body(entry).get("partner-identifier")) not in posted:
            raise Nonconformance(requirement="connector-post-status.own-connectors",
                                 received=f"a status for {connector!r} as partner "
                                          f"{body(entry).get('partner-identifier')!r}",
                                 expected="statuses only for connectors this partner pushed with station-post",
                                 exchange=as_exchange(entry))


@pytest.mark.role("cpo")
@pytest.mark.requirement("rfid-verify.on-every-use", "rfid.uid-format", "rfid.uid-upper-case",
                         "session-post.after-session", "session-post.intervals-consistent",
                         "session-post.energy-plausible", "identifiers.partner-identifier-consistent")
def test_cpo_verifies_rfid_and_sends_the_cdr(oioi: Target, partner: Partner, control: Control) -> None:
    connectors = _connectors(oioi, partner)
    connector, uid = connectors[0], oioi.rfids["active"]
    _not_whitelisted(uid, partner)
    if not partner.received("station-post"):  # the connector's speed bounds the CDR's energy
        _act(control, "push-stations", "Make the CPO push all its stations (station-post)")
    as_read = uid.lstrip("0").lower()  # how a reader may report it: the CPO must pad and upper-case it
    with _plugged_in(control, connector) as session:
        since = _settled(partner)
        answer = _act(control, "present-rfid", f"Present the RFID token {uid} at {connector}",
                      **{"connector-id": connector, "rfid": as_read})
        session.started(answer, by_person=control.by_person)
        verify = _expect(_await(partner, control, "rfid-verify", since, oioi.wait), "rfid-verify",
                         "rfid-verify.on-every-use", oioi, answer, "present-rfid", "an rfid-verify of the token")[0]
        sent = body(verify).get("rfid", "")
        _uid_conforms(sent, verify, f"{uid!r}")
        if sent != uid:
            raise Nonconformance(requirement="rfid.uid-format",
                                 received=f"rfid {sent!r} (the reader gave {as_read!r})",
                                 expected=f"{uid!r}: 8, 14 or 20 characters, zero-padded on the left",
                                 exchange=as_exchange(verify))
        since = _settled(partner)
        answer = session.plug_out()
        cdr = _expect(_await(partner, control, "session-post", since, oioi.wait,
                             match=lambda e: body(e).get("connector-id") == connector), "session-post",
                      "session-post.after-session", oioi, answer, "plug-out",
                      f"a CDR (session-post) for the session at {connector}")[0]
    valid_request(cdr, "sender.request-valid")
    _energy_plausible(cdr, partner)
    _same_partner_identifier(cdr, partner)


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
    """The partner identifier of ``entry`` is the one of the CPO's stations and statuses in this run."""
    others = {body(e).get("partner-identifier") for call in ("station-post", "connector-post-status")
              for e in partner.received(call)} - {None}
    mine = body(entry).get("partner-identifier")
    if others and mine not in others:
        raise Nonconformance(requirement="identifiers.partner-identifier-consistent",
                             received=f"partner-identifier {mine!r} in the {entry.get('call')}",
                             expected=f"the one of its stations and statuses: {sorted(map(str, others))!r}",
                             exchange=as_exchange(entry))


@pytest.mark.role("cpo")
@pytest.mark.requirement("rfid-verify.charges-only-if-allowed")
def test_cpo_does_not_charge_a_refused_uid(oioi: Target, partner: Partner, control: Control) -> None:
    connectors = _connectors(oioi, partner)
    connector, uid = connectors[0], oioi.rfids["inactive"]
    _not_whitelisted(uid, partner)
    with _plugged_in(control, connector) as session:
        since = _settled(partner)
        answer = _act(control, "present-rfid", f"Present the RFID token {uid} (inactive) at {connector}",
                      **{"connector-id": connector, "rfid": uid})
        session.started(answer, by_person=control.by_person)
        verify = _expect(_await(partner, control, "rfid-verify", since, oioi.wait), "rfid-verify",
                         "rfid-verify.charges-only-if-allowed", oioi, answer, "present-rfid",
                         "an rfid-verify of the token")
        _settled(partner, settle=1.0)
        occupied = [e for e in partner.received("connector-post-status", since)
                    if _status_body("Occupied", connector)(e)]
        session.running = bool(occupied) or (answer or {}).get("authorized") is True
    if occupied or (answer or {}).get("authorized") is True:
        raise Nonconformance(requirement="rfid-verify.charges-only-if-allowed",
                             received=f"charging started at {connector} for {uid}"
                                      + (" (status Occupied pushed)" if occupied else " (the hook said authorized)"),
                             expected="no session: the EMP refused the UID (rfid-verify answered 192)",
                             exchange=as_exchange(occupied[0]) if occupied else None, journal=verify + occupied)


@pytest.mark.role("cpo")
@pytest.mark.requirement("session-post.session-id-by-cpo")
def test_cdr_of_remote_session_has_its_session_id(oioi: Target, partner: Partner, control: Control) -> None:
    connectors = _connectors(oioi, partner, need=2)
    connector = connectors[1]
    with _plugged_in(control, connector, partner) as session:
        session_id = session.start_remotely().get("session-id")
        if not session_id:
            pytest.skip(f"the CPO's session-start answer for {connector} gave no session-id to compare with")
        since = _settled(partner)
        answer = session.plug_out()
        cdr = _expect(_await(partner, control, "session-post", since, oioi.wait,
                             match=lambda e: body(e).get("connector-id") == connector), "session-post",
                      "session-post.session-id-by-cpo", oioi, answer, "plug-out", f"the CDR of session {session_id}")[0]
    if body(cdr).get("session-id") != session_id:
        raise Nonconformance(requirement="session-post.session-id-by-cpo",
                             received=f"session-id {body(cdr).get('session-id')!r}",
                             expected=f"{session_id!r}, the session-id of the session-start answer",
                             exchange=as_exchange(cdr))


@pytest.mark.role("cpo")
@pytest.mark.requirement("session-post.redelivery-same-session")
def test_retried_cdr_is_the_same_session(oioi: Target, partner: Partner, control: Control) -> None:
    connectors = _connectors(oioi, partner, need=2)
    connector = connectors[1]
    with _plugged_in(control, connector, partner) as session:
        session.start_remotely()
        since = _settled(partner)
        partner.fault(call="session-post", count=1, status=503)
        try:
            answer = session.plug_out()
            cdrs = _await(partner, control, "session-post", since, oioi.wait + 2, count=2,
                          match=lambda e: body(e).get("connector-id") == connector)
        finally:
            partner.clear_faults()
    cdrs = _expect(cdrs, "session-post", "session-post.redelivery-same-session", oioi, answer, "plug-out",
                   "the CDR, then the same CDR again after the 503")
    if len(cdrs) < 2:
        pytest.skip(f"the CDR was not delivered again within {oioi.wait + 2:g} s after the 503 "
                    "(sender.retry-5xx judges retrying)")
    ids = [body(e).get("session-id") for e in cdrs]
    if len(set(ids)) > 1:
        raise Nonconformance(requirement="session-post.redelivery-same-session",
                             received=f"session-ids {ids!r} for one session", journal=cdrs,
                             expected="the retried CDR with the session-id of the first delivery")


def _ongoing(entry: dict[str, Any]) -> bool:
    """A CDR of a session that has not ended: its session interval has no stop (cpo/cdr.rst)."""
    interval = body(entry).get("session-interval")
    return not isinstance(interval, dict) or not interval.get("stop")


def _rfid_session(oioi: Target, partner: Partner, control: Control, connector: str
                  ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One session started with the active UID and ended by plug-out: the CDRs sent while it ran, and the final one."""
    uid = oioi.rfids["active"]
    with _plugged_in(control, connector) as session:
        since = _settled(partner)
        answer = _act(control, "present-rfid", f"Present the RFID token {uid} at {connector}",
                      **{"connector-id": connector, "rfid": uid})
        session.started(answer, by_person=control.by_person)
        if answer is not None and answer.get("authorized") is False:
            pytest.skip(f"the CPO did not start charging for {uid} at {connector}: {answer!r:.200}")
        running = _settled(partner, settle=1.0)
        if running == since:  # nobody presented the token: nothing was verified, no session started
            _nothing("rfid-verify", oioi, answer, "present-rfid")
        during = [e for e in partner.received("session-post", since) if body(e).get("connector-id") == connector]
        answer = session.plug_out()
        final = _expect(_await(partner, control, "session-post", running, oioi.wait,
                               match=lambda e: body(e).get("connector-id") == connector and not _ongoing(e)),
                        "session-post", "session-post.after-session", oioi, answer, "plug-out",
                        f"a CDR (session-post) for the session at {connector}")[-1]
    return during, final


@pytest.mark.role("cpo")
@pytest.mark.requirement("session-post.update-same-session")
def test_cdr_update_keeps_the_session_id(oioi: Target, partner: Partner, control: Control) -> None:
    """A CDR sent while the session ran (cpo/cdr.rst allows it) and the final CDR share one session-id."""
    connector = _connectors(oioi, partner)[0]
    during, final = _rfid_session(oioi, partner, control, connector)
    ongoing = [e for e in during if _ongoing(e)]
    if not ongoing:
        pytest.skip(f"the CPO sent no CDR while the session at {connector} ran: there was nothing to update")
    ids = {body(e).get("session-id") for e in ongoing}
    if body(final).get("session-id") not in ids:
        raise Nonconformance(requirement="session-post.update-same-session",
                             received=f"final CDR with session-id {body(final).get('session-id')!r}",
                             expected=f"the session-id of the CDR sent while the session ran: {sorted(map(str, ids))}",
                             journal=[*ongoing, final])


@pytest.mark.role("cpo")
@pytest.mark.requirement("session-post.session-id-unique")
def test_every_session_has_its_own_session_id(oioi: Target, partner: Partner, control: Control) -> None:
    """Two sessions one after the other at one connector: two session-ids; across the run, one id is one session."""
    connector = _connectors(oioi, partner)[0]
    for _ in range(2):
        _rfid_session(oioi, partner, control, connector)
    sessions: dict[Any, tuple[Any, Any]] = {}
    cdrs = partner.received("session-post")
    for cdr in cdrs:
        fields = body(cdr)
        interval = fields.get("session-interval")
        which = (fields.get("connector-id"), interval.get("start") if isinstance(interval, dict) else None)
        first = sessions.setdefault(fields.get("session-id"), which)
        if first != which:
            same = [e for e in cdrs if body(e).get("session-id") == fields.get("session-id")]
            raise Nonconformance(requirement="session-post.session-id-unique",
                                 received=f"session-id {fields.get('session-id')!r} for the session at {first[0]} "
                                          f"started {first[1]} and the one at {which[0]} started {which[1]}",
                                 expected="a new session-id for every session", journal=same)


# --- delivery: retries after 5xx, none after 4xx (request.rst, "Response") -----------------------
#
# request.rst: "You must retry later, honoring any Retry-After header included in the response. Your
# services must implement exponential back-off." The spec gives no window for "later", no client
# timeout and no growth factor: those are the IUT's declaration (--retry-window, --partner-timeout,
# --backoff-tolerance). What no reading allows fails; what a longer window might still show is
# inconclusive, with what was waited.

TOLERANCE = 0.05  # seconds of clock granularity between the IUT's wait and the mock's journal
RETRY_AFTER = 1  # seconds, the Retry-After of the 503s of sender.retry-5xx
DEFAULT_HOLD = 10.0  # seconds the mock holds its answer when the IUT declared no client timeout
HOLD_MARGIN = 2.0  # seconds the mock holds its answer beyond the IUT's declared client timeout
MAX_HOLD = 60.0  # seconds: the longest the mock can hold an answer (mock_server/_faults.py, MAX_DELAY_MS)
BOUNDED_WINDOW = 8.0  # seconds of 503s, from the first delivery on
# One status per delivery check, so that a late retry of one check's message is never taken for another's.
DELIVERY_STATUS = {"sender.no-retry-4xx": "Reserved", "sender.retry-5xx": "Offline",
                   "sender.retry-backoff": "Unknown", "sender.retry-timeout": "Occupied",
                   "sender.retry-bounded": "Reserved"}


def _deliveries(oioi: Target, partner: Partner, control: Control, *, fault: dict[str, Any], count: int,
                requirement: str, watch: float, from_trigger: bool = False) -> list[dict[str, Any]]:
    """Trigger one message with ``fault`` on its first answers; the journal entries of its deliveries.

    The first delivery is awaited --wait seconds; then all ``count`` until ``watch`` seconds after the
    first delivery (after the trigger with ``from_trigger``). A connector the check set to another
    status is set back to Available in the end, and the faults the IUT did not use up are dropped.
    """
    connector = None
    if oioi.role == "cpo":
        connector = _connectors(oioi, partner)[0]
        status = DELIVERY_STATUS[requirement]
        call, action, fields = "connector-post-status", "set-status", {"connector-id": connector, "status": status}
        prompt = f"Set connector {connector} to {status} (the CPO sends a connector-post-status)"
        match = _status_body(status, connector)
    else:
        call, action, fields, match = "rfid-post", "push-rfids", {}, lambda e: True
        prompt = "Make the EMP push its RFID whitelist (rfid-post)"
    partner.fault(call=call, **fault)
    by_person = False
    try:
        since = _settled(partner)
        answer = _act(control, action, prompt, **fields)
        by_person, triggered = control.by_person, time.time()
        control.say(f"waiting for the {call} and its deliveries again (up to {watch:g} s) ...")
        found = partner.wait_for(call, since, watch if from_trigger else oioi.wait, match=match)
        if found and count > 1:
            start = triggered if from_trigger else arrival(found[0])
            found = partner.wait_for(call, since, max(0.0, start + watch - time.time()), count=count, match=match)
        control.say(f"received: {len(found)} deliveries of the {call}")
    finally:
        partner.clear_faults()  # what the IUT did not use up must not hit the next check
        _drain(oioi, partner, call, match)
        if connector is not None:
            control.undo("set-status", f"Set connector {connector} back to Available", by_person=by_person,
                         **{"connector-id": connector, "status": "Available"})
    return _expect(found, call, requirement, oioi, answer, action, f"a {call}")


def _drain(oioi: Target, partner: Partner, call: str, match: Callable[[dict[str, Any]], bool]) -> None:
    """Let an IUT still retrying the check's message deliver it (the faults are gone), so that its tries do not
    run into the next check, or into the next run's partner once this one has stopped.

    Waits (``--wait`` at most) only while the tries have not visibly stopped: the last was refused, and came
    less than twice the longest wait between them (plus 1 s) ago.
    """
    tries = [e for e in partner.received(call) if match(e)][-20:]
    if not tries or (tries[-1].get("status") or 0) < 500:
        return
    gaps = waits([arrival(e) for e in tries])
    quiet_after = 2 * max(gaps, default=0.5) + 1 - (time.time() - arrival(tries[-1]))
    if quiet_after > 0:
        partner.wait_for(call, int(tries[-1]["id"]), min(quiet_after, oioi.wait), match=match)


def _undeclared(requirement: str, what: str, option: str, found: list[dict[str, Any]]) -> Inconclusive:
    return Inconclusive(requirement, f"{what}; the spec gives no window for a retry ('You must retry later'): "
                                     f"declare {option} for a verdict", journal=found)


@pytest.mark.requirement("sender.no-retry-4xx")
def test_no_retry_after_4xx(oioi: Target, partner: Partner, control: Control) -> None:
    found = _deliveries(oioi, partner, control, fault={"count": 1, "status": 400}, count=2,
                        requirement="sender.no-retry-4xx", watch=min(oioi.wait, 5.0))
    if len(found) > 1:
        raise Nonconformance(requirement="sender.no-retry-4xx", received=f"{len(found)} deliveries after a 400",
                             expected="no retry of a message the partner refused with a 4xx", journal=found)


@pytest.mark.requirement("sender.retry-5xx")
def test_retries_after_503_not_before_retry_after(oioi: Target, partner: Partner, control: Control) -> None:
    """Two 503s with Retry-After: 1. A retry sooner than Retry-After fails; no retry fails only within the
    IUT's declared --retry-window (after each 503, or Retry-After if that is longer), else it is inconclusive.
    """
    per_retry = max(RETRY_AFTER, oioi.retry_window) if oioi.retry_window is not None else None
    watch = 2 * per_retry + 1 if per_retry is not None else oioi.wait + 4
    found = _deliveries(oioi, partner, control, fault={"count": 2, "status": 503, "retry_after": RETRY_AFTER},
                        count=3, requirement="sender.retry-5xx", watch=watch)
    gaps = waits([arrival(e) for e in found])
    if gaps and min(gaps) < RETRY_AFTER - TOLERANCE:
        raise Nonconformance(requirement="sender.retry-5xx", received=f"retries after {gaps} s",
                             expected=f"no retry sooner than Retry-After: {RETRY_AFTER} s", journal=found)
    if (found[-1].get("status") or 0) < 500:
        return  # every 503 was followed by a retry, and the last try was answered
    what = f"no retry within {watch:g} s of the first delivery, after {len(found)} answered 503"
    if per_retry is None:
        raise _undeclared("sender.retry-5xx", what, "--retry-window", found)
    raise Nonconformance(requirement="sender.retry-5xx", received=what,
                         expected=f"a retry within {per_retry:g} s of each 503, as the IUT declared (--retry-window "
                                  f"{oioi.retry_window:g}; request.rst: 'You must retry later')", journal=found)


@pytest.mark.requirement("sender.retry-backoff")
def test_retries_back_off_exponentially(oioi: Target, partner: Partner, control: Control) -> None:
    """Three 503s without Retry-After: four tries. Exponential back-off makes the waits grow.

    Jitter may make a wait shorter than the one before, by at most the declared --backoff-tolerance
    (a fraction; 1 for full jitter). It fails when a wait shrank by more than that, or when none of
    the later waits grew past 1.25 times the first (a storm or a steady pace), the latter only
    while the tolerance is below 1: with full jitter three waits cannot show the trend.
    """
    watch = oioi.wait + 4 if oioi.retry_window is None else max(oioi.wait + 4, 3 * oioi.retry_window + 1)
    found = _deliveries(oioi, partner, control, fault={"count": 3, "status": 503}, count=4,
                        requirement="sender.retry-backoff", watch=watch)
    waits_grow(waits([arrival(e) for e in found]), oioi.backoff_tolerance, found)


@pytest.mark.requirement("sender.retry-timeout")
def test_retries_after_a_timeout(oioi: Target, partner: Partner, control: Control) -> None:
    """request.rst counts timeouts among 5xx situations: a message whose answer does not come is sent again.

    The mock holds its answer to the next message for the IUT's declared client timeout plus 2 s
    (10 s when it declared none); a delivery the fault did not hold (the held one is journaled when
    its answer finally goes out) is the retry. No retry fails only when the IUT declared both its
    client timeout and its --retry-window; otherwise it is inconclusive: its client may wait longer
    than the hold (and then rightly takes the held answer), or retry later than the run waited.
    """
    declared = oioi.partner_timeout
    hold = declared + HOLD_MARGIN if declared is not None else DEFAULT_HOLD
    if hold > MAX_HOLD:
        pytest.skip(f"the mock holds an answer {MAX_HOLD:g} s at most, less than the IUT's declared client timeout "
                    f"of {declared:g} s")
    later = oioi.retry_window if oioi.retry_window is not None else oioi.wait
    watch = max(hold, (declared if declared is not None else hold) + later) + 1
    found = _deliveries(oioi, partner, control, fault={"count": 1, "delay_ms": round(hold * 1000)}, count=2,
                        requirement="sender.retry-timeout", watch=watch, from_trigger=True)
    if [e for e in found if not e.get("fault")]:
        return
    what = f"no second delivery within {watch:g} s of an answer held for {hold:g} s"
    if declared is None:
        raise Inconclusive("sender.retry-timeout", f"{what}; the IUT's client may wait longer than {hold:g} s and "
                           "take the held answer: declare --partner-timeout", journal=found)
    if oioi.retry_window is None:
        raise _undeclared("sender.retry-timeout", f"{what} (the IUT's client waits {declared:g} s)",
                          "--retry-window", found)
    raise Nonconformance(requirement="sender.retry-timeout", received=what,
                         expected=f"the message sent again within {oioi.retry_window:g} s after the IUT's declared "
                                  f"client timeout of {declared:g} s (request.rst: timeouts are among the 5xx "
                                  "situations: 'You must retry later')", journal=found)


@pytest.mark.requirement("sender.retry-bounded")
def test_retries_thin_out(oioi: Target, partner: Partner, control: Control) -> None:
    """Every delivery of one message is answered 503 for 8 s: exponential back-off makes the tries thin out
    (or stop). Clearly not a back-off, and a failure: six tries or more whose waits in the second half of the
    series never grew past 1.25 times the longest of the first half (a steady pace).

    It passes when the waits grew, or when the tries stopped: the silence after the last try is longer than
    the longest wait. Fewer tries, or full jitter (--backoff-tolerance 1) with a pace that looks steady,
    are inconclusive. An IUT that backs off but never gives up is not failed here.
    """
    found = _deliveries(oioi, partner, control, fault={"count": 100, "status": 503}, count=101,
                        requirement="sender.retry-bounded", watch=BOUNDED_WINDOW + 0.3)
    first = arrival(found[0])
    window = [e for e in found if arrival(e) - first <= BOUNDED_WINDOW]
    tries_thin_out(waits([arrival(e) for e in window]), first + BOUNDED_WINDOW - arrival(window[-1]),
                   oioi.backoff_tolerance, window, seconds=BOUNDED_WINDOW)


# --- EMP: remote starts and stops, whitelist -----------------------------------------------------


def _busy(partner: Partner) -> bool:
    """Whether the mock CPO still has a running session or a reservation."""
    state = partner.admin("GET", "state")
    return any(s.get("state") == "active" for s in state.get("sessions", [])) or bool(state.get("reservations"))


@contextlib.contextmanager
def _mock_cpo_freed(partner: Partner, control: Control, action: str, prompt: str,
                    **fields: Any) -> Iterator[dict[str, bool]]:
    """What the EMP started or reserved at the mock CPO ends with the check, whatever its outcome.

    When something still holds the mock CPO's connector, the EMP is asked to end it (``action``,
    through the hook or the person who started it); if that does not free it, the mock CPO's state
    is reset (its journal kept). The check sets ``by_person`` when a person did its first action.
    """
    done = {"by_person": False}
    try:
        yield done
    finally:
        try:
            if _busy(partner):
                control.undo(action, prompt, by_person=done["by_person"], **fields)
                if _busy(partner):
                    partner.admin("POST", "reset", json={"journal": False})
        except HarnessError:
            pass


@pytest.mark.role("emp")
@pytest.mark.requirement("session-start.evco-id-identifier", "identifiers.evco-id-format",
                         "remote-start.emp-allows-stop", "session-stop.evco-id-identifier",
                         "session-stop.sends-session-id")
def test_emp_starts_and_stops_with_evco_id_and_session_id(oioi: Target, partner: Partner, control: Control) -> None:
    fields = {"connector-id": MOCK_CPO_CONNECTOR, "evco-id": MOCK_EVCO}
    with _mock_cpo_freed(partner, control, "stop-session", f"Stop the session at {MOCK_CPO_CONNECTOR}",
                         **fields) as cleanup:
        since = _settled(partner)
        answer = _act(control, "start-session", f"Start a session for {MOCK_EVCO} at {MOCK_CPO_CONNECTOR}",
                      **fields)
        cleanup["by_person"] = control.by_person
        start = _expect(_await(partner, control, "session-start", since, oioi.wait), "session-start",
                        "session-start.evco-id-identifier", oioi, answer, "start-session", "a session-start")[0]
        _user_is_evco_id(start, "session-start.evco-id-identifier")
        identifiers(start)
        started = answer_of(start)
        started = started.get("session-start", {}) if isinstance(started, dict) else {}
        if not isinstance(started, dict) or started.get("is-stoppable") is not True:
            pytest.skip(f"the mock CPO's answer did not say the session is stoppable: {started!r:.200}")
        since = _settled(partner)
        answer = _act(control, "stop-session", f"Stop the session at {MOCK_CPO_CONNECTOR}", **fields)
        stop = _expect(_await(partner, control, "session-stop", since, oioi.wait), "session-stop",
                       "remote-start.emp-allows-stop", oioi, answer, "stop-session",
                       "a session-stop for the stoppable session")[0]
    session_id = started.get("session-id")
    if session_id and body(stop).get("session-id") != session_id:
        raise Nonconformance(requirement="session-stop.sends-session-id",
                             received=f"session-id {body(stop).get('session-id')!r}",
                             expected=f"{session_id!r}, the session-id of the CPO's session-start answer",
                             exchange=as_exchange(stop))
    _user_is_evco_id(stop, "session-stop.evco-id-identifier")


def _user_is_evco_id(entry: dict[str, Any], requirement: str) -> None:
    """calls/session_start.rst, calls/session_stop.rst: the user's ``identifier-type`` **must** be ``evco-id``."""
    user = body(entry).get("user")
    kind = user.get("identifier-type") if isinstance(user, dict) else None
    if kind != "evco-id":
        raise Nonconformance(requirement=requirement, received=f"identifier-type {kind!r}",
                             expected=f"identifier-type 'evco-id' in the {entry.get('call')}",
                             exchange=as_exchange(entry))


@pytest.mark.role("emp")
@pytest.mark.requirement("rfid-post.emp-sends-whitelist", "rfid-post.complete-whitelist", "rfid.uid-format",
                         "rfid.uid-upper-case")
def test_emp_pushes_its_complete_whitelist(oioi: Target, partner: Partner, control: Control) -> None:
    since = _settled(partner)
    answer = _act(control, "push-rfids", "Make the EMP push its RFID whitelist (rfid-post)")
    post = _expect(_await(partner, control, "rfid-post", since, oioi.wait), "rfid-post",
                   "rfid-post.emp-sends-whitelist", oioi, answer, "push-rfids", "an rfid-post")[-1]
    uids = body(post).get("rfids", [])
    for uid in uids if isinstance(uids, list) else []:
        _uid_conforms(uid, post)
    if oioi.rfids["active"] not in uids or oioi.rfids["inactive"] in uids:
        raise Nonconformance(requirement="rfid-post.complete-whitelist", received=f"rfids {uids!r:.200}",
                             expected=f"every active UID (e.g. {oioi.rfids['active']}) and no inactive one "
                                      f"({oioi.rfids['inactive']})", exchange=as_exchange(post))


@pytest.mark.role("emp")
@pytest.mark.requirement("reservation-start.emp-sends", "reservation-stop.emp-sends")
def test_emp_reserves_and_cancels(oioi: Target, partner: Partner, control: Control) -> None:
    fields = {"connector-id": MOCK_CPO_CONNECTOR, "evco-id": MOCK_EVCO}
    with _mock_cpo_freed(partner, control, "cancel-reservation", f"Cancel the reservation of {MOCK_EVCO}",
                         **{"evco-id": MOCK_EVCO}) as cleanup:
        since = _settled(partner)
        answer = _act(control, "reserve", f"Reserve {MOCK_CPO_CONNECTOR} for {MOCK_EVCO}", **fields)
        cleanup["by_person"] = control.by_person
        start = _expect(_await(partner, control, "reservation-start", since, oioi.wait), "reservation-start",
                        "reservation-start.emp-sends", oioi, answer, "reserve", "a reservation-start")[0]
        holders = body(start).get("identifier")
        holders = [h for h in holders if isinstance(h, dict)] if isinstance(holders, list) else []
        if body(start).get("connector-id") != MOCK_CPO_CONNECTOR or {"evco-id": MOCK_EVCO} not in holders:
            raise Nonconformance(requirement="reservation-start.emp-sends",
                                 received=f"connector-id {body(start).get('connector-id')!r}, identifier {holders!r}",
                                 expected=f"connector-id {MOCK_CPO_CONNECTOR!r} and {{'evco-id': {MOCK_EVCO!r}}} "
                                          "among the identifiers", exchange=as_exchange(start))
        reserved = answer_of(start)
        if not isinstance(reserved, dict) or reserved.get("result", {}).get("code") != 0:
            pytest.skip(f"the mock CPO did not accept the reservation ({reserved!r:.200}): nothing to cancel")
        since = _settled(partner)
        answer = _act(control, "cancel-reservation", f"Cancel the reservation of {MOCK_EVCO}",
                      **{"evco-id": MOCK_EVCO})
        stop = _expect(_await(partner, control, "reservation-stop", since, oioi.wait), "reservation-stop",
                       "reservation-stop.emp-sends", oioi, answer, "cancel-reservation", "a reservation-stop")[0]
    named = {body(stop).get("identifier-type"): body(stop).get("identifier")}
    if not any(named.items() <= holder.items() for holder in holders):
        raise Nonconformance(requirement="reservation-stop.emp-sends",
                             received=f"identifier-type {body(stop).get('identifier-type')!r}, identifier "
                                      f"{body(stop).get('identifier')!r}",
                             expected=f"one of the reservation's identifiers, by its type: {holders!r}",
                             exchange=as_exchange(stop))


# --- everything the IUT sent in this run (runs last) ---------------------------------------------


@pytest.mark.requirement("sender.authorization-header", "sender.content-type", "sender.utf-8",
                         "sender.request-valid", "session-post.intervals-consistent", "sender.role-calls",
                         "sender.post-json", "identifiers.evse-id-format", "identifiers.evco-id-format",
                         "identifiers.partner-identifier-length")
def test_everything_sent_is_well_formed(oioi: Target, partner: Partner, control: Control) -> None:
    action = "push-stations" if oioi.role == "cpo" else "push-rfids"
    _act(control, action, "Make the IUT send a message to its partner")
    _settled(partner)
    entries = partner.received()
    if not entries:
        pytest.skip("the IUT sent nothing to the mock partner in this run")
    for entry in entries:
        authenticated(entry)
        for_the_partners_role(entry)
        json_content_type(entry)
        utf8(entry)
        one_call(entry)
        identifiers(entry)
        valid_request(entry)
    assert json.dumps(entries)  # the evidence is serialisable
