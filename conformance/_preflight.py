"""Before any check: a setup mistake is never a FAIL of the IUT.

``preflight`` says why a run cannot go ahead (the IUT cannot be reached, refuses the key, or
its URL does not answer OIOI): the run stops with exit status 2 and that one sentence.
``doubts`` probes what the user gave and the IUT must know — its connectors (CPO), its UIDs
(EMP) — with requests that change nothing. Where a setup mistake and a fault look the same
from outside, the run goes on: the doubtful values go into the Target, and one warning per
doubt is printed before the checks and kept in report.json.
"""

from __future__ import annotations

import dataclasses
import random
import tempfile
import uuid
from pathlib import Path
from typing import Any

from conformance._catalogue import allowed_codes
from conformance._exchange import Exchange, Iut
from conformance._target import Target
from conformance.suite._messages import EVCO, probe, rfid_verify, session_stop
from oioi import serving, validate

__all__ = ["doubts", "not_oioi", "preflight", "unlistenable", "unsendable", "unwritable"]

PATH = "/api/v4/request"
GATEWAY = (502, 504)  # a proxy in front of the IUT answered: the IUT behind it did not


def preflight(target: Target) -> str | None:
    """Why the run cannot go ahead: the IUT is unreachable, refuses the key, or does not answer OIOI."""
    if why := unsendable(target):
        return why
    if target.listen and (why := unlistenable(target.listen)):
        return why
    if why := target.unreachable():
        return why
    call, message = probe(target.role)
    client = Iut(target.url, target.api_key, timeout=target.timeout)
    try:
        exchange = client.send(message)
    finally:
        client.close()
    if exchange.status in (401, 403):
        return (f"The IUT at {target.url} refused the API key {target.describe()['api_key']} with HTTP "
                f"{exchange.status}; give the key it accepts with --api-key (or OIOI_API_KEY).")
    return not_oioi(target.url, call, exchange)


def unlistenable(listen: str) -> str | None:
    """Why the mock partner cannot listen on ``listen`` (HOST:PORT): not that shape, or not bindable here.

    The address is bound for a moment and let go at once; the partner binds it when the run starts.
    """
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        return f"--listen {listen!r} is not HOST:PORT, e.g. 127.0.0.1:8765."
    if why := serving.bind_error(host, int(port)):
        return (f"Cannot listen on {listen} for the IUT's messages ({why}); give --listen a free HOST:PORT "
                "(the address the IUT sends to).")
    return None


