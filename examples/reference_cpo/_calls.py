"""The calls a CPO receives (cpo/remote_start.rst, cpo/reservation.rst, cpo/rfid_start.rst), one function each.

Each handler gets a request the transport's checks accepted (examples/_reference/_checks.py;
unless ``skips-validation`` is on: then missing fields default to ``""`` or ``[]``) and runs
inside one SQLite transaction.
A session started or stopped here is announced to the partner (``ctx.outbound``): its
connector's status, and at its end the CDR (`end_session`, shared with the control hook).
"""

from __future__ import annotations

import datetime
import math
import sqlite3

from examples._reference import Body, Context, Handler
from examples._reference._faults import CDR_DROP_EVERY
from oioi import results

SCHEMA = """
CREATE TABLE IF NOT EXISTS connectors (evse_id TEXT PRIMARY KEY, status TEXT NOT NULL DEFAULT 'Available');
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY, connector_id TEXT NOT NULL, identifier TEXT NOT NULL,
    running INTEGER NOT NULL DEFAULT 1,
    identifier_type TEXT NOT NULL DEFAULT 'evco-id',
    started REAL NOT NULL DEFAULT 0,  -- POSIX seconds, whole
    remote INTEGER NOT NULL DEFAULT 1  -- 1: started by the EMP's session-start, 0: by an RFID card here
);
CREATE TABLE IF NOT EXISTS reservations (
    id INTEGER PRIMARY KEY AUTOINCREMENT, connector_id TEXT NOT NULL, ends REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'used', 'cancelled'))
);
CREATE TABLE IF NOT EXISTS reservation_holders (
    reservation_id INTEGER NOT NULL, position INTEGER NOT NULL, evco_id TEXT NOT NULL, rfid TEXT,
    PRIMARY KEY (reservation_id, position)
);
CREATE TABLE IF NOT EXISTS whitelist (partner TEXT NOT NULL, uid TEXT NOT NULL, PRIMARY KEY (partner, uid));
"""

RESERVATION_LENGTH = datetime.timedelta(minutes=15)
CPO_ERROR = results.error_for(300)
HOLDER_COLUMNS = {"evco-id": "evco_id", "rfid": "rfid"}  # reservation-stop's identifier-type → column
CONNECTOR_SPEED = 22.0  # kW, every connector of this CPO (its station-post says so)
CHARGING_SHARE = 0.5  # a CDR's energy: the connector's speed for half of the charging interval
# honours-statuses: a session-start on a connector with one of these statuses is refused with this code
# (calls/session_start.rst lists 310 "EVSE error" and 320 "EVSE already in use").
REFUSING_STATUSES = {"Occupied": 320, "Reserved": 320, "Offline": 310, "Unknown": 310}


# --- session-start, session-stop (cpo/remote_start.rst) ------------------------------------------


def session_start(ctx: Context, body: Body) -> Body:
    """Start a session: "Whenever an EV driver wants to start a session in your network, the EMP will
    send a ``session-start`` request" (cpo/remote_start.rst).

    181 for a connector this CPO does not have, 320 when one is running there, 323 when the
    connector is reserved for others; a holder of the reservation starting uses it up.
    With honours-statuses, a connector whose status is not Available refuses (`REFUSING_STATUSES`);
    with start-011 / start-012 the success is "011 Successfully started a charging session" /
    "012 Successfully authorized a charging session" (request.rst, "OIOI Response Codes").
    """
    connector, identifier = body.get("connector-id", ""), body.get("user", {}).get("identifier", "")
    if "refuses-remote-start" in ctx.defects:
        raise CPO_ERROR("The charge point could not be reached.")
    _require_connector(ctx, connector, unless="start-unknown-connector-succeeds")
    if running_session(ctx, connector) is not None and "double-start" not in ctx.defects:
        raise results.EvseInUse(f"Connector {connector!r} already has a running session.")
    if "honours-statuses" in ctx.behaviours:
        _require_available(ctx, connector)
    _claim_reservation(ctx, connector, identifier)
    kind = body.get("user", {}).get("identifier-type", "evco-id")
    session_id = begin_session(ctx, connector, kind, identifier, remote=True)
    if "no-session-id" in ctx.defects:
        return {"session-start": {"is-stoppable": True}}
    answer: Body = {"session-start": {"session-id": session_id, "is-stoppable": True}}
    for code in (11, 12):
        if f"start-{code:03d}" in ctx.behaviours:
            answer["result"] = results.result(code)
    return answer


def _require_available(ctx: Context, connector: str) -> None:
    """honours-statuses: a connector that is Occupied, Reserved, Offline or Unknown does not start a session."""
    status = connector_status(ctx, connector)
    if status in REFUSING_STATUSES:
        raise results.error_for(REFUSING_STATUSES[status])(f"Connector {connector!r} is {status}.")


