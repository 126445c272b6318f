"""The mock partner a run plays while the IUT sends (``--listen``), and the IUT's test-control hook.

``Partner`` runs ``oioi mock emp|cpo`` (the role opposite the IUT's) in its own process on
the address the IUT was configured to send to, and reads what it received from the mock's
journal. ``Control`` asks the IUT to act (``--control-url``); without it, or for an action
the IUT does not support, the run waits a bounded time for the traffic to come on its own
and, when a person is at the terminal, asks them to make it happen.

Whether a person is there is decided before pytest captures the standard streams (inside a
check, file descriptor 0 is pytest's, never the terminal): ``oioi certify`` sets
``OIOI_INTERACTIVE=1`` when its standard input is a terminal. The person is asked, and told what
arrived, on ``/dev/tty``.
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

__all__ = ["INTERACTIVE", "Control", "NotDone", "Partner", "arrival", "person_present"]

START_TIMEOUT = 30.0
INTERACTIVE = "OIOI_INTERACTIVE"  # "1": a person is at the terminal (set by `oioi certify` before pytest captures)


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

    def sent(self, call: str | None = None) -> list[dict[str, Any]]:
        """What the mock itself sent to the IUT (outbound journal entries), oldest first."""
        params: dict[str, Any] = {"exchange": "outbound"}
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
    """The action was not done: the hook answered that it could not, or the person typed 'skip' (not run)."""


class Control:
    """The IUT's test-control hook: ``POST {"action": NAME, ...}``, 2xx when done, 404/501 not supported.

    Without a hook, or for an action it does not support, a person at the terminal is asked to do
    it; ``say`` then tells them what the check waits for and what arrived.
    """

    def __init__(self, url: str | None, *, timeout: float = 30.0, ask: Callable[[str], bool] | None = None,
                 tell: Callable[[str], None] | None = None):
        self.url, self.timeout = url, timeout
        # Seams for tests: how a person is asked (True: done; False: nobody there; NotDone: 'skip'), and told.
        self.ask, self.tell = ask or _ask_a_person, tell or _tell_the_person
        self.by_person = False  # whether a person did the last action (then they are told what arrives)

    def act(self, action: str, prompt: str, **fields: Any) -> dict[str, Any] | None:
        """Make the IUT do ``action``: its answer; {} when a person did it; None when nobody could."""
        self.by_person = False
        if self.url:
            answer = self._post(action, fields)
            if answer.status_code in (404, 501):
                return self._person(prompt)
            if not 200 <= answer.status_code < 300:
                raise NotDone(f"the test-control hook could not do {action!r}: HTTP {answer.status_code} "
                              f"{' '.join(answer.text.split())[:200]}")
            try:
                body = answer.json()
            except ValueError:
                body = {}
            return body if isinstance(body, dict) else {}
        return self._person(prompt)

    def undo(self, action: str, prompt: str, *, by_person: bool, **fields: Any) -> bool:
        """Put back what a check changed: through the hook, or by asking the person who made the change.

        Never raises (it runs in a ``finally``); False when it could not be done.
        """
        try:
            if self.url:
                answer = self._post(action, fields)
                if answer.status_code not in (404, 501):
                    return 200 <= answer.status_code < 300
            return by_person and self.ask(prompt)
        except (NotDone, HarnessError):
            return False

    def say(self, text: str) -> None:
        """Tell the person who did the last action ``text`` (nothing when the hook did it)."""
        if self.by_person:
            self.tell(text)

    def _post(self, action: str, fields: dict[str, Any]) -> requests.Response:
        try:
            return requests.post(self.url or "", json={"action": action, **fields}, timeout=self.timeout)
        except requests.RequestException as failure:
            raise HarnessError(f"The test-control hook at {self.url} did not answer ({failure}).") from None

    def _person(self, prompt: str) -> dict[str, Any] | None:
        if self.ask(prompt):
            self.by_person = True
            return {}
        return None


def person_present() -> bool:
    """Whether a person is at the terminal: ``OIOI_INTERACTIVE`` when set, else whether fd 0 is a terminal."""
    flag = os.environ.get(INTERACTIVE, "").strip().lower()
    if flag:
        return flag in ("1", "true", "yes")
    return os.isatty(0)


def _ask_a_person(prompt: str) -> bool:
    """Ask the person at the terminal to act and press Enter; False when nobody is there.

    NotDone when they type 'skip'.
    """
    if not person_present():
        return False
    try:  # two handles: a terminal is not seekable, so Python cannot open it "r+" in text mode
        with open("/dev/tty", "w", encoding="utf-8") as screen, open("/dev/tty", encoding="utf-8") as keyboard:
            screen.write(f"\n>>> {prompt}, then press Enter (or type 'skip'): ")
            screen.flush()
            answer = keyboard.readline()
    except OSError:
        return False
    if answer.strip().lower() == "skip":
        raise NotDone("skipped by the person at the terminal")
    return bool(answer)  # "" (end of input): nobody answers any more


def _tell_the_person(text: str) -> None:
    """One line for the person at the terminal."""
    try:
        with open("/dev/tty", "w", encoding="utf-8") as tty:
            tty.write(f"    {text}\n")
    except OSError:
        pass
