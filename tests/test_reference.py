"""The reference implementations (examples/): correct answers, and every defect showing its bug.

In-process (Flask's test client, SQLite in memory): for each defect a probe, a few requests
whose last answer the correct implementation and the faulty variant answer differently, as
the defect's description says. Over HTTP (the real gunicorn server, one process per role with
``--variants``): the served answers, the variant URLs, the masked API key, the exit codes.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

from examples import reference_cpo, reference_emp
from examples._reference import EXTENSION, PATH, TRANSPORT_DEFECTS, Endpoint, _checks
from examples.demo import start_reference
from examples.reference_cpo import _calls as cpo_calls
from examples.reference_emp import _calls as emp_calls
from oioi import validate
from oioi.strategies import invalid_messages, messages

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "reference-test-key-5d1c9e07a3b4"
PARTNER = "partner-identifier-0000000001"
OTHER_PARTNER = "partner-identifier-0000000002"
CONNECTOR, CONNECTOR_2 = "DE*REF*E000001*1", "DE*REF*E000002*1"
UNKNOWN_CONNECTOR = "DE*REF*E999999*1"
EVCO, EVCO_2 = "DE*8PS*123456*7", "DE*8PS*156454730*2"
USER = {"identifier-type": "evco-id", "identifier": EVCO}
ACTIVE_UID, INACTIVE_UID, UNKNOWN_UID = "04523022AA4881", "0477BD22AA4880", "0477BD22AA4AAA"
NOW = datetime.datetime(2026, 12, 4, 18, 15, tzinfo=datetime.UTC)
Answer = tuple[int, str, Any]  # status, mimetype, JSON body (None when not JSON)


@dataclasses.dataclass(frozen=True)
class Req:
    """One request of a probe: a JSON body or raw bytes, with the usual headers unless told otherwise."""

    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] | None = None

    def data(self) -> bytes:
        return self.raw if self.raw is not None else json.dumps(self.body).encode()


def session_start(connector: str = CONNECTOR, evco: str = EVCO) -> Req:
    user = {"identifier-type": "evco-id", "identifier": evco}
    return Req({"session-start": {"user": user, "connector-id": connector, "payment-reference": "Café-Zürich"}})


def session_stop(connector: str = CONNECTOR) -> Req:
    return Req({"session-stop": {"user": USER, "connector-id": connector}})


def reservation_start(connector: str = CONNECTOR, *evco_ids: str) -> Req:
    holders = [{"evco-id": e} for e in evco_ids or (EVCO,)]
    return Req({"reservation-start": {"connector-id": connector, "identifier": holders}})


def reservation_stop(evco: str = EVCO) -> Req:
    return Req({"reservation-stop": {"identifier-type": "evco-id", "identifier": evco}})


def rfid_post(*uids: str) -> Req:
    return Req({"rfid-post": {"rfids": list(uids), "partner-identifier": PARTNER}})


def station_post(partner: str = PARTNER) -> Req:
    station = {
        "id": "REF-STATION-0001", "name": "Café am Markt", "latitude": 52.52, "longitude": 13.405,
        "address": {"street": "Marktstraße", "street-number": "1", "city": "Berlin", "zip": "10115", "country": "DE"},
        "contact": {"phone": "+49 30 1234567"}, "cpo-id": "DE*REF", "is-open-24": True,
        "connectors": [{"id": CONNECTOR, "name": "Type2", "speed": 22.0}], "deleted": False,
    }  # fmt: skip
    return Req({"station-post": {"station": station, "partner-identifier": partner}})


def connector_status(partner: str = PARTNER) -> Req:
    return Req(
        {"connector-post-status": {"connector-id": CONNECTOR, "status": "Occupied", "partner-identifier": partner}}
    )


def session_post() -> Req:
    return Req({"session-post": {
        "user": USER, "session-id": "ref-session-0001",
        "connector-id": CONNECTOR, "session-interval": {"start": "2026-12-04T11:00:00+00:00"},
        "partner-identifier": PARTNER,
    }})  # fmt: skip


def rfid_verify(uid: str = ACTIVE_UID) -> Req:
    return Req({"rfid-verify": {"rfid": uid}})


MALFORMED = Req(raw=b'{"session-start": {')
NO_KEY = {"Content-Type": "application/json"}
WRONG_KEY = {"Authorization": "key=not-the-key-0000", "Content-Type": "application/json"}
TEXT_PLAIN = {"Authorization": f"key={API_KEY}", "Content-Type": "text/plain"}

# --- probes: requests whose last answer shows the defect ------------------------------------------

# Per role: a valid request the correct implementation answers 200/0, with a non-ASCII string in it.
VALID = {"cpo": session_start(), "emp": station_post()}
IDEMPOTENT = {"cpo": rfid_post(ACTIVE_UID), "emp": station_post()}  # for the shared servers
EMPTY = {"cpo": Req({"session-start": {}}), "emp": Req({"rfid-verify": {}})}


@dataclasses.dataclass(frozen=True)
class Probe:
    """Requests, and what the correct implementation and the variant (a defect or a behaviour on) answer the last one.

    Each answer as (status, code); ``shows`` checks more of the variant's answer, when its status and code are
    those of a correct one.
    """

    steps: tuple[Req, ...]
    correct: tuple[int, Any]
    variant: tuple[int, Any]
    shows: Callable[[Answer], bool] | None = None


def mimetype(expected: str) -> Callable[[Answer], bool]:
    return lambda answer: answer[1] == expected


def payload(key: str, expected: Any) -> Callable[[Answer], bool]:
    return lambda answer: answer[2][key] == expected


def transport_probes(role: str) -> dict[str, Probe]:
    valid = VALID[role]
    latin1 = Req(raw=json.dumps(valid.body, ensure_ascii=False).encode("latin-1"))
    two_calls = Req({**valid.body, "station-get-surface": {}})
    no_key, wrong_key, text_plain = (dataclasses.replace(valid, headers=h) for h in (NO_KEY, WRONG_KEY, TEXT_PLAIN))
    return {
        "ignores-api-key": Probe((no_key,), (401, 210), (200, 0)),
        "accepts-any-api-key": Probe((wrong_key,), (401, 210), (200, 0)),
        "ignores-content-type": Probe((text_plain,), (400, 230), (200, 0)),
        "500-on-malformed-json": Probe((MALFORMED,), (400, 230), (500, None), mimetype("text/plain")),
        "decodes-latin1": Probe((latin1,), (400, 230), (200, 0)),
        "200-on-unknown-call": Probe((Req({"no-such-call": {}}),), (400, 230), (200, 0)),
        "first-of-two-calls": Probe((two_calls,), (400, 230), (200, 0)),
        "skips-validation": Probe((EMPTY[role],), (400, 230), (200, 181 if role == "cpo" else 191)),
        "plain-text-errors": Probe((no_key,), (401, 210), (401, None), mimetype("text/plain")),
        "breaks-after-malformed": Probe((MALFORMED, valid), (200, 0), (500, 100)),
        "html-content-type": Probe((valid,), (200, 0), (200, 0), mimetype("text/html")),
        "result-code-as-string": Probe((valid,), (200, 0), (200, "000")),
    }


# The second post drops INACTIVE_UID from the whitelist, so the third adds it again: processed 1.
WHITELIST_SHRINKS = (rfid_post(ACTIVE_UID, INACTIVE_UID), rfid_post(ACTIVE_UID), rfid_post(ACTIVE_UID, INACTIVE_UID))
CPO_PROBES = {
    "start-unknown-connector-succeeds": Probe((session_start(UNKNOWN_CONNECTOR),), (200, 181), (200, 0)),
    "refuses-remote-start": Probe((session_start(),), (200, 0), (200, 300)),
    "no-session-id": Probe((session_start(),), (200, 0), (200, 0), payload("session-start", {"is-stoppable": True})),
    "double-start": Probe((session_start(), session_start()), (200, 320), (200, 0)),
    "forgets-sessions": Probe((session_start(), session_stop()), (200, 0), (200, 182)),
    "stop-anything-succeeds": Probe((session_stop(UNKNOWN_CONNECTOR),), (200, 181), (200, 0)),
    "reserve-unknown-connector-succeeds": Probe((reservation_start(UNKNOWN_CONNECTOR),), (200, 181), (200, 0)),
    "reservation-end-in-past": Probe(
        (reservation_start(),), (200, 0), (200, 0), payload("reservation-start", {"end": "2026-12-04T18:00:00+00:00"})
    ),
    "forgets-reservations": Probe((reservation_start(), session_start(evco=EVCO_2)), (200, 323), (200, 0)),
    "reservation-first-holder-only": Probe(
        (reservation_start(CONNECTOR, EVCO, EVCO_2), session_start(evco=EVCO_2)), (200, 0), (200, 323)
    ),
    "two-reservations-per-evco": Probe((reservation_start(), reservation_start(CONNECTOR_2)), (200, 194), (200, 0)),
    "reservation-stop-first-identifier-only": Probe(
        (reservation_start(CONNECTOR, EVCO, EVCO_2), reservation_stop(EVCO_2)), (200, 0), (200, 189)
    ),
    "reservation-stop-unknown-succeeds": Probe((reservation_stop(),), (200, 189), (200, 0)),
    "processed-counts-all": Probe(
        (rfid_post(ACTIVE_UID), rfid_post(ACTIVE_UID)), (200, 0), (200, 0), payload("rfid", {"processed": 1})
    ),
    "rfid-post-appends": Probe(WHITELIST_SHRINKS, (200, 0), (200, 0), payload("rfid", {"processed": 0})),
}
EMP_PROBES = {
    "status-for-any-connector": Probe((connector_status(),), (200, 181), (200, 0)),
    "status-ignores-partner": Probe((station_post(), connector_status(OTHER_PARTNER)), (200, 181), (200, 0)),
    "forgets-stations": Probe((station_post(), connector_status()), (200, 0), (200, 181)),
    "refuses-cdr-update": Probe((session_post(), session_post()), (200, 0), (200, 100)),
    "rfid-verify-denies-all": Probe((rfid_verify(),), (200, 0), (200, 192)),
    "rfid-verify-allows-inactive": Probe(
        (rfid_verify(INACTIVE_UID),), (200, 192), (200, 0), payload("evco-id", "DE*8PS*000000*1")
    ),
    "rfid-verify-unknown-is-locked": Probe((rfid_verify(UNKNOWN_UID),), (200, 191), (200, 192)),
    "rfid-verify-unknown-succeeds": Probe(
        (rfid_verify(UNKNOWN_UID),), (200, 191), (200, 0), payload("evco-id", "DE*8PS*000000*1")
    ),
}
PROBES = {
    "cpo": {**transport_probes("cpo"), **CPO_PROBES},
    "emp": {**transport_probes("emp"), **EMP_PROBES},
}
CREATE: dict[str, Callable[..., Flask]] = {"cpo": reference_cpo.create_app, "emp": reference_emp.create_app}


def client(role: str, defects: tuple[str, ...] = ()) -> FlaskClient:
    """A fresh implementation in memory, its clock and ids fixed."""
    app = CREATE[role](db_path=":memory:", api_keys=[API_KEY], defects=defects)
    endpoint: Endpoint = app.extensions[EXTENSION]
    endpoint.now = lambda: NOW
    ids = itertools.count(1)
    endpoint.new_id = lambda: f"session-{next(ids)}"
    return app.test_client()


def send(app: FlaskClient, req: Req, check: bool) -> Answer:
    """Send ``req``; with ``check``, the answer must be a valid OIOI answer to it."""
    headers = req.headers or {"Authorization": f"key={API_KEY}", "Content-Type": "application/json"}
    response = app.post(PATH, data=req.data(), headers=headers)
    body = response.get_json(force=True, silent=True)
    if check:
        assert response.mimetype == "application/json"
        call = next(iter(req.body)) if response.status_code == 200 and isinstance(req.body, dict) else None
        assert validate(body, call=call, direction="response", status=response.status_code) == []
    return response.status_code, response.mimetype or "", body


def outcome(answer: Answer) -> tuple[int, Any]:
    status, _mimetype, body = answer
    return status, body["result"]["code"] if isinstance(body, dict) else None


def run_probe(role: str, defects: tuple[str, ...], probe: Probe) -> Answer:
    app = client(role, defects)
    answers = [send(app, req, check=not defects) for req in probe.steps]
    return answers[-1]


@pytest.mark.parametrize(("role", "defect"), [(r, f) for r in PROBES for f in PROBES[r]])
def test_defect_shows_its_bug(role: str, defect: str) -> None:
    probe = PROBES[role][defect]
    correct, defective = run_probe(role, (), probe), run_probe(role, (defect,), probe)
    assert outcome(correct) == probe.correct
    assert outcome(defective) == probe.variant
    assert defective != correct
    assert probe.shows is None or probe.shows(defective)


def test_the_defects_table_lists_every_defect() -> None:
    """examples/defects.json (what self-validation certifies) names exactly each reference's defects."""
    table = json.loads((Path(__file__).resolve().parent.parent / "examples" / "defects.json").read_text("utf-8"))
    assert set(table["cpo"]) == set(reference_cpo.DEFECTS)
    assert set(table["emp"]) == set(reference_emp.DEFECTS)


