"""The core's command line, ``oioi validate``, and what every command of the project shares.

Each package owns its sub-command: ``add_parser(commands)`` adds it to the ``oioi`` command
(``oioi_cli``) and sets ``run`` (``run(args, stdout, stderr, stdin) -> int``); ``python -m
<package>`` runs it alone. `command` wraps a parser the same way for all of them: exit codes 0
all good, 1 the thing checked is wrong, 2 the tool could not run (bad options, unreadable
input) — always with one sentence, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

from oioi import SPEC_VERSION, __version__
from oioi._schemas import calls
from oioi._validate import PROFILES
from oioi.errors import HarnessError

__all__ = ["EXTRAS", "Parser", "UsageError", "add_parser", "add_profile_option", "command", "exit_with", "main",
           "missing_extra", "new_parser", "run", "standalone", "unrecognized"]

# The modules the package's extras bring (pyproject.toml, [project.optional-dependencies]) and the extra
# that brings each: the core installs without them; a command that needs one says what to install.
EXTRAS = {"flask": "mock", "werkzeug": "mock", "gunicorn": "mock", "requests": "mock",
          "pytest": "certify", "_pytest": "certify", "allure": "certify", "allure_pytest": "certify",
          "locust": "load"}


class UsageError(HarnessError):
    """The command line is wrong."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes are a `UsageError` (one sentence), not a usage dump and exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help').")


def new_parser(prog: str, description: str) -> tuple[Parser, Any]:
    """A top-level parser with ``--version`` and its required sub-commands."""
    parser = Parser(prog=prog, description=description)
    parser.add_argument("--version", action="version", version=f"oioi {__version__} (OIOI {SPEC_VERSION})")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    return parser, commands


def command(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None, stdout: TextIO, stderr: TextIO,
    stdin: TextIO | None = None,
) -> int:
    """Parse ``argv`` and run the sub-command it names (its ``run`` default); the exit code.

    A sub-command may name the extra it needs (``set_defaults(extra=…)``): a module of any extra that is
    missing then asks for that one, which brings them all.
    """
    args: argparse.Namespace | None = None
    try:
        with contextlib.redirect_stdout(stdout):  # --help and --version print through argparse
            args, extras = parser.parse_known_args(argv)
        if extras:
            raise UsageError(unrecognized(parser, args, extras))
        run_it: Callable[..., int] = args.run
        return run_it(args, stdout, stderr, stdin if stdin is not None else sys.stdin)
    except ModuleNotFoundError as missing:
        what = _deepest(parser, args).prog if args is not None else parser.prog
        if (why := missing_extra(missing, what, extra=getattr(args, "extra", None))) is None:
            raise
        stderr.write(f"{why}\n")
        return 2
    except HarnessError as error:
        stderr.write(f"{' '.join(str(error).split())}\n")
        return 2
    except SystemExit as leave:  # --help and --version
        return int(leave.code or 0)
    except KeyboardInterrupt:  # Ctrl-C where a command has no more to say about it (it cleans up on its way out)
        stderr.write(f"{parser.prog}: interrupted.\n")
        return 130


def unrecognized(parser: argparse.ArgumentParser, args: argparse.Namespace, extras: list[str]) -> str:
    """The sentence for arguments no parser took, naming the sub-command they were given to and its closest option.

    argparse hands a sub-command's unknown arguments up to the top parser; the sub-command is the
    deepest one ``args`` names.
    """
    import difflib

    chosen = _deepest(parser, args)
    options = {o.lstrip("-"): o for action in chosen._actions for o in action.option_strings if o.startswith("--")}
    names = [given.split("=")[0].lstrip("-") for given in extras if given.startswith("-")]
    hint = next((f" (did you mean {options[close[0]]}?)" for name in names
                 if (close := difflib.get_close_matches(name, options, n=1, cutoff=0.7))), "")
    return f"{chosen.prog}: unrecognized arguments: {' '.join(extras)}{hint} (see '{chosen.prog} --help')."


