"""Benchmark: what `oioi proxy` adds to an exchange, direct and through the proxy side by side in one run.

    python benchmarks/proxy_overhead.py [--requests 1000] [--threads 8] [--rounds 3]

Starts the reference EMP (examples/reference_emp, gunicorn) and `oioi proxy` in front of it
(``python -m mock_server.proxy``, one listener, a SQLite journal in a temporary folder), both on
free loopback ports. Every request is a valid ``rfid-verify`` of the reference EMP's active UID,
answered 200/000. Each round measures, direct then through the proxy, back to back:

* **latency** — REQUESTS requests one after the other on one keep-alive connection
  (``http.client``); the median (p50) of each, and the added p50 = proxy - direct, in ms;
* **throughput** — REQUESTS requests from THREADS client threads, each on its own keep-alive
  connection; requests/s of each and their ratio proxy/direct.

It checks every answer (200, result code 0, the same bytes both ways) and that the proxy's
journal holds every exchange it forwarded, without a finding. It reports the median over the
rounds. The budget (issue 14): added p50 <= 2 ms, throughput >= 0.8 x direct. The clients, the
proxy and the EMP share the machine's cores: the figures are end to end, and only the
differences and ratios, measured in the same run, compare between machines.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from examples.demo import start_reference  # noqa: E402  (the reference launcher, from the project's root)
from oioi import serving  # noqa: E402

KEY = "benchmark-key-5d1c0e7a9b"
REQUEST = json.dumps({"rfid-verify": {"rfid": "04523022AA4881"}}).encode()
HEADERS = {"Authorization": f"key={KEY}", "Content-Type": "application/json"}
BUDGET_MS, BUDGET_RATIO = 2.0, 0.8


def post(connection: http.client.HTTPConnection) -> bytes:
    connection.request("POST", "/api/v4/request", REQUEST, HEADERS)
    answer = connection.getresponse()
    body = answer.read()
    if answer.status != 200 or json.loads(body)["result"]["code"] != 0:
        sys.exit(f"unexpected answer: {answer.status} {body[:200]!r}")
    return body


def latencies(port: int, requests: int) -> list[float]:
    """Milliseconds of each of ``requests`` requests sent one after the other on one connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    taken = []
    try:
        post(connection)  # the connection is open before the clock runs
        for _ in range(requests):
            began = time.perf_counter()
            post(connection)
            taken.append((time.perf_counter() - began) * 1000)
    finally:
        connection.close()
    return taken


def throughput(port: int, requests: int, threads: int) -> float:
    """Requests/s of ``requests`` requests from ``threads`` threads, each on its own connection."""
    per_thread = requests // threads
    ready = threading.Barrier(threads + 1)

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            post(connection)
            ready.wait()
            for _ in range(per_thread):
                post(connection)
        finally:
            connection.close()

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    ready.wait()
    began = time.perf_counter()
    for thread in workers:
        thread.join()
    return per_thread * threads / (time.perf_counter() - began)


def same_answer(direct: int, proxied: int) -> None:
    """Both ways give the same bytes (the proxy forwards them unchanged)."""
    answers = []
    for port in (direct, proxied):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        answers.append(post(connection))
        connection.close()
    if answers[0] != answers[1]:
        sys.exit(f"the proxy changed the answer: {answers[0]!r} != {answers[1]!r}")


