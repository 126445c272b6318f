"""The judgements of what the IUT sends, without a server: a FAIL only where no reading of the spec allows it.

request.rst: "Your services must implement exponential back-off." The spec gives no factor and no
jitter, so the judgements are proven here against many jittered back-offs and a back-off clamped at
a minimum (they must never fail) and against the faulty paces of the reference (retry-storm,
steady-retries: they must fail). Then the comparisons the spec leaves open: connectors in another
order, EVCO IDs with other separators, session starts in other offsets, UIDs a CPO cannot pad back,
the forms of the spec's own examples (schemas/errata.json).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import Any

import pytest

from conformance._failures import Inconclusive, Nonconformance
from conformance._partner import Control, NotDone
from conformance._sent import identifiers, tries_thin_out, valid_request, waits, waits_grow
from conformance.suite.test_sent_cpo_poi import _by_id
from conformance.suite.test_sent_cpo_sessions import _as_read, _two_sessions, same_uid
from conformance.suite.test_sent_emp import _same_evco_id
from oioi.conversation import same_evse_id

SEEDS = range(500)


def _tries(delays: list[float], latency: float = 0.004) -> list[float]:
    """When tries happen, given the waits between them (each try takes ``latency`` s to be answered)."""
    return [0.0, *itertools.accumulate(d + latency for d in delays)]


def _doubling(base: float, n: int, jitter: random.Random, kind: str) -> list[float]:
    """The waits of an exponential back-off doubling from ``base``, jittered the way real libraries do."""
    nominal = [base * 2**k for k in range(n)]
    if kind == "equal":  # half fixed, half random (AWS "equal jitter"; the reference's jittered-backoff)
        return [d / 2 + jitter.random() * d / 2 for d in nominal]
    return [d * jitter.uniform(0.5, 1.5) for d in nominal]  # +-50 % ("randomization factor" 0.5)


def _verdict(judge: Callable[..., None], *args: Any, **kwargs: Any) -> str:
    """What a judgement says: pass (returns), inconclusive or fail."""
    try:
        judge(*args, **kwargs)
    except Inconclusive:
        return "inconclusive"
    except Nonconformance:
        return "fail"
    return "pass"


@pytest.mark.parametrize("kind", ["equal", "plus-minus-half"])
@pytest.mark.parametrize("base", [0.1, 0.5, 2.0])
def test_a_jittered_exponential_back_off_never_fails(kind: str, base: float) -> None:
    verdicts = {_verdict(waits_grow, waits(_tries(_doubling(base, 3, random.Random(seed), kind))), tolerance=0.5,
                         journal=[]) for seed in SEEDS}
    assert verdicts == {"pass"}


@pytest.mark.parametrize("kind", ["equal", "plus-minus-half"])
def test_a_jittered_back_off_that_never_gives_up_is_not_failed_as_unbounded(kind: str) -> None:
    verdicts = set()
    for seed in SEEDS:
        times = [t for t in _tries(_doubling(0.25, 12, random.Random(seed), kind)) if t <= 8.0]
        verdicts.add(_verdict(tries_thin_out, waits(times), silence=8.0 - times[-1], tolerance=0.5, journal=[],
                              seconds=8.0))
    assert "fail" not in verdicts and "pass" in verdicts, verdicts


def test_full_jitter_is_never_failed_when_declared() -> None:
    verdicts = set()
    for seed in SEEDS:
        jitter = random.Random(seed)
        gaps = waits(_tries([jitter.uniform(0, 0.5 * 2**k) for k in range(3)]))
        verdicts.add(_verdict(waits_grow, gaps, tolerance=1.0, journal=[]))
    assert "fail" not in verdicts and "pass" in verdicts, verdicts


@pytest.mark.parametrize("base", [0.5, 1.0, 2.0])
def test_full_jitter_is_never_failed_when_nobody_declared_a_tolerance(base: float) -> None:
    """tenacity's ``wait_random_exponential`` and AWS's "full jitter": each wait uniform in [0, base * 2^k]. With
    --backoff-tolerance 0.5 some of these fail (a wait under half the one before); undeclared, none may."""
    grew, thinned, declared = set(), set(), set()
    for seed in SEEDS:
        jitter = random.Random(seed)
        gaps = waits(_tries([jitter.uniform(0, base * 2**k) for k in range(3)]))
        grew.add(_verdict(waits_grow, gaps, tolerance=None, journal=[]))
        declared.add(_verdict(waits_grow, gaps, tolerance=0.5, journal=[]))
        times = [t for t in _tries([jitter.uniform(0, base * 2**k) for k in range(12)]) if t <= 8.0]
        thinned.add(_verdict(tries_thin_out, waits(times), silence=8.0 - times[-1], tolerance=None, journal=[],
                             seconds=8.0))
    assert "fail" not in grew and "pass" in grew, grew
    assert "fail" not in thinned, thinned
    assert "fail" in declared  # what a declared tolerance of 0.5 says of the same waits


def test_a_steady_pace_fails_also_when_nobody_declared_a_tolerance() -> None:
    steady = waits(_tries([0.5] + [1.0] * 7))  # the reference's steady-retries
    with pytest.raises(Nonconformance, match="not a steady pace"):
        tries_thin_out(steady, silence=0.5, tolerance=None, journal=[], seconds=8.0)


def test_the_reference_back_off_passes() -> None:
    assert _verdict(waits_grow, waits(_tries([0.5, 1.0, 2.0])), tolerance=0.5, journal=[]) == "pass"
    # four tries, then it gave up
    assert _verdict(tries_thin_out, waits(_tries([0.5, 1.0, 2.0])), silence=4.5, tolerance=0.5, journal=[],
                    seconds=8.0) == "pass"


@pytest.mark.parametrize("gaps", [[0.004, 0.003, 0.005], [0.003, 0.004, 0.06], [0.002, 0.006, 0.009]])
@pytest.mark.parametrize("tolerance", [0.5, 1.0, None])
def test_a_storm_fails_the_back_off(gaps: list[float], tolerance: float) -> None:
    """The reference's retry-storm: tries at once, a few milliseconds apart (one may be slowed by load), even
    under full jitter.
    """
    with pytest.raises(Nonconformance, match="a storm"):
        waits_grow(gaps, tolerance=tolerance, journal=[])


def test_a_back_off_clamped_at_a_minimum_is_not_failed() -> None:
    """tenacity's ``wait_exponential(min=4)`` waits 4, 4, 4, 8 s: its first three waits keep a steady pace."""
    with pytest.raises(Inconclusive, match="cannot be told from a back-off clamped at a minimum"):
        waits_grow(waits(_tries([4.0, 4.0, 4.0])), tolerance=0.5, journal=[])
    waits_grow(waits(_tries([4.0, 4.0, 4.0, 8.0])), tolerance=0.5, journal=[])  # a fourth wait shows the growth


