"""``oioi proxy`` and ``python -m mock_server.proxy``: a validating proxy between two live OIOI partners.

    oioi proxy --listen HOST:PORT --upstream URL [--name NAME]
               [--listen HOST:PORT --upstream URL [--name NAME]] --db journal.sqlite3 [--profile strict|lenient]
               [--ui HOST:PORT [--admin-token TOKEN]]

Each ``--listen`` opens a listener; the ``--upstream`` (and ``--name``) after it belong to it.
A partner is pointed at a listener instead of at its partner, e.g. the CPO's partner URL
becomes ``http://127.0.0.1:PORT/api/v4/request`` of the listener whose upstream is the EMP.
The name (default ``a``, ``b``, … in order) is the journal's ``peer``: the partner that
*sends* through that listener (name the CPO's listener ``cpo``). With both directions of both
partners in one process, the conversation rules see the whole conversation. How traffic is
forwarded, answered when the upstream is down (502) and journaled: `mock_server._proxy`.
``--ui`` serves the live page over the journal (`mock_server._page`) on an address of its own,
which no partner is pointed at, behind ``--admin-token`` when given.
"""

from __future__ import annotations

import argparse
import os
import socket
import string
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from oioi import mask, serving
from oioi.cli import add_profile_option, exit_with, standalone
from oioi.errors import ConfigError

__all__ = ["DESCRIPTION", "HELP", "Listener", "add_arguments", "add_parser", "listeners", "main", "run"]

HELP = "forward OIOI traffic between two live partners unchanged, journal and judge every exchange"
DESCRIPTION = (
    "A validating proxy: each --listen HOST:PORT forwards to the --upstream URL given after it, unchanged (body "
    "bytes and end-to-end headers both ways), and journals every exchange with its findings in --db (the mock's "
    "journal format; 'oioi mock journal --db' exports it). --name after a --listen names the partner that sends "
    "through it (the journal's peer; default a, b, ...). Each finding prints one line as it happens."
)
THREADS = 16  # the server's threads: each waits on its upstream while a request is forwarded
TOKEN_VARIABLE = "OIOI_PROXY_ADMIN_TOKEN"
DEFAULT_HOST = "127.0.0.1"


class Listener:
    """One ``--listen`` with its ``--upstream`` and name, as given (the socket is bound by `run`); ``--ui`` too."""

    def __init__(self, listen: str, upstream: str | None, name: str) -> None:
        self.listen, self.name = listen, name
        self.host, self.port = address(listen)
        self.upstream = upstream_base(upstream) if upstream is not None else ""  # None: the page's address


