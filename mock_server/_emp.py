"""What the mock receives when it plays the EMP (cpo/poi.rst, cpo/cdr.rst, cpo/rfid_start.rst)."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app

from mock_server._context import Exchange, store
from mock_server._store import now
from oioi import results


def _partner_allowed(partner: str) -> None:
    allowed = current_app.config["PARTNER_IDENTIFIERS"]
    if allowed and partner not in allowed:
        raise results.InvalidPartnerIdentifier(f"Partner identifier {partner!r} is not known to this EMP.")


def station_post(ex: Exchange, body: dict[str, Any]) -> dict[str, Any]:
    """Store a station and its connectors; "It is not allowed to change the connectors of an existing station"."""
    partner = body["partner-identifier"]
    _partner_allowed(partner)
    station = body["station"]
    db = ex.tx
    old = db.execute("SELECT body, partner FROM stations WHERE id = ?", (station["id"],)).fetchone()
    connectors = {c["id"]: c for c in station["connectors"]}
    if old is not None:
        before = {c["id"]: c for c in json.loads(old["body"])["connectors"]}
        if before != connectors:
            store().violation(
                db,
                "station-post",
                "station-connectors-unchanged",
                f"station {station['id']!r} was posted again with other connectors: "
                f"before {sorted(before)!r}, now {sorted(connectors)!r}",
            )
    for evse_id in connectors:
        other = db.execute("SELECT station_id FROM connectors WHERE evse_id = ?", (evse_id,)).fetchone()
        if other is not None and other["station_id"] != station["id"]:
            store().violation(
                db,
                "station-post",
                "connector-ids-globally-unique",
                f"connector {evse_id!r} already belongs to station {other['station_id']!r}",
            )
    db.execute(
        "INSERT OR REPLACE INTO stations (id, partner, body, deleted) VALUES (?, ?, ?, ?)",
        (station["id"], partner, json.dumps(station), int(station["deleted"])),
    )
    for evse_id in connectors:
        db.execute(
            "INSERT INTO connectors (evse_id, station_id, partner) VALUES (?, ?, ?)"
            " ON CONFLICT (evse_id) DO UPDATE SET station_id = excluded.station_id, partner = excluded.partner",
            (evse_id, station["id"], partner),
        )
    return {}


def connector_post_status(ex: Exchange, body: dict[str, Any]) -> dict[str, Any]:
    """Update a connector's status: "only ... stations that were pushed by the same partner" (cpo/poi.rst)."""
    row = ex.tx.execute("SELECT partner FROM connectors WHERE evse_id = ?", (body["connector-id"],)).fetchone()
    if row is None:
        raise results.EvseNotFound(f"No station-post has announced connector {body['connector-id']!r}.")
    if row["partner"] != body["partner-identifier"]:
        raise results.EvseNotFound(f"Connector {body['connector-id']!r} was posted by another partner.")
    ex.tx.execute("UPDATE connectors SET status = ? WHERE evse_id = ?", (body["status"], body["connector-id"]))
    return {}


def session_post(ex: Exchange, body: dict[str, Any]) -> dict[str, Any]:
    """Store a CDR; a later post with the same session-id updates the session (glossary.rst, CDR)."""
    db = ex.tx
    if db.execute("SELECT 1 FROM connectors WHERE evse_id = ?", (body["connector-id"],)).fetchone() is None:
        store().violation(
            db,
            "session-post",
            "cdr-for-posted-connector",
            f"CDR {body['session-id']!r} names connector {body['connector-id']!r}, never posted",
        )
    state = "finished" if "stop" in body["session-interval"] else "ongoing"
    db.execute(
        "INSERT INTO sessions (session_id, connector_id, partner, identifier, state, body, updated)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET connector_id = excluded.connector_id,"
        " state = excluded.state, body = excluded.body, updated = excluded.updated",
        (
            body["session-id"],
            body["connector-id"],
            body["partner-identifier"],
            body["user"]["identifier"],
            state,
            json.dumps(body),
            now(),
        ),
    )
    return {}


RFID_OUTCOMES = {"inactive": results.EvcoIdLocked, "no-payment": results.EvcoIdNoPayment}


def rfid_verify(ex: Exchange, body: dict[str, Any]) -> dict[str, Any]:
    """Answer with the EVCO ID of a known, active UID; 191, 192 or 193 otherwise (calls/rfid_verify.rst)."""
    row = ex.tx.execute("SELECT evco_id, state FROM rfids WHERE uid = ?", (body["rfid"],)).fetchone()
    if row is None:
        raise results.EvcoIdNotFound(f"UID {body['rfid']!r} is not known.")
    if row["state"] != "active":
        raise RFID_OUTCOMES.get(row["state"], results.EvcoIdLocked)(f"UID {body['rfid']!r} is {row['state']}.")
    return {"evco-id": row["evco_id"]}


HANDLERS = {
    "station-post": station_post,
    "connector-post-status": connector_post_status,
    "session-post": session_post,
    "rfid-verify": rfid_verify,
}
