"""The mock partner a run plays while the IUT sends (``--listen``), and the IUT's test-control hook.

``Partner`` runs ``oioi mock emp|cpo`` (the role opposite the IUT's) in its own process on
the address the IUT was configured to send to, and reads what it received from the mock's
journal. ``Control`` asks the IUT to act (``--control-url``); without it, or for an action
the IUT does not support, the run waits a bounded time for the traffic to come on its own
and, in an interactive terminal, asks a person to make it happen.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from oioi.errors import ConfigError, HarnessError

__all__ = ["Control", "NotDone", "Partner", "arrival"]

START_TIMEOUT = 30.0


class Partner:
    """The mock of the opposite role, listening where the IUT sends."""

    def __init__(self, role: str, listen: str, api_key: str, *, iut_url: str, iut_key: str, db: Path | None = None):
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"--listen {listen!r} is not HOST:PORT, e.g. 127.0.0.1:8765.")
        self.role, self.host, self.port, self.api_key = role, host, int(port), api_key
        self._tmp = tempfile.TemporaryDirectory(prefix="oioi-partner-") if db is None else None
        self.db = db or Path(self._tmp.name) / "partner.sqlite3"  # type: ignore[union-attr]
        self.command = [sys.executable, "-m", "oioi", "mock", role, "--host", host, "--port", port,
                        "--api-key", api_key, "--db", str(self.db), "--profile", "lenient",
                        "--partner-url", iut_url, "--partner-api-key", iut_key]
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> Partner:
        """Start the mock and wait until it listens (30 s at most)."""
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self.process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if "listening on " in line:
                self.url = line.split("listening on ")[1].strip().removesuffix("/api/v4/request")
                return self
            if not line and self.process.poll() is not None:
                break
        error = self.stop()
        raise HarnessError(f"The mock partner could not listen on {self.host}:{self.port} ({error}); "
                           "choose another --listen address.")

    def stop(self) -> str:
        """Stop the mock; its last error line, if any."""
        if self.process is None:
            return ""
        self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        self.process = None
        if self._tmp is not None:
            self._tmp.cleanup()
        lines = [line for line in (err or "").splitlines() if line.strip()]
        return lines[-1] if lines else "no output"

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = requests.request(method, f"{self.url}/admin/{path}", timeout=60, **kwargs)
        if answer.status_code >= 400:
            raise HarnessError(f"The mock partner refused {method} /admin/{path}: {answer.text[:300]}")
        return answer.json()

    def received(self, call: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        """What the IUT sent (inbound journal entries after entry ``since``), oldest first."""
        params: dict[str, Any] = {"exchange": "inbound", "since": since}
        if call:
            params["call"] = call
        return list(self.admin("GET", "journal", params=params)["entries"])

    def last_id(self) -> int:
        entries = self.admin("GET", "journal")["entries"]
        return int(entries[-1]["id"]) if entries else 0

    def wait_for(self, call: str, since: int, seconds: float, count: int = 1,
                 match: Callable[[dict[str, Any]], bool] = lambda entry: True) -> list[dict[str, Any]]:
        """Inbound ``call`` entries after ``since`` that ``match``, waiting up to ``seconds`` for ``count``."""
        deadline = time.monotonic() + seconds
        while True:
            found = [e for e in self.received(call, since) if match(e)]
            if len(found) >= count or time.monotonic() >= deadline:
                return found
            time.sleep(0.1)

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
        """Queue a fault of the mock (``POST /admin/faults``)."""
        self.admin("POST", "faults", json=spec)

    def clear_faults(self) -> None:
        """Drop the mock's faults still queued (``DELETE /admin/faults``)."""
        self.admin("DELETE", "faults")

    def send(self, call: str, body: dict[str, Any]) -> dict[str, Any]:
        """Make the mock send one call to the IUT; the journal entry of that exchange."""
        entry: dict[str, Any] = self.admin("POST", "send", json={"call": call, "body": body})
        return entry


def answer_of(entry: dict[str, Any]) -> Any:
    """The mock's record of the answer to an exchange, as JSON (None when it was not JSON)."""
    import json

    answer = entry.get("response_body")
    if isinstance(answer, str):
        try:
            return json.loads(answer)
        except ValueError:
            return None
    return answer


def arrival(entry: dict[str, Any]) -> float:
    """When an entry was received, in seconds since the epoch."""
    return datetime.datetime.fromisoformat(entry["time"]).timestamp()


class NotDone(Exception):
    """The IUT's test-control hook answered that it could not do the action (the check is not run)."""


class Control:
    """The IUT's test-control hook: ``POST {"action": NAME, ...}``, 2xx when done, 404/501 not supported."""

    def __init__(self, url: str | None, *, timeout: float = 30.0, ask: Callable[[str], bool] | None = None):
        self.url, self.timeout, self.ask = url, timeout, ask or _ask_a_person

    def act(self, action: str, prompt: str, **fields: Any) -> dict[str, Any] | None:
        """Make the IUT do ``action``: its answer; {} when a person did it; None when nobody could."""
        if self.url:
            try:
                answer = requests.post(self.url, json={"action": action, **fields}, timeout=self.timeout)
            except requests.RequestException as failure:
                raise HarnessError(f"The test-control hook at {self.url} did not answer ({failure}).") from None
            if answer.status_code in (404, 501):
                return {} if self.ask(prompt) else None
            if not 200 <= answer.status_code < 300:
                raise NotDone(f"the test-control hook could not do {action!r}: HTTP {answer.status_code} "
                              f"{' '.join(answer.text.split())[:200]}")
            try:
                body = answer.json()
            except ValueError:
                body = {}
            return body if isinstance(body, dict) else {}
        return {} if self.ask(prompt) else None


def _ask_a_person(prompt: str) -> bool:
    """In an interactive terminal, ask a person to act and press Enter; False when there is nobody."""
    if not os.isatty(0):
        return False
    try:
        with open("/dev/tty", "r+", encoding="utf-8") as tty:
            tty.write(f"\n{prompt}, then press Enter (or type 'skip'): ")
            tty.flush()
            return tty.readline().strip().lower() != "skip"
    except OSError:
        return False
