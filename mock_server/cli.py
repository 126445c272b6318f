"""``oioi mock`` and ``python -m mock_server``: run the mock partner, make it send a call, export its journal."""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from oioi import serving
from oioi.cli import add_profile_option, exit_with, standalone
from oioi.errors import ConfigError, InputError

__all__ = ["add_commands", "add_parser", "main", "run"]


HELP = "run the mock OIOI partner (EMP or CPO), make it send calls, export its journal"


def description(prog: str) -> str:
    """What ``prog`` (``oioi mock`` or ``python -m mock_server``) does."""
    return (f"The mock OIOI partner: '{prog} emp' or '{prog} cpo' serves it; '{prog} send' makes a running "
            f"mock call its partner; '{prog} journal' exports the journal of a --db file.")


def add_parser(commands: Any) -> None:
    """The ``mock`` command of ``oioi``."""
    mock = commands.add_parser("mock", help=HELP, description=description("oioi mock"))
    add_commands(mock)


def add_commands(mock: argparse.ArgumentParser) -> None:
    """The sub-commands ``emp``, ``cpo``, ``send`` and ``journal``, each with its ``run``."""
    sub = mock.add_subparsers(dest="mock_command", metavar="emp|cpo|send|journal", parser_class=type(mock))
    sub.required = True
    for role, plays in (
        ("emp", "an e-mobility provider (receives station-post, session-post, …)"),
        ("cpo", "a charge point operator (receives session-start, rfid-post, …)"),
    ):
        p = sub.add_parser(role, help=f"serve the mock as {plays}", description=f"Serve the mock as {plays}.")
        add_serve_arguments(p)
    add_send_parser(sub)
    add_journal_parser(sub)


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``emp`` and ``cpo`` (serve the mock)."""
    serving.add_server_options(p, port=8642, port_help="port (default: 8642; 0 picks a free one)",
                               key_help="an API key the partner may send as 'Authorization: key=KEY' (repeatable)")
    p.add_argument("--partner-url", metavar="URL", help="the partner's OIOI endpoint, for outbound calls")
    p.add_argument("--partner-api-key", metavar="KEY", help="the API key to send with outbound calls")
    p.add_argument("--partner-identifier", action="append", dest="partner_identifiers", default=[], metavar="ID",
                   help="EMP: a partner identifier accepted in station-post (repeatable; default: any)")
    p.add_argument(
        "--db",
        default="oioi-mock.sqlite3",
        metavar="PATH",
        help="SQLite file of state and journal (default: oioi-mock.sqlite3; :memory: keeps nothing)",
    )
    p.add_argument("--fixtures", metavar="PATH", help="JSON file of RFIDs and stations replacing the defaults")
    add_profile_option(p, "how inbound requests are judged (default: strict)")
    p.add_argument("--admin-token", metavar="TOKEN", default=os.environ.get("OIOI_MOCK_ADMIN_TOKEN") or None,
                   help="require 'Authorization: Bearer TOKEN' on /admin/ and the page's data (default: "
                        "$OIOI_MOCK_ADMIN_TOKEN, which keeps it out of the process list)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the partner (default: 5)")
    p.set_defaults(run=_serve)


def add_send_parser(sub: Any) -> None:
    """``send``: make a running mock send one call to its partner."""
    send = sub.add_parser(
        "send",
        help="make a running mock send one call to its partner",
        description="Make a running mock send one call to its partner and print the exchange.",
    )
    send.add_argument("call", metavar="CALL", help="the call, e.g. session-start")
    send.add_argument("--url", default="http://127.0.0.1:8642", help="the mock's base URL (default: %(default)s)")
    send.add_argument(
        "--body", metavar="JSON|@FILE", help="the call's body object (station-post defaults to the fixture station)"
    )
    send.add_argument("--admin-token", metavar="TOKEN", default=os.environ.get("OIOI_MOCK_ADMIN_TOKEN") or None,
                      help="the mock's admin token (default: $OIOI_MOCK_ADMIN_TOKEN)")
    send.add_argument("--allow-invalid", action="store_true", help="send a body that breaks the schema, on purpose")
    send.set_defaults(run=_send)


def add_journal_parser(sub: Any) -> None:
    """``journal``: export the journal of a mock's --db file."""
    journal = sub.add_parser(
        "journal",
        help="export the journal of a mock's --db file",
        description="Export the journal. --format jsonl writes one line per message, "
        "in the wrapped form that 'oioi validate' reads.",
    )
    journal.add_argument("--db", required=True, metavar="PATH", help="the mock's SQLite file")
    journal.add_argument("--format", choices=("jsonl", "json"), default="jsonl", dest="output_format")
    journal.add_argument("--call", metavar="NAME", help="only this call")
    journal.add_argument("--exchange", choices=("inbound", "outbound"), help="only exchanges in this direction")
    journal.add_argument(
        "--redact",
        action="store_true",
        help="replace API keys, tokens, EVCO IDs, RFID UIDs and personal fields with consistent pseudonyms "
        "of the same shape (for sharing in a ticket)",
    )
    journal.add_argument(
        "--redact-salt",
        metavar="SECRET",
        help="with --redact: the same salt gives the same pseudonyms in two exports (default: a random one)",
    )
    journal.set_defaults(run=_journal)


