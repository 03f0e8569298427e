"""Concurrent writers and readers in separate processes: SQLite locking, PostgreSQL upserts,
serializable retries and row locks (issue 7, points 4 and 5)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import workers

import mngs.db


def _errors(results: list[dict[str, Any]]) -> list[str]:
    crashed = [r["crashed"] for r in results if "crashed" in r]
    return crashed + [e for r in results for e in r.get("errors", [])]


def _events_table(db: mngs.db.Database) -> None:
    db.create_table("events", {"id": "INTEGER PRIMARY KEY", "worker": "INTEGER", "seq": "INTEGER"})


def _counter_table(db: mngs.db.Database) -> None:
    db.create_table("counter", {"id": "INTEGER PRIMARY KEY", "n": "INTEGER NOT NULL"})
    db.insert("counter", {"id": 1, "n": 0})


# -- SQLite ------------------------------------------------------------------------------
def test_sqlite_defaults_to_wal(tmp_path: Path) -> None:
    """A file database opens in WAL mode by default (readers and the writer do not block each
    other), and a second handle on the file sees the same mode."""
    path = tmp_path / "wal.db"
    with mngs.db.SQLite3(path) as db:
        assert db.execute("PRAGMA journal_mode")[0]["journal_mode"] == "wal"
        db.create_table("t", {"id": "INTEGER PRIMARY KEY"})
        with mngs.db.SQLite3(path) as other:
            assert other.execute("PRAGMA journal_mode")[0]["journal_mode"] == "wal"


@pytest.mark.slow
def test_sqlite_8_writers_500_single_inserts_20_rounds(tmp_path: Path) -> None:
    """8 processes × 500 single ``insert`` calls into one file, default settings, 20 rounds.

    Figures checked: rows per round == 4,000 and errors == 0, in every one of the 20 rounds
    (80,000 inserts in all). Property: no writer ever fails with "database is locked".
    """
    per_round = []
    for round_no in range(20):
        path = tmp_path / f"round{round_no}.db"
        with mngs.db.SQLite3(path) as db:
            _events_table(db)
        results = workers.run_all(
            workers.single_inserts, [({"sqlite": str(path)}, w, 500) for w in range(8)], timeout=180
        )
        with mngs.db.SQLite3(path) as db:
            rows = db.count("events")
        per_round.append((rows, _errors(results)))
    bad = [(i, rows, len(errs)) for i, (rows, errs) in enumerate(per_round) if rows != 4000 or errs]
    first = next((errs[0] for _, errs in per_round if errs), None)
    assert not bad, (
        f"{len(bad)} of 20 rounds short of 4,000 rows or with errors, "
        f"{sum(len(e) for _, e in per_round)} errors in all; (round, rows, errors): {bad}; first: {first}"
    )


def test_sqlite_readers_never_fail_while_writers_write(tmp_path: Path) -> None:
    """4 writer processes × 300 single inserts while 4 reader processes count and select.

    Figures checked: 1,200 rows, writer errors == 0, reader errors == 0, every reader made
    reads, and no reader ever saw the row count go down. Property: readers are never refused.
    """
    path = str(tmp_path / "rw.db")
    with mngs.db.SQLite3(path) as db:
        _events_table(db)
    spec = {"sqlite": path}
    started = time.monotonic()
    results = workers.run_all(
        _writer_or_reader,
        [(spec, "w", w) for w in range(4)] + [(spec, "r", r) for r in range(4)],
        timeout=180,
    )
    assert time.monotonic() - started < 180
    writers, readers = results[:4], results[4:]
    with mngs.db.SQLite3(path) as db:
        assert db.count("events") == 1200
    assert _errors(writers) == []
    assert _errors(readers) == []
    assert all(r["reads"] > 0 for r in readers), readers
    assert sum(r["went_back"] for r in readers) == 0


def _writer_or_reader(spec: dict[str, Any], kind: str, n: int, ready: Any) -> dict[str, Any]:
    if kind == "w":
        return workers.single_inserts(spec, n, 300, ready)
    return workers.readers(spec, n, 6.0, ready)


@pytest.mark.slow
def test_sqlite_backup_of_a_big_file_while_writers_write(tmp_path: Path) -> None:
    """A ``.sql`` backup of a ~130 MB SQLite file (3 million rows: the dump takes longer than
    the 5 s busy timeout) while 4 processes insert single rows until the backup is done.

    Figures checked: the backup takes > 5 s and completes with >= 3,000,000 INSERT lines;
    writer errors == 0; rows == 3,000,000 + the inserts acknowledged. Property: a long
    backup never makes a writer fail.
    """
    path = str(tmp_path / "big.db")
    with mngs.db.SQLite3(path) as db:
        db.create_table(
            "events",
            {"id": "INTEGER PRIMARY KEY", "worker": "INTEGER", "seq": "INTEGER", "payload": "TEXT"},
        )
        pad = "x" * 20
        db.insert_many("events", ({"worker": -1, "seq": i, "payload": pad} for i in range(3_000_000)))
    assert Path(path).stat().st_size > 100_000_000
    dump = tmp_path / "big.sql"
    finished = workers.CONTEXT.Event()
    results = workers.run_all(
        _backup_or_writer,
        [({"sqlite": path}, "backup", str(dump), finished)]
        + [({"sqlite": path}, "w", w, finished) for w in range(4)],
        timeout=300,
    )
    backup, writers = results[0], results[1:]
    assert _errors([backup]) == []
    assert backup["seconds"] > 5, "the backup was shorter than the busy timeout: make the file bigger"
    writer_errors = _errors(writers)
    assert writer_errors == [], f"{len(writer_errors)} writer errors during the backup: {writer_errors[:2]}"
    acknowledged = sum(len(w["ok"]) for w in writers)
    assert all(len(w["ok"]) >= 20 for w in writers), [len(w["ok"]) for w in writers]
    with mngs.db.SQLite3(path) as db:
        assert db.count("events") == 3_000_000 + acknowledged
    with open(dump, encoding="utf-8") as text:
        inserts = sum(1 for line in text if line.startswith("INSERT"))
    assert inserts >= 3_000_000


def _backup_or_writer(spec: dict[str, Any], kind: str, arg: Any, finished: Any, ready: Any) -> dict[str, Any]:
    if kind == "w":
        return workers.inserts_until(spec, arg, finished, ready)
    db = workers.open_handle(spec)
    ready.wait(120)
    time.sleep(0.2)  # the writers are under way
    began = time.monotonic()
    try:
        db.backup_database(arg)
        return {"seconds": time.monotonic() - began, "errors": []}
    except Exception as exc:
        return {"seconds": time.monotonic() - began, "errors": [f"{type(exc).__name__}: {exc}"]}
    finally:
        finished.set()
        db.close()


# -- both backends -----------------------------------------------------------------------
def test_run_transaction_returns_the_result_and_commits(db: mngs.db.Database) -> None:
    """``run_transaction(fn)`` calls ``fn(db)`` once in a transaction, commits, returns its result."""
    _counter_table(db)
    calls = []

    def work(handle: mngs.db.Database) -> str:
        calls.append(handle.in_transaction)
        handle.update("counter", {"n": 5}, where={"id": 1})
        return "done"

    assert db.run_transaction(work) == "done"
    assert calls == [True]
    assert not db.in_transaction
    assert db.select("counter") == [{"id": 1, "n": 5}]


def test_run_transaction_does_not_rerun_other_errors(db: mngs.db.Database) -> None:
    """An error that is not a serialization failure or deadlock propagates at once: fn ran
    once, and nothing of it was committed."""
    _counter_table(db)
    calls = []

    def work(handle: mngs.db.Database) -> None:
        calls.append(1)
        handle.update("counter", {"n": 99}, where={"id": 1})
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        db.run_transaction(work)
    assert calls == [1]
    assert db.select("counter") == [{"id": 1, "n": 0}]


def test_transaction_refuses_an_unknown_isolation_level(db: mngs.db.Database) -> None:
    """``isolation=`` takes "read committed", "repeatable read" or "serializable"; anything else
    is an ArgumentError naming it, and no transaction is left open."""
    with pytest.raises(mngs.db.ArgumentError, match="chaos"):
        with db.transaction(isolation="chaos"):
            pass
    assert not db.in_transaction
    with pytest.raises(mngs.db.ArgumentError, match="chaos"):
        db.run_transaction(lambda handle: None, isolation="chaos")


def test_for_update_read_modify_write_loses_no_update(
    db: mngs.db.Database, worker_spec: dict[str, Any]
) -> None:
    """Workers (16 on PostgreSQL, 8 on SQLite) × 50 increments, each ``with db.transaction():``
    + ``select(..., for_update=True)`` + ``update`` at the default isolation.

    Figures checked: counter == workers × 50 exactly (800 / 400), errors == 0. Property: no
    update is lost (on SQLite the transaction already holds the write lock; for_update is a
    documented no-op there).
    """
    _counter_table(db)
    n = 16 if db.backend == "postgresql" else 8
    results = workers.run_all(workers.for_update_increments, [(worker_spec, w, 50) for w in range(n)], 300)
    assert _errors(results) == []
    assert db.select("counter") == [{"id": 1, "n": n * 50}]


def test_run_transaction_increments_are_exact(db: mngs.db.Database, worker_spec: dict[str, Any]) -> None:
    """Workers × 50 read-modify-write increments through ``run_transaction``: 16 workers with
    ``isolation="serializable"`` on PostgreSQL, 8 workers at the default on SQLite.

    Figures checked: counter == 800 (PostgreSQL) / 400 (SQLite) exactly; errors reaching the
    workers == 0. Property: serialization failures are rerun, never lost or applied twice.
    """
    _counter_table(db)
    pg = db.backend == "postgresql"
    n, isolation = (16, "serializable") if pg else (8, None)
    results = workers.run_all(
        workers.run_transaction_increments, [(worker_spec, w, 50, isolation) for w in range(n)], 300
    )
    assert _errors(results) == []
    assert sum(r["done"] for r in results) == n * 50
    assert db.select("counter") == [{"id": 1, "n": n * 50}]


# -- PostgreSQL ------------------------------------------------------------------------------
@pytest.mark.postgresql
def test_concurrent_upserts_over_the_same_keys_never_deadlock(
    pg_db: mngs.db.Database, worker_spec: dict[str, Any]
) -> None:
    """16 processes × 3 ``insert_many(on_conflict="update")`` calls over the same 100 keys, each
    in its own shuffled key order.

    Figures checked: errors == 0 (no 40P01 deadlock), 100 rows, each written by one of the
    16 workers, every worker done within 60 s. Property: upserts take row locks in one order.
    """
    pg_db.create_table("items", {"id": "INTEGER PRIMARY KEY", "writer": "INTEGER", "round": "INTEGER"})
    results = workers.run_all(workers.upserts, [(worker_spec, w, 100, 3) for w in range(16)], timeout=180)
    assert _errors(results) == [], f"{len(_errors(results))} of 48 upserts failed"
    rows = pg_db.select("items", order_by="id")
    assert [r["id"] for r in rows] == list(range(100))
    assert {r["writer"] for r in rows} <= set(range(16))
    assert max(r["seconds"] for r in results) < 60


@pytest.mark.postgresql
@pytest.mark.parametrize("isolation", ["read committed", "repeatable read", "serializable"])
def test_transaction_isolation_levels(pg_db: mngs.db.Database, isolation: str) -> None:
    """``transaction(isolation=...)`` runs the block at that level, and the level ends with it."""
    with pg_db.transaction(isolation=isolation):
        level = pg_db.execute("SHOW transaction_isolation")[0]["transaction_isolation"]
    assert level == isolation
    after = pg_db.execute("SHOW transaction_isolation")[0]["transaction_isolation"]
    assert after == "read committed"


@pytest.mark.postgresql
def test_run_transaction_gives_up_with_transaction_conflict(pg_db: mngs.db.Database, pg_dsn: str) -> None:
    """Every attempt is made to fail with a real serialization failure (40001: another
    connection updates the row between fn's read and its write), ``attempts=3``.

    Figures checked: fn ran 3 times, then TransactionConflict (an OperationalError) was
    raised; only the 3 outside updates were committed, none of fn's. Property: the helper
    reruns the whole function and stops when attempts run out.
    """
    import psycopg

    _counter_table(pg_db)
    schema = pg_db.execute("SELECT current_schema() AS s")[0]["s"]
    calls = []
    with psycopg.connect(pg_dsn, autocommit=True, options=f"-c search_path={schema}") as other:

        def work(handle: mngs.db.Database) -> None:
            calls.append(1)
            row = handle.select("counter", where={"id": 1})[0]  # takes the snapshot
            other.execute("UPDATE counter SET n = n + 1 WHERE id = 1")
            handle.update("counter", {"n": row["n"] + 100}, where={"id": 1})

        with pytest.raises(mngs.db.TransactionConflict) as caught:
            pg_db.run_transaction(work, isolation="serializable", attempts=3)
    assert isinstance(caught.value, mngs.db.OperationalError)
    assert len(calls) == 3
    assert not pg_db.in_transaction
    assert pg_db.select("counter") == [{"id": 1, "n": 3}]


@pytest.mark.postgresql
def test_for_update_locks_the_selected_rows(pg_db: mngs.db.Database, make_db: Any) -> None:
    """While one handle holds ``select(..., for_update=True)`` in a transaction, another
    handle's ``FOR UPDATE NOWAIT`` on the same row fails (55P03) and on another row succeeds."""
    pg_db.create_table("counter", {"id": "INTEGER PRIMARY KEY", "n": "INTEGER NOT NULL"})
    pg_db.insert_many("counter", [{"id": 1, "n": 0}, {"id": 2, "n": 0}])
    other = make_db()
    with pg_db.transaction():
        assert pg_db.select("counter", where={"id": 1}, for_update=True) == [{"id": 1, "n": 0}]
        with pytest.raises(mngs.db.OperationalError):
            other.execute("SELECT * FROM counter WHERE id = 1 FOR UPDATE NOWAIT")
        assert other.execute("SELECT n FROM counter WHERE id = 2 FOR UPDATE NOWAIT") == [{"n": 0}]
