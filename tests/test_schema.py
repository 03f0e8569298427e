"""Tests for schema management: create/inspect/alter/drop tables and columns, on both backends."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

import mngs.db


def _people(db) -> None:
    db.create_table("people", {"id": "INTEGER PRIMARY KEY", "name": "TEXT NOT NULL", "age": "INTEGER"})


# -- create_table ------------------------------------------------------------------------------


def test_create_table_twice_is_fine_and_keeps_data(db):
    """create_table on an existing table is a no-op by default: no error, rows kept."""
    _people(db)
    db.insert("people", {"name": "Ann", "age": 30})
    _people(db)
    assert db.select("people") == [{"id": 1, "name": "Ann", "age": 30}]


def test_create_table_if_not_exists_false_on_existing_table_raises(db):
    """if_not_exists=False on an existing table raises ProgrammingError naming it; data kept."""
    _people(db)
    db.insert("people", {"name": "Ann"})
    with pytest.raises(mngs.db.ProgrammingError, match="people"):
        db.create_table("people", {"id": "INTEGER PRIMARY KEY"}, if_not_exists=False)
    assert db.count("people") == 1


def test_create_table_if_not_exists_false_creates_new_table(db):
    """if_not_exists=False still creates a table that does not exist yet."""
    db.create_table("fresh", {"x": "INTEGER"}, if_not_exists=False)
    assert db.table_exists("fresh")


def test_composite_primary_key(db):
    """primary_key= with several columns makes a composite key: duplicates of the pair fail."""
    db.create_table("grades", {"student": "TEXT", "course": "TEXT", "grade": "REAL"},
                    primary_key=["student", "course"])
    db.insert("grades", {"student": "a", "course": "math", "grade": 1.0})
    db.insert("grades", {"student": "a", "course": "art", "grade": 2.0})
    with pytest.raises(mngs.db.IntegrityError):
        db.insert("grades", {"student": "a", "course": "math", "grade": 3.0})
    assert [c["name"] for c in db.get_columns("grades") if c["primary_key"]] == ["student", "course"]
    assert db.count("grades") == 2


@pytest.mark.parametrize(
    "fk",
    [
        ("author_id", "authors", "id"),
        {"columns": ["author_id"], "table": "authors", "other_columns": ["id"], "on_delete": "CASCADE"},
    ],
    ids=["tuple", "dict"],
)
def test_foreign_key_is_enforced(db, fk):
    """foreign_keys= (tuple or dict form) rejects a row pointing at a missing parent."""
    db.create_table("authors", {"id": "INTEGER PRIMARY KEY", "name": "TEXT"})
    db.create_table("books", {"id": "INTEGER PRIMARY KEY", "author_id": "INTEGER"}, foreign_keys=[fk])
    db.insert("authors", {"id": 1, "name": "Ann"})
    db.insert("books", {"id": 10, "author_id": 1})
    with pytest.raises(mngs.db.IntegrityError):
        db.insert("books", {"id": 11, "author_id": 99})
    assert db.select("books") == [{"id": 10, "author_id": 1}]


def test_foreign_key_on_delete_cascade(db):
    """on_delete="CASCADE" deletes the children with their parent (SQLite has foreign_keys=ON)."""
    db.create_table("authors", {"id": "INTEGER PRIMARY KEY"})
    db.create_table(
        "books",
        {"id": "INTEGER PRIMARY KEY", "author_id": "INTEGER NOT NULL"},
        foreign_keys=[{"columns": "author_id", "table": "authors", "other_columns": "id",
                       "on_delete": "cascade"}],
    )
    db.insert_many("authors", [{"id": 1}, {"id": 2}])
    db.insert_many("books", [{"id": 10, "author_id": 1}, {"id": 11, "author_id": 1},
                             {"id": 12, "author_id": 2}])
    assert db.delete("authors", where={"id": 1}) == 1
    assert db.select("books") == [{"id": 12, "author_id": 2}]


def test_foreign_key_bad_action_is_argument_error(db):
    """An on_delete action that is not a referential action is refused before any SQL runs."""
    db.create_table("authors", {"id": "INTEGER PRIMARY KEY"})
    with pytest.raises(mngs.db.ArgumentError):
        db.create_table("books", {"author_id": "INTEGER"},
                        foreign_keys=[{"columns": "author_id", "table": "authors",
                                       "other_columns": "id", "on_delete": "CASCADE; DROP TABLE authors"}])
    assert db.list_tables() == ["authors"]


def test_table_constraints_unique_and_check_are_enforced(db):
    """constraints=["UNIQUE (a, b)", "CHECK (x > 0)"] are both enforced."""
    db.create_table("pairs", {"a": "INTEGER", "b": "INTEGER", "x": "INTEGER"},
                    constraints=["UNIQUE (a, b)", "CHECK (x > 0)"])
    db.insert("pairs", {"a": 1, "b": 2, "x": 1})
    with pytest.raises(mngs.db.IntegrityError):
        db.insert("pairs", {"a": 1, "b": 2, "x": 5})
    with pytest.raises(mngs.db.IntegrityError):
        db.insert("pairs", {"a": 3, "b": 4, "x": 0})
    assert db.select("pairs") == [{"a": 1, "b": 2, "x": 1}]


@pytest.mark.parametrize("sqltype", ["TEXT; DROP TABLE keep", "TEXT -- comment", "TEXT /* c */"])
def test_column_type_with_second_statement_is_refused(db, sqltype):
    """A column type containing ';' or a comment raises ArgumentError and creates nothing."""
    db.create_table("keep", {"x": "INTEGER"})
    with pytest.raises(mngs.db.ArgumentError):
        db.create_table("evil", {"x": sqltype})
    assert db.list_tables() == ["keep"]


def test_semicolon_inside_quoted_default_is_allowed(db):
    """A ';' inside a quoted string literal (a DEFAULT) is not mistaken for a second statement."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "sep": "TEXT DEFAULT ';'"})
    db.insert("t", {"id": 1})
    assert db.select("t") == [{"id": 1, "sep": ";"}]


