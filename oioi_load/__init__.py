"""Load and soak: OIOI traffic at scale on Locust, every answer (or a sampled fraction) judged.

The plain parts (no Locust: importing it patches the sockets of the whole process) are importable
here; the Locust users live in ``oioi_load/locustfile.py``, which runs only in a Locust child
process (`LOCUSTFILE` is its path).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oioi_load._traffic import (
        DEFAULT_RATES,
        UNITS,
        Answer,
        Budget,
        LoadConfig,
        Plan,
        Request,
        judge,
        pacing,
        sampled,
        share,
        verdict,
    )

__all__ = [
    "CONFIG_VARIABLE",
    "DEFAULT_RATES",
    "LOCUSTFILE",
    "UNITS",
    "Answer",
    "Budget",
    "LoadConfig",
    "Plan",
    "Request",
    "judge",
    "pacing",
    "sampled",
    "share",
    "verdict",
]

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
CONFIG_VARIABLE = "OIOI_LOAD_CONFIG"  # the JSON config of the run; the API key is in OIOI_API_KEY


def __getattr__(name: str) -> Any:
    """The traffic's names on first use: ``oioi`` lists its sub-commands without loading them (Flask, Hypothesis)."""
    if name in __all__ and name not in ("LOCUSTFILE", "CONFIG_VARIABLE"):
        return getattr(importlib.import_module("oioi_load._traffic"), name)
    raise AttributeError(f"module 'oioi_load' has no attribute {name!r}")
