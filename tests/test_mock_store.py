"""The store's write transaction and journal rows, on a real SQLite file.

The endpoint writes an exchange as ``with store.lock, store.tx:`` (the handler's changes,
``store.tx.rollback()`` when it refuses, then the journal row); these check what a separate
connection finds committed.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from pathlib import Path

import pytest

from mock_server._store import Store
from oioi import Finding, mask


def committed(path: Path) -> list[str]:
    """The UIDs another connection sees (only committed rows)."""
    with sqlite3.connect(path) as db:
        return sorted(uid for (uid,) in db.execute("SELECT uid FROM rfids"))


def insert(db: sqlite3.Connection, uid: str) -> None:
    db.execute("INSERT INTO rfids (uid, evco_id, state) VALUES (?, NULL, 'active')", (uid,))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(str(tmp_path / "mock.sqlite3"))


def test_a_write_is_committed_when_its_block_ends_and_not_before(store: Store, tmp_path: Path) -> None:
    with store.lock, store.tx:
        insert(store.tx, "A")
        assert store.tx.in_transaction
        assert committed(tmp_path / "mock.sqlite3") == []
    assert not store.tx.in_transaction
    assert committed(tmp_path / "mock.sqlite3") == ["A"]


def test_a_write_that_raises_leaves_nothing(store: Store, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), store.write() as db:
        insert(db, "A")
        raise RuntimeError("a bug in the handler")
    assert not store.tx.in_transaction and not store.lock.locked()
    assert committed(tmp_path / "mock.sqlite3") == []


def test_a_rollback_inside_the_block_undoes_only_what_came_before_it(store: Store, tmp_path: Path) -> None:
    """A handler that changed something and then refused: its changes go, its journal row stays."""
    with store.lock, store.tx:
        insert(store.tx, "half-done")
        store.tx.rollback()
        insert(store.tx, "journal")
    assert committed(tmp_path / "mock.sqlite3") == ["journal"]


def test_a_rollback_that_has_nothing_to_undo_does_nothing(store: Store, tmp_path: Path) -> None:
    with store.lock, store.tx:
        store.tx.rollback()
        insert(store.tx, "journal")
    assert committed(tmp_path / "mock.sqlite3") == ["journal"]


def test_a_write_returns_only_after_its_changes_are_committed(store: Store, tmp_path: Path) -> None:
    seen: dict[str, list[str]] = {}

    def writer(uid: str) -> None:
        with store.write() as db:
            insert(db, uid)
        seen[uid] = committed(tmp_path / "mock.sqlite3")  # a second connection, right after the block

    threads = [threading.Thread(target=writer, args=(f"U{i:03d}",)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(seen) == 40
    assert all(uid in rows for uid, rows in seen.items())


def test_many_writers_mixing_refusals_and_failures_leave_exactly_their_own_rows(store: Store, tmp_path: Path) -> None:
    """Eight threads, 60 writes each: plain writes, refusals before and after a change, and
    failures, in a fixed pseudo-random mix. What is committed is exactly what each outcome
    should leave, each row once (``uid`` is a primary key: a row written twice would fail)."""
    expected: set[str] = set()
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def write(db: sqlite3.Connection, uid: str, kind: str) -> None:
        if kind == "refuse-early":
            db.rollback()
            insert(db, uid + "-journal")
        elif kind == "refuse-late":
            insert(db, uid + "-half")
            db.rollback()
            insert(db, uid + "-journal")
        else:
            insert(db, uid)
            if kind == "fail":
                raise RuntimeError(uid)

    def writer(thread: int) -> None:
        for n in range(60):
            uid, kind = f"T{thread}-{n:02d}", ("plain", "refuse-late", "refuse-early", "fail")[(thread * 7 + n * 3) % 4]
            try:
                with store.lock, store.tx:
                    write(store.tx, uid, kind)
            except RuntimeError:
                kind = "failed"
            with lock:
                outcomes[kind] += 1
                if kind != "failed":
                    expected.add(uid if kind == "plain" else uid + "-journal")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    assert outcomes == {"plain": 120, "refuse-late": 120, "refuse-early": 120, "failed": 120}
    assert committed(tmp_path / "mock.sqlite3") == sorted(expected)


def test_a_journal_row_masks_the_api_key_and_stores_findings_as_dicts(store: Store) -> None:
    finding = Finding("error", "/rfid-verify/rfid", "schema/pattern", "Received: 'x'\nExpected: a UID", "request.rst")
    with store.write() as db:
        store.record(db, {"exchange": "inbound", "call": "rfid-verify", "findings": [finding],
                          "request_headers": {"Authorization": "key=secret-key-1234", "X-Trace": "t"}})
        store.record(db, {"exchange": "outbound", "findings": [finding.to_dict()],
                          "request_headers": {"authorization": "Bearer token-5678"}})
    inbound, outbound = store.journal()
    assert inbound["request_headers"] == {"Authorization": f"key={mask('secret-key-1234')}", "X-Trace": "t"}
    assert outbound["request_headers"] == {"authorization": f"Bearer {mask('token-5678')}"}
    assert "secret-key-1234" not in str(inbound) and "token-5678" not in str(outbound)
    assert inbound["findings"] == outbound["findings"] == [finding.to_dict()]


def test_a_read_only_store_reads_the_journal_of_a_file(store: Store, tmp_path: Path) -> None:
    with store.write() as db:
        store.record(db, {"exchange": "inbound", "call": "rfid-verify"})
    reader = Store(str(tmp_path / "mock.sqlite3"), create=False)
    assert [e["call"] for e in reader.journal()] == ["rfid-verify"]
    with pytest.raises(sqlite3.OperationalError), reader.write() as db:
        insert(db, "A")
