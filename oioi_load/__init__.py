"""Load and soak: OIOI traffic at scale on Locust, every answer (or a sampled fraction) judged.

The plain parts (no Locust: importing it patches the sockets of the whole process) are importable
here; the Locust users live in ``oioi_load/locustfile.py``, which runs only in a Locust child
process (`LOCUSTFILE` is its path).
"""

from __future__ import annotations

from pathlib import Path

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
