"""Correct behaviours: switches for what the spec allows but the references' defaults do not do.

A defect is a bug a conformance suite must catch; a behaviour is the mirror: something a
correct partner may do, which a conformance suite must never fail. Each one is an ``if``
where a real partner's choice would be, like the defects. A combination (e.g.
``strict-partner``) switches several on at once. examples/variants.json lists them with the
spec sentence that allows each.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence

from oioi.errors import ConfigError

__all__ = [
    "GENERAL_CODES",
    "SENDER_BEHAVIOURS",
    "TRANSPORT_BEHAVIOURS",
    "check_behaviours",
    "check_names",
    "general_code",
    "refusal_status",
]

TRANSPORT_BEHAVIOURS: dict[str, str] = {
    "strict-validation": "Refuses (400/230) every field whose format breaks the spec's field descriptions: EVCO IDs, "
    "EVSE IDs, UIDs, ISO 3166-1 country codes, RFC 3339 dates, an identifier that does not match its identifier-type.",
    "refusals-as-4xx": "Answers every business refusal (18x, 19x, 3xx, ...) with an HTTP 4xx and its result code.",
    "general-codes": "Answers the general code of each outcome (100, 200, 300) instead of the specific one.",
    "extra-answer-fields": "Puts fields the spec does not define into every answer (top level, result, payload).",
    "connection-close": "Answers with 'Connection: close' (no keep-alive) and sends its own messages so too.",
    "slow-answers": "Takes about 50 ms for every answer.",
}
SENDER_BEHAVIOURS: dict[str, str] = {
    "slow-client-timeout": "Waits 30 s for its partner's answer before it counts a try as failed.",
    "jittered-backoff": "Retries after a 5xx with equal-jitter exponential back-off, 2 s * 2^(n-1) (half of it "
    "random), at most 4 tries, still honouring Retry-After.",
}

SLOW_ANSWER = 0.05  # seconds, slow-answers
SLOW_CLIENT_TIMEOUT = 30.0  # seconds, slow-client-timeout
JITTER_BASE = 2.0  # seconds, jittered-backoff: the back-off before the 2nd try is 1-2 s, before the 3rd 2-4 s, ...

# request.rst, "OIOI Response Codes": 0xx success, 1xx PlugSurfing, 2xx client, 3xx operator and EVSE errors.
GENERAL_CODES = (0, 100, 200, 300, 400, 800)


def general_code(code: int) -> int:
    """The general code of ``code``: "If a client wants to authenticate a customer, any ``14x`` error could
    be returned. At the same time, a ``100`` could also be returned and must be accepted by the client."
    (request.rst): its hundred (011 -> 000, 181 -> 100, 230 -> 200, 320 -> 300).
    """
    return code - code % 100


def refusal_status(code: int) -> int:
    """The HTTP status of a refusal under refusals-as-4xx: request.rst, "Otherwise, the HTTP response code will
    not be 200": ``404`` "One or more of the requested entities were not found" for 18x and 191, ``409`` for a
    connector in use or reserved (320, 323), ``400`` "Bad request" for the rest.
    """
    if 180 <= code <= 189 or code == 191:
        return 404
    return 409 if code in (320, 323) else 400


def check_names(valid: Mapping[str, str], given: Iterable[str], title: str, kind: str) -> list[str]:
    """The ``kind``s (defects, behaviours) given; `ConfigError` (a ValueError) names an unknown one and lists the
    valid ones.
    """
    chosen = [given] if isinstance(given, str) else list(given)
    unknown = sorted(set(chosen) - valid.keys())
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(valid), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"Unknown {kind} {', '.join(map(repr, unknown))} for the {title}{hint}; "
            f"the valid {kind}s are: {', '.join(valid)}."
        )
    return chosen


def check_behaviours(
    valid: Mapping[str, str], combinations: Mapping[str, Sequence[str]], given: Iterable[str], title: str
) -> frozenset[str]:
    """The behaviours to switch on, each combination expanded; `ConfigError` names an unknown one."""
    chosen = check_names(valid, given, title, "behaviour")
    return frozenset(part for name in chosen for part in combinations.get(name, (name,)))
