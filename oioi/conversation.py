"""The cross-message rules of OIOI: what one message breaks, given the conversation before it.

One implementation for everything that judges a conversation: the proxy and the traffic report
add journal entries (the mock's journal schema, mock_server/_store.py, with ``peer``) as they
come; the conformance suite's checks of what an IUT sends take their decisions from here
(conformance/_sent.py). Rules about one message alone (a UID's case and padding, …) are
`oioi.validate`'s.

A finding of severity ``error`` rests on a sentence that says must (or on the call's
definition) and on what the conversation itself shows; a ``warning`` is a reading the spec does
not bind (its rule says why): reported, never a failure. A capture may begin late and end
early: no rule judges what is missing from it.

Senders: entries are grouped by ``peer`` (the partner that sent the request; None when the
capture does not say) and ``exchange`` (a mock's own requests are its outbound entries, its
partner's the inbound ones). Sessions are followed across senders by their EVSE ID, which
calls/station_post.rst makes "globally unique".
"""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import json
import re
from collections.abc import Iterable
from typing import Any

from oioi._findings import Finding, message_text

__all__ = ["IDENTIFIER_RULE", "RETRY_RULE", "RULES", "START_RULE", "STATUS_RULE", "UPDATE_RULE", "Conversation",
           "fields", "judge", "same_evse_id", "session_id_of_start", "session_id_of_update"]

Entry = dict[str, Any]
TOLERANCE = 0.05  # seconds of clock granularity between a sender's wait and the journal's times
CLOCK = 1.0  # seconds the partners' clocks may differ from the journal's (a CDR's times are the CPO's)
DATE_PRECISION = 1.0  # seconds: an HTTP date (Retry-After) names a whole second

STATUS_RULE = "conversation/status-for-posted-connector"
START_RULE = "conversation/cdr-session-id-of-start"
UPDATE_RULE = "conversation/cdr-same-session-id"
IDENTIFIER_RULE = "conversation/partner-identifier-consistent"
RETRY_RULE = "conversation/retry-after-honoured"
RULES = (STATUS_RULE, START_RULE, UPDATE_RULE, IDENTIFIER_RULE, RETRY_RULE)


# --- reading a journal entry ----------------------------------------------------------------------


