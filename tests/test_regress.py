"""``oioi regress``: the test file it writes passes against the correct reference CPO and fails against a faulty one.

The file is run as a partner would run it in CI: pytest in a child process, in a folder of its own,
with the plugin the installed distribution registers (``--oioi-url``, ``--oioi-role``,
``--oioi-api-key``), over real HTTP.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.test_replay import CONNECTOR, INVALID, KEY, SESSION, oioi, record, session_start, write_capture
from tests.test_replay import cpo as cpo  # the reference CPO with its variants, shared with test_replay

Url = Callable[[str | None], str]


@pytest.fixture(scope="module")
def ticket(cpo: Url, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The capture: a session-start, the session-stop of the session-id it gave, a start on an unknown connector."""
    return write_capture(tmp_path_factory.mktemp("ticket"), record(cpo(None), SESSION))


@pytest.fixture(scope="module")
def written(ticket: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``oioi regress ticket.json --exchange 2 --exchange 3 -o test_ticket_1234.py``: the file and what stderr said."""
    output = tmp_path_factory.mktemp("ci") / "test_ticket_1234.py"
    code, out, err = oioi("regress", str(ticket), "--exchange", "2", "--exchange", "3", "-o", str(output))
    assert code == 0, err
    assert out.startswith(f"wrote {output}: 3 tests; run it with: pytest {output} --oioi-url URL --oioi-role cpo")
    return output, err


def run_pytest(test_file: Path, url: str, *more: str) -> subprocess.CompletedProcess[str]:
    """``pytest FILE --oioi-url URL --oioi-role cpo --oioi-api-key KEY`` in its folder, as a partner's CI would."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", test_file.name, "-p", "no:cacheprovider", "-q", "--oioi-url", url,
         "--oioi-role", "cpo", "--oioi-api-key", KEY, *more],
        cwd=test_file.parent, capture_output=True, text=True, timeout=120, check=False)


def test_the_file_is_one_readable_test_per_exchange(written: tuple[Path, str]) -> None:
    path, err = written
    source = path.read_text("utf-8")
    tree = ast.parse(source)
    imported = {n.module if isinstance(n, ast.ImportFrom) else a.name
                for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)
                for a in n.names}
    assert imported == {"__future__", "pytest", "conformance", "conformance.traffic"}
    tests = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert [t.name for t in tests] == ["test_exchange_1_session_start", "test_exchange_2_session_stop",
                                       "test_exchange_3_session_start"]
    assert ast.get_docstring(tests[1]) == ("Capture ticket.json, exchange #2: session-stop; the captured answer was "
                                           "HTTP 200, result 000.")
    assert "'connector-id': 'DE*REF*E999999*9'" in source  # the request inline
    assert "exchange #1 added too: its answer gave" in err  # the start whose session-id #2 names
    assert "checks.answer_conforms(exchange, 'session-stop')" in source


def test_the_file_passes_against_the_correct_reference(written: tuple[Path, str], cpo: Url) -> None:
    done = run_pytest(written[0], cpo(None))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_the_file_fails_against_a_faulty_reference(written: tuple[Path, str], cpo: Url) -> None:
    done = run_pytest(written[0], cpo("result-code-as-string"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "3 failed" in done.stdout
    assert "Received: an HTTP 200 answer that breaks the session-start response schema at /result/code" in done.stdout


def test_the_file_maps_the_session_id(written: tuple[Path, str], cpo: Url) -> None:
    """The stop names the session-id the start gave in this run: afterwards the connector is free again (with the
    captured id the stop would be refused and the session run on: a new start would get 320, EVSE in use)."""
    done = run_pytest(written[0], cpo(None), "-k", "exchange_1 or exchange_2")
    assert done.returncode == 0 and "2 passed" in done.stdout, done.stdout + done.stderr
    with requests.Session() as http:
        headers = {"Content-Type": "application/json", "Authorization": f"key={KEY}"}
        answer = http.post(cpo(None), json=session_start(CONNECTOR), headers=headers, timeout=10).json()
        assert answer["result"]["code"] == 0
        stop = {"session-stop": {**session_start(CONNECTOR)["session-start"],
                                 "session-id": answer["session-start"]["session-id"]}}
        assert http.post(cpo(None), json=stop, headers=headers, timeout=10).json()["result"]["code"] == 0


def test_a_failed_should_is_an_xfail_never_a_failure(cpo: Url, tmp_path: Path) -> None:
    """A 4xx answer with a plain-text body breaks only our reading (transport.error-answer-json, a SHOULD)."""
    capture = write_capture(tmp_path, record(cpo(None), [lambda _: INVALID]))
    output = tmp_path / "test_invalid.py"
    assert oioi("regress", str(capture), "--exchange", "1", "-o", str(output))[0] == 0
    assert "1 passed" in run_pytest(output, cpo(None)).stdout
    done = run_pytest(output, cpo("plain-text-errors"), "-rx")
    assert done.returncode == 0 and "1 xfailed" in done.stdout, done.stdout + done.stderr
    assert "a SHOULD (transport.error-answer-json), not a failure: Received: HTTP 400 with body" in done.stdout


def test_an_exchange_is_needed(ticket: Path) -> None:
    code, out, err = oioi("regress", str(ticket))
    assert (code, out) == (2, "") and "--exchange ID" in err and err.count("\n") == 1


def test_an_unwritable_output_is_one_sentence(ticket: Path, tmp_path: Path) -> None:
    code, _, err = oioi("regress", str(ticket), "--exchange", "1", "-o", str(tmp_path / "missing" / "test_x.py"))
    assert code == 2 and err.startswith("Cannot write") and err.count("\n") == 1


def test_a_call_the_suite_does_not_judge_is_refused(tmp_path: Path) -> None:
    entries = [{"id": 7, "exchange": "inbound", "call": "user-logout", "request_body": {"user-logout": {}},
                "status": 200, "response_body": {"result": {"code": 0, "message": "Success."}}}]
    code, _, err = oioi("regress", str(write_capture(tmp_path, entries)), "--exchange", "7")
    assert code == 2 and "Exchange #7 is a user-logout" in err
