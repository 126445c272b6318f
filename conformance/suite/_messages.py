"""Requests the harness sends, with realistic values (every one passes our validator before it is sent)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from typing import Any

from oioi.strategies import today

# EVCO IDs and UIDs of the harness's own customers (glossary.rst formats).
EVCO = ("DE*OIO*H00001*1", "DE*OIO*H00002*2", "DE*OIO*H00003*3", "DE*OIO*H00004*4")
UIDS = ("0A1B2C3D", "0A1B2C3D4E5F60", "0A1B2C3D4E5F60718293", "1A2B3C4D")
# The harness's operator: its own stations' EVSE IDs start with it (the station's cpo-id).
CPO_ID = "DE*OIO"
# An EVSE ID no IUT is expected to have: a real country (ISO 3166-1 alpha-2), the harness's operator
# and an outlet nobody has. An unknown connector is an unknown operator or outlet, never a country.
UNKNOWN_CONNECTOR = f"{CPO_ID}*EUNKNOWN000001"
_OPERATOR = re.compile(r"^([A-Za-z]{2}\*?[A-Za-z0-9]{3})(\*?)E")


def unknown_connector(connectors: Sequence[str] = ()) -> str:
    """An EVSE ID of the IUT's own operator (from its first given connector) with an outlet it does not have.

    glossary.rst: "Country Code … CPO identifier … The literal ``E`` … ID of the EVSE": a CPO knows its
    operator prefix, so an unknown outlet under it is the realistic "EVSE not found" (181).
    """
    found = _OPERATOR.match(connectors[0]) if connectors else None
    if found is None:
        return UNKNOWN_CONNECTOR
    candidate = f"{found.group(1)}{found.group(2)}EOIOIUNKNOWN1"
    return candidate if candidate not in connectors else UNKNOWN_CONNECTOR


def _user(evco: str, identifier_type: str = "evco-id") -> dict[str, str]:
    return {"identifier-type": identifier_type, "identifier": evco}


def session_start(connector: str, evco: str) -> dict[str, Any]:
    return {"session-start": {"user": _user(evco), "connector-id": connector}}


def session_stop(connector: str, evco: str, session_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"user": _user(evco), "connector-id": connector}
    if session_id is not None:
        body["session-id"] = session_id
    return {"session-stop": body}


def reservation_start(connector: str, *holders: str, rfid: str | None = None) -> dict[str, Any]:
    identifiers: list[dict[str, str]] = [{"evco-id": evco} for evco in holders]
    if rfid is not None:
        identifiers[0]["rfid"] = rfid
    return {"reservation-start": {"connector-id": connector, "identifier": identifiers}}


def reservation_stop(identifier: str, identifier_type: str = "evco-id") -> dict[str, Any]:
    return {"reservation-stop": {"identifier-type": identifier_type, "identifier": identifier}}


def rfid_post(uids: list[str], partner: str) -> dict[str, Any]:
    return {"rfid-post": {"rfids": uids, "partner-identifier": partner}}


def station(station_id: str, connectors: list[str]) -> dict[str, Any]:
    """A realistic station (calls/station_post.rst) with the given connectors."""
    return {
        "id": station_id,
        "name": "OIOI Harness Teststation",
        "latitude": 52.520008,
        "longitude": 13.404954,
        "address": {"street": "Hauptstr.", "street-number": "12", "city": "Berlin", "zip": "10243",
                    "country": "DE"},
        "contact": {"phone": "+49 30 8122321", "email": "info@example.com"},
        "cpo-id": CPO_ID,
        "is-open-24": True,
        "deleted": False,
        "connectors": [{"id": c, "name": "Type2", "speed": 22.0} for c in connectors],
    }


def station_post(station_id: str, connectors: list[str], partner: str, *, deleted: bool = False) -> dict[str, Any]:
    """A station-post; ``deleted`` soft-deletes a station the harness posted before (its clean-up)."""
    return {"station-post": {"station": station(station_id, connectors) | {"deleted": deleted},
                             "partner-identifier": partner}}


def connector_post_status(connector: str, status: str, partner: str) -> dict[str, Any]:
    return {"connector-post-status": {"connector-id": connector, "status": status, "partner-identifier": partner}}


def _time(minutes_ago: int) -> str:
    """A recent time: CDRs count back from the start of today (UTC), so the same seed sends the same all day."""
    return (today() - datetime.timedelta(minutes=minutes_ago)).isoformat(timespec="seconds")


def session_post(session_id: str, connector: str, partner: str, *, finished: bool,
                 customer: tuple[str, str] = ("evco-id", EVCO[0]), slot: int = 0) -> dict[str, Any]:
    """A CDR: an ongoing session (no stop) or the same session finished (calls/session_post.rst).

    ``customer`` is ``(identifier-type, identifier)``: an EMP may refuse CDRs of contracts it did not issue,
    so the checks pass one it knows (the active --rfid UID, identifier-type ``rfid``). Session ``slot`` runs
    10 minutes, starting 20 + 12 * ``slot`` minutes before the start of today: each later slot lies wholly
    before the earlier ones, so no two sessions overlap, not even one left ongoing ("only one connector …
    can be in use at any one point in time", glossary.rst, EVSE; 2 kWh in 8 minutes fits a 22 kW connector).
    """
    begin = 20 + 12 * slot
    body: dict[str, Any] = {
        "user": _user(customer[1], customer[0]),
        "session-id": session_id,
        "connector-id": connector,
        "session-interval": {"start": _time(begin)},
        "partner-identifier": partner,
    }
    if finished:
        body["session-interval"]["stop"] = _time(begin - 10)
        body["charging-interval"] = {"start": _time(begin - 1), "stop": _time(begin - 9)}
        body["energy-consumed"] = 2.0
    return {"session-post": body}


def rfid_verify(uid: str) -> dict[str, Any]:
    return {"rfid-verify": {"rfid": uid}}


def probe(role: str) -> tuple[str, dict[str, Any]]:
    """A valid request that changes nothing on the IUT (its answer is a refusal, HTTP 200 or 4xx)."""
    if role == "cpo":
        return "reservation-stop", reservation_stop(EVCO[3])
    return "rfid-verify", rfid_verify("0477BD22AA4AAA")