def _json(value: Any) -> Any:
    """A body as JSON: parsed when it is JSON text, as it is otherwise."""
    if isinstance(value, bytes | str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def fields(entry: Entry) -> dict[str, Any]:
    """The call's fields of the request ({} when the body does not hold the call's object)."""
    raw, call = _json(entry.get("request_body")), entry.get("call")
    inner = raw.get(call) if isinstance(raw, dict) else None
    return dict(inner) if isinstance(inner, dict) else {}


def _answer(entry: Entry) -> dict[str, Any]:
    answer = _json(entry.get("response_body"))
    return answer if isinstance(answer, dict) else {}


def _accepted(entry: Entry) -> bool:
    """Whether the receiver answered HTTP 200 with a result code of the success family, 0xx (request.rst)."""
    result = _answer(entry).get("result")
    code = result.get("code") if isinstance(result, dict) else entry.get("result_code")
    return entry.get("status") == 200 and type(code) is int and 0 <= code < 100


def _answered(entry: Entry) -> float | None:
    """When the answer was journaled (the journal writes an entry once it is answered), in epoch seconds."""
    moment = _instant(entry.get("time"))
    return moment[0] if moment else None


def _arrival(entry: Entry) -> float | None:
    """When the request arrived: its journal time less the time it took to answer."""
    answered = _answered(entry)
    latency = entry.get("latency_ms")
    return None if answered is None else answered - (latency / 1000 if isinstance(latency, int | float) else 0.0)


def _instant(text: Any) -> tuple[float, float] | None:
    """An RFC 3339 time as (epoch seconds, its precision in seconds); None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.strip().upper().replace("Z", "+00:00"))
        epoch = moment.timestamp() if moment.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None
    fraction = re.search(r"T\d\d:\d\d:\d\d\.(\d+)", text, re.IGNORECASE)
    return None if epoch is None else (epoch, 10.0 ** -len(fraction.group(1)) if fraction else 1.0)


def _key(value: Any) -> Any:
    """A field's value as a key: as it is when it is a scalar, its JSON text otherwise (a broken message)."""
    return value if value is None or isinstance(value, str | int | float) else json.dumps(value, default=str)


def _evse(value: Any) -> Any:
    """glossary.rst, EVSE ID: each ``*`` between its parts is "(optional)": IDs differing only there are one."""
    return value.replace("*", "") if isinstance(value, str) else _key(value)


def same_evse_id(one: Any, other: Any) -> bool:
    """Whether two EVSE IDs name one connector: they differ at most in their optional ``*`` (glossary.rst)."""
    return isinstance(one, str) and isinstance(other, str) and _evse(one) == _evse(other)


def _user(cdr_or_start: dict[str, Any]) -> tuple[Any, Any] | None:
    user = cdr_or_start.get("user")
    return (_key(user.get("identifier-type")), _key(user.get("identifier"))) if isinstance(user, dict) else None


# --- the decisions (also what the conformance suite calls, with the pairs its checks know) --------


def _finding(rule: str, path: str, received: str, expected: str, spec: str, severity: str = "error") -> Finding:
    return Finding("warning" if severity == "warning" else "error", path, rule, message_text(received, expected), spec)


def session_id_of_start(start: Entry, cdr: Entry) -> Finding | None:
    """The CDR of a session started by ``start`` (a session-start the CPO accepted) carries its session-id.

    calls/session_post.rst, session-id: "A unique ID that identifies this session" — "If you are the CPO
    and owner of the session, this identifier must be created by you"; the CPO gave it in its session-start
    answer ("The session id of the started session", calls/session_start.rst). None when the answer gave none.
    """
    answer = _answer(start).get("session-start")
    given = answer.get("session-id") if isinstance(answer, dict) else None
    sent = fields(cdr).get("session-id")
    if not given or sent == given:
        return None
    return _finding(START_RULE, "/session-post/session-id", f"session-id {sent!r} in the CDR of the session started "
                    f"at {fields(start).get('connector-id')!r}",
                    f"{given!r}, the session-id of the CPO's session-start answer (calls/session_post.rst: 'If you "
                    "are the CPO and owner of the session, this identifier must be created by you')",
                    "calls/session_post.rst")


def session_id_of_update(earlier: list[Entry], cdr: Entry) -> Finding | None:
    """A CDR of a session that ``earlier`` CDRs already named carries their session-id (an update, a redelivery).

    calls/session_post.rst: session-id is "A unique ID that identifies this session" and "must be a globally
    unique identifier"; cpo/cdr.rst: "You can also use this method to send information about sessions that
    just started or are still ongoing" — the later CDR of one session is the same session, so the same id.
    """
    ids = [fields(e).get("session-id") for e in earlier]
    sent = fields(cdr).get("session-id")
    if not ids or sent in ids:
        return None
    return _finding(UPDATE_RULE, "/session-post/session-id", f"session-id {sent!r} in a CDR of the session that "
                    f"earlier CDRs named {sorted({str(i) for i in ids})!r}",
                    "the session-id of the session's earlier CDRs (calls/session_post.rst: 'A unique ID that "
                    "identifies this session')", "calls/session_post.rst")


# --- what the conversation remembers ----------------------------------------------------------------


@dataclasses.dataclass
class _Remote:
    """A session the CPO started on a session-start it accepted, and when the conversation shows it running."""

    start: Entry
    evse: Any
    user: tuple[Any, Any] | None
    session_id: Any
    since: float  # the answer's time: the session ran then
    until: float  # the latest time it is shown running (an accepted session-stop naming it arrived then)


@dataclasses.dataclass
class _Refused:
    """A request answered with 5xx and a Retry-After: no retry of it before ``answered + wait``."""

    body: str
    answered: float
    wait: float
    header: Any
    status: int


@dataclasses.dataclass
class _Sender:
    """What one sender (a peer) said before: its announced connectors, its partner identifiers, its 5xx."""

    announced: set[tuple[Any, Any]] = dataclasses.field(default_factory=set)
    identifiers: set[Any] = dataclasses.field(default_factory=set)
    refused: dict[Any, _Refused] = dataclasses.field(default_factory=dict)
    told: set[tuple[str, Any, Any]] = dataclasses.field(default_factory=set)  # warnings given once


def _canonical(entry: Entry) -> str:
    raw = _json(entry.get("request_body"))
    return raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True, ensure_ascii=False)


def _retry_after(entry: Entry) -> tuple[float, Any] | None:
    """The seconds a 5xx answer's Retry-After asks the sender to wait (RFC 9110, 10.2.3), and the header.

    Read from the journaled answer headers (``response_headers``), or from the fault a mock played.
    """
    headers = entry.get("response_headers") or {}
    headers = headers if isinstance(headers, dict) else {}
    value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    fault = entry.get("fault")
    if value is None and isinstance(fault, dict):
        value = fault.get("retry_after")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value), value
    if not isinstance(value, str) or not value.strip():
        return None
    if value.strip().isdigit():
        return float(value.strip()), value
    try:
        date = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    answered = _answered(entry)
    if answered is None or date.tzinfo is None:
        return None
    return date.timestamp() - answered - DATE_PRECISION - CLOCK, value  # the date is the server's clock


