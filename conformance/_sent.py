"""Checks on what the IUT sends, as the mock partner journaled it: plain functions, one signature.

Each takes a journal entry of the mock partner (headers with the key masked, the body as
received, the mock's answer) and the requirement it speaks for, and raises `Nonconformance`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from conformance._exchange import Exchange
from conformance._failures import Nonconformance
from oioi import validate

__all__ = ["as_exchange", "authenticated", "body", "for_the_partners_role", "json_content_type", "utf8",
           "valid_request"]

Entry = dict[str, Any]
UID = re.compile(r"^(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})$")
# Validation rules that name a requirement of their own (the rest are sender.request-valid).
SEMANTIC = {"semantic/session-interval-ordered": "session-post.intervals-consistent",
            "semantic/charging-interval-ordered": "session-post.intervals-consistent",
            "semantic/charging-inside-session": "session-post.intervals-consistent",
            "semantic/energy-not-negative": "session-post.intervals-consistent"}


def as_exchange(entry: Entry, url: str = "the mock partner") -> Exchange:
    """A journal entry as evidence: the IUT's request and the mock's answer."""
    raw = entry.get("request_body")
    text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
    answer = entry.get("response_body")
    return Exchange(url=url, request_headers=dict(entry.get("request_headers") or {}),
                    request_body=(text or "").encode("utf-8", "surrogateescape"), status=entry.get("status"),
                    response_body=None if answer is None else (answer if isinstance(answer, str)
                                                              else json.dumps(answer)).encode())


def body(entry: Entry) -> dict[str, Any]:
    """The call's fields of a journaled request ({} when it is not a JSON object)."""
    raw = entry.get("request_body")
    call = entry.get("call")
    if isinstance(raw, dict) and isinstance(raw.get(call), dict):
        return dict(raw[call])
    return {}


def _header(entry: Entry, name: str) -> str:
    return next((v for k, v in (entry.get("request_headers") or {}).items() if k.lower() == name), "")


def authenticated(entry: Entry, requirement: str = "sender.authorization-header") -> None:
    """request.rst: "Authorization: key=<your-API-key>" — exactly that form, with the agreed key."""
    value = _header(entry, "authorization")
    if not value.startswith("key=") or entry.get("status") == 401:
        raise Nonconformance(requirement=requirement, received=f"Authorization {value!r} (key masked)"
                             + (", refused by the partner with 401" if entry.get("status") == 401 else ""),
                             expected="Authorization: key=<the API key agreed with the partner>",
                             exchange=as_exchange(entry))


def json_content_type(entry: Entry, requirement: str = "sender.content-type") -> None:
    """request.rst: "Content-Type: application/json"."""
    value = _header(entry, "content-type")
    if value.split(";")[0].strip().lower() != "application/json":
        raise Nonconformance(requirement=requirement, received=f"Content-Type {value!r}",
                             expected="Content-Type: application/json", exchange=as_exchange(entry))


def utf8(entry: Entry, requirement: str = "sender.utf-8") -> None:
    """request.rst: "All data must be UTF-8 encoded" (the mock records a body that is not)."""
    broken = [f for f in entry.get("findings") or [] if f.get("rule") == "message/utf-8"]
    if broken:
        raise Nonconformance(requirement=requirement, received="a body that is not UTF-8",
                             expected="a UTF-8 encoded body", exchange=as_exchange(entry))


def valid_request(entry: Entry, requirement: str = "sender.request-valid") -> None:
    """The request is valid under its call's schema (strict), the lenient verdict shown beside."""
    raw = entry.get("request_body")
    if not isinstance(raw, dict):
        raise Nonconformance(requirement=requirement, received=f"a body that is not a JSON object: {raw!r:.120}",
                             expected="one JSON object naming the call", exchange=as_exchange(entry))
    errors = [f for f in validate(raw) if f.severity == "error"]
    if not errors:
        return
    lenient = [f for f in validate(raw, profile="lenient") if f.severity == "error"]
    first = errors[0]
    raise Nonconformance(
        requirement=SEMANTIC.get(first.rule, requirement),
        received=f"a {entry.get('call')} request that breaks {first.rule} at {first.path or '/'}",
        expected=f"a request valid under the {entry.get('call')} schema ({first.spec})", exchange=as_exchange(entry),
        note=f"{first.message}\nLenient profile (the spec's errata accepted): "
             + ("also invalid." if lenient else "valid."))


def for_the_partners_role(entry: Entry, requirement: str = "sender.role-calls") -> None:
    """The partner receives the call: the mock refuses the other role's calls with 403 and result 220."""
    if entry.get("status") == 403:
        raise Nonconformance(requirement=requirement, received=f"a {entry.get('call')} request, refused with 403/220",
                             expected="only calls the partner's role receives", exchange=as_exchange(entry))


SENT_CHECKS = {
    "for_the_partners_role": for_the_partners_role,
    "authenticated": authenticated,
    "json_content_type": json_content_type,
    "utf8": utf8,
    "valid_request": valid_request,
}
