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
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

import oioi.cli
from oioi import SPEC_VERSION

__all__ = ["main", "run"]


def parser() -> tuple[argparse.ArgumentParser, dict[str, str]]:
    """The ``oioi`` command line, and why each sub-command that cannot be imported here cannot run."""
    top, commands = oioi.cli.new_parser("oioi", f"Conformance harness for OIOI {SPEC_VERSION}.")
    oioi.cli.add_parser(commands)
    missing = {}
    for name, module in SUB_COMMANDS:
        try:
            importlib.import_module(module).add_parser(commands)
        except ImportError as failure:
            why = oioi.cli.missing_extra(failure, f"oioi {name}") or (
                f"oioi {name} needs {module}, which is not here ({failure}); run it from a source checkout "
                "installed with pip install -e '.[all]'.")
            commands.add_parser(name, help=f"(cannot run here: {why})", add_help=False)
            missing[name] = why
    return top, missing


# Each sub-command and the module that owns it (``add_parser(commands)``; examples/ is in a source checkout only).
SUB_COMMANDS = (("mock", "mock_server.cli"), ("proxy", "mock_server.proxy"), ("certify", "conformance.cli"),
                ("report", "conformance.report_cli"), ("replay", "conformance.traffic"),
                ("regress", "conformance.traffic"), ("load", "oioi_load.cli"), ("demo", "examples.demo"))


def run(argv: Sequence[str] | None, stdout: TextIO, stderr: TextIO, stdin: TextIO | None = None) -> int:
    """Run the command line ``argv`` and return its exit code."""
    top, missing = parser()
    given = list(sys.argv[1:] if argv is None else argv)
    if given and given[0] in missing:
        stderr.write(f"{missing[given[0]]}\n")
        return 2
    return oioi.cli.command(top, given, stdout, stderr, stdin)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Console entry point: ``oioi``."""
    sys.exit(run(argv, sys.stdout, sys.stderr))
