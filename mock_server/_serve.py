"""Serve the mock with gunicorn (one worker process, threads), never Flask's development server.

One worker process keeps every request on one ``Store`` and its write lock; threads give
concurrency (SQLite serialises the writes anyway, and the store groups them). Measured with
``benchmarks/mock_throughput.py``, waitress serves the mock faster (gunicorn: about 0.74 times its
rate); gunicorn is kept because it hands the view the client's socket, which the ``drop``
fault needs, and stops cleanly on Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

from mock_server._app import create_app
from oioi import mask

THREADS = 8


def gunicorn_settings(bind: str) -> dict[str, Any]:
    """How the mock runs in gunicorn (the throughput benchmark serves its bare baseline the same way)."""
    return {
        "bind": bind,
        "workers": 1,
        "worker_class": "gthread",
        "threads": THREADS,
        "timeout": 120,
        "graceful_timeout": 5,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
    }


class MockServer(BaseApplication):  # type: ignore[misc]
    """gunicorn running ``create_app(role, config)`` on ``host:port``."""

    def __init__(
        self, role: str, config: dict[str, Any], host: str, port: int, announce: Callable[[str], None] | None = None
    ) -> None:
        self.role, self.mock_config, self.bind = role, config, f"{host}:{port}"
        self.announce = announce or (lambda line: print(line, flush=True))
        # Build once here so that a configuration mistake is reported before gunicorn starts.
        create_app(role, config).extensions["oioi_store"].close()
        super().__init__()

    def load_config(self) -> None:
        for name, value in gunicorn_settings(self.bind).items():
            self.cfg.set(name, value)
        self.cfg.set("when_ready", self._ready)
        self.cfg.set("proc_name", f"oioi-mock-{self.role}")

    def load(self) -> Any:
        return create_app(self.role, self.mock_config)

    def _ready(self, server: Any) -> None:
        host, port = server.LISTENERS[0].sock.getsockname()[:2]
        keys = ", ".join(mask(k) for k in self.mock_config["API_KEYS"])
        self.announce(f"OIOI mock {self.role.upper()} listening on http://{host}:{port}/api/v4/request")
        self.announce(f"accepting API keys: {keys}")
        self.announce(f"admin API: http://{host}:{port}/admin/  journal and state: {self.mock_config['DATABASE']}")
        if self.mock_config.get("PARTNER_URL"):
            self.announce(
                f"partner: {self.mock_config['PARTNER_URL']} "
                f"(key {mask(self.mock_config.get('PARTNER_API_KEY') or '')})"
            )
        self.announce("stop with Ctrl-C")


def serve(role: str, config: dict[str, Any], host: str, port: int) -> int:
    """Run until Ctrl-C or SIGTERM; returns the exit code."""
    server = MockServer(role, config, host, port)
    try:
        server.run()
    except SystemExit as leave:
        return int(leave.code or 0)
    finally:
        sys.stdout.flush()
    return 0