def test_a_steady_pace_is_inconclusive_over_three_waits_and_fails_over_eight_seconds() -> None:
    with pytest.raises(Inconclusive, match="none grew"):
        waits_grow(waits(_tries([1.0, 1.0, 1.0])), tolerance=0.5, journal=[])
    steady = waits(_tries([0.5] + [1.0] * 7))  # the reference's steady-retries: 1 s after the first back-off
    with pytest.raises(Nonconformance, match="not a steady pace"):
        tries_thin_out(steady, silence=0.5, tolerance=0.5, journal=[], seconds=8.0)


def test_a_wait_shorter_than_the_tolerance_allows_fails() -> None:
    with pytest.raises(Nonconformance, match=r"no wait shorter than 0\.5 times the one before"):
        waits_grow([1.0, 0.3, 4.0], tolerance=0.5, journal=[])
    waits_grow([1.0, 0.6, 4.0], tolerance=0.5, journal=[])


def test_too_few_tries_are_inconclusive_never_a_failure() -> None:
    with pytest.raises(Inconclusive, match="too few to judge the back-off"):
        waits_grow([2.0, 4.0], tolerance=0.5, journal=[])
    with pytest.raises(Inconclusive, match="too few to judge their pace"):
        # a slow back-off: three tries, the next not yet due
        tries_thin_out([2.5, 3.0], silence=1.0, tolerance=0.5, journal=[], seconds=8.0)
    with pytest.raises(Inconclusive):
        tries_thin_out([], silence=8.0, tolerance=0.5, journal=[], seconds=8.0)