def connector_status(ctx: Context, connector: str) -> str | None:
    """The status of ``connector`` as this CPO last set it (None: not one of its connectors)."""
    row = ctx.db.execute("SELECT status FROM connectors WHERE evse_id = ?", (connector,)).fetchone()
    return None if row is None else str(row["status"])


def set_connector_status(ctx: Context, connector: str, status: str) -> Body:
    """Store the connector's new status; the connector-post-status that announces it."""
    ctx.db.execute("UPDATE connectors SET status = ? WHERE evse_id = ?", (status, connector))
    return status_message(ctx, connector, status)


def session_stop(ctx: Context, body: Body) -> Body:
    """Stop the running session on a connector (cpo/remote_start.rst, "Stopping a Session").

    181 for a connector this CPO does not have; 182 when nothing runs there, or when the
    request's ``session-id`` is not the session running there. With stop-needs-session-id, also
    182 for a request without one: "Depending on the CPO's requirements, a ``session-id`` may be
    mandatory." (calls/session_stop.rst).
    """
    if "stop-anything-succeeds" in ctx.defects:
        return {}
    connector, wanted = body.get("connector-id", ""), body.get("session-id")
    _require_connector(ctx, connector)
    if wanted is None and "stop-needs-session-id" in ctx.behaviours:
        raise results.SessionNotFound(f"This CPO stops a session by its session-id; none was given for {connector!r}.")
    running = running_session(ctx, connector, wanted)
    if running is None or "forgets-sessions" in ctx.defects:
        named = f"Session {wanted!r} is not" if wanted is not None else "No session is"
        raise results.SessionNotFound(f"{named} running on connector {connector!r}.")
    end_session(ctx, running)
    return {}


# --- a session's life as the partner sees it (cpo/poi.rst, cpo/cdr.rst) -------------------------


