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

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from mock_server import _faults
from mock_server._context import Exchange, store
from oioi import detect_call, validate
from oioi.results import ResultCodeError, result

bp = Blueprint("oioi", __name__)

MASK_KEEP = 4


def mask(secret: str) -> str:
    """A secret with all but its last four characters replaced by ``*``."""
    if len(secret) <= MASK_KEEP:
        return "*" * len(secret)
    return "*" * (len(secret) - MASK_KEEP) + secret[-MASK_KEEP:]


def masked_headers(headers: Any) -> dict[str, str]:
    """Request headers for the journal, with the API key masked."""
    out = {}
    for name, value in headers.items():
        if name.lower() == "authorization":
            scheme, _, secret = value.partition("=") if value.startswith("key=") else value.partition(" ")
            value = f"{scheme}{'=' if value.startswith('key=') else ' '}{mask(secret)}" if secret else mask(value)
        out[name] = value
    return out


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
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        exchange = Exchange(raw=f"<{request.content_length} bytes, not read>".encode(),
                            headers=masked_headers(request.headers))
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        return _finish(exchange, (413, _error(230, f"The body is larger than {limit} bytes.")), started)
    exchange = Exchange(raw=raw, headers=masked_headers(request.headers))
    peek = functools.cache(lambda: _peek_call(raw))  # parses the body only when faults are queued, and once
    fault = _faults.take(store(), peek)
    early: tuple[int, Any] | Response | None = None
    if fault is not None:
        exchange.call = peek()
        exchange.fault = fault
        early = _faults.before(fault, exchange)
    if early is None:
        try:
            early = _check(exchange)
        except Exception as bug:  # a mock bug: answer 500, and still journal the exchange
            early = _internal_error(exchange, bug)
    return _finish(exchange, early, started)


def _check(exchange: Exchange) -> tuple[int, Any] | None:
    """The answer to a request that fails a check before its handler; None when it may be handled."""
    config = current_app.config
    if not key_accepted(request.headers.get("Authorization"), config["API_KEYS"]):
        exchange.call = _peek_call(exchange.raw)  # for the journal: which call was refused
        return 401, _error(210, "Send 'Authorization: key=<api-key>' with a key this partner gave you.")
    if request.mimetype != "application/json":
        return 400, _error(230, f"Content-Type must be application/json, not {request.content_type or 'missing'!r}.")
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
    if call is not None and call not in current_app.extensions["oioi_handlers"]:
        return 403, _error(220, f"This mock plays the {config['ROLE'].upper()} and does not receive {call!r}.")
    if any(f["severity"] == "error" for f in findings):
        return 400, {**_error(230, "The request breaks the OIOI 4.19 schema; see 'error'."), "error": findings}
    assert call is not None
    exchange.message = message
    return None


def _handle(exchange: Exchange, db: sqlite3.Connection) -> tuple[int, Any]:
    """Run the call's handler inside the request's transaction (its changes undone if it fails)."""
    assert exchange.call is not None and exchange.message is not None
    handler = current_app.extensions["oioi_handlers"][exchange.call]
    exchange.db = db
    try:
        payload = handler(exchange, exchange.message[exchange.call])
    except ResultCodeError as outcome:
        _undo(db)
        return (400 if outcome.code == 211 else 200), {"result": outcome.result()}
    except Exception as bug:
        _undo(db)
        exchange.after.clear()
        return _internal_error(exchange, bug)
    finally:
        exchange.db = None
    return 200, {**payload, "result": result(0, "Success.")}


def _undo(db: sqlite3.Connection) -> None:
    """Undo a refused or failed handler's changes; the transaction goes on for the journal entry.

    (A rollback and a new transaction rather than a savepoint: refusals are rare, and every
    statement on the common path costs a release and a re-acquisition of the GIL.)
    """
    db.execute("ROLLBACK")
    db.execute("BEGIN IMMEDIATE")


def _internal_error(exchange: Exchange, bug: Exception) -> tuple[int, Any]:
    current_app.logger.exception("the mock failed on a %s request", exchange.call)
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


def _finish(exchange: Exchange, answer: tuple[int, Any] | Response | None, started: float) -> Response:
    """Handle (when ``answer`` is None), build the response and journal the exchange, in one transaction."""
    with store().write() as db:
        if answer is None:
            answer = _handle(exchange, db)
        response, body_text, code = _response(exchange, answer)
        entry = {
            "exchange": "inbound",
            "call": exchange.call,
            "request_headers": exchange.headers,
            "request_body": exchange.raw.decode("utf-8", "backslashreplace"),
            "status": None if exchange.dropped else response.status_code,
            "response_body": None if exchange.dropped else body_text,
            "result_code": None if exchange.dropped else code,
            "findings": exchange.findings,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            "fault": exchange.fault,
        }
        store().record(db, entry)
    exchange.run_after()
    if exchange.dropped:
        _faults.drop_connection()
    return response


def _response(exchange: Exchange, answer: tuple[int, Any] | Response) -> tuple[Response, str, int | None]:
    if isinstance(answer, Response):  # a fault that shapes the whole answer (malformed body)
        answer.headers.update(exchange.extra_headers)
        return answer, answer.get_data(as_text=True), None
    status, body = answer
    if exchange.call == "session-post" and isinstance(body, dict) and "reason" not in body:
        # calls/session_post.rst: every answer carries 'reason', null on success.
        code = body.get("result", {}).get("code")
        body["reason"] = None if code == 0 else body.get("result", {}).get("message")
    body_text = json.dumps(body)
    broken = _check_own_answer(exchange, status, body_text)
    if broken:  # a mock bug: say so, journal it, never send a reply that breaks the spec
        current_app.logger.error("the mock's own %s answer breaks the schema: %s", exchange.call, broken)
        exchange.findings = [*exchange.findings, *broken]
        status, body = 500, _error(100, "The mock partner built an invalid answer; its journal has the details.")
        body_text = json.dumps(body)
    response = Response(body_text, status=status, mimetype="application/json")
    for name, value in exchange.extra_headers.items():
        response.headers[name] = value
    code = body.get("result", {}).get("code") if isinstance(body, dict) else None
    return response, body_text, code


def _check_own_answer(exchange: Exchange, status: int, body_text: str) -> list[dict[str, Any]]:
    """Findings (rule ``mock/invalid-answer``) when the mock's answer breaks the call's response schema."""
    if exchange.call is None or not current_app.config["CHECK_RESPONSES"] or exchange.fault or status >= 500:
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
