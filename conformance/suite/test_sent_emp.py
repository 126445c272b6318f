"""What an EMP sends, as the mock CPO received it: remote starts and stops, reservations, its RFID whitelist.

cpo/remote_start.rst, cpo/reservation.rst, calls/rfid_post.rst. Whatever the EMP started or reserved
at the mock CPO ends with the check.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import pytest

from conformance._failures import Inconclusive, Nonconformance
from conformance._partner import Control, Partner, answer_of
from conformance._sent import as_exchange, body, identifiers
from conformance._target import Target
from conformance.suite._sending import MOCK_EVCO, act, expect_arrival, has_session_id, settled, uid_conforms, window
from mock_server.seed import DEFAULT_STATION
from oioi.conversation import same_evse_id
from oioi.errors import HarnessError

pytestmark = pytest.mark.role("emp")

MOCK_CPO_CONNECTOR = DEFAULT_STATION["connectors"][0]["id"]  # a connector of the CPO mock's seed station
FIELDS = {"connector-id": MOCK_CPO_CONNECTOR, "evco-id": MOCK_EVCO}  # what the hook is asked to act on


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


def _sent_after(target: Target, partner: Partner, control: Control, *, call: str, requirement: str,
                action: str, prompt: str, fields: dict[str, Any], what: str,
                cleanup: dict[str, bool] | None = None) -> dict[str, Any]:
    """The first ``call`` the EMP sent after the check asked for ``action`` (judged by `expect` when none came).

    ``cleanup`` (of `_mock_cpo_freed`) learns whether a person did the action, before anything is judged.
    """
    since = settled(partner)
    answer = act(control, action, prompt, **fields)
    if cleanup is not None:
        cleanup["by_person"] = control.by_person
    return expect_arrival(partner, control, target, call=call, since=since, requirement=requirement, answer=answer,
                          action=action, what=what)[0]


@pytest.mark.requirement("session-start.evco-id-identifier", "identifiers.evco-id-format",
                         "remote-start.emp-allows-stop", "session-stop.evco-id-identifier",
                         "session-stop.sends-session-id")
def test_emp_starts_and_stops_with_evco_id_and_session_id(target: Target, partner: Partner,
                                                          control: Control) -> None:
    stop_prompt = f"Stop the session at {MOCK_CPO_CONNECTOR}"
    with _mock_cpo_freed(partner, control, "stop-session", stop_prompt, **FIELDS) as cleanup:
        start = _sent_after(target, partner, control, call="session-start",
                            requirement="session-start.evco-id-identifier", action="start-session",
                            prompt=f"Start a session for {MOCK_EVCO} at {MOCK_CPO_CONNECTOR}", fields=FIELDS,
                            what="a session-start", cleanup=cleanup)
        _user_is_evco_id(start, "session-start.evco-id-identifier")
        identifiers(start)
        started = answer_of(start)
        started = started.get("session-start", {}) if isinstance(started, dict) else {}
        if not isinstance(started, dict) or started.get("is-stoppable") is not True:
            pytest.skip(f"the mock CPO's answer did not say the session is stoppable: {started!r:.200}")
        stop = _sent_after(target, partner, control, call="session-stop", requirement="remote-start.emp-allows-stop",
                           action="stop-session", prompt=stop_prompt, fields=FIELDS,
                           what="a session-stop for the stoppable session")
    if session_id := started.get("session-id"):
        has_session_id(stop, session_id, requirement="session-stop.sends-session-id",
                       source="the CPO's session-start answer")
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


def _whitelists(target: Target, partner: Partner, control: Control, *, requirement: str) -> list[dict[str, Any]]:
    """The rfid-posts the EMP sent after the check asked it to push its whitelist, until it fell quiet: one
    per partner identifier is allowed (calls/rfid_post.rst replaces "All RFIDs that were pushed before with the
    same partner-identifier"; glossary.rst: one API key may use several partner identifiers)."""
    since = settled(partner)
    answer = act(control, "push-rfids", "Make the EMP push its RFID whitelist (rfid-post)")
    first = expect_arrival(partner, control, target, call="rfid-post", since=since, requirement=requirement,
                           answer=answer, action="push-rfids", what="an rfid-post")
    later = [e for e in partner.quiet(since, seconds=window(target)) if e.get("call") == "rfid-post"]
    return later if len(later) > len(first) else first


def _whitelist(target: Target, partner: Partner, control: Control, *, requirement: str) -> dict[str, Any]:
    """The last rfid-post the EMP sent after the check asked it to push its whitelist."""
    return _whitelists(target, partner, control, requirement=requirement)[-1]


@pytest.mark.requirement("rfid-post.emp-sends-whitelist", "rfid-post.complete-whitelist", "rfid.uid-format")
def test_emp_pushes_its_complete_whitelist(target: Target, partner: Partner, control: Control) -> None:
    """calls/rfid_post.rst: "Every call has to include the complete list of RFIDs that shall be active." UIDs are
    compared whatever their letter case (test_emp_sends_uids_in_upper_case judges it).
    """
    posts = _whitelists(target, partner, control, requirement="rfid-post.emp-sends-whitelist")
    held: set[str] = set()
    for post in posts:  # one whitelist per partner identifier: the UIDs of them all
        uids = body(post).get("rfids", [])
        for uid in uids if isinstance(uids, list) else []:
            uid_conforms(uid, post, case=False)
            if isinstance(uid, str):
                held.add(uid.upper())
    if target.rfids["active"] not in held or target.rfids["inactive"] in held:
        raise Nonconformance(requirement="rfid-post.complete-whitelist", received=f"rfids {sorted(held)!r:.200}"
                             + (f" in {len(posts)} rfid-posts" if len(posts) > 1 else ""),
                             expected=f"every active UID (e.g. {target.rfids['active']}) and no inactive one "
                                      f"({target.rfids['inactive']})", exchange=as_exchange(posts[-1]))


@pytest.mark.requirement("rfid.uid-upper-case")
def test_emp_sends_uids_in_upper_case(target: Target, partner: Partner, control: Control) -> None:
    """calls/rfid_post.rst: "All characters must be upper-case." — but the call's own example sends "abcdefab"
    (erratum rfid-post:rfids-pattern, schemas/errata.json): the spec contradicts itself, so a lower-case UID
    in an rfid-post is inconclusive, never a failure.
    """
    posts = partner.received("rfid-post") or [_whitelist(target, partner, control,
                                                          requirement="rfid-post.emp-sends-whitelist")]
    uids = [(uid, post) for post in posts for uid in body(post).get("rfids") or [] if isinstance(uid, str)]
    if not uids:
        pytest.skip("the EMP's rfid-posts held no UID to judge")
    lower = [(uid, post) for uid, post in uids if uid.upper() != uid]
    if lower:
        raise Inconclusive("rfid.uid-upper-case", f"rfid-post UIDs in lower case ({lower[0][0]!r}, …): the spec's "
                           "own rfid-post example sends 'abcdefab' (erratum rfid-post:rfids-pattern)",
                           journal=[lower[0][1]])


def _reservation_holders(start: dict[str, Any]) -> list[dict[str, Any]]:
    """The identifiers of a reservation-start; a failure unless it is for the mock's connector and EVCO ID."""
    holders = body(start).get("identifier")
    holders = [h for h in holders if isinstance(h, dict)] if isinstance(holders, list) else []
    named = [h for h in holders if _same_evco_id(h.get("evco-id"), MOCK_EVCO)]  # an rfid beside it is allowed
    if not same_evse_id(body(start).get("connector-id"), MOCK_CPO_CONNECTOR) or not named:
        raise Nonconformance(requirement="reservation-start.emp-sends",
                             received=f"connector-id {body(start).get('connector-id')!r}, identifier {holders!r}",
                             expected=f"connector-id {MOCK_CPO_CONNECTOR!r} and an identifier with evco-id "
                                      f"{MOCK_EVCO!r}", exchange=as_exchange(start))
    return holders


@pytest.mark.requirement("reservation-start.emp-sends", "reservation-stop.emp-sends")
def test_emp_reserves_and_cancels(target: Target, partner: Partner, control: Control) -> None:
    cancel, cancel_fields = f"Cancel the reservation of {MOCK_EVCO}", {"evco-id": MOCK_EVCO}
    with _mock_cpo_freed(partner, control, "cancel-reservation", cancel, **cancel_fields) as cleanup:
        start = _sent_after(target, partner, control, call="reservation-start",
                            requirement="reservation-start.emp-sends", action="reserve",
                            prompt=f"Reserve {MOCK_CPO_CONNECTOR} for {MOCK_EVCO}", fields=FIELDS,
                            what="a reservation-start", cleanup=cleanup)
        holders = _reservation_holders(start)
        reserved = answer_of(start)
        if not isinstance(reserved, dict) or reserved.get("result", {}).get("code") != 0:
            pytest.skip(f"the mock CPO did not accept the reservation ({reserved!r:.200}): nothing to cancel")
        stop = _sent_after(target, partner, control, call="reservation-stop", requirement="reservation-stop.emp-sends",
                           action="cancel-reservation", prompt=cancel, fields=cancel_fields,
                           what="a reservation-stop")
    kind, value = body(stop).get("identifier-type"), body(stop).get("identifier")
    same = _same_evco_id if kind == "evco-id" else (lambda one, other: one == other)
    if not any(isinstance(kind, str) and kind in holder and same(holder[kind], value) for holder in holders):
        raise Nonconformance(requirement="reservation-stop.emp-sends",
                             received=f"identifier-type {body(stop).get('identifier-type')!r}, identifier "
                                      f"{body(stop).get('identifier')!r}",
                             expected=f"one of the reservation's identifiers, by its type: {holders!r}",
                             exchange=as_exchange(stop))
