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
