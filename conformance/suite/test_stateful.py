"""Session flows as state machines (hypothesis.stateful): the IUT must behave like the model.

On a CPO: starts and stops on the IUT's connectors, reservations by one or two EVCO IDs,
cancellations by any of them (cpo/remote_start.rst, cpo/reservation.rst). On an EMP:
stations of two partners, statuses, CDRs posted while ongoing and again when finished,
RFID verification (cpo/poi.rst, cpo/cdr.rst, testaccount.rst). Every step's answer is
judged; a failure names the requirement its step checks, with the shrunk sequence.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import note, seed
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from conformance import checks
from conformance._exchange import Exchange, Iut
from conformance._target import Target
from conformance.suite import _messages as m

CUSTOMERS = m.EVCO[:3]


def _run(machine: type[RuleBasedStateMachine], oioi: Target) -> None:
    run_state_machine_as_test(seed(oioi.seed)(machine),
                              settings=oioi.hypothesis_settings(max_examples=oioi.effort["machines"]))


def _code(exchange: Exchange, call: str, requirement: str, *codes: int) -> None:
    checks.answer_conforms(exchange, call)
    checks.result_code_is(exchange, requirement, codes)


class _CpoModel(RuleBasedStateMachine):
    """A CPO's connectors: who charges where, who holds which reservation."""

    iut: Iut
    oioi: Target

    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[str, tuple[str, str | None]] = {}
        self.reservations: dict[str, set[str]] = {}

    @initialize()
    def free_everything(self) -> None:
        for connector in self.oioi.connectors[:2]:
            for evco in CUSTOMERS:
                self.iut.send(m.session_stop(connector, evco))
        for evco in CUSTOMERS:
            self.iut.send(m.reservation_stop(evco))

    def teardown(self) -> None:
        for connector, (evco, session_id) in self.sessions.items():
            self.iut.send(m.session_stop(connector, evco, session_id))
        for holders in self.reservations.values():
            self.iut.send(m.reservation_stop(sorted(holders)[0]))

    def _connectors(self) -> st.SearchStrategy[str]:
        return st.sampled_from(self.oioi.connectors[:2])

    @rule(data=st.data(), who=st.sampled_from(CUSTOMERS))
    def start(self, data: st.DataObject, who: str) -> None:
        connector = data.draw(self._connectors(), label="connector")
        exchange = self.iut.send(m.session_start(connector, who))
        held = self.reservations.get(connector)
        if connector in self.sessions:
            _code(exchange, "session-start", "session-start.occupied", 320)
        elif held is not None and who not in held:
            _code(exchange, "session-start", "reservation.blocks-others", 323)
        else:
            requirement = "reservation.holders-start" if held else "session-start.success"
            checks.succeeded(exchange, "session-start", requirement)
            answer = (exchange.json() or {}).get("session-start") or {}
            self.sessions[connector] = (who, answer.get("session-id"))
            self.reservations.pop(connector, None)

    @rule(data=st.data())
    def stop(self, data: st.DataObject) -> None:
        connector = data.draw(self._connectors(), label="connector")
        if connector in self.sessions:
            evco, session_id = self.sessions.pop(connector)
            checks.succeeded(self.iut.send(m.session_stop(connector, evco, session_id)), "session-stop",
                             "session-stop.success")
        else:
            _code(self.iut.send(m.session_stop(connector, CUSTOMERS[0])), "session-stop",
                  "session-stop.unknown-session", 182)

    @rule(data=st.data(), holders=st.lists(st.sampled_from(CUSTOMERS), min_size=1, max_size=2, unique=True))
    def reserve(self, data: st.DataObject, holders: list[str]) -> None:
        connector = data.draw(self._connectors(), label="connector")
        exchange = self.iut.send(m.reservation_start(connector, *holders))
        if connector in self.sessions or connector in self.reservations:
            _code(exchange, "reservation-start", "reservation-start.already-reserved", 323, 320)
        elif any(set(holders) & held for held in self.reservations.values()):
            _code(exchange, "reservation-start", "reservation-start.evco-has-reservation", 194)
        else:
            checks.succeeded(exchange, "reservation-start", "reservation-start.success")
            self.reservations[connector] = set(holders)

    @rule(who=st.sampled_from(CUSTOMERS))
    def cancel(self, who: str) -> None:
        exchange = self.iut.send(m.reservation_stop(who))
        held = [c for c, holders in self.reservations.items() if who in holders]
        if held:
            checks.succeeded(exchange, "reservation-stop", "reservation-stop.any-identifier")
            del self.reservations[held[0]]
        else:
            _code(exchange, "reservation-stop", "reservation-stop.unknown", 189)