def begin_session(ctx: Context, connector: str, kind: str, identifier: str, *, remote: bool) -> str:
    """Store a running session and announce it: "When the status of a connector changes, the CPO must
    send a ``connector-post-status`` request" (cpo/poi.rst). Returns the new session-id.
    """
    session_id = ctx.new_id()
    ctx.db.execute(
        "INSERT INTO sessions (session_id, connector_id, identifier, identifier_type, started, remote)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (session_id, connector, identifier, kind, math.floor(ctx.now.timestamp()), int(remote)),
    )
    ctx.outbound.append(set_connector_status(ctx, connector, "Occupied"))
    if not remote:  # "to inform the EMP of a started session" (glossary.rst): the EMP did not start this one
        row = ctx.db.execute("SELECT * FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        ctx.outbound.append(cdr(ctx, row))
    return session_id


def end_session(ctx: Context, session_id: str) -> None:
    """End a running session: its connector is Available again, and "the CPO provides the EMP with the
    CDR for that session" (glossary.rst).
    """
    ctx.db.execute("UPDATE sessions SET running = 0 WHERE session_id = ?", (session_id,))
    row = ctx.db.execute("SELECT * FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
    ctx.outbound.append(set_connector_status(ctx, row["connector_id"], "Available"))
    if "no-cdr" not in ctx.defects and not _dropped(ctx):
        ctx.outbound.append(cdr(ctx, row))


def _dropped(ctx: Context) -> bool:
    """drops-every-5th-cdr (a load fault): the 5th, 10th, ... session that ended in this state gets no final CDR."""
    if "drops-every-5th-cdr" not in ctx.faults:
        return False
    (ended,) = ctx.db.execute("SELECT COUNT(*) FROM sessions WHERE running = 0").fetchone()
    return int(ended) % CDR_DROP_EVERY == 0


def status_message(ctx: Context, connector: str, status: str) -> Body:
    """A connector-post-status (calls/connector_post_status.rst) naming us as the connector's owner."""
    return {
        "connector-post-status": {
            "connector-id": connector,
            "status": status,
            "partner-identifier": ctx.partner_identifier,
        }
    }


def cdr(ctx: Context, session: sqlite3.Row) -> Body:
    """The session-post of a session (calls/session_post.rst), its times RFC 3339 in whole seconds.

    "If you are the CPO and owner of the session, this identifier must be created by you": the
    session-id is the one this CPO made (and gave in its session-start answer). The charging
    interval is the session interval; the energy stays below the connector's speed * that time.
    A running session's CDR has only the start: "simply omit optional data that is not available
    at the moment, e.g. the session interval's stop time" (cpo/cdr.rst); the final one updates it.
    """
    start = datetime.datetime.fromtimestamp(session["started"], datetime.UTC)
    stop = max(start, ctx.now.replace(microsecond=0))
    energy = math.floor(CONNECTOR_SPEED * CHARGING_SHARE * (stop - start).total_seconds() / 3.6) / 1000  # kWh
    session_id = session["session_id"]
    if session["remote"] and "cdr-other-session-id" in ctx.defects:
        session_id = ctx.new_id()
    if not session["remote"] and "cdr-session-id-per-connector" in ctx.defects:  # the defect: one id per connector
        session_id = f"RFID-{session['connector_id']}"
    if not session["remote"] and not session["running"] and "cdr-update-new-session-id" in ctx.defects:
        session_id = ctx.new_id()  # the defect: the final CDR does not update the one sent at the start
    partner = ctx.partner_identifier + ("-cdr" if "cdr-other-partner-identifier" in ctx.defects else "")
    if session["running"]:
        return {
            "session-post": {
                "user": {"identifier-type": session["identifier_type"], "identifier": session["identifier"]},
                "session-id": session_id,
                "connector-id": session["connector_id"],
                "session-interval": {"start": _rfc3339(start)},
                "partner-identifier": partner,
            }
        }
    interval_stop = start - datetime.timedelta(minutes=5) if "cdr-stop-before-start" in ctx.defects else stop
    if "cdr-energy-too-high" in ctx.defects:  # the defect: more than the connector can deliver
        energy = 1000.0
    return {
        "session-post": {
            "user": {"identifier-type": session["identifier_type"], "identifier": session["identifier"]},
            "session-id": session_id,
            "connector-id": session["connector_id"],
            "session-interval": {"start": _rfc3339(start), "stop": _rfc3339(interval_stop)},
            "charging-interval": {"start": _rfc3339(start), "stop": _rfc3339(stop)},
            "energy-consumed": energy,
            "partner-identifier": partner,
        }
    }


def _rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat(timespec="seconds")


def _require_connector(ctx: Context, connector: str, unless: str | None = None) -> None:
    """181 ("EVSE not found", request.rst) unless ``connector`` is one of this CPO's."""
    if unless in ctx.defects:
        return
    if ctx.db.execute("SELECT 1 FROM connectors WHERE evse_id = ?", (connector,)).fetchone() is None:
        raise results.EvseNotFound(f"Connector {connector!r} is not a connector of this CPO.")


def running_session(ctx: Context, connector: str, session_id: str | None = None) -> str | None:
    """The id of the session running on ``connector`` (the one named ``session_id``, when given)."""
    query = "SELECT session_id FROM sessions WHERE connector_id = ? AND running = 1"
    if session_id is not None:
        row = ctx.db.execute(query + " AND session_id = ?", (connector, session_id)).fetchone()
    else:
        row = ctx.db.execute(query + " ORDER BY rowid DESC LIMIT 1", (connector,)).fetchone()
    return None if row is None else str(row["session_id"])


def _claim_reservation(ctx: Context, connector: str, identifier: str) -> None:
    """Let only the holders start: "*All* EVCO IDs and UIDs of the reservation call should be able to
    start a session. No other EVCO ID or UID should be able to start a session in that reservation
    window." (cpo/reservation.rst); a holder's start uses the reservation up.
    """
    reservation = _active_reservation(ctx, connector)
    if reservation is None:
        return
    if identifier not in _may_start(ctx, reservation):
        raise results.EvseAlreadyReserved(f"Connector {connector!r} is reserved for other customers.")
    ctx.db.execute("UPDATE reservations SET state = 'used' WHERE id = ?", (reservation,))


def _may_start(ctx: Context, reservation: int) -> set[str]:
    rows = ctx.db.execute(
        "SELECT evco_id, rfid FROM reservation_holders WHERE reservation_id = ? ORDER BY position", (reservation,)
    ).fetchall()
    if "reservation-first-holder-only" in ctx.defects:
        return {row["evco_id"] for row in rows[:1]}
    return {value for row in rows for value in (row["evco_id"], row["rfid"]) if value}


# --- reservation-start, reservation-stop (cpo/reservation.rst) -----------------------------------


def reservation_start(ctx: Context, body: Body) -> Body:
    """Reserve a connector for 15 minutes for every EVCO ID and UID of ``identifier`` (cpo/reservation.rst).

    181 for a connector this CPO does not have; 323 when it is reserved or in use; 194 when an
    EVCO ID of the request holds another active reservation. The answer's ``end`` is RFC 3339.
    """
    connector, holders = body.get("connector-id", ""), body.get("identifier", [])
    _require_connector(ctx, connector, unless="reserve-unknown-connector-succeeds")
    if _active_reservation(ctx, connector) is not None or running_session(ctx, connector) is not None:
        raise results.EvseAlreadyReserved(f"Connector {connector!r} is already reserved or in use.")
    if "honours-statuses" in ctx.behaviours and connector_status(ctx, connector) in ("Occupied", "Reserved"):
        raise results.EvseAlreadyReserved(f"Connector {connector!r} is {connector_status(ctx, connector)}.")
    if "two-reservations-per-evco" not in ctx.defects:
        _refuse_second_reservation(ctx, [holder.get("evco-id", "") for holder in holders])
    end = ctx.now + RESERVATION_LENGTH
    if "forgets-reservations" not in ctx.defects:
        _store_reservation(ctx, connector, end, holders)
    if "reservation-end-in-past" in ctx.defects:
        end = ctx.now - RESERVATION_LENGTH
    return {"reservation-start": {"end": end.astimezone(datetime.UTC).isoformat(timespec="seconds")}}


def reservation_stop(ctx: Context, body: Body) -> Body:
    """Cancel a reservation: "*Any* EVCO ID or UID of the reservation call should be able to stop the
    reservation for *all* EVCO IDs/UIDs of the reservation." (cpo/reservation.rst); 189 when none matches.
    """
    kind, identifier = body.get("identifier-type", ""), body.get("identifier", "")
    first_only = "reservation-stop-first-identifier-only" in ctx.defects
    found = _reservation_held_by(ctx, kind, identifier, first_only=first_only)
    if found is None and "reservation-stop-unknown-succeeds" not in ctx.defects:
        raise results.ReservationNotFound(f"No active reservation is held by {kind} {identifier!r}.")
    ctx.db.execute("UPDATE reservations SET state = 'cancelled' WHERE id = ?", (found,))
    return {}


def _active_reservation(ctx: Context, connector: str) -> int | None:
    """The reservation of ``connector`` that is neither used, cancelled nor expired."""
    row = ctx.db.execute(
        "SELECT id FROM reservations WHERE connector_id = ? AND state = 'active' AND ends > ?",
        (connector, ctx.now.timestamp()),
    ).fetchone()
    return None if row is None else int(row["id"])


def _reservation_held_by(ctx: Context, kind: str, identifier: str, *, first_only: bool = False) -> int | None:
    """The active reservation holding ``identifier`` as an ``evco-id`` or ``rfid`` (``kind``)."""
    column = HOLDER_COLUMNS.get(kind)
    if column is None or (first_only and kind != "evco-id"):
        return None
    row = ctx.db.execute(
        "SELECT r.id FROM reservations AS r JOIN reservation_holders AS h ON h.reservation_id = r.id"
        f" WHERE r.state = 'active' AND r.ends > ? AND h.{column} = ?" + (" AND h.position = 0" if first_only else ""),
        (ctx.now.timestamp(), identifier),
    ).fetchone()
    return None if row is None else int(row["id"])


def _refuse_second_reservation(ctx: Context, evco_ids: list[str]) -> None:
    """194: "EVCO ID has another active reservation" (calls/reservation_start.rst)."""
    for evco_id in evco_ids:
        if _reservation_held_by(ctx, "evco-id", evco_id) is not None:
            raise results.EvcoIdHasReservation(f"EVCO ID {evco_id!r} has another active reservation.")


def _store_reservation(ctx: Context, connector: str, end: datetime.datetime, holders: list[Body]) -> None:
    cursor = ctx.db.execute("INSERT INTO reservations (connector_id, ends) VALUES (?, ?)", (connector, end.timestamp()))
    ctx.db.executemany(
        "INSERT INTO reservation_holders (reservation_id, position, evco_id, rfid) VALUES (?, ?, ?, ?)",
        [(cursor.lastrowid, i, holder.get("evco-id", ""), holder.get("rfid")) for i, holder in enumerate(holders)],
    )


# --- rfid-post (cpo/rfid_start.rst, "Offline Authorization") -------------------------------------


def rfid_post(ctx: Context, body: Body) -> Body:
    """Replace the partner's whitelist: "All RFIDs that were pushed before with the same
    ``"partner-identifier"`` and are not part of a request must be made invalid on the receiver
    side." (calls/rfid_post.rst); ``processed`` is "The number of new UIDs added by this call".
    """
    partner, posted = body.get("partner-identifier", ""), body.get("rfids", [])
    uids = list(dict.fromkeys(posted))
    before = {row["uid"] for row in ctx.db.execute("SELECT uid FROM whitelist WHERE partner = ?", (partner,))}
    if "rfid-post-appends" not in ctx.defects:
        ctx.db.execute("DELETE FROM whitelist WHERE partner = ?", (partner,))
    ctx.db.executemany("INSERT OR IGNORE INTO whitelist (partner, uid) VALUES (?, ?)", [(partner, u) for u in uids])
    processed = len(posted) if "processed-counts-all" in ctx.defects else len(set(uids) - before)
    return {"rfid": {"processed": processed}}


HANDLERS: dict[str, Handler] = {
    "session-start": session_start,
    "session-stop": session_stop,
    "rfid-post": rfid_post,
    "reservation-start": reservation_start,
    "reservation-stop": reservation_stop,
}
