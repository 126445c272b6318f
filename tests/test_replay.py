"""``oioi replay``: a captured session sent again to the reference CPO, fixed and faulty, over real HTTP.

The capture is made here: requests sent to a reference CPO of its own (a session-start, the
session-stop of the session-id it gave, a session-start on a connector it does not have), kept
as journal entries in a journal export. Replayed against a correct reference every exchange is
"same" (the session-id mapped); against a faulty one the verdict says what changed.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from conformance import _replay, traffic
from examples.demo import start_reference
from mock_server.client import start as start_mock
from oioi import capture, cli
from oioi.serving import free_port

KEY = "replay-test-key-0123456789abcdef"
CONNECTOR, UNKNOWN, EVCO = "DE*REF*E000001*1", "DE*REF*E999999*9", "DE*8PS*123456*7"
CPO_CAPTURE = Path(__file__).resolve().parent.parent / "examples" / "captures" / "cpo-session.jsonl"


def session_start(connector: str) -> dict[str, Any]:
    return {"session-start": {"user": {"identifier-type": "evco-id", "identifier": EVCO}, "connector-id": connector}}


def record(url: str, messages: list[Callable[[list[dict[str, Any]]], dict[str, Any]]]) -> list[dict[str, Any]]:
    """Send each message (built from the entries so far) to ``url``; the exchanges as journal entries."""
    entries: list[dict[str, Any]] = []
    with requests.Session() as http:
        for number, build in enumerate(messages, 1):
            body = build(entries)
            answer = http.post(url, data=json.dumps(body).encode(), timeout=10,
                               headers={"Content-Type": "application/json", "Authorization": f"key={KEY}"})
            entries.append({"id": number, "time": "", "exchange": "outbound", "call": next(iter(body)),
                            "request_headers": {"Content-Type": "application/json", "Authorization": "key=****cdef"},
                            "request_body": body, "status": answer.status_code, "response_body": answer.json(),
                            "result_code": None, "findings": [], "latency_ms": 1.0, "fault": None, "peer": None})
    return entries


def stop_of_first(entries: list[dict[str, Any]]) -> dict[str, Any]:
    session_id = entries[0]["response_body"]["session-start"]["session-id"]
    return {"session-stop": {"user": {"identifier-type": "evco-id", "identifier": EVCO}, "connector-id": CONNECTOR,
                             "session-id": session_id}}


SESSION = [lambda _: session_start(CONNECTOR), stop_of_first, lambda _: session_start(UNKNOWN)]


@pytest.fixture(scope="module")
def cpo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str | None], str]]:
    """The reference CPO with every variant (``--variants``): the URL of the correct one (None) or of a defect."""
    directory = tmp_path_factory.mktemp("replay-cpo")
    reference = start_reference("cpo", "--api-key", KEY, "--db", str(directory / "cpo.sqlite"),
                                "--variants", str(directory))
    base = reference.url.removesuffix("/api/v4/request")
    yield lambda defect: reference.url if defect is None else f"{base}/variant/{defect}/api/v4/request"
    reference.stop()


def write_capture(directory: Path, entries: list[dict[str, Any]]) -> Path:
    path = directory / "ticket.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def session_capture(cpo: Callable[[str | None], str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A capture of start, stop and a start on an unknown connector, answered by the correct CPO (which is free
    again after it)."""
    entries = record(cpo(None), SESSION)
    assert [e["status"] for e in entries] == [200, 200, 200]
    assert [e["response_body"]["result"]["code"] for e in entries] == [0, 0, 181]
    return write_capture(tmp_path_factory.mktemp("capture"), entries)


def oioi(*argv: str) -> tuple[int, str, str]:
    parser, commands = cli.new_parser("oioi", "test")
    traffic.add_parser(commands)
    out, err = io.StringIO(), io.StringIO()
    code = cli.command(parser, list(argv), out, err, io.StringIO())
    return code, out.getvalue(), err.getvalue()


def replay(path: Path, url: str, *more: str) -> tuple[int, str, str]:
    return oioi("replay", str(path), "--url", url, "--api-key", KEY, *more)


def verdicts(output: str) -> list[str]:
    return [e["verdict"] for e in json.loads(output)["exchanges"]]


# --- against the reference CPO --------------------------------------------------------------------


