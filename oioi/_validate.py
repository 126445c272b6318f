"""``validate``: every rule of OIOI 4.19 that can be checked on a single message."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

from oioi import _schemas, _semantic
from oioi._findings import Finding, message_text, pointer
from oioi.errors import ConfigError

__all__ = ["PROFILES", "detect_call", "is_bare_envelope", "oioi_v3", "validate"]

PROFILES = ("strict", "lenient")
TRANSPORT_SPEC = "request.rst"
_LIST_SHOWN = 8


def validate(
    message: Any,
    *,
    call: str | None = None,
    direction: str = "request",
    profile: str = "strict",
    status: int | None = None,
) -> list[Finding]:
    """Check one OIOI message and return what is wrong with it (empty when nothing is).

    A request's call is read from its single top-level key unless ``call`` is given. A
    response carries no call name, so ``call`` is required for one. Under ``strict`` the
    field descriptions of the spec are the rule; ``lenient`` also accepts each erratum
    registered in ``schemas/errata.json`` (reported as a warning that names it).

    ``status`` is the HTTP status a response came with, when known: an answer other than
    200 is an error answer (request.rst), judged by the shape every error answer has — a
    ``result``, optionally an ``error`` — not by the call's payload; it needs no ``call``.
    So is a response without ``call`` that is that bare envelope (``{"result": {…}}``).
    An OIOI v3 answer (a ``success`` flag at the top or in the call's object, no ``result``)
    is one finding that says so, not the v4 field errors it would otherwise raise.
    """
    _check_arguments(call, direction, profile, status)
    if direction == "response" and (v3 := oioi_v3(message, call)) is not None:
        return [v3]
    if direction == "response" and (status not in (None, 200) or (call is None and is_bare_envelope(message))):
        if not isinstance(message, dict):
            return [_finding("message/not-an-object", "", f"{_show(message)}", "a JSON object", TRANSPORT_SPEC)]
        return list(_schema_findings(_schemas.error_answer_validator(), message, TRANSPORT_SPEC))
    if call is None and direction == "response":
        raise ConfigError(
            "Received: a response and no call\nExpected: the call it answers, e.g. call='session-start'. "
            "A response does not name its call, so pass it."
        )
    if not isinstance(message, dict):
        return [_finding("message/not-an-object", "", f"{_show(message)}", "a JSON object", TRANSPORT_SPEC)]
    if direction == "request":
        found, problem = _request_call(message, call)
        if problem is not None:
            return [problem]
        call = found
    assert call is not None
    findings = _message_findings(message, call, direction)
    return _apply_errata(findings, message, call, direction, profile)


def _check_arguments(call: str | None, direction: str, profile: str, status: int | None) -> None:
    if profile not in PROFILES:
        raise ConfigError(f"Received: profile {profile!r}\nExpected: one of {list(PROFILES)!r}.")
    if direction not in _schemas.DIRECTIONS:
        raise ConfigError(f"Received: direction {direction!r}\nExpected: one of {list(_schemas.DIRECTIONS)!r}.")
    if status is not None and not is_http_status(status):
        raise ConfigError(f"Received: status {status!r}\nExpected: an HTTP status from 100 to 599.")
    if call is not None:
        _schemas.check_call(call, direction)


def is_http_status(value: Any) -> bool:
    """Whether ``value`` is an HTTP status code (an integer from 100 to 599)."""
    return isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599


def detect_call(message: Any) -> str | None:
    """The call a request names by its single top-level key, or None when it names none."""
    if isinstance(message, dict) and len(message) == 1:
        (key,) = message
        if key in _schemas.calls():
            return str(key)
    return None


def is_bare_envelope(message: Any) -> bool:
    """Whether a response is the envelope every answer has and nothing else: ``result``, optionally ``error``."""
    return isinstance(message, dict) and "result" in message and message.keys() <= {"result", "error"}


def oioi_v3(message: Any, call: str | None = None) -> Finding | None:
    """The one finding for an OIOI v3 answer, or None: a ``success`` flag where v4 has a ``result`` object.

    v3 reports the outcome as a boolean ``success``, at the top (``{"success": true}``) or in
    the call's object (``{"session-start": {"success": true, …}}``); every v4 answer has a
    top-level ``result`` (request.rst, OIOI Response Codes), and no v4 call has a ``success`` field.
    """
    if not isinstance(message, dict) or "result" in message:
        return None
    where: list[str | int] = []
    if not isinstance(message.get("success"), bool):
        nested = [(str(key), value) for key, value in message.items()
                  if (key == call or key in _schemas.calls()) and not _example_shape(str(key))]
        flagged = [(key, value) for key, value in nested if isinstance(value, dict)
                   and isinstance(value.get("success"), bool)]
        if not flagged:
            return None
        where, message = [flagged[0][0]], flagged[0][1]
    return _finding(
        "message/oioi-v3",
        pointer([*where, "success"]),
        f"a 'success' flag ({message['success']!r}) and no 'result' object",
        "an OIOI v4 answer: the outcome in a top-level 'result': {'code': <integer>, 'message': <string>}, "
        "and no 'success'",
        TRANSPORT_SPEC,
        advice="This is OIOI v3: the partner answers in the protocol before v4; "
        "its fields are judged once it answers in v4.",
    )


def _example_shape(call: str) -> bool:
    """Whether the spec's own v4 example of ``call``'s answer nests its outcome in the call's object: a registered
    erratum (user-unblock-rfid), judged as one by the errata, not as OIOI v3."""
    return any(e.path == f"/{call}" for e in _schemas.errata_for(call, "response"))


def _request_call(message: dict[str, Any], call: str | None) -> tuple[str | None, Finding | None]:
    keys = list(message)
    if call is not None:
        if keys == [call]:
            return call, None
        return None, _finding(
            "message/call-key",
            "",
            f"top-level keys {keys!r}",
            f"exactly one top-level key, {call!r}: a request is an object whose single key names its call",
            TRANSPORT_SPEC,
        )
    if len(keys) != 1:
        return None, _finding(
            "message/call-key",
            "",
            f"{len(keys)} top-level keys {keys!r}",
            "exactly one top-level key naming the call, e.g. {'session-start': {...}}",
            TRANSPORT_SPEC,
        )
    (key,) = keys
    if key not in _schemas.calls():
        hint = _schemas.suggest(str(key), _schemas.calls())
        return None, _finding(
            "message/unknown-call",
            pointer([key]),
            f"call {key!r}",
            "one of the 42 OIOI 4.19 calls" + (f"; did you mean {hint!r}?" if hint else ""),
            TRANSPORT_SPEC,
        )
    return str(key), None


def _message_findings(message: dict[str, Any], call: str, direction: str) -> list[Finding]:
    spec = _schemas.spec_file(call, direction)
    findings: list[Finding] = []
    validator = _schemas.validator(call, direction)
    if not validator.is_valid(message):
        findings.extend(_schema_findings(validator, message, spec))
    for rule, path, severity, received, expected in _semantic.check(call, direction, message):
        findings.append(
            Finding(
                "warning" if severity == "warning" else "error",
                pointer(path),
                rule,
                message_text(received, expected),
                spec,
            )
        )
    return findings


def _apply_errata(findings: list[Finding], message: Any, call: str, direction: str, profile: str) -> list[Finding]:
    candidates = _schemas.errata_for(call, direction)
    if not candidates or not findings:
        return findings
    out = []
    for f in findings:
        value = _value_for(message, f)
        match = next((e for e in candidates if e.matches(call, direction, f.path, f.rule, value)), None)
        if match is None:
            out.append(f)
            continue
        severity = "warning" if profile == "lenient" else f.severity
        text = (
            f.message
            + f"\nKnown spec erratum {match.id}: {match.example_does} Accepted by the {match.profile} profile."
        )
        out.append(Finding(severity, f.path, f.rule, text, f.spec, match.id))
    return out


def _value_for(message: Any, finding: Finding) -> Any:
    """The value an erratum's ``accepts`` is checked against (the parent object for ``required``)."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in finding.path.split("/")[1:]]
    if finding.rule == "schema/required":
        parts = parts[:-1]
    node = message
    for part in parts:
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def _schema_findings(validator: Any, message: Any, spec: str) -> list[Finding]:
    """The schema's findings, a missing field's likely misspelling right after the missing field."""
    findings: list[Finding] = []
    misspelt: dict[str, str] = {}  # the pointer of a misspelt field -> the pointer of the field it stands for
    for finding, extra in _raw_schema_findings(validator, message, spec):
        findings.append(finding)
        if extra is not None:
            misspelt[extra] = finding.path
    if not misspelt:
        return findings
    moved = [f for f in findings if f.rule == "schema/unknown-field" and f.path in misspelt]
    ordered = [f for f in findings if f not in moved]
    for f in moved:
        index = next(i for i, g in enumerate(ordered) if g.rule == "schema/required" and g.path == misspelt[f.path])
        ordered.insert(index + 1, f)
    return ordered


def _raw_schema_findings(validator: Any, message: Any, spec: str) -> Iterator[tuple[Finding, str | None]]:
    """Each finding in the validator's order, with the pointer of a missing field's likely misspelling."""
    seen_paths: set[str] = set()
    for err in validator.iter_errors(message):
        path = list(err.instance_path)
        name = err.kind.name
        detail = err.kind.as_dict()
        if name == "additionalProperties":
            yield from ((f, None) for f in _unknown_fields(err, path, detail["unexpected"], spec))
            continue
        if name == "required":
            prop = detail["property"]
            extra = _misspelling(err, prop)
            hint = f"Did you mean {prop!r}? The object has {extra!r}; rename it to {prop!r}." if extra else None
            received = f"no field {prop!r}"
            expected = f"field {prop!r}, which the spec's field description requires here"
            finding = _finding("schema/required", pointer([*path, prop]), received, expected, spec, advice=hint)
            yield finding, (pointer([*path, extra]) if extra else None)
            continue
        where = pointer(path)
        if name in ("pattern", "format") and where in seen_paths:
            continue  # one finding per value: a date-time that breaks its pattern also breaks its format
        seen_paths.add(where)
        yield _finding(f"schema/{name}", where, _show(err.instance), _expected(name, detail, err), spec), None


def _misspelling(err: Any, prop: str) -> str | None:
    """The field of the object, unknown to its schema, that most likely is a misspelling of the missing ``prop``."""
    location = err.absolute_keyword_location
    if not location or not isinstance(err.instance, dict):
        return None
    known = _properties(location.removesuffix("/required"))
    if not known:
        return None
    extras = [str(key) for key in err.instance if key not in known]
    candidates = [key for key in extras if _schemas.suggest(key, known) == prop]
    return _schemas.suggest(prop, candidates) or (candidates[0] if candidates else None)


def _unknown_fields(err: Any, path: list[Any], unexpected: list[str], spec: str) -> Iterator[Finding]:
    known = _known_properties(err)
    for field in unexpected:
        hint = _schemas.suggest(field, known)
        yield Finding(
            "warning",
            pointer([*path, field]),
            "schema/unknown-field",
            message_text(
                f"field {field!r}",
                f"only the fields the spec defines here: {_short_list(known)}"
                + (f". Did you mean {hint!r}?" if hint else "")
                + " Receivers must accept unknown fields, so this is a warning.",
            ),
            spec,
        )


def _known_properties(err: Any) -> list[str]:
    location = err.absolute_keyword_location
    if not location:
        return []
    return _properties(location.removesuffix("/additionalProperties"))


def _properties(uri: str) -> list[str]:
    """The property names the schema node at ``uri`` defines, following its ``$ref`` when it has none of its own."""
    node = _schemas.resolve(uri)
    while isinstance(node, dict) and "properties" not in node and isinstance(node.get("$ref"), str):
        uri = urljoin(uri, node["$ref"])
        node = _schemas.resolve(uri)
    return sorted(node.get("properties", {})) if isinstance(node, dict) else []


def _expected(name: str, detail: dict[str, Any], err: Any) -> str:
    what = _node_description(err)
    if name == "type":
        text = "a value of type " + " or ".join(detail["types"])
    elif name == "enum":
        text = "one of " + _short_list(detail["options"])
    elif name == "const":
        text = f"exactly {detail.get('expected_value')!r}"
    elif name == "pattern":
        text = f"a string matching {detail['pattern']!r}"
    elif name == "format":
        text = f"a valid {detail['format']} value"
    elif name in ("minLength", "maxLength", "minItems", "maxItems"):
        bound = "at least" if name.startswith("min") else "at most"
        unit = "characters" if name.endswith("Length") else "items"
        text = f"{bound} {detail['limit']} {unit}"
    elif name in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        symbol = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[name]
        text = f"a number {symbol} {detail['limit']}"
    elif name == "uniqueItems":
        text = "items without repeats"
    elif name == "anyOf":
        alternatives = [c.message for branch in detail.get("context", []) for c in branch]
        text = (
            "a value where one of these holds: not " + "; not ".join(alternatives) if alternatives else "another value"
        )
    else:
        text = err.message
    return f"{text} ({what})" if what else text


def _node_description(err: Any) -> str:
    location = err.absolute_keyword_location
    if not location or "#" not in location:
        return ""
    try:
        node = _schemas.resolve(location.rsplit("/", 1)[0])
    except (KeyError, IndexError, ValueError):
        return ""
    return str(node.get("description", "")).split(". ")[0].rstrip(".") if isinstance(node, dict) else ""


def _short_list(items: list[Any]) -> str:
    shown = ", ".join(repr(i) for i in items[:_LIST_SHOWN])
    more = len(items) - _LIST_SHOWN
    return f"[{shown}{f', … {more} more' if more > 0 else ''}]"


def _show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _finding(rule: str, path: str, received: str, expected: str, spec: str, advice: str | None = None) -> Finding:
    return Finding("error", path, rule, message_text(received, expected, advice), spec)
