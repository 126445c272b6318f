"""Benchmark: `oioi load` against `oioi mock emp`, the mock's throughput under realistic EMP traffic.

    python benchmarks/mock_load.py [--rates 250 500 1000 2000] [--seconds 10] [--users 16]

Starts the EMP mock as it ships (gunicorn, one worker, 8 threads, a SQLite file) on a free
loopback port, then runs `oioi load emp` against it once per rate of connector-post-status
(the status storm after an outage; the load also pushes the stations first, and sends
rfid-verify and CDRs at their default rates). Every answer is judged. For each run it prints
what was asked and what came — requests/s, p50/p95/p99 — and checks that the mock's journal
holds every request the load sent (the preflight's few requests included). This is the
same client the project ships (Locust, driven by `oioi load`), rather than a loop written
for the benchmark; `benchmarks/mock_throughput.py` keeps its own client because it compares
the mock with a bare route that does not speak OIOI. Load and mock share the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mock_server.client import start  # noqa: E402  (the mock's one launcher, from the project's root)

KEY = "benchmark-load-key-6f0e2b9c41"


def journal_rows(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as journal:
        return int(journal.execute("SELECT COUNT(*) FROM journal").fetchone()[0])


def one_run(url: str, rate: float, args: argparse.Namespace, folder: Path) -> dict[str, float]:
    """`oioi load emp` at ``rate`` statuses per second; its report.json summary."""
    report_dir = folder / f"load-{rate:g}"
    command = [sys.executable, "-m", "oioi_cli", "load", "emp", "--url", url, "--statuses-per-second", f"{rate:g}",
               "--users", str(args.users), "--run-time", f"{args.seconds}s", "--report-dir", str(report_dir),
               "--threshold", "nonconforming=0", "--threshold", "errors=0"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=args.seconds + 120,
                          env={**os.environ, "OIOI_API_KEY": KEY})
    if done.returncode != 0:
        raise SystemExit(f"oioi load exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    summary: dict[str, float] = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))["summary"]
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[250, 500, 1000, 2000])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--users", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oioi-bench-") as tmp:
        folder = Path(tmp)
        db = folder / "mock.sqlite3"
        mock = start("emp", api_key=KEY, db=db)
        try:
            print(f"{'asked statuses/s':>17} {'requests/s':>11} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
                  f"{'requests':>9} {'journal':>8}")
            for rate in args.rates:
                before = journal_rows(db)
                s = one_run(mock.endpoint, rate, args, folder)
                held = journal_rows(db) - before
                print(f"{rate:>17g} {s['rps']:>11,.0f} {s['p50_ms']:>7g} {s['p95_ms']:>7g} {s['p99_ms']:>7g} "
                      f"{int(s['requests']):>9,} {held:>8,}")
                if held < s["requests"]:
                    raise SystemExit(f"the journal holds {held} rows for {s['requests']} requests")
        finally:
            mock.stop()
    print(f"{args.seconds} s per run, {args.users} Locust users, every answer judged; machine: {os.cpu_count()} cores, "
          f"Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
