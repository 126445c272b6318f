"""The validating proxy (`oioi proxy`): forward OIOI traffic between two partners unchanged, and judge it.

A partner is pointed at one of the proxy's listeners instead of at its partner; each listener
forwards to its upstream (`Route`). One process, one WSGI app (`Proxy`) for every listener: a
request's listener is the port it came in on (``SERVER_PORT``).

**Unchanged.** The upstream gets the request's method, path and query (after the upstream's
own path prefix, see `Route`), its body bytes and its end-to-end header fields; the client
gets the upstream's status, reason, end-to-end header fields and body bytes, never decoded (a
gzip body stays gzip). Only the hop-by-hop fields go (RFC 9110 7.6.1: Connection and the
fields it names, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade), and
Host names the upstream. Nothing is added (no Via, no X-Forwarded-For, no User-Agent or
Accept-Encoding of the HTTP client): the upstream sees what the partner sent. Field names
travel in the WSGI spelling (field names are case-insensitive, RFC 9110 5.1) and a request
field sent twice arrives once, its values joined by commas (RFC 9110 5.3). The upstream's
Date and Server replace gunicorn's own (`keep_upstream_fields`). Traffic is never held back,
altered or dropped because a message is invalid, and never retried: a POST sent twice would
be two messages.

**Upstream down.** When the upstream cannot be reached, or does not answer within the
timeout, the client gets 502 with ``{"result": {"code": …, "message": …}}`` where a direct
call would have got a connection error: code 102 "System timeout" for a timeout, 100 "System
error" otherwise (request.rst, "OIOI Response Codes"; a client must accept the general 100).
Its journal row has ``fault`` set (``{"kind": "upstream-timeout" | "upstream-unreachable",
…}``) and no findings: the partner said nothing.

**Journal.** Every exchange is one row of the mock's journal (`Store.record`, the API key
masked): ``exchange`` "inbound" (the proxy received it), ``peer`` the listener's name — the
partner that sent the request — and ``latency_ms`` the upstream's time to answer as the proxy
measured it; ``time`` is when the answer came (as the mock's rows: arrival = time - latency);
the bodies as messages, a gzip or deflate content coding undone (a coding the
proxy cannot undo: journaled as it came, not judged). Its findings: a body that is not UTF-8
or not JSON (request.rst), `oioi.validate`
of the request and of the answer (a 200 or 4xx answer; request.rst asks nothing of a 5xx
body), then the conversation's findings (`oioi.conversation.Conversation`, the rules the suite
uses). Only POST requests are judged. The row is committed before the answer leaves: an
answered exchange is in the journal, and the conversation sees a request only after every
exchange whose answer its sender had (the order a partner acts in). Each finding prints one
line, ``FINDING  <peer> <call> #<id>  <rule>: <first line>``. The cost is measured by
``benchmarks/proxy_overhead.py``.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import json
import sys
import threading
import time
import urllib.parse
import zlib
from collections.abc import Callable, Iterable
from typing import Any, TextIO

import orjson
import urllib3
from urllib3.util import SKIP_HEADER

from mock_server._store import Store, now
from oioi import Finding, detect_call, masked_headers, validate
from oioi._findings import message_text
from oioi.conversation import Conversation
from oioi.errors import ConfigError
from oioi.results import result

__all__ = ["ENDPOINT", "HOP_BY_HOP", "Message", "Proxy", "Route", "keep_upstream_fields", "read"]

ENDPOINT = "/api/v4/request"
# RFC 9110 7.6.1: fields that describe one connection, not the message; never forwarded.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                        "upgrade"})
SPEC = "request.rst"
Start = Callable[[str, list[tuple[str, str]]], Any]


@dataclasses.dataclass(frozen=True)
class Route:
    """One listener: its name (the partner that sends through it), the port it listens on, and its upstream.

    ``upstream`` is ``scheme://host[:port][/prefix]``: a request for ``/api/v4/request`` goes
    to ``upstream + "/api/v4/request"``. An upstream given as the partner's endpoint URL
    (ending in ``/api/v4/request``) loses that ending, so both spellings reach the endpoint.
    """

    name: str
    port: int
    upstream: str

    @functools.cached_property
    def prefix(self) -> str:
        """The upstream's path prefix ('' for none), put before the request's path."""
        return urllib.parse.urlsplit(self.upstream).path


@dataclasses.dataclass
class Exchange:
    """One request and its answer as they crossed the proxy."""

    route: Route
    method: str
    fields: dict[str, str]
    raw: bytes
    status: int = 0
    reason: str = ""
    answer_fields: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    answer: bytes = b""
    latency_ms: float = 0.0
    fault: dict[str, Any] | None = None


class Proxy:
    """The WSGI app of every listener: forward, journal with findings, answer."""

    def __init__(self, routes: Iterable[Route], db: str, *, profile: str = "strict", timeout: float = 30.0,
                 threads: int = 16, out: TextIO | None = None) -> None:
        self.routes = {route.port: route for route in routes}
        self.store = Store(db)
        self.profile = profile
        self.timeout = urllib3.Timeout(connect=min(timeout, 10.0), read=timeout)
        # One connection pool per upstream: up to a connection per server thread, kept alive between requests.
        self.pools = {route.port: urllib3.connection_from_url(route.upstream, maxsize=threads, block=False)
                      for route in self.routes.values()}
        self.conversation = Conversation()  # one conversation over every listener, in journal order
        self.out = out or sys.stdout
        self._printing = threading.Lock()
        self.page_port: int | None = None
        self.page: Any = None

    def serve_page(self, port: int, page: Any) -> None:
        """Answer the requests that come to ``port`` with the WSGI app ``page`` (the live page), not upstream."""
        self.page_port, self.page = port, page

    def __call__(self, environ: dict[str, Any], start_response: Start) -> Any:
        """Forward one request to its listener's upstream, journal the exchange, answer with the upstream's answer."""
        if self.page is not None and int(environ["SERVER_PORT"]) == self.page_port:
            return self.page(environ, start_response)
        exchange = Exchange(self.routes[int(environ["SERVER_PORT"])], environ["REQUEST_METHOD"],
                            forwarded(request_fields(environ)), environ["wsgi.input"].read())
        self.forward(exchange, target(environ))
        try:
            self.journal(exchange)
        except Exception as bug:  # (never hold back the answer; say it loudly)
            print(f"oioi proxy: could not journal a {exchange.route.name} exchange: {type(bug).__name__}: {bug}",
                  file=sys.stderr, flush=True)
        start_response(f"{exchange.status} {exchange.reason}", exchange.answer_fields)
        return [exchange.answer]

    def forward(self, exchange: Exchange, path: str) -> None:
        """Send the request upstream and keep its answer (or the 502 of an upstream that did not answer)."""
        headers: dict[str, str] = {"User-Agent": SKIP_HEADER, "Accept-Encoding": SKIP_HEADER, **exchange.fields}
        body = exchange.raw if exchange.raw or "Content-Length" in headers else None
        started = time.perf_counter()
        try:
            pool = self.pools[exchange.route.port]
            answer = pool.urlopen(exchange.method, exchange.route.prefix + path, body=body, headers=headers,
                                  retries=False, redirect=False, preload_content=False, decode_content=False,
                                  timeout=self.timeout, assert_same_host=False)
            try:
                exchange.answer = answer.read(decode_content=False)
            finally:
                answer.release_conn()
            exchange.status, exchange.reason = answer.status, answer.reason or ""
            exchange.answer_fields = forwarded_list(answer.headers.iteritems())
        except (urllib3.exceptions.HTTPError, OSError) as error:
            unreachable(exchange, error)
        exchange.latency_ms = round((time.perf_counter() - started) * 1000, 3)

    def journal(self, exchange: Exchange) -> None:
        """Judge the exchange, write its journal row (committed before the answer leaves), print its findings."""
        request, answer, findings = self.judge(exchange)
        call = detect_call(request.value)
        row: dict[str, Any] = {
            "time": now(), "exchange": "inbound", "peer": exchange.route.name, "call": call,
            "request_headers": exchange.fields, "request_body": request.text,
            "status": exchange.status, "response_body": answer.text,
            "result_code": result_code(answer.value), "findings": findings, "latency_ms": exchange.latency_ms,
            "fault": exchange.fault,
        }
        store = self.store
        with store.lock, store.tx:  # one write transaction, committed at the end of the block
            row["id"] = store.record(store.tx, row)
            later = self.converse(row, request.value, answer.value, exchange.answer_fields)
            if later:
                findings = [*findings, *later]
                store.tx.execute("UPDATE journal SET findings = ? WHERE id = ?", (dumps(findings), row["id"]))
        self.say(exchange, call, row["id"], findings)

    def judge(self, exchange: Exchange) -> tuple[Message, Message, list[Finding]]:
        """The request and the answer as messages, and what is wrong with each alone."""
        request, answer = read(exchange.raw, exchange.fields.items()), read(exchange.answer, exchange.answer_fields)
        if exchange.method != "POST" or not request.readable:  # not an OIOI message (request.rst: a POST)
            return request, answer, []
        try:
            findings = [request.problem] if request.problem else validate(request.value, profile=self.profile)
            judged = exchange.status == 200 or 400 <= exchange.status < 500  # request.rst asks nothing of a 5xx body
            if exchange.fault is None and judged and answer.readable:
                findings += [answer.problem] if answer.problem else judge_answer(
                    answer.value, detect_call(request.value), exchange.status, self.profile)
        except Exception as bug:  # (a bug of ours must not stop the traffic; it is journaled)
            findings = [Finding("error", "", "proxy/internal-error", f"{type(bug).__name__}: {bug}", SPEC)]
        return request, answer, findings

    def converse(self, row: dict[str, Any], request: Any, answer: Any,
                 response_fields: list[tuple[str, str]]) -> list[Finding]:
        """What the conversation so far says of this exchange (`oioi.conversation`), in journal order.

        The entry it judges is the journal row with its bodies parsed and, besides, the answer's
        header fields (``response_headers``: Retry-After), which the journal does not keep.
        """
        entry = {**row, "request_headers": masked_headers(row["request_headers"]), "request_body": request,
                 "response_body": answer, "findings": [as_dict(f) for f in row["findings"]],
                 "response_headers": dict(response_fields)}
        try:
            return list(self.conversation.add(entry))
        except Exception as bug:  # (a bug of ours must not stop the traffic; it is journaled)
            return [Finding("error", "", "proxy/internal-error", f"conversation: {type(bug).__name__}: {bug}", SPEC)]

    def say(self, exchange: Exchange, call: str | None, entry: int, findings: list[Finding]) -> None:
        """One line per finding (and for an upstream that did not answer), as it happens."""
        lines = [f"FINDING  {exchange.route.name} {call or '-'} #{entry}  {f.rule}: {first_line(f.message)}"
                 for f in findings]
        if exchange.fault:
            lines.append(f"UPSTREAM  {exchange.route.name} {call or '-'} #{entry}  {exchange.fault['reason']}")
        if lines:
            with self._printing:
                self.out.write("\n".join(lines) + "\n")
                self.out.flush()


def first_line(message: str) -> str:
    """The first line of a finding's message (its ``Received: …``)."""
    return message.splitlines()[0] if message else ""


