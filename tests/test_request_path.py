"""One request's path through the mock: few of its own functions, in few of its modules, before the journal row.

ARCHITECTURE.md names the path; this test keeps it short. It sends a valid
``connector-post-status`` (after the ``station-post`` that announces the connector) through
Flask's test client in this thread, traces it with ``sys.setprofile``, and counts the distinct
functions that run with a ``mock_server`` module's globals from the moment the view is entered
until ``Store.record`` (the journal write, counted) is. Whatever runs with a mock module's
globals counts — functions, methods, the methods ``dataclasses`` generates, lambdas, closures,
comprehensions and generator expressions alike; the validator (``oioi``), Flask, werkzeug,
SQLite and the standard library do not.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

from flask import Flask

from mock_server import create_app
from mock_server._endpoint import oioi_request
from mock_server._store import Store
from mock_server.seed import DEFAULT_STATION

MAX_FUNCTIONS = 5
MAX_MODULES = 3
MAX_LINES = 50  # STYLE.md: a function over 50 lines needs a reason
KEY = "request-path-key-5e0c7b"
PARTNER = "request-path-partner-0001"
CONNECTOR = DEFAULT_STATION["connectors"][0]["id"]
STATUS = {"connector-post-status": {"connector-id": CONNECTOR, "status": "Occupied", "partner-identifier": PARTNER}}


def post(app: Flask, message: dict[str, Any]) -> tuple[int, int]:
    answer = app.test_client().post("/api/v4/request", json=message, headers={"Authorization": f"key={KEY}"})
    return answer.status_code, answer.get_json()["result"]["code"]


def mock_module(frame: FrameType) -> str | None:
    name = frame.f_globals.get("__name__", "")
    return name if name == "mock_server" or name.startswith("mock_server.") else None


def trace_until_journaled(app: Flask, message: dict[str, Any]) -> tuple[list[tuple[str, CodeType]], bool]:
    """The mock's own functions (module and code), in the order first called, from the view until the journal
    write; and whether the journal write was reached."""
    path: list[tuple[str, CodeType]] = []
    state = {"in_view": False, "journaled": False}

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event != "call" or state["journaled"]:
            return
        module, code = mock_module(frame), frame.f_code
        state["in_view"] = state["in_view"] or code is inspect.unwrap(oioi_request).__code__
        if module is None or not state["in_view"]:
            return
        if all(seen is not code for _module, seen in path):
            path.append((module, code))
        state["journaled"] = code is Store.record.__code__

    sys.setprofile(profile)
    try:
        answer = post(app, message)
    finally:
        sys.setprofile(None)
    assert answer == (200, 0), answer
    return path, state["journaled"]


def test_a_status_request_touches_at_most_five_mock_functions_in_three_modules(tmp_path: Path) -> None:
    app = create_app("emp", {"API_KEYS": [KEY], "DATABASE": str(tmp_path / "mock.sqlite3")})
    assert post(app, {"station-post": {"station": DEFAULT_STATION, "partner-identifier": PARTNER}}) == (200, 0)

    path, journaled = trace_until_journaled(app, STATUS)

    names = [f"{module}.{code.co_qualname}" for module, code in path]
    modules = {module for module, _code in path}
    listing = "\n".join(f"  {n}. {name}" for n, name in enumerate(names, start=1))
    assert journaled, f"The trace never reached Store.record; it saw:\n{listing}"
    assert len(names) <= MAX_FUNCTIONS and len(modules) <= MAX_MODULES, (
        f"Received: {len(names)} of the mock's functions in {len(modules)} modules before the journal row:\n"
        f"{listing}\nExpected: at most {MAX_FUNCTIONS} functions in at most {MAX_MODULES} modules.\n"
        "Fold the new step into the view (mock_server/_endpoint.py:oioi_request), or call it only off this path."
    )
    lines = {f"{module}.{code.co_qualname}": len(inspect.getsourcelines(code)[0]) for module, code in path}
    too_long = {name: count for name, count in lines.items() if count > MAX_LINES}
    assert too_long == {}, f"Received: {too_long!r}\nExpected: no function on the path over {MAX_LINES} lines."
