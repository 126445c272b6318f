"""The admin API under ``/admin/``: journal, state, outbound calls, faults, reset.

Never reachable with an OIOI key: a request that carries ``Authorization: key=…`` is
refused with 403, so a partner's API key can never read the journal. When the
``ADMIN_TOKEN`` setting is given, every admin request needs ``Authorization: Bearer
<token>`` (compared in constant time).

==========================  ================================================================
``GET  /admin/info``        what serves this page: ``kind`` (mock or proxy), role, endpoint,
                            partner URL (masked), calls it sends and answers, listeners,
                            ``features``, the page's ``refresh_ms``
``GET  /admin/journal``     entries oldest first (and ``last``, the newest id of the whole
                            journal: lower than one seen, it was reset); query ``call``, ``exchange``
                            (``inbound``/``outbound``), ``since`` (an entry id or an RFC 3339
                            time, exclusive), ``limit``, ``latest`` (only the last N),
                            ``explain=1`` (each entry's partner identifier, URL and ``curl``;
                            each finding's spec ``sentence``, see `oioi.explain`)
``GET  /admin/journal.jsonl``  the journal's JSONL export (``oioi mock journal``); ``redact=1``
                            pseudonymises it (`oioi.redact`), ``salt`` fixes the pseudonyms
``GET  /admin/example``     ``?call=NAME``: a valid request body of the call, to edit and send
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

The reading views (info, journal, export) are their own blueprint, `reading`, which the
proxy's page serves too (`mock_server.proxy`, ``--ui``); `bp` is the mock's own.
"""

from __future__ import annotations

import hmac
import json
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from mock_server import _cpo, _emp, _faults, _outbound, seed
from mock_server._store import Store
from oioi import SPEC_VERSION, __version__, calls, capture, mask, validate
from oioi.errors import ConfigError
from oioi.explain import sentence

bp = Blueprint("admin", __name__, url_prefix="/admin")
reading = Blueprint("admin_reading", __name__, url_prefix="/admin")
REFRESH_MS = 1000  # how often the page asks for new journal entries (README: "the page refreshes every second")


