"""The OIOI transport both reference implementations share: ``POST /api/v4/request`` (request.rst).

Checks, in order: the API key (401/210), the Content-Type (400/230), UTF-8 (400/230),
JSON (400/230), one top-level key naming a call this role receives (400/230), the call's
fields (400/230, each problem in ``error``); then the call's handler, inside one SQLite
transaction. Every refusal of a request's form is 400, "Bad request. Your request contains
data and/or is in a format that is not allowed." (request.rst's table of HTTP codes). A
business outcome (181, 182, 189, 191-194, 320, 323, 330) is answered with HTTP 200 and its
result code, as the call pages list only "200 OK". Every answer is JSON in UTF-8 with a
``result`` object; other paths answer 404 and other methods 405, also as JSON.

The fields are judged by the references' own checks (examples/_reference/_checks.py), written
from the spec's text: the references are independent witnesses of what the spec allows, so
they never ask the harness's validator or its JSON Schema files.

The transport's correct behaviours (examples/_reference/_behaviours.py) switch to other
answers the spec allows: stricter validation, refusals as 4xx, general codes, extra fields,
no keep-alive, slower answers. Its load faults (examples/_reference/_faults.py) fail only in the
aggregate of many requests: every 20th answer a 500, or every answer after 1 s.

The transport defects live here, each one ``if`` where a real partner's bug would be.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hmac
import http
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from examples._reference import _checks, _strict
from examples._reference._behaviours import SLOW_ANSWER, check_names, general_code, refusal_status
from examples._reference._control import CONTROL_PATH, Action, respond
from examples._reference._db import Database
from examples._reference._faults import ERROR_EVERY, SLOW_FAULT
from examples._reference._outbox import Outbox
from oioi.errors import ConfigError
from oioi.results import ResultCodeError, result

__all__ = [
    "EXTENSION",
    "PATH",
    "TRANSPORT_DEFECTS",
    "Body",
    "Context",
    "Endpoint",
    "Handler",
    "check_api_keys",
    "check_defects",
    "make_app",
]

PATH = "/api/v4/request"
EXTENSION = "oioi_reference"  # app.extensions[EXTENSION] is the app's Endpoint (its clock and id seams)
MAX_BODY = 1024 * 1024  # bytes; OIOI messages are small, a bigger body is answered 413/230
SUCCESS = "Success."

Body = dict[str, Any]
T = TypeVar("T")

TRANSPORT_DEFECTS: dict[str, str] = {
    "ignores-api-key": "Processes requests that carry no Authorization header (a wrong key is still refused).",
    "accepts-any-api-key": "Accepts any 'key=…' value in the Authorization header (a missing header is still refused).",
    "ignores-content-type": "Handles a JSON body whatever its Content-Type, e.g. text/plain.",
    "500-on-malformed-json": "Answers HTTP 500 with a plain-text body when the body is not JSON.",
    "decodes-latin1": "Decodes a body that is not UTF-8 as Latin-1 and handles it.",
    "200-on-unknown-call": "Answers HTTP 200 with result 0 to a body whose key names no call this role receives.",
    "first-of-two-calls": "Handles a body with two call keys as its first call.",
    "skips-validation": "Does not validate requests: missing fields get defaults and it answers 200.",
    "plain-text-errors": "Sends every answer other than HTTP 200 as a text/plain body such as 'Unauthorized'.",
    "breaks-after-malformed": "Answers the request after a body that is not JSON with HTTP 500.",
    "html-content-type": "Sends every answer with 'Content-Type: text/html' (the body unchanged).",
    "result-code-as-string": "Sends every result code as a string such as '000' or '181'.",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Context:
    """What a call's handler works with."""

    db: sqlite3.Connection  # this request's transaction: committed when the handler returns
    defects: frozenset[str]
    now: datetime.datetime  # this request's time (timezone-aware), from `Endpoint.now`
    new_id: Callable[[], str]
    partner_identifier: str = ""  # ours, as the partner knows us ("" when no partner is configured)
    # Messages ({call: body}) for the partner, sent in order once the transaction committed
    # (dropped when no partner is configured).
    outbound: list[Body] = dataclasses.field(default_factory=list)
    behaviours: frozenset[str] = frozenset()  # the correct behaviours switched on (examples/_reference/_behaviours.py)
    faults: frozenset[str] = frozenset()  # the load faults switched on (examples/_reference/_faults.py)


# A handler answers a valid request with its payload, or raises a `ResultCodeError` for a
# business outcome; a payload may carry its own ``result`` (a refusal with fields, e.g. ``reason``).
Handler = Callable[[Context, Body], Body]


