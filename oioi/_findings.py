"""What the validator reports: one `Finding` per broken rule."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    """One broken rule in one message.

    ``path`` is a JSON pointer into the message (for a missing field, the pointer the
    field would have); ``rule`` is a stable id such as ``schema/pattern`` or
    ``semantic/session-interval-ordered``; ``message`` has two labelled lines,
    ``Received: …`` and ``Expected: …``; ``spec`` names the spec file of the rule;
    ``erratum`` names the registered spec erratum the finding matches, if any.
    """

    severity: Severity
    path: str
    rule: str
    message: str
    spec: str
    erratum: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The finding as plain JSON data (``erratum`` only when there is one)."""
        data = {
            "severity": self.severity,
            "path": self.path,
            "rule": self.rule,
            "message": self.message,
            "spec": self.spec,
        }
        if self.erratum is not None:
            data["erratum"] = self.erratum
        return data

    def __str__(self) -> str:
        where = self.path or "/"
        tag = f" [erratum {self.erratum}]" if self.erratum else ""
        return f"{self.severity}: {where} ({self.rule}){tag}\n{self.message}"


def message_text(received: str, expected: str, advice: str | None = None) -> str:
    """The house form of a finding's text: ``Received: …`` / ``Expected: …`` lines."""
    text = f"Received: {received}\nExpected: {expected}"
    return f"{text}\n{advice}" if advice else text


def pointer(parts: tuple[str | int, ...] | list[str | int]) -> str:
    """A JSON pointer (RFC 6901) from path segments."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
