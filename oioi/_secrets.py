"""Secrets stay secret: the one way an API key or token is shown in a log, journal or report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["MASK_KEEP", "mask", "masked_headers"]

MASK_KEEP = 4  # characters of a secret left readable at its end, so that a person can tell two keys apart


def mask(secret: str) -> str:
    """``secret`` with all but its last four characters replaced by ``*`` (all of it when it is that short)."""
    keep = MASK_KEEP if len(secret) > MASK_KEEP else 0
    return "*" * (len(secret) - keep) + secret[len(secret) - keep :]


def masked_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """Headers with the API key masked (``key=****cdef``, ``Bearer ****cdef``), as journals and reports show them."""
    out = dict(headers)
    for name, value in headers.items():
        if name.lower() == "authorization" and isinstance(value, str):
            scheme, _, secret = value.partition("=") if value.startswith("key=") else value.partition(" ")
            out[name] = f"{scheme}{'=' if value.startswith('key=') else ' '}{mask(secret)}" if secret else mask(value)
    return out