class EarlyAnswer(Exception):
    """The answer to a request that never reaches its handler (a JSON body, or text for a defect)."""

    def __init__(self, status: int, body: Body | str) -> None:
        super().__init__(status)
        self.status, self.body = status, body


def refuse(status: int, code: int, message: str, *, error: list[str] | None = None) -> EarlyAnswer:
    """An error answer: ``{"result": {"code": code, "message": message}}``, with ``error`` when given."""
    body: Body = {"result": result(code, message)}
    if error is not None:
        body["error"] = error
    return EarlyAnswer(status, body)


class Endpoint:
    """The request pipeline of one reference implementation (one per Flask app)."""

    def __init__(
        self,
        role: str,
        handlers: Mapping[str, Handler],
        defects: frozenset[str],
        api_keys: list[str],
        db: Database,
        outbox: Outbox | None = None,
        behaviours: frozenset[str] = frozenset(),
        faults: frozenset[str] = frozenset(),
    ) -> None:
        self.role, self.handlers, self.defects, self.db, self.outbox = role, dict(handlers), defects, db, outbox
        self.behaviours, self.faults = behaviours, faults
        self._served = 0  # requests to the OIOI endpoint since the process started (500-every-20th)
        self._keys = [key.encode() for key in api_keys]
        self._lock = threading.Lock()
        self._broken = False  # breaks-after-malformed: the next request fails
        self.extras: dict[str, Any] = {}  # what a defect of the control hook remembers between actions
        # Seams for tests: the clock (timezone-aware) and the session id generator.
        self.now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)
        self.new_id: Callable[[], str] = lambda: str(uuid.uuid4())

    def respond(self) -> Response:
        """The view of ``POST /api/v4/request``."""
        if "slow-answers" in self.behaviours:
            time.sleep(SLOW_ANSWER)
        if self.faults and (failed := self._fault()) is not None:
            return failed
        try:
            status, body = self._answer()
        except EarlyAnswer as early:
            return self.send(early.status, early.body)
        return self.send(status, body)

    def _fault(self) -> Response | None:
        """The load faults of the transport: answers-after-1s waits, 500-every-20th fails every 20th request."""
        if "answers-after-1s" in self.faults:
            time.sleep(SLOW_FAULT)
        if "500-every-20th" not in self.faults:
            return None
        with self._lock:
            self._served += 1
            failing = self._served % ERROR_EVERY == 0
        return self.send(500, {"result": result(100, "System error.")}) if failing else None

    def _answer(self) -> tuple[int, Body]:
        self._authorize(request.headers.get("Authorization"))
        self._check_content_type()
        message = self._parse(self._decode(request.get_data(cache=False)))
        call, message = self._call_of(message)
        self._check(call, message[call])
        self._check_strictly(call, message[call])
        return self._handle(call, message[call])

    def _authorize(self, header: str | None) -> None:
        """Request.rst: "The HTTP header must contain ... ``Authorization: key=<your-API-key>``"."""
        if header is None and "ignores-api-key" in self.defects:
            return
        given = header[len("key=") :] if header is not None and header.startswith("key=") else None
        if given is not None and "accepts-any-api-key" in self.defects:
            return
        if given is None or not self._known_key(given):
            raise refuse(401, 210, "Send 'Authorization: key=<api-key>' with a key this partner gave you.")

    def _known_key(self, given: str) -> bool:
        """Whether ``given`` is a configured key, compared in constant time with every key."""
        wire = given.encode("latin-1", "replace")  # WSGI hands header bytes over as Latin-1 text
        found = False
        for key in self._keys:  # no early exit: the time taken does not tell which key matched
            found |= hmac.compare_digest(wire, key)
        return found

    def _check_content_type(self) -> None:
        """Request.rst: "The HTTP header must contain ... ``Content-Type: application/json``"; 400, as its table
        lists no other status for "a format that is not allowed".
        """
        if request.mimetype != "application/json" and "ignores-content-type" not in self.defects:
            raise refuse(
                400,
                230,
                f"Received: Content-Type {request.content_type!r}\nExpected: 'application/json' (request.rst).",
            )

    def _decode(self, raw: bytes) -> str:
        """The body as text: "All data must be UTF-8 encoded" (request.rst)."""
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            if "decodes-latin1" in self.defects:
                return raw.decode("latin-1")
            raise refuse(
                400,
                230,
                f"Received: byte {raw[bad.start]:#04x} at offset {bad.start}, which is not UTF-8\n"
                'Expected: a UTF-8 body (request.rst: "All data must be UTF-8 encoded").',
            ) from None

    def _parse(self, text: str) -> Any:
        """The body as JSON ("The HTTP body must contain the JSON request", request.rst)."""
        try:
            return json.loads(text, parse_constant=_not_json)
        except (ValueError, RecursionError) as bad:
            if "500-on-malformed-json" in self.defects:
                raise EarlyAnswer(500, "Internal Server Error") from None
            if "breaks-after-malformed" in self.defects:
                with self._lock:
                    self._broken = True
            problem = "nested too deeply" if isinstance(bad, RecursionError) else str(bad)
            received = f"Received: a body that is not JSON ({problem})"
            raise refuse(400, 230, f"{received}\nExpected: one JSON object (request.rst).") from None

    def _call_of(self, message: Any) -> tuple[str, Body]:
        """The call named by the request's single top-level key, and the request holding only it."""
        keys = list(message) if isinstance(message, dict) else None
        if keys and len(keys) > 1 and keys[0] in self.handlers and "first-of-two-calls" in self.defects:
            return keys[0], {keys[0]: message[keys[0]]}
        if keys is not None and len(keys) == 1:
            if keys[0] in self.handlers:
                return keys[0], message
            if "200-on-unknown-call" in self.defects:
                raise EarlyAnswer(200, {"result": result(0, SUCCESS)})
        received = f"top-level keys {keys!r}" if keys is not None else f"a JSON {type(message).__name__}"
        raise refuse(
            400,
            230,
            f"Received: {received}\nExpected: an object with exactly one key, naming a call the {self.role} "
            f"receives: {', '.join(self.handlers)} (request.rst).",
        )

    def _check(self, call: str, body: Any) -> None:
        """Refuse a request whose fields break its call's field descriptions (400/230, each problem in ``error``).

        request.rst: "400 Bad request. Your request contains data and/or is in a format that is not allowed."
        """
        found = [] if "skips-validation" in self.defects else _checks.problems(call, body)
        if found:
            spec = f"calls/{call.replace('-', '_')}.rst"
            raise refuse(400, 230, f"The request breaks the field descriptions of {spec}; see 'error'.", error=found)

    def _check_strictly(self, call: str, body: Any) -> None:
        """strict-validation: 400/230 for a field whose format the spec's stricter reading does not allow."""
        found = _strict.problems(call, body) if "strict-validation" in self.behaviours else []
        if found:
            raise refuse(400, 230, "A field breaks the format the spec gives it; see 'error'.", error=found)

    def _handle(self, call: str, body: Any) -> tuple[int, Body]:
        """Run the call's handler in one transaction; a business outcome is HTTP 200 with its code.

        With refusals-as-4xx, a refusal is a 4xx with its code: request.rst, "If the request was valid and
        successful, [...] Otherwise, the HTTP response code will not be 200".
        """
        try:
            payload = self.transact(lambda ctx: self.handlers[call](ctx, body))
        except ResultCodeError as outcome:
            status = refusal_status(outcome.code) if "refusals-as-4xx" in self.behaviours else 200
            return status, {"result": outcome.result()}
        except Exception:
            if "skips-validation" not in self.defects:
                raise  # our bug: Flask logs it and `http_error` answers 500/100
            return 200, {"result": result(0, SUCCESS)}  # the defect: whatever went wrong, "success"
        return 200, {**payload, "result": payload.get("result", result(0, SUCCESS))}

    def transact(self, work: Callable[[Context], T]) -> T:
        """Run ``work`` in one transaction; then queue the messages it left in ``outbound`` for the partner."""
        identifier = self.outbox.identifier if self.outbox is not None else ""
        with self.db.transaction() as tx:
            ctx = Context(tx, self.defects, self.now(), self.new_id, identifier, behaviours=self.behaviours,
                          faults=self.faults)
            value = work(ctx)
        if self.outbox is not None:
            for message in ctx.outbound:
                ((call, body),) = message.items()
                self.outbox.send(call, body)
        return value

    def send(self, status: int, body: Body | str) -> Response:
        """The HTTP answer: JSON in UTF-8, unless a defect garbles it (or a behaviour generalises or extends it)."""
        if isinstance(body, dict):
            body = self._behave(body)
        if "result-code-as-string" in self.defects and isinstance(body, dict) and "result" in body:
            body = {**body, "result": {**body["result"], "code": f"{body['result']['code']:03d}"}}
        if "plain-text-errors" in self.defects and status != 200:
            body = http.HTTPStatus(status).phrase
        text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
        mimetype = "text/plain" if isinstance(body, str) else "application/json"
        if "html-content-type" in self.defects:
            mimetype = "text/html"
        return Response(text.encode("utf-8"), status=status, mimetype=mimetype)

    def _behave(self, body: Body) -> Body:
        """general-codes and extra-answer-fields, applied to every JSON answer."""
        result = body.get("result")
        if "general-codes" in self.behaviours and isinstance(result, dict) and isinstance(result.get("code"), int):
            body = {**body, "result": {**result, "code": general_code(result["code"])}}
        if "extra-answer-fields" in self.behaviours:  # index.rst: "new fields may be added to [...] responses"
            trace = self.new_id()
            body = {
                key: {**value, "trace-id": trace} if isinstance(value, dict) else value for key, value in body.items()
            }
            body["served-at"] = self.now().isoformat(timespec="seconds")
        return body

    def broken_answer(self) -> Response | None:
        """With breaks-after-malformed, the request after a body that was not JSON fails with 500."""
        with self._lock:
            broken, self._broken = self._broken, False
        return self.send(500, {"result": result(100, "System error.")}) if broken else None

    def http_error(self, error: HTTPException) -> Response:
        """Another path (404), another method (405), a huge body (413) or our bug (500), as OIOI JSON."""
        status = error.code or 500
        response = self.send(status, {"result": result(100 if status >= 500 else 230, _http_message(status))})
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response


