"""The executor's contract seen through the handle: schema cache, isolation, row locks,
rerunning conflicting transactions, and what ``closed`` means."""

from __future__ import annotations

import threading

import pytest

import mngs.db


def test_schema_cache_sees_a_column_another_handle_added(db, make_db):
    """A column added by another handle is found, not refused from a stale cache."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "a": "TEXT"})
    db.insert("t", {"a": "x"})
    assert db.select("t", columns=["a"]) == [{"a": "x"}]  # caches the column names
    other = make_db()
    other.add_column("t", "b", "TEXT")
    other.update("t", {"b": "y"}, all_rows=True)
    assert db.select("t", columns=["b"]) == [{"b": "y"}]
    with pytest.raises(mngs.db.ProgrammingError, match="no_such"):
        db.select("t", columns=["no_such"])


@pytest.mark.parametrize("level", ["read committed", "repeatable read", "serializable", "SERIALIZABLE"])
def test_transaction_accepts_each_isolation_level(db, level):
    """Each isolation level opens a working transaction (SQLite's are always serializable)."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "v": "INTEGER"})
    with db.transaction(isolation=level):
        db.insert("t", {"v": 1})
    assert db.count("t") == 1
    if db.backend == "postgresql":
        with db.transaction(isolation=level):
            shown = db.execute("SHOW transaction_isolation")[0]["transaction_isolation"]
        assert shown == level.lower()


def test_bad_isolation_and_nested_isolation_are_refused(db):
    """An unknown level, or a level on a nested block, is an ArgumentError; nothing changes."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY"})
    with pytest.raises(mngs.db.ArgumentError, match="isolation"):
        with db.transaction(isolation="chaos"):
            pass
    assert not db.in_transaction
    with db.transaction():
        with pytest.raises(mngs.db.ArgumentError, match="nested"):
            with db.transaction(isolation="serializable"):
                pass
        db.insert("t", {})
    assert db.count("t") == 1


def test_for_update_needs_a_transaction(db):
    """select(for_update=True) outside a transaction is an error naming the table."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY"})
    with pytest.raises(mngs.db.ArgumentError, match="'t'"):
        db.select("t", for_update=True)
    with db.transaction():
        assert db.select("t", for_update=True) == []


def test_for_update_makes_a_second_writer_wait(pg_db, make_db):
    """PostgreSQL: a row read FOR UPDATE stays locked until the transaction ends, so a
    read-modify-write in another handle waits and sees the committed value (2, not 1)."""
    pg_db.create_table("c", {"id": "INTEGER PRIMARY KEY", "n": "INTEGER"})
    pg_db.insert("c", {"id": 1, "n": 0})
    other = make_db()
    started = threading.Event()

    def bump_later() -> None:
        started.set()
        with other.transaction():
            row = other.select("c", where={"id": 1}, for_update=True)[0]
            other.update("c", {"n": row["n"] + 1}, where={"id": 1})

    with pg_db.transaction():
        row = pg_db.select("c", where={"id": 1}, for_update=True)[0]
        worker = threading.Thread(target=bump_later)
        worker.start()
        started.wait(5)
        worker.join(0.5)
        assert worker.is_alive()  # blocked on our row lock
        pg_db.update("c", {"n": row["n"] + 1}, where={"id": 1})
    worker.join(10)
    assert pg_db.select("c") == [{"id": 1, "n": 2}]


def test_run_transaction_reruns_a_conflict_and_returns_the_result(pg_db, make_db):
    """A serialization failure (40001) reruns the whole function: 2 calls, one commit."""
    pg_db.create_table("acct", {"id": "INTEGER PRIMARY KEY", "n": "INTEGER"})
    pg_db.insert("acct", {"id": 1, "n": 0})
    other = make_db()
    calls = []

    def bump(db):
        calls.append(1)
        n = db.select("acct", where={"id": 1})[0]["n"]
        if len(calls) == 1:  # a concurrent writer commits between our read and our write
            other.update("acct", {"n": 100}, where={"id": 1})
        db.update("acct", {"n": n + 1}, where={"id": 1})
        return n + 1

    assert pg_db.run_transaction(bump, isolation="serializable") == 101
    assert len(calls) == 2
    assert pg_db.select("acct") == [{"id": 1, "n": 101}]


def test_run_transaction_gives_up_with_transaction_conflict(pg_db, make_db):
    """After ``attempts`` conflicts it raises TransactionConflict; nothing of it committed."""
    pg_db.create_table("acct", {"id": "INTEGER PRIMARY KEY", "n": "INTEGER"})
    pg_db.insert("acct", {"id": 1, "n": 0})
    other = make_db()

    def always_conflicts(db):
        db.select("acct", where={"id": 1})
        other.update("acct", {"n": -1}, where={"id": 1})
        db.update("acct", {"n": 5}, where={"id": 1})

    with pytest.raises(mngs.db.TransactionConflict, match="3 attempts"):
        pg_db.run_transaction(always_conflicts, isolation="serializable", attempts=3)
    assert pg_db.select("acct") == [{"id": 1, "n": -1}]
    assert not pg_db.in_transaction


