"""The traffic of `oioi load` (oioi_load/_traffic.py) and its Locust users (oioi_load/locustfile.py).

The plans are driven here by a simulated clock and simulated answers (no Locust in this process:
importing it patches the sockets of the whole process); one short Locust child process runs the
locustfile against the reference EMP.
"""

from __future__ import annotations

import collections
import csv
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from examples.demo import start_reference
from oioi import validate
from oioi.errors import ConfigError
from oioi_load import (
    LOCUSTFILE,
    UNITS,
    Answer,
    Budget,
    LoadConfig,
    Plan,
    Request,
    judge,
    pacing,
    sampled,
    share,
    verdict,
)

ROOT = Path(__file__).resolve().parent.parent
URL = "http://127.0.0.1:9/api/v4/request"
CONNECTORS = ["DE*REF*E000001*1", "DE*REF*E000001*2", "DE*REF*E000002*1", "DE*REF*E000002*2", "DE*REF*E000003*1"]
OK = {"result": {"code": 0, "message": "Success"}}
# What a correct partner answers to each call (calls/*.rst, Response).
ANSWERS: dict[str, dict[str, Any]] = {
    "session-start": {**OK, "session-start": {"session-id": "S-1", "is-stoppable": True}},
    "reservation-start": {**OK, "reservation-start": {"end": "2030-01-01T10:00:00Z"}},
    "rfid-post": {**OK, "rfid": {"processed": 3}},
    "rfid-verify": {**OK, "rfid-verify": {"evco-id": "DE*8PS*123456*7"}},
    "session-post": {**OK, "reason": None},
}

Answering = Callable[[Request, random.Random], Answer]


def config(role: str, **settings: Any) -> LoadConfig:
    return LoadConfig.of({"role": role, "url": URL, **({"connectors": CONNECTORS} if role == "cpo" else {}),
                          **settings})


def correct(request: Request, rng: random.Random) -> Answer:
    return Answer(200, ANSWERS.get(request.call, OK))


def anything(request: Request, rng: random.Random) -> Answer:
    """Success, a refusal as 200 or 4xx, a 503 or no answer at all."""
    return rng.choice([correct(request, rng), Answer(200, {"result": {"code": 320, "message": "In use"}}),
                       Answer(400, {"result": {"code": 181, "message": "EVSE not found"}}), Answer(503), Answer(None)])


def simulate(load: LoadConfig, users: int, answering: Answering = correct, seconds: float = 30.0,
             budget: Budget | None = None) -> Iterator[tuple[int, Request, Answer]]:
    """Every user's requests in the order of a shared simulated clock, each answered after 10-60 ms."""
    rng = random.Random(load.seed)
    plans = [Plan(load, index, users, budget) for index in range(users)]
    busy_until = [0.0] * users
    now = 0.0
    while now < seconds:
        for index, plan in enumerate(plans):
            if busy_until[index] > now:
                continue
            request = plan.next(now)
            if request is None:
                continue
            answer = answering(request, rng)
            yield index, request, answer
            busy_until[index] = now + rng.uniform(0.01, 0.06)
            plan.answered(answer, busy_until[index])
        now += 0.01


# --- the requests ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["emp", "cpo"])
def test_every_request_is_valid_for_many_seeds(role: str) -> None:
    calls: collections.Counter[str] = collections.Counter()
    for seed in range(12):
        for _index, request, _answer in simulate(config(role, seed=seed), users=3, answering=anything, seconds=8):
            assert [f for f in validate(request.message) if f.severity == "error"] == [], request
            assert request.call == next(iter(request.message))
            calls[request.call] += 1
    assert set(calls) == {call for unit in UNITS[role].values() for call in unit}


@pytest.mark.parametrize("role", ["emp", "cpo"])
def test_the_same_seed_sends_the_same_requests(role: str) -> None:
    def run(seed: int) -> list[bytes]:
        return [request.body() for _i, request, _a in simulate(config(role, seed=seed), users=2, seconds=5)]

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_a_whitelist_is_hundreds_of_distinct_uids_and_changes_a_little() -> None:
    posts = [request.message["rfid-post"] for _i, request, _a in simulate(config("cpo"), users=1, seconds=10)
             if request.call == "rfid-post"]
    assert len(posts) >= 3
    assert {len(set(post["rfids"])) for post in posts} == {300}
    assert 0 < len(set(posts[0]["rfids"]) - set(posts[1]["rfids"])) <= 30


# --- sessions, reservations and statuses as the protocol allows ------------------------------------------


