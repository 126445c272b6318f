"""What the reference CPO sends on a test's ``POST /control`` (examples/_reference/_control.py), one function each.

push-stations (cpo/poi.rst), set-status (calls/connector_post_status.rst), present-rfid
(cpo/rfid_start.rst, calls/rfid_verify.rst) and plug-out (cpo/cdr.rst).
"""

from __future__ import annotations

import itertools
import re

from examples._reference import Action, Body, Context, ControlError, Endpoint, Outbox, required_text
from examples.reference_cpo._calls import (
    CONNECTOR_SPEED,
    begin_session,
    end_session,
    running_session,
    set_connector_status,
)

STATUSES = ("Available", "Occupied", "Offline", "Reserved", "Unknown")  # calls/connector_post_status.rst
UID_LENGTHS = (8, 14, 20)  # calls/rfid_verify.rst: "Valid lengths of UIDs are 8, 14, and 20 characters."
UID = re.compile(r"[0-9A-F]{1,20}")


def push_stations(endpoint: Endpoint, outbox: Outbox, fields: Body) -> Body:
    """A station-post for each station: "You have to send one request for each station." (calls/station_post.rst)."""
    posted = stations(_connectors(endpoint))
    if "status-before-station" in endpoint.defects:
        posted = posted[:1]  # the defect: statuses of the others' connectors name connectors never posted
    if "duplicate-connector-ids" in endpoint.defects:  # the defect: one connector id in two stations
        first = posted[0]["connectors"][0]
        posted = [{**s, "connectors": [*s["connectors"], first]} if n else s for n, s in enumerate(posted)]
    if "changes-connectors" in endpoint.defects and endpoint.extras.get("pushed-stations", 0):
        posted = [{**s, "connectors": s["connectors"][:-1]} for s in posted]  # the defect: connectors changed
    if "changes-connector-speed" in endpoint.defects and endpoint.extras.get("pushed-stations", 0):
        posted = [{**s, "connectors": [{**c, "speed": c["speed"] / 2} for c in s["connectors"]]} for s in posted]
    if "one-station-id" in endpoint.defects:  # the defect: every station under the first one's id
        posted = [{**s, "id": posted[0]["id"]} for s in posted]
    if "evse-id-without-e" in endpoint.defects:  # the defect: DE*REF*000001*1, the 'E' left out
        posted = [
            {**s, "connectors": [{**c, "id": c["id"].replace("*E", "*", 1)} for c in s["connectors"]]} for s in posted
        ]
    endpoint.extras["pushed-stations"] = endpoint.extras.get("pushed-stations", 0) + 1
    if "station-without-address" in endpoint.defects:  # the defect: a required field left out
        posted = [{k: v for k, v in s.items() if k != "address"} for s in posted]
    if "stations-in-one-post" in endpoint.defects:  # the defect: a list of stations in one station-post
        outbox.send("station-post", {"station": posted, "partner-identifier": outbox.identifier})
    for station in posted if "stations-in-one-post" not in endpoint.defects else ():
        outbox.send("station-post", {"station": station, "partner-identifier": outbox.identifier})
    if "sends-emp-calls" in endpoint.defects:  # the defect: a call of the other role
        outbox.send("rfid-post", {"rfids": ["04523022AA4881"], "partner-identifier": outbox.identifier})
    return {"stations": [station["id"] for station in posted]}


def set_status(endpoint: Endpoint, outbox: Outbox, fields: Body) -> Body:
    """Push a connector's new status: "When the status of a connector changes, the CPO must send a
    ``connector-post-status`` request to push the change." (cpo/poi.rst).
    """
    connector, status = _own_connector(endpoint, fields), required_text(fields, "status")
    if status not in STATUSES:
        raise ControlError(400, f"Received: status {status!r}\nExpected: one of {', '.join(STATUSES)}.")
    ((call, body),) = endpoint.transact(lambda ctx: set_connector_status(ctx, connector, status)).items()
    if "no-status-on-change" not in endpoint.defects:
        outbox.send(call, body)
    return {}