def test_every_defect_has_a_probe() -> None:
    """Every defect of what a reference *receives* has a probe (tests/test_reference_client.py: what it sends)."""
    from tests.test_reference_client import SCENARIOS

    assert set(PROBES["cpo"]) == set(reference_cpo.DEFECTS) - set(SCENARIOS["cpo"])
    assert set(PROBES["emp"]) == set(reference_emp.DEFECTS) - set(SCENARIOS["emp"])
    assert set(TRANSPORT_DEFECTS) <= set(reference_cpo.DEFECTS) & set(reference_emp.DEFECTS)


# --- correct behaviours (examples/variants.json): answers the spec allows, shown against the default ---------

VARIANTS = json.loads((ROOT / "examples" / "variants.json").read_text("utf-8"))
BERLIN = Req({"session-start": {"user": {"identifier-type": "evco-id", "identifier": "Berlin"},
                                "connector-id": CONNECTOR}})  # the identifier breaks its identifier-type


def cdr_of(user: dict[str, str]) -> Req:
    return Req({"session-post": {**session_post().body["session-post"], "user": user}})


def has_extra_fields(answer: Answer) -> bool:
    body = answer[2]
    return "served-at" in body and "trace-id" in body["result"]


# role -> behaviour -> (requests, default outcome, behaviour's outcome, what else shows it)
BEHAVIOUR_PROBES: dict[str, dict[str, Probe]] = {
    "cpo": {
        "strict-validation": Probe((BERLIN,), (200, 0), (400, 230)),
        "refusals-as-4xx": Probe((session_start(UNKNOWN_CONNECTOR),), (200, 181), (404, 181)),
        "general-codes": Probe((session_start(UNKNOWN_CONNECTOR),), (200, 181), (200, 100)),
        "extra-answer-fields": Probe((session_start(),), (200, 0), (200, 0), has_extra_fields),
    },
    "emp": {
        # the spec's own example UID: calls/rfid_post.rst, "All characters must be upper-case"
        "strict-validation": Probe((cdr_of({"identifier-type": "rfid", "identifier": "abcdefab"}),), (200, 0),
                                   (400, 230)),
        "refusals-as-4xx": Probe((rfid_verify(UNKNOWN_UID),), (200, 191), (404, 191)),
        "general-codes": Probe((rfid_verify(UNKNOWN_UID),), (200, 191), (200, 100)),
        "extra-answer-fields": Probe((rfid_verify(),), (200, 0), (200, 0), has_extra_fields),
    },
}


