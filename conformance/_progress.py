"""What ``oioi certify`` prints while it runs: a line per requirement, the waits, one summary.

A requirement's line comes when its last check has run, with the requirement id that
``--requirement`` takes and the time its checks took::

    PASS          session-start.unknown-connector  (0.2 s)
    FAIL          transport.api-key.missing  (0.1 s)
                  Received: HTTP 200 with result code 0
    INCONCLUSIVE  sender.retry-backoff  (12.1 s)  because only 2 tries came
    NOT-RUN       sender.cdr-after-session  because needs --listen and --partner-api-key: ...

While a check waits for a message of the IUT for more than a second, a line says so: on a
terminal it counts the seconds in place and goes when the wait ends; elsewhere (a CI log)
it is one plain line. The run ends with the requirements no check could judge and the
summary of `_report.summary_lines`, which counts requirements. This replaces pytest's own
output; ``oioi certify -v`` keeps pytest's instead.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import TextIO

import pytest

from conformance._catalogue import requirement as catalogue_entry
from conformance._report import Recorder, check_of, summary_lines

__all__ = ["PROGRESS", "RECORDER", "Progress"]

RECORDER = pytest.StashKey[Recorder]()  # the run's verdicts (set by the plugin)
PROGRESS = pytest.StashKey["Progress"]()  # the run's Progress, when certify prints one
VERDICT_WIDTH = len("INCONCLUSIVE")
SHOWN_AFTER = 1.0  # seconds a wait lasts before its line appears (most messages come at once)
COLOURS = {"PASS": "32", "FAIL": "31;1", "INCONCLUSIVE": "33", "NOT-RUN": "33", "SETUP WARNING:": "33;1"}


class Progress:
    """A pytest plugin that writes certify's progress to ``out`` (``live``: a terminal, which may be redrawn)."""

    def __init__(self, out: TextIO, *, live: bool) -> None:
        self.out, self.live = out, live
        self.colour = live and not os.environ.get("NO_COLOR")
        self.config: pytest.Config | None = None
        self.seconds: dict[str, float] = defaultdict(float)  # per check: setup, call and teardown
        self.said: set[str] = set()  # the requirements whose line is out
        self._lock = threading.Lock()
        self._shown = ""  # the waiting line on the terminal, to be erased before the next line

    def pytest_configure(self, config: pytest.Config) -> None:
        self.config = config
        config.stash[PROGRESS] = self

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[check_of(report.nodeid)] += report.duration

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        """Say each requirement of this check whose every check has now run."""
        recorder = self._recorder()
        if recorder is None or recorder.planned is None:
            return
        check = check_of(nodeid)
        for rid, checks in recorder.planned.items():
            ran = {o["check"] for o in recorder.outcomes.get(rid, [])}
            if check in checks and rid not in self.said and checks <= ran:
                self._requirement(recorder, rid, sum(self.seconds[c] for c in checks))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """After the plugin wrote the reports: the requirements no check judged (unless the run was cut short), then
        the summary."""
        recorder = self._recorder()
        if recorder is None:
            return
        report = recorder.report()
        only = recorder.target.only
        for row in [] if report["interrupted"] else report["requirements"]:
            if row["verdict"] == "not-run" and row["id"] not in self.said and (not only or row["id"] in only):
                self.line(self._verdict_line("NOT-RUN", row["id"], None, row["reason"]))
        for text in summary_lines(report):
            self.line(text)

    def line(self, text: str) -> None:
        """One line of output (the waiting line, if shown, goes first)."""
        with self._lock:
            self._erase()
            self.out.write(self._paint(text) + "\n")
            self.out.flush()

    @contextlib.contextmanager
    def waiting(self, what: str, seconds: float) -> Iterator[None]:
        """While inside, the run waits up to ``seconds`` for ``what`` from the IUT: say so once it lasts."""
        done = threading.Event()
        text = f"waiting up to {round(seconds, 1):g} s for {what} from the IUT"
        ticker = threading.Thread(target=self._tick, args=(text, done), daemon=True)
        ticker.start()
        try:
            yield
        finally:
            done.set()
            ticker.join()
            with self._lock:
                self._erase()
                self.out.flush()

    def _tick(self, text: str, done: threading.Event) -> None:
        """The waiting line: counting in place on a terminal; one plain line elsewhere."""
        started = time.monotonic()
        if done.wait(SHOWN_AFTER):
            return
        if not self.live:
            self.line(text)
            return
        while True:
            with self._lock:
                self._erase()
                self._shown = f"{text} … {time.monotonic() - started:.0f} s"
                self.out.write(self._shown)
                self.out.flush()
            if done.wait(1.0):
                return

    def _erase(self) -> None:
        """Take the waiting line off the terminal (under the lock)."""
        if self._shown:
            self.out.write("\r\x1b[K")
            self._shown = ""

    def _requirement(self, recorder: Recorder, rid: str, seconds: float) -> None:
        verdict, reason, _, failures = recorder.verdict(catalogue_entry(rid))
        self.said.add(rid)
        self.line(self._verdict_line(verdict.upper(), rid, seconds, reason))
        for failure in failures[:1]:
            for text in str(failure.get("message", "")).splitlines()[:2]:
                self.line(f"{'':<{VERDICT_WIDTH}}  {text}")

    @staticmethod
    def _verdict_line(verdict: str, rid: str, seconds: float | None, reason: str | None) -> str:
        took = f"  ({seconds:.1f} s)" if seconds is not None and verdict != "NOT-RUN" else ""
        because = f"  because {reason}" if reason and verdict != "PASS" else ""
        return f"{verdict:<{VERDICT_WIDTH}}  {rid}{took}{because}"

    def _paint(self, text: str) -> str:
        """``text`` with its verdict coloured, on a terminal that takes colours."""
        if self.colour:
            for word, code in COLOURS.items():
                if text.startswith(word):
                    return f"\x1b[{code}m{word}\x1b[0m{text[len(word):]}"
        return text

    def _recorder(self) -> Recorder | None:
        return self.config.stash.get(RECORDER, None) if self.config is not None else None
