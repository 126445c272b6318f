"""The mock partner: a Flask app that plays the EMP or the CPO side of OIOI 4.19, statefully.

``create_app(role, config=None)`` is the one way to build it: defaults, then a TOML file
named by ``OIOI_MOCK_CONFIG``, then ``OIOI_MOCK_*`` environment variables, then the
``config`` mapping. Serve it with a production WSGI server (`oioi mock` uses gunicorn).
"""

from __future__ import annotations

from mock_server._app import create_app
from oioi import mask

__all__ = ["create_app", "mask"]
