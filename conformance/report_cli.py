"""``oioi report``: a report of captured live traffic, report.json and report.html.

The traffic is a mock's or proxy's journal (``--db journal.sqlite3``), a journal export
(.jsonl/.json) or a HAR file (``oioi.capture``). Every exchange is judged (`oioi.validate`
of each request and answer, the findings the journal holds, the cross-message rules of
`oioi.conversation`), and each finding is shown with the message that broke it, the spec
sentence and a ``curl`` that sends it again. ``--redact`` replaces API keys, EVCO IDs, UIDs
and personal fields with consistent pseudonyms (``oioi.redact``) before anything is written.
Exit status: 0 no message broke a rule with an error, 1 one did, 2 the capture cannot be read
or the reports cannot be written (one sentence).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, TextIO

from oioi.cli import UsageError, add_profile_option

__all__ = ["add_arguments", "add_parser", "run"]

HELP = "report on captured OIOI traffic (a proxy's or mock's journal, an export, a HAR file)"
DESCRIPTION = ("Judge captured OIOI traffic and write report.json and report.html: per partner and call, the "
               "messages seen; per rule, every message that broke it, the spec sentence and a curl that sends it "
               "again (the key from $OIOI_API_KEY).")
KEY_VARIABLE = "OIOI_API_KEY"


def add_parser(commands: Any) -> None:
    """The ``report`` command of ``oioi``."""
    add_arguments(commands.add_parser("report", help=HELP, description=DESCRIPTION))


def add_arguments(r: argparse.ArgumentParser) -> None:
    """The arguments of ``report``, and its ``run``."""
    r.add_argument("capture", nargs="?", metavar="CAPTURE",
                   help="a journal export (.jsonl or .json, as 'oioi mock journal' writes), a HAR file (.har) or a "
                        "journal SQLite file")
    r.add_argument("--db", metavar="PATH", help="the SQLite journal of a proxy or mock (its --db file)")
    r.add_argument("--report-dir", metavar="DIR", help="where report.json and report.html go "
                                                        "(default: reports/<timestamp>/)")
    r.add_argument("--redact", action="store_true",
                   help="replace API keys, EVCO IDs, RFID UIDs and personal fields with consistent pseudonyms "
                        "(for a support ticket)")
    r.add_argument("--url", help="the OIOI endpoint the curl commands send to (default: $OIOI_URL)")
    add_profile_option(r, "strict: the field descriptions are the rule (default); lenient: also accept the spec's "
                          "errata")
    r.set_defaults(run=run, extra="certify")


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    """Read the capture, judge it, write the reports; 1 when a message broke a rule with an error."""
    from conformance import _traffic_report as traffic
    from conformance.cli import default_report_dir
    from oioi.capture import read

    source = _source(args)
    entries = read(source)
    if args.redact:
        entries = redacted(entries)
    report = traffic.build(entries, source=str(source), profile=args.profile, url=args.url, redacted=args.redact)
    directory = Path(args.report_dir) if args.report_dir else default_report_dir()
    traffic.write(report, directory, [os.environ.get(KEY_VARIABLE, "")])
    stdout.write("".join(f"{line}\n" for line in summary_lines(report, directory)))
    return 1 if report["verdict"] == "fail" else 0


def _source(args: argparse.Namespace) -> Path:
    """The capture: CAPTURE or --db, exactly one of them."""
    if (args.capture is None) == (args.db is None):
        given = "both CAPTURE and --db" if args.capture else "no capture"
        raise UsageError(f"oioi report: {given}; give a journal with --db PATH, or one CAPTURE file "
                         "(a journal export or a HAR file).")
    return Path(args.capture or args.db)


def redacted(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every entry with keys, EVCO IDs, UIDs and personal fields replaced by pseudonyms (one set for the capture)."""
    from oioi.redact import Pseudonyms

    return Pseudonyms().entries(entries)


def summary_lines(report: dict[str, Any], directory: Path) -> list[str]:
    """What the command prints: a line per rule broken, then one summary line and where the reports are."""
    lines = []
    for rule in report["findings"]:
        lines.append(f"{rule['severity'].upper():<8}{rule['rule']} ({rule['spec']['file']}): "
                     f"{rule['count']} message{'s' * (rule['count'] != 1)}")
    s = report["summary"]
    partners = len(report["partners"])
    lines.append(f"OIOI traffic: {report['verdict'].upper()} — {_count(s['messages'], 'message')} from "
                 f"{_count(partners, 'partner')}, {s['with_findings']} with findings; {_count(s['errors'], 'error')}, "
                 f"{_count(s['warnings'], 'warning')} of {_count(s['rules'], 'rule')}. "
                 f"Reports: {directory}/report.html, report.json")
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"
