"""State and journal of the mock partner, in SQLite.

One `Store` per app (``app.extensions["oioi_store"]``), one connection per thread for
reading; every write goes through one connection under a lock. An exchange's changes and
its journal entry are committed before the HTTP answer leaves, so an acknowledged exchange
survives a SIGKILL of the server (WAL journal; ``synchronous=NORMAL`` is durable against a
process crash).

Exchanges are written with group commit (`Store.exchange`): those that arrive while one is
being written join its transaction, and the last of them commits for all. Under load this
saves a ``BEGIN``/``COMMIT`` pair per exchange, and with it the most expensive part of a
write in a threaded server: every SQLite call releases the GIL and hands it to another thread.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import sqlite3
import threading
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import orjson

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
    fault TEXT
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
T = TypeVar("T")
LATE_COMMIT_S = 1.0  # a member of a group commit commits the group itself when it has waited this long
MAX_GROUP = 64  # exchanges per group commit at most (gunicorn's threads bound it lower: each waits for its answer)
STATE_TABLES = ("stations", "connectors", "sessions", "rfids", "whitelist", "reservations", "violations", "faults")


def now() -> str:
    """The current time as RFC 3339 (UTC, milliseconds)."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


class Store:
    """SQLite state and journal shared by the threads (and processes) of one mock."""

    def __init__(self, path: str, *, create: bool = True) -> None:
        """Open (and with ``create``, set up) the store at ``path``; ``:memory:`` lives as long as it."""
        if path in ("", ":memory:"):
            # A named in-memory database shared by this process's threads; the anchor keeps it alive.
            self.uri = f"file:oioi-mock-{uuid.uuid4().hex}?mode=memory&cache=shared"
        else:
            self.uri = f"file:{urllib.parse.quote(path)}" + ("" if create else "?mode=ro")
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queued = 0  # exchanges waiting for the write lock: they will join the open group
        self._group: _Group | None = None  # the open transaction of a group commit
        self._mark = 0  # total_changes when the exchange being written began
        # Whether queued faults may remain (checked on every request, so kept in memory; ``_faults`` keeps it true).
        self.faults_pending = True
        # The anchor also does every write, under the lock: one writing connection keeps its page
        # cache valid between transactions (a connection that another one wrote behind reloads pages).
        self._anchor = self._connect()
        if create:
            with self._write_lock:
                self._anchor.executescript(SCHEMA)
        else:
            self._anchor.execute("SELECT 1 FROM journal LIMIT 1")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.uri, uri=True, timeout=30, check_same_thread=False, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA busy_timeout = 30000")
        if "mode=" not in self.uri:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
        return db

    def db(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    def write(self) -> _Transaction:
        """One write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``), serialised within the process.

        ``with store.write() as db:`` commits when the block ends and rolls back when it raises.
        A group commit still open is committed first.
        """
        return _Transaction(self)

    def exchange(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Write one exchange — ``work(db)`` applies it and journals it — and return once it is committed.

        Exchanges that are waiting for the write lock when ``work`` is done join the same
        transaction; the last one commits for the group and wakes the others. ``work`` may
        run again (the group's transaction was rolled back because another member had to
        undo changes, see `undo`), so it must leave nothing behind but its database changes.
        """
        solo = False
        while True:
            with self._queue_lock:
                self._queued += 1
            self._write_lock.acquire()
            with self._queue_lock:
                self._queued -= 1
            db = self._anchor
            try:
                group = self._group
                if solo and group is not None:  # alone: not in a transaction with others' changes
                    self._commit(group)
                    group = None
                if group is None:
                    db.execute("BEGIN IMMEDIATE")
                    group = self._group = _Group()
                self._mark = db.total_changes
                try:
                    result = work(db)
                except BaseException as failure:
                    self._abandon(group)
                    if isinstance(failure, _Redo):  # write it again in a transaction of its own
                        solo = True
                        continue
                    raise
                group.members += 1
                with self._queue_lock:
                    last = self._queued == 0
                if last or solo or group.members >= MAX_GROUP:
                    self._commit(group)
            finally:
                self._write_lock.release()
            if not group.done.wait(LATE_COMMIT_S):
                with self._write_lock:  # a safety net only: the last member commits the group
                    if self._group is group:
                        self._commit(group)
                group.done.wait()
            if group.error is not None:
                raise group.error
            if not group.redo:
                return result

    def undo(self, db: sqlite3.Connection) -> None:
        """Undo the changes of the exchange being written (its handler refused or failed); the transaction goes on.

        Nothing to do when it changed nothing (most refusals are decided before a write). When
        it is alone in its transaction, a rollback and a new transaction. When other exchanges
        of its group share the transaction, the group is rolled back and each member written
        again (the others in their own group, this one alone).
        """
        if db.total_changes == self._mark:
            return
        group = self._group
        if group is not None and group.members:
            raise _Redo
        db.execute("ROLLBACK")
        db.execute("BEGIN IMMEDIATE")
        self._mark = db.total_changes

    def _commit(self, group: _Group) -> None:
        """Commit the open group (under the write lock) and wake its members."""
        try:
            self._anchor.execute("COMMIT")
        except BaseException as error:  # e.g. the disk is full: every member fails, no transaction stays open
            if self._anchor.in_transaction:
                self._anchor.execute("ROLLBACK")
            group.error = error
        finally:
            self._group = None
            group.done.set()

    def _abandon(self, group: _Group) -> None:
        """Roll the open group back (under the write lock); its members write their exchanges again."""
        try:
            if self._anchor.in_transaction:
                self._anchor.execute("ROLLBACK")
        finally:
            group.redo = True
            self._group = None
            group.done.set()

    def close(self) -> None:
        """Close this thread's connection and the anchor (committing a group still open)."""
        with self._write_lock:
            if self._group is not None:
                self._commit(self._group)
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
        self._anchor.close()

    # --- journal --------------------------------------------------------------------------------

    def record(self, db: sqlite3.Connection, entry: dict[str, Any]) -> int:
        """Add one exchange to the journal (inside the caller's transaction); returns its id."""
        cursor = db.execute(
            "INSERT INTO journal (time, exchange, call, request_headers, request_body, status, response_body,"
            " result_code, findings, latency_ms, fault) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.get("time") or now(),
                entry["exchange"],
                entry.get("call"),
                orjson.dumps(entry.get("request_headers", {})).decode(),
                entry.get("request_body", ""),
                entry.get("status"),
                entry.get("response_body"),
                entry.get("result_code"),
                orjson.dumps(entry.get("findings", [])).decode(),
                entry.get("latency_ms", 0.0),
                orjson.dumps(entry["fault"]).decode() if entry.get("fault") else None,
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
    ) -> list[dict[str, Any]]:
        """Journal entries, oldest first; ``since`` is an entry id (exclusive) or an RFC 3339 time."""
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
        query += " ORDER BY id"
        if limit:
            query += " LIMIT ?"
            args.append(limit)
        return [_entry(row) for row in self.db().execute(query, args)]

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


class _Group:
    """One transaction shared by the exchanges of a group commit."""

    __slots__ = ("done", "error", "members", "redo")

    def __init__(self) -> None:
        self.done = threading.Event()  # set once committed or rolled back
        self.error: BaseException | None = None  # why the COMMIT failed
        self.redo = False  # rolled back: each member writes its exchange again
        self.members = 0


class _Redo(BaseException):
    """An exchange must undo changes it shares a transaction with; raised by `Store.undo`, handled by
    `Store.exchange`. A BaseException, so that a handler's ``except Exception`` does not swallow it."""


class _Transaction:
    """The context manager ``Store.write`` returns (a class, not a generator: it runs on every request)."""

    __slots__ = ("store",)

    def __init__(self, store: Store) -> None:
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        store = self.store
        store._write_lock.acquire()
        try:
            if store._group is not None:
                store._commit(store._group)
            store._anchor.execute("BEGIN IMMEDIATE")
        except BaseException:
            store._write_lock.release()
            raise
        return store._anchor

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> None:
        db = self.store._anchor
        try:
            if kind is None:
                try:
                    db.execute("COMMIT")
                except BaseException:  # e.g. the disk is full: leave no transaction open behind
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            else:
                db.execute("ROLLBACK")
        finally:
            self.store._write_lock.release()


_JSON_COLUMNS = {"request_headers", "findings", "fault", "body", "identifiers", "rfids", "spec"}


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON_COLUMNS & row.keys():
        if isinstance(row[key], str):
            row[key] = json.loads(row[key])
    return row


def _entry(row: sqlite3.Row) -> dict[str, Any]:
    entry = _decode(dict(row))
    for key in ("request_body", "response_body"):
        text = entry[key]
        with contextlib.suppress(ValueError):  # not JSON: kept as the text that was on the wire
            entry[key] = json.loads(text) if text else text
    return entry