def test_replay_against_the_correct_reference_is_same_with_the_session_id_mapped(
        session_capture: Path, cpo: Callable[[str | None], str]) -> None:
    code, out, err = replay(session_capture, cpo(None))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("#1 session-start: same (HTTP 200, result 000)")
    assert lines[1].startswith("#2 session-stop: same (HTTP 200, result 000)")
    assert lines[2].startswith("    id ") and "given in #1 sent as" in lines[2]
    assert lines[3].startswith("#3 session-start: same (HTTP 200, result 181)")
    assert lines[-1].endswith("3 same, 0 now conforming, 0 now broken, 0 different.")
    assert KEY not in out


def test_a_chosen_exchange_brings_the_one_that_gave_its_session_id(
        session_capture: Path, cpo: Callable[[str | None], str]) -> None:
    code, out, _ = replay(session_capture, cpo(None), "--exchange", "2")
    assert code == 0
    assert out.splitlines()[0].startswith("#1 added: its answer gave '")
    assert "2 same" in out.splitlines()[-1]


def test_without_the_mapping_the_stop_would_differ(
        session_capture: Path, cpo: Callable[[str | None], str], tmp_path: Path) -> None:
    """The mapping is what makes the stop "same": the captured session-id alone is refused now."""
    only_the_stop = write_capture(tmp_path, capture.read(session_capture)[1:2])
    code, out, _ = replay(only_the_stop, cpo(None), "--format", "json")
    assert code == 0
    (only,) = json.loads(out)["exchanges"]
    assert only["verdict"] == "different" and only["now"]["result_code"] != 0 and only["ids"] == {}


def test_a_result_code_as_a_string_is_now_broken(session_capture: Path, cpo: Callable[[str | None], str]) -> None:
    code, out, err = replay(session_capture, cpo("result-code-as-string"), "--format", "json")
    assert (code, err) == (1, "")
    assert verdicts(out) == ["now broken", "now broken", "now broken"]
    first = json.loads(out)["exchanges"][0]
    assert first["now"]["result_code"] == "000" and first["now"]["problems"]
    assert first["now"]["problems"] == [first["now"]["problems"][0]]  # the first failure, as the suite's check
    assert "breaks the session-start response schema at /result/code" in first["now"]["problems"][0]
    assert json.loads(out)["api_key"] != KEY


def test_a_missing_session_id_is_different_and_said(session_capture: Path, cpo: Callable[[str | None], str]) -> None:
    """No session-id is allowed by the schema (a warning only), so not broken: different, and the id is not mapped."""
    code, out, _ = replay(session_capture, cpo("no-session-id"))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("#1 session-start: different")
    assert "/session-start/session-id is missing" in out
    assert "is not given now; later requests keep it" in out
    assert "#2 session-stop: different" in out and "#3 session-start: same" in out


def test_a_start_on_an_unknown_connector_that_succeeds_is_different(
        session_capture: Path, cpo: Callable[[str | None], str]) -> None:
    code, out, _ = replay(session_capture, cpo("start-unknown-connector-succeeds"), "--format", "json")
    assert code == 0
    assert verdicts(out) == ["same", "same", "different"]
    third = json.loads(out)["exchanges"][2]
    assert "/result/code: 0 (was 181)" in third["differences"]


def test_a_capture_of_a_broken_cpo_replayed_to_a_fixed_one_is_now_conforming(
        cpo: Callable[[str | None], str], tmp_path: Path) -> None:
    path = write_capture(tmp_path, record(cpo("result-code-as-string"), SESSION[:2]))
    code, out, _ = replay(path, cpo(None))
    assert code == 0
    assert out.count(": now conforming") == 2 and "captured: Received: an HTTP 200 answer that breaks" in out


def test_only_the_chosen_call(session_capture: Path, cpo: Callable[[str | None], str]) -> None:
    code, out, _ = replay(session_capture, cpo("result-code-as-string"), "--call", "session-stop", "--format", "json")
    assert code == 1
    assert [e["id"] for e in json.loads(out)["exchanges"]] == [1, 2]  # the start whose session-id the stop names
    assert json.loads(out)["added"][0]["id"] == 1


def test_a_mock_journal_replayed_to_a_fresh_mock_is_same(tmp_path: Path) -> None:
    """The capture is the mock EMP's own journal (SQLite) of what a CPO sent; the replay goes to another mock EMP."""
    station, _, status = (json.loads(line) for line in CPO_CAPTURE.read_text("utf-8").splitlines()[:3])
    unposted = {"connector-post-status": {**status["connector-post-status"], "connector-id": "DE*8PS*E999999"}}
    recorder = start_mock("emp", api_key=KEY, db=tmp_path / "journal.sqlite3")
    try:
        assert [recorder.post(m).json()["result"]["code"] for m in (station, status, unposted)] == [0, 0, 181]
    finally:
        recorder.stop()
    fresh = start_mock("emp", api_key=KEY, db=tmp_path / "fresh.sqlite3")
    try:
        code, out, _ = replay(tmp_path / "journal.sqlite3", fresh.endpoint, "--format", "json")
    finally:
        fresh.stop()
    assert code == 0 and verdicts(out) == ["same", "same", "same"]


