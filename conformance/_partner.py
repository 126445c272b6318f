"""The mock partner a run plays while the IUT sends (``--listen``), and the IUT's test-control hook.

``Partner`` runs ``python -m mock_server emp|cpo`` (the role opposite the IUT's) in its own
process on the address the IUT was configured to send to, and reads what it received from the
mock's journal through the mock's one client (``mock_server.client``). ``Control`` asks the
IUT to act (``--control-url``); without it, or for an action the IUT does not support, the run
waits a bounded time for the traffic to come on its own and, when a person is at the terminal,
asks them to make it happen.

Whether a person is there is decided before pytest captures the standard streams (inside a
check, file descriptor 0 is pytest's, never the terminal): ``oioi certify`` sets
``OIOI_INTERACTIVE=1`` when its standard input is a terminal. The person is asked, and told what
arrived, on ``/dev/tty``.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from mock_server.client import MockClient, RunningMock, start
from oioi.errors import ConfigError, HarnessError

__all__ = ["INTERACTIVE", "Control", "NotDone", "Partner", "Waiting", "arrival", "person_present"]

INTERACTIVE = "OIOI_INTERACTIVE"  # "1": a person is at the terminal (set by `oioi certify` before pytest captures)
# What a wait for the IUT's messages is said with: (what, up to how many seconds) -> the context of the wait.
Waiting = Callable[[str, float], contextlib.AbstractContextManager[None]]


def _silently(what: str, seconds: float) -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()


class Partner(MockClient):
    """The mock of the opposite role, listening where the IUT sends; `MockClient` reads what it received."""

    def __init__(self, role: str, listen: str, api_key: str, *, iut_url: str, iut_key: str, db: Path | None = None,
                 waiting: Waiting = _silently):
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"--listen {listen!r} is not HOST:PORT, e.g. 127.0.0.1:8765.")
        super().__init__(f"http://{listen}", api_key=api_key)
        self.role, self.host, self.port = role, host, int(port)
        self._tmp = tempfile.TemporaryDirectory(prefix="oioi-partner-") if db is None else None
        self.db = db or Path(self._tmp.name) / "partner.sqlite3"  # type: ignore[union-attr]
        self.options = {"profile": "lenient", "partner-url": iut_url, "partner-api-key": iut_key}
        self.running: RunningMock | None = None
        self.waiting = waiting  # says each wait for the IUT's messages (certify's progress)

    def wait_for(
        self, call: str, since: int = 0, seconds: float = 10.0, count: int = 1,
        match: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """`MockClient.wait_for`, said while it waits."""
        article = "an" if call.startswith(("a", "e", "i", "o", "u", "rfid")) else "a"
        with self.waiting(f"{article} {call}" if count == 1 else f"{count} × {call}", seconds):
            return super().wait_for(call, since, seconds, count=count, match=match)

    def quiet(self, since: int, seconds: float, settle: float = 1.0) -> list[dict[str, Any]]:
        """`MockClient.quiet`, said while it waits."""
        with self.waiting("messages", seconds):
            return super().quiet(since, seconds, settle)

    def start(self) -> Partner:
        """Start the mock and wait until it listens (30 s at most)."""
        try:
            self.running = start(self.role, api_key=self.api_key, db=self.db, options=self.options, host=self.host,
                                 port=self.port)
        except HarnessError as failure:
            self._cleanup()
            raise HarnessError(f"The mock partner could not listen on {self.host}:{self.port} ({failure}); "
                               "choose another --listen address.") from None
        self.url = self.running.url
        return self

    def stop(self) -> None:
        """Stop the mock."""
        if self.running is not None:
            self.running.stop()
            self.running = None
        self._cleanup()

    def _cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


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