# --- the person at the terminal (the pseudo-terminal run is tests/test_prompt.py) -----------------


def test_without_a_hook_a_person_is_asked_and_told_what_arrived() -> None:
    asked: list[str] = []
    told: list[str] = []

    def ask(prompt: str) -> bool:
        asked.append(prompt)
        return True

    control = Control(None, ask=ask, tell=told.append)
    assert control.act("present-rfid", "Present the RFID token 04523022AA4881 at DE*REF*E000001*1") == {}
    control.say("received: rfid-verify 04523022AA4881")
    assert asked == ["Present the RFID token 04523022AA4881 at DE*REF*E000001*1"]
    assert told == ["received: rfid-verify 04523022AA4881"]


def test_nobody_at_the_terminal_is_told_nothing() -> None:
    told: list[str] = []
    control = Control(None, ask=lambda prompt: False, tell=told.append)
    assert control.act("plug-out", "Plug the EV out") is None
    control.say("received: session-post")
    assert told == []


def test_a_person_who_types_skip_is_not_asked_to_undo() -> None:
    def skip(prompt: str) -> bool:
        raise NotDone("skipped by the person at the terminal")

    control = Control(None, ask=skip)
    with pytest.raises(NotDone, match="skipped"):
        control.act("set-status", "Set connector DE*REF*E000001*1 to Offline")
    assert control.undo("set-status", "Set it back to Available", by_person=True) is False


# --- what the spec leaves open ---------------------------------------------------------------------


def test_connectors_in_another_order_are_the_same_connectors() -> None:
    first = {"connectors": [{"id": "DE*REF*E1*1", "speed": 22}, {"id": "DE*REF*E1*2", "speed": 22}]}
    again = {"connectors": list(reversed(first["connectors"]))}
    assert _by_id(first) == _by_id(again)
    assert _by_id(first) != _by_id({"connectors": [{"id": "DE*REF*E1*1", "speed": 11}, first["connectors"][1]]})


def test_evco_ids_differing_only_in_their_optional_separators_are_one() -> None:
    assert _same_evco_id("DE*8PS*123456*7", "DE-8PS-123456-7")
    assert _same_evco_id("DE*8PS*123456*7", "DE8PS1234567")
    assert not _same_evco_id("DE*8PS*123456*7", "de*8ps*123456*7")  # the glossary makes no letter case equivalent
    assert not _same_evco_id("DE*8PS*123456*7", "DE*8PS*123456*8")


def _cdr(start: str, stop: str | None = None, connector: str = "DE*REF*E1*1") -> dict[str, object]:
    return {"connector-id": connector, "session-interval": {"start": start, **({"stop": stop} if stop else {})}}


def test_one_session_in_other_offsets_or_refined_is_one_session() -> None:
    final = _cdr("2026-01-01T10:00:00Z", "2026-01-01T10:30:00Z")
    assert _two_sessions(final, _cdr("2026-01-01T12:00:00+02:00")) is None  # the same instant
    assert _two_sessions(final, _cdr("2026-01-01T10:00:00.250Z")) is None  # fractions of a second
    assert _two_sessions(final, _cdr("2026-01-01T10:00:05Z", "2026-01-01T10:30:00Z")) is None  # a refined start
    assert _two_sessions(final, _cdr("2026-01-01T10:30:00Z", "2026-01-01T10:30:00Z")) is None  # ends as it starts


def test_a_session_started_after_another_ended_or_elsewhere_is_another() -> None:
    final = _cdr("2026-01-01T10:00:00Z", "2026-01-01T10:30:00Z")
    assert _two_sessions(final, _cdr("2026-01-01T12:31:00+02:00")) is not None
    assert _two_sessions(_cdr("2026-01-01T10:31:00Z"), final) is not None
    assert _two_sessions(final, _cdr("2026-01-01T10:00:00Z", connector="DE*REF*E1*2")) is not None
    assert _two_sessions(final, _cdr("2026-01-01T10:00:00Z", connector="DEREFE11")) is None  # '*' is optional