def test_a_har_file_replays_like_the_journal(session_capture: Path, cpo: Callable[[str | None], str],
                                             tmp_path: Path) -> None:
    """The same session as a browser's or mitmproxy's HAR export: the same verdicts."""
    def har_entry(entry: dict[str, Any]) -> dict[str, Any]:
        return {"startedDateTime": "2026-12-07T10:00:00.000Z", "time": 3.0,
                "request": {"method": "POST", "url": "http://cpo.example/api/v4/request",
                            "headers": [{"name": "Content-Type", "value": "application/json"}],
                            "postData": {"mimeType": "application/json", "text": json.dumps(entry["request_body"])}},
                "response": {"status": entry["status"],
                             "content": {"mimeType": "application/json", "text": json.dumps(entry["response_body"])}}}

    har = tmp_path / "ticket.har"
    har.write_text(json.dumps({"log": {"version": "1.2", "entries": [
        {"request": {"method": "GET", "url": "http://cpo.example/"}, "response": {"status": 200}},  # not OIOI
        *(har_entry(e) for e in capture.read(session_capture))]}}), encoding="utf-8")
    code, out, _ = replay(har, cpo(None), "--format", "json")
    assert code == 0 and verdicts(out) == ["same", "same", "same"]
    assert [e["id"] for e in json.loads(out)["exchanges"]] == [2, 3, 4]


INVALID = {"session-start": {"connector-id": CONNECTOR}}  # no user: a 4xx with a JSON result (request.rst)


