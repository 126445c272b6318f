"""OIOI conformance suite."""

from __future__ import annotations
