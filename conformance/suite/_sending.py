"""What the checks of what the IUT sends share: asking for an action, waiting for its messages, judging silence.

The IUT's messages are received by the mock partner (``--listen``) and made to happen by the
test-control hook (cpo/poi.rst, cpo/cdr.rst, cpo/rfid_start.rst, request.rst). Without a hook
(``--control-url``), or for an action the IUT does not support, each check waits ``--wait``
seconds for the traffic to come on its own (asking the person at the terminal, when there is
one, and telling them what arrived); a check whose action nobody did is not run, with the
reason — never passed. When the action was done and nothing came, it fails only within the
IUT's declared ``--delivery-window`` (the check then waits that long); without one it is
inconclusive: no sentence of the spec says how soon a status or a CDR follows its event. Every
check leaves the IUT as it found it (statuses back to Available, sessions ended, reservations
cancelled, the mock EMP's whitelist empty), in a ``finally``.

pytest runs the sending modules in the order of their names, and the order matters:
``test_sent_cpo_poi`` (the stations first: later checks read what they posted),
``test_sent_cpo_sessions``, ``test_sent_delivery``, ``test_sent_emp``, and ``test_sent_everything``
last, since it judges every message of the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from conformance._failures import Inconclusive, Nonconformance
from conformance._partner import Control, NotDone, Partner
from conformance._sent import UID, as_exchange, body
from conformance._target import Target
from mock_server.seed import ACTIVE_EVCO_ID

Entry = dict[str, Any]
Match = Callable[[Entry], bool]

MOCK_EVCO = ACTIVE_EVCO_ID  # the mock partner's seed data: the staging EVCO ID of testaccount.rst's active UID
CHANGED_STATUS = "Offline"  # what a check changes an Available connector to, and back


def anything(entry: Entry) -> bool:
    """Every journal entry matches."""
    return True


def act(control: Control, action: str, prompt: str, **fields: Any) -> dict[str, Any] | None:
    """``control.act``; not run (skipped, with the reason) when the hook or the person refused the action."""
    try:
        return control.act(action, prompt, **fields)
    except NotDone as refusal:
        pytest.skip(str(refusal))


def _summary(entry: Entry) -> str:
    """One journaled message in a few words, for the person at the terminal: "rfid-verify 04523022AA4881"."""
    fields = body(entry)
    station = fields.get("station")
    shown = [str(station.get("id"))] if isinstance(station, dict) else []
    shown += [str(fields[k]) for k in ("rfid", "connector-id", "status", "session-id") if k in fields]
    return " ".join([str(entry.get("call")), *shown])


def tell_received(control: Control, found: list[Entry], nothing: str) -> None:
    """Tell the person who did the action what arrived (``nothing`` when nothing did)."""
    control.say(f"received: {'; '.join(_summary(e) for e in found)}" if found else nothing)


def awaited(partner: Partner, control: Control, call: str, *, since: int, seconds: float, count: int = 1,
            match: Match = anything) -> list[Entry]:
    """``partner.wait_for``, saying what it waits for and what arrived to a person who did the action."""
    control.say(f"waiting up to {seconds:g} s for {call} ...")
    found = partner.wait_for(call, since, seconds, count=count, match=match)
    tell_received(control, found, f"nothing arrived: no {call} within {seconds:g} s")
    return found


def settled(partner: Partner, *, settle: float = 0.5, at_most: float = 3.0) -> int:
    """The journal's last entry once the IUT's earlier messages have stopped coming."""
    deadline, last = time.monotonic() + at_most, partner.last_id()
    while time.monotonic() < deadline:
        time.sleep(settle)
        now = partner.last_id()
        if now == last:
            break
        last = now
    return last


def window(target: Target) -> float:
    """How long a check waits for what an action calls for: --wait, or the declared --delivery-window if longer."""
    return max(target.wait, target.delivery_window or 0.0)


def skip_unless_done(target: Target, *, call: str, answer: dict[str, Any] | None, action: str) -> None:
    """Nothing came: not run when nobody did the action (no hook, nobody at the terminal), else returns."""
    if answer is not None:
        return
    how = "the control hook does not support it" if target.control_url else "no --control-url and nobody to ask"
    pytest.skip(f"no {call} arrived within {window(target):g} s after asking for {action!r} ({how})")


def expect(entries: list[Entry], target: Target, *, call: str, requirement: str, answer: dict[str, Any] | None,
           action: str, what: str, waited: float | None = None) -> list[Entry]:
    """``entries``, when something came. Otherwise not run when nobody did ``action``; a failure when the IUT
    declared a --delivery-window (the check waited at least that long); inconclusive when it did not: no
    sentence of the spec says how soon a status or a CDR follows its event (a CPO may send CDRs in batches).
    """
    if entries:
        return entries
    skip_unless_done(target, call=call, answer=answer, action=action)
    waited = window(target) if waited is None else waited
    if target.delivery_window is None:
        raise Inconclusive(requirement, f"no {call} within {waited:g} s after {action}; the spec gives no time: "
                                        "declare --delivery-window to make this a verdict")
    raise Nonconformance(requirement=requirement, received=f"no {call} within {waited:g} s after {action}",
                         expected=f"{what} within the IUT's declared --delivery-window of {target.delivery_window:g} "
                                  f"s ({action!r} was done)")


def expect_arrival(partner: Partner, control: Control, target: Target, *, call: str, since: int, requirement: str,
                   answer: dict[str, Any] | None, action: str, what: str, match: Match = anything) -> list[Entry]:
    """What arrived of ``call`` within the check's `window` after ``action`` (`awaited`), judged by `expect`."""
    found = awaited(partner, control, call, since=since, seconds=window(target), match=match)
    return expect(found, target, call=call, requirement=requirement, answer=answer, action=action, what=what)


def posts_status(status: str, *, connector: str) -> Match:
    """Whether a journaled connector-post-status gives ``connector`` the ``status``."""
    return lambda e: body(e).get("connector-id") == connector and body(e).get("status") == status


def station_connectors(partner: Partner) -> list[str]:
    """The connector ids of every station-post the CPO IUT sent in the run (a connector without one left out)."""
    return [c["id"] for e in partner.received("station-post") for c in body(e).get("station", {}).get("connectors", [])
            if isinstance(c, dict) and isinstance(c.get("id"), str)]


def cpo_connectors(target: Target, partner: Partner, *, need: int = 1) -> list[str]:
    """The CPO IUT's connectors: from --connector-id, else from the station-posts it sent (skips with fewer)."""
    connectors = list(target.connectors) or station_connectors(partner)
    if len(connectors) < need:
        pytest.skip("needs two connectors: give --connector-id twice" if need > 1 else
                    "no connector known: give --connector-id or let the CPO push its stations")
    return connectors


def uid_conforms(uid: Any, entry: Entry, *, expected: str = "a UID", case: bool = True) -> None:
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


def has_session_id(entry: Entry, session_id: Any, *, requirement: str, source: str) -> None:
    """The journaled ``entry`` carries ``session_id``, the session-id given by ``source``."""
    if body(entry).get("session-id") != session_id:
        raise Nonconformance(requirement=requirement, received=f"session-id {body(entry).get('session-id')!r}",
                             expected=f"{session_id!r}, the session-id of {source}", exchange=as_exchange(entry))
