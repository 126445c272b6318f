"""Locust users that speak OIOI: a thin adapter over `oioi_load._traffic`, run only in a Locust child process.

    OIOI_LOAD_CONFIG='{"role": "emp", "url": "http://127.0.0.1:8000/api/v4/request", "requests": 500}' \\
    OIOI_API_KEY=… python -m locust -f oioi_load/locustfile.py --headless -u 4 -r 4 -t 10s --csv run

``OIOI_LOAD_CONFIG`` is the JSON object `oioi_load.LoadConfig` reads (role of the IUT, url, rates, …);
the API key comes from ``OIOI_API_KEY`` only and appears in no output. Against an EMP the users are
``CpoPartner`` (the harness plays CPOs), against a CPO ``EmpPartner``; each request's Locust name is
its OIOI call. An answer Locust records as a failure says ``error: <what>`` (HTTP 5xx, no answer,
timeout) or ``nonconforming: <rule>`` (the first rule a judged answer breaks, `oioi_load.verdict`).
A run ends at ``-t`` or once ``requests`` were sent (each process sends its part; the units under way
are finished within it: every started session is stopped), whichever comes first; at the end each user
closes what it has open (``on_stop``, under ``--stop-timeout``). Against a CPO with ``sessions_file``,
each accepted session-start and the answer to its session-stop are appended there (_invariants.py).
Locust's CSV files get one more write at quit, so they hold the final figures.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import locust.stats
from locust import FastHttpUser, events, task
from locust.env import Environment
from locust.runners import STATE_RUNNING, LocalRunner, MasterRunner, WorkerRunner

from oioi.errors import ConfigError
from oioi_load import CONFIG_VARIABLE, Answer, Budget, LoadConfig, Plan, Request, sampled, verdict


def _config() -> LoadConfig:
    """The run's config; one sentence on stderr and exit 2 when it is missing or wrong."""
    try:
        if not os.environ.get(CONFIG_VARIABLE):
            raise ConfigError(f"{CONFIG_VARIABLE} is not set: run this locustfile through oioi load, which writes it.")
        if not os.environ.get("OIOI_API_KEY"):
            raise ConfigError("No API key: set OIOI_API_KEY to the key the IUT accepts.")
        return LoadConfig.from_json(os.environ[CONFIG_VARIABLE])
    except ConfigError as wrong:
        print(f"oioi load: {wrong}", file=sys.stderr)
        raise SystemExit(2) from None


CONFIG = _config()
_URL = urlsplit(CONFIG.url)
HEADERS = {"Authorization": f"key={os.environ['OIOI_API_KEY']}", "Content-Type": "application/json"}
_numbers = itertools.count()  # the users of this process, in the order they start
_plans: list[tuple[Plan, float]] = []  # every user's plan and when it started (monotonic)
_budget: list[Budget] = []  # this process's part of ``requests``, made when the first user starts


def _part(environment: Environment) -> Budget:
    """This process's part of the cap: all of it alone, an even part of it on worker i of n."""
    if not _budget:
        runner, cap = environment.runner, CONFIG.requests
        if cap is not None and isinstance(runner, WorkerRunner):
            cap = cap // CONFIG.workers + (runner.worker_index < cap % CONFIG.workers)
        _budget.append(Budget(cap))
    return _budget[0]


# Locust rewrites its CSV files every CSV_STATS_INTERVAL_SEC and closes them at the end without a last write
# (locustio/locust issues 1806, 2299: the CSV lags the printed summary); `_last_csv_rows` waits for one more.
locust.stats.CSV_STATS_INTERVAL_SEC = 0.25  # type: ignore[assignment]  # annotated int; gevent.sleep takes any


def _on_init(environment: Environment, **_: Any) -> None:
    """Distributed: the master ends the run once the workers together sent ``requests``."""
    if isinstance(environment.runner, MasterRunner) and CONFIG.requests is not None:
        environment.runner.greenlet.spawn(_watch_total, environment)
    _csv.append(bool(getattr(environment.parsed_options, "csv_prefix", None)))


def _last_csv_rows(**_: Any) -> None:
    """At quit (the users stopped, the files still open): let Locust's CSV writer write the final statistics."""
    if _csv and _csv[0]:
        time.sleep(locust.stats.CSV_STATS_INTERVAL_SEC * 2)  # Locust's gevent made time.sleep cooperative


_csv: list[bool] = []  # whether Locust writes CSV files (--csv)
events.init.add_listener(_on_init)  # type: ignore[no-untyped-call]  # Locust leaves add_listener untyped
events.quit.add_listener(_last_csv_rows)  # type: ignore[no-untyped-call]


