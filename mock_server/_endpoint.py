"""The OIOI endpoint, ``POST /api/v4/request`` (request.rst).

Order of checks: body size (413/230), fault injection, API key (401/210), Content-Type
and UTF-8 (400/230), JSON (400/230), the call (unknown: 400/230; not received by this
role: 403/220), the core validator (400/230 with the findings in ``error``), then the
role's handler. A handler's protocol outcome travels as HTTP 200 with its result code, as
the call pages list it; 211 (invalid partner identifier) is a client error and answers
400. The handler's changes and the journal entry are committed in one transaction, before
the answer leaves; the answer itself is checked against the response schema first.
"""

from __future__ import annotations

import functools
import hmac
import json
import sqlite3
import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from mock_server import _faults
from mock_server._context import Exchange
from mock_server._store import Store
from oioi import detect_call, mask, validate
from oioi.results import ResultCodeError, result

bp = Blueprint("oioi", __name__)



def masked_headers(headers: Any) -> dict[str, str]:
    """Request headers for the journal, with the API key masked."""
    out = {}
    for name, value in headers.items():
        if name.lower() == "authorization":
            scheme, _, secret = value.partition("=") if value.startswith("key=") else value.partition(" ")
            value = f"{scheme}{'=' if value.startswith('key=') else ' '}{mask(secret)}" if secret else mask(value)
        out[name] = value
    return out


