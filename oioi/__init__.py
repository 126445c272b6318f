"""OIOI 4.19 protocol core: schemas, one validator and Hypothesis generators.

>>> from oioi import validate
>>> validate({"rfid-verify": {"rfid": "04523022AA4881"}})
[]
"""

from __future__ import annotations

from oioi._findings import Finding
from oioi._schemas import calls
from oioi._secrets import mask
from oioi._validate import PROFILES, detect_call, validate

__all__ = ["PROFILES", "SPEC_VERSION", "Finding", "__version__", "calls", "detect_call", "mask", "validate"]

__version__ = "0.1.0"
SPEC_VERSION = "4.19.0"
