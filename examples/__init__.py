"""Reference implementations of OIOI partners, with switchable defects, for certifying a conformance suite."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["declared_figures"]


def declared_figures(role: str, behaviour: str | None = None) -> dict[str, float]:
    """What a reference declares about its own sending (examples/variants.json, ``declaration``).

    ``{"partner-timeout": S, "retry-window": S}``: its client's timeout and how soon it retries
    after a 5xx, for ``oioi certify --partner-timeout --retry-window`` (a behaviour may differ).
    """
    variants = json.loads((Path(__file__).parent / "variants.json").read_text(encoding="utf-8"))
    own = variants[role][behaviour].get("declaration", {}) if behaviour else {}
    return {**variants["declaration"], **own}
