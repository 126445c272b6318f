"""What the mock receives when it plays the EMP (cpo/poi.rst, cpo/cdr.rst, cpo/rfid_start.rst)."""

from __future__ import annotations

import json
from typing import Any

from mock_server._endpoint import Inbound
from mock_server._store import now
from oioi import results


def _partner_allowed(ex: Inbound, partner: str) -> None:
    allowed = ex.app.config["PARTNER_IDENTIFIERS"]
    if allowed and partner not in allowed:
        raise results.InvalidPartnerIdentifier(f"Partner identifier {partner!r} is not known to this EMP.")


def station_post(ex: Inbound, body: dict[str, Any]) -> dict[str, Any]:
    """Store a station and its connectors; "It is not allowed to change the connectors of an existing station"."""
    partner = body["partner-identifier"]
    _partner_allowed(ex, partner)
    station = body["station"]
    db = ex.tx
    old = db.execute("SELECT body, partner FROM stations WHERE id = ?", (station["id"],)).fetchone()
    connectors = {c["id"]: c for c in station["connectors"]}
    if old is not None:
        before = {c["id"]: c for c in json.loads(old["body"])["connectors"]}
        if before != connectors:
            ex.violation(
                "station-connectors-unchanged",
                f"station {station['id']!r} was posted again with other connectors: "
                f"before {sorted(before)!r}, now {sorted(connectors)!r}",
            )
    for evse_id in connectors:
        other = db.execute("SELECT station_id FROM connectors WHERE evse_id = ?", (evse_id,)).fetchone()
        if other is not None and other["station_id"] != station["id"]:
            ex.violation(
                "connector-ids-globally-unique",
                f"connector {evse_id!r} already belongs to station {other['station_id']!r}",
            )
    # An upsert keeps the row (its rowid is the station's integer id in the OEM lookups);
    # 'changed' is the last-static-change those lookups report.
    db.execute(
        "INSERT INTO stations (id, partner, body, deleted, changed) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET partner = excluded.partner, body = excluded.body,"
        " deleted = excluded.deleted, changed = CASE WHEN stations.body = excluded.body"
        " AND stations.deleted = excluded.deleted THEN stations.changed ELSE excluded.changed END",
        (station["id"], partner, json.dumps(station), int(station["deleted"]), now()),
    )
    for evse_id in connectors:
        db.execute(
            "INSERT INTO connectors (evse_id, station_id, partner) VALUES (?, ?, ?)"
            " ON CONFLICT (evse_id) DO UPDATE SET station_id = excluded.station_id, partner = excluded.partner",
            (evse_id, station["id"], partner),
        )
    return {}


def connector_post_status(ex: Inbound, body: dict[str, Any]) -> dict[str, Any]:
    """Update a connector's status: "only ... stations that were pushed by the same partner" (cpo/poi.rst)."""
    connector = body["connector-id"]
    if ex.tx.execute(
        "UPDATE connectors SET status = ? WHERE evse_id = ? AND partner = ?",
        (body["status"], connector, body["partner-identifier"]),
    ).rowcount:
        return {}
    if ex.tx.execute("SELECT 1 FROM connectors WHERE evse_id = ?", (connector,)).fetchone() is None:
        raise results.EvseNotFound(f"No station-post has announced connector {connector!r}.")
    raise results.EvseNotFound(f"Connector {connector!r} was posted by another partner.")


