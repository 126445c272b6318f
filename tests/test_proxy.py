"""``oioi proxy``: every exchange forwarded byte for byte both ways, journaled with its peer and findings.

The upstream is a recording HTTP/1.1 server on a raw socket (`RawUpstream`): it keeps the
exact bytes of each request the proxy sends and answers with the exact bytes a test gives it,
so that a test can compare what the client sent with what arrived, and what the upstream
answered with what the client got. The proxy runs as it ships (``python -m
mock_server.proxy``, gunicorn), with a second listener whose upstream is down.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import io
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mock_server import proxy
from mock_server._store import Store
from oioi import serving
from oioi.cli import command, new_parser

KEY = "proxy-test-key-5f2b9c0e1a7d4e88"
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
VALID = b'{"rfid-verify": {"rfid": "04523022AA4881"}}'
LOWER_CASE_UID = b'{"rfid-verify": {"rfid": "04523022aa4881"}}'
NOT_UTF8 = b'{"rfid-verify": {"rfid": "04523022AA4881\xff"}}'
SUCCESS = b'{"evco-id": "DE*8PS*123456*7", "result": {"code": 0, "message": "Success."}}'
REFUSED = b'{"result": {"code": 230, "message": "Invalid request format"}}'
Fields = list[tuple[str, str]]


class RawUpstream:
    """An HTTP/1.1 server that records the bytes of each request and answers with the bytes it is given."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.received: list[tuple[bytes, bytes]] = []  # (head, body) of each request, in order
        self.answer = answer("200 OK", [("Content-Type", "application/json")], SUCCESS)
        self.delay = 0.0  # seconds to wait before answering
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):  # the proxy may go away at any time
            connection.settimeout(30)
            buffer = b""
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = int(dict(fields_of(head)).get("content-length", "0"))
                while len(buffer) < length:
                    buffer += connection.recv(65536)
                self.received.append((head, buffer[:length]))
                buffer = buffer[length:]
                time.sleep(self.delay)
                connection.sendall(self.answer)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)
        self.server.close()


def answer(status: str, fields: Fields, body: bytes, *, length: bool = True) -> bytes:
    """An HTTP/1.1 answer's bytes, with the upstream's own Date and Server."""
    fields = [("Server", "upstream/1.0"), ("Date", "Mon, 07 Dec 2026 10:00:00 GMT"), *fields]
    fields += [("Content-Length", str(len(body)))] if length else []
    return f"HTTP/1.1 {status}\r\n".encode() + b"".join(f"{n}: {v}\r\n".encode() for n, v in fields) + b"\r\n" + body


def fields_of(head: bytes) -> Fields:
    """The header fields of a request head, names lower-cased."""
    lines = head.decode("latin-1").split("\r\n")[1:]
    return [(name.strip().lower(), value.strip()) for name, _, value in (line.partition(":") for line in lines)]


def end_to_end(fields: Fields) -> list[tuple[str, str]]:
    """Fields without the hop-by-hop ones and those Connection names, names lower-cased, sorted."""
    named = {t.strip().lower() for n, v in fields if n.lower() == "connection" for t in v.split(",")}
    return sorted((n.lower(), v) for n, v in fields if n.lower() not in HOP_BY_HOP | named)