def unwritable(directory: Path) -> str | None:
    """Why the reports cannot go into ``directory``: it is created (when missing) and a file is written in it."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        why = "it is a file" if directory.exists() and not directory.is_dir() else error.strerror or str(error)
        return f"Cannot write the reports to {directory} ({why}); give --report-dir a folder you can write to."
    return None


def unsendable(target: Target) -> str | None:
    """Why a given connector or UID cannot go into an OIOI request (not the format glossary.rst gives)."""
    if target.role == "cpo":
        given = [(f"--connector-id {c!r} is not an EVSE ID", _stop_probe(c, target.seed)) for c in target.connectors]
    else:
        given = [(f"--rfid {state}={uid} is not an RFID UID", rfid_verify(uid)) for state, uid in target.rfids.items()]
    for what, message in given:
        if any(f.severity == "error" for f in validate(message, direction="request")):
            example = "DE*8PS*E123456*1" if target.role == "cpo" else "upper-case hexadecimal, 04523022AA4881"
            return (f"{what} as glossary.rst gives it (e.g. {example}); correct it on the command line or in "
                    "the declaration.")
    return None


def not_oioi(url: str, call: str, exchange: Exchange) -> str | None:
    """Why an answer shows that ``url`` is not an OIOI endpoint (None when it may be one).

    request.rst: every answer's body is JSON holding a ``result`` object. A 404 or 405 is a
    wrong path or method, unless its body is such a JSON answer with a result code the call
    lists (an IUT may answer a processed call's refusal with a 4xx). A 5xx other than a
    gateway's is the IUT's own answer: the checks judge it.
    """
    status = exchange.status
    if status is None or (status >= 500 and status not in GATEWAY):
        return None
    body = exchange.json()
    result = body.get("result") if isinstance(body, dict) else None
    if isinstance(result, dict):
        if status not in (404, 405, *GATEWAY) or _code(result.get("code")) in allowed_codes(call):
            return None
        what = f"result code {result.get('code')!r}"
    elif body is not None:
        what = "JSON without a result object"
    elif _is_html(exchange):
        what = "HTML"
    else:
        what = "a body that is not JSON"
    if status in GATEWAY:
        return (f"The IUT at {url} answered HTTP {status} with {what}: a gateway in front of it answered, not the "
                "IUT; check that the implementation is running behind it.")
    hint = "the URL usually ends in /api/v4/request" if not url.rstrip("/").endswith(PATH) else "check --url"
    return f"The IUT at {url} answered HTTP {status} with {what}: not an OIOI endpoint; {hint}."


def _is_html(exchange: Exchange) -> bool:
    content_type = next((v for k, v in exchange.response_headers.items() if k.lower() == "content-type"), "")
    start = (exchange.response_body or b"").lstrip()[:15].lower()
    return "html" in content_type.lower() or start.startswith((b"<!doctype", b"<html"))


def _code(code: Any) -> int | None:
    """A result code as a number (a string of digits counts: the checks judge its type)."""
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    return int(code) if isinstance(code, str) and code.isdigit() else None


def doubts(target: Target) -> tuple[Target, list[str]]:
    """The target with the values the IUT seems not to know, and one warning per doubt.

    The values were checked by ``preflight`` (``unsendable``) before.
    """
    client = Iut(target.url, target.api_key, timeout=target.timeout)
    try:
        if target.role == "cpo":
            unknown = tuple(c for c in target.connectors if _unknown_connector(client, c, target.seed))
            warnings = [f"the IUT does not know {c} (session-stop answered 181, EVSE not found): check --connector-id "
                        "or the declaration; the checks that need it are inconclusive" for c in unknown]
            return dataclasses.replace(target, unknown_connectors=unknown), warnings
        doubtful, warnings = _doubtful_rfids(client, target.rfids)
        return dataclasses.replace(target, doubtful_rfids=doubtful), warnings
    finally:
        client.close()


def _unknown_connector(client: Iut, connector: str, seed: int) -> bool:
    """Whether the CPO answers 181 (EVSE not found) to stopping a session that does not exist there.

    calls/session_stop.rst lists 181 "EVSE not found"; any other answer (182, 0, a refusal)
    says nothing against the connector. The session-id is new (from the run's seed), so
    nothing running is stopped.
    """
    return _code(client.send(_stop_probe(connector, seed)).result_code()) == 181


def _stop_probe(connector: str, seed: int) -> dict[str, Any]:
    """A session-stop on ``connector`` for a session-id no IUT has (the same for the same seed)."""
    session_id = str(uuid.UUID(int=random.Random(f"{seed}:{connector}").getrandbits(128), version=4))
    return session_stop(connector, EVCO[0], session_id)


def _doubtful_rfids(client: Iut, rfids: dict[str, str]) -> tuple[tuple[str, ...], list[str]]:
    """The --rfid states whose UID the EMP does not seem to know as that state, when it knows none of them.

    calls/rfid_verify.rst: 0 success, 191 "EVCO ID not found", 192 "EVCO ID locked", 193.
    Whether a UID is known is a setup fact only the IUT's operator knows; a single
    mismatch while the IUT answers the others as declared is a fault the checks judge. Only
    when the IUT recognises none of the given known UIDs (active not 0, inactive 191 or 0)
    might the table be wrong: then every mismatching state is doubtful.
    """
    answers = {state: _code(client.send(rfid_verify(uid)).result_code())
               for state, uid in rfids.items()}
    mismatch = {state: code for state, code in answers.items() if not _as_declared(state, code)}
    recognised = answers.get("active") == 0 or answers.get("inactive") in (190, 192, 193)
    if recognised or not mismatch:
        return (), []
    warnings = [f"the IUT does not seem to know the {state} UID {rfids[state]} (rfid-verify answered "
                f"{'no result code' if code is None else f'{code:03d}'}): check --rfid {state}=… or the declaration; "
                "the checks that need it are inconclusive" for state, code in mismatch.items()]
    return tuple(mismatch), warnings


def _as_declared(state: str, code: int | None) -> bool:
    """Whether an rfid-verify answer fits the UID's state (the general codes of request.rst fit too)."""
    if code is None:
        return True  # no answer or no code: not about the UID, the checks judge it
    if state == "active":
        return code < 100  # 0 or a more specific success code (0xx)
    if state == "inactive":
        return code >= 100 and code != 191
    return code >= 100 and code not in (192, 193)

