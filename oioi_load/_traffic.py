"""The traffic `oioi load` sends, shaped as the protocol is used, and the judgement of every answer.

No Locust here: importing it patches the sockets of the whole process, so every decision — what
to send next, how fast, how an answer is judged — is a plain function or class, and the
locustfile (``oioi_load/locustfile.py``) only sends what a `Plan` gives and reports what
`verdict` says.

The role is the IUT's. Against an EMP the harness plays CPOs (cpo/poi.rst, cpo/cdr.rst,
cpo/rfid_start.rst): each virtual CPO first pushes its stations, then storms statuses over the
connectors it posted, pushes its stations again, verifies RFIDs, and runs charging sessions
(rfid-verify at the start, Occupied, CDRs of the ongoing session, the final CDR, Available).
Against a CPO the harness plays EMPs (cpo/remote_start.rst, cpo/reservation.rst): session-start
→ session-stop and reservation-start → reservation-stop on the given connectors, never two at a
time on one connector, and rfid-post whitelists of hundreds of UIDs. The rates are business units
per second (`UNITS`); a `Plan` paces its user's share of them, so ``--users`` only caps concurrency.

Longer than 400 lines for a reason: the config, the plan and its units, and the judgement are one
contract with the locustfile, read together; each part is a section below.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
from collections.abc import Callable, Generator, Mapping
from typing import Any

import orjson

from conformance import checks
from conformance._exchange import Exchange
from conformance._failures import Nonconformance
from conformance.suite import _messages as messages
from mock_server.seed import ACTIVE_UID, INACTIVE_UID, UNKNOWN_UID
from oioi import PROFILES, validate
from oioi.errors import ConfigError

__all__ = ["DEFAULT_RATES", "UNITS", "Answer", "Budget", "Closing", "LoadConfig", "Plan", "Request", "judge", "pacing",
           "sampled", "share", "verdict"]

# Business units per IUT role, and the OIOI calls one unit sends (at most).
UNITS: dict[str, dict[str, tuple[str, ...]]] = {
    "emp": {"pushes": ("station-post",), "statuses": ("connector-post-status",), "verifies": ("rfid-verify",),
            "sessions": ("rfid-verify", "connector-post-status", "session-post", "session-post",
                         "connector-post-status")},
    "cpo": {"sessions": ("session-start", "session-stop"), "reservations": ("reservation-start", "reservation-stop"),
            "whitelists": ("rfid-post",)},
}
DEFAULT_RATES = {"emp": {"pushes": 1.0, "statuses": 10.0, "sessions": 1.0, "verifies": 2.0},
                 "cpo": {"sessions": 1.0, "reservations": 0.5, "whitelists": 0.5}}
DEFAULT_PARTNERS = ("oioi-harness-partner-0001", "oioi-harness-partner-0002")  # as oioi certify's
STAGING_RFIDS = {"active": ACTIVE_UID, "inactive": INACTIVE_UID, "unknown": UNKNOWN_UID}  # testaccount.rst
STATUS_WEIGHTS = {"Available": 60, "Occupied": 25, "Offline": 8, "Unknown": 4, "Reserved": 3}
SUCCESS_STATUS = 200


@dataclasses.dataclass(frozen=True)
class LoadConfig:
    """What the locustfile reads from ``OIOI_LOAD_CONFIG`` (a JSON object; the API key comes from ``OIOI_API_KEY``).

    ``role`` is the IUT's; ``rates`` are business units per second (`UNITS`); ``requests`` caps the
    requests of the run; ``run_time`` (seconds) lets a user start only units that end before it.
    """

    role: str
    url: str
    rates: dict[str, float] = dataclasses.field(default_factory=dict)
    connectors: tuple[str, ...] = ()  # the CPO IUT's EVSE IDs the load may use
    partner_identifiers: tuple[str, ...] = DEFAULT_PARTNERS
    rfids: dict[str, str] = dataclasses.field(default_factory=lambda: dict(STAGING_RFIDS))
    judge_fraction: float = 1.0
    seed: int = 0
    requests: int | None = None
    run_time: float | None = None
    users: int | None = None  # Locust users in all, to deal connectors and rates out (None: Locust's -u)
    workers: int = 1  # Locust workers (distributed: each takes its part of ``requests``)
    stations: int = 8  # against an EMP: the stations of all virtual CPOs (at least one each)
    connectors_per_station: int = 2
    cdr_updates: int = 1  # CDRs of an ongoing session before its final one
    session_seconds: float = 1.0
    reservation_seconds: float = 0.5
    whitelist_size: int = 300
    timeout: float = 10.0
    profile: str = "lenient"  # how answers are judged (oioi.PROFILES); lenient: the spec's errata are warnings
    # Against a CPO: where each accepted session-start and the answer to its session-stop are appended, one
    # JSON object a line (oioi_load/_invariants.py, the sessions file); a worker writes sessions-<i>.jsonl.
    sessions_file: str | None = None

    @classmethod
    def from_json(cls, text: str | bytes) -> LoadConfig:
        """The config of a JSON object; `ConfigError` (one sentence) names what is wrong."""
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ConfigError("OIOI_LOAD_CONFIG is not JSON; oioi load writes it as a JSON object.") from None
        if not isinstance(data, dict):
            raise ConfigError("OIOI_LOAD_CONFIG must be a JSON object with role, url and rates.")
        return cls.of(data)

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> LoadConfig:
        """The config of a mapping: unknown keys refused, None and missing keys take their defaults."""
        if "api_key" in data:
            raise ConfigError("The load config must not hold the API key: give it in OIOI_API_KEY.")
        names = {f.name for f in dataclasses.fields(cls)}
        if unknown := sorted(set(data) - names):
            raise ConfigError(f"The load config has unknown keys {unknown!r}; known: {', '.join(sorted(names))}.")
        given = {k: v for k, v in data.items() if v is not None}
        for name in ("connectors", "partner_identifiers"):
            if isinstance(given.get(name), list):
                given[name] = tuple(given[name])
        if given.get("role") in UNITS:
            given["rates"] = {**DEFAULT_RATES[given["role"]], **(given.get("rates") or {})}
        if given.get("rfids") is not None:
            given["rfids"] = {**STAGING_RFIDS, **given["rfids"]}
        try:
            return cls(**given)
        except TypeError:
            raise ConfigError("The load config needs role (cpo or emp) and url.") from None

    def __post_init__(self) -> None:
        if self.role not in UNITS:
            raise ConfigError(f"The load config's role {self.role!r} is not one of cpo, emp (the IUT's role).")
        if not isinstance(self.url, str) or not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"The load config's url {self.url!r} is not the IUT's http(s) OIOI endpoint.")
        units = UNITS[self.role]
        if set(self.rates) - set(units) or not all(_number(v) and v >= 0 for v in self.rates.values()):
            raise ConfigError(f"The {self.role} rates are non-negative numbers of {', '.join(units)} per second.")
        if not (_number(self.judge_fraction) and 0 <= self.judge_fraction <= 1):
            raise ConfigError("judge_fraction is the fraction (0 to 1) of the answers to judge.")
        if self.role == "cpo" and not self.connectors:
            raise ConfigError("Load against a CPO needs its connectors (--connector-id) for sessions and reservations.")
        if not self.partner_identifiers or any(not isinstance(p, str) or len(p) < 16 for p in self.partner_identifiers):
            raise ConfigError("A partner identifier must be at least 16 characters long (glossary.rst).")
        wholes = ("users", "workers", "stations", "connectors_per_station", "whitelist_size", "cdr_updates")
        for name in (*wholes, "requests"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1 - (
                    name == "cdr_updates")):
                raise ConfigError(f"{name} must be a positive whole number, not {value!r}.")
        for name in ("run_time", "session_seconds", "reservation_seconds", "timeout"):
            value = getattr(self, name)
            if value is not None and not (_number(value) and value > 0):
                raise ConfigError(f"{name} must be a positive number of seconds, not {value!r}.")
        if self.profile not in PROFILES:
            raise ConfigError(f"profile {self.profile!r} is not one of {', '.join(PROFILES)}.")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- a user's share of the rates, and the pacing they make ------------------------------------------


@dataclasses.dataclass(frozen=True)
class Share:
    """What one Locust user sends: its rates (units per second), connectors, stations and partner identifier."""

    rates: dict[str, float]
    connectors: tuple[str, ...]
    stations: tuple[int, ...]
    partner: str


def share(config: LoadConfig, index: int, users: int | None = None) -> Share:
    """User ``index`` of ``users``: every rate divided among the users that can send it.

    Against a CPO the connectors are dealt out (user i gets every users-th one), so no two users ever
    hold one; the session and reservation rates go to the users that got connectors. Against an EMP
    every user is a CPO of its own stations (at least one each), under partner identifier i mod n.
    """
    partners, users = config.partner_identifiers, users or config.users or 1
    if config.role == "cpo":
        holders = min(users, len(config.connectors))
        mine = tuple(config.connectors[index::users]) if index < holders else ()
        rates = {unit: (rate / holders if mine else 0.0) if unit != "whitelists" else rate / users
                 for unit, rate in config.rates.items()}
        return Share(rates, mine, (), partners[index % len(partners)])
    stations = tuple(range(index, max(config.stations, users, index + 1), users))
    rates = {unit: rate / users for unit, rate in config.rates.items()}
    return Share(rates, (), stations, partners[index % len(partners)])


def pacing(config: LoadConfig) -> dict[str, float]:
    """Requests per second each unit's rate makes (at most: a refused start is not stopped), and the total."""
    per_call = {unit: rate * _cost(config, unit) for unit, rate in config.rates.items()}
    return {**per_call, "total": sum(per_call.values())}