def send(port: int, body: bytes, fields: Fields | None = None, *, method: str = "POST",
         target: str = "/api/v4/request") -> tuple[int, str, Fields, bytes]:
    """Send ``body`` with exactly ``fields`` (and Host); the status, reason, fields and body bytes received."""
    given = fields if fields is not None else [
        ("Authorization", f"key={KEY}"), ("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in given:
            connection.putheader(name, value)
        connection.endheaders(body)
        got = connection.getresponse()
        return got.status, got.reason, got.getheaders(), got.read()
    finally:
        connection.close()


class Running:
    """The proxy under test: its listeners' ports, its journal, its output."""

    def __init__(self, child: serving.Child, db: Path, upstream: RawUpstream) -> None:
        self.child, self.db, self.upstream = child, db, upstream
        urls = [line.split(serving.ANNOUNCE)[1] for line in child.stdout().splitlines() if serving.ANNOUNCE in line]
        self.ports = [int(url.rsplit(":", 1)[1]) for url in urls]

    def journal(self) -> list[dict[str, Any]]:
        return Store(str(self.db), create=False).journal()

    def exchange(self, body: bytes, fields: Fields | None = None) -> tuple[tuple[int, str, Fields, bytes], bytes,
                                                                            bytes, dict[str, Any]]:
        """Send through the first listener: what the client got, the head and body the upstream got, the row."""
        before = len(self.upstream.received)
        got = send(self.ports[0], body, fields)
        ((head, received),) = self.upstream.received[before:]
        return got, head, received, self.journal()[-1]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    upstream = RawUpstream()
    db = tmp_path_factory.mktemp("proxy") / "journal.sqlite3"
    child = serving.start([sys.executable, "-m", "mock_server.proxy",
                           "--listen", "127.0.0.1:0", "--upstream", f"http://127.0.0.1:{upstream.port}/api/v4/request",
                           "--name", "cpo",
                           "--listen", "127.0.0.1:0", "--upstream", f"http://127.0.0.1:{serving.free_port()}",
                           "--listen", "127.0.0.1:0",
                           "--upstream", f"http://127.0.0.1:{upstream.port}/partner/oioi/api/v4/request",
                           "--db", str(db), "--timeout", "2"], what="proxy")
    try:
        yield Running(child, db, upstream)
    finally:
        stopped = child.stop()
        upstream.close()
    assert stopped == 0, child.stderr()


def assert_forwarded(running: Running, body: bytes, fields: Fields, head: bytes, received: bytes) -> None:
    """The upstream got the client's body bytes and end-to-end fields, Host naming it, nothing added."""
    assert received == body
    assert head.split(b"\r\n")[0] == b"POST /api/v4/request HTTP/1.1"
    got = fields_of(head)
    assert ("host", f"127.0.0.1:{running.upstream.port}") in got
    assert end_to_end([f for f in got if f[0] != "host"]) == end_to_end(fields)


def assert_returned(running: Running, got: tuple[int, str, Fields, bytes]) -> None:
    """The client got the upstream's status, reason, end-to-end fields and body bytes."""
    raw = running.upstream.answer
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n")[0].decode()
    assert f"{got[0]} {got[1]}" == status_line.split(" ", 1)[1]
    assert end_to_end(got[2]) == end_to_end(fields_of(head))
    assert got[3] == body


def client_fields(body: bytes) -> Fields:
    return [("Authorization", f"key={KEY}"), ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))), ("X-Trace", "ticket-1234")]


def test_a_valid_exchange_passes_byte_for_byte_and_is_journaled_without_findings(running: Running) -> None:
    running.upstream.answer = answer("200 OK", [("Content-Type", "application/json")], SUCCESS)
    got, head, received, row = running.exchange(VALID, client_fields(VALID))
    assert_forwarded(running, VALID, client_fields(VALID), head, received)
    assert_returned(running, got)
    assert b"user-agent" not in head.lower() and b"accept-encoding" not in head.lower()  # nothing added
    assert (row["peer"], row["call"], row["status"], row["result_code"], row["findings"]) == (
        "cpo", "rfid-verify", 200, 0, [])
    assert row["request_body"] == json.loads(VALID) and row["response_body"] == json.loads(SUCCESS)


def test_an_invalid_request_is_forwarded_unchanged_and_its_finding_journaled_and_printed(running: Running) -> None:
    running.upstream.answer = answer("400 Bad Request", [("Content-Type", "application/json")], REFUSED)
    got, head, received, row = running.exchange(LOWER_CASE_UID, client_fields(LOWER_CASE_UID))
    assert_forwarded(running, LOWER_CASE_UID, client_fields(LOWER_CASE_UID), head, received)
    assert_returned(running, got)
    assert [(f["rule"], f["path"]) for f in row["findings"]] == [("schema/pattern", "/rfid-verify/rfid")]
    line = f"FINDING  cpo rfid-verify #{row['id']}  schema/pattern: Received: '04523022aa4881'"
    assert wait_for(lambda: line in running.child.stdout()), running.child.stdout()