@pytest.mark.parametrize(("role", "behaviour"), [(r, b) for r in BEHAVIOUR_PROBES for b in BEHAVIOUR_PROBES[r]])
def test_behaviour_shows_itself(role: str, behaviour: str) -> None:
    probe = BEHAVIOUR_PROBES[role][behaviour]
    app = CREATE[role](db_path=":memory:", api_keys=[API_KEY], behaviours=[behaviour])
    assert outcome(run_probe(role, (), probe)) == probe.correct
    answer = [send(app.test_client(), req, check=False) for req in probe.steps][-1]
    assert outcome(answer) == probe.variant
    assert probe.shows is None or probe.shows(answer)


@pytest.mark.parametrize(
    ("evco_id", "valid"),
    [("DE*8PS*123456*7", True), ("DE-8PS-123456-X", True), ("DE8PS1234567", True), ("Berlin", False),
     ("ZZ*8PS*123456*7", False), ("DE*8PS*156454730*2", False), ("DE*8PS*123456*x", False)],
)
def test_strict_validation_reads_evco_ids_as_the_glossary_does(evco_id: str, valid: bool) -> None:
    app = CREATE["cpo"](db_path=":memory:", api_keys=[API_KEY], behaviours=["strict-validation"]).test_client()
    assert outcome(send(app, session_start(evco=evco_id), check=False)) == ((200, 0) if valid else (400, 230))


