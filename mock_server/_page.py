"""The live page, ``/ui/``: the conversation as it happens, the state, and the admin actions, in a browser.

The page is three static files (``mock_server/page/``): no build step and nothing from another
host, so it works offline. They hold no data and are served to anyone; everything the page shows
comes from the admin API (`mock_server._admin`), which asks for the admin token when there is
one: the page sends it in an ``Authorization: Bearer`` header, never in a URL. Its
Content-Security-Policy lets the page talk to its own server only, and run no inline script.
The proxy serves the same page over its journal (``oioi proxy --ui``).
"""

from __future__ import annotations

import functools
from importlib import resources

from flask import Blueprint, Response, redirect, request

from mock_server._admin import AdminError

__all__ = ["FILES", "POLICY", "bp"]

bp = Blueprint("page", __name__)
FILES = {"": "text/html", "app.js": "text/javascript", "app.css": "text/css"}  # under /ui/, by name
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
          "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY", "Cache-Control": "no-store"}


@bp.get("/")
@bp.get("/ui")
def home() -> Response:
    """The page's address."""
    return redirect("/ui/", code=302)  # type: ignore[return-value]


@bp.get("/ui/", defaults={"name": ""})
@bp.get("/ui/<name>")
def page(name: str) -> Response:
    """One of the page's files."""
    if request.headers.get("Authorization", "").startswith("key="):
        raise AdminError(403, "The page does not take OIOI API keys; send no 'Authorization: key=…' here.")
    if name not in FILES:
        return Response(f"No page file {name!r}; the page is /ui/.", status=404, mimetype="text/plain")
    return Response(_file(name or "index.html"), mimetype=FILES[name], headers=HEADERS)


@functools.cache
def _file(name: str) -> bytes:
    """One of the page's files, read once (they are part of the installed package)."""
    return resources.files("mock_server").joinpath("page", name).read_bytes()


@bp.errorhandler(AdminError)
def _refused(error: AdminError) -> tuple[Response, int]:
    return Response(str(error), mimetype="text/plain"), error.status