class _Pairs(argparse.Action):
    """Keep ``--listen``, ``--upstream`` and ``--name`` in the order given: a listener's options follow it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        given = [*(getattr(namespace, self.dest, None) or []), (self.option_strings[0].lstrip("-"), values)]
        setattr(namespace, self.dest, given)


def add_parser(commands: Any) -> None:
    """The ``proxy`` command of ``oioi``."""
    add_arguments(commands.add_parser("proxy", help=HELP, description=DESCRIPTION))


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``proxy``, and its ``run``."""
    p.add_argument("--listen", action=_Pairs, dest="pairs", metavar="HOST:PORT", required=True,
                   help=f"where a listener listens (repeatable; host default {DEFAULT_HOST}; port 0 picks a free one)")
    p.add_argument("--upstream", action=_Pairs, dest="pairs", metavar="URL",
                   help="where the listener before it forwards: the partner's base URL or its OIOI endpoint URL")
    p.add_argument("--name", action=_Pairs, dest="pairs", metavar="NAME",
                   help="the partner that sends through the listener before it, the journal's peer (default: a, b, …)")
    p.add_argument("--db", required=True, metavar="PATH", help="SQLite file of the journal (created if missing)")
    add_profile_option(p, "how messages are judged (default: strict)")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="seconds to wait for an upstream's answer before answering 502 (default: 30)")
    p.add_argument("--ui", metavar="HOST:PORT",
                   help="serve the live page (/ui/: the conversation with its findings) on this address of its own")
    p.add_argument("--admin-token", metavar="TOKEN", default=os.environ.get(TOKEN_VARIABLE) or None,
                   help=f"with --ui: the page asks for this token (default: ${TOKEN_VARIABLE}, which keeps it out of "
                        f"the process list)")
    p.set_defaults(run=run, extra="mock")


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO) -> int:
    """Serve the listeners until Ctrl-C or SIGTERM; the exit code (2 with one sentence for a mistake)."""
    import gunicorn  # noqa: F401  (the mock extra; missing, it is one sentence)

    from mock_server._proxy import Proxy, Route, keep_upstream_fields

    given = listeners(args.pairs)
    if not args.timeout > 0:
        raise ConfigError(f"--timeout must be a positive number of seconds, not {args.timeout:g}.")
    page = Listener(args.ui, None, "page") if args.ui else None
    if args.admin_token is not None and page is None:
        raise ConfigError("--admin-token protects the page of --ui; give --ui HOST:PORT too, or leave it out.")
    if args.admin_token is not None and not args.admin_token.strip():
        raise ConfigError("--admin-token cannot be empty; give a token, or leave it out for an open page.")
    check_db(args.db)
    sockets = bind_all([*given, *([page] if page else [])])
    routes = [Route(listener.name, s.getsockname()[1], listener.upstream)
              for listener, s in zip(given, sockets, strict=False)]
    page_port = sockets[-1].getsockname()[1] if page else None
    urls = {route.name: f"http://{shown(listener.host)}:{route.port}" for listener, route in zip(given, routes,
                                                                                                 strict=True)}
    binds = [f"fd://{s.detach()}" for s in sockets]  # gunicorn takes the bound sockets over

    def build() -> Proxy:
        keep_upstream_fields()
        proxy = Proxy(routes, args.db, profile=args.profile, timeout=args.timeout, threads=THREADS, out=stdout)
        if page_port is not None:
            proxy.serve_page(page_port, page_app(proxy, routes, urls, args.admin_token))
        return proxy

    def ready(host: str, port: int) -> None:
        lines = [serving.announce_line(f"http://{shown(listener.host)}:{route.port}",
                                       f"OIOI proxy {route.name} (to {route.upstream})")
                 for listener, route in zip(given, routes, strict=True)]
        if page is not None:
            lines.append(f"page: http://{shown(page.host)}:{page_port}/ui/"
                         + (" (asks for the admin token)" if args.admin_token else ""))
        stdout.write("\n".join([*lines, f"journal: {args.db} (profile {args.profile})", "stop with Ctrl-C"]) + "\n")
        stdout.flush()

    return serving.serve(build, bind=binds[0], ready=ready, threads=THREADS,
                         settings={"bind": binds, "proc_name": "oioi-proxy"})


def page_app(proxy: Any, routes: Sequence[Any], urls: dict[str, str], admin_token: str | None) -> Any:
    """The live page over the proxy's journal: its listeners, no state and no actions (the proxy changes nothing)."""
    from mock_server._app import create_page_app

    listening = [{"name": route.name, "url": urls[route.name], "upstream": route.upstream} for route in routes]
    endpoints: dict[str | None, str | None] = {name: f"{url}/api/v4/request" for name, url in urls.items()}

    def about() -> dict[str, Any]:
        return {"kind": "proxy", "role": None, "endpoint": None, "partner_url": None, "sends": [], "receives": [],
                "listeners": listening, "features": {"state": False, "send": False, "faults": False, "reset": False}}

    return create_page_app(proxy.store, admin_token=admin_token, about=about, urls=lambda: endpoints)


