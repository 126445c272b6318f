"""What a CPO answers to remote starts, stops, reservations and RFID whitelists.

cpo/remote_start.rst, cpo/reservation.rst, cpo/rfid_start.rst and the call files. Each
check works on the IUT's own connectors (``--connector-id``) and leaves the IUT as it
found it: whatever it started or reserved is stopped (with the session-id) or cancelled
in the fixture's teardown, also when the check fails or is not run. A check that cannot
get a free connector is not-run; a refusal the call lists (321 "No EV connected", 330 …)
where the check needs a success makes it inconclusive, never a FAIL.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest

from conformance import checks
from conformance._exchange import Exchange, Iut
from conformance._failures import Inconclusive, Nonconformance
from conformance._target import Target
from conformance.suite import _messages as m

pytestmark = pytest.mark.role("cpo")

# Refusals a call lists for conditions at the station or the partner that the harness cannot set up
# (no EV plugged in, an EVSE error or timeout, a connector that cannot be reserved, the harness's own
# customers unknown to the CPO): allowed behaviour, so a check that needs a success is inconclusive.
_NOT_AUTHENTICATED = "the CPO did not accept the harness's EVCO ID"
NOT_DECIDABLE = {
    102: "a system timeout",
    140: _NOT_AUTHENTICATED,
    144: _NOT_AUTHENTICATED,
    145: _NOT_AUTHENTICATED,
    190: _NOT_AUTHENTICATED,
    191: "the harness's EVCO ID is unknown to the CPO",
    302: "a CPO timeout",
    310: "an EVSE error",
    312: "an EVSE timeout",
    321: "no EV is connected to the EVSE",
    330: "the EVSE does not support reservations",
    402: "a hub timeout",
}
BUSY = (320, 323)  # the connector is in use or reserved: the check cannot start


class Ledger:
    """What a check started and reserved on the IUT, undone in its teardown."""

    def __init__(self, iut: Iut) -> None:
        self.iut = iut
        self.sessions: list[tuple[str, str, str | None]] = []  # connector, EVCO ID, session-id
        self.reservations: list[list[tuple[str, str]]] = []  # each reservation's (identifier-type, identifier)

    def started(self, connector: str, evco: str, answer: Any) -> None:
        """A session runs at ``connector`` for ``evco``; ``answer`` is the session-start answer's object."""
        session_id = answer.get("session-id") if isinstance(answer, dict) else None
        self.sessions.append((connector, evco, session_id if isinstance(session_id, str) and session_id else None))

    def reserved(self, *holders: str, rfid: str | None = None) -> None:
        self.reservations.append([("evco-id", h) for h in holders] + ([("rfid", rfid)] if rfid else []))

    def send_start(self, connector: str, evco: str) -> Exchange:
        """Send a session-start; the session it started (a success) is recorded, to be stopped."""
        exchange = self.iut.send(m.session_start(connector, evco))
        if checks.is_success(exchange):
            self.started(connector, evco, (exchange.json() or {}).get("session-start"))
        return exchange

    def send_reservation(self, connector: str, *holders: str, rfid: str | None = None) -> Exchange:
        """Send a reservation-start; the reservation it made (a success) is recorded, to be cancelled."""
        exchange = self.iut.send(m.reservation_start(connector, *holders, rfid=rfid))
        if checks.is_success(exchange):
            self.reserved(*holders, rfid=rfid)
        return exchange

    def undo(self) -> None:
        """Stop every session with its session-id; cancel every reservation by one identifier that works."""
        for connector, evco, session_id in reversed(self.sessions):
            self.iut.send(m.session_stop(connector, evco, session_id))
        for identifiers in self.reservations:
            for kind, identifier in identifiers:
                if checks.is_success(self.iut.send(m.reservation_stop(identifier, kind))):
                    break
        self.sessions.clear()
        self.reservations.clear()


def _known_connectors(target: Target, need: int) -> list[str]:
    """``need`` connectors of the CPO that the preflight did not find unknown (not-run / inconclusive else)."""
    if len(target.connectors) < need:
        pytest.skip(f"needs {need} connector(s) of the CPO: give --connector-id" + " twice" * (need > 1))
    known = [c for c in target.connectors if c not in target.unknown_connectors]
    if len(known) < need:
        unknown = ", ".join(c for c in target.connectors if c in target.unknown_connectors)
        raise Inconclusive(None, f"the IUT does not know {unknown}: check --connector-id or the declaration")
    return known[:need]


