"""State and journal of the mock partner, in SQLite.

One `Store` per app (``app.extensions["oioi_store"]``), one connection per thread for
reading; every write goes through one connection, ``Store.tx``, under ``Store.lock``. An
exchange's changes and its journal row are committed together before the HTTP answer
leaves, so an acknowledged exchange survives a SIGKILL of the server (WAL journal;
``synchronous=NORMAL`` is durable against a process crash). The journal never holds an API
key: `Store.record` masks the ``Authorization`` header of every row it writes. A row's
``peer`` names the partner that sent the request when a proxy journaled it (`oioi proxy`),
None for the mock's own rows; a journal made before the column existed gets it when opened
for writing, and reads as None.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import sqlite3
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any, Literal

import orjson

from oioi import Finding, masked_headers
from oioi.capture import journal_entry  # the one decoding of a journal row, shared with the readers of captures

SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    exchange TEXT NOT NULL CHECK (exchange IN ('inbound', 'outbound')),
    call TEXT,
    request_headers TEXT NOT NULL,
    request_body TEXT NOT NULL,
    status INTEGER,
    response_body TEXT,
    result_code INTEGER,
    findings TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    fault TEXT,
    peer TEXT
);
CREATE TABLE IF NOT EXISTS stations (
    id TEXT PRIMARY KEY, partner TEXT NOT NULL, body TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,
    changed TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS connectors (
    evse_id TEXT PRIMARY KEY, station_id TEXT NOT NULL, partner TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'Unknown', reservable INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY, connector_id TEXT NOT NULL, partner TEXT, identifier TEXT,
    state TEXT NOT NULL, body TEXT NOT NULL, updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rfids (uid TEXT PRIMARY KEY, evco_id TEXT, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS whitelist (partner TEXT NOT NULL, uid TEXT NOT NULL, PRIMARY KEY (partner, uid));
CREATE TABLE IF NOT EXISTS reservations (
    connector_id TEXT PRIMARY KEY, identifiers TEXT NOT NULL, rfids TEXT NOT NULL, end_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS violations (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, call TEXT, rule TEXT NOT NULL, message TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT, call TEXT, remaining INTEGER NOT NULL, spec TEXT NOT NULL
);
"""
STATE_TABLES = ("stations", "connectors", "sessions", "rfids", "whitelist", "reservations", "violations", "faults")


