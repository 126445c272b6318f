"""The ``oioi`` command line.

``main(argv=None)`` wraps ``run(argv, stdout, stderr) -> int`` so tests call ``run``
with string streams. Exit codes: 0 all good, 1 the thing checked is wrong, 2 the tool
could not run (bad options, unreadable input) — always with one sentence, never a
traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from oioi import SPEC_VERSION, __version__
from oioi._schemas import calls
from oioi._validate import PROFILES
from oioi.errors import HarnessError

__all__ = ["main", "run"]


class UsageError(HarnessError):
    """The command line is wrong."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help').")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="oioi", description=f"Conformance harness for OIOI {SPEC_VERSION}.")
    parser.add_argument("--version", action="version", version=f"oioi {__version__} (OIOI {SPEC_VERSION})")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    v = commands.add_parser(
        "validate",
        help="check captured OIOI messages against the spec",
        description="Check OIOI messages: a .json file (one message, or a list), a .jsonl file "
        "(one message per line) or - for standard input. A line may be a bare request or "
        '{"call": NAME, "direction": "request"|"response", "body": {...}}.',
    )
    v.add_argument("paths", nargs="+", metavar="PATH", help=".json or .jsonl file, or - for standard input")
    v.add_argument(
        "--profile",
        choices=PROFILES,
        default="strict",
        help="strict: the field descriptions are the rule (default); lenient: also accept the spec's errata",
    )
    v.add_argument("--call", metavar="NAME", help="the call of every message (needed for bare responses)")
    v.add_argument(
        "--direction",
        choices=("request", "response"),
        default="request",
        help="direction of bare messages (default: request)",
    )
    v.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        dest="output_format",
        help="text for people (default); json: one JSON object per message",
    )
    from oioi import _certify_cli, _mock_cli

    _mock_cli.add_parser(commands)
    _certify_cli.add_parsers(commands)
    return parser


def run(argv: Sequence[str] | None, stdout: TextIO, stderr: TextIO, stdin: TextIO | None = None) -> int:
    """Run the command line ``argv`` and return its exit code."""
    try:
        with contextlib.redirect_stdout(stdout):  # --help and --version print through argparse
            args = _parser().parse_args(argv)
        if args.command == "validate":
            from oioi import _validate_cli

            if args.call is not None and args.call not in calls():
                raise UsageError(_unknown_call(args.call))
            return _validate_cli.run(args, stdout, stderr, stdin if stdin is not None else sys.stdin)
        if args.command == "mock":
            from oioi import _mock_cli

            return _mock_cli.run(args, stdout)
        if args.command in ("certify", "demo"):
            from oioi import _certify_cli

            return _certify_cli.certify(args, stdout) if args.command == "certify" else _certify_cli.demo(args, stdout)
        raise UsageError(f"oioi: unknown command {args.command!r}.")  # pragma: no cover - argparse prevents it
    except HarnessError as error:
        stderr.write(f"{_one_line(error)}\n")
        return 2
    except SystemExit as leave:  # --help and --version
        return int(leave.code or 0)


def _unknown_call(name: str) -> str:
    from oioi._schemas import suggest

    hint = suggest(name, calls())
    return f"oioi: --call {name!r} is not an OIOI {SPEC_VERSION} call" + (
        f"; did you mean {hint!r}?" if hint else "; see the file names in schemas/."
    )


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console entry point: ``oioi``."""
    sys.exit(run(argv, sys.stdout, sys.stderr))