# --- the conversation -------------------------------------------------------------------------------


def judge(entries: Iterable[Entry]) -> list[tuple[Entry, Finding]]:
    """Every cross-message finding of a conversation: (the entry that raised it, the finding), in order."""
    conversation = Conversation()
    return [(entry, finding) for entry in entries for finding in conversation.add(entry)]


class Conversation:
    """A conversation between partners as it comes: `add` each journal entry in arrival order."""

    def __init__(self) -> None:
        self._senders: dict[tuple[Any, Any], _Sender] = {}
        self._remote: dict[Any, list[_Remote]] = {}  # sessions the CPO started remotely, by EVSE ID, across senders
        self._cdrs: dict[tuple[Any, ...], list[Entry]] = {}  # the CDRs so far by `_session`, across senders

    def add(self, entry: Entry) -> list[Finding]:
        """The findings ``entry`` raises given every entry added before it (then it is remembered)."""
        sender = self._senders.setdefault((entry.get("peer"), entry.get("exchange")), _Sender())
        call = entry.get("call")
        found = _retry_too_soon(sender, entry)
        if call == "connector-post-status":
            found += _status_for_posted_connector(sender, entry)
        if call == "session-post":
            found += self._cdr_session_id(entry) + _partner_identifier_consistent(sender, entry)
        self._remember(sender, entry)
        return found

    def _cdr_session_id(self, cdr: Entry) -> list[Finding]:
        """A CDR whose session the conversation proves carries that session's id (see `_same_session`)."""
        for remote in self._remote.get(_evse(fields(cdr).get("connector-id")), []):
            if _of_remote(remote, cdr) and (finding := session_id_of_start(remote.start, cdr)):
                return [finding]
        session = _session(cdr)
        finding = session_id_of_update(self._cdrs.get(session, []), cdr) if session else None
        return [finding] if finding else []

    def _remember(self, sender: _Sender, entry: Entry) -> None:
        call, body = entry.get("call"), fields(entry)
        if call == "station-post" and isinstance(body.get("station"), dict):
            for connector in body["station"].get("connectors") or []:
                if isinstance(connector, dict):
                    sender.announced.add((_evse(connector.get("id")), _key(body.get("partner-identifier"))))
        if call in ("station-post", "connector-post-status") and body.get("partner-identifier") is not None:
            sender.identifiers.add(_key(body["partner-identifier"]))
        if call == "session-post" and (session := _session(entry)):
            self._cdrs.setdefault(session, []).append(entry)
        if call == "session-start" and _accepted(entry) and (answered := _answered(entry)) is not None:
            answer = _answer(entry).get("session-start")
            given = answer.get("session-id") if isinstance(answer, dict) else None
            if given:
                evse = _evse(body.get("connector-id"))
                self._remote.setdefault(evse, []).append(_Remote(entry, evse, _user(body), given, answered, answered))
        if call == "session-stop" and _accepted(entry) and (arrived := _arrival(entry)) is not None:
            for remote in self._remote.get(_evse(body.get("connector-id")), []):  # the CPO stopped the session
                if remote.session_id == body.get("session-id"):  # it names: the session ran until then
                    remote.until = max(remote.until, arrived)


# --- the rules ---------------------------------------------------------------------------------------


def _status_for_posted_connector(sender: _Sender, entry: Entry) -> list[Finding]:
    """A connector-post-status names a connector an earlier station-post of the same sender announced,
    under the same partner identifier (a warning, once per connector and identifier).

    cpo/poi.rst: "PlugSurfing only accepts dynamic data changes if they are associated to stations that
    were pushed by the same partner." That sentence binds the receiver, and the station may have been
    pushed before the capture began ("In the beginning, there will be a one-time push of all existing
    charging stations"): a reading, never a failure (conformance: connector-post-status.own-connectors).
    """
    body = fields(entry)
    connector, partner = body.get("connector-id"), body.get("partner-identifier")
    told = (STATUS_RULE, _evse(connector), _key(partner))
    if (_evse(connector), _key(partner)) in sender.announced or told in sender.told:
        return []
    sender.told.add(told)
    return [_finding(STATUS_RULE, "/connector-post-status/connector-id",
                     f"a status for connector {connector!r} as partner {partner!r}, which no earlier station-post "
                     "of this sender announced under that partner identifier",
                     "statuses only for connectors of stations the same partner pushed (cpo/poi.rst: 'PlugSurfing "
                     "only accepts dynamic data changes if they are associated to stations that were pushed by the "
                     "same partner'); a push before the capture began is not seen here", "cpo/poi.rst", "warning")]