def test_cpo_units_never_hold_one_connector_twice() -> None:
    """No session-start or reservation-start on a connector whose last one was neither refused nor stopped."""
    for seed in range(8):
        held: dict[str, str] = {}  # connector -> the call that holds it
        reserved: dict[str, str] = {}  # the holder's EVCO ID -> its connector
        load = config("cpo", seed=seed, rates={"sessions": 6.0, "reservations": 3.0}, session_seconds=0.3)
        starts = 0
        for _index, request, answer in simulate(load, users=3, answering=anything, seconds=10):
            body = request.message[request.call]
            if request.call in ("session-start", "reservation-start"):
                assert body["connector-id"] not in held, (seed, request)
                starts += 1
                if not answer.refused:
                    held[body["connector-id"]] = request.call
                if not answer.refused and request.call == "reservation-start":
                    reserved[body["identifier"][0]["evco-id"]] = body["connector-id"]
            elif request.call == "session-stop":
                assert held.pop(body["connector-id"]) == "session-start"
            elif request.call == "reservation-stop":
                assert held.pop(reserved.pop(body["identifier"])) == "reservation-start"
        assert starts > 30


def test_cpo_connectors_are_dealt_out_to_the_users() -> None:
    load = config("cpo")
    shares = [share(load, index, 3) for index in range(3)]
    dealt = [c for s in shares for c in s.connectors]
    assert sorted(dealt) == sorted(CONNECTORS) and len(set(dealt)) == len(dealt)
    assert sum(s.rates["sessions"] for s in shares) == pytest.approx(load.rates["sessions"])
    lonely = [share(load, index, 8) for index in range(8)]
    assert [bool(s.connectors) for s in lonely] == [True] * 5 + [False] * 3
    assert sum(s.rates["sessions"] for s in lonely) == pytest.approx(load.rates["sessions"])
    assert sum(s.rates["whitelists"] for s in lonely) == pytest.approx(load.rates["whitelists"])


def _refusing_some_stations(request: Request, rng: random.Random) -> Answer:
    if request.call == "station-post" and request.message["station-post"]["station"]["id"].endswith(("1", "4")):
        return Answer(200, {"result": {"code": 105, "message": "Unknown partner"}})
    return anything(request, rng) if request.call != "station-post" else correct(request, rng)


def test_emp_statuses_only_for_connectors_this_cpo_posted() -> None:
    """cpo/poi.rst: dynamic data only for stations the same partner pushed (its station-post succeeded)."""
    posted: dict[str, str] = {}
    statuses = 0
    for _index, request, answer in simulate(config("emp", stations=9, seed=3), users=3,
                                            answering=_refusing_some_stations, seconds=10):
        body = request.message[request.call]
        if request.call == "station-post" and answer.succeeded:
            posted.update(dict.fromkeys((c["id"] for c in body["station"]["connectors"]), body["partner-identifier"]))
        if request.call in ("connector-post-status", "session-post"):
            assert posted.get(body["connector-id"]) == body["partner-identifier"], request
            statuses += request.call == "connector-post-status"
    assert statuses > 50
    assert len({p for p in posted.values()}) == 2  # several partner identifiers


def test_an_emp_session_is_verified_then_updated_then_final() -> None:
    by_session: dict[str, list[bool]] = collections.defaultdict(list)
    calls = [request for _i, request, _a in simulate(config("emp", cdr_updates=2), users=2, seconds=10)]
    for request in calls:
        if request.call == "session-post":
            body = request.message["session-post"]
            by_session[body["session-id"]].append("stop" in body["session-interval"])
    assert len(by_session) >= 5
    assert all(flags == [False, False, True] for flags in list(by_session.values())[:-2])


# --- pacing, the cap, sampling ----------------------------------------------------------------------------


def test_rates_make_the_pacing() -> None:
    load = config("emp", rates={"pushes": 0.5, "statuses": 20, "sessions": 2, "verifies": 3}, cdr_updates=2)
    assert pacing(load) == {"pushes": 0.5, "statuses": 20, "sessions": 12, "verifies": 3, "total": 35.5}
    assert pacing(config("cpo", rates={"sessions": 1, "reservations": 0.5, "whitelists": 0.1}))["total"] == 3.1


@pytest.mark.parametrize("users", [1, 4])
def test_the_rates_are_sent_whatever_the_users(users: int) -> None:
    """--users caps concurrency; the units started per second are the rates (the bootstrap pushes aside)."""
    load = config("emp", rates={"pushes": 1, "statuses": 10, "sessions": 1, "verifies": 2}, stations=4)
    assert pacing(load)["total"] == 18  # one user answered in 10-60 ms keeps up
    counts = collections.Counter(request.call for _i, request, _a in simulate(load, users, seconds=30))
    session_statuses = counts["session-post"]  # a session: Occupied, 2 CDRs, Available
    assert counts["connector-post-status"] - session_statuses == pytest.approx(300, abs=2 * users)
    assert counts["station-post"] == pytest.approx(30 + 4, abs=2 * users)  # the first push of the 4 stations
    assert counts["session-post"] == pytest.approx(2 * 30, abs=2 * users)
    assert counts["rfid-verify"] - counts["session-post"] / 2 == pytest.approx(60, abs=2 * users)


