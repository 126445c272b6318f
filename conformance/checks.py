"""The checks: plain functions named for the property they assert, one uniform signature.

Each takes the exchange and the requirement it speaks for, and raises `Nonconformance`
(``Received: …`` / ``Expected: …``) when the IUT's answer breaks it. What the spec
allows comes from the catalogue (`conformance/requirements.json`).

request.rst: "A more general code must always be accepted in parallel to the more specific
code" — so every expected code also admits its general codes (181 → 180, 100).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from conformance._catalogue import allowed_codes
from conformance._exchange import Exchange
from conformance._failures import Nonconformance
from oioi import results, validate

__all__ = [
    "answer_conforms",
    "answer_is_json_utf8",
    "answered",
    "error_answer_has_result",
    "refused_as_client_error",
    "result_code_allowed_for_call",
    "result_code_is",
    "succeeded",
]

SUCCESS = (0, 11, 12)


def _describe(code: Any) -> str:
    if isinstance(code, int) and not isinstance(code, bool):
        return f"result code {code:03d} ({results.CODES.get(code, 'not a code of request.rst')})"
    return f"result code {code!r} (not an integer)" if code is not None else "no result code"


def _codes(codes: Iterable[int]) -> str:
    return ", ".join(f"{c:03d}" for c in codes)


def answered(exchange: Exchange, requirement: str | None) -> None:
    """An answer came within the timeout (request.rst: errors are answered, never left hanging)."""
    if exchange.status is None:
        raise Nonconformance(
            requirement=requirement, received=exchange.error or "no answer", expected="an HTTP answer",
            exchange=exchange,
        )


def answer_is_json_utf8(exchange: Exchange, requirement: str | None = "transport.answer-json-utf8") -> None:
    """request.rst: "All data must be UTF-8 encoded"; answers are JSON (``Content-Type: application/json``)."""
    answered(exchange, requirement)
    content_type = exchange.response_headers.get("Content-Type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise Nonconformance(
            requirement=requirement, received=f"Content-Type {content_type!r}",
            expected="Content-Type 'application/json'", exchange=exchange,
        )
    if exchange.json() is None:
        raise Nonconformance(
            requirement=requirement, received="a body that is not UTF-8 JSON: " + _snippet(exchange),
            expected="a UTF-8 JSON body", exchange=exchange,
        )


def error_answer_has_result(exchange: Exchange, requirement: str | None = "transport.error-answer-json") -> None:
    """request.rst: on an error "more information about the error will be inside the response body" as JSON."""
    body = exchange.json()
    result = body.get("result") if isinstance(body, dict) else None
    code = result.get("code") if isinstance(result, dict) else None
    if not isinstance(code, int) or isinstance(code, bool):
        raise Nonconformance(
            requirement=requirement, received=f"HTTP {exchange.status} with body {_snippet(exchange)}",
            expected='a JSON body {"result": {"code": <integer>, "message": ...}}', exchange=exchange,
        )


def refused_as_client_error(exchange: Exchange, requirement: str, codes: Iterable[int] = ()) -> None:
    """A bad request gets a 4xx (never 200, never 5xx, never silence) with a JSON ``result``."""
    answered(exchange, requirement)
    status = exchange.status
    assert status is not None
    if not 400 <= status < 500:
        raise Nonconformance(
            requirement=requirement, received=f"HTTP {status}, {_describe(exchange.result_code())}",
            expected="a 4xx answer (the request is the client's mistake)", exchange=exchange,
        )
    error_answer_has_result(exchange)
    codes = tuple(codes)
    if codes:
        result_code_is(exchange, requirement, codes)


def answer_conforms(exchange: Exchange, call: str, requirement: str | None = None) -> None:
    """HTTP 200 and a body valid under the call's response schema (strict profile)."""
    requirement = requirement or f"{call}.answer"
    answered(exchange, requirement)
    if exchange.status != 200:
        raise Nonconformance(
            requirement=requirement, received=f"HTTP {exchange.status}, {_describe(exchange.result_code())}",
            expected=f"HTTP 200 (calls/{call.replace('-', '_')}.rst lists only 200 OK)", exchange=exchange,
        )
    body = exchange.json()
    if body is None:
        raise Nonconformance(requirement=requirement, received="a body that is not UTF-8 JSON: " + _snippet(exchange),
                             expected="a JSON answer", exchange=exchange)
    errors = [f for f in validate(body, call=call, direction="response", status=200) if f.severity == "error"]
    if errors:
        first = errors[0]
        raise Nonconformance(
            requirement=requirement,
            received=f"an answer that breaks the {call} response schema at {first.path or '/'}",
            expected=f"an answer valid under the {call} response schema ({first.spec})",
            exchange=exchange, note=first.message + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
        )


def result_code_allowed_for_call(exchange: Exchange, call: str, requirement: str | None = None) -> None:
    """The result code is one the call's spec file lists, or a more general code of one."""
    code, allowed = exchange.result_code(), allowed_codes(call)
    if not any(results.accepts(listed, code) for listed in allowed) and not _refines(code, allowed):
        raise Nonconformance(
            requirement=requirement or f"{call}.answer", received=_describe(code),
            expected=f"one of the result codes of calls/{call.replace('-', '_')}.rst: {_codes(allowed)}",
            exchange=exchange,
        )


def _refines(code: Any, allowed: Iterable[int]) -> bool:
    """A more specific code of a listed general one (320 where 300 is listed)."""
    if not isinstance(code, int) or isinstance(code, bool) or code not in results.CODES:
        return False
    return any(general in (code - code % 10, code - code % 100) for general in allowed if general % 10 == 0)


def result_code_is(exchange: Exchange, requirement: str, codes: Iterable[int], note: str | None = None) -> None:
    """The result code is one of ``codes`` or a more general code of one of them."""
    codes = tuple(codes)
    code = exchange.result_code()
    if not isinstance(code, int) or isinstance(code, bool) or not any(results.accepts(c, code) for c in codes):
        general = sorted({g for c in codes for g in (c - c % 10, c - c % 100)} - set(codes))
        raise Nonconformance(
            requirement=requirement, received=_describe(code),
            expected=f"result code {_codes(codes)}" + (f" (or a more general one: {_codes(general)})" * bool(general)),
            exchange=exchange, note=note,
        )


def succeeded(exchange: Exchange, call: str, requirement: str, note: str | None = None) -> None:
    """A 200 answer valid for the call with a success code (000, 011 or 012)."""
    answer_conforms(exchange, call)
    code = exchange.result_code()
    if code not in SUCCESS:
        raise Nonconformance(requirement=requirement, received=_describe(code),
                             expected="success: result code 000 (or 011, 012)", exchange=exchange, note=note)


def _snippet(exchange: Exchange, limit: int = 120) -> str:
    body = (exchange.response_body or b"").decode("utf-8", errors="backslashreplace")
    return repr(body if len(body) <= limit else body[:limit] + "…")


CHECKS = {
    "answered": answered,
    "answer_is_json_utf8": answer_is_json_utf8,
    "error_answer_has_result": error_answer_has_result,
    "refused_as_client_error": refused_as_client_error,
    "answer_conforms": answer_conforms,
    "result_code_allowed_for_call": result_code_allowed_for_call,
    "result_code_is": result_code_is,
    "succeeded": succeeded,
}
