"""What a CPO answers to remote starts, stops, reservations and RFID whitelists.

cpo/remote_start.rst, cpo/reservation.rst, cpo/rfid_start.rst and the call files. Each
check starts from free connectors (the IUT's own, from ``--connector-id``) and leaves
them free.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest

from conformance import checks
from conformance._exchange import Exchange, Iut
from conformance._failures import Nonconformance
from conformance._target import Target
from conformance.suite import _messages as m

pytestmark = pytest.mark.role("cpo")


def _free(oioi: Target, iut: Iut) -> None:
    """Stop whatever the harness's customers left running or reserved (outcomes ignored)."""
    for connector in oioi.connectors[:2]:
        for evco in m.EVCO[:2]:
            iut.send(m.session_stop(connector, evco))
    for evco in m.EVCO:
        iut.send(m.reservation_stop(evco))
    iut.send(m.reservation_stop(m.UIDS[0], "rfid"))


@pytest.fixture
def connector(oioi: Target, iut: Iut) -> Iterator[str]:
    """A connector of the CPO, free before and after the check."""
    if not oioi.connectors:
        pytest.skip("needs a connector of the CPO: give --connector-id")
    _free(oioi, iut)
    yield oioi.connectors[0]
    _free(oioi, iut)


@pytest.fixture
def two_connectors(oioi: Target, connector: str) -> tuple[str, str]:
    if len(oioi.connectors) < 2:
        pytest.skip("needs two connectors of the CPO: give --connector-id twice")
    return connector, oioi.connectors[1]


def start(iut: Iut, connector: str, evco: str) -> tuple[Exchange, dict[str, Any]]:
    """session-start that must succeed (session-start.success)."""
    exchange = iut.send(m.session_start(connector, evco))
    checks.succeeded(exchange, "session-start", "session-start.success")
    return exchange, (exchange.json() or {}).get("session-start") or {}


def reserve(iut: Iut, connector: str, *holders: str, rfid: str | None = None) -> Exchange:
    """reservation-start that must succeed (reservation-start.success)."""
    exchange = iut.send(m.reservation_start(connector, *holders, rfid=rfid))
    checks.succeeded(exchange, "reservation-start", "reservation-start.success")
    return exchange


def refused(exchange: Exchange, call: str, requirement: str, *codes: int) -> None:
    checks.answer_conforms(exchange, call)
    checks.result_code_is(exchange, requirement, codes)


@pytest.mark.requirement("session-start.unknown-connector")
def test_session_start_on_unknown_connector_is_181(iut: Iut) -> None:
    refused(iut.send(m.session_start(m.UNKNOWN_CONNECTOR, m.EVCO[0])), "session-start",
            "session-start.unknown-connector", 181)


@pytest.mark.requirement("session-start.success", "session-stop.success")
def test_session_starts_and_stops(iut: Iut, connector: str) -> None:
    _, started = start(iut, connector, m.EVCO[0])
    stop = iut.send(m.session_stop(connector, m.EVCO[0], started.get("session-id")))
    checks.succeeded(stop, "session-stop", "session-stop.success")
    _, again = start(iut, connector, m.EVCO[1])
    checks.succeeded(iut.send(m.session_stop(connector, m.EVCO[1], again.get("session-id"))), "session-stop",
                     "session-stop.success", note="A stopped session's connector must be free for the next start.")


@pytest.mark.requirement("session-start.session-id")
def test_stoppable_session_has_session_id(iut: Iut, connector: str) -> None:
    exchange, started = start(iut, connector, m.EVCO[0])
    if started.get("is-stoppable") and not started.get("session-id"):
        raise Nonconformance(requirement="session-start.session-id", received=f"{started!r}",
                             expected="a session-id beside is-stoppable: true", exchange=exchange)


@pytest.mark.requirement("session-start.occupied")
def test_second_start_on_occupied_connector_is_refused(iut: Iut, connector: str) -> None:
    start(iut, connector, m.EVCO[0])
    refused(iut.send(m.session_start(connector, m.EVCO[1])), "session-start", "session-start.occupied", 320)


@pytest.mark.requirement("session-stop.unknown-session")
def test_stop_of_session_that_does_not_run_is_refused(iut: Iut, connector: str) -> None:
    refused(iut.send(m.session_stop(connector, m.EVCO[0], "oioi-harness-no-such-session")), "session-stop",
            "session-stop.unknown-session", 182)


@pytest.mark.requirement("session-stop.unknown-connector")
def test_session_stop_on_unknown_connector_is_181(iut: Iut) -> None:
    refused(iut.send(m.session_stop(m.UNKNOWN_CONNECTOR, m.EVCO[0])), "session-stop",
            "session-stop.unknown-connector", 181)


@pytest.mark.requirement("reservation-start.unknown-connector")
def test_reservation_on_unknown_connector_is_181(iut: Iut) -> None:
    refused(iut.send(m.reservation_start(m.UNKNOWN_CONNECTOR, m.EVCO[0])), "reservation-start",
            "reservation-start.unknown-connector", 181)