def _watch_total(environment: Environment) -> None:
    runner = environment.runner
    assert runner is not None and CONFIG.requests is not None
    while runner.stats.total.num_requests < CONFIG.requests:
        time.sleep(0.2)  # Locust's gevent made time.sleep cooperative
    runner.quit()


def _sessions_file(environment: Environment) -> str | None:
    """Where this process appends session records: the configured file, or on worker i sessions-<i>.jsonl beside it."""
    if CONFIG.sessions_file is None or not isinstance(environment.runner, WorkerRunner):
        return CONFIG.sessions_file
    path = Path(CONFIG.sessions_file)
    return str(path.with_name(f"{path.stem}-{environment.runner.worker_index}{path.suffix}"))


def _what(error: BaseException | None) -> str | None:
    """What kept an answer away, without the request (so never a header): the exception's kind."""
    return None if error is None else type(error).__name__


class _OioiUser(FastHttpUser):
    """One user: sends what its `Plan` gives, when it is due, and reports each answer's verdict."""

    abstract = True
    host = f"{_URL.scheme}://{_URL.netloc}"
    network_timeout = connection_timeout = float(CONFIG.timeout)

    def on_start(self) -> None:
        runner = self.environment.runner
        worker = runner.worker_index if isinstance(runner, WorkerRunner) else 0
        options = self.environment.parsed_options
        users = CONFIG.users or getattr(options, "num_users", None)  # all users (a worker is given the master's -u)
        self.plan = Plan(CONFIG, next(_numbers) * CONFIG.workers + worker, users or 1, _part(self.environment))
        self.started, self.answers = time.monotonic(), 0
        _plans.append((self.plan, self.started))

    def wait_time(self) -> float:
        wait = self.plan.wait(self._now())
        return 0.5 if wait is None else min(wait, 1.0)

    @task
    def send(self) -> None:
        request = self.plan.next(self._now())
        if request is None:
            self._quit_when_spent()
            return
        self._send(request)

    def on_stop(self) -> None:
        """The run ends: close what is open (stop running sessions and reservations, send final CDRs) first.

        Locust waits ``--stop-timeout`` seconds for this; without it the user is gone at once.
        """
        self.plan.close(self._now())
        while (request := self.plan.next(math.inf)) is not None:
            self._send(request)
        self._write_records()

    def _now(self) -> float:
        return time.monotonic() - self.started

    def _send(self, request: Request) -> None:
        """POST one request, record Locust's verdict on its answer, and hand the answer back to the plan."""
        status, content = None, None
        try:
            # Locust's annotation of ``data`` leaves out bytes; its docstring and geventhttpclient take them.
            with self.client.post(_URL.path or "/", data=request.body(),  # type: ignore[arg-type]
                                  headers=HEADERS, name=request.call, catch_response=True) as response:
                status = response.status_code or None
                content = response.content if status is not None else None
                failure = verdict(request.call, status, content, error=_what(getattr(response, "error", None)),
                                  profile=CONFIG.profile, judged=sampled(self.answers, CONFIG.judge_fraction))
                self.answers += 1
                if failure is None:
                    response.success()
                else:
                    response.failure(failure)
        finally:  # the plan hears of every request, even one that broke off: its unit goes on or ends
            self.plan.answered(Answer.of(status, content), self._now())
            self._write_records()

    def _write_records(self) -> None:
        """Append the plan's session records to the sessions file, each line flushed at once."""
        path = _sessions_file(self.environment)
        if self.plan.records and path is not None:
            with open(path, "a", encoding="utf-8") as file:
                for record in self.plan.records:
                    file.write(json.dumps({**record, "time": time.time()}) + "\n")
        self.plan.records.clear()

    def _quit_when_spent(self) -> None:
        """Alone (not distributed): quit once every user is spent (budget or run time) and none has a unit open."""
        runner = self.environment.runner
        if not isinstance(runner, LocalRunner) or runner.state != STATE_RUNNING:
            return
        now = time.monotonic()
        if all(plan.idle and plan.wait(now - started) is None for plan, started in _plans):
            runner.greenlet.spawn(runner.quit)  # in a greenlet of its own: quit() stops every user, this one too


class CpoPartner(_OioiUser):
    """Against an EMP: the harness plays CPOs (station-post, connector-post-status, session-post, rfid-verify)."""

    abstract = CONFIG.role != "emp"


class EmpPartner(_OioiUser):
    """Against a CPO: the harness plays EMPs (session-start/stop, reservation-start/stop, rfid-post)."""

    abstract = CONFIG.role != "cpo"
