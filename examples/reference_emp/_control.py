"""What the reference EMP sends on a test's ``POST /control`` (examples/_reference/_control.py), one function each.

start-session and stop-session (cpo/remote_start.rst), push-rfids (calls/rfid_post.rst),
reserve and cancel-reservation (cpo/reservation.rst). Every action but push-rfids waits for
the CPO's answer and returns it.
"""

from __future__ import annotations

from examples._reference import Action, Body, Endpoint, Outbox, Outcome, optional_text, required_text


def start_session(endpoint: Endpoint, outbox: Outbox, fields: Body) -> Body:
    """session-start: "For a session start request, it is usually required that the ``"identifier-type"``
    **must** be ``"evco-id"``." (calls/session_start.rst); the answer's session-id is kept per connector.
    """
    connector, evco_id = required_text(fields, "connector-id"), required_text(fields, "evco-id")
    kind = "rfid" if "session-start-rfid-identifier" in endpoint.defects else "evco-id"
    sent = evco_id.rpartition("*")[0] if "evco-id-without-check-digit" in endpoint.defects else evco_id
    outcome = outbox.request(
        "session-start", {"user": {"identifier-type": kind, "identifier": sent}, "connector-id": connector}
    )
    success = outcome.code is not None and 0 <= outcome.code < 100  # request.rst: "0xx Success" (000, 011, 012)
    started = outcome.answer.get("session-start") if success and isinstance(outcome.answer, dict) else None
    session_id = started.get("session-id") if isinstance(started, dict) else None
    if isinstance(session_id, str):
        with endpoint.db.transaction() as tx:
            tx.execute(
                "INSERT INTO remote_sessions (connector_id, session_id) VALUES (?, ?)"
                " ON CONFLICT (connector_id) DO UPDATE SET session_id = excluded.session_id",
                (connector, session_id),
            )
    return {**_answer(outcome), "session-id": session_id if isinstance(session_id, str) else None}


def stop_session(endpoint: Endpoint, outbox: Outbox, fields: Body) -> Body:
    """session-stop with the session-id the CPO gave ("Depending on the CPO's requirements, a
    ``session-id`` may be mandatory", calls/session_stop.rst): the one given, or the one kept.
    """
    connector, evco_id = required_text(fields, "connector-id"), required_text(fields, "evco-id")
    session_id = optional_text(fields, "session-id")
    with endpoint.db.transaction() as tx:
        row = tx.execute("SELECT session_id FROM remote_sessions WHERE connector_id = ?", (connector,)).fetchone()
    session_id = session_id or (row["session_id"] if row is not None else None)
    kind = "rfid" if "stop-rfid-identifier" in endpoint.defects else "evco-id"
    body: Body = {"user": {"identifier-type": kind, "identifier": evco_id}, "connector-id": connector}
    if session_id is not None and "stop-without-session-id" not in endpoint.defects:
        body["session-id"] = session_id
    if "ignores-stop-session" in endpoint.defects:  # the defect: the user's stop goes nowhere
        return {"status": None, "result": None, "session-id": body.get("session-id")}
    outcome = outbox.request("session-stop", body)
    if outcome.code is not None and 0 <= outcome.code < 100:
        with endpoint.db.transaction() as tx:
            tx.execute("DELETE FROM remote_sessions WHERE connector_id = ?", (connector,))
    return {**_answer(outcome), "session-id": body.get("session-id")}


SECOND_BRAND = "-second-brand"  # whitelist-per-brand: the suffix of the second brand's partner identifier


def push_rfids(endpoint: Endpoint, outbox: Outbox, fields: Body) -> Body:
    """rfid-post: "Every call has to include the complete list of RFIDs that shall be active."
    (calls/rfid_post.rst): every active UID of this EMP.
    """
    with endpoint.db.transaction() as tx:
        uids = [row["uid"] for row in tx.execute("SELECT uid FROM rfids WHERE state = 'active' ORDER BY uid")]
    if "partial-whitelist" in endpoint.defects:
        uids = []
    if "no-rfid-post" not in endpoint.defects:
        if "whitelist-per-brand" in endpoint.behaviours:  # the second brand's whitelist: nobody active there yet
            outbox.send("rfid-post", {"rfids": [], "partner-identifier": outbox.identifier + SECOND_BRAND})
        outbox.send("rfid-post", {"rfids": uids, "partner-identifier": outbox.identifier})
    return {"rfids": uids}


def reserve(endpoint: Endpoint, outbox: Outbox, fields: Body) -> Body:
    """reservation-start for one EVCO ID (calls/reservation_start.rst)."""
    connector, evco_id = required_text(fields, "connector-id"), required_text(fields, "evco-id")
    if "reserve-sends-nothing" in endpoint.defects:  # the defect: the driver's reservation goes nowhere
        return {"status": None, "result": None}
    return _answer(
        outbox.request("reservation-start", {"connector-id": connector, "identifier": [{"evco-id": evco_id}]})
    )


def cancel_reservation(endpoint: Endpoint, outbox: Outbox, fields: Body) -> Body:
    """reservation-stop by EVCO ID (calls/reservation_stop.rst)."""
    evco_id = required_text(fields, "evco-id")
    kind = "rfid" if "cancel-with-rfid-type" in endpoint.defects else "evco-id"
    return _answer(outbox.request("reservation-stop", {"identifier-type": kind, "identifier": evco_id}))


def _answer(outcome: Outcome) -> Body:
    """The CPO's answer as the action reports it: its HTTP status and its ``result`` (None: no answer)."""
    if outcome.status is None:
        return {"status": None, "result": None}
    result = outcome.answer.get("result") if isinstance(outcome.answer, dict) else None
    return {"status": outcome.status, "result": result}


ACTIONS: dict[str, Action] = {
    "start-session": start_session,
    "stop-session": stop_session,
    "push-rfids": push_rfids,
    "reserve": reserve,
    "cancel-reservation": cancel_reservation,
}
