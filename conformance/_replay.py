"""Replay of captured traffic: send a capture's requests again and compare each answer with the captured one.

A capture is a list of journal entries (`oioi.capture.read`: the mock's or the proxy's journal, its
export, a HAR file). The requests that name a call are sent again, in the capture's order, to one
OIOI endpoint (the implementation, fixed or not, or the mock) with the captured body and
Content-Type and a fresh ``Authorization: key=…``. A capture keeps a JSON body parsed, so it is sent
re-encoded (`request_body`: the same keys, order and values; the spacing may differ from the original
bytes); a body that was not JSON goes as the captured text. Each answer is compared with the captured one:

- **conformance** of each answer, by the suite's own checks (`conformance.checks.answer_conforms`:
  an answer came, HTTP 200 with a body valid under the call's response schema or a 4xx refusal with no
  success code, request.rst; `result_code_allowed_for_call`: a code of request.rst's table). Only a MUST
  failure counts; a SHOULD (a 4xx body without a JSON ``result``: our reading) or a warning of the
  validator is shown, never "broken".
- **the answer itself**: HTTP status and every field of the body that is not volatile.

Volatile fields (`volatile_fields`) are those whose value an answer may change from one run to the
next without any change of behaviour; only their presence is compared, never their value. They are
derived from the call's response schema:

- a moment: a field of the glossary's ``date-time`` (``format: date-time``) — a reservation's ``end``,
  a station's ``last-static-change``: the answerer stamps them from its clock;
- free text: ``result.message`` — request.rst fixes what a result *code* means, never the text beside it;
- an id the answerer makes: a plain string (no pattern, enum or format of the glossary) named ``…-id``,
  ``…-ids`` or ``token`` — session-start's ``session-id``, user-register's ``token``. Ids of the
  glossary (EVSE ID, EVCO ID, UID) have a fixed format and come from the request or the answerer's data,
  so they are compared.

An id the answerer made in a captured answer and that a later captured request names is replaced, in
that request, by the id the endpoint gives now (a ``session-start`` then a ``session-stop`` of that
session); each replacement is said in the output. When ``--exchange`` or ``--call`` leave out the
request whose answer gave such an id, it is sent too (`with_givers`), and that is said as well.

The verdict per exchange: ``same``; ``now conforming`` (the captured answer broke a check, the new
one does not); ``now broken`` (the captured answer passed the checks, the new one breaks one);
``different`` (both pass, or both break, but the status, the result code or a non-volatile field
differs).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from conformance import checks
from conformance._catalogue import requirement
from conformance._exchange import Exchange, Iut
from conformance._failures import Nonconformance
from oioi import calls, definition, receiver, schema
from oioi.errors import ConfigError, HarnessError

__all__ = ["VERDICTS", "Answer", "Outcome", "Replay", "given_ids", "learn_ids", "level", "problems", "request_body",
           "rewrite", "role_of", "selected", "value_at", "volatile_fields", "with_givers"]

SAME, NOW_CONFORMING, NOW_BROKEN, DIFFERENT = "same", "now conforming", "now broken", "different"
VERDICTS = (SAME, NOW_CONFORMING, NOW_BROKEN, DIFFERENT)
MOMENT, TEXT, GIVEN_ID = "a moment (date-time)", "free text", "an id the answerer makes"
Path = tuple[str, ...]  # property names, "*" for any item of a list
DEFINITIONS = "common/definitions.json#/$defs/"


# --- which fields are volatile --------------------------------------------------------------------


@functools.cache
def volatile_fields(call: str) -> dict[Path, str]:
    """The volatile fields of ``call``'s answers, by path, with why each is volatile (see the module text)."""
    found: dict[Path, str] = {("result", "message"): TEXT}
    _walk(schema(call, "response"), (), found, depth=0)
    return found


def _walk(node: Any, path: Path, found: dict[Path, str], depth: int) -> None:
    if not isinstance(node, dict) or depth > 20:
        return
    ref = node.get("$ref")
    if isinstance(ref, str) and DEFINITIONS in ref:
        name = ref.rsplit("/", 1)[-1]
        if name != "result":  # result.message is free text; result.code is compared
            _walk(definition(name), path, found, depth + 1)
        return
    if node.get("format") == "date-time":
        found[path] = MOMENT
        return
    if node.get("type") == "string" and not {"pattern", "enum", "const", "format"} & set(node) and _names_id(path):
        found[path] = GIVEN_ID
    for name, child in node.get("properties", {}).items():
        _walk(child, (*path, name), found, depth + 1)
    if "items" in node:
        _walk(node["items"], (*path, "*"), found, depth + 1)
    for key in ("oneOf", "anyOf", "allOf"):
        for child in node.get(key, []):
            _walk(child, path, found, depth + 1)


