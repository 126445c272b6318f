"""The state of a reference implementation: one SQLite database, one transaction at a time."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator

MEMORY = ":memory:"


class Database:
    """One SQLite connection shared by the server's threads; a lock serialises the transactions.

    A handler runs inside one transaction, so a check and the write it allows ("is the
    connector free?", then "start the session") can never interleave with another request.
    A file database uses the WAL journal; ``:memory:`` lives as long as this object.
    """

    def __init__(self, path: str, schema: str) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        if path != MEMORY:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
        with self._lock:
            self._db.executescript(schema)  # every statement is CREATE ... IF NOT EXISTS: restart-safe

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back when the block raises."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (the object is unusable afterwards)."""
        with self._lock:
            self._db.close()
