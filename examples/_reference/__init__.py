"""What both reference implementations share: the OIOI transport, their state, serving, fault variants.

A role package supplies its handlers (one plain function per call it receives) and its
faults; `make_app` wraps them in the transport of request.rst, `variants_app` mounts every
faulty variant next to the correct implementation, and `main` is the command line.
"""

from __future__ import annotations

from examples._reference._db import Database
from examples._reference._serve import Role, main, run
from examples._reference._transport import (
    EXTENSION,
    PATH,
    TRANSPORT_FAULTS,
    Body,
    Context,
    Endpoint,
    Handler,
    check_api_keys,
    check_faults,
    make_app,
    mask,
)
from examples._reference._variants import PREFIX, Variants, variants_app

__all__ = [
    "EXTENSION",
    "PATH",
    "PREFIX",
    "TRANSPORT_FAULTS",
    "Body",
    "Context",
    "Database",
    "Endpoint",
    "Handler",
    "Role",
    "Variants",
    "check_api_keys",
    "check_faults",
    "main",
    "make_app",
    "mask",
    "run",
    "variants_app",
]