def session_post(ex: Inbound, body: dict[str, Any]) -> dict[str, Any]:
    """Store a CDR; a later post with the same session-id updates the session (glossary.rst, CDR)."""
    db = ex.tx
    if db.execute("SELECT 1 FROM connectors WHERE evse_id = ?", (body["connector-id"],)).fetchone() is None:
        ex.violation(
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
    return {"reason": None}  # calls/session_post.rst: "Will be null on success"


RFID_OUTCOMES = {"inactive": results.EvcoIdLocked, "no-payment": results.EvcoIdNoPayment}


def rfid_verify(ex: Inbound, body: dict[str, Any]) -> dict[str, Any]:
    """Answer with the EVCO ID of a known, active UID; 191, 192 or 193 otherwise (calls/rfid_verify.rst)."""
    row = ex.tx.execute("SELECT evco_id, state FROM rfids WHERE uid = ?", (body["rfid"],)).fetchone()
    if row is None:
        raise results.EvcoIdNotFound(f"UID {body['rfid']!r} is not known.")
    if row["state"] != "active":
        raise RFID_OUTCOMES.get(row["state"], results.EvcoIdLocked)(f"UID {body['rfid']!r} is {row['state']}.")
    return {"evco-id": row["evco_id"]}


# --- OEM lookups (oem/*.rst): answered from the stations the CPO partner has posted -------------

SURFACE_LIMIT = 100


def _stations(ex: Inbound, ids: list[int] | None = None) -> list[tuple[int, dict[str, Any], str]]:
    query = "SELECT rowid, body, changed FROM stations WHERE deleted = 0"
    rows = ex.tx.execute(query + " ORDER BY rowid").fetchall()
    found = [(row["rowid"], json.loads(row["body"]), row["changed"]) for row in rows]
    if ids is not None:
        by_id = {rowid: (rowid, body, changed) for rowid, body, changed in found}
        return [by_id[i] for i in dict.fromkeys(ids) if i in by_id]
    return found


def _connectors(ex: Inbound, station_id: str) -> list[Any]:
    return ex.tx.execute("SELECT rowid, evse_id, status FROM connectors WHERE station_id = ? ORDER BY rowid",
                         (station_id,)).fetchall()


def _summary(statuses: list[str]) -> str | None:
    if "Available" in statuses:
        return "Available"
    if "Occupied" in statuses or "Reserved" in statuses:
        return "Occupied"
    if statuses and all(s == "Offline" for s in statuses):
        return "Offline"
    return None


def station_get_surface(ex: Inbound, body: dict[str, Any]) -> dict[str, Any]:
    """Stations inside the rectangle, after the filters (calls/station_get_surface.rst)."""
    filters = body["filters"]
    excludes = set(filters.get("excludes", []))
    types = set(filters.get("connector-types", []))
    faster, slower = filters.get("connector-speeds-greater"), filters.get("connector-speeds-less")
    hits = []
    for rowid, station, changed in _stations(ex):
        if rowid in excludes or not (body["min-lat"] <= station["latitude"] <= body["max-lat"]):
            continue
        if not body["min-long"] <= station["longitude"] <= body["max-long"]:
            continue
        plugs = station["connectors"]
        if types and not types & {c["name"] for c in plugs}:
            continue
        if faster is not None and not any(c["speed"] > faster for c in plugs):
            continue
        if slower is not None and not any(c["speed"] < slower for c in plugs):
            continue
        rows = _connectors(ex, station["id"])
        hits.append({
            "id": rowid, "name": station["name"], "latitude": station["latitude"], "longitude": station["longitude"],
            "dynamic-status-summary": _summary([r["status"] for r in rows]), "owner-type": None,
            "last-static-change": changed, "connector-statuses": {str(r["rowid"]): r["status"] for r in rows},
        })
    return {"stations": hits[:SURFACE_LIMIT], "hasMore": len(hits) > SURFACE_LIMIT}


def station_get_by_ids(ex: Inbound, body: dict[str, Any]) -> dict[str, Any]:
    """The stored stations with these ids, in the layout of calls/station_get_by_ids.rst."""
    out = []
    for rowid, station, changed in _stations(ex, body["station-ids"]):
        rows = {r["evse_id"]: r for r in _connectors(ex, station["id"])}
        contact = station.get("contact", {})
        statuses = [r["status"] for r in rows.values()]
        out.append({
            "id": rowid,
            "address": dict(station["address"]),
            "contact": {"email": contact.get("email"), "web": contact.get("website"), "phone": contact.get("phone"),
                        "fax": contact.get("fax")},
            "floor-level": station.get("floor-level"),
            "is-free-charge": station.get("is-free-charge", False),
            "last-static-change": changed,
            "name": station["name"],
            "description": station.get("description"),
            "latitude": station["latitude"],
            "longitude": station["longitude"],
            "open-hour-notes": station.get("open-hour-notes"),
            "total-parking": station.get("total-parking", 0),
            "notes": station.get("notes"),
            "is-green-power-available": station.get("is-green-power-available", False),
            "is-plugin-charge": station.get("is-plugin-charge", False),
            "is-roofed": station.get("is-roofed", False),
            "is-reservable": station.get("is-reservable", False),
            "has-dynamic-info": True,
            "is-open-24": station["is-open-24"],
            "dynamic-status-summary": _summary(statuses) or "Unknown",
            "is-validated": False,
            "is-private": station.get("is-private", False),
            "connectors": [
                {"id": rows[c["id"]]["rowid"], "status": rows[c["id"]]["status"], "name": c["name"],
                 "speed": f"{c['speed']}kW", "external-id": c["id"]}
                for c in station["connectors"] if c["id"] in rows
            ],
        })
    return {"stations": out, "companies": []}


def tariffs_get_by_station_ids(ex: Inbound, body: dict[str, Any]) -> dict[str, Any]:
    """The stored stations with these ids; a station-post carries no tariff, so connectors have none."""
    return {"stations": [
        {"id": rowid, "is-free-charge": station.get("is-free-charge", False),
         "connectors": [{"id": r["rowid"]} for r in _connectors(ex, station["id"])]}
        for rowid, station, _changed in _stations(ex, body["station-ids"])
    ]}


HANDLERS = {
    "station-get-surface": station_get_surface,
    "station-get-by-ids": station_get_by_ids,
    "tariffs-get-by-station-ids": tariffs_get_by_station_ids,
    "station-post": station_post,
    "connector-post-status": connector_post_status,
    "session-post": session_post,
    "rfid-verify": rfid_verify,
}
