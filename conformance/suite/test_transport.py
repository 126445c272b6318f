"""request.rst: how every OIOI request is sent and answered, for both roles.

Each bad request must be refused with a 4xx and a JSON ``result`` — never a 200 success,
never a 5xx, never silence — and the IUT must answer the next valid request correctly.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given, note, seed

from conformance import checks
from conformance._catalogue import calls, receiver
from conformance._exchange import Iut
from conformance._target import Target
from conformance.suite._messages import probe
from oioi import validate
from oioi.strategies import Broken, invalid_messages

RECEIVED = {role: [c for c in calls() if receiver(c) == role] for role in ("cpo", "emp")}  # in catalogue order


def _still_answers(target: Target, iut: Iut) -> None:
    """transport.recovers: after the refusal, a valid request is answered as the spec says."""
    call, message = probe(target.role)
    checks.answer_conforms(iut.send(message), call, requirement="transport.recovers")


def _body(target: Target) -> bytes:
    return json.dumps(probe(target.role)[1]).encode()


@pytest.mark.requirement("transport.api-key.missing", "transport.error-answer-json", "transport.recovers")
def test_missing_api_key_is_refused(target: Target, iut: Iut) -> None:
    exchange = iut.post(_body(target), {"Content-Type": "application/json"})
    checks.refused_as_client_error(exchange, "transport.api-key.missing", codes=(210,))
    _still_answers(target, iut)


@pytest.mark.requirement("transport.api-key.wrong", "transport.error-answer-json", "transport.recovers")
def test_unknown_api_key_is_refused(target: Target, iut: Iut) -> None:
    wrong = next(k for k in ("oioi-harness-wrong-key-0000", "oioi-harness-wrong-key-1111") if k != target.api_key)
    exchange = iut.post(_body(target), {"Content-Type": "application/json", "Authorization": f"key={wrong}"})
    checks.refused_as_client_error(exchange, "transport.api-key.wrong", codes=(210,))
    _still_answers(target, iut)


@pytest.mark.requirement("transport.content-type", "transport.error-answer-json", "transport.recovers")
def test_wrong_content_type_is_refused(target: Target, iut: Iut) -> None:
    exchange = iut.post(_body(target), {"Content-Type": "text/plain", "Authorization": f"key={target.api_key}"})
    checks.refused_as_client_error(exchange, "transport.content-type")
    _still_answers(target, iut)


@pytest.mark.requirement("transport.malformed-json", "transport.error-answer-json", "transport.recovers")
def test_malformed_json_is_refused(target: Target, iut: Iut) -> None:
    exchange = iut.post(_body(target)[:-7])
    checks.refused_as_client_error(exchange, "transport.malformed-json", codes=(230,))
    _still_answers(target, iut)


@pytest.mark.requirement("transport.non-utf8", "transport.error-answer-json", "transport.recovers")
def test_non_utf8_body_is_refused(target: Target, iut: Iut) -> None:
    call, message = probe(target.role)
    message[call]["comment"] = "Zugang Süd, Tiefgarage Ebene -1"  # an unknown field: receivers must accept those
    exchange = iut.post(json.dumps(message, ensure_ascii=False).encode("latin-1"))
    checks.refused_as_client_error(exchange, "transport.non-utf8")
    _still_answers(target, iut)


@pytest.mark.requirement("transport.unknown-call", "transport.error-answer-json", "transport.recovers")
@pytest.mark.parametrize("kind", ["unknown", "other-role"])
def test_call_the_role_does_not_receive_is_refused(target: Target, iut: Iut, kind: str) -> None:
    if kind == "unknown":
        call, message = "station-teleport", {"station-teleport": {"connector-id": "DE*OIO*E000001*1"}}  # no call
    else:
        other = "emp" if target.role == "cpo" else "cpo"
        call, message = probe(other)
    exchange = iut.post(json.dumps(message).encode())
    if kind == "other-role":
        checks.other_roles_call_answered(exchange, call, "transport.unknown-call")
    else:
        checks.refused_as_client_error(exchange, "transport.unknown-call")
    _still_answers(target, iut)


@pytest.mark.requirement("transport.two-calls", "transport.error-answer-json", "transport.recovers")
def test_two_calls_in_one_body_are_refused(target: Target, iut: Iut) -> None:
    call, message = probe(target.role)
    second = RECEIVED[target.role][0] if RECEIVED[target.role][0] != call else RECEIVED[target.role][1]
    message[second] = message[call]
    exchange = iut.post(json.dumps(message).encode())
    checks.refused_as_client_error(exchange, "transport.two-calls")
    _still_answers(target, iut)


@pytest.mark.requirement("transport.invalid-request", "transport.error-answer-json", "transport.recovers")
@pytest.mark.parametrize("call", [pytest.param(c, marks=pytest.mark.role(receiver(c))) for c in RECEIVED["cpo"]
                                  + RECEIVED["emp"]])
def test_invalid_requests_are_refused(target: Target, iut: Iut, call: str) -> None:
    @seed(target.seed)
    @target.hypothesis_settings()
    @given(broken=invalid_messages(call))
    def each(broken: Broken) -> None:
        message, rule, path = broken
        note(f"breaks {rule} at {path}")
        # Only what even the lenient profile refuses: a receiver may accept the forms of the spec's own
        # examples (schemas/errata.json), e.g. a partner identifier shorter than 16 characters.
        assume(any(f.severity == "error" for f in validate(message, profile="lenient")))
        exchange = iut.post(json.dumps(message).encode())
        checks.refused_as_client_error(exchange, "transport.invalid-request", codes=(230,))

    each()
    _still_answers(target, iut)


@pytest.mark.requirement("transport.answer-json-utf8")
def test_answers_are_utf8_json(target: Target, iut: Iut) -> None:
    checks.answer_is_json_utf8(iut.send(probe(target.role)[1]))
    checks.answer_is_json_utf8(iut.post(_body(target)[:-7]))
