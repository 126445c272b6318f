"""Secrets stay secret: the one way an API key or token is shown in a log, journal or report."""

from __future__ import annotations

__all__ = ["MASK_KEEP", "mask"]

MASK_KEEP = 4  # characters of a secret left readable at its end, so that a person can tell two keys apart


def mask(secret: str) -> str:
    """``secret`` with all but its last four characters replaced by ``*`` (all of it when it is that short)."""
    keep = MASK_KEEP if len(secret) > MASK_KEEP else 0
    return "*" * (len(secret) - keep) + secret[len(secret) - keep :]