def now() -> str:
    """The current time as RFC 3339 (UTC, milliseconds)."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


class Store:
    """SQLite state and journal shared by the threads of one mock.

    ``with store.lock, store.tx:`` is one write transaction: ``tx`` opens ``BEGIN IMMEDIATE``
    before its first change, commits when the block ends and rolls back when it raises;
    ``store.tx.rollback()`` inside the block undoes the changes so far and the next change
    opens a new transaction. Both are C objects, so the request path pays no Python call for
    them; `write` is the same for callers off that path.
    """

    def __init__(self, path: str, *, create: bool = True) -> None:
        """Open (and with ``create``, set up) the store at ``path``; ``:memory:`` lives as long as it."""
        if path in ("", ":memory:"):
            # A named in-memory database shared by this process's threads; ``tx`` keeps it alive.
            self.uri = f"file:oioi-mock-{uuid.uuid4().hex}?mode=memory&cache=shared"
        else:
            self.uri = f"file:{urllib.parse.quote(path)}" + ("" if create else "?mode=ro")
        self._local = threading.local()
        self.lock = threading.Lock()  # one write transaction at a time in this process
        # Whether queued faults may remain (checked on every request, so kept in memory; ``_faults`` keeps it true).
        self.faults_pending = True
        # Every write goes through this one connection: one writing connection keeps its page
        # cache valid between transactions (a connection that another one wrote behind reloads pages).
        self.tx = self._connect(isolation_level="IMMEDIATE")
        if create:
            with self.lock:
                self.tx.executescript(SCHEMA)
                _add_peer_column(self.tx)
        else:
            self.tx.execute("SELECT 1 FROM journal LIMIT 1")

    def _connect(self, isolation_level: Literal["IMMEDIATE"] | None = None) -> sqlite3.Connection:
        db = sqlite3.connect(self.uri, uri=True, timeout=30, check_same_thread=False, isolation_level=isolation_level)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA busy_timeout = 30000")
        if "mode=" not in self.uri:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
        return db

    def db(self) -> sqlite3.Connection:
        """This thread's connection for reading (opened on first use)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """``with store.write() as db:`` is one write transaction: committed at the end, rolled back if it raises."""
        with self.lock, self.tx:
            yield self.tx

    def close(self) -> None:
        """Close this thread's connection and the writing one."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
        with self.lock:
            self.tx.close()

    # --- journal --------------------------------------------------------------------------------

    def record(self, db: sqlite3.Connection, entry: dict[str, Any]) -> int:
        """Add one exchange to the journal (inside the caller's transaction), its API key masked; returns its id.

        ``findings`` are `oioi.Finding` objects or their dicts; both are stored as the dicts; ``peer``
        (optional) is the partner that sent the request, when a proxy journals it.
        """
        cursor = db.execute(
            "INSERT INTO journal (time, exchange, call, request_headers, request_body, status, response_body,"
            " result_code, findings, latency_ms, fault, peer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.get("time") or now(),
                entry["exchange"],
                entry.get("call"),
                orjson.dumps(masked_headers(entry.get("request_headers", {}))).decode(),
                entry.get("request_body", ""),
                entry.get("status"),
                entry.get("response_body"),
                entry.get("result_code"),
                orjson.dumps(entry.get("findings", []), default=Finding.to_dict,
                             option=orjson.OPT_PASSTHROUGH_DATACLASS).decode(),
                entry.get("latency_ms", 0.0),
                orjson.dumps(entry["fault"]).decode() if entry.get("fault") else None,
                entry.get("peer"),
            ),
        )
        return int(cursor.lastrowid or 0)

    def journal(
        self,
        *,
        call: str | None = None,
        exchange: str | None = None,
        since: int | str | None = None,
        limit: int | None = None,
        latest: int | None = None,
    ) -> list[dict[str, Any]]:
        """Journal entries, oldest first; ``since`` is an entry id (exclusive) or an RFC 3339 time; ``latest``
        keeps only the last N of them (``limit`` the first N)."""
        query, args = "SELECT * FROM journal WHERE 1=1", list[Any]()
        if call:
            query += " AND call = ?"
            args.append(call)
        if exchange:
            query += " AND exchange = ?"
            args.append(exchange)
        if isinstance(since, int):
            query += " AND id > ?"
            args.append(since)
        elif since:
            query += " AND time > ?"
            args.append(since)
        if latest:
            query = f"SELECT * FROM ({query} ORDER BY id DESC LIMIT ?)"
            args.append(latest)
        query += " ORDER BY id"
        if limit:
            query += " LIMIT ?"
            args.append(limit)
        return [journal_entry(row) for row in self.db().execute(query, args)]

    def last_id(self) -> int:
        """The id of the newest journal entry, 0 for an empty journal (ids only grow: AUTOINCREMENT)."""
        return int(self.db().execute("SELECT COALESCE(MAX(id), 0) FROM journal").fetchone()[0])

    # --- state ----------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every state table as lists of rows (JSON columns decoded)."""
        db = self.db()
        return {
            table: [_decode(dict(row)) for row in db.execute(f"SELECT * FROM {table}")]
            for table in STATE_TABLES
        }

    def reset(self, *, journal: bool = True) -> None:
        """Empty the state (and the journal unless told otherwise)."""
        with self.write() as db:
            for table in STATE_TABLES + (("journal",) if journal else ()):
                db.execute(f"DELETE FROM {table}")

    def violation(self, db: sqlite3.Connection, call: str, rule: str, message: str) -> None:
        """Record a protocol violation by the partner that the answer alone does not show."""
        db.execute(
            "INSERT INTO violations (time, call, rule, message) VALUES (?, ?, ?, ?)", (now(), call, rule, message)
        )


_JSON_COLUMNS = {"request_headers", "findings", "fault", "body", "identifiers", "rfids", "spec"}


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON_COLUMNS & row.keys():
        if isinstance(row[key], str):
            row[key] = json.loads(row[key])
    return row


def _add_peer_column(db: sqlite3.Connection) -> None:
    """Give a journal made before the ``peer`` column existed that column (additive; old rows read as None)."""
    if not any(column[1] == "peer" for column in db.execute("PRAGMA table_info(journal)")):
        with contextlib.suppress(sqlite3.OperationalError):  # another process added it a moment ago
            db.execute("ALTER TABLE journal ADD COLUMN peer TEXT")
