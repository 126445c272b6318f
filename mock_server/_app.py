"""The app factory."""

from __future__ import annotations

import atexit
import concurrent.futures
import json
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from mock_server import _admin, _cpo, _emp, _endpoint, _page, seed
from mock_server._store import Store
from oioi.errors import ConfigError

ROLES = ("emp", "cpo")
DEFAULTS: dict[str, Any] = {
    "ROLE": "emp",
    "API_KEYS": [],  # keys the partner may send as 'Authorization: key=…'
    "PARTNER_URL": None,  # where outbound calls go
    "PARTNER_API_KEY": None,  # the key sent with them
    "PARTNER_IDENTIFIERS": [],  # EMP: partner identifiers accepted in station-post (empty: any)
    "OWN_PARTNER_IDENTIFIER": "oioi-mock-partner-0000000000000001",
    "DATABASE": ":memory:",  # SQLite file of state and journal
    "FIXTURES": None,  # JSON fixtures file overriding the default seed data (mock_server/seed.py)
    "PROFILE": "strict",  # validation profile for inbound requests
    "OUTBOUND_TIMEOUT": 5.0,  # seconds
    "ADMIN_TOKEN": None,  # when set, /admin/ needs 'Authorization: Bearer <token>'
    "CHECK_RESPONSES": True,  # validate every answer against its response schema
    "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,  # bigger requests are refused with 413
}


def create_app(role: str, config: Mapping[str, Any] | None = None) -> Flask:
    """Build the mock partner for ``role`` ('emp' or 'cpo')."""
    if role not in ROLES:
        raise ConfigError(f"Received: role {role!r}\nExpected: one of {list(ROLES)!r}.")
    app = Flask("mock_server")
    app.config.from_mapping(DEFAULTS)
    _from_file_and_environment(app)
    if config:
        unknown = set(config) - set(DEFAULTS) - {"TESTING"}
        if unknown:
            raise ConfigError(f"Unknown mock setting(s) {sorted(unknown)}; the settings are {sorted(DEFAULTS)}.")
        app.config.from_mapping(config)
    app.config["ROLE"] = role
    if not app.config["API_KEYS"]:
        raise ConfigError("The mock needs at least one API key to accept: pass --api-key KEY.")
    store = Store(str(app.config["DATABASE"]))
    app.extensions["oioi_store"] = store
    # One thread: pushes leave in the order the mock decided them (Occupied before Available).
    outbox = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="oioi-outbound")
    app.extensions["oioi_outbox"] = outbox
    atexit.register(outbox.shutdown, wait=False)
    app.extensions["oioi_handlers"] = dict(_emp.HANDLERS if role == "emp" else _cpo.HANDLERS)
    app.extensions["oioi_api_keys"] = [str(key).encode() for key in app.config["API_KEYS"]]  # compared as bytes
    seed.load(app, store)
    app.register_blueprint(_endpoint.bp)
    app.register_blueprint(_admin.bp)
    _admin.serve_reading(app, _admin.mock_info, _admin.mock_urls)
    app.register_blueprint(_page.bp)
    app.register_error_handler(HTTPException, _http_error)
    return app


def create_page_app(store: Store, *, admin_token: str | None, about: Callable[[], dict[str, Any]],
                    urls: Callable[[], dict[str | None, str | None]]) -> Flask:
    """The live page over a journal that something else writes (the proxy's): ``/ui/`` and the admin API's
    reading views, behind ``admin_token`` when one is given; ``about`` and ``urls`` as `_admin.serve_reading`."""
    app = Flask("mock_server")
    app.config["ADMIN_TOKEN"] = admin_token
    app.extensions["oioi_store"] = store
    _admin.serve_reading(app, about, urls)
    app.register_blueprint(_page.bp)
    app.register_error_handler(HTTPException, _http_error)
    return app


def _http_error(error: HTTPException) -> tuple[Response, int]:
    """Wrong path, method or size: a JSON answer, never Flask's HTML page."""
    status = error.code or 400
    text = f"{error.name}: {error.description}"
    if request.path.startswith("/admin/"):
        return jsonify(error=text), status
    if status == 404 or status == 405:
        text = f"{error.name}. OIOI requests are 'POST /api/v4/request' (request.rst); the admin API is under /admin/."
    code = 230 if status < 500 else 100
    return jsonify(result={"code": code, "message": text}), status


def _from_file_and_environment(app: Flask) -> None:
    path = os.environ.get("OIOI_MOCK_CONFIG")
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"Cannot read the mock settings file {path}: {error}.") from None
        app.config.from_mapping({k.upper().replace("-", "_"): v for k, v in data.items()})
    for name in DEFAULTS:
        value = os.environ.get(f"OIOI_MOCK_{name}")
        if value is not None:
            app.config[name] = json.loads(value) if isinstance(DEFAULTS[name], list) else value
