"""Every valid request gets an answer the spec allows: HTTP 200 with a body the call's response
schema accepts, or a refusal as a 4xx with its result code (request.rst, erratum
request:refusal-http-status), with a result code the call can give.

calls/*.rst: "200 OK — The request was processed successfully", with the result codes
each call lists; request.rst: a more general code is accepted in place of a specific one.
The requests are drawn from the same schemas the validator uses, made what a real partner
sends (its own partner identifier, its own stations and session-ids), and each is checked
by our own validator before it is sent. Whatever a request changed on the IUT is undone.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, note, seed

from conformance import checks
from conformance._catalogue import receiver
from conformance._exchange import Exchange, Iut
from conformance._target import Target
from conformance.suite import _messages as m
from conformance.suite.test_transport import RECEIVED
from oioi.strategies import messages


def _ours(message: dict[str, Any], target: Target, *, call: str, counter: itertools.count[int]) -> dict[str, Any]:
    """Make a drawn request the harness's own: its partner identifier, stations of its operator with ids
    no other run uses, and a session-id of its own for each session (never one reused across connectors).
    """
    body = message[call]
    n = next(counter)
    if "partner-identifier" in body:
        body["partner-identifier"] = target.partner
    if "session-id" in body:
        body["session-id"] = f"oioi-harness-{target.seed}-{call}-{n}"
    if call == "station-post":
        body["station"]["id"] = f"oioi-harness-{target.seed}-{n}"
        body["station"]["cpo-id"] = m.CPO_ID
        for k, connector in enumerate(body["station"]["connectors"]):
            connector["id"] = f"{m.CPO_ID}*E{target.seed % 10**8:08d}{n:04d}*{k + 1}"
    return message


def _undo(iut: Iut, exchange: Exchange, *, call: str, message: dict[str, Any]) -> None:
    """Undo what an accepted request changed: stop a started session with its session-id, cancel a
    reservation, soft-delete a posted station.
    """
    if not checks.is_success(exchange):
        return
    body = message[call]
    if call == "session-start":
        answer = (exchange.json() or {}).get("session-start") or {}
        session_id = answer.get("session-id") if isinstance(answer, dict) else None
        iut.send(m.session_stop(body["connector-id"], body["user"]["identifier"],
                                session_id if isinstance(session_id, str) and session_id else None))
    elif call == "reservation-start":
        iut.send(m.reservation_stop(body["identifier"][0]["evco-id"]))
    elif call == "station-post":
        iut.send({"station-post": {**body, "station": {**body["station"], "deleted": True}}})


def _afterwards(call: str, target: Target) -> Callable[[Iut], Any] | None:
    """What restores the IUT after all draws of a call: rfid-post replaces the harness's whitelist."""
    if call == "rfid-post":
        return lambda iut: iut.send(m.rfid_post([], target.partner))
    return None


@pytest.mark.parametrize("call", [pytest.param(c, marks=[pytest.mark.role(receiver(c)),
                                                         pytest.mark.requirement(f"{c}.answer")])
                                  for c in RECEIVED["cpo"] + RECEIVED["emp"]])
def test_valid_requests_get_a_conforming_answer(target: Target, iut: Iut, call: str) -> None:
    counter = itertools.count()

    @seed(target.seed)
    @target.hypothesis_settings()
    @given(message=messages(call))
    def each(message: dict[str, Any]) -> None:
        message = _ours(message, target, call=call, counter=counter)
        exchange = iut.send(message)
        try:
            note(exchange.curl())
            checks.answer_conforms(exchange, call)
            checks.result_code_allowed_for_call(exchange, call)
        finally:
            _undo(iut, exchange, call=call, message=message)

    try:
        each()
    finally:
        if restore := _afterwards(call, target):
            restore(iut)