def environ_headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request headers of a WSGI environ, named as ``request.headers`` names them (``Content-Type``).

    The same headers as iterating werkzeug's ``EnvironHeaders``, without building it: the
    journal copies every request's headers, so this is on the hot path.
    """
    out = {}
    for key, value in environ.items():
        name = _HEADER_NAMES.get(key)
        if name is None:
            if not key.startswith("HTTP_") or key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                continue
            name = key[5:].replace("_", "-").title()
            if len(_HEADER_NAMES) < 256:  # names repeat; a client inventing new ones does not grow the cache
                _HEADER_NAMES[key] = name
        elif not value and key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            continue
        out[name] = value
    return out


_HEADER_NAMES: dict[str, str] = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}


def key_accepted(header: str | None, keys: list[str]) -> bool:
    """``Authorization: key=<api-key>`` with a key this mock accepts, compared in constant time."""
    if not header or not header.startswith("key="):
        return False
    given = header[4:].encode()
    found = False
    for key in keys:
        found |= hmac.compare_digest(given, key.encode())
    return found


@bp.post("/api/v4/request")
def oioi_request() -> Response:
    """Answer one OIOI request and journal the exchange.

    The handler's changes to the state and the journal entry are written in one
    transaction, so an acknowledged exchange is never in one without the other.
    """
    started = time.perf_counter()
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]  # once, not per lookup
    environ = request.environ
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        exchange = Exchange(raw=f"<{request.content_length} bytes, not read>".encode(),
                            headers=masked_headers(environ_headers(environ)))
        limit = app.config["MAX_CONTENT_LENGTH"]
        return _finish(app, exchange, (413, _error(230, f"The body is larger than {limit} bytes.")), started)
    exchange = Exchange(raw=raw, headers=masked_headers(environ_headers(environ)))
    the_store: Store = app.extensions["oioi_store"]
    early: tuple[int, Any] | Response | None = None
    if the_store.faults_pending:  # the common case skips this: no fault queued, no query
        peek = functools.cache(functools.partial(_peek_call, raw))  # parses the body once, only when needed
        fault = _faults.take(the_store, peek)
        if fault is not None:
            exchange.call = peek()
            exchange.fault = fault
            early = _faults.before(fault, exchange)
    if early is None:
        try:
            early = _check(app, environ, exchange)
        except Exception as bug:  # a mock bug: answer 500, and still journal the exchange
            early = _internal_error(app, exchange, bug)
    return _finish(app, exchange, early, started)


def _check(app: Flask, environ: dict[str, Any], exchange: Exchange) -> tuple[int, Any] | None:
    """The answer to a request that fails a check before its handler; None when it may be handled."""
    config = app.config
    if not key_accepted(environ.get("HTTP_AUTHORIZATION"), config["API_KEYS"]):
        exchange.call = _peek_call(exchange.raw)  # for the journal: which call was refused
        return 401, _error(210, "Send 'Authorization: key=<api-key>' with a key this partner gave you.")
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type != "application/json" and request.mimetype != "application/json":
        return 400, _error(230, f"Content-Type must be application/json, not {content_type or 'missing'!r}.")
    try:
        text = exchange.raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        why = f"The body is not UTF-8 (byte {exchange.raw[bad.start]:#04x} at offset {bad.start})."
        exchange.findings = [_transport_finding("message/utf-8", why)]
        return 400, _error(230, why)
    try:
        message = json.loads(text)
    except ValueError as bad:
        exchange.findings = [_transport_finding("message/json", f"The body is not JSON: {bad}.")]
        return 400, _error(230, f"The body is not JSON: {bad}.")
    except RecursionError:
        return 400, _error(230, "The body's JSON is nested too deeply to be an OIOI message.")
    call = detect_call(message)
    findings = [f.to_dict() for f in validate(message, profile=config["PROFILE"])]
    exchange.call = call
    exchange.findings = findings
    if call is not None and call not in app.extensions["oioi_handlers"]:
        return 403, _error(220, f"This mock plays the {config['ROLE'].upper()} and does not receive {call!r}.")
    if any(f["severity"] == "error" for f in findings):
        return 400, {**_error(230, "The request breaks the OIOI 4.19 schema; see 'error'."), "error": findings}
    assert call is not None
    exchange.message = message
    return None


def _handle(app: Flask, exchange: Exchange, db: sqlite3.Connection) -> tuple[int, Any]:
    """Run the call's handler inside the request's transaction (its changes undone if it fails)."""
    assert exchange.call is not None and exchange.message is not None
    handler = app.extensions["oioi_handlers"][exchange.call]
    exchange.db = db
    try:
        payload = handler(exchange, exchange.message[exchange.call])
    except ResultCodeError as outcome:
        app.extensions["oioi_store"].undo(db)
        return (400 if outcome.code == 211 else 200), {"result": outcome.result()}
    except Exception as bug:
        app.extensions["oioi_store"].undo(db)
        exchange.after.clear()
        return _internal_error(app, exchange, bug)
    finally:
        exchange.db = None
    return 200, {**payload, "result": result(0, "Success.")}


def _internal_error(app: Flask, exchange: Exchange, bug: Exception) -> tuple[int, Any]:
    app.logger.exception("the mock failed on a %s request", exchange.call)
    exchange.findings = [
        *exchange.findings,
        {
            "severity": "error",
            "path": "",
            "rule": "mock/internal-error",
            "spec": "request.rst",
            "message": f"{type(bug).__name__}: {bug}",
        },
    ]
    return 500, _error(100, "The mock partner failed on this request; its journal has the details.")


def _transport_finding(rule: str, message: str) -> dict[str, Any]:
    """A journal finding for a body refused before validation (request.rst: "All data must be UTF-8 encoded")."""
    return {"severity": "error", "path": "", "rule": rule, "spec": "request.rst", "message": message}


def _error(code: int, message: str) -> dict[str, Any]:
    return {"result": result(code, message)}


def _peek_call(raw: bytes) -> str | None:
    try:
        return detect_call(json.loads(raw))
    except (ValueError, RecursionError):
        return None


def _finish(app: Flask, exchange: Exchange, answer: tuple[int, Any] | Response | None, started: float) -> Response:
    """Handle (when ``answer`` is None), build the response and journal the exchange, in one transaction."""
    the_store: Store = app.extensions["oioi_store"]
    findings, after = exchange.findings, len(exchange.after)

    def write(db: sqlite3.Connection) -> Response:
        # May run again (see Store.exchange): start from the exchange as it came.
        exchange.findings = findings
        del exchange.after[after:]
        response, body_text, code = _response(app, exchange, _handle(app, exchange, db) if answer is None else answer)
        dropped = exchange.dropped
        the_store.record(
            db,
            {
                "exchange": "inbound",
                "call": exchange.call,
                "request_headers": exchange.headers,
                "request_body": exchange.raw.decode("utf-8", "backslashreplace"),
                "status": None if dropped else response.status_code,
                "response_body": None if dropped else body_text,
                "result_code": None if dropped else code,
                "findings": exchange.findings,
                "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                "fault": exchange.fault,
            },
        )
        return response

    response = the_store.exchange(write)
    if exchange.after:
        exchange.run_after()
    if exchange.dropped:
        _faults.drop_connection()
    return response


_SUCCESS = {"result": result(0, "Success.")}
_SUCCESS_TEXT = json.dumps(_SUCCESS)  # the most common answer, serialised once


def _response(app: Flask, exchange: Exchange, answer: tuple[int, Any] | Response) -> tuple[Response, str, int | None]:
    if isinstance(answer, Response):  # a fault that shapes the whole answer (malformed body)
        answer.headers.update(exchange.extra_headers)
        return answer, answer.get_data(as_text=True), None
    status, body = answer
    if exchange.call == "session-post" and isinstance(body, dict) and "reason" not in body:
        # calls/session_post.rst: every answer carries 'reason', null on success.
        code = body.get("result", {}).get("code")
        body["reason"] = None if code == 0 else body.get("result", {}).get("message")
    body_text = _SUCCESS_TEXT if body == _SUCCESS else json.dumps(body)
    broken = _check_own_answer(app, exchange, status, body_text)
    if broken:  # a mock bug: say so, journal it, never send a reply that breaks the spec
        app.logger.error("the mock's own %s answer breaks the schema: %s", exchange.call, broken)
        exchange.findings = [*exchange.findings, *broken]
        status, body = 500, _error(100, "The mock partner built an invalid answer; its journal has the details.")
        body_text = json.dumps(body)
    response = Response(body_text, status=status, content_type="application/json")
    if exchange.extra_headers:
        response.headers.update(exchange.extra_headers)
    code = body.get("result", {}).get("code") if isinstance(body, dict) else None
    return response, body_text, code


def _check_own_answer(app: Flask, exchange: Exchange, status: int, body_text: str) -> list[dict[str, Any]]:
    """Findings (rule ``mock/invalid-answer``) when the mock's answer breaks the call's response schema."""
    if exchange.call is None or not app.config["CHECK_RESPONSES"] or exchange.fault or status >= 500:
        return []
    judge = _short_answer_errors if len(body_text) <= SHORT_ANSWER else _answer_errors
    return [
        {**f, "rule": "mock/invalid-answer", "message": f"{f['rule']} at {f['path']}: {f['message']}"}
        for f in judge(exchange.call, status, body_text)
    ]


SHORT_ANSWER = 1024  # characters; short answers repeat (``{"result": {"code": 0, ...}}``), so their verdicts are kept


def _answer_errors(call: str, status: int, body_text: str) -> tuple[dict[str, Any], ...]:
    return tuple(f for f in answer_findings(call, status, json.loads(body_text)) if f["severity"] == "error")


_short_answer_errors = functools.lru_cache(maxsize=4096)(_answer_errors)


def answer_findings(call: str, status: int, body: Any) -> list[dict[str, Any]]:
    """What is wrong with an answer to ``call`` that came with HTTP ``status`` (see ``oioi.validate``)."""
    return [f.to_dict() for f in validate(body, call=call, direction="response", status=status)]
