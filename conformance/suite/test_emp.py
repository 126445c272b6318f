"""What an EMP answers to stations, statuses, CDRs and RFID verification.

cpo/poi.rst, cpo/cdr.rst, cpo/rfid_start.rst, testaccount.rst and the call files. The
harness plays the CPO: it posts its own stations (ids unique to the run's seed) before
it posts their statuses, and soft-deletes them (``deleted: true``) after the check. A
UID the preflight found not answered as its --rfid state makes its checks inconclusive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest

from conformance import checks
from conformance._exchange import Exchange, Iut
from conformance._failures import Inconclusive, Nonconformance
from conformance._target import Target
from conformance.suite import _messages as m
from oioi import errata

pytestmark = pytest.mark.role("emp")

Station = Callable[[str, str], list[str]]


def station_refused(exchange: Exchange, partner: str, target: Target) -> str | None:
    """Why the EMP's refusal of a harness station makes the checks that needed it inconclusive (None: accepted).

    cpo/poi.rst: "Before the CPO pushes their first station, they need to inform the EMP about their internal
    identifiers for all given CPOs" — outside OIOI, so an EMP may refuse (183, 100, 211, 230 …) a station of
    an operator or a partner identifier nobody announced to it. A refusal is judged only as an answer.
    """
    if checks.is_success(exchange):
        return None
    checks.answer_conforms(exchange, "station-post")
    whose = "the harness's" if partner == target.partner else f"the second partner identifier's ({partner!r})"
    return (f"the EMP refused {whose} station of operator {m.CPO_ID} (HTTP {exchange.status}, result code "
            f"{exchange.result_code()!r}): announce the operator {m.CPO_ID} and the partner identifier to the EMP")


@pytest.fixture
def station(target: Target, iut: Iut) -> Iterator[Station]:
    """Post a harness station (two connectors) as a partner; every one posted is soft-deleted afterwards.

    A refused station makes the check inconclusive (`station_refused`).
    """
    posted: list[tuple[str, list[str], str]] = []

    def post(name: str, partner: str) -> list[str]:
        connectors = [f"{m.CPO_ID}*E{target.seed % 10**8:08d}{name}*{k}" for k in (1, 2)]
        station_id = f"oioi-harness-{target.seed}-{name}"
        exchange = iut.send(m.station_post(station_id, connectors, partner))
        if checks.is_success(exchange):
            posted.append((station_id, connectors, partner))
        if (reason := station_refused(exchange, partner, target)) is not None:
            raise Inconclusive(None, reason)
        return connectors

    try:
        yield post
    finally:
        for station_id, connectors, partner in posted:
            iut.send(m.station_post(station_id, connectors, partner, deleted=True))


@pytest.mark.requirement("connector-post-status.unknown-connector")
def test_status_of_never_posted_connector_is_181(target: Target, iut: Iut) -> None:
    exchange = iut.send(m.connector_post_status(m.UNKNOWN_CONNECTOR, "Available", target.partner))
    checks.refused(exchange, "connector-post-status", "connector-post-status.unknown-connector", codes=(181,),
                   note=f"No station-post announced {m.UNKNOWN_CONNECTOR}.")


@pytest.mark.requirement("connector-post-status.known")
def test_status_of_own_connector_is_accepted(target: Target, iut: Iut, station: Station) -> None:
    connectors = station("S1", target.partner)
    for status in ("Occupied", "Available"):
        exchange = iut.send(m.connector_post_status(connectors[0], status, target.partner))
        checks.succeeded(exchange, "connector-post-status", "connector-post-status.known",
                         note=f"{connectors[0]} was posted by {target.partner} in a station-post just before.")


@pytest.mark.requirement("connector-post-status.other-partner")
def test_status_of_another_partners_connector_is_refused(target: Target, iut: Iut, station: Station) -> None:
    connectors = station("S2", target.other_partner)
    exchange = iut.send(m.connector_post_status(connectors[0], "Occupied", target.partner))
    checks.refused(exchange, "connector-post-status", "connector-post-status.other-partner", codes=(181, 211),
                   note=f"{connectors[0]} was posted by partner {target.other_partner!r}, not {target.partner!r}.")


def customer(target: Target) -> tuple[str, str]:
    """The customer of the harness's CDRs: the active --rfid UID (calls/session_post.rst allows identifier-type
    ``rfid``), a customer the EMP knows — an EMP may refuse CDRs of contracts it did not issue.
    """
    return "rfid", target.rfids["active"]


def cdr_refused(exchange: Exchange, target: Target, requirement: str) -> None:
    """The harness's first CDR of a session was refused: inconclusive (the EMP may not accept this customer)."""
    checks.answer_conforms(exchange, "session-post")
    if not checks.is_success(exchange):
        kind, identifier = customer(target)
        raise Inconclusive(requirement, f"the EMP refused the harness's CDR for {kind} {identifier} (HTTP "
                                        f"{exchange.status}, result code {exchange.result_code()!r}): it may not "
                                        "accept this customer; check --rfid active=…")


