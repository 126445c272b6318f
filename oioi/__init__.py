"""OIOI 4.19 protocol core: schemas, one validator and Hypothesis generators.

>>> from oioi import validate
>>> validate({"rfid-verify": {"rfid": "04523022AA4881"}})
[]

The facts about each call come from its schemas (the one place they are written):

>>> receiver("session-start"), spec_file("session-start"), result_codes("connector-post-status")
('cpo', 'calls/session_start.rst', (0, 181))
"""

from __future__ import annotations

from oioi._findings import Finding
from oioi._schemas import (
    ROLES,
    Erratum,
    calls,
    definition,
    documents,
    errata,
    receiver,
    result_codes,
    schema,
    spec_file,
)
from oioi._secrets import mask, masked_headers
from oioi._validate import PROFILES, detect_call, validate

__all__ = [
    "PROFILES",
    "ROLES",
    "SPEC_VERSION",
    "Erratum",
    "Finding",
    "__version__",
    "calls",
    "definition",
    "detect_call",
    "documents",
    "errata",
    "mask",
    "masked_headers",
    "receiver",
    "result_codes",
    "schema",
    "spec_file",
    "validate",
]

__version__ = "0.1.0"
SPEC_VERSION = "4.19.0"