def judge_answer(answer: Any, call: str | None, status: int, profile: str) -> list[Finding]:
    """`oioi.validate` of a 200 or 4xx answer; a 200 of an unknown call has nothing to be judged by."""
    if status == 200 and call is None:
        return []
    try:
        return validate(answer, call=call, direction="response", status=status, profile=profile)
    except ConfigError:  # a call with no response schema: nothing to judge the answer by
        return []


def request_fields(environ: dict[str, Any]) -> Iterable[tuple[str, str]]:
    """The request's header fields as the WSGI server passed them (names in WSGI's spelling, e.g. Content-Type)."""
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            yield key[5:].replace("_", "-").title(), value
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            yield key.replace("_", "-").title(), value


def forwarded_list(fields: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The end-to-end fields: without the hop-by-hop ones (RFC 9110 7.6.1) and those Connection names; Host goes."""
    fields = list(fields)
    named = {token.strip().lower() for name, value in fields if name.lower() == "connection"
             for token in value.split(",")}
    return [(name, value) for name, value in fields
            if (low := name.lower()) not in HOP_BY_HOP and low not in named and low != "host"]


def forwarded(fields: Iterable[tuple[str, str]]) -> dict[str, str]:
    """`forwarded_list` as a mapping (a WSGI server gives each request field once)."""
    return dict(forwarded_list(fields))


def target(environ: dict[str, Any]) -> str:
    """The request target as it came (gunicorn's RAW_URI): path and query, never re-encoded."""
    raw = environ.get("RAW_URI") or ""
    if raw.startswith("/"):
        return str(raw)
    query = environ.get("QUERY_STRING")
    return str(environ.get("PATH_INFO") or "/") + (f"?{query}" if query else "")


def unreachable(exchange: Exchange, error: Exception) -> None:
    """The 502 answer for an upstream that could not be reached or did not answer in time."""
    timed_out = isinstance(error, (urllib3.exceptions.TimeoutError, TimeoutError)) and not isinstance(
        error, urllib3.exceptions.NewConnectionError)  # urllib3 counts a refused connection as a connect timeout
    kind, code = ("upstream-timeout", 102) if timed_out else ("upstream-unreachable", 100)
    why = "did not answer in time" if timed_out else f"could not be reached ({reason(error)})"
    message = f"The proxy's upstream {exchange.route.upstream} {why}."
    exchange.status, exchange.reason = 502, "Bad Gateway"
    exchange.answer = json.dumps({"result": result(code, message)}).encode()
    exchange.answer_fields = [("Content-Type", "application/json"), ("Content-Length", str(len(exchange.answer)))]
    exchange.fault = {"kind": kind, "upstream": exchange.route.upstream, "reason": message}


def reason(error: Exception) -> str:
    """The innermost cause of a connection error, in the system's words (e.g. 'Connection refused')."""
    while isinstance(getattr(error, "reason", None), Exception):
        error = error.reason  # type: ignore[attr-defined]
    cause = error.__cause__ or error.__context__
    found = cause if isinstance(cause, OSError) else error
    return getattr(found, "strerror", None) or str(found).split(": ", 1)[-1] or type(found).__name__


@dataclasses.dataclass(frozen=True)
class Message:
    """A body as the proxy judges and journals it: its JSON (or its text), its text, why it is no message."""

    value: Any
    text: str
    problem: Finding | None = None
    readable: bool = True  # False: a content coding the proxy cannot undo; journaled as it came, not judged


def read(raw: bytes, fields: Iterable[tuple[str, str]]) -> Message:
    """The message a body carries, its content coding (gzip, deflate) undone; the bytes forwarded stay as they came."""
    coding = next((value for name, value in fields if name.lower() == "content-encoding"), "").strip().lower()
    try:
        opened = raw if coding in ("", "identity") else decoders[coding](raw)
    except (KeyError, OSError, EOFError, zlib.error):
        return Message(text(raw), text(raw), readable=False)
    value, problem = parse(opened)
    return Message(value, text(opened), problem)


decoders: dict[str, Callable[[bytes], bytes]] = {"gzip": gzip.decompress, "x-gzip": gzip.decompress,
                                                 "deflate": zlib.decompress}


def parse(raw: bytes) -> tuple[Any, Finding | None]:
    """The JSON a body holds; or its text and why it is not a message ("All data must be UTF-8 encoded.")."""
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        received = f"a body with byte {raw[bad.start]:#04x} at offset {bad.start}, which is not UTF-8"
        return text(raw), Finding("error", "", "message/utf-8", message_text(received, "a UTF-8 body"), SPEC)
    try:
        return json.loads(body), None
    except (ValueError, RecursionError) as bad:
        received = "an empty body" if not body else f"a body that is not JSON ({bad})"
        return body, Finding("error", "", "message/json", message_text(received, "a JSON body"), SPEC)


def text(raw: bytes) -> str:
    """A body as the journal keeps it: its UTF-8 text, a byte that is not UTF-8 as ``\\xNN``."""
    return raw.decode("utf-8", "backslashreplace")


def result_code(answer: Any) -> int | None:
    """The answer's ``result.code`` when it is an integer."""
    found = answer.get("result", {}).get("code") if isinstance(answer, dict) and isinstance(
        answer.get("result"), dict) else None
    return found if isinstance(found, int) and not isinstance(found, bool) else None


def as_dict(finding: Finding | dict[str, Any]) -> dict[str, Any]:
    """A finding as journal data."""
    return finding.to_dict() if isinstance(finding, Finding) else finding


def dumps(findings: list[Finding]) -> str:
    """Findings as the journal's ``findings`` column holds them (as `Store.record` writes them)."""
    return orjson.dumps([as_dict(f) for f in findings]).decode()


def keep_upstream_fields() -> None:
    """Let the upstream's Date and Server through in place of gunicorn's own, in this process.

    gunicorn drops an app's ``Date`` and ``Server`` fields and writes its own (its
    ``util.hop_headers``); a proxy's client would then not get the upstream's. Here gunicorn's
    lines carry the upstream's values when it sent them, and stay as they are when it did not.
    Only the proxy's server process calls this.
    """
    from gunicorn.http import wsgi  # (only the server needs gunicorn)

    response: Any = wsgi.Response
    if getattr(response, "oioi_proxy", False):
        return
    process, defaults = response.process_headers, response.default_headers

    def process_headers(self: Any, headers: list[tuple[str, str]]) -> None:
        process(self, headers)  # validates every field first
        self.oioi_kept = {name.lower(): value.strip(" \t") for name, value in headers if name.lower() in KEPT}

    def default_headers(self: Any) -> list[str]:
        kept: dict[str, str] = getattr(self, "oioi_kept", {})
        return [f"{name}: {kept[name.lower()]}\r\n" if (name := line.partition(":")[0]).lower() in kept else line
                for line in defaults(self)]

    response.process_headers, response.default_headers, response.oioi_proxy = process_headers, default_headers, True


KEPT = frozenset({"date", "server"})  # the fields of the upstream's answer gunicorn would replace with its own
