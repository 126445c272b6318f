"""Calls the mock sends to its partner: journaled like inbound ones, with a timeout, answer validated."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import requests
from flask import Flask

from mock_server._store import Store
from oioi import Finding, masked_headers, validate
from oioi.errors import ConfigError

# Calls whose body names the sending partner (calls/*.rst, "partner-identifier").
NAMES_PARTNER = {"station-post", "connector-post-status", "session-post", "rfid-post"}


def build(app: Flask, call: str, body: dict[str, Any]) -> dict[str, Any]:
    """A request of ``call``, with this mock's own partner identifier where the call carries one."""
    config = app.config
    if call in NAMES_PARTNER and "partner-identifier" not in body:
        body = {**body, "partner-identifier": config["OWN_PARTNER_IDENTIFIER"]}
    return {call: body}


def send(app: Flask, message: dict[str, Any]) -> dict[str, Any]:
    """POST ``message`` to the partner, journal the exchange, and return the journal entry."""
    config = app.config
    url, key = config["PARTNER_URL"], config["PARTNER_API_KEY"]
    if not url or not key:
        raise ConfigError("This mock has no partner to call: start it with --partner-url URL --partner-api-key KEY.")
    (call,) = message if len(message) == 1 else (None,)
    body = json.dumps(message)
    headers = {"Authorization": f"key={key}", "Content-Type": "application/json"}
    entry: dict[str, Any] = {
        "exchange": "outbound",
        "call": call,
        "request_body": body,
        "request_headers": masked_headers(headers),
    }
    started = time.perf_counter()
    try:
        answer = requests.post(url, data=body.encode(), headers=headers, timeout=config["OUTBOUND_TIMEOUT"])
    except requests.RequestException as error:
        why = (f"Received: no answer ({type(error).__name__})\n"
               f"Expected: an HTTP answer within {config['OUTBOUND_TIMEOUT']} s")
        findings = [Finding("error", "", "transport/no-answer", why, "request.rst")]
        entry.update(status=None, response_body=None)
    else:
        entry.update(status=answer.status_code, response_body=answer.text)
        findings = _judge(call, answer)
        try:
            entry["result_code"] = answer.json()["result"]["code"]
        except (ValueError, KeyError, TypeError):
            entry["result_code"] = None
    entry["findings"] = [f.to_dict() for f in findings]
    entry["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
    store: Store = app.extensions["oioi_store"]
    with store.write() as db:
        entry["id"] = store.record(db, entry)
    return entry


def _judge(call: str | None, answer: requests.Response) -> list[Finding]:
    """What is wrong with the partner's answer to ``call`` (see ``oioi.validate``)."""
    try:
        parsed = answer.json()
    except ValueError:
        why = f"Received: {answer.text[:80]!r}\nExpected: a JSON answer"
        return [Finding("error", "", "message/json", why, "request.rst")]
    if call is None:
        return []
    return validate(parsed, call=call, direction="response", status=answer.status_code)


def later(app: Flask, message: dict[str, Any]) -> Callable[[], None]:
    """An action that sends ``message`` in the background once the current answer is out."""

    def submit() -> None:
        if app.config["PARTNER_URL"] and app.config["PARTNER_API_KEY"]:
            app.extensions["oioi_outbox"].submit(send, app, message)

    return submit
