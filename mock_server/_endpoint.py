"""The OIOI endpoint, ``POST /api/v4/request`` (request.rst).

`oioi_request` reads top to bottom: refuse → handle → answer → journal. `_refusal` refuses,
in this order: body size (413/230), an injected fault, API key (401/210), Content-Type and
UTF-8 (400/230), JSON (400/230), the call (unknown: 400/230; not received by this role:
403/220), the core validator (400/230 with the findings in ``error``). Then the role's
handler runs; its protocol outcome travels as HTTP 200 with its result code, as the call
pages list it; 211 (invalid partner identifier) is a client error and answers 400. The
answer is checked against the call's response schema, and the handler's changes and the
journal row are committed in one transaction before the answer leaves.
"""

from __future__ import annotations

import dataclasses
import functools
import hmac
import json
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Request, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from mock_server import _faults
from mock_server._store import Store
from oioi import Finding, detect_call, validate
from oioi.results import ResultCodeError, result

bp = Blueprint("oioi", __name__)
Answer = tuple[int, Any]  # HTTP status and the body: a JSON object, or a string sent as it is (a malformed-body fault)
Handler = Callable[["Inbound", dict[str, Any]], dict[str, Any]]


class Inbound:
    """One inbound request while it is answered: what arrived, what its handler may use, what it leaves.

    A handler (``_emp.HANDLERS``, ``_cpo.HANDLERS``) is called as ``handler(inbound, inbound.body)``;
    it reads and writes the state with ``tx`` (inside the endpoint's transaction), finds the
    settings in ``app.config``, records what the answer alone does not show with `violation`,
    and leaves outbound pushes in ``after``; they run once the exchange is committed.
    """

    def __init__(self, app: Flask, request: Request) -> None:
        """Read the request's headers and body (a body over ``MAX_CONTENT_LENGTH`` is not read)."""
        self.app = app
        self.store: Store = app.extensions["oioi_store"]
        self.tx: sqlite3.Connection = self.store.tx
        self.environ = request.environ
        self.headers = dict(request.headers.items())  # Store.record masks the API key
        self.too_large = False
        try:
            self.raw = request.get_data(cache=False)
        except RequestEntityTooLarge:
            self.raw, self.too_large = f"<{request.content_length} bytes, not read>".encode(), True
        self.call: str | None = None
        self.body: dict[str, Any] = {}  # the call's object, once the request has passed the checks
        self.findings: list[Finding] = []
        self.fault: dict[str, Any] | None = None
        self.dropped = False
        self.extra_headers: dict[str, str] = {}
        self.after: list[Callable[[], None]] = []

    def violation(self, rule: str, message: str) -> None:
        """Record a protocol violation by the partner that the answer alone does not show."""
        assert self.call is not None
        self.store.violation(self.tx, self.call, rule, message)


@bp.post("/api/v4/request")
def oioi_request() -> Response:
    """Answer one OIOI request and journal it: refuse → handle → answer → journal.

    The handler's changes and the journal row are one transaction, committed before the answer leaves.
    """
    started = time.perf_counter()
    inbound = Inbound(current_app._get_current_object(), request)  # type: ignore[attr-defined]
    try:  # refuse
        status, body = _refusal(inbound) or (200, None)
    except Exception as bug:  # a mock bug: answer 500, and still journal the exchange
        status, body = _internal_error(inbound, bug)
    tx, call = inbound.tx, inbound.call
    with inbound.store.lock, tx:  # one write transaction: committed at the end of the block, rolled back if it raises
        if body is None:  # handle
            handler: Handler = inbound.app.extensions["oioi_handlers"][call]
            try:
                body = {**handler(inbound, inbound.body), "result": result(0, "Success.")}
            except ResultCodeError as outcome:  # the call refused; its changes go, its journal row stays
                tx.rollback()
                status, body = (400 if outcome.code == 211 else 200), {"result": outcome.result()}
            except Exception as bug:
                tx.rollback()
                inbound.after.clear()
                status, body = _internal_error(inbound, bug)
        if call == "session-post":  # answer
            body = _with_reason(body)
        text = body if isinstance(body, str) else _SUCCESS_TEXT if body == _SUCCESS else json.dumps(body)
        if call and not inbound.fault and status < 500 and inbound.app.config["CHECK_RESPONSES"]:
            broken = _VERDICTS.get((call, status, text))  # short answers repeat: their verdicts are kept
            if broken is None:
                broken = validate(body, call=call, direction="response", status=status)
                if len(text) <= SHORT_ANSWER and len(_VERDICTS) < MAX_VERDICTS:
                    _VERDICTS[call, status, text] = broken
            if broken:
                status, body, text = _own_answer_checked(inbound, broken, status, body, text)
        code = body.get("result", {}).get("code") if isinstance(body, dict) else None
        dropped = inbound.dropped
        inbound.store.record(tx, {  # journal
            "exchange": "inbound", "call": call, "request_headers": inbound.headers,
            "request_body": inbound.raw.decode("utf-8", "backslashreplace"), "status": None if dropped else status,
            "response_body": None if dropped else text, "result_code": None if dropped else code,
            "findings": inbound.findings, "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            "fault": inbound.fault,
        })
    for action in inbound.after:  # outbound pushes, now that the exchange is committed
        action()
    if dropped:
        _faults.drop_connection()
    return Response(text, status, inbound.extra_headers, content_type="application/json")


