"""``oioi replay`` and ``oioi regress``: check a fix against the exact traffic of a ticket.

``oioi replay CAPTURE --url URL --api-key KEY`` sends a capture's requests again and compares each
answer with the captured one (`conformance._replay` says how, and which fields are volatile).
``oioi regress CAPTURE --exchange ID … -o test_ticket.py`` writes a standalone pytest file that sends
those requests to ``--oioi-url`` and asserts what the spec requires of the answers
(`conformance._regress`); that file calls `send_captured`, which is why it lives here, public.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from oioi import ROLES, calls, mask
from oioi.errors import ConfigError

__all__ = ["add_parser", "only_must_fails", "regress", "replay", "send_captured"]

REPLAY_HELP = "send captured requests again and compare each answer with the captured one"
REGRESS_HELP = "write a pytest file that sends captured requests and asserts what the spec requires"
CAPTURE_HELP = ("a capture: the mock's or the proxy's journal (.sqlite3), its export (.jsonl/.json, as oioi mock "
                "journal writes it) or a HAR file (.har)")


def add_parser(commands: Any) -> None:
    """The ``replay`` and ``regress`` commands; either one already there is left as it is, so that ``oioi_cli`` may
    name this module once for each of them."""
    if "replay" not in commands.choices:
        _add_replay(commands)
    if "regress" not in commands.choices:
        _add_regress(commands)


def _add_replay(commands: Any) -> None:
    r = commands.add_parser("replay", help=REPLAY_HELP, description=REPLAY_HELP + ": same, now conforming, now "
                            "broken or different. Exit 0 when none is now broken, 1 when one is.")
    r.add_argument("capture", metavar="CAPTURE", help=CAPTURE_HELP)
    r.add_argument("--url", required=True, help="the OIOI endpoint to send to (the implementation or the mock)")
    r.add_argument("--api-key", default=os.environ.get("OIOI_API_KEY"),
                   help="the key the endpoint accepts, sent as Authorization: key=KEY [OIOI_API_KEY]")
    _narrowing(r)
    r.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each answer (default 10)")
    r.add_argument("--format", choices=("text", "json"), default="text", dest="output_format",
                   help="text for people (default); json: one object with every exchange")
    r.set_defaults(run=replay, extra="certify")


def _add_regress(commands: Any) -> None:
    g = commands.add_parser("regress", help=REGRESS_HELP, description=REGRESS_HELP + ". Run it with: pytest FILE "
                            "--oioi-url URL --oioi-role ROLE --oioi-api-key KEY.")
    g.add_argument("capture", metavar="CAPTURE", help=CAPTURE_HELP)
    _narrowing(g)
    g.add_argument("-o", "--output", metavar="FILE", default="-", help="the test file to write (default: standard "
                   "output); its name should start with test_")
    g.set_defaults(run=regress, extra="certify")


def _narrowing(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--call", action="append", default=[], metavar="NAME", dest="call_names",
                        help="only requests of this call (repeat); an earlier request whose answer gave an id "
                        "(a session-id) that a chosen one names is sent too")
    parser.add_argument("--exchange", action="append", default=[], metavar="ID", dest="exchanges",
                        help="only the request of this exchange, by its journal id (repeat; as --call, with the "
                        "requests that gave its ids)")
    parser.add_argument("--role", choices=ROLES, help="only requests this role receives: the side the URL plays "
                        "(needed when the capture holds requests to both)")


def _entries(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The capture's entries, and its requests that ``args`` chose."""
    from conformance import _replay
    from oioi import capture

    unknown = [name for name in args.call_names if name not in calls()]
    if unknown:
        raise ConfigError(f"--call {unknown[0]!r} is not an OIOI call; see the file names in schemas/.")
    entries = capture.read(args.capture)
    return entries, _replay.selected(entries, call_names=args.call_names, exchanges=args.exchanges, role=args.role)