@pytest.mark.role("cpo")
@pytest.mark.requirement(
    "session-start.success", "session-start.occupied", "session-stop.success", "session-stop.unknown-session",
    "reservation-start.success", "reservation-start.already-reserved", "reservation-start.evco-has-reservation",
    "reservation.blocks-others", "reservation.holders-start", "reservation-stop.any-identifier",
    "reservation-stop.unknown",
)
def test_cpo_behaves_like_the_model(oioi: Target, iut: Iut) -> None:
    if len(oioi.connectors) < 2:
        pytest.skip("needs two connectors of the CPO: give --connector-id twice")
    machine = type("CpoSessions", (_CpoModel,), {"iut": iut, "oioi": oioi})
    _run(machine, oioi)


class _EmpModel(RuleBasedStateMachine):
    """An EMP's view: which partner posted which connector, which CDRs are ongoing."""

    iut: Iut
    oioi: Target

    serial: Iterator[int]

    def __init__(self) -> None:
        super().__init__()
        self.owner: dict[str, str] = {}
        self.ongoing: list[str] = []
        self.run, self.count = next(self.serial), 0

    def _unique(self, kind: str) -> str:
        """An id no other step, run or seed uses (and the same one for the same seed)."""
        self.count += 1
        return f"oioi-harness-{self.oioi.seed}-{kind}-{self.run}-{self.count}"

    @rule(mine=st.booleans())
    def post_station(self, mine: bool) -> None:
        partner = self.oioi.partner if mine else self.oioi.other_partner
        name = self._unique("station")
        connectors = [f"DE*OIO*E{self.oioi.seed % 10**8:08d}M{self.run}N{self.count}*{k}" for k in (1, 2)]
        exchange = self.iut.send(m.station_post(name, connectors, partner))
        if mine:
            checks.succeeded(exchange, "station-post", "station-post.answer")
        if exchange.result_code() == 0:
            self.owner.update(dict.fromkeys(connectors, partner))

    @rule(data=st.data(), status=st.sampled_from(["Available", "Occupied", "Offline", "Reserved", "Unknown"]))
    def post_status(self, data: st.DataObject, status: str) -> None:
        connector = data.draw(st.sampled_from([m.UNKNOWN_CONNECTOR, *sorted(self.owner)]), label="connector")
        exchange = self.iut.send(m.connector_post_status(connector, status, self.oioi.partner))
        owner = self.owner.get(connector)
        note(f"{connector} posted by {owner!r}")
        if owner == self.oioi.partner:
            checks.succeeded(exchange, "connector-post-status", "connector-post-status.known")
        elif owner is None:
            _code(exchange, "connector-post-status", "connector-post-status.unknown-connector", 181)
        else:
            _code(exchange, "connector-post-status", "connector-post-status.other-partner", 181, 211)

    @rule(data=st.data())
    def post_cdr(self, data: st.DataObject) -> None:
        mine = [c for c, p in self.owner.items() if p == self.oioi.partner] or [m.UNKNOWN_CONNECTOR]
        update = bool(self.ongoing) and data.draw(st.booleans(), label="update")
        session_id = self.ongoing.pop() if update else self._unique("cdr")
        exchange = self.iut.send(m.session_post(session_id, sorted(mine)[0], self.oioi.partner, finished=update))
        checks.succeeded(exchange, "session-post", "session-post.update" if update else "session-post.answer")
        if not update:
            self.ongoing.append(session_id)

    @rule(state=st.sampled_from(["active", "inactive", "unknown"]))
    def verify(self, state: str) -> None:
        exchange = self.iut.send(m.rfid_verify(self.oioi.rfids[state]))
        if state == "active":
            checks.succeeded(exchange, "rfid-verify", "rfid-verify.active")
        else:
            expected: Any = {"inactive": (192, 193), "unknown": (191,)}[state]
            _code(exchange, "rfid-verify", f"rfid-verify.{state}", *expected)


@pytest.mark.role("emp")
@pytest.mark.requirement(
    "connector-post-status.known", "connector-post-status.unknown-connector", "connector-post-status.other-partner",
    "session-post.update", "rfid-verify.active", "rfid-verify.inactive", "rfid-verify.unknown",
)
def test_emp_behaves_like_the_model(oioi: Target, iut: Iut) -> None:
    machine = type("EmpPartners", (_EmpModel,), {"iut": iut, "oioi": oioi, "serial": itertools.count()})
    _run(machine, oioi)
