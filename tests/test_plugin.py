"""The pytest plugin (``--oioi-*``): inert without a target, fail-fast with a bad one."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest


class _Answers200(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"result": {"code": 191, "message": "EVCO ID not found"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listening_url() -> Iterator[str]:
    """Something that answers every POST on a loopback port (the preflight only needs an answer)."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Answers200)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v4/request"
    server.shutdown()
    server.server_close()


def test_plugin_is_inert_without_a_target(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "OIOI IUT" not in result.stdout.str()


def test_suite_skips_without_a_target(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--pyargs", "conformance.suite.test_emp", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) > 0 and "passed" not in outcomes and "failed" not in outcomes


def test_unreachable_iut_stops_the_run_with_status_2(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--pyargs", "conformance.suite", "-p", "no:cacheprovider", "--oioi-url", "http://127.0.0.1:9/api/v4/request",
        "--oioi-role", "cpo", "--oioi-api-key", "plugin-test-key-0001",
    )
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*Cannot reach the IUT at http://127.0.0.1:9/api/v4/request*"])


def test_unknown_requirement_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--pyargs", "conformance.suite", "-p", "no:cacheprovider", "--oioi-url", "http://127.0.0.1:9/api/v4/request",
        "--oioi-role", "cpo", "--oioi-api-key", "plugin-test-key-0001", "--oioi-requirement", "transport.nope",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*'transport.nope' is not in the catalogue*"])


def test_header_names_iut_role_profile_and_seed_with_the_key_masked(
    pytester: pytest.Pytester, listening_url: str
) -> None:
    pytester.makepyfile("def test_nothing():\n    assert True\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--oioi-url", listening_url, "--oioi-role", "emp",
        "--oioi-api-key", "plugin-test-key-0001", "--oioi-seed", "42", "--collect-only",
    )
    result.stdout.fnmatch_lines([f"OIOI IUT: {listening_url} role=EMP profile=quick seed=42 "
                                 "key=****************0001"])
    assert "plugin-test-key-0001" not in result.stdout.str()


def test_the_declaration_option_gives_the_target(pytester: pytest.Pytester) -> None:
    """--oioi-declaration alone activates the plugin: the URL and role come from the file."""
    pytester.makefile(".toml", iut='[iut]\nrole = "cpo"\nurl = "http://127.0.0.1:9/from-the-declaration"\n')
    result = pytester.runpytest_subprocess(
        "--pyargs", "conformance.suite", "-p", "no:cacheprovider", "--oioi-declaration", "iut.toml",
        "--oioi-api-key", "plugin-test-key-0001",
    )
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*Cannot reach the IUT at http://127.0.0.1:9/from-the-declaration*"])


def test_a_fault_in_the_declaration_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", iut='[features]\nreservation = false\n')
    result = pytester.runpytest_subprocess(
        "--pyargs", "conformance.suite", "-p", "no:cacheprovider", "--oioi-declaration", "iut.toml",
        "--oioi-url", "http://127.0.0.1:9/api/v4/request", "--oioi-role", "cpo", "--oioi-api-key", "k",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown key 'reservation' in [[]features]; did you mean 'reservations'?*"])


URL = "http://127.0.0.1:8000/api/v4/request"
JSON, HTML = {"Content-Type": "application/json"}, {"Content-Type": "text/html; charset=utf-8"}


@pytest.mark.parametrize(
    ("status", "headers", "body", "why"),
    [
        (404, HTML, b"<!DOCTYPE html><title>Not Found</title>", "answered HTTP 404 with HTML: not an OIOI endpoint"),
        (405, {"Content-Type": "text/plain"}, b"Method Not Allowed", "HTTP 405 with a body that is not JSON"),
        (200, HTML, b"<html><body>Welcome</body></html>", "HTTP 200 with HTML"),
        (200, JSON, b'{"status": "ok"}', "HTTP 200 with JSON without a result object"),
        (404, JSON, b'{"result": {"code": 230, "message": "no such path"}}', "HTTP 404 with result code 230"),
        (502, HTML, b"<html>Bad Gateway</html>", "a gateway in front of it answered"),
        # What faulty IUTs do: the checks judge it, the preflight lets it through.
        (200, HTML, b'{"result": {"code": 189, "message": "Reservation not found"}}', None),  # html-content-type
        (200, JSON, b'{"result": {"code": "189", "message": "Reservation not found"}}', None),  # code as a string
        (200, JSON, b'{"result": {"code": 0, "message": "Success."}}', None),  # 200-on-unknown-call and the like
        (500, {"Content-Type": "text/plain"}, b"Internal Server Error", None),  # the IUT's own 5xx
        # What the spec allows: a processed call's refusal as a 4xx with its result code.
        (404, JSON, b'{"result": {"code": 189, "message": "Reservation not found"}}', None),
        (None, {}, None, None),  # no answer: the checks say so
    ],
)
def test_the_preflight_stops_only_on_answers_that_are_not_oioi(
    status: int | None, headers: dict[str, str], body: bytes | None, why: str | None
) -> None:
    from conformance._exchange import Exchange
    from conformance._preflight import not_oioi

    exchange = Exchange(url=URL, request_headers={}, request_body=b"{}", status=status, response_headers=headers,
                        response_body=body)
    found = not_oioi(URL, "reservation-stop", exchange)
    assert (found is None) == (why is None), found
    if why is not None:
        assert found is not None and why in found and found.count(".") >= 1 and "\n" not in found
        assert found.endswith("check --url." if status not in (502, 504) else "running behind it.")
    if status == 404 and why and "HTML" in why:
        assert not_oioi("http://h:1", "reservation-stop", exchange) == (
            "The IUT at http://h:1 answered HTTP 404 with HTML: not an OIOI endpoint; the URL usually ends in "
            "/api/v4/request.")


@pytest.mark.parametrize(
    ("answers", "doubtful"),
    [
        ({"active": 0, "inactive": 192, "unknown": 191}, ()),  # as declared
        ({"active": 191, "inactive": 191, "unknown": 191}, ("active", "inactive")),  # knows none: the table?
        ({"active": 100, "inactive": 100, "unknown": 100}, ("active",)),  # 100 fits a refusal, not the active UID
        ({"active": 0, "inactive": 0, "unknown": 191}, ()),  # knows the table: a fault the checks judge
        ({"active": 0, "inactive": 192, "unknown": 192}, ()),  # the same
        ({"active": 191, "inactive": 192, "unknown": 191}, ()),  # the same
        ({"active": 140, "inactive": 0, "unknown": 0}, ("active", "inactive", "unknown")),  # none as declared
    ],
)
def test_uids_are_doubtful_only_when_the_emp_knows_none_of_them(
    answers: dict[str, int], doubtful: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance import _preflight
    from conformance._exchange import Exchange

    uids = {"active": "04523022AA4881", "inactive": "0477BD22AA4880", "unknown": "0477BD22AA4AAA"}
    by_uid = {uid: answers[state] for state, uid in uids.items()}

    class Answering:
        def send(self, message: dict[str, dict[str, str]]) -> Exchange:
            code = by_uid[message["rfid-verify"]["rfid"]]
            return Exchange(url=URL, request_headers={}, request_body=b"{}", status=200, response_headers=JSON,
                            response_body=f'{{"result": {{"code": {code}, "message": "m"}}}}'.encode())

    found, warnings = _preflight._doubtful_rfids(Answering(), uids)  # type: ignore[arg-type]
    assert found == doubtful
    assert len(warnings) == len(doubtful) and all(uids[s] in w for s, w in zip(doubtful, warnings, strict=True))
