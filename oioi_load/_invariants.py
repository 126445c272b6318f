"""The invariants judged after a load run against a CPO with ``--listen``: what must hold across the whole run.

The mock EMP that ``--listen`` starts receives what the CPO sends back under load; its journal
(``oioi.capture.read(db)``, or ``mock_server.client``'s ``journal()``) is the witness. The
load itself is the other witness: it records every session it started and stopped.

Agreement with the locustfile (oioi_load/locustfile.py) — the sessions file
---------------------------------------------------------------------------
``<report-dir>/sessions.jsonl`` (`SESSIONS_FILE`; the CLI hands its absolute path to the
locustfile as ``sessions_file`` in ``OIOI_LOAD_CONFIG``). The locustfile appends one JSON
object per line, flushed at once, never rewriting the file (workers of a distributed run
each write their own file, ``sessions-<worker>.jsonl``, and the CLI concatenates them):

- on a session-start the CPO accepted (HTTP 200, result 0xx, a ``session-id`` in the answer)::

    {"event": "start", "session-id": "...", "connector-id": "...", "evco-id": "...", "time": 1765136400.123}

- on the answer to that session's session-stop (whatever it was; none: ``status`` null)::

    {"event": "stop", "session-id": "...", "connector-id": "...", "evco-id": "...", "time": ...,
     "status": 200, "code": 0}

``time`` is when the answer came, in seconds since the epoch (``time.time()``). A line
without ``event`` is a start. A user that is told to stop (end of the run) first stops the
session it has running, so that every start has its stop. After the run the CLI waits until
the mock's journal stops growing (the CPO sends from its outbox, a moment later), then calls
`check` with the journal and `read_sessions` of the file.

The invariants (`check` returns one result per invariant, in this order)
-----------------------------------------------------------------------
- ``sessions-stopped``: every session the load started got a session-stop the CPO accepted.
- ``one-final-cdr``: every started session has exactly one final CDR the mock acknowledged: a
  session-post with its session-id whose ``session-interval`` has a ``stop`` (cpo/cdr.rst: a
  CDR of an ongoing session omits "the session interval's stop time"; such updates are not
  final). A try the mock answered 5xx and the CPO sent again is a retry, not a second CDR.
- ``statuses-name-posted-connectors``: every connector-post-status the CPO posted names a
  connector a station-post of the CPO announced before it, under the same partner identifier
  (``oioi.conversation``'s rule ``conversation/status-for-posted-connector``, not a second copy).
  The CLI must let the CPO push its stations first (its own start-up, or ``/control``
  ``push-stations``); a station-post before the journal began cannot be seen here, so a
  journal with statuses and no station-post at all is not judged: the result holds, with
  ``"judged": false`` and a detail that says so (the only result with a ``judged`` key).
- ``acknowledged-in-journal``: nothing the mock acknowledged (answered 2xx) is missing from its
  journal. The mock keeps no count of its own beside the journal (its access log is off), so
  an independent count comes from the caller: ``acknowledged``, the number of 2xx answers the
  sender saw (e.g. the reference CPO's outbox log). Without it, the closest honest check: the
  journal's row ids have no gap (a row committed and then lost leaves one; every exchange is
  committed before its answer leaves, mock_server/_store.py) and every acknowledged row holds
  its call, request and answer.

Each result: ``{"invariant": id, "holds": bool, "detail": one sentence, "examples": [at most
five short strings]}``.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from oioi.conversation import STATUS_RULE, fields, judge
from oioi.errors import InputError

__all__ = ["INVARIANTS", "SESSIONS_FILE", "check", "final_cdrs", "holds", "read_sessions"]

Entry = dict[str, Any]
SESSIONS_FILE = "sessions.jsonl"
INVARIANTS = ("sessions-stopped", "one-final-cdr", "statuses-name-posted-connectors", "acknowledged-in-journal")
MAX_EXAMPLES = 5


def read_sessions(path: str | Path) -> list[dict[str, Any]]:
    """The records of a sessions file, in order; `InputError` names a line that is not a JSON object.

    A missing file is no session (a run that started none).
    """
    file = Path(path)
    if not file.exists():
        return []
    records = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("session-id"), str):
            raise InputError(f"Received: line {number} of {file}: {line[:80]!r}\n"
                             "Expected: a JSON object with a 'session-id' string (oioi_load/_invariants.py).")
        records.append(record)
    return records


def check(journal: Iterable[Entry], started: Iterable[dict[str, Any]], *,
          acknowledged: int | None = None) -> list[dict[str, Any]]:
    """Every invariant judged over the mock's ``journal`` and the load's session records ``started``."""
    entries, records = list(journal), list(started)
    starts = {r["session-id"]: r for r in records if r.get("event", "start") == "start"}
    stops = {r["session-id"]: r for r in records if r.get("event") == "stop"}
    inbound = [e for e in entries if e.get("exchange", "inbound") == "inbound"]
    return [_sessions_stopped(starts, stops), _one_final_cdr(starts, inbound), _statuses_posted(inbound),
            _acknowledged_in_journal(entries, acknowledged)]


def holds(results: Iterable[dict[str, Any]]) -> bool:
    """Whether every invariant holds."""
    return all(result["holds"] for result in results)


def _result(invariant: str, broken: list[str], detail: str) -> dict[str, Any]:
    return {"invariant": invariant, "holds": not broken, "detail": detail, "examples": broken[:MAX_EXAMPLES]}


def _accepted(status: Any, code: Any) -> bool:
    return isinstance(status, int) and 200 <= status < 300 and (code is None or (type(code) is int and code < 100))


def _sessions_stopped(starts: dict[str, dict[str, Any]], stops: dict[str, dict[str, Any]]) -> dict[str, Any]:
    broken = []
    for session_id, start in starts.items():
        stop = stops.get(session_id)
        if stop is None:
            broken.append(f"session {session_id} on {start.get('connector-id')}: no session-stop was sent")
        elif not _accepted(stop.get("status"), stop.get("code")):
            broken.append(f"session {session_id} on {start.get('connector-id')}: its session-stop was answered "
                          f"HTTP {stop.get('status')}, result {stop.get('code')}")
    detail = (f"All {len(starts)} sessions the load started got a session-stop the CPO accepted." if not broken
              else f"{len(broken)} of {len(starts)} sessions the load started got no accepted session-stop.")
    return _result("sessions-stopped", broken, detail)


def final_cdrs(inbound: Iterable[Entry]) -> Counter[str]:
    """How many final CDRs the mock acknowledged (2xx) per session-id: session-posts whose session-interval
    has a stop (cpo/cdr.rst: an ongoing session's CDR omits "the session interval's stop time").
    """
    counted: Counter[str] = Counter()
    for entry in inbound:
        body = fields(entry)
        interval = body.get("session-interval")
        final = isinstance(interval, dict) and bool(interval.get("stop"))
        if entry.get("call") == "session-post" and final and _accepted(entry.get("status"), None):
            counted[str(body.get("session-id"))] += 1
    return counted


def _one_final_cdr(starts: dict[str, dict[str, Any]], inbound: list[Entry]) -> dict[str, Any]:
    counted = final_cdrs(inbound)
    broken = [f"session {session_id} on {start.get('connector-id')}: {counted[session_id]} final CDRs"
              for session_id, start in starts.items() if counted[session_id] != 1]
    missing = sum(counted[s] == 0 for s in starts)
    detail = (f"Each of the {len(starts)} sessions the load started has exactly one final CDR in the journal."
              if not broken else f"{len(broken)} of {len(starts)} sessions the load started have not exactly one "
              f"final CDR in the journal ({missing} none, {len(broken) - missing} more than one).")
    return _result("one-final-cdr", broken, detail)


def _statuses_posted(inbound: list[Entry]) -> dict[str, Any]:
    statuses = sum(e.get("call") == "connector-post-status" for e in inbound)
    if statuses and not any(e.get("call") == "station-post" for e in inbound):
        return {**_result("statuses-name-posted-connectors", [], f"Not judged: the journal holds {statuses} "
                          "connector-post-status but no station-post (the CPO pushed its stations before the mock "
                          "listened, or never)."), "judged": False}
    broken = [f"connector-post-status #{entry.get('id')} for {fields(entry).get('connector-id')!r} as partner "
              f"{fields(entry).get('partner-identifier')!r}: no station-post announced it before"
              for entry, finding in judge(inbound) if finding.rule == STATUS_RULE]
    detail = (f"Each of the {statuses} connector-post-status the CPO posted names a connector it posted before."
              if not broken else f"{len(broken)} connectors had a status posted with no station-post announcing "
              "them before (under the same partner identifier).")
    return _result("statuses-name-posted-connectors", broken, detail)


def _acknowledged_in_journal(entries: list[Entry], acknowledged: int | None) -> dict[str, Any]:
    rows = [e for e in entries if e.get("exchange", "inbound") == "inbound" and _accepted(e.get("status"), None)]
    if acknowledged is not None:
        broken = [f"{acknowledged} answered 2xx by the mock, {len(rows)} such rows in its journal"] \
            if acknowledged > len(rows) else []
        detail = (f"The journal holds all {acknowledged} requests the mock acknowledged ({len(rows)} rows)."
                  if not broken else f"{acknowledged - len(rows)} of the {acknowledged} requests the mock "
                  "acknowledged are missing from its journal.")
        return _result("acknowledged-in-journal", broken, detail)
    ids = sorted(e["id"] for e in entries if isinstance(e.get("id"), int))
    gaps = [f"no journal row with id {a + 1}" + (f" to {b - 1}" if b - a > 2 else "")
            for a, b in itertools.pairwise(ids) if b - a > 1]
    incomplete = [f"journal row #{e.get('id')} was answered {e.get('status')} but holds no call, request or answer"
                  for e in rows if not (e.get("call") and e.get("request_body") and e.get("response_body"))]
    broken = gaps + incomplete
    detail = ("No independent count of acknowledged requests was given; " + (
        f"the journal's {len(ids)} rows have no gap and its {len(rows)} acknowledged rows are complete."
        if not broken else f"the journal has {len(gaps)} gaps in its row ids and {len(incomplete)} acknowledged "
        "rows without their call, request or answer."))
    return _result("acknowledged-in-journal", broken, detail)