def _http_message(status: int) -> str:
    if status == 404:
        return f"Received: a request for {request.path!r}\nExpected: POST {PATH} (request.rst)."
    if status == 405:
        return f"Received: method {request.method}\nExpected: POST (request.rst)."
    if status == 413:
        return f"Received: a body of {request.content_length} bytes\nExpected: at most {MAX_BODY} bytes."
    if status >= 500:
        return "System error: the reference implementation failed on this request; its log has the details."
    return http.HTTPStatus(status).phrase + "."


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def make_app(
    name: str,
    *,
    role: str,
    handlers: Mapping[str, Handler],
    defects: frozenset[str],
    api_keys: list[str],
    db: Database,
    outbox: Outbox | None = None,
    actions: Mapping[str, Action] | None = None,
    behaviours: frozenset[str] = frozenset(),
    faults: frozenset[str] = frozenset(),
) -> Flask:
    """A Flask app serving ``handlers`` at ``POST /api/v4/request`` for ``role`` ('CPO' or 'EMP').

    With ``actions``, also the test-control hook ``POST /control`` (examples/_reference/_control.py),
    whose actions send through ``outbox`` (None: no partner configured, every action answers 409).
    """
    check_api_keys(api_keys, f"reference {role}")
    endpoint = Endpoint(role, handlers, defects, api_keys, db, outbox, behaviours, faults)
    app = Flask(name)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.extensions[EXTENSION] = endpoint
    app.add_url_rule(PATH, "oioi", endpoint.respond, methods=["POST"], provide_automatic_options=False)
    if actions is not None:
        view = functools.partial(respond, endpoint, dict(actions))
        app.add_url_rule(CONTROL_PATH, "control", view, methods=["POST"], provide_automatic_options=False)
    app.before_request(endpoint.broken_answer)
    app.register_error_handler(HTTPException, endpoint.http_error)
    if "connection-close" in behaviours:
        app.wsgi_app = closing(app.wsgi_app)  # type: ignore[method-assign]
    return app


