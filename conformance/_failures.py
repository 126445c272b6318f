"""Nonconformance of the implementation under test: the third error family (never a harness error)."""

from __future__ import annotations

from typing import Any

from conformance._exchange import Exchange

__all__ = ["Nonconformance"]


class Nonconformance(AssertionError):
    """The IUT broke ``requirement``: what was received, what the spec expects, and the exchange."""

    def __init__(
        self,
        *,
        requirement: str | None,
        received: str,
        expected: str,
        exchange: Exchange | None = None,
        note: str | None = None,
    ) -> None:
        self.requirement, self.received, self.expected = requirement, received, expected
        self.exchange, self.note = exchange, note
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """``Received: …`` / ``Expected: …``, and the context when there is one."""
        text = f"Received: {self.received}\nExpected: {self.expected}"
        return text + (f"\n{self.note}" if self.note else "")

    def to_dict(self) -> dict[str, Any]:
        """The failure for report.json (the exchange's request, response and curl command)."""
        evidence = self.exchange.to_dict() if self.exchange else {"request": None, "response": None, "curl": None}
        return {"message": self.message, "received": self.received, "expected": self.expected, **evidence}
