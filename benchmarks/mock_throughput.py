"""Benchmark: the mock partner's throughput beside a bare Flask route, on the same WSGI server, in one run.

    python benchmarks/mock_throughput.py [--requests 3000] [--threads 8] [--rounds 5] [--servers gunicorn waitress]

For each WSGI server (gunicorn as the mock ships it: one worker, 8 threads; waitress with 8
threads, for comparison) it starts, each in its own process on a free loopback port:

* **mock** — the EMP mock, ``create_app("emp", ...)`` with a real SQLite file, after one
  ``station-post`` so that the connector is known. Every ``connector-post-status`` request
  is authenticated, parsed, validated against its schema, applied to the state, journaled
  and answered with a body that is itself checked against the response schema.
* **bare** — a Flask app with one route, ``POST /api/v4/request``, answering a fixed
  success body.

Then it sends REQUESTS ``connector-post-status`` requests from THREADS client threads
(keep-alive connections, ``http.client``) to each, ROUNDS times in alternation, and
reports the best requests/s of each and their ratio mock/bare, and the median and range of
the ratios measured round by round (bare then mock, back to back). It checks that every answer
was 200 with result code 0 and that the mock's journal holds every request. The
clients run on the same 2 cores as the server: the figures are end to end, and only the
ratios, measured in the same run, are worth comparing between machines.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import itertools
import json
import logging
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

KEY = "benchmark-key-5d1c0e7a9b"
PARTNER = "benchmark-partner-0001"
CONNECTOR = "DE*8PS*E900001*1"
SUCCESS = b'{"result": {"code": 0, "message": "Success."}}'
_MEASUREMENTS = itertools.count(1)


# --- the servers (run in a child process: ``--serve TARGET --server NAME``) -------------


def bare_app() -> Any:
    from flask import Flask, Response

    app = Flask("bare")

    @app.post("/api/v4/request")
    def answer() -> Response:
        return Response(SUCCESS, mimetype="application/json")

    return app


def mock_app(db: str) -> Any:
    from mock_server import create_app

    return create_app("emp", {"API_KEYS": [KEY], "DATABASE": db, "PARTNER_IDENTIFIERS": [PARTNER]})


def serve(target: str, server: str, db: str) -> None:
    app = mock_app(db) if target == "mock" else bare_app()
    if server == "waitress":
        import waitress

        logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" is the point here
        wsgi = waitress.create_server(app, host="127.0.0.1", port=0, threads=8)
        print(f"PORT {wsgi.effective_port}", flush=True)
        wsgi.run()
        return
    from gunicorn.app.base import BaseApplication

    from mock_server._serve import gunicorn_settings

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, value in gunicorn_settings("127.0.0.1:0").items():
                self.cfg.set(name, value)
            self.cfg.set("when_ready", lambda s: print(f"PORT {s.LISTENERS[0].sock.getsockname()[1]}", flush=True))

        def load(self) -> Any:
            return app

    Server().run()


# --- the client -------------------------------------------------------------------------


def start(target: str, server: str, db: str) -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, __file__, "--serve", target, "--server", server, "--db", db]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        sys.exit(f"the {target} server on {server} did not start: {line!r}")
    return proc, int(line.split()[1])


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU time of a process and its children (Linux ``/proc``; 0.0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, parents = 0.0, {root}
    try:
        stats = [Path(f"/proc/{pid}/stat").read_text() for pid in os.listdir("/proc") if pid.isdigit()]
    except OSError:
        return 0.0
    rows = []
    for text in stats:
        pid, rest = text.split(" (", 1)
        fields = rest.rsplit(") ", 1)[1].split()
        rows.append((int(pid), int(fields[1]), int(fields[11]) + int(fields[12])))
    for pid, ppid, ticks in rows:
        if pid in parents or ppid in parents:
            parents.add(pid)
            total += ticks / tick
    return total


def post(conn: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes]:
    conn.request("POST", "/api/v4/request", body, {"Authorization": f"key={KEY}", "Content-Type": "application/json"})
    answer = conn.getresponse()
    return answer.status, answer.read()


def load(port: int, requests: int, threads: int) -> float:
    """Send ``requests`` connector-post-status requests from ``threads`` threads; requests/s."""
    statuses = ("Available", "Occupied")
    problems: list[str] = []
    per_thread = requests // threads

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for i in range(per_thread):
                body = {"connector-post-status": {"connector-id": CONNECTOR, "status": statuses[(index + i) % 2],
                                                  "partner-identifier": PARTNER}}
                status, text = post(conn, json.dumps(body).encode())
                if status != 200 or json.loads(text)["result"]["code"] != 0:
                    problems.append(f"{status} {text[:200]!r}")
                    return
        finally:
            conn.close()

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    began = time.perf_counter()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - began
    if problems:
        sys.exit(f"unexpected answer: {problems[0]}")
    return per_thread * threads / elapsed


def measure(target: str, server: str, folder: Path, requests: int, threads: int) -> tuple[float, float]:
    """Requests/s, and the server's CPU microseconds per request."""
    # A new file each time: counting the folder's files would repeat a name once SQLite removes a -wal file.
    db = str(folder / f"{target}-{server}-{next(_MEASUREMENTS)}.sqlite3")
    proc, port = start(target, server, db)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        if target == "mock":
            from mock_server.seed import DEFAULT_STATION

            station = {**DEFAULT_STATION, "id": "benchmark-station-1",
                       "connectors": [{"id": CONNECTOR, "name": "Type2", "speed": 22.0}]}
            status, text = post(conn, json.dumps({"station-post": {"station": station,
                                                                   "partner-identifier": PARTNER}}).encode())
            if status != 200:
                sys.exit(f"station-post failed: {status} {text[:300]!r}")
        conn.close()
        load(port, threads * 25, threads)  # warm up
        cpu = tree_cpu_seconds(proc.pid)
        rate = load(port, requests, threads)
        cpu = tree_cpu_seconds(proc.pid) - cpu
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if target == "mock":
        with sqlite3.connect(db) as journal:
            (count,) = journal.execute(
                "SELECT count(*) FROM journal WHERE call = 'connector-post-status' AND status = 200"
            ).fetchone()
        expected = threads * 25 + requests // threads * threads
        if count != expected:
            sys.exit(f"the mock's journal holds {count} connector-post-status exchanges, expected {expected}")
    return rate, cpu / (requests // threads * threads) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--servers", nargs="+", default=["gunicorn", "waitress"], choices=["gunicorn", "waitress"])
    parser.add_argument("--serve", choices=["mock", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--server", choices=["gunicorn", "waitress"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.server, args.db)
        return

    if "waitress" in args.servers and importlib.util.find_spec("waitress") is None:
        sys.exit("waitress is not installed: install it with pip install -e '.[bench]', or pass --servers gunicorn.")
    best: dict[tuple[str, str], float] = {}
    ratios: dict[str, list[float]] = {server: [] for server in args.servers}
    with tempfile.TemporaryDirectory(prefix="oioi-bench-") as tmp:
        for round_ in range(1, args.rounds + 1):
            for server in args.servers:
                rates = {}
                for target in ("bare", "mock"):
                    rate, cpu = measure(target, server, Path(tmp), args.requests, args.threads)
                    rates[target] = rate
                    best[(server, target)] = max(rate, best.get((server, target), 0.0))
                    print(f"round {round_}: {server:8} {target:4} {rate:8,.0f} requests/s, "
                          f"server CPU {cpu:5.0f} us/request", flush=True)
                ratios[server].append(rates["mock"] / rates["bare"])
    print()
    for server in args.servers:
        mock, bare = best[(server, "mock")], best[(server, "bare")]
        each = ratios[server]
        print(f"{server:8}: mock {mock:,.0f}/s, bare Flask route {bare:,.0f}/s, ratio mock/bare {mock / bare:.2f} "
              f"(best of each); per round: median {statistics.median(each):.2f}, "
              f"range {min(each):.2f}-{max(each):.2f}")
    if len(args.servers) == 2:
        a, b = args.servers
        print(f"mock on {a} / mock on {b}: {best[(a, 'mock')] / best[(b, 'mock')]:.2f}")
    print(f"{args.requests} requests per measurement from {args.threads} threads; {args.rounds} rounds, "
          f"bare then mock in each; machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
