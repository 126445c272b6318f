"""Checks on what the IUT sends, as the mock partner journaled it: plain functions, one signature.

Each takes a journal entry of the mock partner (headers with the key masked, the body as
received, the mock's answer) and the requirement it speaks for, and raises `Nonconformance`.
"""

from __future__ import annotations

import itertools
import json
import re
import statistics
from typing import Any

from conformance._exchange import Exchange
from conformance._failures import Inconclusive, Nonconformance
from oioi import Finding, calls, conversation, definition, errata, validate

__all__ = ["CONVERSATION", "as_exchange", "authenticated", "body", "for_the_partners_role", "identifiers",
           "json_content_type", "one_call", "raised", "tries_thin_out", "utf8", "valid_request", "violated", "waits",
           "waits_grow"]

Entry = dict[str, Any]
CLOCK = 0.05  # seconds of clock granularity between the IUT's wait and the mock's journal
GROWTH = 1.25  # retries whose waits never grew past 1.25 times the earlier ones keep a steady pace
AT_ONCE = 0.1  # seconds: waits that all stay under this are a storm, whatever their ratios (clock noise)
DEFAULT_TOLERANCE = 0.5  # undeclared: a wait may be half the one before (equal or +-50 % jitter)
STEADY_SPREAD = 0.1  # waits within 10 % of their median (and the clock's noise) keep one pace: jitter rarely does
STEADY_GAPS = 5  # waits between tries needed before a pace is judged steady
BACKOFF = "(request.rst: 'Your services must implement exponential back-off')"
# A UID as schemas/common/definitions.json defines it (one place for the pattern: the schemas).
UID = re.compile(definition("rfid-uid")["pattern"])
# Validation rules that name a requirement of their own (the rest are sender.request-valid).
SEMANTIC = {"semantic/session-interval-ordered": "session-post.intervals-consistent",
            "semantic/charging-interval-ordered": "session-post.intervals-consistent",
            "semantic/charging-inside-session": "session-post.intervals-consistent",
            "semantic/energy-not-negative": "session-post.intervals-consistent"}
# The cross-message rules (oioi.conversation, one implementation for the suite, the proxy and the traffic
# report) and the requirements of the catalogue whose sentence each judges.
CONVERSATION = {conversation.STATUS_RULE: ("connector-post-status.own-connectors",),
                conversation.START_RULE: ("session-post.session-id-by-cpo",),
                conversation.UPDATE_RULE: ("session-post.update-same-session", "session-post.redelivery-same-session"),
                conversation.IDENTIFIER_RULE: ("identifiers.partner-identifier-consistent",),
                conversation.RETRY_RULE: ("sender.retry-5xx",)}


def raised(before: list[Entry], entry: Entry, rule: str) -> Finding | None:
    """The finding of the cross-message ``rule`` that ``entry`` raises after ``before`` (oioi.conversation)."""
    talk = conversation.Conversation()
    for earlier in before:
        talk.add(earlier)
    return next((finding for finding in talk.add(entry) if finding.rule == rule), None)


def violated(finding: Finding | None, requirement: str, *, entry: Entry | None = None,
             journal: list[Entry] | None = None) -> None:
    """A finding of oioi.conversation as the failure of ``requirement`` (nothing without a finding).

    Its ``Received: …`` / ``Expected: …`` lines become the failure's; ``entry`` is the message that broke
    the rule, ``journal`` the messages it rests on.
    """
    if finding is None:
        return
    received, _, rest = finding.message.removeprefix("Received: ").partition("\nExpected: ")
    expected, _, note = rest.partition("\n")
    raise Nonconformance(requirement=requirement, received=received, expected=expected,
                         exchange=as_exchange(entry) if entry is not None else None, note=note or None,
                         journal=journal)


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


