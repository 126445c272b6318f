"""Fault injection: how the mock misbehaves on purpose, for the next N requests.

A fault is ``{"count": N, "call": NAME?, "status": 503?, "retry_after": 2?, "delay_ms": 200?,
"result_code": 100?, "malformed": true?, "drop": true?}``. Faults are kept in SQLite (they
survive a restart) and each request takes one use of the oldest fault that matches its
call. Whether any fault may remain is also kept in memory, so that a request costs no query
when none is queued; the mock serves from one process, so that flag is never stale.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import request

from mock_server._store import Store
from oioi import calls
from oioi.errors import ConfigError
from oioi.results import CODES, result

if TYPE_CHECKING:
    from mock_server._endpoint import Answer, Inbound

FIELDS = {"count", "call", "status", "retry_after", "delay_ms", "result_code", "malformed", "drop"}
MAX_DELAY_MS = 60_000


def parse(spec: Any) -> dict[str, Any]:
    """Check a fault as the admin API receives it; ConfigError says what is wrong."""
    if not isinstance(spec, dict):
        raise ConfigError('A fault is a JSON object such as {"count": 1, "status": 503, "retry_after": 2}.')
    unknown = set(spec) - FIELDS
    if unknown:
        raise ConfigError(f"Unknown fault field(s) {sorted(unknown)}; the fields are {sorted(FIELDS)}.")
    count = spec.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100_000:
        raise ConfigError(f"'count' must be a whole number from 1 to 100000, not {count!r}.")
    if spec.get("call") is not None and spec["call"] not in calls():
        raise ConfigError(f"'call' must be an OIOI call such as 'session-post', not {spec['call']!r}.")
    status = spec.get("status")
    if status is not None and (not isinstance(status, int) or not 200 <= status <= 599):
        raise ConfigError(f"'status' must be an HTTP status from 200 to 599, not {status!r}.")
    for name, low, high in (("retry_after", 0, 3600), ("delay_ms", 0, MAX_DELAY_MS)):
        value = spec.get(name)
        if value is not None and (
            not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high
        ):
            raise ConfigError(f"'{name}' must be a number from {low} to {high}, not {value!r}.")
    code = spec.get("result_code")
    if code is not None and code not in CODES:
        raise ConfigError(f"'result_code' must be an OIOI result code from request.rst, not {code!r}.")
    effects = [k for k in ("status", "result_code", "malformed", "drop", "delay_ms") if spec.get(k)]
    if not effects:
        raise ConfigError("A fault needs an effect: status, result_code, malformed, drop or delay_ms.")
    return {"count": count, **{k: v for k, v in spec.items() if k != "count" and v is not None}}


def add(store: Store, spec: dict[str, Any]) -> int:
    """Queue a checked fault; returns its id."""
    with store.write() as db:
        cursor = db.execute(
            "INSERT INTO faults (call, remaining, spec) VALUES (?, ?, ?)",
            (spec.get("call"), spec["count"], json.dumps(spec)),
        )
        store.faults_pending = True
        return int(cursor.lastrowid or 0)


def clear(store: Store) -> int:
    """Drop every fault still queued; how many had uses left."""
    with store.write() as db:
        dropped = db.execute("UPDATE faults SET remaining = 0 WHERE remaining > 0").rowcount
        store.faults_pending = False
    return int(dropped)


def take(store: Store, call_of: Callable[[], str | None]) -> dict[str, Any] | None:
    """Use up one application of the oldest fault that matches the request's call (None when there is none)."""
    if not store.faults_pending:
        return None  # the common case: no query, no lock
    call = call_of()
    with store.write() as tx:
        row = tx.execute(
            "UPDATE faults SET remaining = remaining - 1 WHERE id = (SELECT id FROM faults WHERE remaining > 0"
            " AND (call IS NULL OR call = ?) ORDER BY id LIMIT 1) RETURNING spec",
            (call,),
        ).fetchone()
        if row is None and tx.execute("SELECT 1 FROM faults WHERE remaining > 0 LIMIT 1").fetchone() is None:
            store.faults_pending = False  # under the write lock, so a fault being added cannot be missed
    return json.loads(row["spec"]) if row else None


def inject(inbound: Inbound, call_of: Callable[[], str | None]) -> Answer | None:
    """Take the oldest fault that matches the request's call and apply it; None when the request goes on as usual."""
    fault = take(inbound.store, call_of)
    if fault is None:
        return None
    inbound.call, inbound.fault = call_of(), fault
    return before(fault, inbound)


def before(fault: dict[str, Any], inbound: Inbound) -> Answer | None:
    """Apply a fault before the request is handled; its answer replaces the normal one (a string body goes as it is)."""
    if fault.get("delay_ms"):
        time.sleep(fault["delay_ms"] / 1000)
    if fault.get("drop"):
        inbound.dropped = True
        return 200, {}
    if fault.get("malformed"):
        return fault.get("status", 200), '{"result": {"code": 0, "message": "Succ'
    if fault.get("status") and fault["status"] != 200:
        if "retry_after" in fault:
            inbound.extra_headers["Retry-After"] = str(int(fault["retry_after"]))
        code = fault.get("result_code", 100 if fault["status"] >= 500 else 200)
        return fault["status"], {"result": result(code, f"Injected fault: HTTP {fault['status']}.")}
    if "result_code" in fault:
        return 200, {"result": result(fault["result_code"], "Injected fault.")}
    return None


def drop_connection() -> None:
    """Close the client's connection without an answer (gunicorn exposes the socket)."""
    sock = request.environ.get("gunicorn.socket")
    if isinstance(sock, socket.socket):
        # Shut down, not close: gunicorn's write then fails with EPIPE, which it expects quietly.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
