"""Benchmark: wall time of ``oioi certify`` (quick and full) against the local reference CPO and EMP.

    python benchmarks/certify_wall_time.py [--rounds 3]

Starts the reference CPO and EMP (gunicorn, SQLite file, free loopback ports) once, then
runs ``oioi certify ROLE --profile quick`` and ``--profile full`` ROUNDS times each, in
alternation, as a user does (a new process each time, so the times include Python's start
and pytest's collection). Reports the median and range of each, and the ratio full/quick
measured in the same run. Goals of the conformance suite: quick ≤ 10 s, full ≤ 60 s on a
2-core machine. Every run must pass (exit status 0), or the figures are not reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from oioi.serving import Child

ROOT = Path(__file__).resolve().parent.parent
KEY = "benchmark-key-6c1f0b9e2d"


def start(role: str, workdir: Path) -> Child:
    from examples.demo import start_reference

    return start_reference(role, "--api-key", KEY, "--db", str(workdir / f"{role}.sqlite"))


def certify(role: str, url: str, profile: str, report_dir: Path) -> float:
    from examples.reference_cpo import DEFAULT_CONNECTORS

    command = [sys.executable, "-m", "oioi_cli", "certify", role, "--url", url, "--profile", profile, "--seed", "1",
               "--report-dir", str(report_dir)]
    command += [f"--connector-id={c}" for c in DEFAULT_CONNECTORS] if role == "cpo" else []
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "OIOI_API_KEY": KEY})
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"certify {role} --profile {profile} exited {done.returncode}:\n{done.stdout[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oioi-bench-") as tmp:
        workdir = Path(tmp)
        servers = {role: start(role, workdir) for role in ("cpo", "emp")}
        try:
            times: dict[tuple[str, str], list[float]] = {}
            for n in range(args.rounds):
                for role in ("cpo", "emp"):
                    for profile in ("quick", "full"):
                        report_dir = workdir / f"{role}-{profile}-{n}"
                        times.setdefault((role, profile), []).append(certify(role, servers[role].url, profile,
                                                                             report_dir))
        finally:
            for server in servers.values():
                server.stop()
    print(f"oioi certify wall time, {args.rounds} rounds (median, min–max), reference implementations on loopback")
    for role in ("cpo", "emp"):
        quick, full = times[(role, "quick")], times[(role, "full")]
        for profile, values in (("quick", quick), ("full", full)):
            print(f"  {role.upper()} {profile:<5} {statistics.median(values):6.2f} s  "
                  f"({min(values):.2f}–{max(values):.2f} s)")
        print(f"  {role.upper()} full/quick ratio {statistics.median(full) / statistics.median(quick):.2f}")


if __name__ == "__main__":
    main()