def listeners(pairs: Sequence[tuple[str, str]] | None) -> list[Listener]:
    """The listeners the options name, in order; `ConfigError` (one sentence) for a pair that is not whole."""
    grouped: list[dict[str, str]] = []
    for option, value in pairs or ():
        if option == "listen":
            grouped.append({"listen": value})
        elif not grouped:
            raise ConfigError(f"--{option} {value} comes before any --listen; give --listen HOST:PORT first, "
                              f"then its --upstream URL.")
        elif option in grouped[-1]:
            raise ConfigError(f"--listen {grouped[-1]['listen']} has two --{option}; give one after each --listen.")
        else:
            grouped[-1][option] = value
    found = []
    for n, pair in enumerate(grouped):
        if "upstream" not in pair:
            raise ConfigError(f"--listen {pair['listen']} has no --upstream; give the URL it forwards to after it.")
        found.append(Listener(pair["listen"], pair["upstream"], pair.get("name") or default_name(n)))
    names = [listener.name for listener in found]
    if len(set(names)) != len(names) or any(not name.strip() for name in names):
        raise ConfigError(f"The listeners' names {names!r} must be distinct and not empty; give each its own --name.")
    return found


def default_name(n: int) -> str:
    """``a``, ``b``, … for the listeners in order (``listener-27`` after ``z``)."""
    return string.ascii_lowercase[n] if n < len(string.ascii_lowercase) else f"listener-{n + 1}"


def address(listen: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT``, ``:PORT`` or ``PORT`` as host and port."""
    host, colon, port = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]") if colon else ""
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--listen {listen}: give HOST:PORT with a port from 0 to 65535, e.g. 127.0.0.1:9001.")
    return host or DEFAULT_HOST, int(port)


def upstream_base(url: str) -> str:
    """The upstream as ``scheme://host[:port][/prefix]``: its endpoint ending (/api/v4/request) and last / cut."""
    from mock_server._proxy import ENDPOINT

    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--upstream {url!r} is not an http(s) URL; give the partner's URL, "
                          f"e.g. http://127.0.0.1:8642/api/v4/request.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(f"--upstream {mask(url)} carries a user, query or fragment; give scheme://host:port[/path] "
                          f"(the proxy forwards the client's own Authorization header).")
    try:
        parts.port  # noqa: B018  (raises for a port out of range)
    except ValueError:
        raise ConfigError(f"--upstream {url}: the port must be from 0 to 65535.") from None
    path = parts.path.rstrip("/").removesuffix(ENDPOINT).rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path}"


def check_db(db: str) -> None:
    """One sentence, before the server starts, when the journal file cannot be used."""
    import sqlite3

    from mock_server._store import Store

    folder = Path(db).resolve().parent
    if not folder.is_dir():
        raise ConfigError(f"--db {db}: the folder {folder} does not exist.")
    try:
        Store(db).close()
    except sqlite3.Error as error:
        raise ConfigError(f"--db {db} cannot hold a journal ({error}); give a new file or a journal of the mock.") \
            from None


def bind_all(given: Sequence[Listener]) -> list[socket.socket]:
    """Every listener's socket, bound; none left open when one cannot be had."""
    bound: list[socket.socket] = []
    try:
        for listener in given:
            bound.append(bind(listener))
    except ConfigError:
        for listening in bound:
            listening.close()
        raise
    return bound


def bind(listener: Listener) -> socket.socket:
    """The listener's socket, bound and listening; one sentence when the address cannot be had."""
    try:
        family, kind, proto, _, where = socket.getaddrinfo(listener.host, listener.port, type=socket.SOCK_STREAM,
                                                           flags=socket.AI_PASSIVE)[0]
        listening = socket.socket(family, kind, proto)
    except OSError as error:
        raise ConfigError(f"Cannot listen on {listener.listen} ({error.strerror or error}).") from None
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(where)
        listening.listen(2048)
    except OSError as error:
        listening.close()
        why = getattr(error, "strerror", None) or str(error)
        raise ConfigError(f"Cannot listen on {listener.listen} ({why}); pick another --listen, "
                          f"or port 0 for a free one.") from None
    return listening


def shown(host: str) -> str:
    """A host as it goes in a URL (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host else host


# ``python -m mock_server.proxy``, the same arguments as ``oioi proxy``: standalone(argv, stdout, stderr) -> int
_standalone = standalone("python -m mock_server.proxy", DESCRIPTION, add_arguments)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """``python -m mock_server.proxy``."""
    exit_with(_standalone, argv)


if __name__ == "__main__":
    main()