def closing(wsgi_app: Any) -> Any:
    """connection-close: every answer closes its connection, as an HTTP/1.0 server's does (RFC 9112, 9.6:
    "A server that sends a 'close' connection option MUST initiate a close of the connection").

    gunicorn drops ``Connection`` from an app's headers (hop-by-hop) and decides itself; its
    ``start_response`` is a method of its response, whose ``force_close`` makes it send
    ``Connection: close`` and close. Another server gets the header.
    """

    def app(environ: Any, start_response: Any) -> Any:
        force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
        if callable(force_close):
            force_close()

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("Connection", "close")], exc_info)

        return wsgi_app(environ, start if force_close is None else start_response)

    return app


def check_defects(valid: Mapping[str, str], given: Iterable[str], title: str) -> frozenset[str]:
    """The defects to switch on; `ConfigError` (a ValueError) names an unknown one and lists the valid ones."""
    return frozenset(check_names(valid, given, title, "defect"))


def check_api_keys(api_keys: list[str], title: str) -> None:
    """`ConfigError` unless there is at least one API key and none is empty."""
    if isinstance(api_keys, str) or not api_keys or not all(isinstance(k, str) and k for k in api_keys):
        raise ConfigError(f"The {title} needs a list of non-empty API keys to accept: pass --api-key KEY.")