def test_empty_columns_is_argument_error(db):
    """create_table with no columns raises ArgumentError."""
    with pytest.raises(mngs.db.ArgumentError):
        db.create_table("t", {})
    assert db.list_tables() == []


# -- types written for the other backend ----------------------------------------------------------


@pytest.mark.parametrize("id_type", ["INTEGER PRIMARY KEY AUTOINCREMENT", "SERIAL PRIMARY KEY"])
def test_auto_id_types_work_on_both_backends(db, id_type):
    """SQLite's AUTOINCREMENT and PostgreSQL's SERIAL both give auto ids 1, 2, 3 on either backend."""
    db.create_table("t", {"id": id_type, "name": "TEXT"})
    ids = [db.insert("t", {"name": n}) for n in "abc"]
    assert ids == [1, 2, 3]
    assert db.select("t", order_by="id") == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"},
                                              {"id": 3, "name": "c"}]


@pytest.mark.parametrize("blob_type", ["BYTEA", "BLOB"])
def test_binary_types_work_on_both_backends(db, blob_type):
    """BYTEA and BLOB columns both store bytes and give bytes back."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "data": blob_type})
    payload = bytes(range(256))
    db.insert("t", {"id": 1, "data": payload})
    value = db.select("t")[0]["data"]
    assert isinstance(value, bytes) and value == payload


def test_datetime_type_works_on_both_backends(db):
    """A DATETIME column (a SQLite spelling) stores and returns datetime on both backends."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "at": "DATETIME",
                          "made": "DATETIME DEFAULT CURRENT_TIMESTAMP"})
    when = dt.datetime(2025, 5, 30, 14, 3, 22, 123456)
    db.insert("t", {"id": 1, "at": when})
    row = db.select("t")[0]
    assert row["at"] == when
    assert isinstance(row["made"], dt.datetime)