def present_rfid(endpoint: Endpoint, outbox: Outbox, fields: Body) -> Body:
    """A driver holds a card to the connector's reader: verify its UID with the EMP (waiting for the
    answer), and start a session when the EMP answers success, "0xx" (cpo/rfid_start.rst, "Online
    Authorization"). With offline-whitelist, a UID of the EMP's last rfid-post starts at once: "It is
    then the CPO's responsibility to authorize any UID [...] if the UID was part of the last push of
    UIDs from the EMP to the CPO." (cpo/rfid_start.rst, "Offline Authorization").
    """
    connector, uid = _own_connector(endpoint, fields), normalise_uid(required_text(fields, "rfid"))
    _require_free(endpoint, connector)
    sent = uid.lower() if "rfid-lowercase" in endpoint.defects else uid
    sent = sent.lstrip("0") or "0" if "rfid-unpadded" in endpoint.defects else sent
    offline = "offline-whitelist" in endpoint.behaviours and _whitelisted(endpoint, uid)
    if offline or "authorizes-offline-only" in endpoint.defects:  # the defect: no online verification at all
        authorized, result = True, None
    else:
        outcome = outbox.request("rfid-verify", {"rfid": sent})
        authorized = outcome.status == 200 and outcome.code is not None and 0 <= outcome.code < 100
        authorized = authorized or "ignores-verify-answer" in endpoint.defects  # the defect: charges anyway
        result = outcome.answer.get("result") if isinstance(outcome.answer, dict) else None
    if not authorized:
        return {"authorized": False, "session-id": None, "rfid": sent, "result": result}

    def start(ctx: Context) -> str:
        if running_session(ctx, connector) is not None:
            raise ControlError(409, f"Connector {connector!r} got a session while the UID was being verified.")
        return begin_session(ctx, connector, "rfid", uid, remote=False)

    return {"authorized": True, "session-id": endpoint.transact(start), "rfid": sent, "result": result}


def plug_out(endpoint: Endpoint, outbox: Outbox, fields: Body) -> Body:
    """The car is unplugged: the session there ends, its connector is Available, its CDR goes out (cpo/cdr.rst)."""
    connector = _own_connector(endpoint, fields)

    def end(ctx: Context) -> str:
        session_id = running_session(ctx, connector)
        if session_id is None:
            raise ControlError(
                409, f"Received: plug-out on {connector!r}\nExpected: a connector with a running session."
            )
        end_session(ctx, session_id)
        return session_id

    return {"session-id": endpoint.transact(end)}


def normalise_uid(read: str) -> str:
    """A UID as the spec wants it: no spaces, upper-case, zero-padded on the left to 8, 14 or 20
    characters (calls/rfid_verify.rst: "If you have shorter UIDs, you need to zero-pad them on the left").
    """
    uid = read.replace(" ", "").upper()
    if not UID.fullmatch(uid):
        raise ControlError(400, f"Received: rfid {read!r}\nExpected: a UID of 1 to 20 hexadecimal digits.")
    width = next(length for length in UID_LENGTHS if length >= len(uid))
    return uid.rjust(width, "0")


def stations(connectors: list[str]) -> list[Body]:
    """This CPO's stations (calls/station_post.rst): one per EVSE ID prefix, 'REF-STATION-1', '-2', ..."""
    grouped = itertools.groupby(connectors, key=lambda evse_id: evse_id.rpartition("*")[0])
    return [_station(n, list(ids)) for n, (_prefix, ids) in enumerate(grouped, start=1)]


def _station(n: int, connectors: list[str]) -> Body:
    return {
        "id": f"REF-STATION-{n}",
        "name": f"Reference station {n}",
        "latitude": round(52.52 + n / 1000, 6),
        "longitude": 13.405,
        "address": {
            "street": "Marktstraße",
            "street-number": str(n),
            "city": "Berlin",
            "zip": "10115",
            "country": "DE",
        },
        "contact": {"phone": "+49 30 1234567"},
        "cpo-id": "DE*REF",
        "is-open-24": True,
        "connectors": [{"id": evse_id, "name": "Type2", "speed": CONNECTOR_SPEED} for evse_id in connectors],
        "is-reservable": True,
        "deleted": False,
    }


def _connectors(endpoint: Endpoint) -> list[str]:
    with endpoint.db.transaction() as tx:
        return [row["evse_id"] for row in tx.execute("SELECT evse_id FROM connectors ORDER BY rowid")]


def _own_connector(endpoint: Endpoint, fields: Body) -> str:
    connector = required_text(fields, "connector-id")
    if connector not in _connectors(endpoint):
        raise ControlError(400, f"Received: connector-id {connector!r}\nExpected: one of {_connectors(endpoint)}.")
    return connector


def _whitelisted(endpoint: Endpoint, uid: str) -> bool:
    """Whether ``uid`` is in the whitelist an EMP pushed (calls/rfid_post.rst)."""
    with endpoint.db.transaction() as tx:
        return tx.execute("SELECT 1 FROM whitelist WHERE uid = ?", (uid,)).fetchone() is not None


def _require_free(endpoint: Endpoint, connector: str) -> None:
    if endpoint.transact(lambda ctx: running_session(ctx, connector)) is not None:
        raise ControlError(409, f"Connector {connector!r} already has a running session.")


ACTIONS: dict[str, Action] = {
    "push-stations": push_stations,
    "set-status": set_status,
    "present-rfid": present_rfid,
    "plug-out": plug_out,
}