def _names_id(path: Path) -> bool:
    names = [p for p in path if p != "*"]
    return bool(names) and (names[-1].endswith(("-id", "-ids")) or names[-1] == "token")


def _volatile(call: str, path: Sequence[str | int]) -> str | None:
    shape = tuple("*" if isinstance(p, int) else p for p in path)
    return volatile_fields(call).get(shape)


# --- comparing two answers ------------------------------------------------------------------------


def _pointer(path: Sequence[str | int]) -> str:
    return "/" + "/".join(str(p) for p in path)


def differences(call: str, captured: Any, now: Any, path: tuple[str | int, ...] = ()) -> list[str]:
    """Where ``now`` differs from ``captured`` in a field that is not volatile (a volatile one: only if it went
    or came), one phrase each."""
    if path and _volatile(call, path):
        return []
    if isinstance(captured, dict) and isinstance(now, dict):
        found: list[str] = []
        for key in [*captured, *(k for k in now if k not in captured)]:
            where = _pointer((*path, key))
            if key not in now:
                found.append(f"{where} is missing (was {_short(captured[key])})")
            elif key not in captured:
                found.append(f"{where} is new: {_short(now[key])}")
            else:
                found += differences(call, captured[key], now[key], (*path, key))
        return found
    if isinstance(captured, list) and isinstance(now, list) and len(captured) == len(now):
        return [d for i, (a, b) in enumerate(zip(captured, now, strict=True))
                for d in differences(call, a, b, (*path, i))]
    if type(captured) is not type(now) or captured != now:
        return [f"{_pointer(path)}: {_short(now)} (was {_short(captured)})"]
    return []


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


# --- judging one answer ---------------------------------------------------------------------------


def level(failure: Nonconformance) -> str:
    """The level of the requirement a failure speaks for: ``SHOULD`` (our reading) or ``MUST`` (a requirement the
    catalogue does not list, e.g. ``user-logout.answer``, is the call's definition: MUST)."""
    try:
        return str(requirement(failure.requirement or "")["level"])
    except KeyError:
        return "MUST"


def problems(exchange: Exchange, call: str) -> tuple[list[str], list[str]]:
    """What the suite's checks find wrong with the answer, as its answer check runs them (`checks.answer_conforms`,
    then `checks.result_code_allowed_for_call`, up to the first failure): (MUST failures, SHOULD failures), each a
    ``Received: … / Expected: …`` text. Only a MUST failure is a proof that the answer breaks the spec."""
    try:
        checks.answer_conforms(exchange, call)
        checks.result_code_allowed_for_call(exchange, call)
    except Nonconformance as failure:
        return ([failure.message], []) if level(failure) == "MUST" else ([], [failure.message])
    return [], []


@dataclasses.dataclass
class Answer:
    """One answer as compared: HTTP status (None: none came), result code as received, body, what broke."""

    status: int | None
    result_code: Any
    body: Any
    problems: list[str]  # MUST failures: the answer breaks the spec
    doubts: list[str] = dataclasses.field(default_factory=list)  # SHOULD failures: our reading, never "broken"

    @classmethod
    def of(cls, exchange: Exchange, call: str) -> Answer:
        body = exchange.json()
        if body is None and exchange.response_body is not None:
            body = exchange.response_body.decode("utf-8", errors="backslashreplace")
        return cls(exchange.status, exchange.result_code(), body, *problems(exchange, call))

    def describe(self) -> str:
        if self.status is None:
            return "no answer"
        code = self.result_code
        shown = f"{code:03d}" if isinstance(code, int) and not isinstance(code, bool) else repr(code)
        return f"HTTP {self.status}, result {'none' if code is None else shown}"

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "result_code": self.result_code, "conforms": not self.problems,
                "problems": self.problems, "should": self.doubts}


def captured_exchange(entry: dict[str, Any]) -> Exchange:
    """The captured answer of a journal entry as an `Exchange`, for the checks."""
    body = entry.get("response_body")
    raw = None if body is None else body.encode() if isinstance(body, str) else json.dumps(body).encode()
    status = entry.get("status")
    return Exchange(url="", request_headers={}, request_body=b"", status=status,
                    response_body=raw if status is not None else None,
                    error=None if status is not None else "no answer was captured")


