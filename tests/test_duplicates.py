"""Duplicates: mngs.db.delete_duplicates and db.delete_duplicates on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

import mngs.db


def _measurements(db):
    db.create_table(
        "measurements",
        {"id": "INTEGER PRIMARY KEY", "subject": "TEXT", "trial": "INTEGER", "value": "REAL"},
    )
    db.insert_many(
        "measurements",
        [
            {"subject": "a", "trial": 1, "value": 0.5},  # 1 kept
            {"subject": "a", "trial": 1, "value": 0.5},  # 2 duplicate of 1
            {"subject": "a", "trial": 1, "value": 0.7},  # 3 duplicate of 1 on (subject, trial)
            {"subject": "b", "trial": 1, "value": 0.5},  # 4 kept
            {"subject": None, "trial": None, "value": None},  # 5 kept
            {"subject": None, "trial": None, "value": None},  # 6 duplicate of 5 (NULLs equal)
            {"subject": None, "trial": 2, "value": None},  # 7 kept
            {"subject": "a", "trial": 1, "value": 0.5},  # 8 duplicate of 1
        ],
    )


def _ids(db, table="measurements"):
    return [r["id"] for r in db.select(table, columns=["id"], order_by="id")]


def test_module_function_keeps_the_first_row_of_each_group(db):
    """mngs.db.delete_duplicates(db, table, columns) keeps the lowest id of each group."""
    _measurements(db)
    deleted = mngs.db.delete_duplicates(db, "measurements", ["subject", "trial"])
    assert deleted == 4
    assert _ids(db) == [1, 4, 5, 7]


def test_all_columns_except_the_generated_id_by_default(db):
    """columns=None compares every column but the database-generated id; NULLs are equal."""
    _measurements(db)
    assert db.delete_duplicates("measurements") == 3
    assert _ids(db) == [1, 3, 4, 5, 7]


def test_a_single_column_name_is_accepted(db):
    """columns may be one column name."""
    _measurements(db)
    assert db.delete_duplicates("measurements", "subject") == 5
    assert _ids(db) == [1, 4, 5]


def test_dry_run_counts_without_deleting(db):
    """dry_run=True returns what would be deleted and changes nothing."""
    _measurements(db)
    before = db.select("measurements", order_by="id")
    assert db.delete_duplicates("measurements", ["subject", "trial"], dry_run=True) == 4
    assert db.select("measurements", order_by="id") == before
    assert db.delete_duplicates("measurements", ["subject", "trial"]) == 4
    assert db.delete_duplicates("measurements", ["subject", "trial"], dry_run=True) == 0
    assert db.delete_duplicates("measurements", ["subject", "trial"]) == 0


def test_unknown_column_is_a_clear_error_and_changes_nothing(db):
    """An unknown column raises ArgumentError naming it and the table; no row is deleted."""
    _measurements(db)
    with pytest.raises(mngs.db.ArgumentError, match=r"table 'measurements' has no column 'sujet'"):
        db.delete_duplicates("measurements", ["subject", "sujet"])
    with pytest.raises(mngs.db.ArgumentError, match="non-empty"):
        db.delete_duplicates("measurements", [])
    with pytest.raises(mngs.db.ProgrammingError, match="nosuch"):
        db.delete_duplicates("nosuch")
    assert db.count("measurements") == 8


def test_table_without_primary_key_keeps_the_first_inserted_row(db):
    """Without a primary key the first inserted row survives (rowid / ctid), even when a
    column is called RowID."""
    db.create_table("log", {"RowID": "TEXT", "msg": "TEXT", "n": "INTEGER"})
    db.insert_many(
        "log",
        [
            {"RowID": "first", "msg": "x", "n": 1},
            {"RowID": "second", "msg": "x", "n": 1},
            {"RowID": "third", "msg": "y", "n": None},
            {"RowID": "fourth", "msg": "y", "n": None},
            {"RowID": "fifth", "msg": "x", "n": 2},
        ],
    )
    assert db.delete_duplicates("log", ["msg", "n"]) == 2
    assert sorted(r["RowID"] for r in db.select("log")) == ["fifth", "first", "third"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_table_hiding_every_rowid_alias_is_refused(db):
    """SQLite: without a primary key and with columns named rowid, _rowid_ and oid, no row
    can be told apart, so delete_duplicates refuses with NotSupportedError."""
    db.create_table("t", {"rowid": "INTEGER", "_rowid_": "INTEGER", "oid": "INTEGER"})
    db.insert_many("t", [{"rowid": 1, "_rowid_": 1, "oid": 1}] * 2)
    with pytest.raises(mngs.db.NotSupportedError, match="row identity"):
        db.delete_duplicates("t")
    assert db.count("t") == 2


def test_composite_primary_key_keeps_the_lowest_key(db):
    """With a composite primary key the row with the lowest key is kept; all columns by
    default compare the whole row, so only exact copies could go (none here)."""
    db.create_table(
        "samples",
        {"site": "TEXT", "n": "INTEGER", "label": "TEXT"},
        primary_key=["site", "n"],
    )
    db.insert_many(
        "samples",
        [
            {"site": "b", "n": 1, "label": "L"},
            {"site": "a", "n": 2, "label": "L"},
            {"site": "a", "n": 1, "label": "L"},
            {"site": "a", "n": 3, "label": "M"},
        ],
    )
    assert db.delete_duplicates("samples") == 0
    assert db.delete_duplicates("samples", ["label"]) == 2
    assert db.select("samples", order_by=["site", "n"]) == [
        {"site": "a", "n": 1, "label": "L"},
        {"site": "a", "n": 3, "label": "M"},
    ]


def test_blobs_floats_and_odd_identifiers(db):
    """Duplicates in BLOB and REAL columns of a table with quotes and spaces in its names."""
    table = 'raw "data" v1'
    db.create_table(table, {"id": "INTEGER PRIMARY KEY", "bl ob": "BLOB", "x": "REAL"})
    db.insert_many(
        table,
        [
            {"bl ob": b"\x00\x01", "x": 1.5},
            {"bl ob": b"\x00\x01", "x": 1.5},
            {"bl ob": b"\x00\x02", "x": 1.5},
            {"bl ob": None, "x": 1.5},
            {"bl ob": None, "x": 1.5},
        ],
    )
    assert db.delete_duplicates(table, ["bl ob", "x"]) == 2
    assert _ids(db, table) == [1, 3, 4]


def test_json_values_are_compared(db):
    """dict values in a JSON column are compared too (PostgreSQL's json has no equality)."""
    db.create_table("docs", {"id": "INTEGER PRIMARY KEY", "doc": "JSON"})
    docs = [{"a": 1, "b": [1, 2]}, {"a": 1, "b": [1, 2]}, {"a": 2}, None, None]
    db.insert_many("docs", [{"doc": d} for d in docs])
    assert db.delete_duplicates("docs") == 2
    assert [r["doc"] for r in db.select("docs", order_by="id")] == [{"a": 1, "b": [1, 2]}, {"a": 2}, None]


def test_runs_inside_a_transaction_and_rolls_back_with_it(db):
    """Inside db.transaction() the deletion is undone when the block raises."""
    _measurements(db)
    with pytest.raises(RuntimeError):
        with db.transaction():
            assert db.delete_duplicates("measurements") == 3
            assert db.count("measurements") == 5
            raise RuntimeError("undo")
    assert db.count("measurements") == 8


def test_many_rows_in_one_statement(db):
    """200,000 rows in 500 groups are reduced to 500 rows by one set-based DELETE."""
    db.create_table("big", {"id": "INTEGER PRIMARY KEY", "k": "INTEGER", "tag": "TEXT"})
    db.insert_many("big", ({"k": i % 500, "tag": "even" if i % 2 == 0 else None} for i in range(200_000)))
    assert db.delete_duplicates("big", ["k", "tag"], dry_run=True) == 199_500
    assert db.delete_duplicates("big", ["k", "tag"]) == 199_500
    rows = db.select("big", order_by="id")
    assert [r["id"] for r in rows] == list(range(1, 501))
    assert db.delete_duplicates("big", ["k", "tag"]) == 0


@pytest.mark.parametrize("as_path", [str, Path, lambda p: f"sqlite:///{p}"], ids=["str", "Path", "url"])
def test_a_sqlite_file_path_or_url_is_opened_and_closed(tmp_path, as_path):
    """delete_duplicates accepts a SQLite file path (str or Path) or a URL instead of a handle."""
    path = tmp_path / "data.db"
    with mngs.db.SQLite3(path) as db:
        _measurements(db)
    assert mngs.db.delete_duplicates(as_path(path), "measurements", ["subject", "trial"]) == 4
    with mngs.db.SQLite3(path) as db:
        assert _ids(db) == [1, 4, 5, 7]


def test_a_missing_file_is_an_error_and_is_not_created(tmp_path):
    """A path that does not exist raises OperationalError and creates no file."""
    path = tmp_path / "missing.db"
    with pytest.raises(mngs.db.OperationalError, match="missing.db"):
        mngs.db.delete_duplicates(path, "t")
    assert not path.exists()
    with pytest.raises(mngs.db.ArgumentError, match="int"):
        mngs.db.delete_duplicates(42, "t")  # type: ignore[arg-type]
