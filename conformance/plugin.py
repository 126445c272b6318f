"""pytest plugin: ``pytest --oioi-url URL --oioi-role cpo|emp --pyargs conformance.suite``.

Registered through the ``pytest11`` entry point and inert unless ``--oioi-url`` (or
``OIOI_URL``) is given. Options have one prefix; a command-line option wins over its
``OIOI_*`` environment variable. It checks that the IUT is reachable before any test
runs, keeps each test's verdict per requirement, and writes the reports.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import _declaration as declaration
from conformance import _report
from conformance._catalogue import requirement as catalogue_entry
from conformance._exchange import Iut
from conformance._partner import Control, Partner
from conformance._preflight import doubts, preflight
from conformance._progress import PROGRESS, RECORDER
from conformance._report import check_of
from conformance._target import PROFILES, ROLES, Target, parse_rfids
from oioi.errors import ConfigError

TARGET = pytest.StashKey[Target]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("oioi", "OIOI conformance (oioi certify)")
    group.addoption("--oioi-declaration", help="the IUT's declaration (TOML; see oioi certify --write-declaration) "
                    "[OIOI_DECLARATION]")
    group.addoption("--oioi-url", help="the IUT's OIOI endpoint [OIOI_URL]")
    group.addoption("--oioi-role", choices=ROLES, help="the IUT's role [OIOI_ROLE]")
    group.addoption("--oioi-api-key", help="the API key the IUT accepts [OIOI_API_KEY]")
    group.addoption("--oioi-connector-id", action="append", default=[], help="an EVSE ID of the CPO IUT (repeat)")
    group.addoption("--oioi-partner-identifier", action="append", default=[],
                    help="partner identifier the harness sends (repeat for a second one)")
    group.addoption("--oioi-rfid", action="append", default=[], help="STATE=UID known to the EMP IUT (repeat)")
    group.addoption("--oioi-profile", choices=tuple(PROFILES), help="quick (CI) or full (certification)")
    group.addoption("--oioi-seed", type=int, help="seed of the generated requests (same seed, same requests)")
    group.addoption("--oioi-timeout", type=float, help="seconds to wait for each answer (default 10)")
    group.addoption("--oioi-report-dir", help="write report.json and report.html here")
    group.addoption("--oioi-requirement", action="append", default=[], help="run only this requirement (repeat)")
    group.addoption("--oioi-listen", help="HOST:PORT where the mock partner receives what the IUT sends [OIOI_LISTEN]")
    group.addoption("--oioi-partner-api-key", help="the key the IUT sends to the mock partner [OIOI_PARTNER_API_KEY]")
    group.addoption("--oioi-control-url", help="the IUT's test-control hook [OIOI_CONTROL_URL]")
    group.addoption("--oioi-wait", type=float, help="seconds to wait for the IUT's own messages (default 10)")
    group.addoption("--oioi-strict", action="store_true", default=None,
                    help="a failed SHOULD requirement fails the run too [OIOI_STRICT]")
    group.addoption("--oioi-partner-timeout", type=float,
                    help="seconds the IUT waits for its partner's answer before it gives up (declared)")
    group.addoption("--oioi-retry-window", type=float,
                    help="seconds within which the IUT retries a message after a 5xx (declared)")
    group.addoption("--oioi-delivery-window", type=float,
                    help="seconds within which the IUT sends a status or CDR after the event (declared)")
    group.addoption("--oioi-backoff-tolerance", type=float,
                    help="how much shorter than the one before a retry gap may be (jitter; default 0.5)")


def _option(config: pytest.Config, name: str) -> Any:
    value = config.getoption(f"oioi_{name}")
    return value if value not in (None, []) else os.environ.get(f"OIOI_{name.upper()}")


# Target fields set by single-valued options of the same name (``--oioi-control-url``: control_url).
_SINGLE = ("url", "role", "profile", "seed", "timeout", "listen", "control_url", "wait", "strict", "partner_timeout",
           "retry_window", "delivery_window", "backoff_tolerance")


def _target(config: pytest.Config) -> Target:
    """The declaration, overridden by ``OIOI_*``, overridden by the ``--oioi-*`` options."""
    flags: dict[str, Any] = {name: config.getoption(f"oioi_{name}") for name in _SINGLE}
    flags |= {"connectors": tuple(config.getoption("oioi_connector_id")),
              "partner_identifiers": tuple(config.getoption("oioi_partner_identifier")),
              "rfids": parse_rfids(config.getoption("oioi_rfid"), base={})}
    values = declaration.settings(_option(config, "declaration"), os.environ, flags)
    if not values.get("url") or not values.get("role"):
        raise ConfigError(f"No {'URL' if not values.get('url') else 'role'}: give --oioi-"
                          f"{'url' if not values.get('url') else 'role'} or set it in [iut] of the declaration.")
    return Target(**values, api_key=_option(config, "api_key") or "", only=tuple(config.getoption("oioi_requirement")),
                  partner_api_key=_option(config, "partner_api_key"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(*ids): the catalogue requirements a conformance check speaks for")
    config.addinivalue_line("markers", "role(name): a check that applies only when the IUT has this role")
    if not _option(config, "url") and not _option(config, "declaration"):
        return
    try:
        target = _target(config)
        unknown = [r for r in target.only if not _known(r)]
        if unknown:
            raise ConfigError(f"--requirement {unknown[0]!r} is not in the catalogue (conformance/requirements.json).")
    except (ConfigError, ValueError) as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[TARGET] = target
    config.stash[RECORDER] = _report.Recorder(target)
    config.stash[RECORDER].declaration = _declared(target, _option(config, "declaration"))


def _known(requirement_id: str) -> bool:
    try:
        catalogue_entry(requirement_id)
    except KeyError:
        return False
    return True


def pytest_report_header(config: pytest.Config) -> list[str]:
    if TARGET not in config.stash:
        return []
    t = config.stash[TARGET]
    return [f"OIOI IUT: {t.url} role={t.role.upper()} profile={t.profile} seed={t.seed} key={t.describe()['api_key']}"]


def _declared(target: Target, path: str | None) -> dict[str, Any]:
    """What was declared and used, for report.json (the keys masked)."""
    fields = {f.name: getattr(target, f.name) for f in dataclasses.fields(target)}
    return declaration.describe(fields, path, target.api_key, target.partner_api_key)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Fail fast (exit status 2) on a setup mistake; print and record each doubt about the given values first."""
    config = session.config
    if TARGET not in config.stash:
        return
    if why := preflight(config.stash[TARGET]):
        pytest.exit(why, returncode=2)
    stack = contextlib.ExitStack()  # SIGTERM interrupts the run until pytest is done with it
    stack.enter_context(sigterm_interrupts())
    config.add_cleanup(stack.close)
    target, warnings = doubts(config.stash[TARGET])
    config.stash[TARGET] = target
    if RECORDER in config.stash:
        config.stash[RECORDER].target = target
        config.stash[RECORDER].setup_warnings = warnings
    for warning in warnings:
        _say(config, f"SETUP WARNING: {warning}")