def test_slow_answers_take_50_ms() -> None:
    app = CREATE["emp"](db_path=":memory:", api_keys=[API_KEY], behaviours=["slow-answers"]).test_client()
    started = time.monotonic()
    send(app, rfid_verify(), check=True)
    assert time.monotonic() - started >= 0.05


def test_the_variants_table_lists_every_behaviour() -> None:
    """examples/variants.json (what self-validation certifies) names exactly each reference's behaviours."""
    assert set(VARIANTS["cpo"]) == set(reference_cpo.BEHAVIOURS)
    assert set(VARIANTS["emp"]) == set(reference_emp.BEHAVIOURS)
    assert not set(VARIANTS["cpo"]) & set(reference_cpo.DEFECTS)
    assert not set(VARIANTS["emp"]) & set(reference_emp.DEFECTS)


def test_every_behaviour_quotes_the_spec_that_allows_it() -> None:
    """Each quote of examples/variants.json is in its spec file (whitespace and table borders aside)."""
    from tests.fixtures.spec import spec_dir

    if not spec_dir().is_dir():
        pytest.skip(f"the spec is not at {spec_dir()} (set OIOI_SPEC_DIR)")
    flat = lambda text: " ".join(text.replace("|", " ").split())  # noqa: E731
    for role in ("cpo", "emp"):
        for name, entry in VARIANTS[role].items():
            assert entry["spec"], name
            for quote in entry["spec"]:
                assert flat(quote["quote"]) in flat((spec_dir() / quote["file"]).read_text("utf-8")), (name, quote)


