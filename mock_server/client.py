"""The one client of a running mock: its OIOI endpoint and its admin API (``/admin/``), over HTTP.

`start` runs ``python -m mock_server ROLE …`` as a child process (``oioi.serving``) and hands back
a `RunningMock`: the process and this client in one. The conformance run's partner and the
project's tests both talk to the mock through it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import requests

from oioi import serving
from oioi.errors import HarnessError

__all__ = ["MockClient", "MockRefused", "RunningMock", "start"]

PATH = "/api/v4/request"  # request.rst: every OIOI request goes to this one path


class MockRefused(HarnessError):
    """The mock's admin API refused a request (HTTP 4xx or 5xx)."""


class MockClient:
    """Talks to the mock at ``url`` (``http://HOST:PORT``)."""

    def __init__(self, url: str, *, api_key: str = "", admin_token: str | None = None, timeout: float = 60.0):
        self.url, self.api_key, self.admin_token, self.timeout = url.rstrip("/"), api_key, admin_token, timeout

    @property
    def endpoint(self) -> str:
        """Its OIOI endpoint."""
        return self.url + PATH

    def post(self, message: Any, *, key: str | None = None, **kwargs: Any) -> requests.Response:
        """POST one OIOI request (JSON ``message``, or ``data=`` raw bytes) with ``Authorization: key=…``."""
        headers = {"Authorization": f"key={key or self.api_key}", "Content-Type": "application/json"}
        headers.update(kwargs.pop("headers", {}))
        if "data" not in kwargs:
            kwargs["json"] = message
        return requests.post(self.endpoint, headers=headers, timeout=kwargs.pop("timeout", 30), **kwargs)

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        """One admin API request (``/admin/PATH``); its JSON answer, `MockRefused` when it is not 2xx."""
        if self.admin_token:
            kwargs["headers"] = {"Authorization": f"Bearer {self.admin_token}", **kwargs.get("headers", {})}
        answer = requests.request(method, f"{self.url}/admin/{path}", timeout=self.timeout, **kwargs)
        if answer.status_code >= 300:
            raise MockRefused(f"The mock refused {method} /admin/{path}: HTTP {answer.status_code} {answer.text[:300]}")
        return answer.json()

    def reset(self) -> None:
        """Empty its state and journal (``POST /admin/reset``)."""
        self.admin("POST", "reset")

    def state(self) -> dict[str, Any]:
        """Its state tables (``GET /admin/state``)."""
        state: dict[str, Any] = self.admin("GET", "state")
        return state

    def journal(self, **params: Any) -> list[dict[str, Any]]:
        """Journal entries, oldest first; ``params`` filter them (call, exchange, since, limit)."""
        return list(self.admin("GET", "journal", params=params)["entries"])

    def received(self, call: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        """What its partner sent it (inbound entries after entry ``since``), oldest first."""
        return self.journal(exchange="inbound", since=since, **({"call": call} if call else {}))

    def sent(self, call: str | None = None) -> list[dict[str, Any]]:
        """What it sent its partner (outbound entries), oldest first."""
        return self.journal(exchange="outbound", **({"call": call} if call else {}))

    def last_id(self) -> int:
        """The id of its newest journal entry (0 when there is none)."""
        entries = self.journal()
        return int(entries[-1]["id"]) if entries else 0

    def wait_for(
        self, call: str, since: int = 0, seconds: float = 10.0, count: int = 1,
        match: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """Inbound ``call`` entries after ``since`` that ``match``, waiting up to ``seconds`` for ``count``."""
        deadline = time.monotonic() + seconds
        while True:
            found = [entry for entry in self.received(call, since) if match is None or match(entry)]
            if len(found) >= count or time.monotonic() >= deadline:
                return found
            time.sleep(0.05)

    def quiet(self, since: int, seconds: float, settle: float = 1.0) -> list[dict[str, Any]]:
        """Everything received after ``since`` once nothing new came for ``settle`` s (``seconds`` at most)."""
        deadline, seen, last_change = time.monotonic() + seconds, -1, time.monotonic()
        while True:
            entries = self.received(since=since)
            if len(entries) != seen:
                seen, last_change = len(entries), time.monotonic()
            if (entries and time.monotonic() - last_change >= settle) or time.monotonic() >= deadline:
                return entries
            time.sleep(0.1)

    def fault(self, **spec: Any) -> None:
        """Queue a fault: a failure the mock injects into its next answers (``POST /admin/faults``)."""
        self.admin("POST", "faults", json=spec)

    def clear_faults(self) -> None:
        """Drop the faults still queued (``DELETE /admin/faults``)."""
        self.admin("DELETE", "faults")

    def send(self, call: str, body: dict[str, Any]) -> dict[str, Any]:
        """Make it send one call to its partner; the journal entry of that exchange."""
        entry: dict[str, Any] = self.admin("POST", "send", json={"call": call, "body": body})
        return entry


class RunningMock(MockClient):
    """A mock running as a child process, and the client that talks to it."""

    def __init__(self, child: serving.Child, *, api_key: str = "", admin_token: str | None = None) -> None:
        super().__init__(child.base_url, api_key=api_key, admin_token=admin_token)
        self.child = child

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self.child.port

    def stop(self) -> int:
        """SIGTERM, as Ctrl-C or a service manager would; its exit code."""
        return self.child.stop()

    def kill(self) -> None:
        """SIGKILL it and every process it forked."""
        self.child.kill()


def start(
    role: str, *, api_key: str, db: str | Path, options: Mapping[str, Any] | None = None,
    args: tuple[str, ...] = (), host: str = "127.0.0.1", port: int = 0,
) -> RunningMock:
    """Run ``python -m mock_server ROLE`` on ``host:port`` (0: a free port) with ``--OPTION VALUE`` for each option.

    An option whose value is a list is repeated; None leaves it out. `HarnessError` when it
    does not announce its URL in time (the message ends with its last line of output).
    """
    command = [sys.executable, "-m", "mock_server", role, "--host", host, "--port", str(port),
               "--api-key", api_key, "--db", str(db)]
    for name, value in (options or {}).items():
        for one in value if isinstance(value, list | tuple) else [value]:
            if one is not None:
                command += [f"--{name}", str(one)]
    child = serving.start([*command, *args], what=f"mock {role.upper()}")
    return RunningMock(child, api_key=api_key)
