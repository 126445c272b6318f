"""What both reference implementations share: the OIOI transport, their state, serving, faulty variants.

A role package supplies its handlers (one plain function per call it receives), its control
actions (what it sends, on a test's ``POST /control``) and its defects; `make_app` wraps them in
the transport of request.rst, `make_outbox` delivers what it sends to its partner,
`variants_app` mounts every faulty variant next to the correct implementation, and `main` is
the command line. A role's correct behaviours (`TRANSPORT_BEHAVIOURS`, `SENDER_BEHAVIOURS` and
its own) are served like its defects, each at ``/variant/B/api/v4/request``. Its load faults
(`TRANSPORT_FAULTS`, `CPO_FAULTS`: what only a load run sees) are switched on with ``--fault``.
"""

from __future__ import annotations

from examples._reference._behaviours import SENDER_BEHAVIOURS, TRANSPORT_BEHAVIOURS, check_behaviours
from examples._reference._control import CONTROL_PATH, Action, ControlError, optional_text, required_text
from examples._reference._db import Database
from examples._reference._faults import CPO_FAULTS, TRANSPORT_FAULTS, check_faults
from examples._reference._outbox import SENDER_DEFECTS, Outbox, Outcome, make_outbox
from examples._reference._serve import Role, main, run
from examples._reference._transport import (
    EXTENSION,
    PATH,
    TRANSPORT_DEFECTS,
    Body,
    Context,
    Endpoint,
    Handler,
    check_api_keys,
    check_defects,
    make_app,
)
from examples._reference._variants import PREFIX, Variants, variants_app

__all__ = [
    "CONTROL_PATH",
    "CPO_FAULTS",
    "EXTENSION",
    "PATH",
    "PREFIX",
    "SENDER_BEHAVIOURS",
    "SENDER_DEFECTS",
    "TRANSPORT_BEHAVIOURS",
    "TRANSPORT_DEFECTS",
    "TRANSPORT_FAULTS",
    "Action",
    "Body",
    "Context",
    "ControlError",
    "Database",
    "Endpoint",
    "Handler",
    "Outbox",
    "Outcome",
    "Role",
    "Variants",
    "check_api_keys",
    "check_behaviours",
    "check_defects",
    "check_faults",
    "main",
    "make_app",
    "make_outbox",
    "optional_text",
    "required_text",
    "run",
    "variants_app",
]
