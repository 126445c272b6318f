"""A load test (marker ``load``) never runs beside another test in any xdist worker (tests/fixtures/alone.py)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS = """
import json, os, time
import pytest

def _note(name):
    started = time.time()
    time.sleep(0.4)
    with open(os.environ["TIMES"], "a") as out:
        out.write(json.dumps([name, started, time.time()]) + "\\n")

@pytest.mark.load
def test_load():
    _note("load")

@pytest.mark.parametrize("n", range(6))
def test_other(n):
    _note(f"other-{n}")
"""


def test_a_load_test_never_overlaps_another(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    times = pytester.path / "times.jsonl"
    monkeypatch.setenv("TIMES", str(times))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_timing=TESTS)
    result = pytester.runpytest_subprocess("-n", "3", "-p", "tests.fixtures.alone", "-p", "no:cacheprovider",
                                           "-W", "ignore::pytest.PytestUnknownMarkWarning")
    result.assert_outcomes(passed=7)
    spans = {name: (start, end) for name, start, end in map(json.loads, times.read_text().splitlines())}
    load_start, load_end = spans.pop("load")
    assert all(end <= load_start or start >= load_end for start, end in spans.values()), spans
    others = sorted(spans.values())
    assert any(b[0] < a[1] for a, b in itertools.pairwise(others))  # the others do share the workers
