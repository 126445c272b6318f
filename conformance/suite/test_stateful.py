"""Session flows as state machines (hypothesis.stateful): the IUT must behave like the model.

On a CPO: starts and stops on the IUT's connectors, reservations by one or two EVCO IDs,
cancellations by any of them (cpo/remote_start.rst, cpo/reservation.rst). On an EMP:
stations of two partners, statuses, CDRs posted while ongoing and again when finished,
RFID verification (cpo/poi.rst, cpo/cdr.rst, testaccount.rst). Every step's answer is
judged; a failure names the requirement its step checks, with the shrunk sequence.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Iterator

import pytest
from hypothesis import note, seed
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from conformance import checks
from conformance._exchange import Exchange, Iut
from conformance._failures import Inconclusive
from conformance._target import Target
from conformance.suite import _messages as m
from conformance.suite.test_cpo import NOT_DECIDABLE, Ledger, _known_connectors, cannot_proceed
from conformance.suite.test_emp import cdr_refused, customer, station_refused, verify_rfid

CUSTOMERS = m.EVCO[:3]


def _run(machine: type[RuleBasedStateMachine], target: Target) -> None:
    run_state_machine_as_test(seed(target.seed)(machine),
                              settings=target.hypothesis_settings(max_examples=target.effort["machines"]))


def _code(exchange: Exchange, call: str, requirement: str, *codes: int, specific: str | None = None) -> None:
    checks.refused(exchange, call, requirement, codes=codes, specific=specific)


# Refusals of a session-stop the harness cannot rule out (a station condition, or a session the CPO said
# is not stoppable): the session may still run, so the model stops judging that connector.
_STOP_NOT_DECIDABLE = {code for code in NOT_DECIDABLE if code not in (190, 191)} | {188}
# A reservation this close to its ``end`` (seconds) is cancelled by the model: whether it still holds
# depends on the two clocks.
_EXPIRY_MARGIN = 10.0


class _Reservation:
    """Who holds a reservation, and when it ends (the reservation-start answer's ``end``, when it gave one)."""

    def __init__(self, holders: set[str], end: datetime.datetime | None) -> None:
        self.holders, self.end = holders, end


class _CpoModel(RuleBasedStateMachine):
    """A CPO's connectors: who charges where, who holds which reservation.

    The model expects only what the spec decides. A start by the customer who already charges on the
    connector may succeed (an idempotent CPO: request.rst makes senders retry) or be refused; only another
    customer's start on an occupied connector must be refused (glossary.rst, EVSE: "only one connector … can
    be in use at any one point in time"). A step whose outcome the spec leaves open (a customer who charges
    or holds a reservation elsewhere) is not sent. State that has ended is dropped: a reservation whose
    ``end`` has (nearly) come is cancelled, and a connector whose session-stop was refused for a reason the
    call allows is no longer judged.
    """

    iut: Iut
    target: Target

    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[str, tuple[str, str | None]] = {}
        self.reservations: dict[str, _Reservation] = {}
        self.unsure: set[str] = set()  # connectors whose state the model no longer knows
        self.unstoppable: set[str] = set()  # connectors whose session-start answer said is-stoppable: false
        self.ledger = Ledger(self.iut)  # everything started or reserved, also what the model did not expect

    @initialize()
    def free_reservations(self) -> None:
        """Cancel what the harness's customers may still hold (a partner may cancel its customers' reservations)."""
        for evco in CUSTOMERS:
            self.iut.send(m.reservation_stop(evco))

    def teardown(self) -> None:
        self.ledger.undo()

    def _connectors(self) -> st.SearchStrategy[str]:
        return st.sampled_from(_known_connectors(self.target, 2))

    def _cancel(self, connector: str) -> None:
        """Cancel a reservation the model drops (any answer: it may have ended or been used up already)."""
        for who in sorted(self.reservations.pop(connector).holders):
            if checks.is_success(self.iut.send(m.reservation_stop(who))):
                break

    def _expire(self) -> None:
        """Drop reservations whose ``end`` has come or is about to (cancelled, so the IUT agrees)."""
        now = datetime.datetime.now(datetime.UTC)
        for connector in [c for c, r in self.reservations.items()
                          if r.end is not None and (r.end - now).total_seconds() < _EXPIRY_MARGIN]:
            self._cancel(connector)

    def _elsewhere(self, who: str, connector: str) -> bool:
        """Whether ``who`` charges or holds a reservation on another connector (the spec leaves a start or a
        reservation of theirs open: a CPO may refuse it, e.g. 194)."""
        return (any(c != connector and s[0] == who for c, s in self.sessions.items())
                or any(c != connector and who in r.holders for c, r in self.reservations.items()))

    @rule(data=st.data(), who=st.sampled_from(CUSTOMERS))
    def start(self, data: st.DataObject, who: str) -> None:
        self._expire()
        connector = data.draw(self._connectors(), label="connector")
        held = self.reservations.get(connector)
        running = self.sessions.get(connector)
        free = running is None and (held is None or who in held.holders)
        if connector in self.unsure or (free and self._elsewhere(who, connector)):
            return
        exchange = self.iut.send(m.session_start(connector, who))
        answer = (exchange.json() or {}).get("session-start") if checks.is_success(exchange) else None
        if answer is not None:
            self.ledger.started(connector, who, answer if isinstance(answer, dict) else {})
        if running is not None and running[0] == who:
            checks.answer_conforms(exchange, "session-start")  # idempotent success or a refusal: both allowed
        elif running is not None:
            _code(exchange, "session-start", "session-start.occupied", 320)
        elif held is not None and who not in held.holders:
            _code(exchange, "session-start", "reservation.blocks-others", 323, 320)
        else:
            requirement = "reservation.holders-start" if held else "session-start.success"
            if answer is None:
                cannot_proceed(exchange, self.target, call="session-start", connector=connector,
                               requirement=requirement)
            checks.succeeded(exchange, "session-start", requirement)
            session_id = answer.get("session-id") if isinstance(answer, dict) else None
            self.sessions[connector] = (who, session_id if isinstance(session_id, str) else None)
            if isinstance(answer, dict) and answer.get("is-stoppable") is False:
                self.unstoppable.add(connector)
            if held is not None:  # used up or still held until its end: the spec does not say, so cancel it
                self._cancel(connector)

    @rule(data=st.data())
    def stop(self, data: st.DataObject) -> None:
        self._expire()
        connector = data.draw(self._connectors(), label="connector")
        if connector in self.unsure:
            return
        if connector in self.sessions:
            evco, session_id = self.sessions.pop(connector)
            exchange = self.iut.send(m.session_stop(connector, evco, session_id))
            undecidable = exchange.result_code() in _STOP_NOT_DECIDABLE or connector in self.unstoppable
            if not checks.is_success(exchange) and undecidable:
                checks.answer_conforms(exchange, "session-stop")
                self.unsure.add(connector)  # the session may still run; the ledger stops it at the end
                return
            checks.succeeded(exchange, "session-stop", "session-stop.success")
            self.ledger.sessions = [s for s in self.ledger.sessions if s[0] != connector]
        else:
            _code(self.iut.send(m.session_stop(connector, CUSTOMERS[0], "oioi-harness-no-such-session")),
                  "session-stop", "session-stop.unknown-session", 182)

    @rule(data=st.data(), holders=st.lists(st.sampled_from(CUSTOMERS), min_size=1, max_size=2, unique=True))
    def reserve(self, data: st.DataObject, holders: list[str]) -> None:
        self._expire()
        connector = data.draw(self._connectors(), label="connector")
        taken = connector in self.sessions or connector in self.reservations
        reserved = any(set(holders) & r.holders for r in self.reservations.values())
        charging = any(s[0] in holders for s in self.sessions.values())
        if connector in self.unsure or (not taken and not reserved and charging):
            return
        exchange = self.ledger.send_reservation(connector, *holders)
        if taken:
            _code(exchange, "reservation-start", "reservation-start.already-reserved", 323, 320)
        elif reserved:
            _code(exchange, "reservation-start", "reservation-start.evco-has-reservation", 194)
        else:
            if not checks.is_success(exchange):
                cannot_proceed(exchange, self.target, call="reservation-start", connector=connector,
                               requirement="reservation-start.success")
            checks.succeeded(exchange, "reservation-start", "reservation-start.success")
            end = ((exchange.json() or {}).get("reservation-start") or {}).get("end")
            self.reservations[connector] = _Reservation(set(holders), checks.instant(end))

    @rule(who=st.sampled_from(CUSTOMERS))
    def cancel(self, who: str) -> None:
        self._expire()
        exchange = self.iut.send(m.reservation_stop(who))
        held = [c for c, r in self.reservations.items() if who in r.holders]
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
def test_cpo_behaves_like_the_model(target: Target, iut: Iut) -> None:
    _known_connectors(target, 2)
    machine = type("CpoSessions", (_CpoModel,), {"iut": iut, "target": target})
    _run(machine, target)


class _EmpModel(RuleBasedStateMachine):
    """An EMP's view: which partner posted which connector, which CDR is ongoing.

    The CDRs name a customer the EMP knows (the active --rfid UID); at most one session is ongoing at a time
    and each lies wholly before the ones posted earlier (`_messages.session_post`), so no two overlap. A
    refused station or first CDR of the harness makes the run inconclusive: the EMP may not know the
    harness's operator (cpo/poi.rst) or customer.
    """

    iut: Iut
    target: Target

    serial: Iterator[int]
    slots: Iterator[int]  # the time slot of each CDR session of the whole check (`_messages.session_post`)

    def __init__(self) -> None:
        super().__init__()
        self.owner: dict[str, str] = {}
        self.ongoing: list[tuple[str, int]] = []  # the session-id and time slot of the ongoing CDR
        self.posted: list[tuple[str, list[str], str]] = []  # station id, its connectors, the partner
        self.run, self.count = next(self.serial), 0

    def teardown(self) -> None:
        """Soft-delete every station the run posted (calls/station_post.rst, ``deleted``)."""
        for name, connectors, partner in self.posted:
            self.iut.send(m.station_post(name, connectors, partner, deleted=True))

    def _unique(self, kind: str) -> str:
        """An id no other step, run or seed uses (and the same one for the same seed)."""
        self.count += 1
        return f"oioi-harness-{self.target.seed}-{kind}-{self.run}-{self.count}"

    @rule(mine=st.booleans())
    def post_station(self, mine: bool) -> None:
        partner = self.target.partner if mine else self.target.other_partner
        name = self._unique("station")
        connectors = [f"DE*OIO*E{self.target.seed % 10**8:08d}M{self.run}N{self.count}*{k}" for k in (1, 2)]
        exchange = self.iut.send(m.station_post(name, connectors, partner))
        if checks.is_success(exchange):
            self.posted.append((name, connectors, partner))
            self.owner.update(dict.fromkeys(connectors, partner))
        if (reason := station_refused(exchange, partner, self.target)) is not None and mine:
            raise Inconclusive(None, reason)

    @rule(data=st.data(), status=st.sampled_from(["Available", "Occupied", "Offline", "Reserved", "Unknown"]))
    def post_status(self, data: st.DataObject, status: str) -> None:
        connector = data.draw(st.sampled_from([m.UNKNOWN_CONNECTOR, *sorted(self.owner)]), label="connector")
        exchange = self.iut.send(m.connector_post_status(connector, status, self.target.partner))
        owner = self.owner.get(connector)
        note(f"{connector} posted by {owner!r}")
        if owner == self.target.partner:
            checks.succeeded(exchange, "connector-post-status", "connector-post-status.known")
        elif owner is None:
            _code(exchange, "connector-post-status", "connector-post-status.unknown-connector", 181)
        else:
            _code(exchange, "connector-post-status", "connector-post-status.other-partner", 181, 211)

    @rule()
    def post_cdr(self) -> None:
        if not any(p == self.target.partner for p in self.owner.values()):
            self.post_station(True)  # a CPO sends CDRs of its own connectors, posted before
        mine = [c for c, p in self.owner.items() if p == self.target.partner]
        update = bool(self.ongoing)
        session_id, slot = self.ongoing.pop() if update else (self._unique("cdr"), next(self.slots))
        exchange = self.iut.send(m.session_post(session_id, sorted(mine)[0], self.target.partner, finished=update,
                                                customer=customer(self.target), slot=slot))
        if update:
            checks.succeeded(exchange, "session-post", "session-post.update")
        else:
            cdr_refused(exchange, self.target, "session-post.update")
            self.ongoing.append((session_id, slot))

    @rule(state=st.sampled_from(["active", "inactive", "unknown"]))
    def verify(self, state: str) -> None:
        exchange = self.iut.send(m.rfid_verify(self.target.rfids[state]))
        verify_rfid(exchange, self.target, state)


@pytest.mark.role("emp")
@pytest.mark.requirement(
    "connector-post-status.known", "connector-post-status.unknown-connector", "connector-post-status.other-partner",
    "session-post.update", "rfid-verify.active", "rfid-verify.inactive", "rfid-verify.unknown",
    "rfid-verify.unknown-code",
)
def test_emp_behaves_like_the_model(target: Target, iut: Iut) -> None:
    machine = type("EmpPartners", (_EmpModel,), {"iut": iut, "target": target, "serial": itertools.count(),
                                                 "slots": itertools.count(1)})
    _run(machine, target)
