"""The admin API under ``/admin/``: journal, state, outbound calls, faults, reset.

Never reachable with an OIOI key: a request that carries ``Authorization: key=…`` is
refused with 403, so a partner's API key can never read the journal. When the
``ADMIN_TOKEN`` setting is given, every admin request needs ``Authorization: Bearer
<token>`` (compared in constant time).

==========================  ================================================================
``GET  /admin/journal``     entries oldest first; query ``call``, ``exchange``
                            (``inbound``/``outbound``), ``since`` (an entry id or an RFC 3339
                            time, exclusive), ``limit``
``GET  /admin/state``       stations, connectors, sessions, RFIDs, whitelist, reservations,
                            violations, queued faults
``POST /admin/send``        ``{"call": NAME, "body": {...}}``: send one call to the partner,
                            wait for its answer, return the journal entry (``"allow_invalid":
                            true`` sends a message that breaks the schema, on purpose)
``POST /admin/faults``      queue a fault (see ``mock_server/_faults.py``); 201 with its id
``DELETE /admin/faults``    drop every fault still queued; how many there were
``POST /admin/reset``       empty the state and load the seed data again; ``{"journal": false}``
                            keeps the journal
==========================  ================================================================
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from mock_server import _faults, _outbound, seed
from mock_server._store import Store
from oioi import calls, validate
from oioi.errors import ConfigError

bp = Blueprint("admin", __name__, url_prefix="/admin")


class AdminError(Exception):
    """A client mistake on the admin API: HTTP ``status`` with one sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@bp.errorhandler(AdminError)
def _admin_error(error: AdminError) -> tuple[Response, int]:
    return jsonify(error=str(error)), error.status


@bp.errorhandler(ConfigError)
def _config_error(error: ConfigError) -> tuple[Response, int]:
    return jsonify(error=str(error)), 400


@bp.before_request
def _guard() -> None:
    header = request.headers.get("Authorization", "")
    if header.startswith("key="):
        raise AdminError(403, "The admin API does not take OIOI API keys; send no 'Authorization: key=…' here.")
    token = current_app.config["ADMIN_TOKEN"]
    if token:
        given = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
        if not hmac.compare_digest(given.encode(), str(token).encode()):
            raise AdminError(401, "The admin API needs 'Authorization: Bearer <admin token>'.")


def store() -> Store:
    """The store of the current app."""
    found: Store = current_app.extensions["oioi_store"]
    return found


def _json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise AdminError(400, "Send a JSON object with 'Content-Type: application/json'.")
    return data


@bp.get("/journal")
def journal() -> Response:
    """Journal entries, oldest first."""
    args = request.args
    exchange = args.get("exchange")
    if exchange not in (None, "inbound", "outbound"):
        raise AdminError(400, f"'exchange' is 'inbound' or 'outbound', not {exchange!r}.")
    since: int | str | None = args.get("since")
    if isinstance(since, str) and since.isdigit():
        since = int(since)
    limit = args.get("limit")
    if limit is not None and not limit.isdigit():
        raise AdminError(400, f"'limit' is a whole number, not {limit!r}.")
    entries = store().journal(
        call=args.get("call"), exchange=exchange, since=since, limit=int(limit) if limit else None
    )
    return jsonify(entries=entries, count=len(entries))


@bp.get("/state")
def state() -> Response:
    """The mock's state tables."""
    return jsonify(role=current_app.config["ROLE"], **store().snapshot())


@bp.post("/send")
def send() -> tuple[Response, int]:
    """Send one call to the partner and return the journal entry of the exchange."""
    data = _json_body()
    call = data.get("call")
    if call not in calls():
        raise AdminError(400, f"'call' must be an OIOI call such as 'session-start', not {call!r}.")
    body = data["body"] if "body" in data else _default_body(call)
    if not isinstance(body, dict):
        raise AdminError(400, f"'body' must be the JSON object of the {call} request.")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    message = _outbound.build(app, call, body)
    errors = [f.to_dict() for f in validate(message) if f.severity == "error"]
    if errors and not data.get("allow_invalid"):
        return jsonify(
            error=f"The {call} message breaks the schema; fix it or send 'allow_invalid': true.", findings=errors
        ), 400
    entry = _outbound.send(app, message)
    return jsonify(entry), 200


def _default_body(call: str) -> Any:
    if call == "station-post":
        return {"station": current_app.extensions["oioi_seed"]["stations"][0]}
    raise AdminError(400, f"Give the 'body' of the {call} request.")


@bp.post("/faults")
def faults() -> tuple[Response, int]:
    """Queue a fault for the next requests."""
    fault = _faults.parse(_json_body())
    return jsonify(id=_faults.add(store(), fault), fault=fault), 201


@bp.delete("/faults")
def clear_faults() -> Response:
    """Drop the faults still queued (a test that queued more than the partner used cleans up)."""
    return jsonify(cleared=_faults.clear(store()))


@bp.post("/reset")
def reset() -> Response:
    """Empty the state (and the journal unless ``{"journal": false}``), then load the seed data again."""
    data = request.get_json(silent=True) or {}
    keep = isinstance(data, dict) and data.get("journal") is False
    store().reset(journal=not keep)
    seed.reload(current_app._get_current_object(), store())  # type: ignore[attr-defined]
    return jsonify(reset=True, journal_kept=keep)
