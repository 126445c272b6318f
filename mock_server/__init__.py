"""The mock partner: a Flask app that plays the EMP or the CPO side of OIOI 4.19, statefully.

``create_app(role, config=None)`` is the one way to build it: defaults, then a TOML file
named by ``OIOI_MOCK_CONFIG``, then ``OIOI_MOCK_*`` environment variables, then the
``config`` mapping. Serve it with a production WSGI server (`oioi mock` uses gunicorn).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oioi import mask

if TYPE_CHECKING:
    from mock_server._app import create_app

__all__ = ["create_app", "mask"]


def __getattr__(name: str) -> Any:
    """``create_app`` on first use: importing the package (``python -m mock_server``) needs no Flask yet, so a
    missing ``mock`` extra is one sentence from the command, not a traceback."""
    if name == "create_app":
        from mock_server._app import create_app

        return create_app
    raise AttributeError(f"module 'mock_server' has no attribute {name!r}")