def test_a_capped_run_sends_at_most_the_cap_and_stops_every_session() -> None:
    budget = Budget(101)
    sent = [(r, a) for _i, r, a in simulate(config("cpo", rates={"sessions": 5, "reservations": 2}), 3,
                                            budget=budget, seconds=60)]
    calls = collections.Counter(request.call for request, _a in sent)
    assert 99 <= len(sent) <= 101
    assert calls["session-start"] == calls["session-stop"] and calls["reservation-start"] == calls["reservation-stop"]


def test_a_run_time_ends_every_unit_in_time() -> None:
    plan = Plan(config("cpo", run_time=5.0), 0, 1)
    sent, now = [], 0.0
    while now < 8:
        request = plan.next(now)
        if request is None:
            now += 0.01
            continue
        sent.append((now, request.call))
        plan.answered(correct(request, random.Random()), now + 0.02)
    assert plan.idle and plan.wait(now) is None
    assert max(moment for moment, _call in sent) < 5.0
    calls = collections.Counter(call for _moment, call in sent)
    assert calls["session-start"] == calls["session-stop"] > 2


def test_the_judged_fraction_is_exact_and_spread() -> None:
    assert [sampled(i, 0.25) for i in range(8)] == [False, False, False, True] * 2
    assert sum(sampled(i, 0.1) for i in range(1000)) == 100
    assert all(sampled(i, 1.0) for i in range(50)) and not any(sampled(i, 0.0) for i in range(50))


# --- judging an answer --------------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "answer"), [*sorted(ANSWERS.items()), ("connector-post-status", OK)])
def test_a_valid_answer_breaks_no_rule(call: str, answer: dict[str, Any]) -> None:
    assert judge(call, 200, json.dumps(answer).encode()) == []
    assert verdict(call, 200, json.dumps(answer).encode()) is None


def test_a_refusal_as_200_or_4xx_breaks_no_rule() -> None:
    refusal = json.dumps({"result": {"code": 181, "message": "EVSE not found"}}).encode()
    assert judge("session-start", 200, refusal) == []
    assert judge("session-start", 404, refusal) == []


@pytest.mark.parametrize(("call", "status", "body", "rule"), [
    ("session-start", 200, {"result": {"code": "0", "message": "ok"}}, "schema/type"),
    ("rfid-verify", 200, {"rfid-verify": {"evco-id": "DE*8PS*123456*7"}}, "schema/required"),
    ("session-start", 200, {"success": True}, "message/oioi-v3"),
    ("session-start", 400, {"error": "bad"}, "schema/required"),
    ("session-start", 400, {"result": {"code": 0, "message": "ok"}}, "session-start.answer"),
    ("session-stop", 302, {"result": {"code": 181, "message": "EVSE not found"}}, "session-stop.answer"),
])
def test_an_invalid_answer_names_the_rule(call: str, status: int, body: Any, rule: str) -> None:
    raw = json.dumps(body).encode()
    assert rule in judge(call, status, raw)
    assert verdict(call, status, raw) == f"nonconforming: {judge(call, status, raw)[0]}"
    assert verdict(call, status, raw, judged=False) is None


def test_a_body_that_is_not_json_breaks_the_validator_s_rules() -> None:
    assert judge("rfid-verify", 200, b"<html>ok</html>") == ["message/json"]
    assert judge("rfid-verify", 200, b"\xff\xfe") == ["message/utf-8"]


def test_a_5xx_or_no_answer_is_an_error_not_a_rule() -> None:
    assert judge("session-post", 503, b"Service Unavailable") == []
    assert verdict("session-post", 503, b"Service Unavailable") == "error: HTTP 503"
    assert verdict("session-post", None, None, error="ConnectionRefusedError") == \
        "error: no answer (ConnectionRefusedError)"


# --- the config the locustfile reads -------------------------------------------------------------------


@pytest.mark.parametrize(("data", "says"), [
    ({"role": "ocpp", "url": URL}, "role"),
    ({"role": "emp", "url": "ftp://x"}, "url"),
    ({"role": "emp", "url": URL, "api_key": "secret-key"}, "OIOI_API_KEY"),
    ({"role": "emp", "url": URL, "rpm": 3}, "unknown keys"),
    ({"role": "cpo", "url": URL}, "connectors"),
    ({"role": "emp", "url": URL, "rates": {"sessions": -1}}, "rates"),
    ({"role": "emp", "url": URL, "judge_fraction": 2}, "judge_fraction"),
    ({"role": "emp", "url": URL, "partner_identifiers": ["short"]}, "16 characters"),
])
def test_a_wrong_config_is_one_sentence(data: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says) as wrong:
        LoadConfig.of(data)
    assert "secret-key" not in str(wrong.value) and "\n" not in str(wrong.value)


