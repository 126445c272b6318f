"""validate(): call detection, schema findings, semantic rules, errata and profiles."""

from __future__ import annotations

import copy
import subprocess
import sys
from typing import Any

import pytest

from oioi import Finding, calls, validate
from oioi._semantic import RULES
from oioi.errors import ConfigError


def rules(findings: list[Finding], severity: str = "error") -> list[tuple[str, str]]:
    return [(f.rule, f.path) for f in findings if f.severity == severity]


def test_valid_messages_have_no_findings(
    station_post_request: dict[str, Any], session_post_request: dict[str, Any]
) -> None:
    assert validate(station_post_request) == []
    assert validate(session_post_request) == []
    assert validate({"rfid-verify": {"rfid": "04523022AA4881"}}) == []


def test_request_with_no_call_key_is_rejected() -> None:
    assert rules(validate({})) == [("message/call-key", "")]


def test_request_with_two_calls_is_rejected(session_post_request: dict[str, Any]) -> None:
    message = {**session_post_request, "rfid-verify": {"rfid": "04523022AA4881"}}
    [finding] = validate(message)
    assert finding.rule == "message/call-key"
    assert "2 top-level keys" in finding.message


def test_unknown_call_is_named_with_a_suggestion() -> None:
    [finding] = validate({"sesion-start": {}})
    assert (finding.rule, finding.path) == ("message/unknown-call", "/sesion-start")
    assert "did you mean 'session-start'?" in finding.message


def test_non_object_message_is_rejected() -> None:
    assert rules(validate(["session-start"])) == [("message/not-an-object", "")]


def test_given_call_must_match_the_key(session_post_request: dict[str, Any]) -> None:
    assert rules(validate(session_post_request, call="station-post")) == [("message/call-key", "")]


def test_missing_field_points_at_the_field(station_post_request: dict[str, Any]) -> None:
    del station_post_request["station-post"]["station"]["address"]["city"]
    [finding] = validate(station_post_request)
    assert (finding.rule, finding.path) == ("schema/required", "/station-post/station/address/city")
    assert finding.message.splitlines() == [
        "Received: no field 'city'",
        "Expected: field 'city', which the spec's field description requires here",
    ]
    assert finding.spec == "calls/station_post.rst"


@pytest.mark.parametrize(
    ("path", "value", "rule"),
    [
        (("connectors", 0, "id"), "not an evse id", "schema/pattern"),
        (("connectors", 0, "speed"), "fast", "schema/type"),
        (("connectors", 1, "name"), "Type9", "schema/enum"),
        (("address", "country"), "Germany", "schema/enum"),
        (("latitude",), 91.0, "schema/maximum"),
    ],
)
def test_broken_station_field_is_named(
    station_post_request: dict[str, Any], path: tuple[Any, ...], value: Any, rule: str
) -> None:
    node = station_post_request["station-post"]["station"]
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    [finding] = validate(station_post_request)
    assert finding.rule == rule
    assert finding.path == "/station-post/station/" + "/".join(map(str, path))
    assert finding.message.startswith(f"Received: {value!r}\nExpected: ")


def test_unknown_field_is_a_warning_with_a_suggestion(station_post_request: dict[str, Any]) -> None:
    station_post_request["station-post"]["station"]["contact"]["websit"] = "https://example.com"
    [finding] = validate(station_post_request)
    assert (finding.severity, finding.rule) == ("warning", "schema/unknown-field")
    assert finding.path == "/station-post/station/contact/websit"
    assert "Did you mean 'website'?" in finding.message


def test_missing_field_names_its_likely_misspelling(station_post_request: dict[str, Any]) -> None:
    station = station_post_request["station-post"]["station"]
    station["adress"] = station.pop("address")
    missing, unknown = validate(station_post_request)
    assert (missing.severity, missing.rule, missing.path) == (
        "error",
        "schema/required",
        "/station-post/station/address",
    )
    hint = "Did you mean 'address'? The object has 'adress'; rename it to 'address'."
    assert missing.message.splitlines()[-1] == hint
    assert (unknown.severity, unknown.rule, unknown.path) == (
        "warning",
        "schema/unknown-field",
        "/station-post/station/adress",
    )


def test_misspelling_is_found_through_a_ref(station_post_request: dict[str, Any]) -> None:
    address = station_post_request["station-post"]["station"]["address"]
    address["streetnumber"] = address.pop("street-number")
    missing, _unknown = validate(station_post_request)
    assert missing.path == "/station-post/station/address/street-number"
    assert "Did you mean 'street-number'? The object has 'streetnumber'" in missing.message


