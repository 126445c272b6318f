"""The ``oioi`` command: every package's sub-command under one name, the top of the layers.

``validate`` is the protocol core's (``oioi.cli``), ``mock`` the mock partner's
(``mock_server.cli``), ``certify`` the conformance suite's (``conformance.cli``) and ``demo``
the reference implementations' (``examples.demo``). This module only gathers them; each
package runs alone as ``python -m <package>`` too. ``main(argv=None)`` wraps ``run(argv,
stdout, stderr) -> int``: exit codes 0 all good, 1 the thing checked is wrong, 2 the tool
could not run — always with one sentence, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

import conformance.cli
import mock_server.cli
import oioi.cli
from oioi import SPEC_VERSION
from oioi.errors import HarnessError

__all__ = ["main", "run"]


def parser() -> argparse.ArgumentParser:
    """The ``oioi`` command line and its sub-commands."""
    top, commands = oioi.cli.new_parser("oioi", f"Conformance harness for OIOI {SPEC_VERSION}.")
    oioi.cli.add_parser(commands)
    mock_server.cli.add_parser(commands)
    conformance.cli.add_parser(commands)
    _add_demo(commands)
    return top


def _add_demo(commands: Any) -> None:
    """``demo``: from examples/, which only a source checkout has (the wheel leaves it out)."""
    try:
        from examples import demo
    except ModuleNotFoundError:
        stub = commands.add_parser("demo", help="certify the reference CPO and EMP (needs a source checkout)")
        stub.set_defaults(run=_no_examples)
    else:
        demo.add_parser(commands)


def _no_examples(*_: Any) -> int:
    raise HarnessError("oioi demo needs the reference implementations in examples/: run it from a source checkout "
                       "installed with pip install -e.")


def run(argv: Sequence[str] | None, stdout: TextIO, stderr: TextIO, stdin: TextIO | None = None) -> int:
    """Run the command line ``argv`` and return its exit code."""
    return oioi.cli.command(parser(), argv, stdout, stderr, stdin)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console entry point: ``oioi``."""
    sys.exit(run(argv, sys.stdout, sys.stderr))
