"""Hypothesis strategies for OIOI messages, built from the schemas.

``messages(call, direction, profile)`` draws valid messages with realistic values (EVSE
IDs, EVCO IDs, upper-case hexadecimal UIDs, consistent intervals, coordinates in range);
``example(call)`` is one of them, drawn outside a test (to pre-fill a form);
``invalid_messages(call, direction)`` draws messages that break exactly one rule and
says which. The strategies are compiled from the same schema files the validator uses,
so the two cannot drift; the few rules a schema cannot express are kept by the fix-ups of
the semantic rules (`oioi._semantic.RULES`), the one table the validator also reads.

The parts, one topic each:

- ``_values``: realistic values for the shared definitions (`DOMAIN`), the clock seam
  (`today`), and the realism of a few calls;
- ``_walker``: the schema walker and ``messages``;
- ``_breakages``: ``invalid_messages`` and the ways to break a schema keyword.
"""

from __future__ import annotations

from oioi.strategies._breakages import Broken, invalid_messages
from oioi.strategies._values import DOMAIN, today
from oioi.strategies._walker import example, messages

__all__ = ["DOMAIN", "Broken", "example", "invalid_messages", "messages", "today"]
