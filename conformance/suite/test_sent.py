"""What the IUT sends: received by the mock partner (``--listen``), made to happen by the test-control hook.

cpo/poi.rst, cpo/cdr.rst, cpo/rfid_start.rst, request.rst (headers, UTF-8, retries). Without a
hook (``--control-url``), or for an action the IUT does not support, each check waits
``--wait`` seconds for the traffic to come on its own (asking the person at the terminal, when
there is one, and telling them what arrived); a check whose action nobody did is not run, with
the reason — never passed. When the action was done and nothing came, it fails only within the
IUT's declared ``--delivery-window`` (the check then waits that long); without one it is
inconclusive: no sentence of the spec says how soon a status or a CDR follows its event. Every
check leaves the IUT as it found it (statuses back to Available, sessions ended, reservations
cancelled, the mock EMP's whitelist empty), in a ``finally``.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import json
import re
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
from conformance.checks import instant
from conformance.suite._messages import UIDS as HARNESS_WHITELIST
from oioi.errors import HarnessError

# The mock partner's own fixtures: the staging EVCO ID of testaccount.rst's active UID, and the
# connectors of the CPO mock's station (README, "oioi mock").
MOCK_EVCO = "DE*8PS*123456*7"
MOCK_CPO_CONNECTOR = "DE*8PS*E000001*1"
UID_LENGTHS = (8, 14, 20)  # calls/rfid_verify.rst: "Valid lengths of UIDs are 8, 14, and 20 characters."


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


def _window(target: Target) -> float:
    """How long a check waits for what an action calls for: --wait, or the declared --delivery-window if longer."""
    return max(target.wait, target.delivery_window or 0.0)


def _nothing(call: str, target: Target, answer: dict[str, Any] | None, action: str) -> None:
    """Nothing came: not run when nobody did the action (no hook, nobody at the terminal), else returns."""
    if answer is not None:
        return
    how = "the control hook does not support it" if target.control_url else "no --control-url and nobody to ask"
    pytest.skip(f"no {call} arrived within {_window(target):g} s after asking for {action!r} ({how})")


def _expect(entries: list[dict[str, Any]], call: str, requirement: str, target: Target,
            answer: dict[str, Any] | None, action: str, what: str, *, waited: float | None = None
            ) -> list[dict[str, Any]]:
    """``entries``, when something came. Otherwise not run when nobody did ``action``; a failure when the IUT
    declared a --delivery-window (the check waited at least that long); inconclusive when it did not: no
    sentence of the spec says how soon a status or a CDR follows its event (a CPO may send CDRs in batches).
    """
    if entries:
        return entries
    _nothing(call, target, answer, action)
    waited = _window(target) if waited is None else waited
    if target.delivery_window is None:
        raise Inconclusive(requirement, f"no {call} within {waited:g} s after {action}; the spec gives no time: "
                                        "declare --delivery-window to make this a verdict")
    raise Nonconformance(requirement=requirement, received=f"no {call} within {waited:g} s after {action}",
                         expected=f"{what} within the IUT's declared --delivery-window of {target.delivery_window:g} s "
                                  f"({action!r} was done)")


def _uid_conforms(uid: Any, entry: dict[str, Any], expected: str = "a UID", *, case: bool = True) -> None:
    """calls/rfid_post.rst, calls/rfid_verify.rst: 8, 14 or 20 characters, zero-padded, all upper-case
    (the letter case judged only with ``case``).
    """
    if isinstance(uid, str) and case and uid.upper() != uid:
        raise Nonconformance(requirement="rfid.uid-upper-case", received=f"rfid {uid!r}",
                             expected=f"{expected}: all characters upper-case", exchange=as_exchange(entry))
    if not isinstance(uid, str) or not UID.match(uid.upper()):
        raise Nonconformance(requirement="rfid.uid-format", received=f"rfid {uid!r}",
                             expected=f"{expected}: 8, 14 or 20 hexadecimal characters, zero-padded on the left",
                             exchange=as_exchange(entry))


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


def _status_body(status: str, connector: str) -> Any:
    return lambda e: body(e).get("connector-id") == connector and body(e).get("status") == status


def _connectors(target: Target, partner: Partner, need: int = 1) -> list[str]:
    """The CPO IUT's connectors: from --connector-id, else from the station-posts it sent (skips with fewer)."""
    connectors = list(target.connectors) or [
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


# --- CPO: stations, statuses, RFID starts, CDRs ---------------------------------------------------


def _push_stations(target: Target, partner: Partner, control: Control) -> list[dict[str, Any]]:
    since = _settled(partner)
    answer = _act(control, "push-stations", "Make the CPO push all its stations (station-post)")
    control.say(f"waiting up to {_window(target):g} s for station-post ...")
    posts = [e for e in partner.quiet(since, _window(target)) if e["call"] == "station-post"]
    control.say(f"received: {'; '.join(_summary(e) for e in posts)}" if posts else "nothing arrived")
    return _expect(posts, "station-post", "station-post.connector-id-unique", target, answer, "push-stations",
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


def _by_id(station: dict[str, Any]) -> dict[str, Any]:
    """A station's connectors by their id (as JSON text, so that any value is a key), whatever their order."""
    return {json.dumps(connector_id): connector for connector_id, connector
            in zip(_connector_ids(station), station.get("connectors") or [], strict=True)}


@pytest.mark.role("cpo")
@pytest.mark.requirement("station-post.one-station-per-request", "station-post.station-id-unique",
                         "station-post.connector-id-unique", "station-post.connector-ids-unchanged",
                         "station-post.connectors-unchanged")
def test_cpo_pushes_its_stations(target: Target, partner: Partner, control: Control) -> None:
    first = _stations(_push_stations(target, partner, control))
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
    for station, entry in _stations(_push_stations(target, partner, control)):  # a second full push: no change
        before = pushed.get(station.get("id"))
        if before is None or _by_id(before) == _by_id(station):  # in any order: the spec gives none
            continue
        ids_changed = set(_by_id(before)) != set(_by_id(station))
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
def test_cpo_pushes_every_station(target: Target, partner: Partner, control: Control) -> None:
    """Every connector the operator declared (--connector-id) arrives in a station-post."""
    if not target.connectors:
        pytest.skip("which stations the CPO has is known only from --connector-id: give each of its connectors")
    posts = partner.received("station-post") or _push_stations(target, partner, control)
    posted = {c for station, _ in _stations(posts) for c in _connector_ids(station)}
    missing = [c for c in target.connectors if c not in posted]
    if missing:
        raise Nonconformance(requirement="station-post.all-stations",
                             received=f"station-posts for connectors {sorted(map(str, posted))}",
                             expected=f"a station-post for every station, also those of {missing}",
                             exchange=as_exchange(posts[-1]))


CHANGED_STATUS = "Offline"  # what connector-post-status.on-change changes an Available connector to, and back


@pytest.mark.role("cpo")
@pytest.mark.requirement("connector-post-status.on-change", "connector-post-status.own-connectors")
def test_cpo_pushes_status_changes_of_posted_connectors(target: Target, partner: Partner, control: Control) -> None:
    """cpo/poi.rst: "When the status of a connector changes, the CPO must send a connector-post-status request
    to push the change." Each connector (Available, as every check leaves it) is set Offline: a change, so a
    status must follow; it is set back to Available in the end (that change is awaited, not judged).
    """
    connectors = _connectors(target, partner)
    posted = {(c["id"], body(e).get("partner-identifier")) for e in partner.received("station-post")
              for c in body(e).get("station", {}).get("connectors", [])}
    for connector in connectors:
        since, by_person = _settled(partner), False
        try:
            answer = _act(control, "set-status", f"Make connector {connector} {CHANGED_STATUS}", **{
                "connector-id": connector, "status": CHANGED_STATUS})
            by_person = control.by_person
            found = _await(partner, control, "connector-post-status", since, _window(target),
                           match=_status_body(CHANGED_STATUS, connector))
            entry = _expect(found, "connector-post-status", "connector-post-status.on-change", target, answer,
                            "set-status", f"a connector-post-status for {connector}, now {CHANGED_STATUS}")[0]
        finally:
            back = _settled(partner)
            if control.undo("set-status", f"Set connector {connector} back to Available", by_person=by_person,
                            **{"connector-id": connector, "status": "Available"}):
                partner.wait_for("connector-post-status", back, _window(target),
                                 match=_status_body("Available", connector))
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
def test_cpo_verifies_rfid_and_sends_the_cdr(target: Target, partner: Partner, control: Control) -> None:
    connectors = _connectors(target, partner)
    connector, uid = connectors[0], target.rfids["active"]
    emptied = _whitelist_emptied(partner)
    _not_whitelisted(uid, partner)
    if not partner.received("station-post"):  # the connector's speed bounds the CDR's energy
        _act(control, "push-stations", "Make the CPO push all its stations (station-post)")
    as_read = _as_read(uid)  # how a reader may report it: the CPO must pad and upper-case it
    with _plugged_in(control, connector) as session:
        since = _settled(partner)
        answer = _act(control, "present-rfid", f"Present the RFID token {uid} at {connector}",
                      **{"connector-id": connector, "rfid": as_read})
        session.started(answer, by_person=control.by_person)
        verifies = _await(partner, control, "rfid-verify", since, _window(target))
        if not verifies and answer is not None and not emptied:
            raise Inconclusive("rfid-verify.on-every-use", f"no rfid-verify within {_window(target):g} s after "
                               f"present-rfid, and the CPO did not accept the mock EMP's empty whitelist: it may "
                               f"hold {uid} in a whitelist and authorize it offline (cpo/rfid_start.rst)")
        verify = _expect(verifies, "rfid-verify", "rfid-verify.on-every-use", target, answer, "present-rfid",
                         "an rfid-verify of the token (the mock EMP's last push of UIDs was empty, so no offline "
                         "authorization applies)")[0]
        sent = body(verify).get("rfid", "")
        _uid_conforms(sent, verify, f"{uid!r}")
        if sent != uid:
            raise Nonconformance(requirement="rfid.uid-format",
                                 received=f"rfid {sent!r} (the reader gave {as_read!r})",
                                 expected=f"{uid!r}: 8, 14 or 20 characters, zero-padded on the left",
                                 exchange=as_exchange(verify))
        since = _settled(partner)
        answer = session.plug_out()
        cdr = _expect(_await(partner, control, "session-post", since, _window(target),
                             match=lambda e: body(e).get("connector-id") == connector), "session-post",
                      "session-post.after-session", target, answer, "plug-out",
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
def test_cpo_does_not_charge_a_refused_uid(target: Target, partner: Partner, control: Control) -> None:
    connectors = _connectors(target, partner)
    connector, uid = connectors[0], target.rfids["inactive"]
    _not_whitelisted(uid, partner)
    with _plugged_in(control, connector) as session:
        since = _settled(partner)
        answer = _act(control, "present-rfid", f"Present the RFID token {uid} (inactive) at {connector}",
                      **{"connector-id": connector, "rfid": uid})
        session.started(answer, by_person=control.by_person)
        verify = _await(partner, control, "rfid-verify", since, _window(target))
        if not verify:
            _nothing("rfid-verify", target, answer, "present-rfid")
            raise Inconclusive("rfid-verify.charges-only-if-allowed",
                               f"no rfid-verify of {uid} within {_window(target):g} s after present-rfid: the EMP "
                               "never refused it, so there is nothing to judge (rfid-verify.on-every-use judges "
                               "verifying)")
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
def test_cdr_of_remote_session_has_its_session_id(target: Target, partner: Partner, control: Control) -> None:
    connectors = _connectors(target, partner, need=2)
    connector = connectors[1]
    with _plugged_in(control, connector, partner) as session:
        session_id = session.start_remotely().get("session-id")
        if not session_id:
            pytest.skip(f"the CPO's session-start answer for {connector} gave no session-id to compare with")
        since = _settled(partner)
        answer = session.plug_out()
        cdr = _expect(_await(partner, control, "session-post", since, _window(target),
                             match=lambda e: body(e).get("connector-id") == connector), "session-post",
                      "session-post.session-id-by-cpo", target, answer, "plug-out",
                      f"the CDR of session {session_id}")[0]
    if body(cdr).get("session-id") != session_id:
        raise Nonconformance(requirement="session-post.session-id-by-cpo",
                             received=f"session-id {body(cdr).get('session-id')!r}",
                             expected=f"{session_id!r}, the session-id of the session-start answer",
                             exchange=as_exchange(cdr))


@pytest.mark.role("cpo")
@pytest.mark.requirement("session-post.redelivery-same-session")
def test_retried_cdr_is_the_same_session(target: Target, partner: Partner, control: Control) -> None:
    connectors = _connectors(target, partner, need=2)
    connector = connectors[1]
    with _plugged_in(control, connector, partner) as session:
        session.start_remotely()
        since = _settled(partner)
        partner.fault(call="session-post", count=1, status=503)
        try:
            answer = session.plug_out()
            cdrs = _await(partner, control, "session-post", since, _window(target) + 2, count=2,
                          match=lambda e: body(e).get("connector-id") == connector)
        finally:
            partner.clear_faults()
    cdrs = _expect(cdrs, "session-post", "session-post.after-session", target, answer, "plug-out",
                   "the CDR, then the same CDR again after the 503", waited=_window(target) + 2)
    if len(cdrs) < 2:
        pytest.skip(f"the CDR was not delivered again within {_window(target) + 2:g} s after the 503 "
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


def _rfid_session(target: Target, partner: Partner, control: Control, connector: str
                  ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One session started with the active UID and ended by plug-out: the CDRs sent while it ran, and the final one."""
    uid = target.rfids["active"]
    with _plugged_in(control, connector) as session:
        since = _settled(partner)
        answer = _act(control, "present-rfid", f"Present the RFID token {uid} at {connector}",
                      **{"connector-id": connector, "rfid": uid})
        session.started(answer, by_person=control.by_person)
        if answer is not None and answer.get("authorized") is False:
            pytest.skip(f"the CPO did not start charging for {uid} at {connector}: {answer!r:.200}")
        running = _settled(partner, settle=1.0)
        if running == since:  # nobody presented the token: nothing was verified, no session started
            _nothing("rfid-verify", target, answer, "present-rfid")
        during = [e for e in partner.received("session-post", since) if body(e).get("connector-id") == connector]
        answer = session.plug_out()
        final = _expect(_await(partner, control, "session-post", running, _window(target),
                               match=lambda e: body(e).get("connector-id") == connector and not _ongoing(e)),
                        "session-post", "session-post.after-session", target, answer, "plug-out",
                        f"a CDR (session-post) for the session at {connector}")[-1]
    return during, final


@pytest.mark.role("cpo")
@pytest.mark.requirement("session-post.update-same-session")
def test_cdr_update_keeps_the_session_id(target: Target, partner: Partner, control: Control) -> None:
    """A CDR sent while the session ran (cpo/cdr.rst allows it) and the final CDR share one session-id."""
    connector = _connectors(target, partner)[0]
    during, final = _rfid_session(target, partner, control, connector)
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
def test_every_session_has_its_own_session_id(target: Target, partner: Partner, control: Control) -> None:
    """calls/session_post.rst: "The session ID must be a globally unique identifier." Two sessions one after the
    other at one connector; then no two CDRs of the run share a session-id unless they may be of one session.

    CDRs are of two sessions only when that is certain: at two connectors, or one started after the other
    had ended (times as instants: ``Z`` and ``+02:00``, fractions of seconds). A CDR that refines the start
    of its session (an update, cpo/cdr.rst) is the same session.
    """
    connector = _connectors(target, partner)[0]
    _rfid_session(target, partner, control, connector)
    time.sleep(SECOND)  # the second session starts in a later second than the first ended (CDRs may give whole seconds)
    _rfid_session(target, partner, control, connector)
    cdrs = partner.received("session-post")
    for one, other in itertools.combinations(cdrs, 2):
        session_id = body(one).get("session-id")
        if session_id is None or body(other).get("session-id") != session_id:
            continue
        if why := _two_sessions(body(one), body(other)):
            raise Nonconformance(requirement="session-post.session-id-unique",
                                 received=f"session-id {session_id!r} for two sessions: {why}",
                                 expected="a new session-id for every session", journal=[one, other])


SECOND = 1.1  # seconds between the end of one session and the start of the next


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


def _deliveries(target: Target, partner: Partner, control: Control, *, fault: dict[str, Any], count: int,
                requirement: str, watch: float, from_trigger: bool = False) -> list[dict[str, Any]]:
    """Trigger one message with ``fault`` on its first answers; the journal entries of its deliveries.

    The first delivery is awaited --wait seconds; then all ``count`` until ``watch`` seconds after the
    first delivery (after the trigger with ``from_trigger``). A connector the check set to another
    status is set back to Available in the end, and the faults the IUT did not use up are dropped.
    """
    connector = None
    if target.role == "cpo":
        connector = _connectors(target, partner)[0]
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
        found = partner.wait_for(call, since, watch if from_trigger else _window(target), match=match)
        if found and count > 1:
            start = triggered if from_trigger else arrival(found[0])
            found = partner.wait_for(call, since, max(0.0, start + watch - time.time()), count=count, match=match)
        control.say(f"received: {len(found)} deliveries of the {call}")
    finally:
        partner.clear_faults()  # what the IUT did not use up must not hit the next check
        _drain(target, partner, call, match)
        if connector is not None:
            control.undo("set-status", f"Set connector {connector} back to Available", by_person=by_person,
                         **{"connector-id": connector, "status": "Available"})
    if not found:  # whether the message comes at all is another requirement's (on-change, emp-sends-whitelist)
        _nothing(call, target, answer, action)
        raise Inconclusive(requirement, f"no {call} arrived within {_window(target):g} s after {action}: no "
                                        "delivery to judge the retries by")
    return found


def _drain(target: Target, partner: Partner, call: str, match: Callable[[dict[str, Any]], bool]) -> None:
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
        partner.wait_for(call, int(tries[-1]["id"]), min(quiet_after, target.wait), match=match)


def _undeclared(requirement: str, what: str, option: str, found: list[dict[str, Any]]) -> Inconclusive:
    return Inconclusive(requirement, f"{what}; the spec gives no window for a retry ('You must retry later'): "
                                     f"declare {option} for a verdict", journal=found)


@pytest.mark.requirement("sender.no-retry-4xx")
def test_no_retry_after_4xx(target: Target, partner: Partner, control: Control) -> None:
    found = _deliveries(target, partner, control, fault={"count": 1, "status": 400}, count=2,
                        requirement="sender.no-retry-4xx", watch=min(target.wait, 5.0))
    if len(found) > 1:
        raise Nonconformance(requirement="sender.no-retry-4xx", received=f"{len(found)} deliveries after a 400",
                             expected="no retry of a message the partner refused with a 4xx", journal=found)


@pytest.mark.requirement("sender.retry-5xx")
def test_retries_after_503_not_before_retry_after(target: Target, partner: Partner, control: Control) -> None:
    """Two 503s with Retry-After: 1. A retry sooner than Retry-After fails; no retry fails only within the
    IUT's declared --retry-window (after each 503, or Retry-After if that is longer), else it is inconclusive.
    """
    per_retry = max(RETRY_AFTER, target.retry_window) if target.retry_window is not None else None
    watch = 2 * per_retry + 1 if per_retry is not None else target.wait + 4
    found = _deliveries(target, partner, control, fault={"count": 2, "status": 503, "retry_after": RETRY_AFTER},
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
                                  f"{target.retry_window:g}; request.rst: 'You must retry later')", journal=found)


@pytest.mark.requirement("sender.retry-backoff")
def test_retries_back_off_exponentially(target: Target, partner: Partner, control: Control) -> None:
    """Three 503s without Retry-After: four tries. Exponential back-off makes the waits grow.

    Jitter may make a wait shorter than the one before, by at most the declared --backoff-tolerance
    (a fraction; 1 for full jitter). It fails when a wait shrank by more than that, or when none of
    the later waits grew past 1.25 times the first (a storm or a steady pace), the latter only
    while the tolerance is below 1: with full jitter three waits cannot show the trend.
    """
    watch = target.wait + 4 if target.retry_window is None else max(target.wait + 4, 3 * target.retry_window + 1)
    found = _deliveries(target, partner, control, fault={"count": 3, "status": 503}, count=4,
                        requirement="sender.retry-backoff", watch=watch)
    waits_grow(waits([arrival(e) for e in found]), target.backoff_tolerance, found)


@pytest.mark.requirement("sender.retry-timeout")
def test_retries_after_a_timeout(target: Target, partner: Partner, control: Control) -> None:
    """request.rst counts timeouts among 5xx situations: a message whose answer does not come is sent again.

    The mock holds its answer to the next message for the IUT's declared client timeout plus 2 s
    (10 s when it declared none); a delivery the fault did not hold (the held one is journaled when
    its answer finally goes out) is the retry. No retry fails only when the IUT declared both its
    client timeout and its --retry-window; otherwise it is inconclusive: its client may wait longer
    than the hold (and then rightly takes the held answer), or retry later than the run waited.
    """
    declared = target.partner_timeout
    hold = declared + HOLD_MARGIN if declared is not None else DEFAULT_HOLD
    if hold > MAX_HOLD:
        pytest.skip(f"the mock holds an answer {MAX_HOLD:g} s at most, less than the IUT's declared client timeout "
                    f"of {declared:g} s")
    later = target.retry_window if target.retry_window is not None else target.wait
    watch = max(hold, (declared if declared is not None else hold) + later) + 1
    found = _deliveries(target, partner, control, fault={"count": 1, "delay_ms": round(hold * 1000)}, count=2,
                        requirement="sender.retry-timeout", watch=watch, from_trigger=True)
    if [e for e in found if not e.get("fault")]:
        return
    what = f"no second delivery within {watch:g} s of an answer held for {hold:g} s"
    if declared is None:
        raise Inconclusive("sender.retry-timeout", f"{what}; the IUT's client may wait longer than {hold:g} s and "
                           "take the held answer: declare --partner-timeout", journal=found)
    if target.retry_window is None:
        raise _undeclared("sender.retry-timeout", f"{what} (the IUT's client waits {declared:g} s)",
                          "--retry-window", found)
    raise Nonconformance(requirement="sender.retry-timeout", received=what,
                         expected=f"the message sent again within {target.retry_window:g} s after the IUT's declared "
                                  f"client timeout of {declared:g} s (request.rst: timeouts are among the 5xx "
                                  "situations: 'You must retry later')", journal=found)


@pytest.mark.requirement("sender.retry-bounded")
def test_retries_thin_out(target: Target, partner: Partner, control: Control) -> None:
    """Every delivery of one message is answered 503 for 8 s: exponential back-off makes the tries thin out
    (or stop). Clearly not a back-off, and a failure: six tries or more whose waits in the second half of the
    series never grew past 1.25 times the longest of the first half (a steady pace).

    It passes when the waits grew, or when the tries stopped: the silence after the last try is longer than
    the longest wait. Fewer tries, or full jitter (--backoff-tolerance 1) with a pace that looks steady,
    are inconclusive. An IUT that backs off but never gives up is not failed here.
    """
    found = _deliveries(target, partner, control, fault={"count": 100, "status": 503}, count=101,
                        requirement="sender.retry-bounded", watch=BOUNDED_WINDOW + 0.3)
    first = arrival(found[0])
    window = [e for e in found if arrival(e) - first <= BOUNDED_WINDOW]
    tries_thin_out(waits([arrival(e) for e in window]), first + BOUNDED_WINDOW - arrival(window[-1]),
                   target.backoff_tolerance, window, seconds=BOUNDED_WINDOW)


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
def test_emp_starts_and_stops_with_evco_id_and_session_id(target: Target, partner: Partner, control: Control) -> None:
    fields = {"connector-id": MOCK_CPO_CONNECTOR, "evco-id": MOCK_EVCO}
    with _mock_cpo_freed(partner, control, "stop-session", f"Stop the session at {MOCK_CPO_CONNECTOR}",
                         **fields) as cleanup:
        since = _settled(partner)
        answer = _act(control, "start-session", f"Start a session for {MOCK_EVCO} at {MOCK_CPO_CONNECTOR}",
                      **fields)
        cleanup["by_person"] = control.by_person
        start = _expect(_await(partner, control, "session-start", since, _window(target)), "session-start",
                        "session-start.evco-id-identifier", target, answer, "start-session", "a session-start")[0]
        _user_is_evco_id(start, "session-start.evco-id-identifier")
        identifiers(start)
        started = answer_of(start)
        started = started.get("session-start", {}) if isinstance(started, dict) else {}
        if not isinstance(started, dict) or started.get("is-stoppable") is not True:
            pytest.skip(f"the mock CPO's answer did not say the session is stoppable: {started!r:.200}")
        since = _settled(partner)
        answer = _act(control, "stop-session", f"Stop the session at {MOCK_CPO_CONNECTOR}", **fields)
        stop = _expect(_await(partner, control, "session-stop", since, _window(target)), "session-stop",
                       "remote-start.emp-allows-stop", target, answer, "stop-session",
                       "a session-stop for the stoppable session")[0]
    session_id = started.get("session-id")
    if session_id and body(stop).get("session-id") != session_id:
        raise Nonconformance(requirement="session-stop.sends-session-id",
                             received=f"session-id {body(stop).get('session-id')!r}",
                             expected=f"{session_id!r}, the session-id of the CPO's session-start answer",
                             exchange=as_exchange(stop))
    _user_is_evco_id(stop, "session-stop.evco-id-identifier")


def _same_evco_id(one: Any, other: Any) -> bool:
    """glossary.rst, EVCO ID: each separator is "The literal * or the literal - (optional)": IDs that differ only
    there name the same contract. Nothing else is equivalent (letter case is compared as sent).
    """
    if not isinstance(one, str) or not isinstance(other, str):
        return False
    return re.sub(r"[*-]", "", one) == re.sub(r"[*-]", "", other)


def _user_is_evco_id(entry: dict[str, Any], requirement: str) -> None:
    """calls/session_start.rst, calls/session_stop.rst: the user's ``identifier-type`` **must** be ``evco-id``."""
    user = body(entry).get("user")
    kind = user.get("identifier-type") if isinstance(user, dict) else None
    if kind != "evco-id":
        raise Nonconformance(requirement=requirement, received=f"identifier-type {kind!r}",
                             expected=f"identifier-type 'evco-id' in the {entry.get('call')}",
                             exchange=as_exchange(entry))


def _whitelist(target: Target, partner: Partner, control: Control, requirement: str) -> dict[str, Any]:
    since = _settled(partner)
    answer = _act(control, "push-rfids", "Make the EMP push its RFID whitelist (rfid-post)")
    return _expect(_await(partner, control, "rfid-post", since, _window(target)), "rfid-post", requirement, target,
                   answer, "push-rfids", "an rfid-post")[-1]


@pytest.mark.role("emp")
@pytest.mark.requirement("rfid-post.emp-sends-whitelist", "rfid-post.complete-whitelist", "rfid.uid-format")
def test_emp_pushes_its_complete_whitelist(target: Target, partner: Partner, control: Control) -> None:
    """calls/rfid_post.rst: "Every call has to include the complete list of RFIDs that shall be active." UIDs are
    compared whatever their letter case (test_emp_sends_uids_in_upper_case judges it).
    """
    post = _whitelist(target, partner, control, "rfid-post.emp-sends-whitelist")
    uids = body(post).get("rfids", [])
    uids = uids if isinstance(uids, list) else []
    for uid in uids:
        _uid_conforms(uid, post, case=False)
    held = {uid.upper() for uid in uids if isinstance(uid, str)}
    if target.rfids["active"] not in held or target.rfids["inactive"] in held:
        raise Nonconformance(requirement="rfid-post.complete-whitelist", received=f"rfids {uids!r:.200}",
                             expected=f"every active UID (e.g. {target.rfids['active']}) and no inactive one "
                                      f"({target.rfids['inactive']})", exchange=as_exchange(post))


@pytest.mark.role("emp")
@pytest.mark.requirement("rfid.uid-upper-case")
def test_emp_sends_uids_in_upper_case(target: Target, partner: Partner, control: Control) -> None:
    """calls/rfid_post.rst: "All characters must be upper-case." — but the call's own example sends "abcdefab"
    (erratum rfid-post:rfids-pattern, schemas/errata.json): the spec contradicts itself, so a lower-case UID
    in an rfid-post is inconclusive, never a failure.
    """
    posts = partner.received("rfid-post") or [_whitelist(target, partner, control, "rfid-post.emp-sends-whitelist")]
    uids = [(uid, post) for post in posts for uid in body(post).get("rfids") or [] if isinstance(uid, str)]
    if not uids:
        pytest.skip("the EMP's rfid-posts held no UID to judge")
    lower = [(uid, post) for uid, post in uids if uid.upper() != uid]
    if lower:
        raise Inconclusive("rfid.uid-upper-case", f"rfid-post UIDs in lower case ({lower[0][0]!r}, …): the spec's "
                           "own rfid-post example sends 'abcdefab' (erratum rfid-post:rfids-pattern)",
                           journal=[lower[0][1]])


@pytest.mark.role("emp")
@pytest.mark.requirement("reservation-start.emp-sends", "reservation-stop.emp-sends")
def test_emp_reserves_and_cancels(target: Target, partner: Partner, control: Control) -> None:
    fields = {"connector-id": MOCK_CPO_CONNECTOR, "evco-id": MOCK_EVCO}
    with _mock_cpo_freed(partner, control, "cancel-reservation", f"Cancel the reservation of {MOCK_EVCO}",
                         **{"evco-id": MOCK_EVCO}) as cleanup:
        since = _settled(partner)
        answer = _act(control, "reserve", f"Reserve {MOCK_CPO_CONNECTOR} for {MOCK_EVCO}", **fields)
        cleanup["by_person"] = control.by_person
        start = _expect(_await(partner, control, "reservation-start", since, _window(target)), "reservation-start",
                        "reservation-start.emp-sends", target, answer, "reserve", "a reservation-start")[0]
        holders = body(start).get("identifier")
        holders = [h for h in holders if isinstance(h, dict)] if isinstance(holders, list) else []
        named = [h for h in holders if _same_evco_id(h.get("evco-id"), MOCK_EVCO)]  # an rfid beside it is allowed
        if body(start).get("connector-id") != MOCK_CPO_CONNECTOR or not named:
            raise Nonconformance(requirement="reservation-start.emp-sends",
                                 received=f"connector-id {body(start).get('connector-id')!r}, identifier {holders!r}",
                                 expected=f"connector-id {MOCK_CPO_CONNECTOR!r} and an identifier with evco-id "
                                          f"{MOCK_EVCO!r}", exchange=as_exchange(start))
        reserved = answer_of(start)
        if not isinstance(reserved, dict) or reserved.get("result", {}).get("code") != 0:
            pytest.skip(f"the mock CPO did not accept the reservation ({reserved!r:.200}): nothing to cancel")
        since = _settled(partner)
        answer = _act(control, "cancel-reservation", f"Cancel the reservation of {MOCK_EVCO}",
                      **{"evco-id": MOCK_EVCO})
        stop = _expect(_await(partner, control, "reservation-stop", since, _window(target)), "reservation-stop",
                       "reservation-stop.emp-sends", target, answer, "cancel-reservation", "a reservation-stop")[0]
    kind, value = body(stop).get("identifier-type"), body(stop).get("identifier")
    same = _same_evco_id if kind == "evco-id" else (lambda one, other: one == other)
    if not any(isinstance(kind, str) and kind in holder and same(holder[kind], value) for holder in holders):
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
def test_everything_sent_is_well_formed(target: Target, partner: Partner, control: Control) -> None:
    """Every message the IUT sent in the run. A CPO that sent no status yet is made to send one: a station-post's
    partner identifier may take the form of the call's example ("1", an erratum), a status's may not.
    """
    action = "push-stations" if target.role == "cpo" else "push-rfids"
    _act(control, action, "Make the IUT send a message to its partner")
    _settled(partner)
    if target.role == "cpo" and not partner.received("connector-post-status"):
        _a_status_change(target, partner, control)
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


def _a_status_change(target: Target, partner: Partner, control: Control) -> None:
    """A CPO's connector set Offline and back to Available, for the statuses it sends (nothing judged here)."""
    connectors = list(target.connectors) or [c.get("id") for e in partner.received("station-post")
                                           for c in body(e).get("station", {}).get("connectors", [])]
    if not connectors:
        return
    fields: dict[str, Any] = {"connector-id": connectors[0]}
    since = _settled(partner)
    try:
        if control.act("set-status", f"Make connector {connectors[0]} {CHANGED_STATUS}",
                       **fields, status=CHANGED_STATUS) is None:
            return
    except NotDone:
        return
    by_person = control.by_person
    try:
        partner.wait_for("connector-post-status", since, _window(target), match=_status_body(CHANGED_STATUS,
                                                                                            connectors[0]))
    finally:
        control.undo("set-status", f"Set connector {connectors[0]} back to Available", by_person=by_person,
                     **fields, status="Available")
        _settled(partner)
