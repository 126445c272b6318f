"""The calls a CPO receives (cpo/remote_start.rst, cpo/reservation.rst, cpo/rfid_start.rst), one function each.

Each handler gets a request the core validator accepted (unless ``skips-validation`` is on:
then missing fields default to ``""`` or ``[]``) and runs inside one SQLite transaction.
"""

from __future__ import annotations

import datetime

from examples._reference import Body, Context, Handler
from oioi import results

SCHEMA = """
CREATE TABLE IF NOT EXISTS connectors (evse_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY, connector_id TEXT NOT NULL, identifier TEXT NOT NULL,
    running INTEGER NOT NULL DEFAULT 1
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


# --- session-start, session-stop (cpo/remote_start.rst) ------------------------------------------


def session_start(ctx: Context, body: Body) -> Body:
    """Start a session: "Whenever an EV driver wants to start a session in your network, the EMP will
    send a ``session-start`` request" (cpo/remote_start.rst).

    181 for a connector this CPO does not have, 320 when one is running there, 323 when the
    connector is reserved for others; a holder of the reservation starting uses it up.
    """
    connector, identifier = body.get("connector-id", ""), body.get("user", {}).get("identifier", "")
    if "refuses-remote-start" in ctx.faults:
        raise CPO_ERROR("The charge point could not be reached.")
    _require_connector(ctx, connector, unless="start-unknown-connector-succeeds")
    if _running_session(ctx, connector) is not None and "double-start" not in ctx.faults:
        raise results.EvseInUse(f"Connector {connector!r} already has a running session.")
    _claim_reservation(ctx, connector, identifier)
    session_id = ctx.new_id()
    ctx.db.execute(
        "INSERT INTO sessions (session_id, connector_id, identifier) VALUES (?, ?, ?)",
        (session_id, connector, identifier),
    )
    if "no-session-id" in ctx.faults:
        return {"session-start": {"is-stoppable": True}}
    return {"session-start": {"session-id": session_id, "is-stoppable": True}}


def session_stop(ctx: Context, body: Body) -> Body:
    """Stop the running session on a connector (cpo/remote_start.rst, "Stopping a Session").

    181 for a connector this CPO does not have; 182 when nothing runs there, or when the
    request's ``session-id`` is not the session running there.
    """
    if "stop-anything-succeeds" in ctx.faults:
        return {}
    connector, wanted = body.get("connector-id", ""), body.get("session-id")
    _require_connector(ctx, connector)
    running = _running_session(ctx, connector, wanted)
    if running is None or "forgets-sessions" in ctx.faults:
        named = f"Session {wanted!r} is not" if wanted is not None else "No session is"
        raise results.SessionNotFound(f"{named} running on connector {connector!r}.")
    ctx.db.execute("UPDATE sessions SET running = 0 WHERE session_id = ?", (running,))
    return {}


def _require_connector(ctx: Context, connector: str, unless: str | None = None) -> None:
    """181 ("EVSE not found", request.rst) unless ``connector`` is one of this CPO's."""
    if unless in ctx.faults:
        return
    if ctx.db.execute("SELECT 1 FROM connectors WHERE evse_id = ?", (connector,)).fetchone() is None:
        raise results.EvseNotFound(f"Connector {connector!r} is not a connector of this CPO.")


def _running_session(ctx: Context, connector: str, session_id: str | None = None) -> str | None:
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
    if "reservation-first-holder-only" in ctx.faults:
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
    if _active_reservation(ctx, connector) is not None or _running_session(ctx, connector) is not None:
        raise results.EvseAlreadyReserved(f"Connector {connector!r} is already reserved or in use.")
    if "two-reservations-per-evco" not in ctx.faults:
        _refuse_second_reservation(ctx, [holder.get("evco-id", "") for holder in holders])
    end = ctx.now + RESERVATION_LENGTH
    if "forgets-reservations" not in ctx.faults:
        _store_reservation(ctx, connector, end, holders)
    if "reservation-end-in-past" in ctx.faults:
        end = ctx.now - RESERVATION_LENGTH
    return {"reservation-start": {"end": end.astimezone(datetime.UTC).isoformat(timespec="seconds")}}


def reservation_stop(ctx: Context, body: Body) -> Body:
    """Cancel a reservation: "*Any* EVCO ID or UID of the reservation call should be able to stop the
    reservation for *all* EVCO IDs/UIDs of the reservation." (cpo/reservation.rst); 189 when none matches.
    """
    kind, identifier = body.get("identifier-type", ""), body.get("identifier", "")
    first_only = "reservation-stop-first-identifier-only" in ctx.faults
    found = _reservation_held_by(ctx, kind, identifier, first_only=first_only)
    if found is None and "reservation-stop-unknown-succeeds" not in ctx.faults:
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
    if "rfid-post-appends" not in ctx.faults:
        ctx.db.execute("DELETE FROM whitelist WHERE partner = ?", (partner,))
    ctx.db.executemany("INSERT OR IGNORE INTO whitelist (partner, uid) VALUES (?, ?)", [(partner, u) for u in uids])
    processed = len(posted) if "processed-counts-all" in ctx.faults else len(set(uids) - before)
    return {"rfid": {"processed": processed}}


HANDLERS: dict[str, Handler] = {
    "session-start": session_start,
    "session-stop": session_stop,
    "rfid-post": rfid_post,
    "reservation-start": reservation_start,
    "reservation-stop": reservation_stop,
}