@pytest.mark.requirement("reservation-start.success")
def test_reservation_ends_in_the_future(iut: Iut, connector: str) -> None:
    exchange = reserve(iut, connector, m.EVCO[0])
    end = ((exchange.json() or {}).get("reservation-start") or {}).get("end", "")
    try:
        moment = datetime.datetime.fromisoformat(end)
    except (TypeError, ValueError):
        moment = None
    if moment is None or moment.tzinfo is None or moment <= datetime.datetime.now(datetime.UTC):
        raise Nonconformance(requirement="reservation-start.success", received=f"end {end!r}",
                             expected="an RFC 3339 time with offset, in the future", exchange=exchange)


@pytest.mark.requirement("reservation-start.already-reserved")
def test_second_reservation_is_323(iut: Iut, connector: str) -> None:
    reserve(iut, connector, m.EVCO[0])
    refused(iut.send(m.reservation_start(connector, m.EVCO[1])), "reservation-start",
            "reservation-start.already-reserved", 323)


@pytest.mark.requirement("reservation.blocks-others")
def test_reservation_blocks_other_customers(iut: Iut, connector: str) -> None:
    reserve(iut, connector, m.EVCO[0])
    refused(iut.send(m.session_start(connector, m.EVCO[2])), "session-start", "reservation.blocks-others", 323)


@pytest.mark.requirement("reservation.holders-start")
def test_every_holder_of_a_reservation_can_start(iut: Iut, connector: str) -> None:
    reserve(iut, connector, m.EVCO[0], m.EVCO[1])
    exchange = iut.send(m.session_start(connector, m.EVCO[1]))
    checks.succeeded(exchange, "session-start", "reservation.holders-start",
                     note=f"{m.EVCO[1]} is the second EVCO ID of the reservation.")


@pytest.mark.requirement("reservation-start.evco-has-reservation")
def test_evco_with_active_reservation_gets_194(iut: Iut, two_connectors: tuple[str, str]) -> None:
    first, second = two_connectors
    reserve(iut, first, m.EVCO[0])
    refused(iut.send(m.reservation_start(second, m.EVCO[0])), "reservation-start",
            "reservation-start.evco-has-reservation", 194)


@pytest.mark.requirement("reservation-stop.any-identifier")
@pytest.mark.parametrize("by", ["second-evco-id", "rfid"])
def test_any_identifier_cancels_the_reservation(iut: Iut, connector: str, by: str) -> None:
    reserve(iut, connector, m.EVCO[0], m.EVCO[1], rfid=m.UIDS[0])
    cancel = m.reservation_stop(m.EVCO[1]) if by == "second-evco-id" else m.reservation_stop(m.UIDS[0], "rfid")
    checks.succeeded(iut.send(cancel), "reservation-stop", "reservation-stop.any-identifier")
    exchange = iut.send(m.reservation_start(connector, m.EVCO[2]))
    checks.succeeded(exchange, "reservation-start", "reservation-stop.any-identifier",
                     note="After the cancellation the connector must be free to reserve again.")


@pytest.mark.requirement("reservation-stop.unknown")
def test_reservation_stop_without_reservation_is_189(iut: Iut) -> None:
    refused(iut.send(m.reservation_stop("DE*OIO*H99999*9")), "reservation-stop", "reservation-stop.unknown", 189)


def _post(iut: Iut, oioi: Target, uids: list[str]) -> tuple[Exchange, Any]:
    exchange = iut.send(m.rfid_post(uids, oioi.partner))
    checks.succeeded(exchange, "rfid-post", "rfid-post.answer")
    return exchange, ((exchange.json() or {}).get("rfid") or {}).get("processed")


def _expect_processed(exchange: Exchange, processed: Any, expected: int, requirement: str, why: str) -> None:
    if processed != expected:
        raise Nonconformance(requirement=requirement, received=f"processed {processed!r}",
                             expected=f"processed {expected} ({why})", exchange=exchange)


@pytest.mark.requirement("rfid-post.processed")
def test_processed_counts_new_uids(oioi: Target, iut: Iut) -> None:
    _post(iut, oioi, [m.UIDS[0], m.UIDS[1]])
    exchange, processed = _post(iut, oioi, [m.UIDS[0], m.UIDS[1], m.UIDS[2]])
    _expect_processed(exchange, processed, 1, "rfid-post.processed", f"only {m.UIDS[2]} is new")


@pytest.mark.requirement("rfid-post.replaces-whitelist")
def test_rfid_post_replaces_the_whitelist(oioi: Target, iut: Iut) -> None:
    _post(iut, oioi, [m.UIDS[0], m.UIDS[1]])
    _post(iut, oioi, [m.UIDS[1]])
    exchange, processed = _post(iut, oioi, [m.UIDS[0], m.UIDS[1]])
    _expect_processed(exchange, processed, 1, "rfid-post.replaces-whitelist",
                      f"{m.UIDS[0]} was left out of the previous post, so it was removed and is new again")