def test_a_config_reads_from_json_with_defaults() -> None:
    load = LoadConfig.from_json(json.dumps({"role": "emp", "url": URL, "rates": {"statuses": 50}, "requests": None}))
    assert load.rates["statuses"] == 50 and load.rates["pushes"] == 1.0 and load.requests is None
    assert load.rfids["active"] == "04523022AA4881"  # testaccount.rst


# --- one Locust run -------------------------------------------------------------------------------------


@pytest.mark.xdist_group("load")
@pytest.mark.load
def test_locust_against_the_reference_emp_sends_the_mix_and_every_answer_conforms(tmp_path: Path) -> None:
    key = "load-traffic-test-key-0123456789"
    reference = start_reference("emp", "--api-key", key, "--db", str(tmp_path / "emp.sqlite"))
    try:
        load = {"role": "emp", "url": reference.url, "seed": 11, "requests": 400, "run_time": 6,
                "rates": {"pushes": 1, "statuses": 20, "sessions": 2, "verifies": 4}}
        env = {**os.environ, "OIOI_LOAD_CONFIG": json.dumps(load), "OIOI_API_KEY": key}
        run = subprocess.run([sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", "4",
                              "-r", "4", "-t", "8s", "--csv", str(tmp_path / "run"), "--only-summary"],
                             env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        reference.stop()
    with (tmp_path / "run_stats.csv").open(encoding="utf-8") as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    assert run.returncode == 0, run.stderr[-2000:]
    assert {name: int(row["Request Count"]) > 0 for name, row in rows.items()} == dict.fromkeys(
        ["station-post", "connector-post-status", "rfid-verify", "session-post", "Aggregated"], True)
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    assert 100 < int(rows["Aggregated"]["Request Count"]) <= 400
    printed = next(line.split() for line in run.stderr.splitlines() if line.split()[:1] == ["Aggregated"])
    assert printed[1] == rows["Aggregated"]["Request Count"]  # the CSV holds the final count, not an earlier one
    for text in (run.stdout, run.stderr, *(p.read_text() for p in tmp_path.glob("run_*.csv"))):
        assert key not in text


# --- the end of a run ------------------------------------------------------------------------------------


def _drive(plan: Plan, until: float) -> list[Request]:
    sent, now = [], 0.0
    while now < until:
        request = plan.next(now)
        if request is None:
            now += 0.01
            continue
        sent.append(request)
        plan.answered(correct(request, random.Random()), now + 0.02)
    return sent


def test_closing_stops_every_open_session_and_reservation_and_records_the_sessions() -> None:
    plan = Plan(config("cpo", rates={"sessions": 4, "reservations": 2}, session_seconds=5.0,
                       reservation_seconds=5.0), 0, 1)
    sent = _drive(plan, 2.0)
    plan.close(2.0)
    while (request := plan.next(float("inf"))) is not None:
        sent.append(request)
        plan.answered(correct(request, random.Random()), 2.1)
    calls = collections.Counter(request.call for request in sent)
    assert calls["session-start"] == calls["session-stop"] > 0
    assert calls["reservation-start"] == calls["reservation-stop"] > 0
    assert plan.idle and plan.wait(3.0) is None
    events = collections.Counter(record["event"] for record in plan.records)
    assert events["start"] == events["stop"] == calls["session-start"]
    assert {(r["status"], r["code"]) for r in plan.records if r["event"] == "stop"} == {(200, 0)}


def test_closing_sends_the_final_cdr_of_an_open_emp_session() -> None:
    load = config("emp", rates={"sessions": 2, "statuses": 1, "verifies": 0}, session_seconds=10.0, cdr_updates=3)
    plan = Plan(load, 0, 1)
    sent = _drive(plan, 2.0)
    plan.close(2.0)
    while (request := plan.next(float("inf"))) is not None:
        sent.append(request)
        plan.answered(correct(request, random.Random()), 2.1)
    finals = collections.Counter(r.message["session-post"]["session-id"] for r in sent if r.call == "session-post"
                                 and "stop" in r.message["session-post"]["session-interval"])
    verified = sum(r.call == "rfid-verify" for r in sent)
    assert verified > 1 and set(finals.values()) == {1} and len(finals) == verified
    last = sent[-1].message
    assert last["connector-post-status"]["status"] == "Available"
