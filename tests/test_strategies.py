"""The Hypothesis generators agree with the validator, call by call."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from oioi import calls, definition, strategies, validate
from oioi._findings import pointer
from oioi._semantic import RULES, Rule
from oioi.strategies import _values, invalid_messages, messages

DIRECTIONS = ["request", "response"]


def errors(message: Any, call: str, direction: str, profile: str = "strict") -> list[str]:
    return [str(f) for f in validate(message, call=call, direction=direction, profile=profile) if f.severity == "error"]


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("call", calls())
@given(data=st.data())
def test_valid_draws_pass_strict(call: str, direction: str, data: st.DataObject) -> None:
    message = data.draw(messages(call, direction))
    assert errors(message, call, direction) == []


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("call", calls())
@given(data=st.data())
def test_lenient_draws_pass_lenient(call: str, direction: str, data: st.DataObject) -> None:
    message = data.draw(messages(call, direction, profile="lenient"))
    assert errors(message, call, direction, "lenient") == []


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("call", calls())
@given(data=st.data())
def test_invalid_draws_fail_on_their_stated_rule(call: str, direction: str, data: st.DataObject) -> None:
    broken = data.draw(invalid_messages(call, direction))
    note(f"breaks {broken.rule} at {broken.path}")
    findings = [f for f in validate(broken.message, call=call, direction=direction) if f.severity == "error"]
    assert (broken.rule, broken.path) in {(f.rule, f.path) for f in findings}
    assert {f.path for f in findings} == {broken.path}, "the draw broke more than the one place it names"


@pytest.mark.slow
@pytest.mark.parametrize(
    "call", ["station-post", "session-post", "session-start", "rfid-post", "connector-post-status"]
)
@settings(max_examples=300)
@given(data=st.data())
def test_core_calls_thoroughly(call: str, data: st.DataObject) -> None:
    message = data.draw(messages(call))
    assert errors(message, call, "request") == []
    broken = data.draw(invalid_messages(call))
    findings = validate(broken.message, call=call)
    assert (broken.rule, broken.path) in {(f.rule, f.path) for f in findings if f.severity == "error"}


def test_lenient_draws_do_take_erratum_forms() -> None:
    seen: set[str] = set()

    @settings(max_examples=60, derandomize=True, database=None)
    @given(messages("station-post", profile="lenient"))
    def collect(message: dict[str, Any]) -> None:
        seen.update(f.erratum for f in validate(message, profile="lenient") if f.erratum)

    collect()
    assert "station-post:partner-identifier-short" in seen


# --- what a real partner sends ------------------------------------------------------------------------

EVCO_ID = re.compile(definition("evco-id")["pattern"])
UID = re.compile(definition("rfid-uid")["pattern"])
COUNTRIES = set(definition("country")["enum"])
FORMATS = {"evco-id": EVCO_ID, "rfid": UID}


def _matches_its_type(kind: str, identifier: str) -> bool:
    return kind not in FORMATS or FORMATS[kind].match(identifier) is not None


@pytest.mark.parametrize("call", ["session-start", "session-stop"])
@given(data=st.data())
def test_remote_start_and_stop_name_an_evco_id(call: str, data: st.DataObject) -> None:
    user = data.draw(messages(call))[call]["user"]
    assert user["identifier-type"] == "evco-id" and EVCO_ID.match(user["identifier"]), user


@given(message=messages("reservation-stop"))
def test_reservation_stop_identifier_matches_its_type(message: dict[str, Any]) -> None:
    body = message["reservation-stop"]
    assert FORMATS[body["identifier-type"]].match(body["identifier"]), body


@given(message=messages("session-post"))
def test_a_cdr_names_its_customer_by_evco_id_or_uid_in_recent_times(message: dict[str, Any]) -> None:
    body = message["session-post"]
    user = body["user"]
    assert user["identifier-type"] in FORMATS and _matches_its_type(user["identifier-type"], user["identifier"])
    now = datetime.datetime.now(datetime.UTC)
    times = [datetime.datetime.fromisoformat(t) for key in ("session-interval", "charging-interval")
             for t in body.get(key, {}).values()]
    assert all(now - datetime.timedelta(days=16) < t <= now for t in times), times


@given(message=messages("reservation-start"))
def test_no_evco_id_twice_in_one_reservation(message: dict[str, Any]) -> None:
    evco_ids = [holder["evco-id"] for holder in message["reservation-start"]["identifier"]]
    assert len(evco_ids) == len(set(evco_ids))


@given(message=messages("station-post"))
def test_a_new_station_is_its_operators_and_not_deleted(message: dict[str, Any]) -> None:
    station = message["station-post"]["station"]
    assert station["deleted"] is False
    assert all(c["id"].startswith(station["cpo-id"] + "*E") for c in station["connectors"]), station
    assert station["address"]["country"] in COUNTRIES and station["cpo-id"][:2] in COUNTRIES


@given(data=st.data())
def test_times_and_dates_are_around_now(data: st.DataObject) -> None:
    moment = datetime.datetime.fromisoformat(data.draw(strategies.DOMAIN["date-time"]()))
    day = datetime.date.fromisoformat(data.draw(strategies.DOMAIN["date"]()))
    now = datetime.datetime.now(datetime.UTC)
    assert now - datetime.timedelta(days=15) < moment <= now
    assert now.date() - datetime.timedelta(days=15) < day <= now.date()


def test_generated_times_follow_the_clock_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_values, "clock", lambda: datetime.datetime(2030, 6, 1, 9, 30, tzinfo=datetime.UTC))
    assert strategies.today() == datetime.datetime(2030, 6, 1, tzinfo=datetime.UTC)


@given(data=st.data())
def test_generated_ids_use_countries_that_exist(data: st.DataObject) -> None:
    for name in ("evse-id", "evco-id", "cpo-id"):
        assert data.draw(strategies.DOMAIN[name]())[:2] in COUNTRIES


# --- the semantic rules: each fix-up mends what its breakage breaks ---------------------------------------


class _LowestPick:
    """A fix-up's choices without Hypothesis: always the lowest integer, one fixed UUID."""

    def integer(self, low: int, high: int) -> int:
        return low

    def uuid(self) -> str:
        return "6f1f4b43-3cf4-4a1c-9d0e-8a5e0c2b7d11"

    def today(self) -> datetime.datetime:
        return strategies.today()


@pytest.mark.parametrize("rule", [r for r in RULES if r.breakage is not None], ids=lambda r: r.id)
@given(data=st.data())
def test_a_rules_breakage_breaks_it_and_its_fixup_mends_it(rule: Rule, data: st.DataObject) -> None:
    message = data.draw(messages(rule.call, rule.direction))
    assert rule.breakage is not None
    path = pointer(rule.breakage(message))
    assert (rule.id, path) in {(f.rule, f.path) for f in validate(message, call=rule.call, direction=rule.direction)}
    rule.fixup(_LowestPick(), message)
    assert list(rule.check(message)) == []


@pytest.mark.parametrize("call", ["session-start", "connector-post-status", "session-post", "station-post",
                                  "rfid-post"])
def test_an_example_drawn_outside_a_test_is_valid_and_realistic(call: str) -> None:
    # oioi.strategies.example runs the engine itself (no .example(), which warns: warnings are errors here).
    drawn = [strategies.example(call) for _ in range(3)]
    for message in drawn:
        assert list(message) == [call]
        assert [str(f) for f in validate(message) if f.severity == "error"] == []
    assert len({repr(m) for m in drawn}) > 1  # drawn afresh, not the one simplest message every time