def test_unknown_behaviour_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="honours-statuses"):
        reference_cpo.create_app(db_path=":memory:", api_keys=[API_KEY], behaviours=["honours-status"])


def test_reservation_expires_after_15_minutes() -> None:
    app = client("cpo")
    assert send(app, reservation_start(), check=True)[2]["reservation-start"] == {"end": "2026-12-04T18:30:00+00:00"}
    assert outcome(send(app, session_start(evco=EVCO_2), check=True)) == (200, 323)
    app.application.extensions[EXTENSION].now = lambda: NOW + datetime.timedelta(minutes=15)
    assert outcome(send(app, session_start(evco=EVCO_2), check=True)) == (200, 0)


def test_other_paths_and_methods_answer_json() -> None:
    app = client("emp")
    for response, status in ((app.get("/api/v4/request"), 405), (app.post("/api/v4/other"), 404)):
        assert (response.status_code, response.mimetype) == (status, "application/json")
        assert validate(response.get_json(), direction="response", status=status) == []


def test_unknown_defect_is_a_value_error() -> None:  # ConfigError, with a "did you mean"
    with pytest.raises(ValueError, match="double-start"):
        reference_cpo.create_app(db_path=":memory:", api_keys=[API_KEY], defects=["double-strat"])


# --- the references' own request checks (examples/_reference/_checks.py) --------------------------------------

def test_every_received_call_has_a_rule() -> None:
    assert set(_checks.REQUESTS) == set(cpo_calls.HANDLERS) | set(emp_calls.HANDLERS)


def lenient_refuses(message: dict[str, Any]) -> bool:
    """What the suite sends as invalid: what even the lenient profile refuses (conformance/suite/test_transport.py)."""
    return any(f.severity == "error" for f in validate(message, profile="lenient"))


@pytest.mark.parametrize("call", sorted(_checks.REQUESTS))
@settings(deadline=None)  # a draw's first regex compiles slowly on a busy machine; the checks themselves are quick
@given(data=st.data())
def test_checks_accept_what_the_suite_sends_as_valid(call: str, data: st.DataObject) -> None:
    message = data.draw(messages(call, profile=data.draw(st.sampled_from(["strict", "lenient"]), label="profile")))
    assert _checks.problems(call, message[call]) == []


@pytest.mark.parametrize("call", sorted(_checks.REQUESTS))
@settings(deadline=None)  # a draw's first regex compiles slowly on a busy machine; the checks themselves are quick
@given(data=st.data())
def test_checks_refuse_what_the_suite_sends_as_invalid(call: str, data: st.DataObject) -> None:
    broken = data.draw(invalid_messages(call))
    note(f"breaks {broken.rule} at {broken.path}")
    assume(lenient_refuses(broken.message))
    assert _checks.problems(call, broken.message[call]) != []


def holder(evco_id: str) -> dict[str, Any]:
    return {"connector-id": CONNECTOR, "identifier": [{"evco-id": evco_id}]}


def cdr(**changes: Any) -> dict[str, Any]:
    return {**session_post().body["session-post"], **changes}


def station(**changes: Any) -> dict[str, Any]:
    body = station_post().body["station-post"]
    return {**body, "station": {**body["station"], **changes}}