def _partner_identifier_consistent(sender: _Sender, entry: Entry) -> list[Finding]:
    """A CDR carries a partner identifier its sender's earlier station-posts or statuses carried (a warning).

    glossary.rst: "The sending partner chooses the identifier and provides it to the receiving partner"
    — but also "A company with one API key can use multiple partner identifiers, for example to make API
    calls for another company", and calls/session_post.rst leaves it to the sender ("The partner identifier
    of the partner that shall be associated with this CDR"): a reading, never a failure (conformance:
    identifiers.partner-identifier-consistent). Nothing to compare before the sender's first station or status.
    """
    mine = fields(entry).get("partner-identifier")
    told = (IDENTIFIER_RULE, _key(mine), None)
    if not sender.identifiers or _key(mine) in sender.identifiers or told in sender.told:
        return []
    sender.told.add(told)
    return [_finding(IDENTIFIER_RULE, "/session-post/partner-identifier",
                     f"partner-identifier {mine!r} in the {entry.get('call')}",
                     f"the one of this sender's stations and statuses: {sorted(map(str, sender.identifiers))!r} "
                     "(glossary.rst, partner identifier)", "glossary.rst", "warning")]


def _retry_too_soon(sender: _Sender, entry: Entry) -> list[Finding]:
    """A request sent again after a 5xx answer with Retry-After comes no sooner than Retry-After asked.

    request.rst, Response, 5xx: "You must retry later, honoring any Retry-After header included in the
    response." A retry is the sender's next request of the same call, with the same body. It is judged from
    the refused answer's journal time (the sender got the answer after it) to the retry's arrival (it was
    sent before), less the clock's granularity. Only a retry that came is judged: never a missing one.
    """
    call, refused = entry.get("call"), sender.refused.pop(_key(entry.get("call")), None)
    found = []
    arrived = _arrival(entry)
    if refused is not None and arrived is not None and _canonical(entry) == refused.body:
        waited = arrived - refused.answered
        if waited < refused.wait - TOLERANCE:
            found.append(_finding(RETRY_RULE, "", f"the same {call} again {max(waited, 0.0):.3f} s after a "
                                  f"{refused.status} answer with Retry-After: {refused.header}",
                                  f"no retry sooner than {refused.wait:g} s (request.rst: 'You must retry later, "
                                  "honoring any Retry-After header included in the response')", "request.rst"))
    status, answered, asked = entry.get("status"), _answered(entry), _retry_after(entry)
    if isinstance(status, int) and 500 <= status < 600 and answered is not None and asked is not None:
        sender.refused[_key(call)] = _Refused(_canonical(entry), answered, asked[0], asked[1], status)
    return found


# --- which session a CDR is of: only what the conversation proves ------------------------------------


def _run(cdr: Entry) -> tuple[float, float, float, float] | None:
    """A CDR's session interval as (start, its precision, stop, its precision); None without both."""
    interval = fields(cdr).get("session-interval")
    if not isinstance(interval, dict):
        return None
    start, stop = _instant(interval.get("start")), _instant(interval.get("stop"))
    return None if start is None or stop is None else (*start, *stop)


def _of_remote(remote: _Remote, cdr: Entry) -> bool:
    """Whether ``cdr`` is certainly of the remotely started session: same EVSE ID and user, and its session
    ran while the conversation shows the remote one running, beyond the CDR times' precision and CLOCK
    seconds of difference between the CPO's clock and the journal's. An EVSE ID "usually" names one
    connector (glossary.rst), and one connector charges one EV at a time: one user's two sessions there
    cannot overlap.
    """
    body, run = fields(cdr), _run(cdr)
    if run is None or _evse(body.get("connector-id")) != remote.evse or _user(body) != remote.user:
        return False
    start, start_precision, stop, stop_precision = run
    latest_start, earliest_stop = start + start_precision + CLOCK, stop - stop_precision - CLOCK
    return max(latest_start, remote.since) <= min(earliest_stop, remote.until)


def _session(cdr: Entry) -> tuple[Any, ...] | None:
    """What makes CDRs certainly of one session: the same EVSE ID, user and session start instant (None
    without them). One connector charges one EV at a time: one user's two sessions there cannot start at
    one instant.
    """
    body = fields(cdr)
    interval, user = body.get("session-interval"), _user(body)
    start = _instant(interval.get("start")) if isinstance(interval, dict) else None
    if start is None or user is None:
        return None
    return _evse(body.get("connector-id")), *user, start[0]