def test_run_transaction_refuses_inside_a_transaction_and_bad_attempts(db):
    """Only an outermost block can be rerun; attempts must be a positive int."""
    with db.transaction():
        with pytest.raises(mngs.db.ArgumentError, match="inside an open transaction"):
            db.run_transaction(lambda d: None)
    with pytest.raises(mngs.db.ArgumentError, match="attempts"):
        db.run_transaction(lambda d: None, attempts=0)
    assert db.run_transaction(lambda d: 42) == 42


def test_error_inside_run_transaction_is_not_rerun(db):
    """An ordinary error rolls the block back once and propagates (no rerun)."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "v": "INTEGER"})
    calls = []

    def fail(d):
        calls.append(1)
        d.insert("t", {"v": 1})
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        db.run_transaction(fail)
    assert calls == [1]
    assert db.count("t") == 0


def test_closed_means_closed_by_the_user(db):
    """``closed`` is False until close(); close() twice is fine; then ClosedError."""
    assert db.closed is False
    db.close()
    db.close()
    assert db.closed is True
    with pytest.raises(mngs.db.ClosedError):
        db.count("t")


def test_read_only_handle_refuses_writes(db, make_db):
    """A read_only=True handle reads, and refuses a write with ReadOnlyError; nothing changes."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "v": "INTEGER"})
    db.insert("t", {"v": 1})
    reader = make_db(read_only=True)
    assert reader.select("t") == [{"id": 1, "v": 1}]
    with pytest.raises(mngs.db.ReadOnlyError, match="read"):
        reader.insert("t", {"v": 2})
    with pytest.raises(mngs.db.ReadOnlyError):
        reader.delete("t", all_rows=True)
    assert "read-only" in repr(reader)
    assert db.count("t") == 1


def test_statement_timeout_cancels_a_long_statement(pg_db, make_db):
    """PostgreSQL: statement_timeout=0.2 cancels a 30 s sleep within a second, as an
    OperationalError; the handle works afterwards."""
    import time

    quick = make_db(statement_timeout=0.2)
    started = time.monotonic()
    with pytest.raises(mngs.db.OperationalError, match="timeout"):
        quick.execute("SELECT pg_sleep(30)")
    assert time.monotonic() - started < 5
    assert quick.execute("SELECT 1 AS one") == [{"one": 1}]


def test_execute_reports_column_names_even_without_rows(db):
    """``Rows.columns`` names the result's columns, also when nothing matched."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "name": "TEXT"})
    rows = db.execute("SELECT id, name FROM t WHERE id > ?", [5])
    assert rows == [] and rows.columns == ["id", "name"]
    assert db.execute("DELETE FROM t WHERE id = ?", [1]).columns == []


def test_sqlite_journal_mode_and_timeout_options(tmp_path):
    """SQLite: WAL by default, ``journal_mode="delete"`` for a network file system, None leaves
    the file as it is; a bad mode or timeout is an ArgumentError and creates no file."""
    with mngs.db.SQLite3(tmp_path / "wal.db") as db:
        assert db.execute("PRAGMA journal_mode") == [{"journal_mode": "wal"}]
    with mngs.db.SQLite3(tmp_path / "nfs.db", journal_mode="delete") as db:
        assert db.execute("PRAGMA journal_mode") == [{"journal_mode": "delete"}]
    with mngs.db.SQLite3(tmp_path / "wal.db", journal_mode=None) as db:
        assert db.execute("PRAGMA journal_mode") == [{"journal_mode": "wal"}]  # as the file was
    with pytest.raises(mngs.db.ArgumentError, match="journal_mode"):
        mngs.db.SQLite3(tmp_path / "bad.db", journal_mode="sometimes")
    with pytest.raises(mngs.db.ArgumentError, match="timeout"):
        mngs.db.SQLite3(tmp_path / "bad.db", timeout=-1)
    assert not (tmp_path / "bad.db").exists()


@pytest.mark.postgresql
def test_postgresql_option_values_are_checked(pg_dsn):
    """A bad ``prepare_threshold`` or ``statement_timeout`` is an ArgumentError naming it."""
    with pytest.raises(mngs.db.ArgumentError, match="prepare_threshold"):
        mngs.db.PostgreSQL(dsn=pg_dsn, prepare_threshold="sometimes")
    with pytest.raises(mngs.db.ArgumentError, match="statement_timeout"):
        mngs.db.PostgreSQL(dsn=pg_dsn, statement_timeout=0)
    with mngs.db.PostgreSQL(dsn=pg_dsn, prepare_threshold=None) as db:
        assert db.execute("SELECT 1 AS one") == [{"one": 1}]