def one_call(entry: Entry, requirement: str = "sender.post-json") -> None:
    """request.rst: "The HTTP body must contain the JSON request" — one JSON object whose single key names the call.

    (The mock's endpoint only takes POST; any other method is refused with 405 and never reaches the journal.)
    """
    raw = entry.get("request_body")
    keys = list(raw) if isinstance(raw, dict) else None
    if keys is None or len(keys) != 1 or keys[0] not in calls():
        shape = f"top-level keys {keys!r}" if keys is not None else f"a body that is not a JSON object: {raw!r:.120}"
        raise Nonconformance(requirement=requirement, received=shape,
                             expected="a JSON object with exactly one key, the call's name, e.g. "
                                      "{\"station-post\": {...}}", exchange=as_exchange(entry))


def _definition(name: str) -> dict[str, Any]:
    found: dict[str, Any] = definition(name)
    return found


def _identifiers(node: Any, path: str = "") -> list[tuple[str, str, Any]]:
    """(kind, JSON pointer, value) of every EVSE ID, EVCO ID and partner identifier in a message."""
    found: list[tuple[str, str, Any]] = []
    if isinstance(node, list):
        for n, item in enumerate(node):
            found += _identifiers(item, f"{path}/{n}")
    if not isinstance(node, dict):
        return found
    for key, value in node.items():
        here = f"{path}/{key}"
        if key == "connector-id" or (key == "id" and re.search(r"/connectors/\d+$", path)):
            found.append(("evse-id", here, value))
        elif key == "evco-id" or (key == "identifier" and node.get("identifier-type") == "evco-id"):
            found.append(("evco-id", here, value))
        elif key == "partner-identifier":
            found.append(("partner-identifier", here, value))
        else:
            found += _identifiers(value, here)
    return found


IDENTIFIER_RULES = {"evse-id": "identifiers.evse-id-format", "evco-id": "identifiers.evco-id-format",
                    "partner-identifier": "identifiers.partner-identifier-length"}
# The spec's own examples write EVCO IDs with a 9-character ID part (the ISO 15118 eMAID form): reservation-start
# (its erratum accepts the form), reservation-stop and user-get-details. An ``identifier`` of identifier-type
# evco-id has no schema pattern, so no finding carries that erratum there: the form it accepts is taken from it.
EXAMPLES_EVCO_ID = next(e.accepts["pattern"] for e in errata() if e.id == "reservation-start:evco-id-pattern")


def _excused(raw: Any) -> dict[str, str]:
    """JSON pointer -> erratum of each field in the form only the spec's own example gives (lenient accepts it)."""
    if not isinstance(raw, dict):
        return {}
    return {f.path: f.erratum for f in validate(raw, profile="lenient") if f.erratum and f.severity != "error"}


def identifiers(entry: Entry) -> None:
    """glossary.rst: EVSE IDs and EVCO IDs match their structure; a partner identifier has at least 16 characters.

    Where the call's own example gives the form (an erratum of schemas/errata.json, e.g. station-post's
    partner identifier "1", or the EVCO ID "DE*8PS*156456730*9" of reservation-stop's), the spec contradicts
    itself: an IUT following the example is not failed.
    """
    raw = entry.get("request_body")
    excused = _excused(raw)
    for kind, path, value in _identifiers(raw):
        definition = _definition(kind)
        if "pattern" in definition:
            ok = isinstance(value, str) and re.search(definition["pattern"], value) is not None
            expected = f"an {kind.upper()} matching {definition['pattern']} ({definition['$comment']})"
        else:
            ok = isinstance(value, str) and len(value) >= definition["minLength"]
            expected = f"a string of at least {definition['minLength']} characters ({definition['$comment']})"
        if not ok and kind == "evco-id" and path.endswith("/identifier"):
            ok = isinstance(value, str) and re.search(EXAMPLES_EVCO_ID, value) is not None  # the examples' form
        if not ok and path not in excused:
            raise Nonconformance(requirement=IDENTIFIER_RULES[kind], received=f"{path} = {value!r}",
                                 expected=expected, exchange=as_exchange(entry))


