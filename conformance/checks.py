"""The checks: plain functions named for the property they assert, one uniform signature.

Each takes the exchange (and the call, where the answer's schema depends on it) and the
requirement it speaks for, with anything else by keyword, and raises `Nonconformance`
(``Received: …`` / ``Expected: …``) when the IUT's answer breaks it. What the spec
allows comes from the catalogue (`conformance/requirements.json`) and the errata
(`schemas/errata.json`).

Result codes are not a closed list: the call files head them "Result codes", never "only",
and request.rst says "A more general code must always be accepted in parallel to the more
specific code" and "If a client wants to authenticate a customer, any 14x error could be
returned". So any code of request.rst's table that is not a success is a refusal a call can
give; only a code outside that table (or one that is not an integer) breaks ``<call>.answer``.
The exact code a case calls for is judged by the SHOULD requirements that name it.
A refusal of a processed request may come as HTTP 200 (the call files) or as a 4xx
(request.rst), erratum ``request:refusal-http-status``; what a 4xx body holds is judged only
by transport.error-answer-json (request.rst names only "more information in JSON format").
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Iterable
from typing import Any

from conformance._catalogue import allowed_codes
from conformance._exchange import Exchange
from conformance._failures import Nonconformance
from oioi import Erratum, errata, results, validate

__all__ = [
    "answer_conforms",
    "answer_is_json_utf8",
    "answered",
    "call_gives",
    "error_answer_has_result",
    "instant",
    "is_success",
    "other_roles_call_answered",
    "refusal_status_allowed",
    "refused",
    "refused_as_client_error",
    "result_code_allowed_for_call",
    "result_code_is",
    "succeeded",
]

SUCCESS = (0, 11, 12)
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")


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
    """request.rst: on an error "more information about the error will be inside the response body" as JSON.

    Our reading (a SHOULD): a ``result`` object with an integer ``code`` of request.rst's table and a
    ``message``; the spec itself names only "The property error" and "more information in JSON format".
    """
    body = exchange.json()
    result = body.get("result") if isinstance(body, dict) else None
    code = result.get("code") if isinstance(result, dict) else None
    message = result.get("message") if isinstance(result, dict) else None
    if not _is_code(code) or code not in results.CODES or not isinstance(message, str):
        raise Nonconformance(
            requirement=requirement, received=f"HTTP {exchange.status} with body {_snippet(exchange)}",
            expected='a JSON body {"result": {"code": <a code of request.rst\'s table>, "message": "…"}}',
            exchange=exchange,
        )


def refused_as_client_error(exchange: Exchange, requirement: str, *, codes: Iterable[int] = ()) -> None:
    """A bad request gets a 4xx (never 200, never 5xx, never silence) that claims no success.

    request.rst: "If the request was valid and successful, … Otherwise, the HTTP response code will
    not be 200"; a ``4xx`` is "Something was wrong with your request". No sentence ties one result
    code to a refusal, so ``codes`` (e.g. 210) is what is expected, named in the message, never a
    reason to fail. The JSON ``result`` of an error answer is judged last, under its own requirement
    (transport.error-answer-json, our reading), so that it never hides the verdict of this one.
    """
    answered(exchange, requirement)
    status = exchange.status
    assert status is not None
    expected = "a 4xx answer (the request is the client's mistake)" + (
        f", result code {_codes(codes)} expected" if codes else "")
    if not 400 <= status < 500:
        raise Nonconformance(
            requirement=requirement, received=f"HTTP {status}, {_describe(exchange.result_code())}",
            expected=expected, exchange=exchange,
        )
    if _success_code(exchange.result_code()):
        raise Nonconformance(
            requirement=requirement, received=f"HTTP {status} with {_describe(exchange.result_code())}",
            expected=expected + ", not a success code", exchange=exchange,
        )
    error_answer_has_result(exchange)


def _is_code(code: Any) -> bool:
    return isinstance(code, int) and not isinstance(code, bool)


def _success_code(code: Any) -> bool:
    """000, 011 or 012 as an integer (a boolean ``false`` is no code)."""
    return _is_code(code) and code in SUCCESS


def _general(code: int) -> set[int]:
    """The more general codes of ``code`` (181 → 180, 100; 011 → 000)."""
    return {code - code % 10, code - code % 100} - {code}


@functools.cache
def _status_erratum() -> Erratum:
    """The erratum that lets a refusal come as a 4xx (schemas/errata.json, rule ``http/status``)."""
    return next(e for e in errata() if e.rule == "http/status")


def refusal_status_allowed(status: int | None) -> bool:
    """Whether a refusal may come with this HTTP status: 200 (the call files) or what the erratum accepts."""
    return status == 200 or (status is not None and _status_erratum().allows(status))


def call_gives(call: str, code: Any) -> bool:
    """Whether ``code`` is one the call can give: any code of request.rst's table (results.CODES).

    The call files list codes under "Result codes", never "only", and request.rst makes every more
    general code acceptable beside a specific one ("any 14x error could be returned … a 100 could also
    be returned and must be accepted by the client"); a code the call file does not list is therefore
    no proof of a fault.
    """
    return _is_code(code) and code in results.CODES


def other_roles_call_answered(exchange: Exchange, call: str, requirement: str) -> None:
    """A call the other role receives is refused with a 4xx (`refused_as_client_error`) by an implementation of
    one role; one that plays both (glossary.rst: "PlugSurfing is a roaming platform"; request.rst sends every call
    to the same endpoint) answers it with HTTP 200 as its receiver would (`answer_conforms`)."""
    if exchange.status == 200:
        answer_conforms(exchange, call, requirement)
    else:
        refused_as_client_error(exchange, requirement)


def answer_conforms(exchange: Exchange, call: str, requirement: str | None = None) -> None:
    """An answer the spec allows to a valid request: HTTP 200 with a body valid under the call's response
    schema (the spec's own errata and unknown fields are warnings, never failures), or — request.rst:
    "Otherwise, the HTTP response code will not be 200 and more information about the error will be inside
    the response body" — a 4xx that claims no success (erratum request:refusal-http-status).

    A 4xx body is judged only by transport.error-answer-json (our reading, a SHOULD): request.rst names
    "The property error" and "more information in JSON format", no ``result`` object.
    """
    requirement = requirement or f"{call}.answer"
    answered(exchange, requirement)
    spec = f"calls/{call.replace('-', '_')}.rst"
    if exchange.status != 200 and not refusal_status_allowed(exchange.status):
        raise Nonconformance(
            requirement=requirement, received=f"HTTP {exchange.status}, {_describe(exchange.result_code())}",
            expected=f"HTTP 200 ({spec}), or a 4xx with the refusal's result code in its JSON body (request.rst, "
                     f"erratum {_status_erratum().id})", exchange=exchange,
        )
    if exchange.status != 200:
        if _success_code(exchange.result_code()):
            raise Nonconformance(
                requirement=requirement, received=f"HTTP {exchange.status} with {_describe(exchange.result_code())}",
                expected="HTTP 200 for a success; a 4xx only with a refusal's result code (request.rst, Response)",
                exchange=exchange,
            )
        error_answer_has_result(exchange)
        return
    body = exchange.json()
    if body is None:
        raise Nonconformance(requirement=requirement, received="a body that is not UTF-8 JSON: " + _snippet(exchange),
                             expected="a JSON answer", exchange=exchange)
    errors = [f for f in validate(body, call=call, direction="response", status=exchange.status, profile="lenient")
              if f.severity == "error"]
    if errors:
        first = errors[0]
        raise Nonconformance(
            requirement=requirement,
            received=f"an HTTP {exchange.status} answer that breaks the {call} response schema at {first.path or '/'}",
            expected=f"an answer valid under the {call} response schema ({first.spec})",
            exchange=exchange, note=first.message + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
        )


def result_code_allowed_for_call(exchange: Exchange, call: str, requirement: str | None = None) -> None:
    """The result code is an OIOI code (`call_gives`: any code of request.rst's table, as an integer)."""
    code = exchange.result_code()
    if not call_gives(call, code):
        raise Nonconformance(
            requirement=requirement or f"{call}.answer", received=_describe(code),
            expected=f"a result code of request.rst's table (calls/{call.replace('-', '_')}.rst lists "
                     f"{_codes(allowed_codes(call))}; a more general code must always be accepted)",
            exchange=exchange,
        )


def _expected_codes(codes: tuple[int, ...]) -> str:
    general = sorted({g for c in codes for g in _general(c)} - set(codes))
    return f"result code {_codes(codes)}" + (f" (or a more general one: {_codes(general)})" * bool(general))


def result_code_is(exchange: Exchange, requirement: str, *, codes: Iterable[int], note: str | None = None) -> None:
    """The result code is one of ``codes`` or a more general code of one of them."""
    codes = tuple(codes)
    code = exchange.result_code()
    if not _is_code(code) or not any(results.accepts(c, code) for c in codes):
        raise Nonconformance(requirement=requirement, received=_describe(code), expected=_expected_codes(codes),
                             exchange=exchange, note=note)


def refused(exchange: Exchange, call: str, requirement: str, *, codes: Iterable[int], note: str | None = None,
            specific: str | None = None) -> None:
    """The IUT refuses, in an answer the spec allows (`answer_conforms`: HTTP 200 or a 4xx).

    A FAIL is a proof: only a success fails ``requirement``. Any other code of request.rst's table is a
    refusal and passes it (the call files never say "only"); a code outside the table, or not an integer,
    fails ``<call>.answer``. When ``specific`` names a (SHOULD) requirement that wants one of ``codes``
    for this case, another refusal fails that one instead.
    """
    codes = tuple(codes)
    answer_conforms(exchange, call)
    code = exchange.result_code()
    if _success_code(code):
        raise Nonconformance(requirement=requirement, received=f"success: {_describe(code)}",
                             expected=f"a refusal: {_expected_codes(codes)}", exchange=exchange, note=note)
    if _is_code(code) and any(results.accepts(c, code) for c in codes):
        return
    if exchange.status == 200 and not call_gives(call, code):
        raise Nonconformance(requirement=f"{call}.answer", received=_describe(code),
                             expected=f"{_expected_codes(codes)}, or another code of request.rst's table",
                             exchange=exchange, note=note)
    if specific is not None:
        raise Nonconformance(requirement=specific, received=_describe(code), expected=_expected_codes(codes),
                             exchange=exchange, note=note)


def is_success(exchange: Exchange) -> bool:
    """Whether the answer is HTTP 200 with a success code (000, 011 or 012)."""
    return exchange.status == 200 and _success_code(exchange.result_code())


def succeeded(exchange: Exchange, call: str, requirement: str, *, note: str | None = None) -> None:
    """A 200 answer valid for the call with a success code (000, 011 or 012).

    Anything else fails ``requirement`` first: a refusal is no success, whatever its body holds.
    """
    answered(exchange, requirement)
    code = exchange.result_code()
    if exchange.status != 200 or not _success_code(code):
        raise Nonconformance(requirement=requirement, received=f"HTTP {exchange.status}, {_describe(code)}",
                             expected="success: HTTP 200 with result code 000 (or 011, 012)", exchange=exchange,
                             note=note)
    answer_conforms(exchange, call)


def instant(text: Any) -> datetime.datetime | None:
    """An RFC 3339 date-time as an aware instant (``Z`` and ``+00:00`` are the same), None when it is not one."""
    if not isinstance(text, str) or not RFC3339.match(text):
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


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
    "refused": refused,
    "succeeded": succeeded,
}