# (description, call, body, valid): the forms of the spec's own examples are accepted (the lenient stance).
CHECK_CASES = [
    ("an unknown field is accepted", "session-start", {**session_start().body["session-start"], "note": "Süd"}, True),
    ("the example's connector number is accepted", "session-stop", {"user": USER, "connector-id": "1356"}, True),
    ("a connector id of other letters is refused", "session-stop", {"user": USER, "connector-id": "Berlin"}, False),
    ("a user without an identifier is refused", "session-start",
     {"user": {"identifier-type": "evco-id"}, "connector-id": CONNECTOR}, False),
    ("a nine-character EVCO ID part is accepted", "reservation-start", holder("DE*8PS*156456730*9"), True),
    ("an EVCO ID without its check digit is refused", "reservation-start", holder("DE*8PS*123456"), False),
    ("a lower-case UID in a whitelist is accepted", "rfid-post", {"rfids": ["abcdefab"], "partner-identifier": PARTNER},
     True),
    ("a lower-case UID to verify is refused", "rfid-verify", {"rfid": "abcdefab"}, False),
    ("a UID of nine characters is refused", "rfid-verify", {"rfid": "0A1B2C3D4"}, False),
    ("a status the call does not list is refused", "connector-post-status",
     {"connector-id": CONNECTOR, "status": "Charging", "partner-identifier": PARTNER}, False),
    ("a partner identifier of 15 characters is refused", "connector-post-status",
     {"connector-id": CONNECTOR, "status": "Occupied", "partner-identifier": PARTNER[:15]}, False),
    ("the example's partner identifier '1' is accepted in a station-post", "station-post",
     {**station(), "partner-identifier": "1"}, True),
    ("a repeated connector id is refused", "station-post",
     station(connectors=[{"id": CONNECTOR, "name": "Type2", "speed": 22}] * 2), False),
    ("a latitude of true is refused", "station-post", station(latitude=True), False),
    ("a speed of 0 kW is refused", "station-post", station(connectors=[{"id": CONNECTOR, "name": "Type2", "speed": 0}]),
     False),
    ("a day that no calendar has is refused", "session-post",
     cdr(**{"session-interval": {"start": "2026-02-30T11:00:00+00:00"}}), False),
    ("a stop before the start is refused", "session-post",
     cdr(**{"session-interval": {"start": "2026-12-04T11:00:00+00:00", "stop": "2026-12-04T12:00:00+02:00"}}), False),
    ("charging before the session is refused", "session-post",
     cdr(**{"charging-interval": {"start": "2026-12-04T10:59:00Z"}}), False),
    ("negative energy is refused", "session-post", cdr(**{"energy-consumed": -1.5}), False),
    ("a cost in a currency of four letters is refused", "session-post",
     cdr(**{"calculated-cost": {"amount": 14.32, "currency": "EURO"}}), False),
]


@pytest.mark.parametrize(("call", "body", "valid"), [c[1:] for c in CHECK_CASES], ids=[c[0] for c in CHECK_CASES])
def test_checks_read_each_call_as_the_spec_does(call: str, body: dict[str, Any], valid: bool) -> None:
    found = _checks.problems(call, body)
    assert (found == []) is valid, found


# --- over HTTP: the served implementations -------------------------------------------------------


class Served:
    """``python -m examples.reference_<role>`` in a child process, started the one way (``examples.demo``)."""

    def __init__(self, role: str, workdir: Path, *args: str) -> None:
        self.child = start_reference(role, "--api-key", API_KEY, *args)
        self.base = self.child.base_url

    def post(self, body: Any, path: str = PATH, key: str | None = API_KEY) -> requests.Response:
        headers = {"Authorization": f"key={key}"} if key else {}
        return requests.post(self.base + path, json=body, headers=headers, timeout=5)

    def stop(self) -> int:
        """SIGTERM, as a service manager would; returns the exit code."""
        return self.child.stop(timeout=10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Served]]:
    """Both references, each with every faulty variant, for the whole module."""
    workdir = tmp_path_factory.mktemp("reference")
    servers = {role: Served(role, workdir, "--variants", str(workdir / f"{role}-variants")) for role in CREATE}
    yield servers
    for server in servers.values():
        server.stop()


def result_of(response: requests.Response) -> tuple[int, str, Any]:
    return response.status_code, response.headers["Content-Type"], response.json()["result"]["code"]