def _partner_identifier_length(finding: Finding) -> bool:
    """A finding on a partner identifier's length: identifiers() judges it (identifiers.partner-identifier-length)."""
    return finding.rule == "schema/minLength" and finding.path.endswith("/partner-identifier")


def valid_request(entry: Entry, requirement: str = "sender.request-valid") -> None:
    """The request is valid under its call's schema, the spec's errata accepted (the lenient profile).

    A form only the strict profile refuses is the one of the spec's own example (schemas/errata.json):
    where the example and the field description disagree, an IUT following either is not failed. A
    partner identifier's length is identifiers.partner-identifier-length's, judged by ``identifiers``.
    """
    raw = entry.get("request_body")
    if not isinstance(raw, dict):
        raise Nonconformance(requirement=requirement, received=f"a body that is not a JSON object: {raw!r:.120}",
                             expected="one JSON object naming the call", exchange=as_exchange(entry))
    errors = [f for f in validate(raw, profile="lenient")
              if f.severity == "error" and not _partner_identifier_length(f)]
    if not errors:
        return
    first = errors[0]
    raise Nonconformance(
        requirement=SEMANTIC.get(first.rule, requirement),
        received=f"a {entry.get('call')} request that breaks {first.rule} at {first.path or '/'}",
        expected=f"a request valid under the {entry.get('call')} schema, the spec's errata accepted ({first.spec})",
        exchange=as_exchange(entry), note=first.message)


def for_the_partners_role(entry: Entry, requirement: str = "sender.role-calls") -> None:
    """The partner receives the call: the mock refuses the other role's calls with 403 and result 220."""
    if entry.get("status") == 403:
        raise Nonconformance(requirement=requirement, received=f"a {entry.get('call')} request, refused with 403/220",
                             expected="only calls the partner's role receives", exchange=as_exchange(entry))



# --- the pace of retries (request.rst, "Response") ------------------------------------------------


def waits(times: list[float]) -> list[float]:
    """The waits between consecutive tries, in seconds (rounded to the millisecond)."""
    return [round(b - a, 3) for a, b in itertools.pairwise(times)]


def jitter_tolerance(gaps: list[float], declared: float | None) -> float:
    """How much shorter than the one before a wait may be: as declared (--backoff-tolerance), else 0.5 — or 1
    (full jitter) when a wait is shorter than half the one before: a back-off with full jitter (tenacity's
    ``wait_random_exponential``, AWS's "full jitter") waits so by chance, and nobody declared it cannot."""
    if declared is not None:
        return declared
    shrank = any(later < DEFAULT_TOLERANCE * earlier - CLOCK for earlier, later in itertools.pairwise(gaps))
    return 1.0 if shrank else DEFAULT_TOLERANCE