# ``python -m mock_server``, the same arguments as ``oioi mock``: run(argv, stdout, stderr, stdin=None) -> int
run = standalone("python -m mock_server", description("python -m mock_server"), add_commands)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """``python -m mock_server``."""
    exit_with(run, argv)


def _serve(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    from mock_server._serve import serve

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be from 0 to 65535, not {args.port}.")
    if bool(args.partner_url) != bool(args.partner_api_key):
        raise ConfigError("Give --partner-url and --partner-api-key together, or neither.")
    if any(not key.strip() for key in args.api_keys):
        raise ConfigError("An --api-key cannot be empty.")
    config = {
        "API_KEYS": args.api_keys,
        "PARTNER_URL": args.partner_url,
        "PARTNER_API_KEY": args.partner_api_key,
        "PARTNER_IDENTIFIERS": args.partner_identifiers,
        "DATABASE": args.db,
        "FIXTURES": args.fixtures,
        "PROFILE": args.profile,
        "ADMIN_TOKEN": args.admin_token,
        "OUTBOUND_TIMEOUT": args.timeout,
    }
    if args.db != ":memory:":
        folder = Path(args.db).resolve().parent
        if not folder.is_dir():
            raise ConfigError(f"--db {args.db}: the folder {folder} does not exist.")
    _check_port_free(args.host, args.port)
    return serve(args.mock_command, config, args.host, args.port)


def _check_port_free(host: str, port: int) -> None:
    """Say in one sentence that the address is taken, before gunicorn retries and logs at length."""
    if port != 0 and (why := serving.bind_error(host, port)):
        raise ConfigError(f"Cannot listen on {host}:{port} ({why}); pick another --port, or --port 0 for a free one.")


def _send(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    import requests

    payload: dict[str, Any] = {"call": args.call}
    if args.body is not None:
        text = args.body
        if text.startswith("@"):
            try:
                text = Path(text[1:]).read_text(encoding="utf-8")
            except OSError as error:
                raise InputError(f"Cannot read --body file {text[1:]}: {error.strerror}.") from None
        try:
            payload["body"] = json.loads(text)
        except ValueError as error:
            raise InputError(f"--body is not JSON ({error}); give an object or @file.json.") from None
    if args.allow_invalid:
        payload["allow_invalid"] = True
    headers = {"Authorization": f"Bearer {args.admin_token}"} if args.admin_token else {}
    url = args.url.rstrip("/") + "/admin/send"
    try:
        answer = requests.post(url, json=payload, headers=headers, timeout=60)
    except requests.RequestException:
        raise ConfigError(f"No mock answers at {args.url}; start one with 'oioi mock emp|cpo' or fix --url.") from None
    try:
        data = answer.json()
    except ValueError:
        raise ConfigError(f"{url} answered HTTP {answer.status_code} without JSON; is --url a mock?") from None
    if answer.status_code != 200:
        raise InputError(f"The mock refused: {data.get('error', data)}")
    stdout.write(json.dumps(data, indent=2) + "\n")
    errors = [f for f in data.get("findings", []) if f.get("severity") == "error"]
    return 1 if errors or data.get("status") is None else 0


def _journal(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    from mock_server._store import Store

    if args.redact_salt is not None and not args.redact:
        raise ConfigError("--redact-salt only sets the pseudonyms of --redact; add --redact or leave it out.")
    path = Path(args.db)
    if not path.is_file():
        raise InputError(f"--db {args.db} does not exist; give the file a mock ran with.")
    try:
        store = Store(str(path), create=False)
        entries = store.journal(call=args.call, exchange=args.exchange)
    except sqlite3.DatabaseError as error:
        raise InputError(f"--db {args.db} is not a mock journal ({error}).") from None
    if args.redact:
        from oioi.redact import Pseudonyms

        entries = Pseudonyms(args.redact_salt).entries(entries)
    if args.output_format == "json":
        stdout.write(json.dumps(entries, indent=2) + "\n")
        return 0
    from oioi.capture import export_lines

    for line in export_lines(entries):
        stdout.write(line + "\n")
    return 0