def verdict(call: str, captured: Answer, now: Answer) -> tuple[str, list[str]]:
    """The verdict of one exchange and the differences it rests on."""
    if captured.problems and not now.problems:
        return NOW_CONFORMING, []
    if now.problems and not captured.problems:
        return NOW_BROKEN, []
    found = [] if captured.status == now.status else [f"HTTP {now.status} (was {captured.status})"]
    found += differences(call, captured.body, now.body)
    return (DIFFERENT, found) if found else (SAME, [])


# --- choosing and preparing the requests ----------------------------------------------------------


def selected(entries: Iterable[dict[str, Any]], *, call_names: Sequence[str] = (), exchanges: Sequence[str] = (),
             role: str | None = None) -> list[dict[str, Any]]:
    """The captured requests to send again, in the capture's order: those that name a call, narrowed by
    ``call_names``, ``exchanges`` (entry ids) and ``role`` (the role that receives the call)."""
    known = set(calls())
    chosen = [e for e in entries if e.get("call") in known]
    ids = {str(e.get("id")) for e in chosen}
    missing = [x for x in exchanges if x not in ids]
    if missing:
        raise ConfigError(f"The capture has no request with a call under exchange id {missing[0]!r}; the ids of its "
                          "requests are the journal's 'id' (oioi mock journal lists them).")
    chosen = [e for e in chosen if (not exchanges or str(e.get("id")) in exchanges)
              and (not call_names or e["call"] in call_names) and (role is None or receiver(e["call"]) == role)]
    if not chosen:
        raise ConfigError("Nothing to replay: the capture holds no request with a call that the given --call, "
                          "--exchange and --role leave.")
    roles = sorted({receiver(e["call"]) for e in chosen})
    if len(roles) > 1:
        raise ConfigError("The capture holds requests to a CPO and to an EMP; choose the side the URL plays with "
                          "--role cpo or --role emp (or narrow with --call).")
    return chosen


def content_type(entry: dict[str, Any]) -> str:
    """The captured request's Content-Type (``application/json`` when the capture has none)."""
    headers = entry.get("request_headers") or {}
    found = [v for k, v in headers.items() if isinstance(k, str) and k.lower() == "content-type"]
    return str(found[0]) if found else "application/json"