def waits_grow(gaps: list[float], *, tolerance: float | None, journal: list[Entry],
               requirement: str = "sender.retry-backoff") -> None:
    """request.rst: "Your services must implement exponential back-off." — the waits between tries grow.

    Only what no back-off does fails: a storm (every wait under 0.1 s, clock noise), or a wait shorter
    than the one before by more than ``tolerance`` (the IUT's declared --backoff-tolerance, a fraction;
    1 for full jitter; undeclared, `jitter_tolerance` reads it from the waits, so that only a declared
    tolerance fails a shrinking wait). Three or more waits of which none grew past 1.25 times the first
    pass only when one grew; otherwise they are inconclusive: an exponential back-off clamped at a minimum (tenacity's
    ``wait_exponential(min=4)`` waits 4, 4, 4, 8 s) keeps a steady pace over its first waits. Equal
    jitter or +-50 % jitter on doubling waits from 0.1 s on always passes: the third wait is then at
    least 4/3 times the first (proven in tests/test_sent_units.py). Fewer than three waits are inconclusive.
    """
    tolerance = jitter_tolerance(gaps, tolerance)
    if gaps and max(gaps) < AT_ONCE:
        raise Nonconformance(requirement=requirement, received=f"waits between tries {gaps} s: a storm",
                             expected=f"waits that grow exponentially, not tries at once (all under {AT_ONCE:g} s) "
                                      f"{BACKOFF}", journal=journal)
    for earlier, later in itertools.pairwise(gaps):
        if tolerance < 1 and later < (1 - tolerance) * earlier - CLOCK:
            raise Nonconformance(requirement=requirement, received=f"waits between tries {gaps} s",
                                 expected=f"no wait shorter than {1 - tolerance:g} times the one before "
                                          f"(--backoff-tolerance {tolerance:g}): an exponential back-off {BACKOFF}",
                                 journal=journal)
    if len(gaps) < 3:
        raise Inconclusive(requirement, f"{len(gaps) + 1 if gaps else len(journal)} tries (waits {gaps} s): too few "
                           "to judge the back-off (a slower back-off needs a longer --retry-window)", journal=journal)
    if max(gaps[1:]) > max(GROWTH * gaps[0], AT_ONCE):
        return
    received = f"waits between tries {gaps} s: none grew past {GROWTH:g} times the first"
    if tolerance >= 1:
        raise Inconclusive(requirement, f"{received}; with full jitter (--backoff-tolerance {tolerance:g}) "
                           f"{len(gaps)} waits cannot show the trend", journal=journal)
    raise Inconclusive(requirement, f"{received}; a steady pace over {len(gaps)} waits cannot be told from a "
                       "back-off clamped at a minimum (e.g. 4, 4, 4, 8 s)", journal=journal)


def steady(gaps: list[float]) -> bool:
    """Waits that keep one pace: each within STEADY_SPREAD of their median (and the clock's noise)."""
    middle = statistics.median(gaps)
    return all(abs(gap - middle) <= STEADY_SPREAD * middle + CLOCK for gap in gaps)


def tries_thin_out(gaps: list[float], *, silence: float, tolerance: float | None, journal: list[Entry],
                   seconds: float, requirement: str = "sender.retry-bounded") -> None:
    """A message refused with 5xx for ``seconds`` is tried less and less often, or no more (exponential back-off).

    Six tries or more whose waits in the second half never grew past 1.25 times the longest of the first
    half keep a steady pace: a failure (inconclusive under full jitter, --backoff-tolerance 1; with no
    tolerance declared, only when those waits are `steady`: a jittered back-off cut off by the window can
    look so by chance, one run in about 3,000 with full jitter, tests/test_sent_units.py). It passes
    when they grew, or when the tries stopped: the ``silence`` after the last try is longer than any
    wait. Anything else is inconclusive. An IUT that backs off without ever giving up is not failed.
    """
    tries = f"{len(gaps) + 1} tries in {seconds:g} s of 503s (waits {gaps} s)"
    declared, tolerance = tolerance, jitter_tolerance(gaps, tolerance)
    if len(gaps) >= STEADY_GAPS:
        half = len(gaps) // 2
        if max(gaps[half:]) > max(GROWTH * max(gaps[:half]), AT_ONCE):
            return
        received = f"{tries}: the later waits no longer than {GROWTH:g} times the earlier"
        if tolerance >= 1:
            raise Inconclusive(requirement, f"{received}; with full jitter (--backoff-tolerance {tolerance:g}) "
                               "that may be chance", journal=journal)
        if declared is None and not steady(gaps[half:]):
            raise Inconclusive(requirement, f"{received}, but they vary: a jittered back-off may do so by chance "
                               "within the window (declare --backoff-tolerance to have it judged)", journal=journal)
        raise Nonconformance(requirement=requirement, received=received,
                             expected=f"tries that thin out exponentially, or stop: not a steady pace {BACKOFF}",
                             journal=journal)
    if gaps and silence > max(gaps):
        return  # the tries stopped, or the next wait is longer than any before
    raise Inconclusive(requirement, f"{tries}: too few to judge their pace (sender.retry-5xx judges retrying)",
                       journal=journal)
