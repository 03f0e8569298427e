"""Tests for the transaction policy: blocks, savepoints, manual control, visibility, recovery."""

from __future__ import annotations

import pytest

import mngs.db


class Boom(Exception):
    """Raised by tests to abort a transaction block."""


@pytest.fixture
def t(db):
    """A table `t(id INTEGER PRIMARY KEY, v TEXT UNIQUE NOT NULL)`; returns the handle."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "v": "TEXT UNIQUE NOT NULL"})
    return db


def _values(db) -> list[str]:
    return [r["v"] for r in db.select("t", order_by="id")]


# -- with db.transaction() -----------------------------------------------------------------------


def test_transaction_block_commits(t, make_db):
    """Writes in a transaction block are committed when the block ends."""
    with t.transaction() as same:
        assert same is t and t.in_transaction
        t.insert("t", {"v": "a"})
        t.insert_many("t", [{"v": "b"}, {"v": "c"}])
        t.update("t", {"v": "A"}, where={"v": "a"})
    assert not t.in_transaction
    assert _values(make_db()) == ["A", "b", "c"]


def test_transaction_block_rolls_back_everything_and_reraises(t, make_db):
    """An exception in the block rolls back every write of it and propagates unchanged."""
    t.insert("t", {"v": "before"})
    error = Boom("stop")
    with pytest.raises(Boom) as info:
        with t.transaction():
            t.insert("t", {"v": "a"})
            t.update("t", {"v": "changed"}, where={"v": "before"})
            t.delete("t", where={"v": "a"})
            t.insert_many("t", [{"v": "x"}, {"v": "y"}])
            raise error
    assert info.value is error
    assert not t.in_transaction
    assert _values(t) == ["before"]
    assert _values(make_db()) == ["before"]


def test_transaction_block_rolls_back_on_base_exception(t):
    """Even a BaseException (like KeyboardInterrupt) leaving the block rolls it back."""
    with pytest.raises(KeyboardInterrupt):
        with t.transaction():
            t.insert("t", {"v": "a"})
            raise KeyboardInterrupt
    assert t.count("t") == 0 and not t.in_transaction


def test_transaction_rolls_back_ddl(t):
    """A table created in a rolled-back transaction does not exist afterwards."""
    with pytest.raises(Boom):
        with t.transaction():
            t.create_table("tmp_table", {"x": "INTEGER"})
            t.insert("tmp_table", {"x": 1})
            raise Boom
    assert not t.table_exists("tmp_table")


def test_nested_inner_failure_undoes_only_inner_block(t, make_db):
    """A failing inner block caught inside the outer one undoes only itself (a savepoint)."""
    with t.transaction():
        t.insert("t", {"v": "outer-1"})
        with pytest.raises(Boom):
            with t.transaction():
                t.insert("t", {"v": "inner"})
                raise Boom
        t.insert("t", {"v": "outer-2"})
    assert _values(make_db()) == ["outer-1", "outer-2"]


def test_nested_inner_sql_failure_undoes_only_inner_block(t):
    """An SQL error in an inner block caught outside it keeps the outer block's writes."""
    with t.transaction():
        t.insert("t", {"v": "a"})
        with pytest.raises(mngs.db.IntegrityError):
            with t.transaction():
                t.insert("t", {"v": "b"})
                t.insert("t", {"v": "a"})  # duplicate
        t.insert("t", {"v": "c"})
    assert _values(t) == ["a", "c"]


def test_nested_success_commits_only_with_outer_block(t, make_db):
    """A finished inner block is not visible elsewhere until the outer block commits."""
    other = make_db()
    with t.transaction():
        with t.transaction():
            t.insert("t", {"v": "inner"})
        assert other.count("t") == 0
    assert other.count("t") == 1


def test_outer_failure_undoes_committed_inner_block(t):
    """When the outer block fails, its finished inner blocks are rolled back too."""
    with pytest.raises(Boom):
        with t.transaction():
            with t.transaction():
                t.insert("t", {"v": "inner"})
            raise Boom
    assert t.count("t") == 0


def test_three_levels_of_nesting(t):
    """Savepoints nest to any depth; each failed level undoes only its own writes."""
    with t.transaction():
        t.insert("t", {"v": "1"})
        with t.transaction():
            t.insert("t", {"v": "2"})
            with pytest.raises(Boom):
                with t.transaction():
                    t.insert("t", {"v": "3"})
                    raise Boom
            t.insert("t", {"v": "2b"})
    assert _values(t) == ["1", "2", "2b"]


# -- manual control ------------------------------------------------------------------------------


def test_begin_commit(t, make_db):
    """begin_transaction() ... commit() makes the writes permanent."""
    other = make_db()
    t.begin_transaction()
    assert t.in_transaction
    t.insert("t", {"v": "a"})
    assert other.count("t") == 0
    t.commit()
    assert not t.in_transaction
    assert other.count("t") == 1


def test_begin_rollback(t):
    """begin_transaction() ... rollback() discards the writes."""
    t.insert("t", {"v": "kept"})
    t.begin_transaction()
    t.insert("t", {"v": "a"})
    t.delete("t", where={"v": "kept"})
    t.rollback()
    assert not t.in_transaction
    assert _values(t) == ["kept"]