def test_served_cpo_starts_a_session(served: dict[str, Served]) -> None:
    response = served["cpo"].post(session_start(CONNECTOR_2).body)
    assert result_of(response) == (200, "application/json", 0)
    assert validate(response.json(), call="session-start", direction="response", status=200) == []
    assert response.json()["session-start"]["is-stoppable"] is True


def test_served_emp_verifies_an_active_uid(served: dict[str, Served]) -> None:
    response = served["emp"].post(rfid_verify().body)
    assert result_of(response) == (200, "application/json", 0)
    assert response.json()["evco-id"] == EVCO


@pytest.mark.parametrize("role", ["cpo", "emp"])
def test_served_refuses_a_request_without_key(role: str, served: dict[str, Served]) -> None:
    assert result_of(served[role].post(IDEMPOTENT[role].body, key=None)) == (401, "application/json", 210)


@pytest.mark.parametrize("role", ["cpo", "emp"])
def test_served_never_shows_the_api_key(role: str, served: dict[str, Served]) -> None:
    assert served[role].post(IDEMPOTENT[role].body).status_code == 200
    assert served[role].post(IDEMPOTENT[role].body, key="wrong-key-abcdefgh").status_code == 401
    stdout, stderr = served[role].child.stdout(), served[role].child.stderr()
    assert API_KEY not in stdout + stderr
    assert "*" * (len(API_KEY) - 4) + API_KEY[-4:] in stderr
    assert len(stdout.splitlines()) == 1


def test_served_cpo_variant_double_start(served: dict[str, Served]) -> None:
    variant = "/variant/double-start/api/v4/request"
    codes = [
        served["cpo"].post(session_start("DE*REF*E000002*2").body, path=path).json()["result"]["code"]
        for path in (PATH, PATH, variant, variant)
    ]
    assert codes == [0, 320, 0, 0]


def test_served_emp_variant_allows_inactive_uid(served: dict[str, Served]) -> None:
    assert result_of(served["emp"].post(rfid_verify(INACTIVE_UID).body))[2] == 192
    path = "/variant/rfid-verify-allows-inactive/api/v4/request"
    variant = served["emp"].post(rfid_verify(INACTIVE_UID).body, path=path)
    assert result_of(variant) == (200, "application/json", 0)
    assert "evco-id" in variant.json()


def test_served_behaviour_variant_closes_each_connection(served: dict[str, Served]) -> None:
    """connection-close under gunicorn: 'Connection: close' on the answer (keep-alive on the default)."""
    with requests.Session() as session:
        headers = {"Authorization": f"key={API_KEY}"}
        plain = session.post(served["emp"].base + PATH, json=rfid_verify().body, headers=headers, timeout=5)
        path = served["emp"].base + "/variant/connection-close" + PATH
        closing = session.post(path, json=rfid_verify().body, headers=headers, timeout=5)
    assert (plain.headers["Connection"], closing.headers["Connection"]) == ("keep-alive", "close")
    assert result_of(closing) == (200, "application/json", 0)


def test_served_unknown_variant_is_not_found(served: dict[str, Served]) -> None:
    response = served["emp"].post(rfid_verify().body, path="/variant/no-such-defect/api/v4/request")
    assert result_of(response) == (404, "application/json", 230)


def test_unknown_defect_exits_2_with_one_sentence() -> None:
    command = [sys.executable, "-m", "examples.reference_emp", "--api-key", API_KEY, "--defect", "no-such-defect"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "no-such-defect" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_behaviour_option_switches_it_on(tmp_path: Path) -> None:
    """``--behaviour NAME``: the served CPO refuses what strict-validation refuses; an unknown name exits 2."""
    server = Served("cpo", tmp_path, "--behaviour", "strict-validation")
    try:
        assert result_of(server.post(BERLIN.body)) == (400, "application/json", 230)
    finally:
        assert server.stop() == 0
    command = [sys.executable, "-m", "examples.reference_cpo", "--api-key", API_KEY, "--behaviour", "strict"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "strict-validation" in done.stderr and "Traceback" not in done.stderr


def test_state_survives_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "cpo.sqlite")
    first = Served("cpo", tmp_path, "--db", db)
    assert first.post(session_start().body).json()["result"]["code"] == 0
    assert first.stop() == 0
    second = Served("cpo", tmp_path, "--db", db)
    try:
        assert second.post(session_start().body).json()["result"]["code"] == 320
    finally:
        assert second.stop() == 0