def test_jsonb_type_returns_dicts_on_both_backends(db):
    """A JSONB column stores a dict and returns a dict on both backends."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "meta": "JSONB"})
    meta = {"model": "resnet50", "betas": [0.9, 0.999], "nested": {"ok": True, "none": None}}
    db.insert("t", {"id": 1, "meta": meta})
    assert db.select("t")[0]["meta"] == meta


# -- inspection ------------------------------------------------------------------------------


def test_list_tables_is_sorted(db):
    """list_tables returns every table's name, sorted."""
    for name in ["zeta", "alpha", "Mid"]:
        db.create_table(name, {"x": "INTEGER"})
    assert db.list_tables() == sorted(["zeta", "alpha", "Mid"])


@pytest.mark.postgresql
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_list_tables_on_postgresql_only_shows_current_schema(db, pg_dsn):
    """On PostgreSQL list_tables and table_exists ignore tables of other schemas."""
    import psycopg

    other = f"mngs_other_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {other}")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {other}.elsewhere (x int)")
    try:
        db.create_table("mine", {"x": "INTEGER"})
        assert db.list_tables() == ["mine"]
        assert not db.table_exists("elsewhere")
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {other} CASCADE")


def test_table_exists(db):
    """table_exists is True for an existing table and False otherwise."""
    _people(db)
    assert db.table_exists("people") is True
    assert db.table_exists("nobody") is False


def test_get_columns_exact_values(db, backend):
    """get_columns reports name, type, nullable, default and primary_key for each column."""
    db.create_table("known", {"id": "INTEGER PRIMARY KEY", "name": "TEXT NOT NULL",
                              "score": "REAL DEFAULT 0", "note": "VARCHAR(50)"})
    types, id_default = {
        "sqlite": (["INTEGER", "TEXT", "REAL", "VARCHAR(50)"], None),
        # INTEGER PRIMARY KEY keeps SQLite's meaning on PostgreSQL: an auto-assigned bigint.
        "postgresql": (["bigint", "text", "double precision", "character varying(50)"],
                       "nextval('known_id_seq'::regclass)"),
    }[backend]
    assert db.get_columns("known") == [
        {"name": "id", "type": types[0], "nullable": False, "default": id_default, "primary_key": True},
        {"name": "name", "type": types[1], "nullable": False, "default": None, "primary_key": False},
        {"name": "score", "type": types[2], "nullable": True, "default": "0", "primary_key": False},
        {"name": "note", "type": types[3], "nullable": True, "default": None, "primary_key": False},
    ]


def test_get_columns_of_missing_table_raises(db):
    """get_columns of a missing table raises ProgrammingError naming the table."""
    with pytest.raises(mngs.db.ProgrammingError, match="ghost"):
        db.get_columns("ghost")


# -- drop / alter ------------------------------------------------------------------------------


def test_drop_table_is_idempotent(db):
    """drop_table removes the table, and dropping it again is fine."""
    _people(db)
    db.drop_table("people")
    assert not db.table_exists("people")
    db.drop_table("people")
    assert db.list_tables() == []


def test_drop_table_if_exists_false_on_missing_raises(db):
    """drop_table(..., if_exists=False) on a missing table raises ProgrammingError."""
    with pytest.raises(mngs.db.ProgrammingError):
        db.drop_table("ghost", if_exists=False)


def test_add_column_with_default_fills_existing_rows(db):
    """add_column with a DEFAULT gives the existing rows that value."""
    _people(db)
    db.insert_many("people", [{"name": "Ann"}, {"name": "Bob"}])
    db.add_column("people", "score", "REAL DEFAULT 1.5")
    assert [r["score"] for r in db.select("people", order_by="id")] == [1.5, 1.5]
    db.insert("people", {"name": "Cid", "score": 3.0})
    assert db.select("people", columns=["name", "score"], where={"name": "Cid"}) == [
        {"name": "Cid", "score": 3.0}
    ]


