"""The ``pytest11`` entry point: loads ``conformance.plugin`` when the ``certify`` extra is installed.

pytest imports every ``pytest11`` entry point of every installed package, in every project. A
core-only install (``pip install oioi-conformance``, for ``oioi validate``) has no Flask or
requests, and the plugin needs them; importing it there would break the pytest of a project
that never asked for the suite. So the plugin is named in ``pytest_plugins`` only when what it
needs can be found.
"""

from __future__ import annotations

import importlib.util

from oioi.cli import EXTRAS

__all__ = ["pytest_plugins"]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules (tests block imports so)
        return False


pytest_plugins = ["conformance.plugin"] if all(_installed(module) for module in EXTRAS) else []