def _cost(config: LoadConfig, unit: str) -> int:
    """The most requests one unit sends (an EMP session: verify, status, CDR updates, final CDR, status)."""
    if config.role == "emp" and unit == "sessions":
        return 4 + config.cdr_updates
    return len(UNITS[config.role][unit])


def sampled(index: int, fraction: float) -> bool:
    """Whether answer ``index`` (0, 1, …) of a user is judged: exactly ``fraction`` of them, evenly spread."""
    return math.floor((index + 1) * fraction) > math.floor(index * fraction)


class Budget:
    """The requests a process may still send (``--requests``): a unit takes what it may send before it starts."""

    def __init__(self, cap: int | None) -> None:
        self.left = cap

    def take(self, count: int) -> bool:
        if self.left is None:
            return True
        if self.left < count:
            return False
        self.left -= count
        return True

    def give_back(self, count: int) -> None:
        if self.left is not None:
            self.left += count


# --- requests and answers ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Request:
    """One OIOI request of a unit: its call (Locust's request name), message and the unit it belongs to."""

    call: str
    message: dict[str, Any]
    unit: str

    def body(self) -> bytes:
        return orjson.dumps(self.message)


@dataclasses.dataclass(frozen=True)
class Answer:
    """What came back: the HTTP status (None: no answer) and the body as JSON (None: not JSON)."""

    status: int | None
    body: Any = None

    @classmethod
    def of(cls, status: int | None, raw: bytes | None) -> Answer:
        try:
            return cls(status, orjson.loads(raw) if raw else None)
        except orjson.JSONDecodeError:
            return cls(status, None)

    @property
    def code(self) -> Any:
        result = self.body.get("result") if isinstance(self.body, dict) else None
        return result.get("code") if isinstance(result, dict) else None

    @property
    def succeeded(self) -> bool:
        """HTTP 200 with a success code (000, 011 or 012)."""
        return self.status == SUCCESS_STATUS and self.code in checks.SUCCESS

    @property
    def refused(self) -> bool:
        """A clear refusal (HTTP 200 or 4xx without a success code): the unit stops, nothing to undo."""
        return self.status is not None and 200 <= self.status < 500 and not self.succeeded

    def field(self, call: str, name: str) -> Any:
        payload = self.body.get(call) if isinstance(self.body, dict) else None
        return payload.get(name) if isinstance(payload, dict) else None


