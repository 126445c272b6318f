"""Serve the mock with gunicorn (one worker process, threads), never Flask's development server.

One worker process keeps every request on one ``Store`` and its write lock; threads give
concurrency (SQLite serialises the writes anyway: one write transaction at a time under the
store's lock). Measured with ``benchmarks/mock_throughput.py``, waitress serves the mock
faster; gunicorn is kept because it hands the view the client's socket, which the ``drop``
fault needs, and stops cleanly on Ctrl-C and SIGTERM. The serving itself is
``oioi.serving``'s, shared with the reference implementations; the first line printed is
its announce line.
"""

from __future__ import annotations

from typing import Any

from mock_server._app import create_app
from oioi import mask, serving

THREADS = 8


def gunicorn_settings(bind: str) -> dict[str, Any]:
    """How the mock runs in gunicorn (the throughput benchmark serves its bare baseline the same way)."""
    return serving.gunicorn_settings(bind, threads=THREADS)


def serve(role: str, config: dict[str, Any], host: str, port: int) -> int:
    """Run until Ctrl-C or SIGTERM; returns the exit code."""
    # Build once here so that a configuration mistake is reported before gunicorn starts.
    create_app(role, config).extensions["oioi_store"].close()

    def ready(host: str, port: int) -> None:
        keys = ", ".join(mask(k) for k in config["API_KEYS"])
        lines = [serving.announce_line(f"http://{host}:{port}/api/v4/request", f"OIOI mock {role.upper()}"),
                 f"accepting API keys: {keys}",
                 f"page: http://{host}:{port}/ui/" + (" (asks for the admin token)" if config["ADMIN_TOKEN"] else ""),
                 f"admin API: http://{host}:{port}/admin/  journal and state: {config['DATABASE']}"]
        if config.get("PARTNER_URL"):
            lines.append(f"partner: {config['PARTNER_URL']} (key {mask(config.get('PARTNER_API_KEY') or '')})")
        print("\n".join([*lines, "stop with Ctrl-C"]), flush=True)

    return serving.serve(lambda: create_app(role, config), bind=f"{host}:{port}", ready=ready, threads=THREADS,
                         settings={"proc_name": f"oioi-mock-{role}"})
