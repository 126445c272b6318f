"""What a reference implementation sends to its partner: one outbox, one thread, messages in order.

request.rst, "Sending a Message via OIOI": "The HTTP header must contain the following
headers:: Authorization: key=<your-API-key> Content-Type: application/json", "All data must be
UTF-8 encoded". On a 5xx answer (request.rst, "Response"): "You must retry later, honoring any
Retry-After header included in the response. Your services must implement exponential back-off."

So: HTTP 200 is delivered; a 4xx is final (the partner refused this message, sending it again
changes nothing); a 5xx, a timeout or a refused connection is tried again after
max(Retry-After, ``base_delay`` * 2^(n-1)) seconds, at most ``max_tries`` tries in all.
The sender defects live here, each one ``if`` where a real partner's bug would be, and so do the
sender's correct behaviours (a 30 s client timeout, jittered back-off, no keep-alive).
"""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import json
import queue
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import requests

from examples._reference._behaviours import JITTER_BASE, SLOW_CLIENT_TIMEOUT
from oioi.errors import ConfigError

__all__ = ["SENDER_DEFECTS", "Outbox", "Outcome", "make_outbox"]

Body = dict[str, Any]

SENDER_DEFECTS: dict[str, str] = {
    "bearer-auth": "Sends its partner API key as 'Authorization: Bearer <key>' instead of 'key=<key>'.",
    "no-retry-after-503": "Never sends a message again, whatever the partner answered.",
    "retry-storm": "Retries a message that failed with 5xx at once, up to 8 tries, ignoring Retry-After.",
    "text-plain-content-type": "Sends its messages with 'Content-Type: text/plain'.",
    "utf16-body": "Sends its messages encoded in UTF-16 instead of UTF-8.",
    "no-retry-after-timeout": "Gives up on a message whose answer did not come in time, instead of trying again.",
    "steady-retries": "Retries a message that keeps failing every second after the first back-off, 30 tries in all.",
    "partner-identifier-outside": "Puts partner-identifier beside the call's key instead of inside the call's object.",
    "short-partner-identifier": "Names itself with the first 12 characters of its partner identifier.",
}
# Only the CPO switches this one on (its DEFECTS); the outbox is shared, so the `if` is here.
RETRIES_AFTER_4XX = "retries-after-4xx"
NEW_SESSION_ID_ON_RETRY = "new-session-id-on-retry"
STORM_TRIES = 8
STEADY_TRIES = 30
MAX_RETRY_AFTER = 60.0  # seconds; a larger Retry-After is honoured as this, so a partner cannot stall the outbox


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """The final outcome of one message: its last try's HTTP status and JSON answer (``None``: none came)."""

    status: int | None
    answer: Any
    tries: int

    @property
    def code(self) -> int | None:
        """The answer's result code, when it has one."""
        result = self.answer.get("result") if isinstance(self.answer, dict) else None
        code = result.get("code") if isinstance(result, dict) else None
        return code if isinstance(code, int) and not isinstance(code, bool) else None


@dataclasses.dataclass(slots=True)
class _Message:
    request: Body  # {call: body}
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    outcome: Outcome | None = None


