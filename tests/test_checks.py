"""The answer checks accept every answer the spec allows and fail only what no reading allows."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from conformance import checks
from conformance._exchange import Exchange
from conformance._failures import Nonconformance
from conformance._target import Target
from conformance.suite import _messages as m
from conformance.suite.test_answers import _ours


def answer(status: int | None, body: Any, content_type: str = "application/json") -> Exchange:
    """An exchange as the client records it, built by hand."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Exchange(url="http://iut.invalid/api/v4/request", request_headers={}, request_body=b"{}", status=status,
                    response_headers={"Content-Type": content_type}, response_body=raw if status else None)


def result(code: Any, message: str = "…") -> dict[str, Any]:
    return {"result": {"code": code, "message": message}}


@pytest.mark.parametrize("status", [200, 400, 404, 409, 422])
def test_a_refusal_as_200_or_4xx_with_its_code_is_accepted(status: int) -> None:
    exchange = answer(status, result(181, "EVSE not found"))
    checks.answer_conforms(exchange, "session-start")
    checks.refused(exchange, "session-start", "session-start.unknown-connector", codes=(181,))
    checks.result_code_allowed_for_call(exchange, "session-start")


@pytest.mark.parametrize(("status", "body"), [(500, result(181)), (503, result(300)), (400, result(0)),
                                              (200, result(999)), (200, result("181")), (200, {"error": "no"})])
def test_a_refusal_outside_200_and_4xx_or_without_an_oioi_code_fails_the_answer(status: int, body: Any) -> None:
    with pytest.raises(Nonconformance) as failure:
        checks.refused(answer(status, body), "session-start", "session-start.unknown-connector", codes=(181,))
    assert failure.value.requirement == "session-start.answer"


@pytest.mark.parametrize("body", [b"Bad Request", {"error": "EVSE not found"}, {"result": {"code": 181}},
                                  {"result": {"code": "181", "message": "EVSE not found"}}, result(404, "Not Found")])
@pytest.mark.parametrize("status", [400, 404])
def test_a_4xx_without_a_usable_result_fails_only_the_error_answer_should(status: int, body: Any) -> None:
    """request.rst names only "The property error" and "more information in JSON format" for a 4xx body."""
    exchange = answer(status, body)
    for judge in (lambda: checks.answer_conforms(exchange, "session-start"),
                  lambda: checks.refused(exchange, "session-start", "session-start.unknown-connector", codes=(181,)),
                  lambda: checks.answer_conforms(exchange, "reservation-stop", requirement="transport.recovers")):
        with pytest.raises(Nonconformance) as failure:
            judge()
        assert failure.value.requirement == "transport.error-answer-json"


def test_a_4xx_refusal_still_fails_a_success_check_whatever_its_body() -> None:
    with pytest.raises(Nonconformance) as failure:
        checks.succeeded(answer(404, {"error": "EVSE not found"}), "connector-post-status",
                         "connector-post-status.known")
    assert failure.value.requirement == "connector-post-status.known"


def test_a_4xx_that_claims_success_fails() -> None:
    with pytest.raises(Nonconformance, match="HTTP 200 for a success"):
        checks.answer_conforms(answer(400, result(0)), "session-start")


def test_the_4xx_reading_is_the_registered_erratum() -> None:
    assert checks.refusal_status_allowed(200) and checks.refusal_status_allowed(409)
    assert not checks.refusal_status_allowed(500) and not checks.refusal_status_allowed(302)
    with pytest.raises(Nonconformance, match="request:refusal-http-status"):
        checks.answer_conforms(answer(500, result(181)), "session-start")


@pytest.mark.parametrize(("call", "code"), [
    ("session-stop", 182),  # 18x family beside the listed 181 (session-stop.unknown-session expects it)
    ("session-stop", 180), ("session-stop", 100),  # more general codes of 181
    ("reservation-stop", 194), ("rfid-verify", 190),  # 19x family
    ("session-start", 11), ("session-start", 12), ("session-start", 320), ("session-start", 330),
    ("session-post", 181),  # a more specific code of the listed general 100
    ("connector-post-status", 100),
])
def test_codes_the_call_lists(call: str, code: int) -> None:
    assert checks.call_gives(call, code)


@pytest.mark.parametrize(("call", "code"), [
    ("session-start", 190), ("session-start", 191),  # a CPO that checks the EVCO ID first
    ("station-post", 100), ("station-post", 180), ("station-post", 183), ("rfid-post", 100), ("rfid-post", 180),
    ("session-stop", 300), ("session-stop", 310), ("session-stop", 312), ("connector-post-status", 300),
    ("session-post", 300), ("session-start", 230), ("rfid-post", 181),
])
def test_every_code_of_the_table_is_one_a_call_can_give(call: str, code: int) -> None:
    """The call files head their codes "Result codes", never "only"; request.rst: "A more general code must
    always be accepted in parallel to the more specific code".
    """
    assert checks.call_gives(call, code)
    checks.result_code_allowed_for_call(answer(200, result(code)), call)


