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

import pytest
from hypothesis import note, seed
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from conformance import checks
from conformance._exchange import Exchange, Iut
from conformance._target import Target
from conformance.suite import _messages as m
from conformance.suite.test_cpo import Ledger, _known_connectors, cannot_proceed
from conformance.suite.test_emp import verify_rfid

CUSTOMERS = m.EVCO[:3]


def _run(machine: type[RuleBasedStateMachine], oioi: Target) -> None:
    run_state_machine_as_test(seed(oioi.seed)(machine),
                              settings=oioi.hypothesis_settings(max_examples=oioi.effort["machines"]))


def _code(exchange: Exchange, call: str, requirement: str, *codes: int, specific: str | None = None) -> None:
    checks.refused(exchange, call, requirement, codes, specific=specific)


class _CpoModel(RuleBasedStateMachine):
    """A CPO's connectors: who charges where, who holds which reservation."""

    iut: Iut
    oioi: Target

    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[str, tuple[str, str | None]] = {}
        self.reservations: dict[str, set[str]] = {}
        self.ledger = Ledger(self.iut)  # everything started or reserved, also what the model did not expect

    @initialize()
    def free_reservations(self) -> None:
        """Cancel what the harness's customers may still hold (a partner may cancel its customers' reservations)."""
        for evco in CUSTOMERS:
            self.iut.send(m.reservation_stop(evco))

    def teardown(self) -> None:
        self.ledger.undo()

    def _connectors(self) -> st.SearchStrategy[str]:
        return st.sampled_from(_known_connectors(self.oioi, 2))

    @rule(data=st.data(), who=st.sampled_from(CUSTOMERS))
    def start(self, data: st.DataObject, who: str) -> None:
        connector = data.draw(self._connectors(), label="connector")
        exchange = self.iut.send(m.session_start(connector, who))
        answer = (exchange.json() or {}).get("session-start") if checks.is_success(exchange) else None
        if answer is not None:
            self.ledger.started(connector, who, answer if isinstance(answer, dict) else {})
        held = self.reservations.get(connector)
        if connector in self.sessions:
            _code(exchange, "session-start", "session-start.occupied", 320)
        elif held is not None and who not in held:
            _code(exchange, "session-start", "reservation.blocks-others", 323, 320)
        else:
            requirement = "reservation.holders-start" if held else "session-start.success"
            if answer is None:
                cannot_proceed(exchange, "session-start", connector, requirement, self.oioi)
            checks.succeeded(exchange, "session-start", requirement)
            session_id = answer.get("session-id") if isinstance(answer, dict) else None
            self.sessions[connector] = (who, session_id if isinstance(session_id, str) else None)
            self.reservations.pop(connector, None)

    @rule(data=st.data())
    def stop(self, data: st.DataObject) -> None:
        connector = data.draw(self._connectors(), label="connector")
        if connector in self.sessions:
            evco, session_id = self.sessions.pop(connector)
            checks.succeeded(self.iut.send(m.session_stop(connector, evco, session_id)), "session-stop",
                             "session-stop.success")
            self.ledger.sessions = [s for s in self.ledger.sessions if s[0] != connector]
        else:
            _code(self.iut.send(m.session_stop(connector, CUSTOMERS[0], "oioi-harness-no-such-session")),
                  "session-stop", "session-stop.unknown-session", 182)

    @rule(data=st.data(), holders=st.lists(st.sampled_from(CUSTOMERS), min_size=1, max_size=2, unique=True))
    def reserve(self, data: st.DataObject, holders: list[str]) -> None:
        connector = data.draw(self._connectors(), label="connector")
        exchange = self.iut.send(m.reservation_start(connector, *holders))
        if checks.is_success(exchange):
            self.ledger.reserved(*holders)
        if connector in self.sessions or connector in self.reservations:
            _code(exchange, "reservation-start", "reservation-start.already-reserved", 323, 320)
        elif any(set(holders) & held for held in self.reservations.values()):
            _code(exchange, "reservation-start", "reservation-start.evco-has-reservation", 194)
        else:
            if not checks.is_success(exchange):
                cannot_proceed(exchange, "reservation-start", connector, "reservation-start.success", self.oioi)
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
    _known_connectors(oioi, 2)
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
        self.posted: list[tuple[str, list[str], str]] = []  # station id, its connectors, the partner
        self.run, self.count = next(self.serial), 0

    def teardown(self) -> None:
        """Soft-delete every station the run posted (calls/station_post.rst, ``deleted``)."""
        for name, connectors, partner in self.posted:
            self.iut.send(m.station_post(name, connectors, partner, deleted=True))

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
        if checks.is_success(exchange):
            self.posted.append((name, connectors, partner))
            self.owner.update(dict.fromkeys(connectors, partner))
        if mine:
            checks.succeeded(exchange, "station-post", "station-post.answer")

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
        if not any(p == self.oioi.partner for p in self.owner.values()):
            self.post_station(True)  # a CPO sends CDRs of its own connectors, posted before
        mine = [c for c, p in self.owner.items() if p == self.oioi.partner]
        update = bool(self.ongoing) and data.draw(st.booleans(), label="update")
        session_id = self.ongoing.pop() if update else self._unique("cdr")
        exchange = self.iut.send(m.session_post(session_id, sorted(mine)[0], self.oioi.partner, finished=update))
        checks.succeeded(exchange, "session-post", "session-post.update" if update else "session-post.answer")
        if not update:
            self.ongoing.append(session_id)

    @rule(state=st.sampled_from(["active", "inactive", "unknown"]))
    def verify(self, state: str) -> None:
        exchange = self.iut.send(m.rfid_verify(self.oioi.rfids[state]))
        verify_rfid(exchange, self.oioi, state)


@pytest.mark.role("emp")
@pytest.mark.requirement(
    "connector-post-status.known", "connector-post-status.unknown-connector", "connector-post-status.other-partner",
    "session-post.update", "rfid-verify.active", "rfid-verify.inactive", "rfid-verify.unknown",
    "rfid-verify.unknown-code",
)
def test_emp_behaves_like_the_model(oioi: Target, iut: Iut) -> None:
    machine = type("EmpPartners", (_EmpModel,), {"iut": iut, "oioi": oioi, "serial": itertools.count()})
    _run(machine, oioi)