def test_add_column_bad_type_is_argument_error(db):
    """add_column with a type holding a second statement is refused; the table is unchanged."""
    _people(db)
    with pytest.raises(mngs.db.ArgumentError):
        db.add_column("people", "x", "TEXT; DROP TABLE people")
    assert [c["name"] for c in db.get_columns("people")] == ["id", "name", "age"]


def test_drop_column_keeps_rows_and_other_columns(db):
    """drop_column removes only that column; every row and every other value stays."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "a": "TEXT NOT NULL", "b": "REAL", "c": "TEXT"})
    rows = [{"id": i, "a": f"a{i}", "b": i / 2, "c": f"c{i}"} for i in range(1, 51)]
    db.insert_many("t", rows)
    db.drop_column("t", "b")
    assert [c["name"] for c in db.get_columns("t")] == ["id", "a", "c"]
    assert db.select("t", order_by="id") == [{"id": r["id"], "a": r["a"], "c": r["c"]} for r in rows]


def test_drop_column_of_indexed_column(db):
    """Dropping an indexed column drops its index; indexes on other columns stay."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "a": "TEXT", "b": "TEXT"})
    db.insert_many("t", [{"id": 1, "a": "x", "b": "y"}, {"id": 2, "a": "z", "b": "w"}])
    db.create_index("t", ["a"])
    db.create_index("t", ["b"])
    db.drop_column("t", "a")
    names = [i["name"] for i in db.list_indexes("t") if not i["primary"]]
    assert names == ["idx_t_b"]
    assert db.select("t", order_by="id") == [{"id": 1, "b": "y"}, {"id": 2, "b": "w"}]


def test_drop_column_of_unique_column(db):
    """A column with a UNIQUE constraint can be dropped too (SQLite rebuilds the table)."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "code": "TEXT UNIQUE", "v": "INTEGER"})
    db.insert_many("t", [{"id": 1, "code": "a", "v": 1}, {"id": 2, "code": "b", "v": 2}])
    db.drop_column("t", "code")
    assert db.select("t", order_by="id") == [{"id": 1, "v": 1}, {"id": 2, "v": 2}]


def test_drop_missing_column_raises(db):
    """drop_column of a missing column raises ProgrammingError naming it; the table is unchanged."""
    _people(db)
    with pytest.raises(mngs.db.ProgrammingError, match="nope"):
        db.drop_column("people", "nope")
    assert [c["name"] for c in db.get_columns("people")] == ["id", "name", "age"]


def test_rename_table_keeps_data(db):
    """rename_table moves the table and its rows to the new name."""
    _people(db)
    db.insert("people", {"name": "Ann", "age": 3})
    db.rename_table("people", "persons")
    assert db.list_tables() == ["persons"]
    assert db.select("persons") == [{"id": 1, "name": "Ann", "age": 3}]


def test_ddl_invalidates_cached_primary_key(db):
    """After drop + recreate with a different primary key, insert returns the new key."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "code": "TEXT"})
    assert db.insert("t", {"id": 7, "code": "a"}) == 7
    db.drop_table("t")
    db.create_table("t", {"code": "TEXT PRIMARY KEY", "id": "INTEGER"})
    assert db.insert("t", {"id": 8, "code": "b"}) == "b"


def test_ddl_through_execute_invalidates_cached_primary_key(db):
    """DDL run through execute() also invalidates the cached primary key."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "code": "TEXT"})
    assert db.insert("t", {"id": 7, "code": "a"}) == 7
    db.execute('DROP TABLE "t"')
    db.execute('CREATE TABLE "t" ("code" TEXT PRIMARY KEY, "id" INTEGER)')
    assert db.insert("t", {"id": 8, "code": "b"}) == "b"
