"""What an EMP answers to stations, statuses, CDRs and RFID verification.

cpo/poi.rst, cpo/cdr.rst, cpo/rfid_start.rst, testaccount.rst and the call files. The
harness plays the CPO: it posts its own stations (ids unique to the run's seed) before
it posts their statuses.
"""

from __future__ import annotations

import re

import pytest

from conformance import checks
from conformance._exchange import Iut
from conformance._failures import Nonconformance
from conformance._target import Target
from conformance.suite import _messages as m
from oioi import _schemas

pytestmark = pytest.mark.role("emp")


def _station(oioi: Target, iut: Iut, name: str, partner: str) -> list[str]:
    """Post a harness station (two connectors) as ``partner``; its connectors' EVSE IDs."""
    connectors = [f"DE*OIO*E{oioi.seed % 10**8:08d}{name}*{k}" for k in (1, 2)]
    exchange = iut.send(m.station_post(f"oioi-harness-{oioi.seed}-{name}", connectors, partner))
    if partner == oioi.partner:
        checks.succeeded(exchange, "station-post", "station-post.answer")
    return connectors


@pytest.mark.requirement("connector-post-status.unknown-connector")
def test_status_of_never_posted_connector_is_181(oioi: Target, iut: Iut) -> None:
    exchange = iut.send(m.connector_post_status(m.UNKNOWN_CONNECTOR, "Available", oioi.partner))
    checks.answer_conforms(exchange, "connector-post-status")
    checks.result_code_is(exchange, "connector-post-status.unknown-connector", (181,))


@pytest.mark.requirement("connector-post-status.known")
def test_status_of_own_connector_is_accepted(oioi: Target, iut: Iut) -> None:
    connectors = _station(oioi, iut, "S1", oioi.partner)
    for status in ("Occupied", "Available"):
        exchange = iut.send(m.connector_post_status(connectors[0], status, oioi.partner))
        checks.succeeded(exchange, "connector-post-status", "connector-post-status.known",
                         note=f"{connectors[0]} was posted by {oioi.partner} in a station-post just before.")


@pytest.mark.requirement("connector-post-status.other-partner")
def test_status_of_another_partners_connector_is_refused(oioi: Target, iut: Iut) -> None:
    connectors = _station(oioi, iut, "S2", oioi.other_partner)
    exchange = iut.send(m.connector_post_status(connectors[0], "Occupied", oioi.partner))
    checks.answer_conforms(exchange, "connector-post-status")
    checks.result_code_is(exchange, "connector-post-status.other-partner", (181, 211),
                          note=f"{connectors[0]} was posted by partner {oioi.other_partner!r}, not {oioi.partner!r}.")


@pytest.mark.requirement("session-post.update")
def test_cdr_update_of_ongoing_session_is_accepted(oioi: Target, iut: Iut) -> None:
    connectors = _station(oioi, iut, "S3", oioi.partner)
    session_id = f"oioi-harness-{oioi.seed}-cdr-1"
    ongoing = iut.send(m.session_post(session_id, connectors[0], oioi.partner, finished=False))
    checks.succeeded(ongoing, "session-post", "session-post.update")
    finished = iut.send(m.session_post(session_id, connectors[0], oioi.partner, finished=True))
    checks.succeeded(finished, "session-post", "session-post.update",
                     note="cpo/cdr.rst: a session may be posted while ongoing, then again when it ends.")


EVCO_ID = re.compile(_schemas.resolve(f"{_schemas.SCHEMA_BASE}common/definitions.json#/$defs/evco-id")["pattern"])


@pytest.mark.requirement("rfid-verify.active")
def test_active_uid_is_verified(oioi: Target, iut: Iut) -> None:
    exchange = iut.send(m.rfid_verify(oioi.rfids["active"]))
    checks.succeeded(exchange, "rfid-verify", "rfid-verify.active", note=f"{oioi.rfids['active']} is active.")
    evco = (exchange.json() or {}).get("evco-id")
    if not isinstance(evco, str) or not EVCO_ID.match(evco):
        raise Nonconformance(requirement="rfid-verify.active", received=f"evco-id {evco!r}",
                             expected="the EVCO ID of the UID's owner (glossary.rst format)", exchange=exchange)


@pytest.mark.requirement("rfid-verify.inactive")
def test_inactive_uid_is_refused(oioi: Target, iut: Iut) -> None:
    exchange = iut.send(m.rfid_verify(oioi.rfids["inactive"]))
    checks.answer_conforms(exchange, "rfid-verify")
    checks.result_code_is(exchange, "rfid-verify.inactive", (192, 193),
                          note=f"{oioi.rfids['inactive']} is inactive.")


@pytest.mark.requirement("rfid-verify.unknown")
def test_unknown_uid_is_191(oioi: Target, iut: Iut) -> None:
    exchange = iut.send(m.rfid_verify(oioi.rfids["unknown"]))
    checks.answer_conforms(exchange, "rfid-verify")
    checks.result_code_is(exchange, "rfid-verify.unknown", (191,), note=f"{oioi.rfids['unknown']} does not exist.")