@pytest.fixture(scope="module")
def invalid_capture(cpo: Callable[[str | None], str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A capture of one invalid session-start, refused by the correct CPO with a 4xx and a JSON result."""
    entries = record(cpo(None), [lambda _: INVALID])
    assert entries[0]["status"] == 400 and entries[0]["response_body"]["result"]["code"] == 230
    return write_capture(tmp_path_factory.mktemp("invalid"), entries)


def test_a_plain_text_error_answer_is_a_should_never_broken(
        invalid_capture: Path, cpo: Callable[[str | None], str]) -> None:
    """A 4xx body without a JSON result breaks only our reading (transport.error-answer-json, a SHOULD): different."""
    code, out, _ = replay(invalid_capture, cpo("plain-text-errors"))
    assert code == 0
    assert out.startswith("#1 session-start: different (HTTP 400, result none; captured: HTTP 400, result 230)")
    assert "a SHOULD (not counted): Received: HTTP 400 with body" in out


# --- mistakes: one sentence, exit 2 ---------------------------------------------------------------


def test_an_unreachable_url_is_one_sentence(session_capture: Path) -> None:
    code, out, err = replay(session_capture, f"http://127.0.0.1:{free_port()}/api/v4/request")
    assert (code, out) == (2, "")
    assert err.startswith("Cannot reach http://127.0.0.1:") and err.count("\n") == 1


@pytest.mark.parametrize(("more", "says"), [
    (("--exchange", "99"), "no request with a call under exchange id '99'"),
    (("--call", "sesion-stop"), "'sesion-stop' is not an OIOI call"),
    (("--role", "emp"), "Nothing to replay"),
])
def test_a_wrong_choice_is_one_sentence(session_capture: Path, more: tuple[str, ...], says: str) -> None:
    code, out, err = replay(session_capture, "http://127.0.0.1:9/api/v4/request", *more)
    assert (code, out) == (2, "")
    assert says in err and err.count("\n") == 1


def test_a_file_that_is_no_capture_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    code, _, err = replay(tmp_path / "notes.txt", "http://127.0.0.1:9/api/v4/request")
    assert code == 2 and err.count("\n") == 1


def test_requests_to_both_sides_need_a_role(tmp_path: Path) -> None:
    entries = [{"id": 1, "exchange": "inbound", "call": "station-post", "request_body": {"station-post": {}}},
               {"id": 2, "exchange": "outbound", "call": "session-start", "request_body": session_start(CONNECTOR)}]
    code, _, err = replay(write_capture(tmp_path, entries), "http://127.0.0.1:9/api/v4/request")
    assert code == 2 and "--role cpo or --role emp" in err


# --- units: volatile fields, differences, verdicts, ids -------------------------------------------


def test_volatile_fields_come_from_the_schemas() -> None:
    assert _replay.volatile_fields("session-start") == {("result", "message"): _replay.TEXT,
                                                        ("session-start", "session-id"): _replay.GIVEN_ID}
    assert _replay.volatile_fields("reservation-start")[("reservation-start", "end")] == _replay.MOMENT
    assert _replay.volatile_fields("user-register")[("user", "token")] == _replay.GIVEN_ID
    assert ("evco-id",) not in _replay.volatile_fields("rfid-verify")  # a glossary id: compared
    assert ("stations", "*", "connectors", "*", "last-change") in _replay.volatile_fields("station-get-by-ids")


def test_differences_skip_volatile_values_but_not_their_absence() -> None:
    captured = {"session-start": {"session-id": "a", "is-stoppable": True}, "result": {"code": 0, "message": "Ok"}}
    assert _replay.differences("session-start", captured, {
        "session-start": {"session-id": "b", "is-stoppable": True}, "result": {"code": 0, "message": "Fine."}}) == []
    assert _replay.differences("session-start", captured, {
        "session-start": {"is-stoppable": 1}, "result": {"code": 0, "message": "Ok"}}) == [
        "/session-start/session-id is missing (was 'a')", "/session-start/is-stoppable: 1 (was true)"]


def test_ids_are_learnt_and_rewritten() -> None:
    given, lost = _replay.learn_ids("session-start", {"session-start": {"session-id": "old"}},
                                    {"session-start": {"session-id": "new"}})
    assert (given, lost) == ({"old": "new"}, [])
    body, used = _replay.rewrite({"session-stop": {"session-id": "old", "connector-id": "old-not"}}, given)
    assert body == {"session-stop": {"session-id": "new", "connector-id": "old-not"}} and used == {"old": "new"}
    assert _replay.rewrite('{"session-id": "old"}', given) == ('{"session-id": "new"}', {"old": "new"})


def test_a_captured_5xx_is_a_problem_and_a_fixed_answer_now_conforming() -> None:
    entry = {"call": "session-stop", "status": 500, "response_body": "Internal Server Error"}
    captured = _replay.Answer.of(_replay.captured_exchange(entry), "session-stop")
    now = _replay.Answer(200, 0, {"result": {"code": 0, "message": "Success."}}, [])
    assert captured.problems and _replay.verdict("session-stop", captured, now) == ("now conforming", [])
    assert _replay.verdict("session-stop", now, captured)[0] == "now broken"


def test_the_capture_reader_gives_what_replay_reads(session_capture: Path) -> None:
    entries = capture.read(session_capture)
    assert [e["call"] for e in _replay.selected(entries)] == ["session-start", "session-stop", "session-start"]
    assert _replay.content_type(entries[0]) == "application/json"


def test_the_request_that_gave_an_id_comes_along() -> None:
    """A start gives s1 and a stop names it: the start comes along; an unrelated start stays out."""
    def entry(number: int, body: dict[str, Any], session_id: str | None = None) -> dict[str, Any]:
        answer = {"result": {"code": 0, "message": "Success."}}
        if session_id:
            answer["session-start"] = {"session-id": session_id, "is-stoppable": True}
        return {"id": number, "call": next(iter(body)), "request_body": body, "status": 200, "response_body": answer}

    start, other = entry(1, session_start(CONNECTOR), "s1"), entry(2, session_start(UNKNOWN), "s2")
    stop = entry(3, {"session-stop": {"connector-id": CONNECTOR, "session-id": "s1"}})
    kept, added = _replay.with_givers([start, other, stop], [stop])
    assert kept == [start, stop] and added == [(1, "its answer gave 's1', which a later request names")]
    assert _replay.given_ids(start) == {"/session-start/session-id": "s1"}


def test_the_module_adds_both_commands_once_also_when_named_twice() -> None:
    parser, commands = cli.new_parser("oioi", "test")
    traffic.add_parser(commands)
    traffic.add_parser(commands)  # oioi_cli names the module for replay and for regress
    assert {"replay", "regress"} <= set(commands.choices)
    out = io.StringIO()
    assert cli.command(parser, ["replay", "--help"], out, io.StringIO()) == 0 and "--exchange ID" in out.getvalue()
