"""The store's group commit: exchanges written while another one is share its transaction.

These drive `Store.exchange` from threads on a real SQLite file. Each scenario holds the
first exchange inside its transaction until the others are waiting for the write lock, so
that they join its group, then checks what a separate connection finds committed.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from mock_server._store import Store

Work = Callable[[sqlite3.Connection], str]


def committed(path: Path) -> list[str]:
    """The UIDs another connection sees (only committed rows)."""
    with sqlite3.connect(path) as db:
        return sorted(uid for (uid,) in db.execute("SELECT uid FROM rfids"))


def insert(db: sqlite3.Connection, uid: str) -> None:
    db.execute("INSERT INTO rfids (uid, evco_id, state) VALUES (?, NULL, 'active')", (uid,))


def counted(runs: Counter[str], uid: str) -> Work:
    """A write that inserts ``uid`` and counts how often it ran (a group written again runs it again)."""
    def write(db: sqlite3.Connection) -> str:
        runs[uid] += 1
        insert(db, uid)
        return uid
    return write


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.001)


def run_group(store: Store, first: Work, others: list[Work]) -> tuple[dict[int, str], dict[int, BaseException]]:
    """Write ``first``, and ``others`` from threads that queue while ``first`` is in its transaction."""
    inside, go = threading.Event(), threading.Event()
    results: dict[int, str] = {}
    errors: dict[int, BaseException] = {}

    def held(db: sqlite3.Connection) -> str:
        answer = first(db)
        inside.set()
        assert go.wait(10)
        return answer

    def writer(index: int, work: Work) -> None:
        try:
            results[index] = store.exchange(work)
        except BaseException as error:  # the test looks at what each writer got
            errors[index] = error

    threads = [threading.Thread(target=writer, args=(0, held))]
    threads[0].start()
    assert inside.wait(10)
    for index, work in enumerate(others, start=1):
        threads.append(threading.Thread(target=writer, args=(index, work)))
        threads[-1].start()
    wait_until(lambda: store._queued == len(others), "the other exchanges wait for the write lock")
    go.set()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()
    return results, errors


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(str(tmp_path / "mock.sqlite3"))


def test_exchanges_that_wait_join_one_transaction(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: Counter[str] = Counter()
    commits: list[int] = []
    commit = store._commit
    monkeypatch.setattr(store, "_commit", lambda group: commits.append(group.members) or commit(group))

    results, errors = run_group(store, counted(runs, "A"), [counted(runs, "B"), counted(runs, "C")])
    assert errors == {}
    assert sorted(results.values()) == ["A", "B", "C"]
    assert commits == [3], "one COMMIT for the three"
    assert committed(tmp_path / "mock.sqlite3") == ["A", "B", "C"]
    assert runs == {"A": 1, "B": 1, "C": 1}, "no exchange was written twice"


def test_an_exchange_returns_only_after_its_changes_are_committed(store: Store, tmp_path: Path) -> None:
    seen: dict[str, list[str]] = {}

    def writer(uid: str) -> None:
        store.exchange(lambda db: insert(db, uid) or uid)
        seen[uid] = committed(tmp_path / "mock.sqlite3")  # a second connection, right after the return

    threads = [threading.Thread(target=writer, args=(f"U{i:03d}",)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(seen) == 40
    assert all(uid in rows for uid, rows in seen.items())


def test_undoing_inside_a_group_undoes_only_that_exchange(store: Store, tmp_path: Path) -> None:
    """A refused handler that had written something: its changes go, the others' stay."""
    runs: Counter[str] = Counter()

    def refused(db: sqlite3.Connection) -> str:
        runs["B"] += 1
        insert(db, "B-half-done")
        store.undo(db)  # as the endpoint does when a handler raises a result code
        insert(db, "B-journal")  # the refusal is still journaled
        return "B"

    results, errors = run_group(store, counted(runs, "A"), [refused, counted(runs, "C")])
    assert errors == {}
    assert sorted(results.values()) == ["A", "B", "C"]
    assert committed(tmp_path / "mock.sqlite3") == ["A", "B-journal", "C"]
    assert runs["B"] == 2, "the refused exchange was written again, alone"