class Outbox:
    """The messages for one partner, delivered in order by one background thread (started on first use)."""

    def __init__(
        self,
        url: str,
        api_key: str,
        identifier: str,
        defects: frozenset[str],
        title: str,
        behaviours: frozenset[str] = frozenset(),
    ) -> None:
        self.url, self.identifier, self.defects, self.title = url, identifier, defects, title
        self.behaviours = behaviours
        self._api_key = api_key
        self.base_delay = JITTER_BASE if "jittered-backoff" in behaviours else 0.5  # seconds before the 2nd try
        self.max_tries = 4
        self.timeout = SLOW_CLIENT_TIMEOUT if "slow-client-timeout" in behaviours else 2.0  # seconds per try
        # seconds a synchronous `request` waits for its message's outcome: 15 by default, longer as the tries are
        self.wait_limit = 13.0 + self.timeout + (2 * JITTER_BASE * 2**2 if "jittered-backoff" in behaviours else 0.0)
        # Seams for tests: how the outbox waits between tries, the clock Retry-After dates are read with,
        # and the random fraction of jittered-backoff.
        self.sleep: Callable[[float], None] = time.sleep
        self.now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)
        self.random: Callable[[], float] = random.random
        self._queue: queue.Queue[_Message] = queue.Queue()
        self._lock = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None

    def send(self, call: str, body: Body) -> _Message:
        """Queue ``{call: body}`` for delivery; returns at once."""
        message = _Message({call: body})
        with self._lock:
            self._pending += 1
            if self._thread is None:  # started lazily: in gunicorn, inside the worker that uses it
                self._thread = threading.Thread(target=self._run, name=f"{self.title} outbox", daemon=True)
                self._thread.start()
        self._queue.put(message)
        return message

    def request(self, call: str, body: Body) -> Outcome:
        """Send ``{call: body}`` and wait (at most `wait_limit` s) for its final outcome."""
        message = self.send(call, body)
        if not message.done.wait(self.wait_limit) or message.outcome is None:
            return Outcome(None, None, 0)
        return message.outcome

    def idle(self, timeout: float) -> bool:
        """Wait until every queued message has its final outcome; False if ``timeout`` s pass first."""
        with self._lock:
            return self._lock.wait_for(lambda: self._pending == 0, timeout)

    def _run(self) -> None:
        while True:
            message = self._queue.get()
            try:
                message.outcome = self._deliver(message.request)
            except Exception as bug:  # never let one message stop the outbox
                print(f"{self.title}: outbox failed on {list(message.request)}: {bug!r}", file=sys.stderr, flush=True)
                message.outcome = Outcome(None, None, 0)
            message.done.set()
            with self._lock:
                self._pending -= 1
                self._lock.notify_all()

    def _deliver(self, message: Body) -> Outcome:
        (call,) = message
        tries = self.tries()
        for n in range(1, tries + 1):
            status, answer, retry_after = self._try(message)
            done = status is not None and (status < 500 and not (status >= 400 and RETRIES_AFTER_4XX in self.defects))
            done = done or (status is None and "no-retry-after-timeout" in self.defects)  # the defect: gives up
            if done or n == tries:
                self._log(call, n, tries, status, "delivered" if status == 200 else "given up")
                return Outcome(status, answer, n)
            delay = self.delay(n, retry_after)
            self._log(call, n, tries, status, f"next try in {delay:g} s")
            self.sleep(delay)
            if call == "session-post" and NEW_SESSION_ID_ON_RETRY in self.defects:  # the defect: a "new" CDR
                message = {call: {**message[call], "session-id": str(uuid.uuid4())}}
        raise AssertionError("unreachable: the last try returns")

    def tries(self) -> int:
        """How many tries a message gets at most."""
        if "no-retry-after-503" in self.defects:
            return 1
        if "steady-retries" in self.defects:
            return STEADY_TRIES
        return STORM_TRIES if "retry-storm" in self.defects else self.max_tries

    def delay(self, tries: int, retry_after: float | None) -> float:
        """Seconds to wait after try ``tries`` failed: max(Retry-After, base_delay * 2^(tries-1)).

        With jittered-backoff, "equal jitter": half of the back-off fixed, the other half random, so the
        waits still grow ("Your services must implement exponential back-off", request.rst).
        """
        if "retry-storm" in self.defects:
            return 0.0
        backoff = self.base_delay * 2.0 ** (tries - 1)
        if "jittered-backoff" in self.behaviours:
            backoff = backoff / 2 + self.random() * backoff / 2
        if "steady-retries" in self.defects:  # the defect: the back-off stops growing at 2 * base_delay
            backoff = min(backoff, 2 * self.base_delay)
        return max(retry_after or 0.0, backoff)

    def _try(self, message: Body) -> tuple[int | None, Any, float | None]:
        """One POST: its status, its JSON answer (None if not JSON) and its Retry-After in seconds."""
        scheme = "Bearer " if "bearer-auth" in self.defects else "key="
        content_type = "text/plain" if "text-plain-content-type" in self.defects else "application/json"
        headers = {"Authorization": scheme + self._api_key, "Content-Type": content_type}
        if "connection-close" in self.behaviours:  # HTTP/1.0 style: one connection per message
            headers["Connection"] = "close"
        ((call, fields),) = message.items()
        if "partner-identifier-outside" in self.defects and "partner-identifier" in fields:  # the defect: two keys
            message = {
                call: {k: v for k, v in fields.items() if k != "partner-identifier"},
                "partner-identifier": fields["partner-identifier"],
            }
        data = json.dumps(message, ensure_ascii=False).encode("utf-16" if "utf16-body" in self.defects else "utf-8")
        try:
            answer = requests.post(self.url, data=data, headers=headers, timeout=self.timeout)
        except requests.RequestException as error:
            print(f"{self.title}: {next(iter(message))} to {self.url}: no answer ({type(error).__name__})",
                  file=sys.stderr, flush=True)  # fmt: skip
            return None, None, None
        try:
            body = answer.json()
        except ValueError:
            body = None
        return answer.status_code, body, self._retry_after(answer.headers.get("Retry-After"))

    def _retry_after(self, value: str | None) -> float | None:
        """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110, 10.2.3); None if absent or unreadable."""
        if value is None:
            return None
        value = value.strip()
        if value.isdigit():
            return min(float(value), MAX_RETRY_AFTER)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        return min(max(0.0, (when - self.now()).total_seconds()), MAX_RETRY_AFTER)

    def _log(self, call: str, n: int, tries: int, status: int | None, what: str) -> None:
        answer = f"HTTP {status}" if status is not None else "no answer"
        print(f"{self.title}: {call} to {self.url}, try {n}/{tries}: {answer}; {what}", file=sys.stderr, flush=True)


def make_outbox(
    url: str | None,
    api_key: str | None,
    identifier: str,
    defects: Iterable[str],
    title: str,
    behaviours: Iterable[str] = (),
) -> Outbox | None:
    """The outbox for the partner at ``url``, or None when no partner is configured.

    `ConfigError` when only one of ``url`` and ``api_key`` is given, the URL is not http(s)
    or the partner identifier is empty.
    """
    if url is None and api_key is None:
        return None
    if not url or not api_key:
        raise ConfigError(f"The {title} needs both --partner-url URL and --partner-api-key KEY, or neither.")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"Received: --partner-url {url!r}\nExpected: an http:// or https:// URL of the partner.")
    if not isinstance(identifier, str) or not identifier:
        raise ConfigError(f"Received: --partner-identifier {identifier!r}\nExpected: a non-empty partner identifier.")
    defects = frozenset(defects)
    if "short-partner-identifier" in defects:  # the defect: shorter than the glossary's 16 characters
        identifier = identifier[:12]
    return Outbox(url, api_key, identifier, defects, title, frozenset(behaviours))
