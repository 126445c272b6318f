"""Nonconformance of the implementation under test: the third error family (never a harness error)."""

from __future__ import annotations

from typing import Any

from conformance._exchange import Exchange

__all__ = ["Inconclusive", "Nonconformance"]


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
        journal: list[dict[str, Any]] | None = None,
    ) -> None:
        self.requirement, self.received, self.expected = requirement, received, expected
        self.exchange, self.note = exchange, note
        self.journal = journal  # the mock partner's entries of the messages that broke it, oldest first
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """``Received: …`` / ``Expected: …``, and the context when there is one."""
        text = f"Received: {self.received}\nExpected: {self.expected}"
        return text + (f"\n{self.note}" if self.note else "")

    def to_dict(self) -> dict[str, Any]:
        """The failure for report.json (the exchange's request, response and curl command; journaled messages)."""
        evidence = self.exchange.to_dict() if self.exchange else {"request": None, "response": None, "curl": None}
        found = {"message": self.message, "received": self.received, "expected": self.expected, **evidence}
        if self.journal:
            found["journal"] = [_journaled(entry) for entry in self.journal]
        return found


def _journaled(entry: dict[str, Any]) -> dict[str, Any]:
    """One message the IUT sent, as the mock partner journaled it: when, what, and how the mock answered."""
    fault = entry.get("fault")
    return {"id": entry.get("id"), "time": entry.get("time"), "call": entry.get("call"),
            "status": entry.get("status"), "injected": fault if isinstance(fault, dict) else None,
            "body": entry.get("request_body")}


class Inconclusive(Exception):
    """A check ran but could not decide: what the IUT did is allowed by one reading and not by another.

    ISO/IEC 9646's ``inconclusive`` verdict: e.g. nothing came within a window the spec does not
    give. It never fails a run; ``reason`` says what was observed and waited for.
    """

    def __init__(self, requirement: str | None, reason: str, *, journal: list[dict[str, Any]] | None = None) -> None:
        self.requirement, self.reason, self.journal = requirement, reason, journal
        super().__init__(reason)