_SUCCESS = {"result": result(0, "Success.")}
_SUCCESS_TEXT = json.dumps(_SUCCESS)  # the most common answer, serialised once
SHORT_ANSWER = 1024  # characters: answers this short repeat, so their verdicts are kept ...
MAX_VERDICTS = 4096  # ... up to this many
_VERDICTS: dict[tuple[str, int, str], list[Finding]] = {}


def _refusal(inbound: Inbound) -> Answer | None:
    """The answer to a request refused before its handler (see the module docstring); None when it may be handled."""
    config, environ = inbound.app.config, inbound.environ
    if inbound.too_large:
        return 413, _error(230, f"The body is larger than {config['MAX_CONTENT_LENGTH']} bytes.")
    if inbound.store.faults_pending:  # the common case skips this: no fault queued, no query
        answer = _faults.inject(inbound, functools.cache(functools.partial(_peek_call, inbound.raw)))
        if answer is not None:
            return answer
    header = environ.get("HTTP_AUTHORIZATION", "")  # 'key=<api-key>'; each comparison takes constant time
    if not header.startswith("key=") or not any(
        map(functools.partial(hmac.compare_digest, header[4:].encode()), inbound.app.extensions["oioi_api_keys"])
    ):
        return _unauthorized(inbound)
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type != "application/json" and request.mimetype != "application/json":
        return 400, _error(230, f"Content-Type must be application/json, not {content_type or 'missing'!r}.")
    try:
        message = json.loads(inbound.raw.decode("utf-8"))
    except (ValueError, RecursionError) as bad:  # UnicodeDecodeError is a ValueError
        return _unreadable(inbound, bad)
    inbound.call = detect_call(message)
    inbound.findings = validate(message, profile=config["PROFILE"])
    if inbound.findings or inbound.call not in inbound.app.extensions["oioi_handlers"]:
        refusal = _invalid(inbound)
        if refusal is not None:
            return refusal
    inbound.body = message[inbound.call]
    return None


def _unauthorized(inbound: Inbound) -> Answer:
    inbound.call = _peek_call(inbound.raw)  # for the journal: which call was refused
    return 401, _error(210, "Send 'Authorization: key=<api-key>' with a key this partner gave you.")


def _unreadable(inbound: Inbound, bad: ValueError | RecursionError) -> Answer:
    """400/230 for a body that is not UTF-8 (request.rst: "All data must be UTF-8 encoded") or not JSON."""
    if isinstance(bad, RecursionError):
        return 400, _error(230, "The body's JSON is nested too deeply to be an OIOI message.")
    if isinstance(bad, UnicodeDecodeError):
        byte = inbound.raw[bad.start]
        rule, why = "message/utf-8", f"The body is not UTF-8 (byte {byte:#04x} at offset {bad.start})."
    else:
        rule, why = "message/json", f"The body is not JSON: {bad}."
    inbound.findings = [Finding("error", "", rule, why, "request.rst")]
    return 400, _error(230, why)


def _invalid(inbound: Inbound) -> Answer | None:
    """403/220 for a call this role does not receive, 400/230 for a request with errors; None when only warned."""
    call, role = inbound.call, inbound.app.config["ROLE"]
    if call is not None and call not in inbound.app.extensions["oioi_handlers"]:
        return 403, _error(220, f"This mock plays the {role.upper()} and does not receive {call!r}.")
    if any(f.severity == "error" for f in inbound.findings):
        findings = [f.to_dict() for f in inbound.findings]
        return 400, {**_error(230, "The request breaks the OIOI 4.19 schema; see 'error'."), "error": findings}
    return None


def _internal_error(inbound: Inbound, bug: Exception) -> Answer:
    inbound.app.logger.exception("the mock failed on a %s request", inbound.call)
    inbound.findings = [
        *inbound.findings, Finding("error", "", "mock/internal-error", f"{type(bug).__name__}: {bug}", "request.rst")
    ]
    return 500, _error(100, "The mock partner failed on this request; its journal has the details.")


def _with_reason(body: Any) -> Any:
    """calls/session_post.rst: every answer carries 'reason', null on success."""
    if isinstance(body, dict) and "reason" not in body:
        code = body.get("result", {}).get("code")
        body["reason"] = None if code == 0 else body.get("result", {}).get("message")
    return body


def _own_answer_checked(
    inbound: Inbound, findings: list[Finding], status: int, body: Any, text: str
) -> tuple[int, Any, str]:
    """The answer to send when the mock's own answer breaks the call's response schema: never that answer, a 500."""
    broken = [
        dataclasses.replace(f, rule="mock/invalid-answer", message=f"{f.rule} at {f.path}: {f.message}")
        for f in findings if f.severity == "error"
    ]
    if not broken:
        return status, body, text
    inbound.app.logger.error("the mock's own %s answer breaks the schema: %s", inbound.call, broken)
    inbound.findings = [*inbound.findings, *broken]
    body = _error(100, "The mock partner built an invalid answer; its journal has the details.")
    return 500, body, json.dumps(body)


def _error(code: int, message: str) -> dict[str, Any]:
    return {"result": result(code, message)}


def _peek_call(raw: bytes) -> str | None:
    try:
        return detect_call(json.loads(raw))
    except (ValueError, RecursionError):
        return None