@pytest.fixture
def ledger(iut: Iut) -> Iterator[Ledger]:
    """What the check starts and reserves, stopped and cancelled afterwards whatever the check's outcome."""
    book = Ledger(iut)
    try:
        yield book
    finally:
        book.undo()


@pytest.fixture
def connector(target: Target, ledger: Ledger) -> str:
    """A connector of the CPO (everything the check starts on it is undone by ``ledger``)."""
    return _known_connectors(target, 1)[0]


@pytest.fixture
def two_connectors(target: Target, ledger: Ledger) -> tuple[str, str]:
    first, second = _known_connectors(target, 2)
    return first, second


def cannot_proceed(exchange: Exchange, target: Target, *, call: str, connector: str,
                   requirement: str | None) -> NoReturn:
    """A start or reservation that did not succeed: not-run, inconclusive, or (``requirement``) a FAIL.

    Only a refusal no station condition explains fails ``requirement``, the check that needs the
    success; every other check that needed it is not-run.
    """
    checks.answer_conforms(exchange, call)
    code = exchange.result_code()
    seen = f"{call} on {connector} answered HTTP {exchange.status} with result code {code!r}"
    if connector in target.unknown_connectors:
        raise Inconclusive(requirement, f"the IUT does not know {connector}: check --connector-id or the declaration")
    if code in BUSY:
        pytest.skip(f"needs a free connector: {seen} (in use or reserved); free it and run again")
    if code in NOT_DECIDABLE and requirement is not None:
        raise Inconclusive(requirement, f"{seen}: {NOT_DECIDABLE[code]}, which calls/"
                                        f"{call.replace('-', '_')}.rst allows; a success was needed to judge")
    if requirement is not None:
        checks.succeeded(exchange, call, requirement)
    pytest.skip(f"needs a successful {call}: {seen}")


def start(ledger: Ledger, target: Target, *, connector: str, evco: str,
          requirement: str | None = None) -> tuple[Exchange, dict[str, Any]]:
    """A session-start that must succeed for the check to go on (``requirement``: the one judged by it)."""
    exchange = ledger.send_start(connector, evco)
    if checks.is_success(exchange):
        checks.succeeded(exchange, "session-start", requirement or "session-start.success")
        answer = (exchange.json() or {}).get("session-start")
        return exchange, answer if isinstance(answer, dict) else {}
    cannot_proceed(exchange, target, call="session-start", connector=connector, requirement=requirement)


def reserve(ledger: Ledger, target: Target, *, connector: str, holders: tuple[str, ...], rfid: str | None = None,
            requirement: str | None = None) -> Exchange:
    """A reservation-start that must succeed for the check to go on (``requirement``: the one judged by it)."""
    exchange = ledger.send_reservation(connector, *holders, rfid=rfid)
    if checks.is_success(exchange):
        checks.succeeded(exchange, "reservation-start", requirement or "reservation-start.success")
        return exchange
    cannot_proceed(exchange, target, call="reservation-start", connector=connector, requirement=requirement)


@pytest.mark.requirement("session-start.unknown-connector")
def test_session_start_on_unknown_connector_is_181(target: Target, iut: Iut, ledger: Ledger) -> None:
    unknown = m.unknown_connector(target.connectors)
    checks.refused(ledger.send_start(unknown, m.EVCO[0]), "session-start", "session-start.unknown-connector",
                   codes=(181,), note=f"{unknown} is not a connector of the CPO.")


@pytest.mark.requirement("session-start.success", "session-stop.success")
def test_session_starts_and_stops(target: Target, iut: Iut, ledger: Ledger, connector: str) -> None:
    _, started = start(ledger, target, connector=connector, evco=m.EVCO[0], requirement="session-start.success")
    stop = iut.send(m.session_stop(connector, m.EVCO[0], started.get("session-id")))
    checks.succeeded(stop, "session-stop", "session-stop.success")
    ledger.sessions.clear()
    _, again = start(ledger, target, connector=connector, evco=m.EVCO[1], requirement="session-start.success")
    checks.succeeded(iut.send(m.session_stop(connector, m.EVCO[1], again.get("session-id"))), "session-stop",
                     "session-stop.success", note="A stopped session's connector must be free for the next start.")
    ledger.sessions.clear()


