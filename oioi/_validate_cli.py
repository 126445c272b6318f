"""``oioi validate``: check captured messages, one file, log or stream at a time.

A file is JSON (one message or a list), JSON Lines, a HAR file, a mock or proxy journal
(SQLite) or its export (`oioi.capture` reads those three); each exchange of a capture gives
its request and its response, labelled ``FILE#ID`` (the journal id, or the HAR entry's position).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import orjson

from oioi import capture
from oioi._findings import Finding, message_text
from oioi._validate import detect_call, is_bare_envelope, is_http_status, oioi_v3, validate
from oioi.errors import InputError

TRANSPORT_SPEC = "request.rst"


class Message:
    """One message read from the input, with where it came from."""

    __slots__ = ("body", "call", "direction", "problem", "source")

    def __init__(self, source: str, body: Any = None, problem: Finding | None = None) -> None:
        self.source = source
        self.body = body
        self.problem = problem
        self.call: str | None = None
        self.direction = "request"


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    """Validate every message of every PATH; 1 when one has an error."""
    counts = {"messages": 0, "invalid": 0, "errors": 0, "warnings": 0}
    as_json = args.output_format == "json"
    out: list[str] = []
    notes: list[str] = []  # what was read but is not a message (HAR entries that are not OIOI)
    for path in args.paths:
        for item in _read(path, stdin, notes):
            findings = _check(item, args)
            errors = sum(f.severity == "error" for f in findings)
            counts["messages"] += 1
            counts["errors"] += errors
            counts["warnings"] += len(findings) - errors
            counts["invalid"] += errors > 0
            if as_json:
                out.append(_json_line(item, findings, errors == 0))
            elif findings:
                out.append(_text_block(item, findings, errors))
            if len(out) >= 512:
                stdout.write("".join(out))
                out.clear()
    stdout.write("".join(out))
    if not as_json:
        stdout.write("".join(notes) + _summary(counts))
    return 1 if counts["invalid"] else 0


def _check(item: Message, args: argparse.Namespace) -> list[Finding]:
    if item.problem is not None:
        return [item.problem]
    body = item.body
    call, direction = args.call, args.direction
    status: Any = None
    if isinstance(body, dict) and "body" in body and ("direction" in body or body.keys() <= {"call", "body"}):
        # A wrapped message; extra keys (a journal export's time, status, id) are context.
        call = body.get("call", call)
        direction = body.get("direction", direction)
        status = body.get("status")
        body = body["body"]
    item.direction = direction if direction in ("request", "response") else "request"
    if direction not in ("request", "response"):
        return [_input_finding("message/wrapper", "/direction", repr(direction), "'request' or 'response'")]
    if call is not None and not isinstance(call, str):
        return [_input_finding("message/wrapper", "/call", repr(call), "a call name (string)")]
    if status is not None and not is_http_status(status):
        return [_input_finding("message/wrapper", "/status", repr(status), "an HTTP status from 100 to 599")]
    if direction == "response" and call is None and status in (None, 200) and not _judged_without_call(body):
        return [
            _input_finding(
                "message/call-unknown",
                "",
                "a response that does not say which call it answers",
                '--call NAME, or the line wrapped as {"call": NAME, "direction": "response", "body": {...}}',
            )
        ]
    item.call = call if call is not None else detect_call(body)
    try:
        return validate(body, call=call, direction=direction, profile=args.profile, status=status)
    except InputError as error:
        return [_input_finding("message/wrapper", "/call", repr(call), str(error))]
    except ValueError as error:  # a wrapper naming a call or direction that does not exist
        return [_input_finding("message/wrapper", "/call", repr(call), " ".join(str(error).split()))]


def _judged_without_call(body: Any) -> bool:
    """A bare error envelope (request.rst's error answer) or an OIOI v3 answer: judged without knowing the call."""
    return is_bare_envelope(body) or oioi_v3(body) is not None


def _read(path: str, stdin: TextIO, notes: list[str]) -> Iterator[Message]:
    """The messages of one input: JSON, JSON Lines, a HAR file, a journal (SQLite) or its export; ``-`` is stdin."""
    if path == "-":
        data = _stdin_bytes(stdin)
        name = "<stdin>"
    else:
        data = _file_bytes(path)
        name = path
    if path != "-" and (data.startswith(capture.SQLITE_MAGIC) or path.endswith(".har")):
        yield from _captured(name, capture.load(path), notes)
    elif path.endswith(".json") or (not path.endswith(".jsonl") and _is_one_document(data)):
        yield from _document(name, data, notes)
    else:
        yield from _lines(name, data)


def _file_bytes(path: str) -> bytes:
    return capture.file_bytes(Path(path), "give a .json, .jsonl or .har file, a journal (SQLite), or - for stdin",
                              prefix="oioi validate: ")


def _captured(name: str, captured: capture.Capture, notes: list[str]) -> Iterator[Message]:
    """Each exchange's request, then its response when one came, labelled ``NAME#ID`` (the journal id or HAR entry)."""
    if captured.skipped:
        entries = "1 HAR entry" if captured.skipped == 1 else f"{captured.skipped} HAR entries"
        notes.append(f"{name}: {entries} skipped: not an OIOI request (a POST naming a call)\n")
    for entry in captured.entries:
        yield from _exchange(name, entry)


def _exchange(name: str, entry: dict[str, Any]) -> Iterator[Message]:
    source = f"{name}#{entry['id']}"
    yield _exchange_message(source, entry["call"], "request", None, entry["request_body"])
    if entry["status"] is not None and entry["response_body"] is not None:  # None: the capture did not record it
        yield _exchange_message(source, entry["call"], "response", entry["status"], entry["response_body"])


def _exchange_message(source: str, call: Any, direction: Any, status: Any, body: Any) -> Message:
    if body is None or isinstance(body, str):  # the journal keeps a body that is not JSON as its text
        received = f"text that is not JSON: {body[:60]!r}" if body else "an empty body"
        item = Message(source, problem=_input_finding("message/json", "", received, "one JSON object"))
        item.call = call if isinstance(call, str) else None
        item.direction = direction if direction in ("request", "response") else "request"
        return item
    wrapped = {"call": call, "direction": direction, "body": body}
    return Message(source, wrapped if status is None else {**wrapped, "status": status})


def _stdin_bytes(stdin: TextIO) -> bytes:
    buffer = getattr(stdin, "buffer", None)
    if buffer is not None:
        data: bytes = buffer.read()
        return data
    return stdin.read().encode("utf-8", "surrogateescape")


def _is_one_document(data: bytes) -> bool:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return True


def _document(name: str, data: bytes, notes: list[str]) -> Iterator[Message]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        yield Message(f"{name}:1", problem=_parse_problem(data, error))
        return
    if capture.is_har(doc) or capture.is_entry(doc) or (
        isinstance(doc, list) and doc and all(capture.is_entry(item) for item in doc)
    ):
        yield from _captured(name, capture.loads(data, name), notes)
        return
    if isinstance(doc, list):
        for index, body in enumerate(doc, 1):
            yield Message(f"{name}:{index}", body)
    else:
        yield Message(f"{name}:1", doc)


def _lines(name: str, data: bytes) -> Iterator[Message]:
    loads = orjson.loads
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            item = loads(line)
        except orjson.JSONDecodeError as error:
            yield Message(f"{name}:{number}", problem=_parse_problem(line, error))
            continue
        if capture.is_entry(item):  # a whole journal entry: its request and its response
            yield from _exchange(name, capture.loads(line, name).entries[0])
        elif isinstance(item, dict) and isinstance(item.get("journal"), int) and "body" in item:  # an export line
            yield _exchange_message(f"{name}#{item['journal']}", item.get("call"), item.get("direction"),
                                    item.get("status"), item["body"])
        else:
            yield Message(f"{name}:{number}", item)


def _parse_problem(data: bytes, error: orjson.JSONDecodeError) -> Finding:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        return _input_finding(
            "message/utf-8",
            "",
            f"byte {data[bad.start]:#04x} at offset {bad.start}",
            "UTF-8 text: 'All data must be UTF-8 encoded'",
        )
    return _input_finding(
        "message/json", "", f"text that is not JSON ({error.msg} at character {error.pos})", "one JSON object"
    )


def _input_finding(rule: str, path: str, received: str, expected: str) -> Finding:
    return Finding("error", path, rule, message_text(received, expected), TRANSPORT_SPEC)


def _json_line(item: Message, findings: list[Finding], valid: bool) -> str:
    record = {
        "source": item.source,
        "call": item.call,
        "direction": item.direction,
        "valid": valid,
        "findings": [f.to_dict() for f in findings],
    }
    return orjson.dumps(record).decode() + "\n"


def _text_block(item: Message, findings: list[Finding], errors: int) -> str:
    warnings = len(findings) - errors
    counts = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    lines = [f"{item.source}: {item.call or '?'} {item.direction}: {counts}"]
    for f in findings:
        tag = f" [erratum {f.erratum}]" if f.erratum else ""
        lines.append(f"  {f.severity} at {f.path or '/'} ({f.rule}; {f.spec}){tag}")
        lines.extend(f"    {line}" for line in f.message.splitlines())
    return "\n".join(lines) + "\n"


def _summary(counts: dict[str, int]) -> str:
    valid = counts["messages"] - counts["invalid"]
    return (
        f"{_plural(counts['messages'], 'message')}: {valid} valid, {counts['invalid']} invalid "
        f"({_plural(counts['errors'], 'error')}, {_plural(counts['warnings'], 'warning')})\n"
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