@pytest.mark.parametrize(("call", "code"), [("session-stop", 999), ("session-start", 404), ("session-stop", "000"),
                                            ("rfid-verify", True), ("rfid-verify", None), ("rfid-post", 1.0)])
def test_codes_no_call_can_give(call: str, code: Any) -> None:
    assert not checks.call_gives(call, code)
    with pytest.raises(Nonconformance) as failure:
        checks.result_code_allowed_for_call(answer(200, {"result": {"code": code, "message": "…"}}), call)
    assert failure.value.requirement == f"{call}.answer"


@pytest.mark.parametrize(("call", "requirement", "codes", "code"), [
    ("session-start", "session-start.unknown-connector", (181,), 191),
    ("session-start", "session-start.occupied", (320,), 190),
    ("session-start", "reservation.blocks-others", (323, 320), 191),
    ("session-stop", "session-stop.unknown-session", (182,), 300),
    ("connector-post-status", "connector-post-status.unknown-connector", (181,), 183),
    ("session-start", "session-start.occupied", (320,), 230),
])
def test_any_refusal_of_the_table_passes_a_refusal_check(call: str, requirement: str, codes: tuple[int, ...],
                                                          code: int) -> None:
    for status in (200, 404):
        checks.refused(answer(status, result(code)), call, requirement, codes=codes)


def test_182_is_accepted_by_both_session_stop_checks() -> None:
    """Once a contradiction: session-stop.unknown-session expected 182, session-stop.answer refused it."""
    exchange = answer(200, result(182, "Session not found"))
    checks.refused(exchange, "session-stop", "session-stop.unknown-session", codes=(182,))
    checks.result_code_allowed_for_call(exchange, "session-stop")


@pytest.mark.parametrize("code", [0, 11, 12])
def test_a_success_where_a_refusal_is_due_fails_the_requirement(code: int) -> None:
    with pytest.raises(Nonconformance) as failure:
        checks.refused(answer(200, result(code)), "session-start", "session-start.occupied", codes=(320,))
    assert failure.value.requirement == "session-start.occupied"
    assert "Expected: a refusal: result code 320 (or a more general one: 300)" in str(failure.value)


def test_another_refusal_the_call_gives_passes_unless_a_specific_requirement_wants_the_code() -> None:
    locked = answer(200, result(192, "EVCO ID locked"))
    checks.refused(locked, "rfid-verify", "rfid-verify.unknown", codes=(191,))
    with pytest.raises(Nonconformance) as failure:
        checks.refused(locked, "rfid-verify", "rfid-verify.unknown", codes=(191,), specific="rfid-verify.unknown-code")
    assert failure.value.requirement == "rfid-verify.unknown-code"


def test_general_codes_pass_a_refusal_check() -> None:
    for code in (320, 300):
        checks.refused(answer(200, result(code)), "session-start", "session-start.occupied", codes=(320,))
    checks.refused(answer(200, result(100)), "session-stop", "session-stop.unknown-session", codes=(182,))


def test_a_code_outside_the_table_fails_the_answer_not_the_refusal_requirement() -> None:
    with pytest.raises(Nonconformance) as failure:
        checks.refused(answer(200, result(999)), "session-start", "session-start.occupied", codes=(320,))
    assert failure.value.requirement == "session-start.answer"


def test_the_exact_code_stays_for_the_specific_should() -> None:
    with pytest.raises(Nonconformance) as failure:
        checks.refused(answer(200, result(300)), "rfid-verify", "rfid-verify.unknown", codes=(191,),
                       specific="rfid-verify.unknown-code")
    assert failure.value.requirement == "rfid-verify.unknown-code"


@pytest.mark.parametrize("code", [0, 11, 12])
def test_011_and_012_are_successes(code: int) -> None:
    checks.succeeded(answer(200, result(code)), "session-start", "session-start.success")


@pytest.mark.parametrize("status", [200, 409])
def test_a_refusal_fails_a_success_check(status: int) -> None:
    with pytest.raises(Nonconformance) as failure:
        checks.succeeded(answer(status, result(300)), "session-start", "session-start.success")
    assert failure.value.requirement == "session-start.success"


def test_unknown_extra_fields_in_an_answer_are_fine() -> None:
    body = {"session-start": {"session-id": "s-1", "is-stoppable": True, "charge-point": "CP-7"},
            **result(0), "trace-id": "abc"}
    checks.succeeded(answer(200, body), "session-start", "session-start.success")


