"""The harness's own error family: misuse of the tool, never a verdict on an IUT."""

from __future__ import annotations

__all__ = ["ConfigError", "HarnessError", "InputError"]


class HarnessError(Exception):
    """Root of every error that means the harness could not do what it was asked."""


class ConfigError(HarnessError, ValueError):
    """An option, argument or setting is wrong; the message says how to fix it."""


class InputError(HarnessError, ValueError):
    """Input given to the harness (a file, a log line) cannot be read."""