@pytest.mark.requirement("session-post.update")
def test_cdr_update_of_ongoing_session_is_accepted(target: Target, iut: Iut, station: Station) -> None:
    connectors = station("S3", target.partner)
    session_id = f"oioi-harness-{target.seed}-cdr-1"
    ongoing = iut.send(m.session_post(session_id, connectors[0], target.partner, finished=False,
                                      customer=customer(target)))
    cdr_refused(ongoing, target, "session-post.update")
    finished = iut.send(m.session_post(session_id, connectors[0], target.partner, finished=True,
                                       customer=customer(target)))
    checks.succeeded(finished, "session-post", "session-post.update",
                     note="cpo/cdr.rst: a session may be posted while ongoing, then again when it ends.")


# glossary.rst gives the EVCO ID's own part six characters; the spec's examples also write nine (ISO 15118
# eMAIDs), so an answer is judged by the lenient form (erratum rfid-verify:response-evco-id-pattern).
EVCO_ID = re.compile(next(e for e in errata() if e.id == "rfid-verify:response-evco-id-pattern"
                          ).accepts["pattern"])


STATES = {"active": "is active", "inactive": "is inactive", "unknown": "does not exist"}


def verify_rfid(exchange: Exchange, target: Target, state: str, *, specific: bool = True) -> None:
    """Judge an rfid-verify of the --rfid UID of ``state`` (calls/rfid_verify.rst, testaccount.rst).

    An active UID succeeds with its owner's EVCO ID; an inactive or unknown one is refused (no success).
    192/193 and 191 are the codes for the case; for an unknown UID (``specific``) another refusal fails
    the SHOULD rfid-verify.unknown-code. A UID the preflight found doubtful: inconclusive.
    """
    uid, requirement = target.rfids[state], f"rfid-verify.{state}"
    if state in target.doubtful_rfids:
        raise Inconclusive(requirement, f"the IUT does not answer {uid} as {state}: check --rfid {state}=… or the "
                                        "declaration")
    note = f"{uid} {STATES[state]} (--rfid {state})."
    if state == "active":
        checks.succeeded(exchange, "rfid-verify", requirement, note=note)
        evco = (exchange.json() or {}).get("evco-id")
        if not isinstance(evco, str) or not EVCO_ID.match(evco):
            raise Nonconformance(requirement=requirement, received=f"evco-id {evco!r}",
                                 expected="the EVCO ID of the UID's owner (glossary.rst format, or the "
                                          "9-character form of the spec's examples)", exchange=exchange)
    elif state == "inactive":
        checks.refused(exchange, "rfid-verify", requirement, codes=(192, 193), note=note)
    else:
        checks.refused(exchange, "rfid-verify", requirement, codes=(191,), note=note,
                       specific="rfid-verify.unknown-code" if specific else None)


@pytest.mark.requirement("rfid-verify.active")
def test_active_uid_is_verified(target: Target, iut: Iut) -> None:
    verify_rfid(iut.send(m.rfid_verify(target.rfids["active"])), target, "active")


@pytest.mark.requirement("rfid-verify.inactive")
def test_inactive_uid_is_refused(target: Target, iut: Iut) -> None:
    verify_rfid(iut.send(m.rfid_verify(target.rfids["inactive"])), target, "inactive")


@pytest.mark.requirement("rfid-verify.unknown")
def test_unknown_uid_is_refused(target: Target, iut: Iut) -> None:
    verify_rfid(iut.send(m.rfid_verify(target.rfids["unknown"])), target, "unknown", specific=False)


@pytest.mark.requirement("rfid-verify.unknown-code")
def test_unknown_uid_is_191(target: Target, iut: Iut) -> None:
    exchange = iut.send(m.rfid_verify(target.rfids["unknown"]))
    if "unknown" in target.doubtful_rfids:
        raise Inconclusive("rfid-verify.unknown-code", f"the IUT does not answer {target.rfids['unknown']} as "
                                                       "unknown: check --rfid unknown=… or the declaration")
    if checks.is_success(exchange):
        pytest.skip("judged by rfid-verify.unknown: the EMP verified the unknown UID")
    verify_rfid(exchange, target, "unknown")