@pytest.mark.parametrize(("uid", "read"), [("04523022AA4881", "4523022aa4881"), ("0A1B2C3D", "a1b2c3d"),
                                           ("000000ABCDEFAB", "000000abcdefab"),  # stripped: a valid 8
                                           ("0000000A1B2C3D4E5F60", "0000000a1b2c3d4e5f60"),  # pads back to 14
                                           ("1A2B3C4D", "1a2b3c4d")])
def test_a_uid_is_presented_stripped_only_when_it_can_be_padded_back(uid: str, read: str) -> None:
    assert _as_read(uid) == read


def _entry(message: dict[str, object]) -> dict[str, object]:
    (call,) = message
    return {"call": call, "request_body": message, "request_headers": {}, "status": 200}


def test_the_spec_examples_forms_are_not_failed() -> None:
    """station-post's example names its partner "1", rfid-post's sends "abcdefab" (schemas/errata.json)."""
    station = _entry({"station-post": {"station": {}, "partner-identifier": "1"}})
    whitelist = _entry({"rfid-post": {"rfids": ["abcdefab"], "partner-identifier": "oioi-partner-0000000000000001"}})
    assert [_verdict(identifiers, station), _verdict(valid_request, whitelist), _verdict(identifiers, whitelist)] == [
        "pass", "pass", "pass"]


@pytest.mark.parametrize("call", ["reservation-stop", "session-start", "session-stop"])
def test_an_evco_id_in_the_form_of_the_spec_examples_is_not_failed(call: str) -> None:
    """reservation-stop's example sends the EVCO ID "DE*8PS*156456730*9" (a 9-character ID part), as
    reservation-start's does (erratum reservation-start:evco-id-pattern)."""
    sent = _entry({call: {"identifier-type": "evco-id", "identifier": "DE*8PS*156456730*9"}})
    assert _verdict(identifiers, sent) == "pass"
    wrong = _entry({call: {"identifier-type": "evco-id", "identifier": "DE*8PS*1564*9"}})  # 4 characters: no form
    with pytest.raises(Nonconformance) as failure:
        identifiers(wrong)
    assert failure.value.requirement == "identifiers.evco-id-format"


def test_what_no_erratum_excuses_fails() -> None:
    short = _entry({"connector-post-status": {"connector-id": "DE*REF*E1*1", "status": "Offline",
                                              "partner-identifier": "oioi-partner"}})
    valid_request(short)  # a partner identifier's length is not sender.request-valid's
    with pytest.raises(Nonconformance, match="at least 16 characters") as failure:
        identifiers(short)
    assert failure.value.requirement == "identifiers.partner-identifier-length"
    unpadded = _entry({"rfid-post": {"rfids": ["abcdefa"], "partner-identifier": "oioi-partner-0000000000000001"}})
    with pytest.raises(Nonconformance) as failure:
        valid_request(unpadded)
    assert failure.value.requirement == "sender.request-valid"


def test_a_uid_padded_to_a_longer_valid_length_is_the_uid() -> None:
    """calls/rfid_verify.rst: shorter UIDs are "zero-pad[ded] on the left"; 8, 14 and 20 are all valid lengths."""
    assert same_uid("04523022AA4881", "04523022AA4881")
    assert same_uid("00000004523022AA4881", "04523022AA4881")  # padded on to 20
    assert not same_uid("4523022AA4881", "04523022AA4881")  # 13 characters: as the reader gave it
    assert not same_uid("000004523022AA4881", "04523022AA4881")  # 18 characters: no valid length
    assert not same_uid("04523022aa4881", "04523022AA4881")  # letter case is rfid.uid-upper-case's


def test_evse_ids_differing_only_in_their_optional_stars_are_one_connector() -> None:
    assert same_evse_id("DE*8PS*E000001*1", "DE8PSE0000011")
    assert not same_evse_id("DE*8PS*E000001*1", "DE*8PS*E000001*2")
    assert not same_evse_id("DE*8PS*E000001*1", None)