def test_misspelt_field_follows_its_missing_field(station_post_request: dict[str, Any]) -> None:
    station = station_post_request["station-post"]["station"]
    station["contact"]["websit"] = "https://example.com"
    station["adress"] = station.pop("address")
    station["contact"]["phone"] = 12
    paths = [f.path for f in validate(station_post_request)]
    address = paths.index("/station-post/station/address")
    assert paths[address + 1] == "/station-post/station/adress"


def test_missing_field_without_a_lookalike_gets_no_hint(station_post_request: dict[str, Any]) -> None:
    station = station_post_request["station-post"]["station"]
    del station["address"]
    station["parking"] = "free"
    missing, unknown = validate(station_post_request)
    assert "Did you mean" not in missing.message
    assert unknown.path == "/station-post/station/parking"


def test_rfid_must_be_upper_case_hex_of_8_14_or_20() -> None:
    for uid in ("04523022aa4881", "4523022AA4881", "0452302"):
        assert rules(validate({"rfid-verify": {"rfid": uid}})) == [("schema/pattern", "/rfid-verify/rfid")]


def test_invalid_calendar_date_is_a_format_error(session_post_request: dict[str, Any]) -> None:
    session_post_request["session-post"]["session-interval"]["stop"] = "2026-02-30T17:00:00+01:00"
    assert rules(validate(session_post_request)) == [("schema/format", "/session-post/session-interval/stop")]


def test_date_time_without_offset_is_one_finding(session_post_request: dict[str, Any]) -> None:
    session_post_request["session-post"]["session-interval"]["stop"] = "2026-11-02T17:00:00"
    assert len(rules(validate(session_post_request))) == 1


def test_session_stop_before_start(session_post_request: dict[str, Any]) -> None:
    body = session_post_request["session-post"]
    body["session-interval"]["stop"] = "2026-11-02T10:00:00+01:00"
    del body["charging-interval"]
    assert rules(validate(session_post_request)) == [
        ("semantic/session-interval-ordered", "/session-post/session-interval/stop")
    ]


def test_session_order_compares_instants_across_offsets(session_post_request: dict[str, Any]) -> None:
    body = session_post_request["session-post"]
    del body["charging-interval"]
    body["session-interval"] = {"start": "2026-11-02T11:00:00+01:00", "stop": "2026-11-02T10:30:00+00:00"}
    assert validate(session_post_request) == []


def test_charging_outside_session(session_post_request: dict[str, Any]) -> None:
    session_post_request["session-post"]["charging-interval"]["start"] = "2026-11-02T10:00:00+01:00"
    assert rules(validate(session_post_request)) == [
        ("semantic/charging-inside-session", "/session-post/charging-interval/start")
    ]


def test_charging_stop_before_charging_start(session_post_request: dict[str, Any]) -> None:
    session_post_request["session-post"]["charging-interval"]["stop"] = "2026-11-02T11:01:00+01:00"
    assert rules(validate(session_post_request)) == [
        ("semantic/charging-interval-ordered", "/session-post/charging-interval/stop")
    ]


def test_negative_energy(session_post_request: dict[str, Any]) -> None:
    session_post_request["session-post"]["energy-consumed"] = -0.5
    assert ("semantic/energy-not-negative", "/session-post/energy-consumed") in rules(validate(session_post_request))


def test_duplicate_connector_ids(station_post_request: dict[str, Any]) -> None:
    connectors = station_post_request["station-post"]["station"]["connectors"]
    connectors[1]["id"] = connectors[0]["id"]
    assert rules(validate(station_post_request)) == [
        ("semantic/connector-ids-unique", "/station-post/station/connectors/1/id")
    ]


def test_stoppable_session_without_id_is_a_warning() -> None:
    response = {"session-start": {"is-stoppable": True}, "result": {"code": 0, "message": "Success."}}
    findings = validate(response, call="session-start", direction="response")
    assert rules(findings, "warning") == [("semantic/stoppable-session-has-id", "/session-start/session-id")]
    assert rules(findings) == []


def test_oioi_v3_response_is_recognised() -> None:
    findings = validate({"success": True}, call="rfid-verify", direction="response")
    v3 = [f for f in findings if f.rule == "message/oioi-v3"]
    assert len(v3) == 1
    assert "OIOI v3" in v3[0].message


