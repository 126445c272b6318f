"""The pace of retries, judged without a server: a FAIL only for a storm or a steady pace, never for jitter.

request.rst: "Your services must implement exponential back-off." The spec gives no factor and no
jitter, so the judgements are proven here against many jittered back-offs (they must never fail)
and against the faulty paces of the reference (retry-storm, steady-retries: they must fail).
"""

from __future__ import annotations

import contextlib
import itertools
import random

import pytest

from conformance._failures import Inconclusive, Nonconformance
from conformance._partner import Control, NotDone
from conformance._sent import tries_thin_out, waits, waits_grow

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


@pytest.mark.parametrize("kind", ["equal", "plus-minus-half"])
@pytest.mark.parametrize("base", [0.1, 0.5, 2.0])
def test_a_jittered_exponential_back_off_never_fails(kind: str, base: float) -> None:
    for seed in SEEDS:
        gaps = waits(_tries(_doubling(base, 3, random.Random(seed), kind)))
        waits_grow(gaps, 0.5, [])


@pytest.mark.parametrize("kind", ["equal", "plus-minus-half"])
def test_a_jittered_back_off_that_never_gives_up_is_not_failed_as_unbounded(kind: str) -> None:
    for seed in SEEDS:
        times = [t for t in _tries(_doubling(0.25, 12, random.Random(seed), kind)) if t <= 8.0]
        gaps = waits(times)
        with contextlib.suppress(Inconclusive):
            tries_thin_out(gaps, 8.0 - times[-1], 0.5, [], seconds=8.0)


def test_full_jitter_is_never_failed_when_declared() -> None:
    for seed in SEEDS:
        jitter = random.Random(seed)
        gaps = waits(_tries([jitter.uniform(0, 0.5 * 2**k) for k in range(3)]))
        with contextlib.suppress(Inconclusive):
            waits_grow(gaps, 1.0, [])


def test_the_reference_back_off_passes() -> None:
    waits_grow(waits(_tries([0.5, 1.0, 2.0])), 0.5, [])
    tries_thin_out(waits(_tries([0.5, 1.0, 2.0])), 4.5, 0.5, [], seconds=8.0)  # four tries, then it gave up


@pytest.mark.parametrize("gaps", [[0.004, 0.003, 0.005], [0.003, 0.004, 0.06], [0.002, 0.006, 0.009]])
def test_a_storm_fails_the_back_off(gaps: list[float]) -> None:
    """The reference's retry-storm: tries at once, a few milliseconds apart (one may be slowed by load)."""
    with pytest.raises(Nonconformance, match=r"none grew past 1\.25 times the first"):
        waits_grow(gaps, 0.5, [])


def test_a_steady_pace_fails_both() -> None:
    with pytest.raises(Nonconformance, match="none grew"):
        waits_grow(waits(_tries([1.0, 1.0, 1.0])), 0.5, [])
    steady = waits(_tries([0.5] + [1.0] * 7))  # the reference's steady-retries: 1 s after the first back-off
    with pytest.raises(Nonconformance, match="not a steady pace"):
        tries_thin_out(steady, 0.5, 0.5, [], seconds=8.0)


def test_a_wait_shorter_than_the_tolerance_allows_fails() -> None:
    with pytest.raises(Nonconformance, match=r"no wait shorter than 0\.5 times the one before"):
        waits_grow([1.0, 0.3, 4.0], 0.5, [])
    waits_grow([1.0, 0.6, 4.0], 0.5, [])


def test_too_few_tries_are_inconclusive_never_a_failure() -> None:
    with pytest.raises(Inconclusive, match="too few to judge the back-off"):
        waits_grow([2.0, 4.0], 0.5, [])
    with pytest.raises(Inconclusive, match="too few to judge their pace"):
        tries_thin_out([2.5, 3.0], 1.0, 0.5, [], seconds=8.0)  # a slow back-off: three tries, the next not yet due
    with pytest.raises(Inconclusive):
        tries_thin_out([], 8.0, 0.5, [], seconds=8.0)


# --- the person at the terminal (the pseudo-terminal run is tests/test_prompt.py) -----------------


def test_without_a_hook_a_person_is_asked_and_told_what_arrived() -> None:
    asked: list[str] = []
    told: list[str] = []
    control = Control(None, ask=lambda prompt: asked.append(prompt) is None, tell=told.append)
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