def journaled(db: Path) -> tuple[int, int]:
    """Rows in the proxy's journal, and how many have a finding."""
    with sqlite3.connect(db) as journal:
        (rows, with_findings) = journal.execute("SELECT count(*), sum(findings != '[]') FROM journal").fetchone()
    return int(rows), int(with_findings or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per measurement (default: 1000)")
    parser.add_argument("--threads", type=int, default=8, help="client threads for throughput (default: 8)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, direct then proxy in each (default: 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oioi-bench-proxy-") as tmp:
        emp = start_reference("emp", "--api-key", KEY, "--db", f"{tmp}/emp.sqlite")
        db = Path(tmp) / "proxy.sqlite3"
        try:
            proxy = serving.start([sys.executable, "-m", "mock_server.proxy", "--listen", "127.0.0.1:0",
                                   "--upstream", emp.url, "--name", "bench", "--db", str(db)], what="proxy", cwd=ROOT)
        except BaseException:
            emp.stop()
            raise
        try:
            pids = {"emp": emp.process.pid, "proxy": proxy.process.pid}
            report(measure(emp.port, proxy.port, args, pids), db, args)
        finally:
            proxy.stop()
            emp.stop()


def cpu_seconds(root: int) -> float:
    """User + system CPU seconds of a process and its children (gunicorn's arbiter and worker; Linux /proc)."""
    tick, total, family = os.sysconf("SC_CLK_TCK"), 0.0, {root}
    for entry in sorted((p for p in Path("/proc").iterdir() if p.name.isdigit()), key=lambda p: int(p.name)):
        try:
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(entry.name) in family or int(fields[1]) in family:
            family.add(int(entry.name))
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def measure(direct: int, proxied: int, args: argparse.Namespace,
            pids: dict[str, int]) -> dict[str, list[float]]:
    """Each round's p50 latencies and throughputs, direct and through the proxy; each server's CPU per request."""
    same_answer(direct, proxied)
    throughput(direct, args.threads * 20, args.threads)  # warm up both
    throughput(proxied, args.threads * 20, args.threads)
    figures: dict[str, list[float]] = {"p50 direct": [], "p50 proxy": [], "rate direct": [], "rate proxy": [],
                                       "cpu emp": [], "cpu proxy": []}
    for round_ in range(1, args.rounds + 1):
        for way, port in (("direct", direct), ("proxy", proxied)):
            figures[f"p50 {way}"].append(statistics.median(latencies(port, args.requests)))
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            figures[f"rate {way}"].append(throughput(port, args.requests, args.threads))
            if way == "proxy":  # microseconds of CPU per request of each server, in the proxied run
                for name, pid in pids.items():
                    figures[f"cpu {name}"].append((cpu_seconds(pid) - before[name]) / args.requests * 1e6)
        print(f"round {round_}: p50 direct {figures['p50 direct'][-1]:.3f} ms, "
              f"proxy {figures['p50 proxy'][-1]:.3f} ms; throughput direct {figures['rate direct'][-1]:,.0f}/s, "
              f"proxy {figures['rate proxy'][-1]:,.0f}/s", flush=True)
    return figures


def report(figures: dict[str, list[float]], db: Path, args: argparse.Namespace) -> None:
    added = statistics.median(p - d for p, d in zip(figures["p50 proxy"], figures["p50 direct"], strict=True))
    ratio = statistics.median(p / d for p, d in zip(figures["rate proxy"], figures["rate direct"], strict=True))
    rows, with_findings = journaled(db)
    each = args.requests + 1 + args.threads + args.requests // args.threads * args.threads  # with warm-up posts
    forwarded = 1 + args.threads * 21 + args.rounds * each
    print()
    print(f"added p50 latency: {added:.3f} ms (budget {BUDGET_MS:g} ms) — {'OK' if added <= BUDGET_MS else 'OVER'}")
    print(f"throughput proxy/direct: {ratio:.2f} (budget >= {BUDGET_RATIO:g}) — "
          f"{'OK' if ratio >= BUDGET_RATIO else 'UNDER'}")
    print(f"CPU per request through the proxy: proxy {statistics.median(figures['cpu proxy']):.0f} us, "
          f"reference EMP {statistics.median(figures['cpu emp']):.0f} us")
    print(f"journal: {rows} rows for {forwarded} exchanges forwarded, {with_findings} with a finding")
    print(f"{args.requests} requests per measurement, {args.threads} client threads, {args.rounds} rounds "
          f"(medians over rounds); machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    if rows != forwarded or with_findings:
        sys.exit("the journal does not hold every exchange, or holds a finding")


if __name__ == "__main__":
    main()