def _deepest(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The sub-command parser ``args`` chose, the deepest one (``parser`` itself when none was)."""
    chosen = parser
    while (found := _chosen_subparser(chosen, args)) is not None:
        chosen = found
    return chosen


def _chosen_subparser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser | None:
    """The sub-command parser of ``parser`` that ``args`` chose (None: it has none, or none was chosen)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            name = getattr(args, action.dest, None) if action.dest != argparse.SUPPRESS else None
            chosen = action.choices.get(name) if isinstance(name, str) else None
            return chosen if isinstance(chosen, argparse.ArgumentParser) else None
    return None


def standalone(
    prog: str, description: str, add_arguments: Callable[[argparse.ArgumentParser], None]
) -> Callable[..., int]:
    """``run(argv, stdout, stderr, stdin=None) -> int`` for a package's command run alone (``python -m <package>``)."""

    def run(argv: Sequence[str] | None, stdout: TextIO, stderr: TextIO, stdin: TextIO | None = None) -> int:
        parser = Parser(prog=prog, description=description)
        add_arguments(parser)
        return command(parser, argv, stdout, stderr, stdin)

    return run


def exit_with(run: Callable[..., int], argv: Sequence[str] | None = None) -> NoReturn:
    """Run ``run`` on the command line (or ``argv``) with the standard streams, and exit with its code."""
    sys.exit(run(argv, sys.stdout, sys.stderr))


def missing_extra(missing: ImportError, what: str, extra: str | None = None) -> str | None:
    """One sentence saying which extra to install (``extra``, the one ``what`` needs, else the module's own), when
    ``missing`` is a module an extra brings; else None."""
    module = (missing.name or "").split(".")[0]
    if module not in EXTRAS:
        return None
    return (f"{what} needs {module}, which is not installed here; install it with: "
            f"pip install 'oioi-conformance[{extra or EXTRAS[module]}]'.")


def add_profile_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--profile strict|lenient``: how the validator judges (``oioi.PROFILES``)."""
    parser.add_argument("--profile", choices=PROFILES, default="strict", help=help_text)


def add_parser(commands: Any) -> None:
    """The ``validate`` command."""
    v = commands.add_parser(
        "validate",
        help="check captured OIOI messages against the spec",
        description="Check OIOI messages: a .json file (one message, or a list), a .jsonl file "
        "(one message per line) or - for standard input. A line may be a bare request or "
        '{"call": NAME, "direction": "request"|"response", "body": {...}}. Captured traffic is read too: '
        "a HAR file (.har, as browsers, mitmproxy and Charles export it), a mock or proxy journal (its SQLite "
        "file) or its export (oioi mock journal); each exchange gives its request and its answer.",
    )
    v.add_argument("paths", nargs="+", metavar="PATH",
                   help=".json, .jsonl or .har file, a journal (SQLite) or its export, or - for standard input")
    add_profile_option(v, "strict: the field descriptions are the rule (default); lenient: also accept the spec's "
                          "errata")
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
    v.set_defaults(run=_validate)


def _validate(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    from oioi import _validate_cli

    if args.call is not None and args.call not in calls():
        raise UsageError(_unknown_call(args.call))
    return _validate_cli.run(args, stdout, stderr, stdin)


def _unknown_call(name: str) -> str:
    from oioi._schemas import suggest

    hint = suggest(name, calls())
    return f"oioi: --call {name!r} is not an OIOI {SPEC_VERSION} call" + (
        f"; did you mean {hint!r}?" if hint else "; see the file names in schemas/."
    )


def run(argv: Sequence[str] | None, stdout: TextIO, stderr: TextIO, stdin: TextIO | None = None) -> int:
    """``python -m oioi``: the core's own command (``validate``); the exit code."""
    parser, commands = new_parser("oioi", f"The OIOI {SPEC_VERSION} protocol core: validate captured messages.")
    add_parser(commands)
    return command(parser, argv, stdout, stderr, stdin)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """``python -m oioi``."""
    exit_with(run, argv)
