"""How the IUT delivers what it sends: retries after 5xx and timeouts, none after 4xx (request.rst, "Response").

request.rst: "You must retry later, honoring any Retry-After header included in the response. Your
services must implement exponential back-off." The spec gives no window for "later", no client
timeout and no growth factor: those are the IUT's declaration (--retry-window, --partner-timeout,
--backoff-tolerance). What no reading allows fails; what a longer window might still show is
inconclusive, with what was waited. A CPO is made to send a connector-post-status, an EMP an rfid-post.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from conformance._failures import Inconclusive, Nonconformance
from conformance._partner import Control, Partner, arrival
from conformance._sent import body, tries_thin_out, violated, waits, waits_grow
from conformance._target import Target
from conformance.suite._sending import (
    Entry,
    Match,
    act,
    anything,
    cpo_connectors,
    posts_status,
    settled,
    skip_unless_done,
    window,
)
from oioi.conversation import RETRY_RULE, judge

RETRY_AFTER = 1  # seconds, the Retry-After of the 503s of sender.retry-5xx
DEFAULT_HOLD = 10.0  # seconds the mock holds its answer when the IUT declared no client timeout
HOLD_MARGIN = 2.0  # seconds the mock holds its answer beyond the IUT's declared client timeout
MAX_HOLD = 60.0  # seconds: the longest the mock can hold an answer (mock_server/_faults.py, MAX_DELAY_MS)
BOUNDED_WINDOW = 8.0  # seconds of 503s, from the first delivery on
# One status per delivery check, so that a late retry of one check's message is never taken for another's.
DELIVERY_STATUS = {"sender.no-retry-4xx": "Reserved", "sender.retry-5xx": "Offline",
                   "sender.retry-backoff": "Unknown", "sender.retry-timeout": "Occupied",
                   "sender.retry-bounded": "Reserved"}


@dataclasses.dataclass(frozen=True)
class _Trigger:
    """The message a delivery check makes the IUT send: its call, the action that causes it, and its entries."""

    call: str
    action: str
    prompt: str
    fields: dict[str, Any]
    match: Match
    connector: str | None = None  # the CPO's connector the action set to another status (set back in the end)


def _trigger(target: Target, partner: Partner, requirement: str) -> _Trigger:
    """A CPO sets its first connector to the check's own status (DELIVERY_STATUS); an EMP pushes its whitelist."""
    if target.role != "cpo":
        return _Trigger("rfid-post", "push-rfids", "Make the EMP push its RFID whitelist (rfid-post)", {}, anything)
    connector = cpo_connectors(target, partner)[0]
    status = DELIVERY_STATUS[requirement]
    return _Trigger("connector-post-status", "set-status",
                    f"Set connector {connector} to {status} (the CPO sends a connector-post-status)",
                    {"connector-id": connector, "status": status}, posts_status(status, connector=connector),
                    connector)


def _deliveries(target: Target, partner: Partner, control: Control, *, fault: dict[str, Any], count: int,
                requirement: str, watch: float, from_trigger: bool = False) -> list[Entry]:
    """Trigger one message with ``fault`` on its first answers; the journal entries of its deliveries.

    The first delivery is awaited --wait seconds; then all ``count`` until ``watch`` seconds after the
    first delivery (after the trigger with ``from_trigger``). A connector the check set to another
    status is set back to Available in the end, and the faults the IUT did not use up are dropped.
    """
    trigger = _trigger(target, partner, requirement)
    call, match = trigger.call, trigger.match
    since = settled(partner)  # before the faults: a late message of the check before must not take them
    partner.fault(call=call, **fault)
    by_person = False
    try:
        answer = act(control, trigger.action, trigger.prompt, **trigger.fields)
        by_person, triggered = control.by_person, time.time()
        control.say(f"waiting for the {call} and its deliveries again (up to {watch:g} s) ...")
        found = partner.wait_for(call, since, watch if from_trigger else window(target), match=match)
        if found and count > 1:
            start = triggered if from_trigger else arrival(found[0])
            found = partner.wait_for(call, since, max(0.0, start + watch - time.time()), count=count,
                                     match=_same_sender(match, found[0]))
        control.say(f"received: {len(found)} deliveries of the {call}")
    finally:
        partner.clear_faults()  # what the IUT did not use up must not hit the next check
        _drain(target, partner, call=call, match=match)
        if trigger.connector is not None:
            _set_back(target, partner, control, trigger.connector, by_person=by_person)
    if not found:  # whether the message comes at all is another requirement's (on-change, emp-sends-whitelist)
        skip_unless_done(target, call=call, answer=answer, action=trigger.action)
        raise Inconclusive(requirement, f"no {call} arrived within {window(target):g} s after {trigger.action}: no "
                                        "delivery to judge the retries by")
    return found