def test_a_body_that_is_not_utf8_arrives_as_its_bytes_and_is_a_finding(running: Running) -> None:
    running.upstream.answer = answer("400 Bad Request", [("Content-Type", "application/json")], REFUSED)
    got, head, received, row = running.exchange(NOT_UTF8, client_fields(NOT_UTF8))
    assert_forwarded(running, NOT_UTF8, client_fields(NOT_UTF8), head, received)
    assert_returned(running, got)
    assert [f["rule"] for f in row["findings"]] == ["message/utf-8"]
    assert row["request_body"].endswith('4881\\xff"}}')


def test_a_gzip_answer_reaches_the_client_still_compressed_and_is_judged_uncompressed(running: Running) -> None:
    packed = gzip.compress(SUCCESS)
    running.upstream.answer = answer("200 OK", [("Content-Type", "application/json"),
                                                ("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")], packed)
    fields = [*client_fields(VALID), ("Accept-Encoding", "gzip")]
    got, head, received, row = running.exchange(VALID, fields)
    assert_forwarded(running, VALID, fields, head, received)
    assert_returned(running, got)
    assert got[3] == packed
    assert (row["response_body"], row["result_code"], row["findings"]) == (json.loads(SUCCESS), 0, [])


def test_hop_by_hop_fields_go_in_both_directions_and_the_others_stay(running: Running) -> None:
    chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(SUCCESS), SUCCESS)
    running.upstream.answer = answer(
        "200 OK", [("Content-Type", "application/json"), ("Keep-Alive", "timeout=5"), ("Connection", "X-Hop"),
                   ("X-Hop", "upstream-private"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
                   ("Transfer-Encoding", "chunked")], chunks, length=False)
    fields = [("Authorization", f"key={KEY}"), ("Content-Type", "application/json"),
              ("Connection", "keep-alive, X-Private"), ("X-Private", "client-private"), ("Keep-Alive", "timeout=9"),
              ("Proxy-Connection", "keep-alive"), ("TE", "trailers"), ("Transfer-Encoding", "chunked")]
    sent = b"%x\r\n%s\r\n0\r\n\r\n" % (len(VALID), VALID)
    got, head, received, row = running.exchange(sent, fields)
    assert received == VALID  # de-chunked: Transfer-Encoding is hop-by-hop, the bytes of the message are the same
    got_fields = fields_of(head)
    for name in ("x-private", "keep-alive", "proxy-connection", "te", "transfer-encoding", "connection"):
        assert name not in dict(got_fields), name
    assert end_to_end([f for f in got_fields if f[0] not in ("host", "content-length")]) == end_to_end(fields)
    assert got[3] == SUCCESS
    assert [v for n, v in got[2] if n.lower() == "set-cookie"] == ["a=1", "b=2"]
    assert "x-hop" not in {n.lower() for n, _ in got[2]} and "keep-alive" not in {n.lower() for n, _ in got[2]}
    assert ("Date", "Mon, 07 Dec 2026 10:00:00 GMT") in got[2] and ("Server", "upstream/1.0") in got[2]
    assert [n.lower() for n, _ in got[2]].count("date") == 1
    assert row["findings"] == []


def test_an_upstream_that_is_down_gets_the_client_a_502_with_a_json_result(running: Running) -> None:
    status, _, fields, body = send(running.ports[1], VALID)
    assert status == 502 and dict(fields)["Content-Type"] == "application/json"
    assert json.loads(body)["result"]["code"] == 100
    row = running.journal()[-1]
    assert (row["peer"], row["call"], row["status"], row["findings"]) == ("b", "rfid-verify", 502, [])
    assert row["fault"]["kind"] == "upstream-unreachable"


def test_an_upstream_that_does_not_answer_in_time_gets_a_502_with_result_102(running: Running) -> None:
    running.upstream.answer = answer("200 OK", [("Content-Type", "application/json")], SUCCESS)
    running.upstream.delay = 3.0
    try:
        status, _, _, body = send(running.ports[0], VALID)
    finally:
        running.upstream.delay = 0.0
    assert (status, json.loads(body)["result"]["code"]) == (502, 102)
    assert running.journal()[-1]["fault"]["kind"] == "upstream-timeout"


def test_the_api_key_is_masked_in_the_journal_and_the_output(running: Running) -> None:
    send(running.ports[0], VALID)
    row = running.journal()[-1]
    assert row["request_headers"]["Authorization"] == "key=" + "*" * (len(KEY) - 4) + KEY[-4:]
    files = [p for p in running.db.parent.iterdir() if p.name.startswith(running.db.name)]
    assert files and all(KEY.encode() not in p.read_bytes() for p in files)
    assert KEY not in running.child.stdout() + running.child.stderr()


def wait_for(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


@pytest.mark.parametrize(("options", "says"), [
    (["--upstream", "http://127.0.0.1:1", "--listen", "127.0.0.1:0"], "comes before any --listen"),
    (["--listen", "127.0.0.1:0"], "has no --upstream"),
    (["--listen", "127.0.0.1:70000", "--upstream", "http://127.0.0.1:1"], "port from 0 to 65535"),
    (["--listen", "127.0.0.1:0", "--upstream", "ftp://127.0.0.1/x"], "is not an http(s) URL"),
    (["--listen", "127.0.0.1:0", "--upstream", "http://u:secret@127.0.0.1:1"], "carries a user"),
    (["--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1", "--name", "x",
      "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:2", "--name", "x"], "must be distinct"),
    (["--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1", "--upstream", "http://127.0.0.1:2"],
     "has two --upstream"),
    (["--upstream", "http://127.0.0.1:1"], "--listen"),
], ids=["upstream-first", "no-upstream", "bad-port", "not-http", "user-in-url", "same-name", "two-upstreams",
        "no-listen"])
def test_a_bad_option_is_one_sentence_and_exit_2(options: list[str], says: str, tmp_path: Path) -> None:
    code, _, err = run_proxy([*options, "--db", str(tmp_path / "j.sqlite3")])
    assert code == 2 and says in err and err.count("\n") == 1, err
    assert "secret" not in err


def test_a_taken_address_and_a_missing_folder_are_one_sentence(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code, _, err = run_proxy(["--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1",
                                  "--listen", f"127.0.0.1:{port}", "--upstream", "http://127.0.0.1:1",
                                  "--db", str(tmp_path / "j.sqlite3")])
    assert code == 2 and f"Cannot listen on 127.0.0.1:{port}" in err and err.count("\n") == 1, err
    code, _, err = run_proxy(["--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1",
                              "--db", str(tmp_path / "no" / "j.sqlite3")])
    assert code == 2 and "does not exist" in err and err.count("\n") == 1, err


def run_proxy(options: list[str]) -> tuple[int, str, str]:
    parser, commands = new_parser("oioi", "test")
    proxy.add_parser(commands)
    out, err = io.StringIO(), io.StringIO()
    code = command(parser, ["proxy", *options], out, err, io.StringIO())
    return code, out.getvalue(), err.getvalue()


def test_the_upstream_may_be_given_as_the_partners_endpoint_or_its_base() -> None:
    assert proxy.upstream_base("http://127.0.0.1:8642/api/v4/request") == "http://127.0.0.1:8642"
    assert proxy.upstream_base("http://127.0.0.1:8642/") == "http://127.0.0.1:8642"
    assert proxy.upstream_base("https://partner.example/oioi/api/v4/request") == "https://partner.example/oioi"


def test_the_path_goes_after_the_upstreams_prefix_and_a_get_is_forwarded_but_not_judged(running: Running) -> None:
    running.upstream.answer = answer("200 OK", [("Content-Type", "application/json")], SUCCESS)
    before = len(running.upstream.received)
    assert send(running.ports[2], VALID)[0] == 200
    assert send(running.ports[0], b"", [("Accept", "*/*")], method="GET", target="/health?deep=1")[3] == SUCCESS
    (prefixed, _), (get, _) = running.upstream.received[before:]
    assert prefixed.split(b"\r\n")[0] == b"POST /partner/oioi/api/v4/request HTTP/1.1"
    assert get.split(b"\r\n")[0] == b"GET /health?deep=1 HTTP/1.1"
    assert b"content-length" not in get.lower()  # nothing added to a request without a body
    prefixed_row, get_row = running.journal()[-2:]
    assert (prefixed_row["peer"], prefixed_row["call"], prefixed_row["findings"]) == ("c", "rfid-verify", [])
    assert (get_row["call"], get_row["findings"]) == (None, [])
