"""The reference implementations as senders: what ``POST /control`` makes them send, and how they deliver it.

The scenarios are data (tests/scenarios/reference-client/*.json, shaped by scenario-schema.json):
each is steps taken against a reference in-process whose partner is a ``RecordingPeer`` on a free
loopback port, and each of its tests names a reference (the default, or with defects or behaviours)
and what the observers read afterwards (tests/fixtures/reference_client.py). A sender defect shows
its bug when its test expects something else than the default's test of the same scenario. The
outbox's wait between tries is recorded instead of slept (its ``sleep`` seam), except below, where
real time, a closed port or the outbox's own figures are the point.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from examples import reference_cpo, reference_emp
from tests.fixtures.peer import EVCO, RecordingPeer, Scripted
from tests.fixtures.reference_client import CONNECTOR, OBSERVERS, Run, reference
from tests.test_reference import PROBES

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
SCENARIO_FILES = sorted((SCENARIO_DIR / "reference-client").glob("*.json"))
MODULES = {"cpo": reference_cpo, "emp": reference_emp}


def _scenarios() -> list[dict[str, Any]]:
    return [scenario for path in SCENARIO_FILES for scenario in json.loads(path.read_text("utf-8"))]


def _cases() -> list[Any]:
    """One case per role, scenario and test; its id is the role and the two descriptions."""
    return [pytest.param(role, scenario, test, id=f"{role}: {scenario['description']}: {test['description']}")
            for scenario in _scenarios() for role in scenario["roles"] for test in scenario["tests"]]


def _sender_defects() -> dict[str, dict[str, str]]:
    """Each defect a scenario shows, per role, with that scenario's description."""
    shown: dict[str, dict[str, str]] = {"cpo": {}, "emp": {}}
    for scenario in _scenarios():
        for role in scenario["roles"]:
            shown[role].update({f: scenario["description"] for t in scenario["tests"] for f in t.get("defects", ())})
    return shown


SCENARIOS = _sender_defects()  # tests/test_reference.py: the defects shown here need no probe there


@pytest.fixture
def peer() -> Iterator[RecordingPeer]:
    server = RecordingPeer()
    yield server
    server.stop()


@pytest.mark.parametrize(("role", "scenario", "test"), _cases())
def test_scenario(peer: RecordingPeer, role: str, scenario: dict[str, Any], test: dict[str, Any]) -> None:
    run = Run(reference(role, peer, *test.get("defects", ()), behaviours=tuple(test.get("behaviours", ()))), peer)
    for step in scenario["steps"]:
        run.step(step)
    observed = {name: OBSERVERS[name](run) for name in test["expect"]}
    assert json.loads(json.dumps(observed)) == test["expect"]
    run.ref.settle()  # nothing left to send once the peer stops


# --- the scenarios themselves ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.name)
def test_scenario_file_has_the_test_suite_shape(path: Path) -> None:
    scenarios = json.loads(path.read_text("utf-8"))
    jsonschema.validate(scenarios, json.loads((SCENARIO_DIR / "scenario-schema.json").read_text("utf-8")))
    for scenario in scenarios:
        assert {n for t in scenario["tests"] for n in t["expect"]} <= set(OBSERVERS), scenario["description"]


def test_scenario_descriptions_are_unique() -> None:
    descriptions = [s["description"] for s in _scenarios()]
    tests = [(s["description"], t["description"]) for s in _scenarios() for t in s["tests"]]
    assert [d for d, n in Counter(descriptions).items() if n > 1] == []
    assert [d for d, n in Counter(tests).items() if n > 1] == []


def test_each_defect_and_behaviour_is_the_references() -> None:
    for scenario in _scenarios():
        for role in scenario["roles"]:
            for test in scenario["tests"]:
                assert set(test.get("defects", ())) <= set(MODULES[role].DEFECTS), test["description"]
                assert set(test.get("behaviours", ())) <= set(MODULES[role].BEHAVIOURS), test["description"]


def test_each_defect_expects_something_else_than_the_default() -> None:
    """A defect's test names only observers the default's test names too, and expects of one at least another value
    (the others are what its bug needs first, e.g. a started session).
    """
    for scenario in _scenarios():
        defaults = [t["expect"] for t in scenario["tests"] if not t.keys() & {"defects", "behaviours"}]
        for test in (t for t in scenario["tests"] if "defects" in t):
            assert len(defaults) == 1, scenario["description"]
            assert test["expect"].keys() <= defaults[0].keys(), test["description"]
            assert any(defaults[0][n] != value for n, value in test["expect"].items()), test["description"]


def test_every_defect_has_a_probe_or_a_scenario() -> None:
    for role, module in MODULES.items():
        assert set(PROBES[role]).isdisjoint(SCENARIOS[role])
        assert set(PROBES[role]) | set(SCENARIOS[role]) == set(module.DEFECTS)


# --- what the scenarios cannot say: real time, a closed port, the reference's state and figures ----------------


def test_control_without_partner_is_a_conflict() -> None:
    for role, action in (("cpo", "push-stations"), ("emp", "push-rfids")):
        assert reference(role, None).control(action)[0] == 409


def test_waits_for_retry_after_in_real_time(peer: RecordingPeer) -> None:
    cpo = reference("cpo", peer)
    cpo.outbox.sleep = time.sleep
    peer.script = [Scripted(503, {"Retry-After": "1"})]
    cpo.control("set-status", **{"connector-id": CONNECTOR, "status": "Available"})
    cpo.settle()
    first, second = peer.received
    assert second.at - first.at >= 1.0


def test_retries_when_nobody_answers() -> None:
    silent = RecordingPeer()
    silent.stop()  # the port is closed: every try is a refused connection
    cpo = reference("cpo", silent)
    cpo.control("set-status", **{"connector-id": CONNECTOR, "status": "Available"})
    cpo.settle()
    assert cpo.sleeps == [0.5, 1.0, 2.0]


def test_the_cpo_keeps_each_connectors_status(peer: RecordingPeer) -> None:
    """set-status and sessions set the status in the state (what self-validation reads after a run)."""
    cpo = reference("cpo", peer)

    def status() -> str:
        with cpo.endpoint.db.transaction() as tx:
            return str(tx.execute("SELECT status FROM connectors WHERE evse_id = ?", (CONNECTOR,)).fetchone()[0])

    user = {"identifier-type": "evco-id", "identifier": EVCO}
    assert status() == "Available"
    cpo.control("set-status", **{"connector-id": CONNECTOR, "status": "Offline"})
    assert status() == "Offline"
    session_id = cpo.oioi("session-start", {"user": user, "connector-id": CONNECTOR})["session-start"]["session-id"]
    assert status() == "Occupied"
    cpo.oioi("session-stop", {"user": user, "connector-id": CONNECTOR, "session-id": session_id})
    assert status() == "Available"


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
