"""The command line of ``python -m examples.reference_cpo`` / ``reference_emp``: serve one in gunicorn.

gunicorn runs one worker process with threads (never Flask's development server), through
``oioi.serving`` (plumbing shared with the mock; nothing there judges a message); the app,
and so its SQLite connection, is built in that worker. Once the socket listens, exactly one
line goes to stdout, ``listening on http://HOST:PORT/api/v4/request``; everything else
(masked API keys, where the state is, the partner it sends to, each delivery, gunicorn's
warnings) goes to stderr. SIGTERM and
SIGINT stop it cleanly. Exit codes: 0 stopped, 2 could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import os
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from flask import Flask

from examples._reference._behaviours import check_behaviours
from examples._reference._faults import check_faults
from examples._reference._outbox import make_outbox
from examples._reference._transport import PATH, check_api_keys, check_defects
from examples._reference._variants import PREFIX, variants_app
from oioi import mask, serving
from oioi.errors import ConfigError

__all__ = ["Role", "main", "run"]


@dataclasses.dataclass(frozen=True)
class Role:
    """What the command line needs to know about one reference implementation."""

    name: str  # "cpo" or "emp": the module is examples.reference_<name>
    title: str  # "reference CPO"
    create_app: Callable[..., Flask]
    defects: Mapping[str, str]
    behaviours: Mapping[str, str] = dataclasses.field(default_factory=dict)
    combinations: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    faults: Mapping[str, str] = dataclasses.field(default_factory=dict)  # load faults (examples/_reference/_faults.py)


def parser(role: Role) -> argparse.ArgumentParser:
    """The options of ``python -m examples.reference_<role>``."""
    p = argparse.ArgumentParser(
        prog=f"python -m examples.reference_{role.name}",
        description=f"Serve the {role.title}, a correct OIOI 4.19 endpoint with switchable defects and behaviours, "
        "in gunicorn.",
    )
    serving.add_server_options(p, port=0, port_help="port (default: 0, a free one; the line on stdout names it)",
                               key_help="an API key to accept as 'Authorization: key=KEY' (repeatable)")
    p.add_argument("--db", metavar="PATH", help="SQLite file of the state (default: a file in a fresh temp dir)")
    for flag, dest, what, names in (
        ("--defect", "defects", "a defect on", role.defects),
        ("--behaviour", "behaviours", "a correct behaviour on, one the spec allows", role.behaviours),
        ("--fault", "faults", "a load fault on, one only a load run sees", role.faults),
    ):
        p.add_argument(flag, action="append", dest=dest, default=[], metavar="NAME",
                       help=f"switch {what} (repeatable): {', '.join(names)}")
    p.add_argument(
        "--variants",
        metavar="DIR",
        help=f"also serve every defect and behaviour V at {PREFIX}V{PATH}, its state in DIR/V.sqlite",
    )
    partner = p.add_argument_group(
        "partner", "where it sends (on POST /control, a test hook with no API key: never expose it in production)"
    )
    partner.add_argument(
        "--partner-url", metavar="URL", help="the partner's OIOI endpoint, e.g. http://HOST:PORT/api/v4/request"
    )
    partner.add_argument("--partner-api-key", metavar="KEY", help="sent to the partner as 'Authorization: key=KEY'")
    partner.add_argument(
        "--partner-identifier", metavar="ID", help=f"our partner-identifier (default: the {role.title}'s own)"
    )
    return p


def run(role: Role, argv: Sequence[str] | None, stdout: TextIO, stderr: TextIO) -> int:
    """Serve until SIGTERM or SIGINT; returns the exit code (0 stopped, 2 could not run)."""
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            args = parser(role).parse_args(argv)
    except SystemExit as leave:
        return 0 if leave.code in (0, None) else 2
    temp_dir = tempfile.mkdtemp(prefix=f"oioi-reference-{role.name}-") if args.db is None else None
    db_path = args.db or os.path.join(str(temp_dir), f"{role.name}.sqlite")
    owner = os.getpid()  # gunicorn's worker is a fork that returns through here too; only we clean up
    try:
        build = _builder(role, args, db_path)
        _check_db(db_path)
    except (ConfigError, OSError) as bad:
        print(bad, file=stderr)
        return 2
    else:
        return _serve(role, args, build, db_path, stdout, stderr)
    finally:
        if temp_dir is not None and os.getpid() == owner:
            shutil.rmtree(temp_dir, ignore_errors=True)


def _check_db(path: str) -> None:
    """`ConfigError` unless SQLite can open ``path`` (checked before gunicorn, which builds the app later)."""
    try:
        sqlite3.connect(path).close()
    except sqlite3.Error as bad:
        raise ConfigError(f"Received: --db {path!r}\nExpected: a SQLite file that can be opened ({bad}).") from None


def _builder(role: Role, args: argparse.Namespace, db_path: str) -> Callable[[], Any]:
    """What the worker calls to build the app, after checking the options (`ConfigError` names a wrong one)."""
    defects = check_defects(role.defects, args.defects, role.title)
    check_behaviours(role.behaviours, role.combinations, args.behaviours, role.title)
    faults = {"faults": args.faults} if check_faults(role.faults, args.faults, role.title) else {}
    check_api_keys(args.api_keys, role.title)
    partner = _partner(args)
    make_outbox(partner.get("partner_url"), partner.get("partner_api_key"), "checked", (), role.title)
    if args.variants is None:
        return functools.partial(
            role.create_app,
            db_path=db_path,
            api_keys=args.api_keys,
            defects=defects,
            behaviours=args.behaviours,
            **faults,
            **partner,
        )
    if defects or args.behaviours or faults:
        raise ConfigError(
            "Use --defect/--behaviour/--fault or --variants, not both: with --variants every variant has its own "
            "endpoint."
        )
    os.makedirs(args.variants, exist_ok=True)
    return functools.partial(
        variants_app,
        role.create_app,
        role.defects,
        args.variants,
        args.api_keys,
        behaviours=role.behaviours,
        db_path=db_path,
        **partner,
    )


def _partner(args: argparse.Namespace) -> dict[str, str]:
    """The partner options given, as ``create_app`` keywords (every variant gets the same)."""
    given = {
        "partner_url": args.partner_url,
        "partner_api_key": args.partner_api_key,
        "partner_identifier": args.partner_identifier,
    }
    return {name: value for name, value in given.items() if value is not None}


def _serve(
    role: Role, args: argparse.Namespace, build: Callable[[], Any], db_path: str, stdout: TextIO, stderr: TextIO
) -> int:
    def announce(host: str, port: int) -> None:
        keys = ", ".join(mask(key) for key in args.api_keys)
        defects, behaviours = ", ".join(args.defects) or "none", ", ".join(args.behaviours) or "none"
        faults = f"; load faults: {', '.join(args.faults)}" if args.faults else ""
        print(
            f"{role.title}: API keys {keys}; defects: {defects}; behaviours: {behaviours}{faults}; state in {db_path}",
            file=stderr,
            flush=True,
        )
        if args.partner_url is not None:
            identifier = args.partner_identifier or "default"
            print(
                f"{role.title}: sends to {args.partner_url} with key {mask(args.partner_api_key)} as {identifier}; "
                f"test hook POST /control (never expose it in production)",
                file=stderr,
                flush=True,
            )
        if args.variants is not None:
            print(
                f"{role.title}: variants at http://{host}:{port}{PREFIX}<defect or behaviour>{PATH}, "
                f"state in {args.variants}",
                file=stderr,
                flush=True,
            )
        print(serving.announce_line(f"http://{host}:{port}{PATH}"), file=stdout, flush=True)

    code = serving.serve(build, bind=f"{args.host}:{args.port}", ready=announce, threads=4,
                         settings={"graceful_timeout": 3})
    return 0 if code == 0 else 2


def main(role: Role, argv: Sequence[str] | None = None) -> None:
    """Run the command line and exit with its code."""
    sys.exit(run(role, argv, sys.stdout, sys.stderr))