Unit = Generator[Request | float, Answer | None, None]  # yields requests and pauses (seconds); gets answers


class Closing(Exception):
    """Thrown into a paused unit at the end of the run: it sends what closes it (a stop, the final CDR) at once."""


@dataclasses.dataclass
class _Running:
    """A unit under way: its steps, when its next step is due, its pending request, the budget it still holds."""

    unit: str
    steps: Unit
    due: float
    reserved: int
    pending: Request | None = None
    release: Callable[[], None] | None = None


# --- the plan of one user -------------------------------------------------------------------------------


class Plan:
    """The requests of one Locust user, in the order and at the times its share of the rates makes.

    ``next(now)`` gives the request due first (None: nothing is due yet), ``answered(answer, now)``
    hands its answer back, ``wait(now)`` says how long until the next one (None: nothing more will
    be due: the budget or the run time is spent). ``now`` is seconds since the user started; each
    unit's k-th start is due at ``phase + k / rate``, late starts are caught up in order. The same
    seed, user and answers give the same requests.
    """

    def __init__(self, config: LoadConfig, index: int, users: int | None = None, budget: Budget | None = None) -> None:
        self.config, self.index = config, index
        self.share = share(config, index, users)
        self.rng = random.Random(f"{config.seed}:{index}")
        self.budget = budget or Budget(None)
        self.next_start = {u: self.rng.random() / r for u, r in self.share.rates.items() if r > 0}
        self.waiting: list[_Running] = []
        self.current: _Running | None = None
        self.sent = 0
        self.free = list(self.share.connectors)  # CPO: connectors no unit holds now
        self.posted: dict[str, None] = {}  # EMP: connectors whose station-post succeeded, in order
        self.posted_order: list[str] = []  # the same, to pick from by position
        self.busy: set[str] = set()  # EMP: connectors in a session
        self.slots: dict[str, int] = {}  # EMP: sessions per connector so far (each CDR's time slot)
        self.counts = {"sessions": 0, "customers": 0, "pushes": 0, "storm": 0}
        self.whitelist: list[str] = []
        self.records: list[dict[str, Any]] = []  # CPO sessions for the sessions file, taken by the locustfile
        self.closing = False
        for station in self.share.stations if config.role == "emp" else ():
            self._begin("pushes", 0.0, self._push(station))  # a CPO sends all its stations first (cpo/poi.rst)

    def next(self, now: float) -> Request | None:
        """The request to send now, or None when nothing is due."""
        assert self.current is None, "answered() first: one request of a user at a time"
        while (running := self._earliest(now)) is not None:
            request = running.pending or self._advance(running, None, now)
            if request is not None:
                running.pending, running.reserved = None, running.reserved - 1
                self.waiting.remove(running)
                self.current, self.sent = running, self.sent + 1
                return request
        return None

    def answered(self, answer: Answer, now: float) -> None:
        """The answer to the request ``next`` gave; its unit goes on (or ends)."""
        running, self.current = self.current, None
        assert running is not None
        running.due = now
        self.waiting.append(running)
        running.pending = self._advance(running, answer, now)

    def wait(self, now: float) -> float | None:
        """Seconds until the next request is due; None when nothing more will be (budget or run time spent)."""
        if self.current is not None:
            return 0.0
        dues = [r.due for r in self.waiting] + [due for unit, due in self.next_start.items()
                                                 if self._may_start(unit, due) and self._startable(unit)]
        return max(0.0, min(dues) - now) if dues else None

    def close(self, now: float) -> None:
        """The run ends: no unit starts any more, and every paused one sends what closes it (`Closing`) at once.

        A request in flight when the user was stopped counts as not answered. Then ``next(math.inf)``
        gives the closing requests one by one, until None.
        """
        self.closing = True
        if self.current is not None:
            self.answered(Answer(None), now)
        for running in list(self.waiting):
            if running.pending is not None:
                continue  # its next request is ready: it is sent as it is
            try:
                item = running.steps.throw(Closing())
            except (StopIteration, Closing):  # it had nothing to close, or had not begun
                self._end(running)
                continue
            running.due, running.pending = now, item if isinstance(item, Request) else None

    @property
    def idle(self) -> bool:
        """No unit under way (nothing left to close: every started session was stopped)."""
        return self.current is None and not self.waiting

    def _earliest(self, now: float) -> _Running | None:
        ready = [r for r in self.waiting if r.due <= now]
        starts = [(due, unit) for unit, due in self.next_start.items()
                  if due <= now and self._may_start(unit, due) and self._startable(unit)]
        first_start = min(starts, default=None)
        if first_start is not None and (not ready or first_start[0] < min(r.due for r in ready)):
            due, unit = first_start
            self.next_start[unit] = due + 1 / self.share.rates[unit]
            return self._start(unit, due) or self._earliest(now)
        return min(ready, key=lambda r: r.due) if ready else None

    def _may_start(self, unit: str, due: float) -> bool:
        """Whether a unit may start at ``due``: the budget can pay for it and it ends before the run time."""
        left = self.budget.left
        if self.closing or (left is not None and left < _cost(self.config, unit)):
            return False
        return self.config.run_time is None or due + self._span(unit) <= self.config.run_time

    def _span(self, unit: str) -> float:
        """How long a unit takes, with a margin for its answers."""
        pause = {"sessions": self.config.session_seconds, "reservations": self.config.reservation_seconds}
        return pause.get(unit, 0.0) + 0.5

    def _startable(self, unit: str) -> bool:
        """Whether the unit's resources are there: a free connector (a posted one against an EMP)."""
        if self.config.role == "cpo":
            return unit == "whitelists" or bool(self.free)
        if unit in ("statuses", "sessions"):
            return len(self.busy) < len(self.posted)
        return True

    def _start(self, unit: str, due: float) -> _Running | None:
        steps, release = self._steps(unit)
        running = self._begin(unit, due, steps)
        if running is None and release is not None:
            release()
        elif running is not None:
            running.release = release
        return running

    def _begin(self, unit: str, due: float, steps: Unit) -> _Running | None:
        cost = _cost(self.config, unit)
        if not self.budget.take(cost):
            steps.close()
            return None
        running = _Running(unit, steps, due, cost)
        self.waiting.append(running)
        return running

    def _advance(self, running: _Running, answer: Answer | None, now: float) -> Request | None:
        """The unit's next request; None after a pause (it is due later) or at its end (it leaves)."""
        try:
            item = running.steps.send(answer)  # a fresh unit, or one back from a pause, gets None
        except StopIteration:
            self._end(running)
            return None
        if isinstance(item, Request):
            return item
        running.due = now + item
        return None

    def _end(self, running: _Running) -> None:
        self.waiting.remove(running)
        self.budget.give_back(running.reserved)
        if running.release is not None:
            running.release()

    # --- the units: each a generator of requests and pauses, given the answers --------------------------

    def _steps(self, unit: str) -> tuple[Unit, Callable[[], None] | None]:
        """A new unit's steps, and what gives its connector back when it ends."""
        if self.config.role == "cpo":
            if unit == "whitelists":
                return self._whitelist(), None
            connector, evco = self.free.pop(0), self._evco()
            steps = self._cpo_session(connector, evco) if unit == "sessions" else self._reservation(connector, evco)
            return steps, lambda: self.free.append(connector)
        if unit == "pushes":
            self.counts["pushes"] += 1
            return self._push(self.share.stations[(self.counts["pushes"] - 1) % len(self.share.stations)]), None
        if unit == "verifies":
            return self._verify(), None
        connector = self._idle_connector("storm" if unit == "statuses" else "sessions")
        if unit == "statuses":
            return self._status(connector), None
        self.busy.add(connector)
        return self._emp_session(connector), lambda: self.busy.discard(connector)

    def _idle_connector(self, key: str) -> str:
        """The next posted connector in no session, round the posted ones (a storm reaches every connector)."""
        while True:
            position, self.counts[key] = self.counts[key], self.counts[key] + 1
            connector = self.posted_order[position % len(self.posted_order)]
            if connector not in self.busy:
                return connector

    def _cpo_session(self, connector: str, evco: str) -> Unit:
        """session-start, a while, session-stop naming the session-id the start gave (cpo/remote_start.rst)."""
        answer = yield Request("session-start", messages.session_start(connector, evco), "sessions")
        if answer is None or answer.refused:
            return
        session_id = answer.field("session-start", "session-id")
        session_id = session_id if isinstance(session_id, str) and session_id else None
        record = {"session-id": session_id, "connector-id": connector, "evco-id": evco}
        if session_id is not None and answer.succeeded:
            self.records.append({"event": "start", **record})
        with contextlib.suppress(Closing):
            yield self.config.session_seconds
        stopped = yield Request("session-stop", messages.session_stop(connector, evco, session_id), "sessions")
        if session_id is not None and answer.succeeded:
            self.records.append({"event": "stop", **record, "status": stopped.status if stopped else None,
                                 "code": stopped.code if stopped else None})

    def _reservation(self, connector: str, evco: str) -> Unit:
        """reservation-start, a while, reservation-stop by the holder's EVCO ID (cpo/reservation.rst)."""
        answer = yield Request("reservation-start", messages.reservation_start(connector, evco), "reservations")
        if answer is None or answer.refused:
            return
        with contextlib.suppress(Closing):
            yield self.config.reservation_seconds
        yield Request("reservation-stop", messages.reservation_stop(evco), "reservations")

    def _whitelist(self) -> Unit:
        """rfid-post of the whole whitelist, a twentieth of it changed since the last one (calls/rfid_post.rst)."""
        size = self.config.whitelist_size
        if not self.whitelist:
            self.whitelist = self._uids(size, set())
        else:
            taken = set(self.whitelist)
            for position in self.rng.sample(range(size), max(1, size // 20)):
                self.whitelist[position] = self._uids(1, taken)[0]
        yield Request("rfid-post", messages.rfid_post(list(self.whitelist), self.share.partner), "whitelists")

    def _uids(self, count: int, taken: set[str]) -> list[str]:
        """New RFID UIDs: 4-byte (8 hex digits) and 7-byte NFC ones (14, maker byte 04)."""
        found: list[str] = []
        while len(found) < count:
            uid = (f"{self.rng.getrandbits(32):08X}" if self.rng.random() < 0.3
                   else f"04{self.rng.getrandbits(48):012X}")
            if uid not in taken:
                taken.add(uid)
                found.append(uid)
        return found

    def _evco(self) -> str:
        """A new EVCO ID of the harness's customers, unique per user (no 194 for a second reservation)."""
        self.counts["customers"] += 1
        code = _base36(self.index, 2) + _base36(self.counts["customers"], 4)
        return f"{messages.CPO_ID}*{code}*{self.counts['customers'] % 10}"

    def _push(self, station: int) -> Unit:
        """station-post of one of this CPO's stations; its connectors count as posted once it succeeds."""
        station_id, connectors = _station(station, self.config.connectors_per_station)
        answer = yield Request("station-post", messages.station_post(station_id, connectors, self.share.partner),
                               "pushes")
        if answer is not None and answer.succeeded:
            self.posted_order += [c for c in connectors if c not in self.posted]
            self.posted.update(dict.fromkeys(connectors))

    def _status(self, connector: str) -> Unit:
        """connector-post-status of a posted connector (cpo/poi.rst: only for stations this partner pushed)."""
        status = self.rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]
        yield Request("connector-post-status", messages.connector_post_status(connector, status, self.share.partner),
                      "statuses")

    def _verify(self) -> Unit:
        """rfid-verify of a UID the EMP knows as active, inactive or unknown (testaccount.rst)."""
        state = self.rng.choices(["active", "inactive", "unknown"], weights=[8, 1, 1])[0]
        yield Request("rfid-verify", messages.rfid_verify(self.config.rfids[state]), "verifies")

    def _emp_session(self, connector: str) -> Unit:
        """A charging session as its EMP sees it (cpo/rfid_start.rst, cpo/cdr.rst): the UID verified, the connector
        Occupied, CDRs of the ongoing session, the final CDR with the same session-id, the connector Available."""
        uid, partner, config = self.config.rfids["active"], self.share.partner, self.config
        slot = self.slots.get(connector, 0)
        self.slots[connector] = slot + 1  # one slot per session: no two sessions of a connector overlap
        session_id = f"LOAD-{config.seed}-{self.index}-{sum(self.slots.values())}"
        answer = yield Request("rfid-verify", messages.rfid_verify(uid), "sessions")
        if answer is None or not answer.succeeded:
            return  # a UID the EMP does not verify starts no session
        yield Request("connector-post-status", messages.connector_post_status(connector, "Occupied", partner),
                      "sessions")
        for finished in [False] * config.cdr_updates + [True]:
            try:
                yield config.session_seconds / (config.cdr_updates + 1)
            except Closing:
                finished = True  # the run ends: the final CDR now
            yield Request("session-post", messages.session_post(session_id, connector, partner, finished=finished,
                                                                customer=("rfid", uid), slot=slot), "sessions")
            if finished:
                break
        yield Request("connector-post-status", messages.connector_post_status(connector, "Available", partner),
                      "sessions")


def _station(number: int, connectors: int) -> tuple[str, list[str]]:
    """Station ``number`` of the harness's operator and its EVSE IDs (glossary.rst, EVSE): the same every run."""
    evse_ids = [f"{messages.CPO_ID}*ELOAD{number:05d}*{k}" for k in range(1, connectors + 1)]
    return f"oioi-load-station-{number:05d}", evse_ids


def _base36(value: int, width: int) -> str:
    digits = ""
    for _ in range(width):
        value, digit = divmod(value, 36)
        digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[digit] + digits
    return digits


# --- judging an answer ------------------------------------------------------------------------------


def judge(call: str, status: int | None, body: bytes | None, *, profile: str = "lenient") -> list[str]:
    """The rules an answer breaks, [] when it conforms; a 5xx or no answer is an error, no rule (see `verdict`).

    The body is judged by `oioi.validate` as ``oioi validate`` does an exchange's response (direction
    response, the call known, the status given: a non-200 answer is request.rst's error answer, ``result``
    and optionally ``error``), its rule ids; a body that is not UTF-8 JSON is ``message/utf-8`` or
    ``message/json``, as there. What the status itself may be is the suite's check
    (`conformance.checks.answer_conforms`: 200, or a 4xx that claims no success, erratum
    request:refusal-http-status); when it breaks that and the body breaks nothing, the rule is the
    requirement it fails, ``<call>.answer``.
    """
    if status is None or status >= 500:
        return []
    try:
        text = (body or b"").decode("utf-8")
    except UnicodeDecodeError:
        return ["message/utf-8"]
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        return ["message/json"]
    findings = validate(message, call=call, direction="response", status=status, profile=profile)
    rules = list(dict.fromkeys(f.rule for f in findings if f.severity == "error"))
    if rules or status == SUCCESS_STATUS:
        return rules
    try:
        checks.answer_conforms(Exchange("", {}, b"", status=status, response_body=body), call)
    except Nonconformance as broken:
        return [broken.requirement or f"{call}.answer"]
    return []


def verdict(call: str, status: int | None, body: bytes | None, *, error: str | None = None, judged: bool = True,
            profile: str = "lenient") -> str | None:
    """The failure Locust records for an answer, None when there is none.

    ``error: <what>`` for an HTTP 5xx or no answer (``error`` says why: a timeout, a refused connection),
    ``nonconforming: <rule>`` for a judged answer that breaks a rule (the first one `judge` names:
    Locust keeps one failure per request, and its failures table counts them per call and rule).
    """
    if status is None or status == 0:
        return f"error: no answer ({error or 'no HTTP status'})"
    if status >= 500:
        return f"error: HTTP {status}"
    rules = judge(call, status, body, profile=profile) if judged else []
    return f"nonconforming: {rules[0]}" if rules else None
