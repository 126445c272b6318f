"""Load faults: switches for what only a load run sees, neither a conformance defect nor a correct behaviour.

A defect (examples/defects.json) is a bug one conformance request at a time catches, and a
behaviour (examples/variants.json) is something the spec allows; a load fault is a failure
that shows in the aggregate of many requests: a 500 now and then, slow answers, one lost CDR
among many sessions. ``oioi load``'s thresholds and invariants must catch each
(tests/test_load_invariants.py); self-validation does not certify them, as no single
conformance check is bound to fail. Each is deterministic and bounded, an ``if`` where the
real failure would be, switched on with ``--fault NAME`` (``create_app(faults=[...])``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from examples._reference._behaviours import check_names

__all__ = ["CDR_DROP_EVERY", "CPO_FAULTS", "ERROR_EVERY", "SLOW_FAULT", "TRANSPORT_FAULTS", "check_faults"]

ERROR_EVERY = 20  # 500-every-20th: the 20th, 40th, ... request since the process started answers 500
SLOW_FAULT = 1.0  # seconds, answers-after-1s
CDR_DROP_EVERY = 5  # drops-every-5th-cdr: the 5th, 10th, ... session that ends gets no final CDR

TRANSPORT_FAULTS: dict[str, str] = {
    "500-every-20th": f"Answers HTTP 500 (result 100), without handling it, to every {ERROR_EVERY}th request to its "
    "OIOI endpoint (a counter per process: the 20th, 40th, ...).",
    "answers-after-1s": f"Waits {SLOW_FAULT:g} s before it handles and answers every request to its OIOI endpoint.",
}
CPO_FAULTS: dict[str, str] = {
    "drops-every-5th-cdr": f"Never sends the final CDR (session-post) of every {CDR_DROP_EVERY}th session that ends "
    "(counted in its state: the 5th, 10th, ...); the connector's status is still sent.",
}


def check_faults(valid: Mapping[str, str], given: Iterable[str], title: str) -> frozenset[str]:
    """The load faults to switch on; `ConfigError` (a ValueError) names an unknown one and lists the valid ones."""
    return frozenset(check_names(valid, given, title, "fault"))
