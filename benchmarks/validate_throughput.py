"""Benchmark: `oioi validate` throughput and generator speed, side by side in one run.

    python benchmarks/validate_throughput.py [--lines 100000] [--draws 1000]

1. Builds a JSONL file of LINES mixed valid requests and responses (drawn once with the
   project's own Hypothesis strategies, then repeated in shuffled order), runs
   `oioi validate --format json` and `--format text` on it as a user would (a subprocess,
   interpreter start included) and reports messages per second.
2. Validates a sample of the same messages with the pure-Python `jsonschema` package
   (the slow path the project does not use) and reports the speed ratio.
3. Draws valid `station-post` requests with `oioi.strategies.messages` and, for scale,
   single integers with Hypothesis itself, and reports both rates and their ratio.

Numbers on a shared machine are noisy; the ratios, measured in the same run, are the
figures to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from oioi import calls, documents, schema
from oioi.strategies import messages

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
QUIET = settings(database=None, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate])


def draw_pool(per_call: int) -> list[dict[str, Any]]:
    """A pool of distinct valid messages of every call, in the wrapper form of `oioi validate`."""
    pool: list[dict[str, Any]] = []
    for call in calls():
        for direction in ("request", "response"):
            for message in draw(messages(call, direction), per_call):
                wrapped = {"call": call, "direction": direction, "body": message}
                pool.append(message if direction == "request" else wrapped)
    return pool


def draw(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """``count`` draws from a strategy, through Hypothesis' own test runner."""
    found: list[Any] = []

    @settings(QUIET, max_examples=count)
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found


def write_log(pool: list[dict[str, Any]], lines: int, path: Path) -> None:
    rng = random.Random(4190)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for _ in range(lines):
            out.write(json.dumps(rng.choice(pool), ensure_ascii=False) + "\n")


def time_cli(path: Path, output_format: str) -> tuple[float, int]:
    oioi = Path(sys.executable).with_name("oioi")
    command = [str(oioi)] if oioi.exists() else [sys.executable, "-m", "oioi"]
    start = time.perf_counter()
    done = subprocess.run(
        [*command, "validate", "--format", output_format, str(path)],
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"oioi validate exited {done.returncode}: {done.stderr.decode()[:500]}")
    return elapsed, len(done.stdout)


def python_jsonschema_rate(pool: list[dict[str, Any]], seconds: float = 3.0) -> float:
    import jsonschema
    from referencing import Registry, Resource

    registry: Registry[Any] = Registry().with_resources(
        (uri, Resource.from_contents(doc)) for uri, doc in documents().items()
    )
    validators = {}
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for item in pool:
            call, direction, body = (
                (item["call"], item["direction"], item["body"])
                if "body" in item
                else (next(iter(item)), "request", item)
            )
            key = (call, direction)
            if key not in validators:
                validators[key] = jsonschema.Draft202012Validator(schema(call, direction), registry=registry)
            list(validators[key].iter_errors(body))
            count += 1
    return count / (time.perf_counter() - start)


def draw_rate(strategy: st.SearchStrategy[Any], draws: int) -> float:
    @settings(QUIET, max_examples=draws)
    @given(strategy)
    def run(_value: Any) -> None:
        pass

    start = time.perf_counter()
    run()
    return draws / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--per-call", type=int, default=40, help="distinct messages drawn per call and direction")
    args = parser.parse_args()

    path = DATA / f"mixed-{args.lines}.jsonl"
    print(f"drawing {args.per_call} messages per call and direction ({len(calls())} calls) ...", flush=True)
    pool = draw_pool(args.per_call)
    write_log(pool, args.lines, path)
    size = path.stat().st_size
    print(f"log: {path} ({args.lines} lines, {size / 1e6:.1f} MB, {len(pool)} distinct messages)")

    results = {}
    for output_format in ("json", "text"):
        elapsed, written = time_cli(path, output_format)
        results[output_format] = args.lines / elapsed
        print(
            f"oioi validate --format {output_format}: {elapsed:.2f} s, {results[output_format]:,.0f} messages/s "
            f"(wrote {written / 1e6:.1f} MB)"
        )
    slow = python_jsonschema_rate(pool)
    print(f"pure-Python jsonschema on the same messages (schema validation only): {slow:,.0f} messages/s")
    print(f"ratio oioi validate (json, end to end) / pure-Python jsonschema: {results['json'] / slow:,.1f}x")

    station = draw_rate(messages("station-post"), args.draws)
    floor = draw_rate(st.integers(), args.draws)
    print(
        f"messages('station-post') draws: {station:,.0f}/s; st.integers() draws: {floor:,.0f}/s; "
        f"ratio {station / floor:.3f}"
    )
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
