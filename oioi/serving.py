"""Serving: run a WSGI app in gunicorn and announce its URL; start such a server as a child process.

One announce line is how every server of this project says where it listens, once its
socket is bound: ``[what ]listening on URL`` on its standard output (`announce_line`). The
mock partner and the reference implementations serve through `serve`; the harness, the
demo and the tests start them with `start`, which reads that line. Both sides are plain
plumbing: nothing here judges a message, so the references may share it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from oioi.errors import HarnessError

__all__ = ["ANNOUNCE", "Child", "add_server_options", "announce_line", "bind_error", "free_port", "serve", "start"]

ANNOUNCE = "listening on "
START_TIMEOUT = 30.0  # seconds a child may take to announce its URL


def announce_line(url: str, what: str = "") -> str:
    """The line a server prints once it listens: ``[what ]listening on URL``."""
    return f"{what} {ANNOUNCE}{url}" if what else f"{ANNOUNCE}{url}"


def add_server_options(parser: argparse.ArgumentParser, *, port: int, port_help: str, key_help: str) -> None:
    """``--host``, ``--port`` and ``--api-key`` (required, repeatable): where a server listens and whom it lets in."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=port, help=port_help)
    parser.add_argument("--api-key", action="append", dest="api_keys", required=True, metavar="KEY", help=key_help)


def bind_error(host: str, port: int) -> str | None:
    """Why a server could not listen on ``host:port`` now (the system's words), or None when it could.

    The address is bound for a moment and let go at once, so that a command can say so in one
    sentence before its server starts (gunicorn would retry and log at length).
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host.removeprefix("[").removesuffix("]"), port,
                                                             type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        return getattr(error, "strerror", None) or str(error)
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def gunicorn_settings(bind: str, *, threads: int) -> dict[str, Any]:
    """One worker process with ``threads`` threads: one process holds the app's SQLite connection and its lock."""
    return {
        "bind": bind,
        "workers": 1,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 120,
        "graceful_timeout": 5,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
    }


def serve(
    build: Callable[[], Any],
    *,
    bind: str,
    ready: Callable[[str, int], None],
    threads: int = 8,
    settings: Mapping[str, Any] | None = None,
) -> int:
    """Serve the WSGI app ``build()`` makes with gunicorn on ``bind`` until SIGTERM or Ctrl-C; the exit code.

    ``ready(host, port)`` runs once the socket listens (an IPv6 host comes in brackets); it
    prints the announce line. ``settings`` override `gunicorn_settings`. The app is built in
    the worker, so that its SQLite connections belong to the process that uses them.
    """
    from gunicorn.app.base import BaseApplication  # only servers need gunicorn

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, value in {**gunicorn_settings(bind, threads=threads), **(settings or {})}.items():
                self.cfg.set(name, value)
            self.cfg.set("when_ready", _when_ready)

        def load(self) -> Any:
            return build()

    def _when_ready(server: Any) -> None:
        host, port = server.LISTENERS[0].sock.getsockname()[:2]
        ready(f"[{host}]" if ":" in host else host, port)

    try:
        _Gunicorn().run()
    except SystemExit as leave:
        return 0 if leave.code in (0, None) else int(leave.code) if isinstance(leave.code, int) else 2
    finally:
        sys.stdout.flush()
    return 0


class Child:
    """A server running as a child process, once it has announced its URL (see `start`)."""

    def __init__(self, process: subprocess.Popen[bytes], logs: Path, what: str) -> None:
        self.process, self._logs, self.what = process, logs, what
        self.url = ""  # what it announced, e.g. http://127.0.0.1:8642/api/v4/request
        self._kept: dict[str, str] = {}  # its output, kept when its log files are removed

    @property
    def base_url(self) -> str:
        """``scheme://host:port`` of the announced URL."""
        parts = urllib.parse.urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(urllib.parse.urlsplit(self.url).port or 0)

    def stdout(self) -> str:
        """What it printed on its standard output so far."""
        return self._read("stdout")

    def stderr(self) -> str:
        """What it printed on its standard error so far."""
        return self._read("stderr")

    def last_error(self) -> str:
        """Its last non-empty line on standard error (or standard output), for a one-sentence message."""
        lines = [line for line in (self.stderr() or self.stdout()).splitlines() if line.strip()]
        return lines[-1].strip() if lines else "no output"

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, as Ctrl-C or a service manager would; SIGKILL what is left after ``timeout`` s; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = -signal.SIGKILL
        self.kill()
        return code

    def kill(self) -> None:
        """SIGKILL its whole process group (gunicorn's arbiter and its worker); its output stays readable."""
        with contextlib.suppress(ProcessLookupError, PermissionError):  # gone already
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        if not self._kept:
            self._kept = {name: self._read(name) for name in ("stdout", "stderr")}
            shutil.rmtree(self._logs, ignore_errors=True)

    def _read(self, name: str) -> str:
        if name in self._kept:
            return self._kept[name]
        path = self._logs / name
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def _announced(self) -> str | None:
        for line in self.stdout().splitlines():
            if ANNOUNCE in line:
                return line.split(ANNOUNCE, 1)[1].strip()
        return None


def start(
    command: Sequence[str],
    *,
    what: str,
    timeout: float = START_TIMEOUT,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
) -> Child:
    """Start ``command`` and wait until it announces its URL (`announce_line`); `HarnessError` if it does not.

    Its output goes to files, never to a pipe nobody reads (a full pipe would stall it); it
    runs in a session of its own so that `Child.kill` reaches every process it forks.
    """
    folder = Path(tempfile.mkdtemp(prefix="oioi-child-"))
    with (folder / "stdout").open("wb") as out, (folder / "stderr").open("wb") as err:
        process = subprocess.Popen(list(command), stdout=out, stderr=err, cwd=cwd, start_new_session=True,
                                   env={**(env if env is not None else os.environ), "PYTHONUNBUFFERED": "1"})
    child = Child(process, folder, what)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        url = child._announced()
        if url:
            child.url = url
            return child
        if process.poll() is not None:
            break
        time.sleep(0.02)
    error = child.last_error()
    child.kill()
    raise HarnessError(f"The {what} did not start ({error}).")
