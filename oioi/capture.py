"""Captured traffic as journal entries: a mock or proxy journal, its export, or a HAR file.

Every tool that reads traffic someone captured (``oioi validate``, the report, replay,
regress) reads it here, as the journal entries the mock writes (mock_server/_store.py, one
dict per exchange): ``id``, ``time``, ``exchange``, ``call``, ``request_headers`` (the API key
masked), ``request_body``, ``status``, ``response_body``, ``result_code``, ``findings``,
``latency_ms``, ``fault`` and ``peer`` (None when the capture does not say).

>>> entries = read("journal.sqlite3")  # doctest: +SKIP
>>> entries[0]["call"], entries[0]["status"]  # doctest: +SKIP
('station-post', 200)
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import shlex
import sqlite3
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from oioi._secrets import masked_headers
from oioi._validate import detect_call
from oioi.errors import InputError

__all__ = ["KEY_VARIABLE", "URL_VARIABLE", "Capture", "curl", "curl_command", "export_lines", "file_bytes",
           "is_entry", "is_har", "is_utf8", "journal_entry", "load", "loads", "read"]

SQLITE_MAGIC = b"SQLite format 3\x00"
OIOI_PATH = "/api/v4/request"  # request.rst: every request is POSTed to this one endpoint
_JSON_COLUMNS = ("request_headers", "findings", "fault")
_BODY_COLUMNS = ("request_body", "response_body")
KEY_VARIABLE, URL_VARIABLE = "OIOI_API_KEY", "OIOI_URL"  # a curl reads the key (and a URL not known) from these
_NO_URL = "OIOI-URL-PLACEHOLDER"  # stands for the URL in a curl until it becomes "$OIOI_URL"
# Headers a re-sent request must not repeat: hop-by-hop ones (RFC 9110 7.6.1), the host and length of the
# original connection (a redacted body has another length), and a compression curl would not undo.
_NOT_RESENT = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade", "host", "content-length", "accept-encoding"}
_FORMATS = (
    "give a HAR file (.har), a mock or proxy journal (its SQLite --db file) "
    "or a journal export ('oioi mock journal --format jsonl|json')"
)


class Capture(NamedTuple):
    """What a capture file holds: its exchanges as journal entries, and how many of its entries were not OIOI."""

    entries: list[dict[str, Any]]
    skipped: int  # HAR entries that are not OIOI requests (not a POST, or a body that names no call)
    kind: str  # "journal", "export" or "har"


def read(path: str | Path) -> list[dict[str, Any]]:
    """The exchanges of a capture file as journal entries, oldest first; `InputError` for any other file."""
    return load(path).entries


def load(path: str | Path) -> Capture:
    """`read`, also saying how many entries of a HAR file were skipped and which kind of capture it was."""
    file = Path(path)
    data = file_bytes(file)
    if data.startswith(SQLITE_MAGIC):
        return Capture(_from_sqlite(file), 0, "journal")
    return loads(data, str(file))


def loads(data: bytes, name: str = "<data>") -> Capture:
    """`load` of a HAR file's or a journal export's bytes (a journal, an SQLite file, needs `load`)."""
    if data.startswith(SQLITE_MAGIC):
        raise InputError(f"{name} is a journal (SQLite): read it from its file, not from a stream.")
    with contextlib.suppress(orjson.JSONDecodeError):
        doc = orjson.loads(data)
        if is_har(doc):
            return _from_har(doc["log"]["entries"])
        if isinstance(doc, list) and all(is_entry(item) for item in doc):
            return Capture([_complete(dict(item), index) for index, item in enumerate(doc, 1)], 0, "export")
        if is_entry(doc) or _is_export_line(doc):
            return Capture(_from_lines([doc]), 0, "export")
        raise InputError(f"{name} is JSON but not a capture; {_FORMATS}.")
    return Capture(_from_lines(_json_lines(name, data)), 0, "export")


def is_har(doc: Any) -> bool:
    """Whether a JSON document is a HAR log (``{"log": {"entries": [...]}}``)."""
    return isinstance(doc, dict) and isinstance(doc.get("log"), dict) and isinstance(doc["log"].get("entries"), list)


def is_entry(item: Any) -> bool:
    """Whether ``item`` is a journal entry (one exchange), as ``oioi mock journal --format json`` writes them."""
    return isinstance(item, dict) and "exchange" in item and "request_body" in item


def journal_entry(row: Mapping[str, Any]) -> dict[str, Any]:
    """One row of the journal table (mock_server/_store.py) as a journal entry.

    The JSON columns are decoded; a body is parsed when it is JSON and otherwise kept as the
    text that was on the wire; a row without a ``peer`` column gets ``peer`` None.
    """
    entry = dict(row)
    for key in _JSON_COLUMNS:
        if isinstance(entry.get(key), str):
            entry[key] = json.loads(entry[key])
    for key in _BODY_COLUMNS:
        text = entry.get(key)
        if text:
            with contextlib.suppress(ValueError):  # not JSON: kept as the text that was on the wire
                entry[key] = json.loads(text)
    entry.setdefault("peer", None)
    return entry


def file_bytes(file: Path, give: str = _FORMATS, *, prefix: str = "") -> bytes:
    """The bytes of ``file``; InputError (one sentence ending with what to ``give`` instead) when it cannot be read."""
    try:
        return file.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{prefix}{file}: no such file; {give}.") from None
    except IsADirectoryError:
        raise InputError(f"{prefix}{file} is a folder; {give}.") from None
    except OSError as error:
        raise InputError(f"{prefix}{file} cannot be read ({error.strerror}); {give}.") from None


# --- a journal (SQLite) -------------------------------------------------------------------------


def _from_sqlite(file: Path) -> list[dict[str, Any]]:
    """The journal table of a mock or proxy --db file, opened read-only (the mock may still be writing it)."""
    try:
        db = sqlite3.connect(f"file:{urllib.parse.quote(str(file))}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as error:
        raise InputError(f"Cannot open {file} as a journal ({error}).") from None
    try:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM journal ORDER BY id").fetchall()
    except sqlite3.Error as error:
        raise InputError(f"{file} is an SQLite file but not a mock or proxy journal ({error}).") from None
    finally:
        db.close()
    return [journal_entry(row) for row in rows]


# --- a journal export (JSON or JSON Lines) ------------------------------------------------------


def _is_export_line(item: Any) -> bool:
    """A line of ``oioi mock journal --format jsonl``: one message of an exchange, wrapped, with its journal id."""
    return isinstance(item, dict) and "journal" in item and "direction" in item and "body" in item


def _json_lines(name: str, data: bytes) -> Iterator[Any]:
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise InputError(f"{name} line {number} is not JSON; {_FORMATS}.") from None
        if not (is_entry(item) or _is_export_line(item)):
            raise InputError(f"{name} line {number} is not a journal entry; {_FORMATS}.")
        yield item


def _from_lines(items: Iterator[Any] | list[Any]) -> list[dict[str, Any]]:
    """Entries from export lines: a whole entry per line, or a request line and its response line per exchange."""
    entries: dict[Any, dict[str, Any]] = {}
    for item in items:
        if is_entry(item):
            entries[("entry", len(entries))] = _complete(dict(item), len(entries) + 1)
            continue
        key = ("line", item["journal"])
        entry = entries.setdefault(key, _complete({"id": item["journal"], "request_body": None}, len(entries) + 1))
        for name in ("time", "exchange", "call", "peer"):
            if item.get(name) is not None:
                entry[name] = item[name]
        if item["direction"] == "response":
            entry["status"], entry["response_body"] = item.get("status"), item["body"]
            entry["result_code"] = _result_code(item["body"])
        else:
            entry["request_body"] = item["body"]
    return list(entries.values())


def _complete(entry: dict[str, Any], index: int) -> dict[str, Any]:
    """``entry`` with every field of a journal entry; what the capture does not say is empty (latency 0.0)."""
    entry.setdefault("id", index)
    for name, empty in (("time", ""), ("exchange", "inbound"), ("call", None), ("status", None),
                        ("response_body", None), ("fault", None), ("peer", None)):
        entry.setdefault(name, empty)
    entry.setdefault("request_headers", {})
    entry.setdefault("findings", [])
    entry.setdefault("latency_ms", 0.0)
    entry.setdefault("result_code", _result_code(entry["response_body"]))
    return entry


def _result_code(body: Any) -> int | None:
    result = body.get("result") if isinstance(body, dict) else None
    code = result.get("code") if isinstance(result, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


# --- a HAR file -----------------------------------------------------------------------------------


def _from_har(items: list[Any]) -> Capture:
    """The OIOI exchanges of a HAR 1.2 log; ``id`` is the entry's position in ``log.entries`` (from 1).

    An entry is OIOI when it is a POST whose body names a call by its single top-level key,
    or a POST to the OIOI endpoint (request.rst: ``/api/v4/request``) whatever its body.
    A HAR's exchanges are ``inbound``: requests the captured server received.
    """
    entries, skipped = [], 0
    for index, item in enumerate(items, 1):
        entry = _har_entry(item, index)
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    return Capture(entries, skipped, "har")


def _har_entry(item: Any, index: int) -> dict[str, Any] | None:
    request = item.get("request") if isinstance(item, dict) else None
    if not isinstance(request, dict) or str(request.get("method", "")).upper() != "POST":
        return None
    body = _parsed(_har_content(request.get("postData")))
    call = detect_call(body)
    if call is None and not urllib.parse.urlsplit(str(request.get("url", ""))).path.endswith(OIOI_PATH):
        return None
    response = _dict(item.get("response"))
    status = response.get("status")
    answered = isinstance(status, int) and status > 0  # HAR: 0 (or -1) when no answer came
    response_body = _parsed(_har_content(response.get("content"))) if answered else None
    latency = item.get("time")
    return {
        "id": index, "time": str(item.get("startedDateTime", "")), "exchange": "inbound", "call": call,
        "request_headers": masked_headers(_har_headers(request.get("headers"))), "request_body": body,
        "status": status if answered else None, "response_body": response_body,
        "result_code": _result_code(response_body), "findings": [],
        "latency_ms": float(latency) if isinstance(latency, int | float) and latency >= 0 else 0.0,
        "fault": None, "peer": None,
    }


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _har_headers(headers: Any) -> dict[str, str]:
    """HAR's ``[{name, value}]`` as one dict; a repeated header's values joined by ', ' (RFC 9110)."""
    out: dict[str, str] = {}
    for header in headers if isinstance(headers, list) else []:
        if not isinstance(header, dict) or str(header.get("name", "")).startswith(":"):
            continue  # HTTP/2 pseudo-headers are not headers
        name, value = str(header.get("name", "")), str(header.get("value", ""))
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _har_content(content: Any) -> str | None:
    """The text of a HAR ``content`` (or ``postData``), decoded when its ``encoding`` is base64.

    None when the HAR did not record it (no ``text``, or an empty one for a body whose ``size`` was not 0).
    """
    if not isinstance(content, dict) or not isinstance(content.get("text"), str):
        return None
    text: str = content["text"]
    if not text and isinstance(content.get("size"), int) and content["size"] > 0:
        return None
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return text
    return text


def _parsed(text: Any) -> Any:
    """A body as the journal holds it: the parsed JSON, or the text when it is not JSON."""
    if not isinstance(text, str) or not text:
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


# --- sending a captured request again, and exporting a journal --------------------------------------


def curl(entry: Mapping[str, Any], url: str | None = None) -> str:
    """A shell command that sends the entry's request again: the key from $OIOI_API_KEY, the URL given,
    the one the capture recorded, or $OIOI_URL."""
    target = url or entry.get("url") or _NO_URL
    headers = {k: v for k, v in masked_headers(entry.get("request_headers") or {}).items()
               if k.lower() not in _NOT_RESENT}
    if not entry.get("request_headers"):  # a capture without headers (a journal export): what request.rst asks for
        headers = {"Content-Type": "application/json", "Authorization": "key=****"}
    raw = entry.get("request_body")
    text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
    command = curl_command(str(target), headers, (text or "").encode("utf-8", "surrogateescape"))
    return command.replace(f" {_NO_URL} ", f' "${URL_VARIABLE}" ', 1)


def curl_command(url: str, headers: Mapping[str, str], body: bytes) -> str:
    """``curl`` POSTing ``body`` to ``url`` with ``headers``; an ``Authorization: key=…`` reads ``$OIOI_API_KEY``."""
    parts = ["curl", "-sS", "-i", "-X", "POST", shlex.quote(url)]
    for name, value in headers.items():
        if name.lower() == "authorization" and value.startswith("key="):
            parts += ["-H", f'"Authorization: key=${KEY_VARIABLE}"']
        else:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body.isascii() or is_utf8(body):
        parts += ["--data-binary", shlex.quote(body.decode("utf-8", errors="surrogateescape"))]
    else:
        parts = [f"printf {shlex.quote(_printf_escape(body))} |", *parts, "--data-binary", "@-"]
    return " ".join(parts)


def is_utf8(raw: bytes) -> bool:
    """Whether ``raw`` decodes as UTF-8 (request.rst: "All data must be UTF-8 encoded")."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _printf_escape(raw: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 and chr(b) not in "\\%'" else f"\\{b:03o}" for b in raw)


def export_lines(entries: list[dict[str, Any]]) -> Iterator[str]:
    """A journal's JSONL export (``oioi mock journal``, ``/admin/journal.jsonl``): a line per request and per
    answer, each with the entry's ``journal`` id, ``time``, ``exchange`` and ``peer`` (when known); `read` takes it."""
    for entry in entries:
        context = {"journal": entry["id"], "time": entry["time"], "exchange": entry["exchange"]}
        if entry.get("peer") is not None:  # who sent the request through the proxy
            context["peer"] = entry["peer"]
        yield json.dumps({**context, "call": entry["call"], "direction": "request", "body": entry["request_body"]})
        if entry["status"] is not None:
            yield json.dumps({**context, "call": entry["call"], "direction": "response", "status": entry["status"],
                              "body": entry["response_body"]})
