"""What the mock receives when it plays the CPO (cpo/remote_start.rst, cpo/reservation.rst, cpo/rfid_start.rst).

Like a real CPO it then acts on its own: an accepted session-start makes the connector
``Occupied`` (status pushed), an accepted session-stop makes it ``Available`` and sends the
CDR, a reservation makes it ``Reserved``.
"""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

from mock_server import _outbound
from mock_server._endpoint import Inbound
from mock_server._store import now
from oioi import results

RESERVATION_MINUTES = 15


def _connector(ex: Inbound, evse_id: str) -> Any:
    row = ex.tx.execute("SELECT * FROM connectors WHERE evse_id = ?", (evse_id,)).fetchone()
    if row is None:
        raise results.EvseNotFound(f"This CPO has no connector {evse_id!r}.")
    return row


def _active_reservation(ex: Inbound, evse_id: str) -> Any:
    row = ex.tx.execute("SELECT * FROM reservations WHERE connector_id = ?", (evse_id,)).fetchone()
    if row is not None and row["end_time"] <= now():
        ex.tx.execute("DELETE FROM reservations WHERE connector_id = ?", (evse_id,))
        return None
    return row


def _push_status(ex: Inbound, evse_id: str, status: str) -> None:
    ex.tx.execute("UPDATE connectors SET status = ? WHERE evse_id = ?", (status, evse_id))
    message = _outbound.build(ex.app, "connector-post-status", {"connector-id": evse_id, "status": status})
    ex.after.append(_outbound.later(ex.app, message))


def session_start(ex: Inbound, body: dict[str, Any]) -> dict[str, Any]:
    """Start a session: 181 unknown connector, 320 occupied, 323 reserved by someone else."""
    evse_id, user = body["connector-id"], body["user"]
    connector = _connector(ex, evse_id)
    if (
        connector["status"] == "Occupied"
        or ex.tx.execute("SELECT 1 FROM sessions WHERE connector_id = ? AND state = 'active'", (evse_id,)).fetchone()
    ):
        raise results.EvseInUse(f"Connector {evse_id!r} is in use.")
    reservation = _active_reservation(ex, evse_id)
    if reservation is not None:
        holders = json.loads(reservation["identifiers"]) + json.loads(reservation["rfids"])
        if user["identifier"] not in holders:
            raise results.EvseAlreadyReserved(f"Connector {evse_id!r} is reserved for another customer.")
        ex.tx.execute("DELETE FROM reservations WHERE connector_id = ?", (evse_id,))
    session_id = str(uuid.uuid4())
    record = {"user": user, "connector-id": evse_id, "session-id": session_id, "start": now()}
    ex.tx.execute(
        "INSERT INTO sessions (session_id, connector_id, partner, identifier, state, body, updated)"
        " VALUES (?, ?, NULL, ?, 'active', ?, ?)",
        (session_id, evse_id, user["identifier"], json.dumps(record), now()),
    )
    _push_status(ex, evse_id, "Occupied")
    return {"session-start": {"session-id": session_id, "is-stoppable": True}}


def session_stop(ex: Inbound, body: dict[str, Any]) -> dict[str, Any]:
    """Stop a session (181 unknown connector, 182 no such session), free the connector, send the CDR."""
    evse_id = body["connector-id"]
    _connector(ex, evse_id)
    query, args = "SELECT * FROM sessions WHERE connector_id = ? AND state = 'active'", [evse_id]
    if "session-id" in body:
        query += " AND session_id = ?"
        args.append(body["session-id"])
    row = ex.tx.execute(query, args).fetchone()
    if row is None:
        raise results.SessionNotFound(
            f"No active session on {evse_id!r}"
            + (f" with session-id {body['session-id']!r}." if "session-id" in body else ".")
        )
    record = json.loads(row["body"])
    stop = now()
    ex.tx.execute("UPDATE sessions SET state = 'stopped', updated = ? WHERE session_id = ?", (stop, row["session_id"]))
    _push_status(ex, evse_id, "Available")
    cdr = _outbound.build(
        ex.app,
        "session-post",
        {
            "user": record["user"],
            "session-id": row["session_id"],
            "connector-id": evse_id,
            "session-interval": {"start": record["start"], "stop": stop},
            "charging-interval": {"start": record["start"], "stop": stop},
            "energy-consumed": 0.0,
        },
    )
    ex.after.append(_outbound.later(ex.app, cdr))
    return {}


def rfid_post(ex: Inbound, body: dict[str, Any]) -> dict[str, Any]:
    """Replace the whole whitelist of the partner identifier; ``processed`` counts new UIDs (calls/rfid_post.rst)."""
    partner, uids = body["partner-identifier"], list(dict.fromkeys(body["rfids"]))
    before = {r["uid"] for r in ex.tx.execute("SELECT uid FROM whitelist WHERE partner = ?", (partner,))}
    ex.tx.execute("DELETE FROM whitelist WHERE partner = ?", (partner,))
    ex.tx.executemany("INSERT INTO whitelist (partner, uid) VALUES (?, ?)", [(partner, uid) for uid in uids])
    return {"rfid": {"processed": len(set(uids) - before)}}


def reservation_start(ex: Inbound, body: dict[str, Any]) -> dict[str, Any]:
    """Reserve a connector for all given EVCO IDs and UIDs: 181, 330, 323, 194 (calls/reservation_start.rst)."""
    evse_id = body["connector-id"]
    connector = _connector(ex, evse_id)
    if not connector["reservable"]:
        raise results.EvseNoReservation(f"Connector {evse_id!r} cannot be reserved.")
    if _active_reservation(ex, evse_id) is not None or connector["status"] == "Occupied":
        raise results.EvseAlreadyReserved(f"Connector {evse_id!r} is already reserved or in use.")
    evcos = [i["evco-id"] for i in body["identifier"]]
    rfids = [i["rfid"] for i in body["identifier"] if "rfid" in i]
    for row in ex.tx.execute("SELECT identifiers, end_time FROM reservations"):
        if row["end_time"] > now() and set(evcos) & set(json.loads(row["identifiers"])):
            raise results.EvcoIdHasReservation("One of these EVCO IDs has another active reservation.")
    end = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=RESERVATION_MINUTES)).isoformat(
        timespec="seconds"
    )
    ex.tx.execute(
        "INSERT INTO reservations (connector_id, identifiers, rfids, end_time) VALUES (?, ?, ?, ?)",
        (evse_id, json.dumps(evcos), json.dumps(rfids), end),
    )
    _push_status(ex, evse_id, "Reserved")
    return {"reservation-start": {"end": end}}


def reservation_stop(ex: Inbound, body: dict[str, Any]) -> dict[str, Any]:
    """Cancel the reservation that *any* of its EVCO IDs or UIDs names (cpo/reservation.rst); 189 if none."""
    column = "identifiers" if body["identifier-type"] == "evco-id" else "rfids"
    for row in ex.tx.execute(f"SELECT connector_id, {column} AS ids FROM reservations"):
        if body["identifier"] in json.loads(row["ids"]):
            ex.tx.execute("DELETE FROM reservations WHERE connector_id = ?", (row["connector_id"],))
            _push_status(ex, row["connector_id"], "Available")
            return {}
    raise results.ReservationNotFound(f"No reservation names {body['identifier']!r}.")


HANDLERS = {
    "session-start": session_start,
    "session-stop": session_stop,
    "rfid-post": rfid_post,
    "reservation-start": reservation_start,
    "reservation-stop": reservation_stop,
}
