"""Every variant of a reference implementation behind one WSGI app, so one server certifies them all.

A variant is one defect (a bug a conformance suite must catch) or one correct behaviour (or a
combination of them: something the spec allows, which a conformance suite must pass).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

from flask import Flask
from werkzeug.wrappers import Response

from examples._reference._transport import PATH
from oioi.results import result

__all__ = ["PREFIX", "Variants", "variants_app"]

PREFIX = "/variant/"


class Variants:
    """The correct implementation at ``/api/v4/request``, defect or behaviour V at ``/variant/V/api/v4/request``.

    Each variant is its own app with its own SQLite file ``DIR/V.sqlite``, built on its first
    request (under a lock, so two threads never build one twice).
    """

    def __init__(
        self,
        create_app: Callable[..., Flask],
        defects: Iterable[str],
        db_dir: str,
        api_keys: list[str],
        *,
        behaviours: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        self.behaviours = list(behaviours)
        self.defects = list(defects)
        db_path = kwargs.pop("db_path", os.path.join(db_dir, "correct.sqlite"))
        self._create, self._db_dir, self._api_keys, self._kwargs = create_app, db_dir, api_keys, kwargs
        self.correct = create_app(db_path=db_path, api_keys=api_keys, **kwargs)
        self._apps: dict[str, Flask] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return self.correct(environ, start_response)
        name, slash, rest = path[len(PREFIX) :].partition("/")
        if name not in self.defects and name not in self.behaviours:
            return _unknown_variant(name, self.defects + self.behaviours)(environ, start_response)
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + PREFIX + name
        environ["PATH_INFO"] = slash + rest
        return self.variant(name)(environ, start_response)

    def variant(self, name: str) -> Flask:
        """The app with defect or behaviour ``name`` switched on (built on first use)."""
        switch = {"defects": [name]} if name in self.defects else {"behaviours": [name]}
        with self._lock:
            app = self._apps.get(name)
            if app is None:
                db_path = os.path.join(self._db_dir, f"{name}.sqlite")
                app = self._create(db_path=db_path, api_keys=self._api_keys, **switch, **self._kwargs)
                self._apps[name] = app
        return app

    def urls(self) -> Iterator[str]:
        """The endpoint path of every variant."""
        for name in self.defects + self.behaviours:
            yield f"{PREFIX}{name}{PATH}"


def _unknown_variant(name: str, names: list[str]) -> Response:
    text = f"Received: variant {name!r}\nExpected: {PREFIX}<variant>{PATH} with one of: {', '.join(names)}."
    return Response(json.dumps({"result": result(230, text)}), status=404, mimetype="application/json")


def variants_app(
    create_app: Callable[..., Flask],
    defects: Iterable[str],
    db_dir: str,
    api_keys: list[str],
    *,
    behaviours: Iterable[str] = (),
    **kwargs: Any,
) -> Variants:
    """One WSGI app mounting the correct implementation and one variant per defect and per behaviour.

    ``kwargs`` go to every ``create_app`` call (e.g. ``connectors``), except ``db_path``: the
    correct implementation's file (default ``DIR/correct.sqlite``).
    """
    return Variants(create_app, defects, db_dir, api_keys, behaviours=behaviours, **kwargs)