def _say(config: pytest.Config, line: str) -> None:
    """One line on the terminal: through certify's progress when it prints one, else pytest's."""
    if PROGRESS in config.stash:
        config.stash[PROGRESS].line(line)
    elif (reporter := config.pluginmanager.get_plugin("terminalreporter")) is not None:
        reporter.write_line(line, yellow=True, bold=True)


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While inside, SIGTERM (a pipeline or CI job stopping the run) raises KeyboardInterrupt, as Ctrl-C does:
    the reports are written and the verdict is incomplete. Only the main thread may set a signal handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _ids(item: pytest.Item) -> list[str]:
    return [r for mark in item.iter_markers("requirement") for r in mark.args]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if TARGET not in config.stash:
        return
    target = config.stash[TARGET]
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        ids = _ids(item)
        roles = [role for mark in item.iter_markers("role") for role in mark.args]
        applies = any(target.role in catalogue_entry(r)["roles"] and catalogue_entry(r).get("feature")
                      not in target.not_implemented for r in ids) and (not roles or target.role in roles)
        chosen = not target.only or set(ids) & set(target.only)
        (keep if applies and chosen else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    """The run's target (skips when the suite runs without ``--oioi-url``)."""
    if TARGET not in request.config.stash:
        pytest.skip("no IUT: give --oioi-url and --oioi-role")
    return request.config.stash[TARGET]


@pytest.fixture
def iut(target: Target) -> Iterator[Iut]:
    """A client of the IUT that records every exchange of the test."""
    client = Iut(target.url, target.api_key, timeout=target.timeout)
    yield client
    client.close()


@pytest.fixture(scope="session")
def partner(target: Target, request: pytest.FixtureRequest) -> Iterator[Partner]:
    """The mock partner of the opposite role, receiving what the IUT sends (needs ``--listen``)."""
    if not target.listen or not target.partner_api_key:
        pytest.skip("needs --listen and --partner-api-key: the IUT's own messages are received by the mock partner")
    directory = _option(request.config, "report_dir")
    db = Path(directory) / "partner-journal.sqlite3" if directory else None
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
        db.unlink(missing_ok=True)
    progress = request.config.stash.get(PROGRESS, None)
    mock = Partner("emp" if target.role == "cpo" else "cpo", target.listen, target.partner_api_key, iut_url=target.url,
                   iut_key=target.api_key, db=db, **({"waiting": progress.waiting} if progress else {})).start()
    if progress:
        progress.line(f"the mock partner receives at {mock.endpoint}; watch the conversation at {mock.url}/ui/")
    yield mock
    mock.stop()


@pytest.fixture(scope="session", autouse=True)
def _partner_from_the_start(request: pytest.FixtureRequest) -> None:
    """With ``--listen``, the mock partner runs from the first check on, so nothing the IUT sends is lost."""
    target = request.config.stash.get(TARGET, None)
    if target is not None and target.listen:
        request.getfixturevalue("partner")


@pytest.fixture(scope="session")
def control(target: Target) -> Control:
    """The IUT's test-control hook (a person in an interactive terminal, or nobody, without one)."""
    return Control(target.control_url)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if RECORDER in item.config.stash and (report.when == "call" or report.outcome != "passed"):
        error = call.excinfo.value if call.excinfo else None
        item.config.stash[RECORDER].record(item.nodeid, _ids(item), report, error)
    return report


def pytest_collection_finish(session: pytest.Session) -> None:
    """Note the checks selected per requirement: an interrupted run tells the requirements it did not reach."""
    if RECORDER in session.config.stash:
        planned: dict[str, set[str]] = {}
        for item in session.items:
            for rid in _ids(item):
                planned.setdefault(rid, set()).add(check_of(item.nodeid))
        session.config.stash[RECORDER].planned = planned


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the reports, also of a run that was interrupted (Ctrl-C, SIGTERM, ``pytest.exit``): it is incomplete."""
    config = session.config
    if RECORDER not in config.stash:
        return
    recorder = config.stash[RECORDER]
    recorder.finished = time.time()
    recorder.interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    directory = _option(config, "report_dir")
    if directory:
        _report.write(recorder.report(), Path(directory), config.stash[TARGET].api_key)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if RECORDER in config.stash:
        for line in _report.summary_lines(config.stash[RECORDER].report()):
            terminalreporter.write_line(line)