def test_nested_begin_is_a_savepoint(t):
    """A second begin_transaction() opens a savepoint; rollback() undoes only back to it."""
    t.begin_transaction()
    t.insert("t", {"v": "a"})
    t.begin_transaction()
    t.insert("t", {"v": "b"})
    t.rollback()
    assert t.in_transaction
    t.commit()
    assert _values(t) == ["a"]


def test_commit_and_rollback_without_transaction_are_no_ops(t):
    """commit() and rollback() outside a transaction do nothing and raise nothing."""
    t.insert("t", {"v": "a"})
    t.commit()
    t.rollback()
    t.rollback()
    assert not t.in_transaction
    assert _values(t) == ["a"]


# -- visibility ------------------------------------------------------------------------------------


def test_each_call_outside_a_transaction_commits_at_once(t, make_db):
    """Outside a transaction each call is its own transaction: another handle sees it at once."""
    other = make_db()
    t.insert("t", {"v": "a"})
    assert other.count("t") == 1
    t.insert_many("t", [{"v": "b"}, {"v": "c"}])
    assert other.count("t") == 3
    t.update("t", {"v": "B"}, where={"v": "b"})
    assert other.count("t", where={"v": "B"}) == 1
    t.delete("t", where={"v": "c"})
    assert other.count("t") == 2
    t.execute("INSERT INTO t (v) VALUES (?)", ["d"])
    assert other.count("t") == 3
    assert not t.in_transaction


def test_writes_in_a_transaction_are_invisible_until_commit(t, make_db):
    """Another handle does not see a transaction's writes until it commits."""
    other = make_db()
    t.insert("t", {"v": "old"})
    with t.transaction():
        t.insert("t", {"v": "new"})
        t.update("t", {"v": "OLD"}, where={"v": "old"})
        assert _values(other) == ["old"]
        assert _values(t) == ["OLD", "new"]  # the handle sees its own writes
    assert _values(other) == ["OLD", "new"]


# -- errors and recovery -----------------------------------------------------------------------------


def test_handle_usable_after_error_outside_transaction(t):
    """After a failed statement outside a transaction the handle works normally."""
    with pytest.raises(mngs.db.ProgrammingError):
        t.execute("SELECT * FROM no_such_table")
    with pytest.raises(mngs.db.IntegrityError):
        t.insert("t", {"v": None})
    assert not t.in_transaction
    t.insert("t", {"v": "a"})
    assert _values(t) == ["a"]


def test_failed_statement_inside_transaction_does_not_abort_it(t, make_db):
    """A failed call caught inside a transaction undoes only itself; the transaction commits
    its other writes (on PostgreSQL too, where an error would abort the whole transaction)."""
    with t.transaction():
        t.insert("t", {"v": "a"})
        with pytest.raises(mngs.db.IntegrityError):
            t.insert("t", {"v": "a"})
        with pytest.raises(mngs.db.ProgrammingError):
            t.execute("SELECT * FROM no_such_table")
        with pytest.raises(mngs.db.ProgrammingError):
            t.select("no_such_table")
        with pytest.raises(mngs.db.IntegrityError):
            t.update("t", {"v": None}, where={"v": "a"})
        t.insert("t", {"v": "b"})
        assert t.in_transaction
    assert _values(make_db()) == ["a", "b"]


def test_failed_statement_in_manual_transaction_keeps_it_usable(t):
    """After a caught error inside begin_transaction(), commit() keeps the good writes."""
    t.begin_transaction()
    t.insert("t", {"v": "a"})
    with pytest.raises(mngs.db.IntegrityError):
        t.execute("INSERT INTO t (v) VALUES (?)", ["a"])
    t.insert("t", {"v": "b"})
    t.commit()
    assert _values(t) == ["a", "b"]


def test_failed_insert_many_in_transaction_keeps_earlier_writes(t, make_db):
    """A failed insert_many inside a transaction undoes only its own rows."""
    with t.transaction():
        t.insert("t", {"v": "a"})
        with pytest.raises(mngs.db.IntegrityError):
            t.insert_many("t", [{"v": "x"}, {"v": "y"}, {"v": "a"}])
        with pytest.raises(mngs.db.ArgumentError):
            t.insert_many("t", [{"v": "z"}, "not a dict"])
        t.insert("t", {"v": "b"})
    assert _values(make_db()) == ["a", "b"]


def test_failed_update_many_in_transaction_keeps_earlier_writes(t):
    """A failed update_many inside a transaction undoes only its own changes."""
    t.insert_many("t", [{"v": "a"}, {"v": "b"}])
    with t.transaction():
        t.update("t", {"v": "A"}, where={"v": "a"})
        with pytest.raises(mngs.db.IntegrityError):
            t.update_many("t", [{"id": 2, "v": "B"}, {"id": 1, "v": "B"}])
    assert _values(t) == ["A", "b"]


def test_error_raised_from_block_after_caught_sql_error_rolls_back(t):
    """A block that caught an SQL error and then raises still rolls back everything."""
    with pytest.raises(Boom):
        with t.transaction():
            t.insert("t", {"v": "a"})
            with pytest.raises(mngs.db.IntegrityError):
                t.insert("t", {"v": "a"})
            raise Boom
    assert t.count("t") == 0
    t.insert("t", {"v": "after"})
    assert _values(t) == ["after"]