def _same_sender(match: Match, first: Entry) -> Match:
    """``match``, and sent under the first delivery's partner identifier: its deliveries, not another message of
    the same call (an EMP sends one whitelist per partner identifier, calls/rfid_post.rst)."""
    sender = body(first).get("partner-identifier")
    return lambda e: match(e) and body(e).get("partner-identifier") == sender


def _set_back(target: Target, partner: Partner, control: Control, connector: str, *, by_person: bool) -> None:
    """Set the connector back to Available, and let its status arrive before the next check queues its faults."""
    since = partner.last_id()
    if control.undo("set-status", f"Set connector {connector} back to Available", by_person=by_person,
                    **{"connector-id": connector, "status": "Available"}):
        partner.wait_for("connector-post-status", since, min(target.wait, 5.0),
                         match=posts_status("Available", connector=connector))


def _drain(target: Target, partner: Partner, *, call: str, match: Match) -> None:
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


def _undeclared(requirement: str, *, what: str, option: str, journal: list[Entry]) -> Inconclusive:
    return Inconclusive(requirement, f"{what}; the spec gives no window for a retry ('You must retry later'): "
                                     f"declare {option} for a verdict", journal=journal)


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
    violated(next((finding for _, finding in judge(found) if finding.rule == RETRY_RULE), None),
             "sender.retry-5xx", journal=found)  # a retry sooner than Retry-After (oioi.conversation)
    if (found[-1].get("status") or 0) < 500:
        return  # every 503 was followed by a retry, and the last try was answered
    what = f"no retry within {watch:g} s of the first delivery, after {len(found)} answered 503"
    if per_retry is None:
        raise _undeclared("sender.retry-5xx", what=what, option="--retry-window", journal=found)
    raise Nonconformance(requirement="sender.retry-5xx", received=what,
                         expected=f"a retry within {per_retry:g} s of each 503, as the IUT declared (--retry-window "
                                  f"{target.retry_window:g}; request.rst: 'You must retry later')", journal=found)


@pytest.mark.requirement("sender.retry-backoff")
def test_retries_back_off_exponentially(target: Target, partner: Partner, control: Control) -> None:
    """Three 503s without Retry-After: four tries. Exponential back-off makes the waits grow.

    Jitter may make a wait shorter than the one before, by at most the declared --backoff-tolerance
    (a fraction; 1 for full jitter). It fails when a wait shrank by more than a declared tolerance, or
    when all waits stay under 0.1 s (a storm). Undeclared, a wait under half the one before shows full
    jitter (`jitter_tolerance`), and three waits that do not grow are then inconclusive.
    """
    watch = target.wait + 4 if target.retry_window is None else max(target.wait + 4, 3 * target.retry_window + 1)
    found = _deliveries(target, partner, control, fault={"count": 3, "status": 503}, count=4,
                        requirement="sender.retry-backoff", watch=watch)
    waits_grow(waits([arrival(e) for e in found]), tolerance=target.backoff_tolerance, journal=found)


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
        raise _undeclared("sender.retry-timeout", what=f"{what} (the IUT's client waits {declared:g} s)",
                          option="--retry-window", journal=found)
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
    in_window = [e for e in found if arrival(e) - first <= BOUNDED_WINDOW]
    tries_thin_out(waits([arrival(e) for e in in_window]), silence=first + BOUNDED_WINDOW - arrival(in_window[-1]),
                   tolerance=target.backoff_tolerance, journal=in_window, seconds=BOUNDED_WINDOW)
