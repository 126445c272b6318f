"""The test-control hook ``POST /control``: tell a reference implementation that something happened.

A conformance harness certifies what an implementation *sends* by making it act: "a driver
presents this card", "the car is unplugged". The body is ``{"action": NAME, ...fields}``;
the answer is 200 ``{"done": true, ...}`` once the action is done (its OIOI messages may
follow from the outbox, except for the actions that wait for their partner's answer), 400 for
a missing or invalid field, 404 for a connector it does not have, 409 when the action cannot
happen now or no partner is configured, 501 for an unknown action; errors as ``{"error": ...}``.

No API key guards this hook: it exists for tests and must never be exposed in production.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flask import Response, request

from examples._reference._outbox import Outbox

if TYPE_CHECKING:
    from examples._reference._transport import Endpoint

__all__ = ["CONTROL_PATH", "Action", "ControlError", "optional_text", "required_text", "respond"]

CONTROL_PATH = "/control"

Body = dict[str, Any]
# An action gets the implementation, its outbox and the request's fields; it returns the answer's
# fields (besides "done") or raises `ControlError`.
Action = Callable[["Endpoint", Outbox, Body], Body]


class ControlError(Exception):
    """A control request that cannot be done: its HTTP status and one message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def respond(endpoint: Endpoint, actions: Mapping[str, Action]) -> Response:
    """The view of ``POST /control``."""
    try:
        status, body = 200, {"done": True, **_act(endpoint, actions)}
    except ControlError as refused:
        status, body = refused.status, {"error": refused.message}
    return Response(json.dumps(body, ensure_ascii=False).encode("utf-8"), status=status, mimetype="application/json")


def _act(endpoint: Endpoint, actions: Mapping[str, Action]) -> Body:
    fields = request.get_json(force=True, silent=True)
    if not isinstance(fields, dict) or not isinstance(fields.get("action"), str):
        raise ControlError(400, f"Received: {fields!r}\nExpected: a JSON object {{'action': NAME, ...fields}}.")
    name = fields["action"]
    if name not in actions:
        raise ControlError(501, f"Received: action {name!r}\nExpected: one of {', '.join(actions)}.")
    if endpoint.outbox is None:
        raise ControlError(409, "No partner to send to: start it with --partner-url URL --partner-api-key KEY.")
    return actions[name](endpoint, endpoint.outbox, fields)


def required_text(fields: Body, name: str) -> str:
    """The non-empty string field ``name``; 400 otherwise."""
    value = fields.get(name)
    if not isinstance(value, str) or not value:
        raise ControlError(400, f"Received: {name!r} = {value!r}\nExpected: a non-empty string {name!r}.")
    return value


def optional_text(fields: Body, name: str) -> str | None:
    """The string field ``name`` when present (null counts as absent); 400 if it is not a non-empty string."""
    return None if fields.get(name) is None else required_text(fields, name)