@pytest.mark.requirement("session-start.session-id")
def test_stoppable_session_has_session_id(target: Target, ledger: Ledger, connector: str) -> None:
    exchange, started = start(ledger, target, connector=connector, evco=m.EVCO[0])
    if started.get("is-stoppable") and not started.get("session-id"):
        raise Nonconformance(requirement="session-start.session-id", received=f"{started!r}",
                             expected="a session-id beside is-stoppable: true", exchange=exchange)


@pytest.mark.requirement("session-start.occupied")
def test_second_start_on_occupied_connector_is_refused(target: Target, ledger: Ledger, connector: str) -> None:
    start(ledger, target, connector=connector, evco=m.EVCO[0])
    checks.refused(ledger.send_start(connector, m.EVCO[1]), "session-start", "session-start.occupied", codes=(320,),
                   note=f"{m.EVCO[0]} charges at {connector}.")


@pytest.mark.requirement("session-stop.unknown-session")
def test_stop_of_session_that_does_not_run_is_refused(iut: Iut, connector: str) -> None:
    checks.refused(iut.send(m.session_stop(connector, m.EVCO[0], "oioi-harness-no-such-session")), "session-stop",
                   "session-stop.unknown-session", codes=(182,), note=f"No session runs at {connector}.")


@pytest.mark.requirement("session-stop.unknown-connector")
def test_session_stop_on_unknown_connector_is_181(target: Target, iut: Iut) -> None:
    unknown = m.unknown_connector(target.connectors)
    checks.refused(iut.send(m.session_stop(unknown, m.EVCO[0], "oioi-harness-no-such-session")), "session-stop",
                   "session-stop.unknown-connector", codes=(181,), note=f"{unknown} is not a connector of the CPO.")


@pytest.mark.requirement("reservation-start.unknown-connector")
def test_reservation_on_unknown_connector_is_181(target: Target, ledger: Ledger) -> None:
    unknown = m.unknown_connector(target.connectors)
    checks.refused(ledger.send_reservation(unknown, m.EVCO[0]), "reservation-start",
                   "reservation-start.unknown-connector", codes=(181,),
                   note=f"{unknown} is not a connector of the CPO.")


@pytest.mark.requirement("reservation-start.success")
def test_reservation_ends_in_the_future(target: Target, ledger: Ledger, connector: str) -> None:
    sent = datetime.datetime.now(datetime.UTC)
    exchange = reserve(ledger, target, connector=connector, holders=(m.EVCO[0],),
                       requirement="reservation-start.success")
    end = ((exchange.json() or {}).get("reservation-start") or {}).get("end")
    moment = checks.instant(end)
    if moment is None or moment <= sent:
        raise Nonconformance(requirement="reservation-start.success", received=f"end {end!r}",
                             expected=f"an RFC 3339 time with offset, later than the request ({sent.isoformat()})",
                             exchange=exchange)


@pytest.mark.requirement("reservation-start.already-reserved")
def test_second_reservation_is_323(target: Target, ledger: Ledger, connector: str) -> None:
    reserve(ledger, target, connector=connector, holders=(m.EVCO[0],))
    checks.refused(ledger.send_reservation(connector, m.EVCO[1]), "reservation-start",
                   "reservation-start.already-reserved", codes=(323, 320))


@pytest.mark.requirement("reservation.blocks-others")
def test_reservation_blocks_other_customers(target: Target, ledger: Ledger, connector: str) -> None:
    reserve(ledger, target, connector=connector, holders=(m.EVCO[0],))
    checks.refused(ledger.send_start(connector, m.EVCO[2]), "session-start", "reservation.blocks-others",
                   codes=(323, 320))


@pytest.mark.requirement("reservation.holders-start")
def test_every_holder_of_a_reservation_can_start(target: Target, ledger: Ledger, connector: str) -> None:
    reserve(ledger, target, connector=connector, holders=(m.EVCO[0], m.EVCO[1]))
    exchange = ledger.send_start(connector, m.EVCO[1])
    if checks.is_success(exchange):
        return
    if exchange.result_code() in NOT_DECIDABLE:
        cannot_proceed(exchange, target, call="session-start", connector=connector,
                       requirement="reservation.holders-start")
    checks.succeeded(exchange, "session-start", "reservation.holders-start",
                     note=f"{m.EVCO[1]} is the second EVCO ID of the reservation.")


