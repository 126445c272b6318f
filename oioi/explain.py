"""The spec sentence a finding rests on, for pages that show findings below the conformance suite.

The sentences are quoted by the requirement catalogue, which is the conformance suite's, a
layer above the core and the mock. The suite offers its lookup through the ``oioi.sentences``
entry point (pyproject.toml); the mock's page asks for it here, so no module imports a layer
above its own. Where the suite cannot be loaded there is no sentence: the finding's ``spec``
file still says where the rule is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

__all__ = ["GROUP", "sentence"]

GROUP = "oioi.sentences"
Lookup = Callable[[Mapping[str, Any], "str | None"], "dict[str, Any] | None"]


@functools.cache
def _lookup() -> Lookup | None:
    for point in metadata.entry_points(group=GROUP):
        try:
            found: Lookup = point.load()
        except ImportError:  # an install without the suite's dependencies
            continue
        return found
    return None


def sentence(finding: Mapping[str, Any], call: str | None) -> dict[str, Any] | None:
    """``{"quote", "file", "requirements"}`` of the sentence ``finding`` (a finding's dict) rests on, or None."""
    lookup = _lookup()
    return lookup(finding, call) if lookup is not None else None