def test_response_needs_a_result_object() -> None:
    assert ("schema/required", "/result") in rules(validate({}, call="station-post", direction="response"))


def test_an_error_answer_is_judged_by_request_rst_not_by_the_calls_payload() -> None:
    error_answer = {"result": {"code": 230, "message": "Bad request."}, "error": ["station-ids: too many"]}
    assert validate(error_answer, call="station-get-by-ids", direction="response", status=400) == []
    assert validate(error_answer, direction="response", status=401) == []  # no call needed
    as_success = validate(error_answer, call="station-get-by-ids", direction="response")
    assert {f.path for f in as_success if f.rule == "schema/required"} == {"/stations", "/companies"}
    (broken,) = validate({"result": {"code": "230", "message": "x"}}, direction="response", status=503)
    assert (broken.rule, broken.path, broken.spec) == ("schema/type", "/result/code", "request.rst")
    (missing,) = validate({"error": "x"}, direction="response", status=500)
    assert (missing.rule, missing.path) == ("schema/required", "/result")


def test_a_status_that_is_not_http_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        validate({"result": {"code": 0, "message": ""}}, direction="response", status=42)


def test_response_without_call_is_a_usage_error() -> None:
    """An answer with fields of its call cannot be judged without the call (a bare error envelope can: request.rst)."""
    with pytest.raises(ConfigError, match="pass it"):
        validate({"evco-id": "DE*8PS*123456*7", "result": {"code": 0, "message": "Success."}}, direction="response")


@pytest.mark.parametrize("kwargs", [{"profile": "loose"}, {"direction": "inbound"}, {"call": "session-begin"}])
def test_bad_arguments_are_config_errors(kwargs: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        validate({"session-start": {}}, **kwargs)


def test_lenient_turns_a_registered_erratum_into_a_warning(station_post_request: dict[str, Any]) -> None:
    station_post_request["station-post"]["partner-identifier"] = "1"
    strict = validate(copy.deepcopy(station_post_request), profile="strict")
    lenient = validate(station_post_request, profile="lenient")
    assert [(f.severity, f.erratum) for f in strict] == [("error", "station-post:partner-identifier-short")]
    assert [(f.severity, f.erratum) for f in lenient] == [("warning", "station-post:partner-identifier-short")]


def test_lenient_does_not_excuse_what_the_erratum_does_not_cover(station_post_request: dict[str, Any]) -> None:
    station_post_request["station-post"]["partner-identifier"] = ""
    [finding] = validate(station_post_request, profile="lenient")
    assert (finding.severity, finding.erratum) == ("error", None)


def test_semantic_rules_are_one_table_of_known_calls() -> None:
    """Each rule is one entry of RULES (check, fix-up, breakage) for a call and direction the schemas have."""
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    assert all(rule.call in calls() and rule.direction in ("request", "response") for rule in RULES)


def test_validating_imports_no_generator() -> None:
    """The rules table keeps the validator free of Hypothesis: `oioi validate` does not pay for its import."""
    code = "import sys, oioi; oioi.validate({'rfid-verify': {'rfid': '04523022AA4881'}}); print(sorted(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'hypothesis'" not in loaded


def test_rfc3339_lets_t_and_z_be_lower_case_and_the_semantic_rules_still_read_them() -> None:
    """RFC 3339 section 5.6: "T" and "Z" may be lower case (the spec's calls say "format RFC3339")."""
    answer = {"reservation-start": {"end": "2016-05-09t04:08:06z"}, "result": {"code": 0, "message": "Success."}}
    assert validate(answer, call="reservation-start", direction="response") == []
    cdr = {"session-post": {
        "session-id": "9d1c7c2e-5f5e-4c1e-9a43-2b2f0b1d7e11", "partner-identifier": "oioi-partner-0000000000000001",
        "user": {"identifier-type": "rfid", "identifier": "04523022AA4881"}, "connector-id": "DE*8PS*E000001*1",
        "session-interval": {"start": "2026-11-02t17:00:00z", "stop": "2026-11-02t11:00:00z"}}}
    assert [f.rule for f in validate(cdr)] == ["semantic/session-interval-ordered"]  # stop before start: still seen
    cdr["session-post"]["session-interval"]["start"] = "2026-11-02 10:00:00z"  # a space is no RFC 3339 "T"
    assert [f.rule for f in validate(cdr)] == ["schema/pattern"]
