"""The calls an EMP receives from a CPO (cpo/poi.rst, cpo/cdr.rst, cpo/rfid_start.rst), one function each.

Each handler gets a request the transport's checks accepted (examples/_reference/_checks.py;
unless ``skips-validation`` is on: then missing fields default to ``""`` or ``[]``) and runs
inside one SQLite transaction.
"""

from __future__ import annotations

import json

from examples._reference import Body, Context, Handler
from oioi import results

SCHEMA = """
CREATE TABLE IF NOT EXISTS stations (id TEXT PRIMARY KEY, partner TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS connectors (
    evse_id TEXT PRIMARY KEY, station_id TEXT NOT NULL, partner TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'Unknown'
);
CREATE TABLE IF NOT EXISTS cdrs (session_id TEXT PRIMARY KEY, partner TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rfids (uid TEXT PRIMARY KEY, state TEXT NOT NULL, evco_id TEXT);
-- the session-id each connector's session-start answer gave (what stop-session sends back)
CREATE TABLE IF NOT EXISTS remote_sessions (connector_id TEXT PRIMARY KEY, session_id TEXT NOT NULL);
"""

# What rfid-verify-allows-inactive and rfid-verify-unknown-succeeds hand out for a UID without one.
PLACEHOLDER_EVCO_ID = "DE*8PS*000000*1"


def station_post(ctx: Context, body: Body) -> Body:
    """Store a station and its connectors with the partner that posted them, upserting by station id.

    cpo/poi.rst: "The CPO must send all stations via OIOI"; the partner is kept because the EMP
    "only accepts dynamic data changes if they are associated to stations that were pushed by the
    same partner". A connector keeps its status when its station is posted again.
    """
    station, partner = body.get("station", {}), body.get("partner-identifier", "")
    station_id = station.get("id", "")
    ctx.db.execute(
        "INSERT INTO stations (id, partner, body) VALUES (?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET partner = excluded.partner, body = excluded.body",
        (station_id, partner, json.dumps(station)),
    )
    ctx.db.executemany(
        "INSERT INTO connectors (evse_id, station_id, partner) VALUES (?, ?, ?)"
        " ON CONFLICT (evse_id) DO UPDATE SET station_id = excluded.station_id, partner = excluded.partner",
        [(connector.get("id", ""), station_id, partner) for connector in station.get("connectors", [])],
    )
    return {}


def connector_post_status(ctx: Context, body: Body) -> Body:
    """Store a connector's status: "PlugSurfing only accepts dynamic data changes if they are associated
    to stations that were pushed by the same partner." (cpo/poi.rst); 181 otherwise.
    """
    connector, partner = body.get("connector-id", ""), body.get("partner-identifier", "")
    if "forgets-stations" in ctx.defects:
        raise results.EvseNotFound(f"No station-post has announced connector {connector!r}.")
    row = ctx.db.execute("SELECT partner FROM connectors WHERE evse_id = ?", (connector,)).fetchone()
    if row is None and "status-for-any-connector" not in ctx.defects:
        raise results.EvseNotFound(f"No station-post has announced connector {connector!r}.")
    if row is not None and row["partner"] != partner and "status-ignores-partner" not in ctx.defects:
        raise results.EvseNotFound(f"Connector {connector!r} belongs to a station another partner posted.")
    ctx.db.execute("UPDATE connectors SET status = ? WHERE evse_id = ?", (body.get("status", "Unknown"), connector))
    return {}


def session_post(ctx: Context, body: Body) -> Body:
    """Store a CDR, upserting by ``session-id``: a CPO may "send information about sessions that just
    started or are still ongoing" (cpo/cdr.rst) and post the session again when it ends.

    The answer's ``reason`` "Will be ``null`` on success" (calls/session_post.rst).
    """
    session_id, partner = body.get("session-id", ""), body.get("partner-identifier", "")
    known = ctx.db.execute("SELECT 1 FROM cdrs WHERE session_id = ?", (session_id,)).fetchone() is not None
    if known and "refuses-cdr-update" in ctx.defects:
        reason = f"Session {session_id!r} is already stored."
        return {"reason": reason, "result": results.result(100, reason)}
    ctx.db.execute(
        "INSERT INTO cdrs (session_id, partner, body) VALUES (?, ?, ?)"
        " ON CONFLICT (session_id) DO UPDATE SET partner = excluded.partner, body = excluded.body",
        (session_id, partner, json.dumps(body)),
    )
    return {"reason": None}


def rfid_verify(ctx: Context, body: Body) -> Body:
    """Verify a UID (calls/rfid_verify.rst): "EVCO ID of the RFID is returned in case of response with
    0 result code"; 192 (EVCO ID locked) for an inactive UID, 191 (EVCO ID not found) for an unknown one.
    """
    uid = body.get("rfid", "")
    row = ctx.db.execute("SELECT state, evco_id FROM rfids WHERE uid = ?", (uid,)).fetchone()
    if row is None and "rfid-verify-unknown-succeeds" in ctx.defects:
        return {"evco-id": PLACEHOLDER_EVCO_ID}
    if row is None:
        if "rfid-verify-unknown-is-locked" in ctx.defects:
            raise results.EvcoIdLocked(f"UID {uid!r} is locked.")
        raise results.EvcoIdNotFound(f"UID {uid!r} is not known.")
    if "rfid-verify-denies-all" in ctx.defects:
        raise results.EvcoIdLocked(f"UID {uid!r} is locked.")
    if row["state"] != "active" and "rfid-verify-allows-inactive" not in ctx.defects:
        raise results.EvcoIdLocked(f"UID {uid!r} is {row['state']}.")
    return {"evco-id": row["evco_id"] or PLACEHOLDER_EVCO_ID}


HANDLERS: dict[str, Handler] = {
    "station-post": station_post,
    "connector-post-status": connector_post_status,
    "session-post": session_post,
    "rfid-verify": rfid_verify,
}
