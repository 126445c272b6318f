"""Self-validation: the correct reference implementations pass, every faulty variant is caught.

Each reference runs once in gunicorn with ``--variants``: the correct implementation at
``/api/v4/request``, each defect F at ``/variant/F/api/v4/request`` and each correct
behaviour B at ``/variant/B/api/v4/request``. ``oioi certify`` runs as a user runs it (a
subprocess). For a defect, restricted to the requirements that must catch it, report.json
must say ``fail`` for each of them (examples/defects.json); for a correct behaviour, in one
full run, no requirement may fail at any level, and a CPO must be left as it was found
(examples/variants.json).
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import conformance.suite
from conformance._catalogue import requirement, requirements
from examples import declared_figures
from examples.demo import start_reference
from oioi.serving import free_port

ROOT = Path(__file__).resolve().parent.parent
DEFECTS: dict[str, dict[str, Any]] = json.loads((ROOT / "examples" / "defects.json").read_text(encoding="utf-8"))
VARIANTS: dict[str, Any] = json.loads((ROOT / "examples" / "variants.json").read_text(encoding="utf-8"))
API_KEY = "self-validation-key-0123456789"


PARTNER_KEY = "self-validation-partner-key-9876"
LISTEN = {role: f"127.0.0.1:{free_port()}" for role in ("cpo", "emp")}  # where each run's mock partner listens


STATE_DIRS: dict[str, Path] = {}  # where each role's reference keeps its variants' SQLite files (DIR/<name>.sqlite)


def _start(role: str, directory: Path) -> Iterator[str]:
    reference = start_reference(role, "--api-key", API_KEY, "--variants", str(directory), "--db",
                                str(directory / "correct.sqlite"), "--partner-url",
                                f"http://{LISTEN[role]}/api/v4/request", "--partner-api-key", PARTNER_KEY)
    yield reference.base_url
    reference.stop()


@pytest.fixture(scope="module")
def reference_cpo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    STATE_DIRS["cpo"] = tmp_path_factory.mktemp("reference-cpo")
    yield from _start("cpo", STATE_DIRS["cpo"])


@pytest.fixture(scope="module")
def reference_emp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    STATE_DIRS["emp"] = tmp_path_factory.mktemp("reference-emp")
    yield from _start("emp", STATE_DIRS["emp"])


def declared(role: str, name: str | None) -> list[str]:
    """The figures a variant declares (examples/variants.json), as ``oioi certify`` flags."""
    return [f"--{figure}={value:g}" for figure, value in declared_figures(role, name).items()]


def initial_state_left(db_file: Path) -> dict[str, Any]:
    """What a certification must have undone in a reference CPO's state: running sessions, active
    reservations, connectors that are not Available, the harness's whitelist (rfid-post).

    Every connector starts Available with no session, no reservation and an empty whitelist, so
    all four must be empty again. An rfid-post can be undone in OIOI: an rfid-post with an empty
    list makes the earlier UIDs invalid ("All RFIDs that were pushed before with the same
    partner-identifier and are not part of a request must be made invalid", calls/rfid_post.rst).
    """
    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as db:
        return {
            "running sessions": db.execute("SELECT session_id, connector_id FROM sessions WHERE running = 1"
                                           ).fetchall(),
            "active reservations": db.execute("SELECT id, connector_id FROM reservations WHERE state = 'active' "
                                              "AND ends > ?", (time.time(),)).fetchall(),
            "connectors not Available": db.execute("SELECT evse_id, status FROM connectors "
                                                   "WHERE status != 'Available'").fetchall(),
            "whitelist": db.execute("SELECT partner, uid FROM whitelist").fetchall(),
        }


def certify(role: str, url: str, report_dir: Path, *options: str) -> tuple[int, dict[str, Any], str]:
    """Run ``oioi certify`` as a user does; exit status, report.json and output."""
    from examples.reference_cpo import DEFAULT_CONNECTORS

    control = url.removesuffix("/api/v4/request") + "/control"
    command = [sys.executable, "-m", "oioi_cli", "certify", role, "--url", url, "--seed", "7",
               "--report-dir", str(report_dir), "--listen", LISTEN[role], "--control-url", control, "--wait", "3",
               *options]
    if role == "cpo":
        command += [f"--connector-id={c}" for c in DEFAULT_CONNECTORS]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "OIOI_API_KEY": API_KEY, "OIOI_PARTNER_API_KEY": PARTNER_KEY})
    report_file = report_dir / "report.json"
    report = json.loads(report_file.read_text(encoding="utf-8")) if report_file.exists() else {}
    return done.returncode, report, done.stdout + done.stderr


def _verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {row["id"]: row["verdict"] for row in report["requirements"]}


# The checks of what the IUT sends: the suite's test_sent_* modules.
SENDING_MODULES = [f"conformance.suite.{info.name}" for info in pkgutil.iter_modules(conformance.suite.__path__)
                   if info.name.startswith("test_sent")]
SENDING_CHECKS = {name for module in SENDING_MODULES for name in dir(importlib.import_module(module))
                  if name.startswith("test_")}
TIMED = {"sender.retry-5xx", "sender.retry-backoff", "sender.retry-bounded", "sender.retry-timeout"}
CORRECT = [pytest.param(role, name, id=f"{role}-{name}") for role in ("cpo", "emp") for name in VARIANTS[role]]


# First in the file: the longest runs, so pytest-xdist (--dist load) starts them first and the short
# defect runs fill the workers around them.
@pytest.mark.parametrize(("role", "name"), CORRECT)
def test_correct_variant_passes(request: pytest.FixtureRequest, tmp_path: Path, role: str, name: str) -> None:
    """One full certification of a correct variant (both directions, with the hook): no requirement fails at
    any level (--strict), no harness error, exit 0; a CPO is left as it was found.
    """
    base = request.getfixturevalue(f"reference_{role}")
    status, report, output = certify(role, f"{base}/variant/{name}/api/v4/request", tmp_path, "--profile=quick",
                                     "--strict", *declared(role, name))
    failed = {row["id"]: row["failures"][0]["received"][:200] for row in report.get("requirements", [])
              if row["verdict"] == "fail"}
    assert failed == {}, output[-3000:]
    assert report["errors"] == [], output[-3000:]
    assert status == 0, output[-3000:]
    if role == "cpo":  # an EMP's state (stations, statuses, CDRs it received) has no OIOI call to undo it
        left = initial_state_left(STATE_DIRS[role] / f"{name}.sqlite")
        assert left == {what: [] for what in left}, left
CASES = [pytest.param(role, defect, entry["caught-by"], id=f"{role}-{defect}")
         for role in ("cpo", "emp") for defect, entry in DEFECTS[role].items()]


@pytest.mark.parametrize(("role", "defect", "caught_by"), CASES)
def test_each_defect_is_caught_by_its_requirement(
    request: pytest.FixtureRequest, tmp_path: Path, role: str, defect: str, caught_by: list[str]
) -> None:
    base = request.getfixturevalue(f"reference_{role}")
    url = f"{base}/variant/{defect}/api/v4/request"
    options = [f"--requirement={r}" for r in caught_by]
    status, report, output = certify(role, url, tmp_path, *options, *declared(role, None))
    verdicts = _verdicts(report)
    assert report["errors"] == [], output[-3000:]
    assert {r: verdicts.get(r) for r in caught_by} == dict.fromkeys(caught_by, "fail"), output[-3000:]
    must = any(requirement(r)["level"] == "MUST" for r in caught_by)
    assert status == (1 if must else 0), output[-3000:]
    rows = {row["id"]: row for row in report["requirements"]}
    for rid in caught_by:  # a failure about what the IUT sent shows the message(s) that broke it
        failure = rows[rid]["failures"][0]
        if failure["check"] in SENDING_CHECKS and not failure["received"].startswith("no "):
            assert failure["request"] or failure.get("journal"), failure


@pytest.mark.parametrize("role", ["cpo", "emp"])
def test_correct_reference_passes_every_applicable_requirement(
    request: pytest.FixtureRequest, tmp_path: Path, role: str
) -> None:
    base = request.getfixturevalue(f"reference_{role}")
    status, report, output = certify(role, f"{base}/api/v4/request", tmp_path, *declared(role, None))
    assert status == 0, output[-3000:]
    assert report["errors"] == []
    tested = [r for r in requirements() if role in r["roles"] and "test" in r]
    verdicts = {r["id"]: _verdicts(report)[r["id"]] for r in tested}
    for rid in TIMED & set(verdicts):  # may be inconclusive: the outbox delivers in order, a retry may wait its turn
        verdicts[rid] = verdicts[rid].replace("inconclusive", "pass")
    assert verdicts == {r["id"]: "pass" for r in tested}
    assert report["verdict"] == "pass"
    for path in tmp_path.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            assert API_KEY not in text and PARTNER_KEY not in text, path
    if role == "cpo":
        left = initial_state_left(STATE_DIRS[role] / "correct.sqlite")
        assert left == {what: [] for what in left}, left


SHOULD_ONLY = [pytest.param(role, defect, entry["caught-by"], id=f"{role}-{defect}")
               for role, defect in (("cpo", "ignores-content-type"), ("emp", "status-ignores-partner"))
               for entry in [DEFECTS[role][defect]]]


@pytest.mark.parametrize(("role", "defect", "caught_by"), SHOULD_ONLY)
def test_strict_makes_a_failed_should_fail_the_run(
    request: pytest.FixtureRequest, tmp_path: Path, role: str, defect: str, caught_by: list[str]
) -> None:
    """A defect caught only by SHOULDs: the run passes (exit 0, verdict pass) and --strict makes it fail (exit 1)."""
    assert {requirement(r)["level"] for r in caught_by} == {"SHOULD"}
    base = request.getfixturevalue(f"reference_{role}")
    url = f"{base}/variant/{defect}/api/v4/request"
    options = [f"--requirement={r}" for r in caught_by] + declared(role, None)
    for strict, status_expected, verdict in ((False, 0, "pass"), (True, 1, "fail")):
        report_dir = tmp_path / ("strict" if strict else "default")
        status, report, output = certify(role, url, report_dir, *options, *(["--strict"] if strict else []))
        assert (status, report["verdict"], report["strict"]) == (status_expected, verdict, strict), output[-3000:]
        assert {r: _verdicts(report)[r] for r in caught_by} == dict.fromkeys(caught_by, "fail")


def test_every_tested_requirement_is_proven_by_a_defect() -> None:
    proven = {r for role in ("cpo", "emp") for entry in DEFECTS[role].values() for r in entry["caught-by"]}
    tested = {r["id"] for r in requirements() if "test" in r}
    assert sorted(tested - proven) == []
    assert sorted(proven - tested) == []


def test_defects_table_in_the_readme_lists_every_defect() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for role in ("cpo", "emp"):
        for defect, entry in DEFECTS[role].items():
            for rid in entry["caught-by"]:
                assert f"`{defect}`" in readme and f"`{rid}`" in readme, (defect, rid)


@pytest.mark.parametrize(
    ("role", "defect"),
    [("cpo", "double-start"), ("cpo", "forgets-reservations"), ("emp", "status-ignores-partner"),
     ("emp", "refuses-cdr-update")],
)
def test_state_machines_catch_defects_on_their_own(
    request: pytest.FixtureRequest, tmp_path: Path, role: str, defect: str
) -> None:
    """The hypothesis.stateful checks alone (pytest plugin, ``-k behaves``) fail on a requirement of the defect."""
    from examples.reference_cpo import DEFAULT_CONNECTORS

    base = request.getfixturevalue(f"reference_{role}")
    command = [sys.executable, "-m", "pytest", "--pyargs", "conformance.suite", "-p", "no:cacheprovider",
               "-k", "behaves_like_the_model", "--oioi-url", f"{base}/variant/{defect}/api/v4/request",
               "--oioi-role", role, "--oioi-seed", "8", "--oioi-report-dir", str(tmp_path)]  # seed 8: no other test's
    command += [f"--oioi-connector-id={c}" for c in DEFAULT_CONNECTORS] if role == "cpo" else []
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "OIOI_API_KEY": API_KEY})
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["errors"] == [], done.stdout[-3000:]
    failed = {row["id"]: row["failures"][0]["check"] for row in report["requirements"] if row["verdict"] == "fail"}
    assert failed and set(failed) <= set(DEFECTS[role][defect]["caught-by"]), done.stdout[-3000:]
    assert set(failed.values()) == {f"test_{role}_behaves_like_the_model"}


def test_without_a_hook_or_a_person_the_sending_checks_are_not_run(tmp_path: Path) -> None:
    """No --control-url and no terminal: what the IUT was never asked to send is not-run, with the reason.

    Its own reference CPO: the shared one's state belongs to the run that asserts it is undone.
    """
    from examples.reference_cpo import DEFAULT_CONNECTORS

    (tmp_path / "reference").mkdir()
    server = _start("cpo", tmp_path / "reference")
    reference_cpo = next(server)
    command = [sys.executable, "-m", "oioi_cli", "certify", "cpo", "--url", f"{reference_cpo}/api/v4/request",
               "--seed", "9", "--report-dir", str(tmp_path), "--listen", LISTEN["cpo"], "--wait", "1",
               *[f"--connector-id={c}" for c in DEFAULT_CONNECTORS]]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT,
                              stdin=subprocess.DEVNULL,
                              env={**os.environ, "OIOI_API_KEY": API_KEY, "OIOI_PARTNER_API_KEY": PARTNER_KEY})
    finally:
        next(server, None)  # stops it
    assert done.returncode == 0, done.stdout[-3000:]
    rows = {row["id"]: row for row in json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))[
        "requirements"]}
    for rid in ("station-post.connector-id-unique", "connector-post-status.on-change", "rfid-verify.on-every-use",
                "session-post.after-session", "station-post.all-stations", "station-post.one-station-per-request",
                "session-post.update-same-session", "session-post.session-id-unique", "sender.retry-bounded"):
        assert rows[rid]["verdict"] == "not-run", rid
        assert "no --control-url and nobody to ask" in rows[rid]["reason"], rows[rid]["reason"]
