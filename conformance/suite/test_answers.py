"""Every valid request gets HTTP 200 and an answer the call's response schema accepts.

calls/*.rst: "200 OK — The request was processed successfully", with the result codes
each call lists; request.rst: a more general code is accepted in place of a specific one.
The requests are drawn from the same schemas the validator uses, and each is checked by
our own validator before it is sent.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, note, seed

from conformance import checks
from conformance._catalogue import receiver
from conformance._exchange import Iut
from conformance._target import Target
from conformance.suite.test_transport import RECEIVED
from oioi.strategies import messages


def _ours(message: dict[str, Any], call: str, oioi: Target, counter: itertools.count[int]) -> dict[str, Any]:
    """Put the harness's partner identifier in, and give stations ids no other run uses."""
    body = message[call]
    if "partner-identifier" in body:
        body["partner-identifier"] = oioi.partner
    if call == "station-post":
        n = next(counter)
        body["station"]["id"] = f"oioi-harness-{oioi.seed}-{n}"
        for k, connector in enumerate(body["station"]["connectors"]):
            connector["id"] = f"DE*OIO*E{oioi.seed % 10**8:08d}{n:04d}*{k + 1}"
    return message


@pytest.mark.parametrize("call", [pytest.param(c, marks=[pytest.mark.role(receiver(c)),
                                                         pytest.mark.requirement(f"{c}.answer")])
                                  for c in RECEIVED["cpo"] + RECEIVED["emp"]])
def test_valid_requests_get_a_conforming_answer(oioi: Target, iut: Iut, call: str) -> None:
    counter = itertools.count()

    @seed(oioi.seed)
    @oioi.hypothesis_settings()
    @given(message=messages(call))
    def each(message: dict[str, Any]) -> None:
        exchange = iut.send(_ours(message, call, oioi, counter))
        note(exchange.curl())
        checks.answer_conforms(exchange, call)
        checks.result_code_allowed_for_call(exchange, call)

    each()