def test_a_refusal_that_changed_nothing_keeps_its_group(store: Store, tmp_path: Path) -> None:
    runs: Counter[str] = Counter()

    def first(db: sqlite3.Connection) -> str:
        runs["A"] += 1
        insert(db, "A")
        return "A"

    def refused(db: sqlite3.Connection) -> str:
        runs["B"] += 1
        store.undo(db)
        insert(db, "B-journal")
        return "B"

    results, errors = run_group(store, first, [refused])
    assert (errors, sorted(results.values())) == ({}, ["A", "B"])
    assert committed(tmp_path / "mock.sqlite3") == ["A", "B-journal"]
    assert runs == {"A": 1, "B": 1}


def test_a_failing_write_fails_alone_and_the_rest_of_its_group_is_written(store: Store, tmp_path: Path) -> None:
    runs: Counter[str] = Counter()

    def broken(db: sqlite3.Connection) -> str:
        insert(db, "B")
        raise RuntimeError("disk trouble")

    results, errors = run_group(store, counted(runs, "A"), [broken, counted(runs, "C")])
    assert sorted(results.values()) == ["A", "C"]
    assert [type(error) for error in errors.values()] == [RuntimeError]
    assert committed(tmp_path / "mock.sqlite3") == ["A", "C"]


def test_a_plain_write_commits_the_open_group_first(store: Store, tmp_path: Path) -> None:
    """Admin and outbound writes (``Store.write``) never end up inside an exchange's group."""
    with store._write_lock:
        store._anchor.execute("BEGIN IMMEDIATE")
        from mock_server._store import _Group

        group = store._group = _Group()
        insert(store._anchor, "A")
        group.members = 1
    with store.write() as db:
        insert(db, "W")
    assert group.done.is_set() and group.error is None and not group.redo
    assert committed(tmp_path / "mock.sqlite3") == ["A", "W"]


def test_many_writers_mixing_refusals_and_failures_leave_exactly_their_own_rows(store: Store, tmp_path: Path) -> None:
    """Eight threads, 60 exchanges each: plain writes, refusals before and after a change, and
    failures, in a fixed pseudo-random mix. What is committed is exactly what each outcome
    should leave, each row once (``uid`` is a primary key: a write committed twice would fail)."""
    expected: set[str] = set()
    outcomes: Counter[str] = Counter()
    failures: list[BaseException] = []
    lock = threading.Lock()

    def writer(thread: int) -> None:
        for n in range(60):
            uid, kind = f"T{thread}-{n:02d}", ("plain", "refuse-late", "refuse-early", "fail")[(thread * 7 + n * 3) % 4]

            def write(db: sqlite3.Connection, uid: str = uid, kind: str = kind) -> str:
                if kind == "refuse-early":
                    store.undo(db)
                    insert(db, uid + "-journal")
                elif kind == "refuse-late":
                    insert(db, uid + "-half")
                    store.undo(db)
                    insert(db, uid + "-journal")
                else:
                    insert(db, uid)
                    if kind == "fail":
                        raise RuntimeError(uid)
                return kind

            try:
                got = store.exchange(write)
            except RuntimeError as error:
                with lock:
                    failures.append(error)
                continue
            with lock:
                outcomes[got] += 1
                expected.add(uid if kind == "plain" else uid + "-journal")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    assert outcomes == {"plain": 120, "refuse-late": 120, "refuse-early": 120}
    assert len(failures) == 120 and all(isinstance(f, RuntimeError) for f in failures)
    assert committed(tmp_path / "mock.sqlite3") == sorted(expected)


def test_a_member_whose_group_is_left_open_commits_it_itself(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The safety net: a writer counted as waiting that never comes (a phantom here) does not
    leave the group uncommitted; its member commits it after LATE_COMMIT_S."""
    monkeypatch.setattr("mock_server._store.LATE_COMMIT_S", 0.05)
    store._queued = 1  # someone seems to be waiting to join
    began = time.monotonic()
    assert store.exchange(lambda db: insert(db, "A") or "A") == "A"
    assert 0.05 <= time.monotonic() - began < 5
    assert committed(tmp_path / "mock.sqlite3") == ["A"]