def test_a_spec_example_erratum_in_an_answer_is_no_failure() -> None:
    """session-post's answer example has no ``reason`` (erratum session-post:response-reason-required)."""
    checks.succeeded(answer(200, result(0, "Success.")), "session-post", "session-post.answer")


def test_times_are_compared_as_instants() -> None:
    assert checks.instant("2026-12-07T13:00:00Z") == checks.instant("2026-12-07T13:00:00+00:00")
    assert checks.instant("2026-12-07T14:00:00+01:00") == checks.instant("2026-12-07T13:00:00z")
    assert checks.instant("2026-12-07T13:00:00.250Z") is not None
    for text in ("2026-12-07T13:00:00", "2026-12-07", "2026-02-30T10:00:00Z", 1733576400, None):
        assert checks.instant(text) is None


def test_the_unknown_connector_is_a_real_country_and_the_iuts_operator() -> None:
    assert not m.UNKNOWN_CONNECTOR.startswith("ZZ")
    assert m.unknown_connector() == m.UNKNOWN_CONNECTOR
    assert m.unknown_connector(["NL*ABC*E0001*1"]) == "NL*ABC*EOIOIUNKNOWN1"
    assert m.unknown_connector(["NLABCE0001"]) == "NLABCEOIOIUNKNOWN1"
    assert m.unknown_connector(["NL*ABC*EOIOIUNKNOWN1"]) == m.UNKNOWN_CONNECTOR


def test_generated_session_ids_are_unique_per_session() -> None:
    target = Target(url="http://iut.invalid/api/v4/request", role="emp", api_key="key-0001", seed=5)
    counter = itertools.count()
    draws = [{"session-post": {"session-id": "Berlin", "partner-identifier": "x"}} for _ in range(5)]
    ids = [_ours(d, target, call="session-post", counter=counter)["session-post"]["session-id"] for d in draws]
    assert len(set(ids)) == 5


def test_the_harness_station_names_its_operator() -> None:
    station = m.station("s-1", ["DE*OIO*E1*1", "DE*OIO*E1*2"])
    assert station["deleted"] is False
    assert all(c["id"].startswith(station["cpo-id"] + "*E") for c in station["connectors"])


def _refusal(status: int, body: bytes) -> Exchange:
    return Exchange(url="http://127.0.0.1:1/api/v4/request", request_headers={}, request_body=b"{}", status=status,
                    response_headers={"Content-Type": "application/json"}, response_body=body)


def test_a_refusal_with_another_code_than_expected_passes() -> None:
    """No sentence ties one code to a refusal: a 401 with 140 refuses a missing key as well as 210 does."""
    checks.refused_as_client_error(_refusal(401, b'{"result": {"code": 140, "message": "no"}}'),
                                   "transport.api-key.missing", codes=(210,))


def test_a_4xx_that_claims_success_fails_the_refusal() -> None:
    with pytest.raises(Nonconformance) as failure:
        checks.refused_as_client_error(_refusal(400, b'{"result": {"code": 0, "message": "ok"}}'),
                                       "transport.api-key.missing", codes=(210,))
    assert failure.value.requirement == "transport.api-key.missing"


def test_a_4xx_without_a_result_fails_only_the_error_answer_requirement() -> None:
    with pytest.raises(Nonconformance) as failure:
        checks.refused_as_client_error(_refusal(401, b"Unauthorized"), "transport.api-key.missing", codes=(210,))
    assert failure.value.requirement == "transport.error-answer-json"


def test_a_200_is_no_refusal() -> None:
    with pytest.raises(Nonconformance) as failure:
        checks.refused_as_client_error(_refusal(200, b'{"result": {"code": 210, "message": "no"}}'),
                                       "transport.api-key.wrong")
    assert failure.value.requirement == "transport.api-key.wrong"


def test_a_call_of_the_other_role_is_refused_or_answered_as_its_receiver_would() -> None:
    """transport.unknown-call: one role refuses it with a 4xx; an implementation that plays both roles (a roaming
    platform, glossary.rst) answers it with 200 as the call's receiver, e.g. rfid-verify of an unknown UID: 191."""
    for passing in (answer(403, result(220)), answer(200, result(191, "EVCO ID not found"))):
        checks.other_roles_call_answered(passing, "rfid-verify", "transport.unknown-call")
    for failing in (answer(500, result(100)), answer(200, {"verified": True}), answer(404, result(0)),
                    answer(None, None)):
        with pytest.raises(Nonconformance) as failure:
            checks.other_roles_call_answered(failing, "rfid-verify", "transport.unknown-call")
        assert failure.value.requirement == "transport.unknown-call"