@pytest.mark.requirement("reservation-start.evco-has-reservation")
def test_evco_with_active_reservation_gets_194(target: Target, ledger: Ledger,
                                               two_connectors: tuple[str, str]) -> None:
    first, second = two_connectors
    reserve(ledger, target, connector=first, holders=(m.EVCO[0],))
    checks.refused(ledger.send_reservation(second, m.EVCO[0]), "reservation-start",
                   "reservation-start.evco-has-reservation", codes=(194,))


@pytest.mark.requirement("reservation-stop.any-identifier")
@pytest.mark.parametrize("by", ["second-evco-id", "rfid"])
def test_any_identifier_cancels_the_reservation(target: Target, iut: Iut, ledger: Ledger, connector: str,
                                                by: str) -> None:
    reserve(ledger, target, connector=connector, holders=(m.EVCO[0], m.EVCO[1]), rfid=m.UIDS[0])
    cancel = m.reservation_stop(m.EVCO[1]) if by == "second-evco-id" else m.reservation_stop(m.UIDS[0], "rfid")
    checks.succeeded(iut.send(cancel), "reservation-stop", "reservation-stop.any-identifier")
    ledger.reservations.clear()
    exchange = ledger.send_reservation(connector, m.EVCO[2])
    if not checks.is_success(exchange) and exchange.result_code() in NOT_DECIDABLE:  # e.g. 191: an unknown EVCO ID
        cannot_proceed(exchange, target, call="reservation-start", connector=connector,
                       requirement="reservation-stop.any-identifier")
    checks.succeeded(exchange, "reservation-start", "reservation-stop.any-identifier",
                     note="After the cancellation the connector must be free to reserve again.")


@pytest.mark.requirement("reservation-stop.unknown")
def test_reservation_stop_without_reservation_is_189(iut: Iut) -> None:
    checks.refused(iut.send(m.reservation_stop("DE*OIO*H99999*9")), "reservation-stop", "reservation-stop.unknown",
                   codes=(189,), note="DE*OIO*H99999*9 holds no reservation.")


@pytest.fixture
def whitelist(target: Target, iut: Iut) -> Iterator[None]:
    """The harness partner's whitelist, emptied again after the check (calls/rfid_post.rst replaces it)."""
    try:
        yield
    finally:
        iut.send(m.rfid_post([], target.partner))


def _post(iut: Iut, target: Target, uids: list[str]) -> tuple[Exchange, Any]:
    exchange = iut.send(m.rfid_post(uids, target.partner))
    checks.succeeded(exchange, "rfid-post", "rfid-post.answer")
    return exchange, ((exchange.json() or {}).get("rfid") or {}).get("processed")


def _expect_processed(exchange: Exchange, processed: Any, *, expected: int, requirement: str, why: str) -> None:
    if processed != expected:
        raise Nonconformance(requirement=requirement, received=f"processed {processed!r}",
                             expected=f"processed {expected} ({why})", exchange=exchange)


@pytest.mark.requirement("rfid-post.processed")
def test_processed_counts_new_uids(target: Target, iut: Iut, whitelist: None) -> None:
    _post(iut, target, [m.UIDS[0], m.UIDS[1]])
    exchange, processed = _post(iut, target, [m.UIDS[0], m.UIDS[1], m.UIDS[2]])
    _expect_processed(exchange, processed, expected=1, requirement="rfid-post.processed",
                      why=f"only {m.UIDS[2]} is new")


@pytest.mark.requirement("rfid-post.replaces-whitelist")
def test_rfid_post_replaces_the_whitelist(target: Target, iut: Iut, whitelist: None) -> None:
    _post(iut, target, [m.UIDS[0], m.UIDS[1]])
    _post(iut, target, [m.UIDS[1]])
    exchange, processed = _post(iut, target, [m.UIDS[0], m.UIDS[1]])
    _expect_processed(exchange, processed, expected=1, requirement="rfid-post.replaces-whitelist",
                      why=f"{m.UIDS[0]} was left out of the previous post, so it was removed and is new again")
