"""What a handler sees of one exchange, and the app's store."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable
from typing import Any

from flask import current_app

from mock_server._store import Store


def store() -> Store:
    """The store of the current app."""
    found: Store = current_app.extensions["oioi_store"]
    return found


@dataclasses.dataclass
class Exchange:
    """One inbound request while it is answered."""

    raw: bytes
    headers: dict[str, str]
    call: str | None = None
    message: dict[str, Any] | None = None
    findings: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    fault: dict[str, Any] | None = None
    dropped: bool = False
    extra_headers: dict[str, str] = dataclasses.field(default_factory=dict)
    db: sqlite3.Connection | None = None
    after: list[Callable[[], None]] = dataclasses.field(default_factory=list)

    @property
    def tx(self) -> sqlite3.Connection:
        """The open write transaction of the handler."""
        assert self.db is not None, "handlers run inside Store.write()"
        return self.db

    def run_after(self) -> None:
        """Run what the handler left for after the answer is journaled (outbound pushes)."""
        for action in self.after:
            action()