def replay(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    """``oioi replay``: 0 when no exchange is now broken, 1 when one is."""
    from conformance import _replay

    if not args.api_key:
        raise ConfigError("No API key: give --api-key (or set OIOI_API_KEY) with the key the endpoint accepts.")
    everything, chosen = _entries(args)
    chosen, added = _replay.with_givers(everything, chosen)
    session = _replay.Replay(args.url, args.api_key, timeout=args.timeout)
    try:
        outcomes = [session.exchange(entry) for entry in chosen]
    finally:
        session.close()
    counts = {v: sum(o.verdict == v for o in outcomes) for v in _replay.VERDICTS}
    if args.output_format == "json":
        stdout.write(json.dumps({"capture": args.capture, "url": args.url, "api_key": mask(args.api_key),
                                 "added": [{"id": i, "why": why} for i, why in added],
                                 "exchanges": [o.to_dict() for o in outcomes], "counts": counts}, indent=2) + "\n")
    else:
        stdout.write("".join(f"#{i} added: {why}.\n" for i, why in added))
        for outcome in outcomes:
            stdout.write(_line(outcome))
        stdout.write(f"{len(outcomes)} exchange{'s' * (len(outcomes) != 1)} of {args.capture} replayed to {args.url}: "
                     + ", ".join(f"{n} {v}" for v, n in counts.items()) + ".\n")
    return 1 if counts[_replay.NOW_BROKEN] else 0


def _line(outcome: Any) -> str:
    """One exchange: ``#ID CALL: VERDICT (now; captured)``, then what it rests on, indented."""
    now, captured = outcome.now.describe(), outcome.captured.describe()
    head = f"#{outcome.id} {outcome.call}: {outcome.verdict} ({now}" + (
        f"; captured: {captured})" if now != captured else ")")
    details = [*(f"id {n}" for n in outcome.notes), *outcome.differences]
    if outcome.verdict == "now broken":
        details += outcome.now.problems
    elif outcome.verdict == "now conforming":
        details += [f"captured: {p}" for p in outcome.captured.problems]
    details += [f"a SHOULD (not counted): {d}" for d in outcome.now.doubts]
    lines = [head] + ["    " + text.replace("\n", "\n    ") for text in details]
    return "\n".join(lines) + "\n"


def regress(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    """``oioi regress``: write the test file (or print it); 0."""
    from conformance import _regress, _replay

    if not args.exchanges:
        raise ConfigError("Say which exchanges the test sends: --exchange ID (repeat), the journal ids of the ticket.")
    everything, chosen = _entries(args)
    source, added = _regress.source(everything, chosen, Path(args.capture).name,
                                   Path(args.output).name if args.output != "-" else "test_ticket.py")
    for entry_id, why in added:
        stderr.write(f"oioi regress: exchange #{entry_id} added too: {why}.\n")
    if args.output == "-":
        stdout.write(source)
    else:
        try:
            Path(args.output).write_text(source, encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"Cannot write {args.output} ({error.strerror or error}); give -o a file you can "
                              "write.") from None
        tests = source.count("def test_")
        stdout.write(f"wrote {args.output}: {tests} test{'s' * (tests != 1)}; run it with: pytest {args.output} "
                     "--oioi-url URL --oioi-role " + _replay.role_of(chosen) + " --oioi-api-key KEY\n")
    return 0


def send_captured(iut: Any, request: Any, given: dict[str, str], *, gives: dict[str, str] | None = None,
                  content_type: str = "application/json") -> Any:
    """Send one captured request through the plugin's ``iut`` client, the captured ids in ``given`` replaced by the
    ones the endpoint gave in this run; then note in ``given`` the ids this answer gives in place of ``gives``
    (captured id by its place, e.g. ``{"/session-start/session-id": "9d1c…"}``). The `Exchange`."""
    from conformance import _replay

    body, _ = _replay.rewrite(request, given)
    exchange = iut.post(_replay.request_body(body), {"Content-Type": content_type,
                                                     "Authorization": f"key={iut.api_key}"})
    answer = exchange.json()
    for where, old in (gives or {}).items():
        path = tuple(int(p) if p.isdigit() else p for p in where.strip("/").split("/"))
        new = _replay.value_at(answer, path)
        if isinstance(new, str) and new:
            given[old] = new
    return exchange


@contextlib.contextmanager
def only_must_fails() -> Iterator[None]:
    """Inside, a failed check fails the test only when its requirement is a MUST; a failed SHOULD (our reading of
    the spec, never a proof) marks the test xfail with what was received and expected."""
    import pytest

    from conformance import _replay
    from conformance._failures import Nonconformance

    try:
        yield
    except Nonconformance as failure:
        if _replay.level(failure) == "MUST":
            raise
        pytest.xfail(f"a SHOULD ({failure.requirement}), not a failure: {failure.message}")