class AdminError(Exception):
    """A client mistake on the admin API: HTTP ``status`` with one sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _admin_error(error: AdminError) -> tuple[Response, int]:
    return jsonify(error=str(error)), error.status


def _config_error(error: ConfigError) -> tuple[Response, int]:
    return jsonify(error=str(error)), 400


def guard() -> None:
    """Refuse an OIOI key (403), a browser's request sent by another site's page (403) and, when the app has an
    admin token, a request without it (401).

    A browser names the page a request comes from in ``Origin``; a page of another site must not reset the
    mock or read its journal through the browser of someone who has the live page open (tools send no
    ``Origin`` and are not concerned).
    """
    header = request.headers.get("Authorization", "")
    if header.startswith("key="):
        raise AdminError(403, "The admin API does not take OIOI API keys; send no 'Authorization: key=…' here.")
    origin = request.headers.get("Origin")
    if origin is not None and origin.rstrip("/") != request.host_url.rstrip("/"):
        raise AdminError(403, f"The admin API answers its own page only, not a page of {origin}.")
    token = current_app.config["ADMIN_TOKEN"]
    if token:
        given = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
        if not hmac.compare_digest(given.encode(), str(token).encode()):
            raise AdminError(401, "The admin API needs 'Authorization: Bearer <admin token>'.")


for _blueprint in (bp, reading):
    _blueprint.before_request(guard)
    _blueprint.register_error_handler(AdminError, _admin_error)
    _blueprint.register_error_handler(ConfigError, _config_error)


def store() -> Store:
    """The store of the current app."""
    found: Store = current_app.extensions["oioi_store"]
    return found


def _json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise AdminError(400, "Send a JSON object with 'Content-Type: application/json'.")
    return data


@reading.get("/info")
def info() -> Response:
    """What serves the page (`mock_info`, or the proxy's), and how often the page refreshes."""
    about: Callable[[], dict[str, Any]] = current_app.extensions["oioi_info"]
    return jsonify(version=__version__, spec_version=SPEC_VERSION, refresh_ms=REFRESH_MS, **about())


def mock_info() -> dict[str, Any]:
    """`info` of the mock: its role, endpoint and partner, the calls it sends and answers; every action."""
    role = current_app.config["ROLE"]
    urls = mock_urls()
    partners_handlers = _emp.HANDLERS if role == "cpo" else _cpo.HANDLERS  # what the partner's role answers
    return {"kind": "mock", "role": role, "endpoint": urls[None], "partner_url": urls["outbound"],
            "sends": sorted(partners_handlers),
            "receives": sorted(current_app.extensions["oioi_handlers"]), "listeners": [],
            "features": {"state": True, "send": True, "faults": True, "reset": True}}


@reading.get("/journal")
def journal() -> Response:
    """Journal entries, oldest first (with ``explain=1``, as the page shows them)."""
    entries = _entries()
    if _flag("explain"):
        urls = current_app.extensions["oioi_urls"]()
        entries = [explained(entry, urls) for entry in entries]
    # ``last``: the newest id in the whole journal; lower than one a reader saw, the journal was emptied or replaced
    return jsonify(entries=entries, count=len(entries), last=store().last_id())


def _entries() -> list[dict[str, Any]]:
    args = request.args
    exchange = args.get("exchange")
    if exchange not in (None, "inbound", "outbound"):
        raise AdminError(400, f"'exchange' is 'inbound' or 'outbound', not {exchange!r}.")
    since: int | str | None = args.get("since")
    if isinstance(since, str) and since.isdigit():
        since = int(since)
    return store().journal(call=args.get("call"), exchange=exchange, since=since, limit=_count("limit"),
                           latest=_count("latest"))


def _flag(name: str) -> bool:
    """Whether the query switches ``name`` on (``1`` or ``true``)."""
    return request.args.get(name) in ("1", "true")


def _count(name: str) -> int | None:
    value = request.args.get(name)
    if value is not None and not value.isdigit():
        raise AdminError(400, f"'{name}' is a whole number, not {value!r}.")
    return int(value) if value else None


def explained(entry: dict[str, Any], urls: dict[str | None, str | None]) -> dict[str, Any]:
    """The entry as the page shows it: its partner identifier, where its request went, a ``curl`` that sends it
    again (the key from $OIOI_API_KEY), and each finding's spec sentence (None when the catalogue has none)."""
    url = urls.get(entry.get("peer") if entry["exchange"] == "inbound" else "outbound")
    findings = [{**finding, "sentence": sentence(finding, entry.get("call"))} for finding in entry["findings"]]
    return {**entry, "partner": partner_identifier(entry.get("request_body")), "url": url,
            "curl": capture.curl(entry, url), "findings": findings}


def partner_identifier(body: Any) -> str | None:
    """The ``partner-identifier`` a request names in its call's object (None when it names none)."""
    try:
        message = json.loads(body) if isinstance(body, str) else body
    except ValueError:
        return None
    if isinstance(message, dict) and len(message) == 1:
        (inner,) = message.values()
        if isinstance(inner, dict) and isinstance(inner.get("partner-identifier"), str):
            return str(inner["partner-identifier"])
    return None


def mock_urls() -> dict[str | None, str | None]:
    """Where the mock's journaled requests went: inbound ones to its endpoint, outbound ones to its partner."""
    partner = current_app.config["PARTNER_URL"]
    return {None: request.host_url + "api/v4/request", "outbound": shown_url(str(partner)) if partner else None}


def shown_url(url: str) -> str:
    """A URL as the page shows it: a password or query it carries masked (`oioi.mask`), the rest as it is."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", f":{mask(parts.password)}@", 1)
    query = urllib.parse.urlencode([(k, mask(v)) for k, v in urllib.parse.parse_qsl(parts.query)], safe="*")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


@reading.get("/journal.jsonl")
def export() -> Response:
    """The journal's JSONL export, as ``oioi mock journal`` writes it; pseudonymised with ``redact=1``."""
    entries, redact = store().journal(), _flag("redact")
    if redact:
        from oioi.redact import Pseudonyms

        entries = Pseudonyms(request.args.get("salt") or None).entries(entries)

    def lines() -> Iterator[str]:
        for line in capture.export_lines(entries):
            yield line + "\n"

    name = "oioi-journal-redacted.jsonl" if redact else "oioi-journal.jsonl"
    return Response(lines(), mimetype="application/x-ndjson",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


def serve_reading(app: Flask, about: Callable[[], dict[str, Any]], urls: Callable[[], dict[str | None, str | None]]) \
        -> None:
    """Give ``app`` the reading views, saying what serves them (``about``) and where requests went (``urls``)."""
    app.extensions["oioi_info"] = about
    app.extensions["oioi_urls"] = urls
    app.register_blueprint(reading)


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


@bp.get("/example")
def example() -> Response:
    """A valid request body of ``call`` to edit and send: the seed's station for station-post, else one drawn by
    `oioi.strategies.example`; this mock's own partner identifier where the call carries one (`_outbound.build`)."""
    call = request.args.get("call")
    if call not in calls():
        raise AdminError(400, f"'call' must be an OIOI call such as 'session-start', not {call!r}.")
    if call == "station-post":
        body = _default_body(call)
    else:
        from oioi.strategies import example as drawn

        body = drawn(call)[call]
        body.pop("partner-identifier", None)  # this mock's own, below
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return jsonify(call=call, body=_outbound.build(app, call, body)[call])


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