def request_body(body: Any) -> bytes:
    """The bytes of a captured request body: a raw text as it is, parsed JSON re-encoded (UTF-8)."""
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def rewrite(body: Any, given: dict[str, str]) -> tuple[Any, dict[str, str]]:
    """``body`` with every captured id of ``given`` replaced by the one given now; the replacements made."""
    used: dict[str, str] = {}

    def swap(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        if isinstance(value, str) and value in given:
            used[value] = given[value]
            return given[value]
        return value

    if isinstance(body, str):  # a body the capture kept as text: the ids inside it
        for old, new in given.items():
            if old in body:
                used[old], body = new, body.replace(old, new)
        return body, used
    return swap(body), used


def _at(body: Any, pattern: Path, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if not pattern:
        yield path, body
    elif pattern[0] == "*" and isinstance(body, list):
        for i, item in enumerate(body):
            yield from _at(item, pattern[1:], (*path, i))
    elif isinstance(body, dict) and pattern[0] in body:
        yield from _at(body[pattern[0]], pattern[1:], (*path, pattern[0]))


def value_at(body: Any, path: tuple[str | int, ...]) -> Any:
    """The value at ``path`` in ``body`` (None when there is none)."""
    for step in path:
        if isinstance(step, int) and isinstance(body, list) and step < len(body):
            body = body[step]
        elif isinstance(step, str) and isinstance(body, dict):
            body = body.get(step)
        else:
            return None
    return body


def _given_at(call: str, body: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Where ``body`` (an answer to ``call``) holds an id the answerer made, and that id."""
    for pattern, why in volatile_fields(call).items():
        if why == GIVEN_ID:
            yield from ((path, value) for path, value in _at(body, pattern) if isinstance(value, str) and value)


def learn_ids(call: str, captured: Any, now: Any) -> tuple[dict[str, str], list[str]]:
    """The ids the answerer made in ``captured`` mapped to those at the same place in ``now``; and the captured
    ids that have no counterpart now (by path, e.g. ``/session-start/session-id``)."""
    mapped: dict[str, str] = {}
    lost: list[str] = []
    for path, old in _given_at(call, captured):
        if isinstance(new := value_at(now, path), str) and new:
            mapped[old] = new
        else:
            lost.append(f"{_pointer(path)} {old!r}")
    return mapped, lost


def role_of(chosen: Sequence[dict[str, Any]]) -> str:
    """The role that receives the chosen requests (`selected` made sure it is one)."""
    return receiver(str(chosen[0]["call"]))


def given_ids(entry: dict[str, Any]) -> dict[str, str]:
    """The ids the answerer made in this entry's captured answer, by where they are (``/session-start/session-id``)."""
    return {_pointer(path): value for path, value in _given_at(str(entry["call"]), entry.get("response_body"))}


def _strings(body: Any) -> set[str]:
    if isinstance(body, dict):
        return {s for v in body.values() for s in _strings(v)}
    if isinstance(body, list):
        return {s for v in body for s in _strings(v)}
    return {body} if isinstance(body, str) else set()


def with_givers(everything: Sequence[dict[str, Any]], chosen: Sequence[dict[str, Any]]
                ) -> tuple[list[dict[str, Any]], list[tuple[Any, str]]]:
    """``chosen`` and, before them, each earlier exchange whose answer gave an id a kept request names (one pass
    from the last request back, so the giver of a giver is kept too); the added ones with why."""
    requests = selected(everything, role=role_of(chosen))
    keep, named = {id(e) for e in chosen}, set[str]()
    added: list[tuple[Any, str]] = []
    for entry in reversed(requests):
        if id(entry) not in keep and (ids := set(given_ids(entry).values()) & named):
            keep.add(id(entry))
            added.insert(0, (entry.get("id"), f"its answer gave {sorted(ids)[0]!r}, which a later request names"))
        if id(entry) in keep:
            named |= _strings(entry.get("request_body"))
    return [e for e in requests if id(e) in keep], added


# --- the replay -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Outcome:
    """One replayed exchange: its entry id and call, the verdict, both answers and what was changed."""

    id: Any
    call: str
    verdict: str
    captured: Answer
    now: Answer
    differences: list[str]
    ids: dict[str, str]  # captured id → id sent instead, in this request
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "call": self.call, "verdict": self.verdict, "captured": self.captured.to_dict(),
                "now": self.now.to_dict(), "differences": self.differences, "ids": self.ids, "notes": self.notes}


class Replay:
    """Sends captured requests to one endpoint, in order, over one pooled HTTP session; `given` maps the ids."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 10.0) -> None:
        self.iut = Iut(url, api_key, timeout=timeout)
        self.given: dict[str, str] = {}  # captured id → the id the endpoint gave for it in this replay
        self.origin: dict[str, Any] = {}  # captured id → the entry id whose answer gave it

    def send(self, entry: dict[str, Any]) -> Exchange:
        """Send one captured request (its ids rewritten); `HarnessError` when the first one cannot connect."""
        body, _ = rewrite(entry.get("request_body"), self.given)
        headers = {"Content-Type": content_type(entry), "Authorization": f"key={self.iut.api_key}"}
        exchange = self.iut.post(request_body(body), headers)
        error = exchange.error or ""
        if len(self.iut.exchanges) == 1 and error.startswith("no answer: ConnectionError"):
            raise HarnessError(f"Cannot reach {self.iut.url} ({error.split(': ', 2)[-1]}); check --url "
                               "and that the implementation is running.")
        return exchange

    def exchange(self, entry: dict[str, Any]) -> Outcome:
        """Send one captured request and compare its answer with the captured one."""
        call = str(entry["call"])
        _, ids = rewrite(entry.get("request_body"), self.given)
        notes = [f"{old!r} given in #{self.origin[old]} sent as {new!r}" for old, new in ids.items()]
        now = Answer.of(self.send(entry), call)
        captured = Answer.of(captured_exchange(entry), call)
        mapped, lost = learn_ids(call, captured.body, now.body)
        for old, new in mapped.items():
            self.given[old], self.origin[old] = new, entry.get("id")
        notes += [f"{what} was given in the capture and is not given now; later requests keep it" for what in lost]
        found, why = verdict(call, captured, now)
        return Outcome(entry.get("id"), call, found, captured, now, why, ids, notes)

    def close(self) -> None:
        self.iut.close()
