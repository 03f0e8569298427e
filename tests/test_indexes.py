"""Tests for index management: create_index, drop_index and list_indexes, on both backends."""

from __future__ import annotations

import pytest

import mngs.db


@pytest.fixture
def users(db):
    """The handle with a ``users`` table of three rows."""
    db.create_table("users", {"id": "INTEGER PRIMARY KEY", "username": "TEXT", "email": "TEXT",
                              "score": "REAL"})
    db.insert_many("users", [
        {"id": 1, "username": "ann", "email": "ann@example.com", "score": 1.0},
        {"id": 2, "username": "bob", "email": "bob@example.com", "score": 2.0},
        {"id": 3, "username": "cid", "email": "cid@example.com", "score": 2.0},
    ])
    return db


def _secondary(db, table):
    """The indexes of ``table`` other than the one backing its primary key."""
    return [i for i in db.list_indexes(table) if not i["primary"]]


def test_create_index_default_name_is_returned(users):
    """create_index names a one-column index idx_<table>_<col> and returns that name."""
    assert users.create_index("users", ["email"]) == "idx_users_email"
    assert _secondary(users, "users") == [
        {"name": "idx_users_email", "columns": ["email"], "unique": False, "primary": False}
    ]


def test_create_index_accepts_a_single_column_string(users):
    """A column given as a plain string works like a one-item list."""
    assert users.create_index("users", "email") == "idx_users_email"
    assert [i["columns"] for i in _secondary(users, "users")] == [["email"]]


def test_composite_index_keeps_column_order(users):
    """A composite index is named idx_<table>_<col>_<col> and lists its columns in order."""
    name = users.create_index("users", ["score", "username"])
    assert name == "idx_users_score_username"
    assert _secondary(users, "users") == [
        {"name": name, "columns": ["score", "username"], "unique": False, "primary": False}
    ]


def test_unique_index_is_enforced(users):
    """unique=True rejects a duplicate with IntegrityError and reports unique=True."""
    name = users.create_index("users", ["username"], unique=True)
    with pytest.raises(mngs.db.IntegrityError):
        users.insert("users", {"id": 4, "username": "ann"})
    assert users.count("users") == 3
    assert _secondary(users, "users") == [
        {"name": name, "columns": ["username"], "unique": True, "primary": False}
    ]


def test_unique_index_over_duplicates_fails(users):
    """A unique index over columns that already hold duplicates raises IntegrityError."""
    with pytest.raises(mngs.db.IntegrityError):
        users.create_index("users", ["score"], unique=True)
    assert _secondary(users, "users") == []


def test_create_index_is_idempotent(users):
    """Creating the same index twice is fine and leaves one index."""
    first = users.create_index("users", ["email"])
    second = users.create_index("users", ["email"])
    assert first == second == "idx_users_email"
    assert [i["name"] for i in _secondary(users, "users")] == ["idx_users_email"]


def test_create_index_custom_name(users):
    """name= sets the index name, which is returned and listed."""
    assert users.create_index("users", ["email"], name="by mail") == "by mail"
    assert [i["name"] for i in _secondary(users, "users")] == ["by mail"]


def test_create_index_on_missing_column_raises(users):
    """An index on a column that does not exist raises ProgrammingError; nothing is created."""
    with pytest.raises(mngs.db.ProgrammingError):
        users.create_index("users", ["nope"])
    assert _secondary(users, "users") == []


def test_unknown_quoted_columns_are_errors_not_literals(users):
    """Unknown names in columns=, a where dict or count raise ProgrammingError on both backends
    (SQLite would otherwise read a double-quoted unknown name as a string literal)."""
    for call in (
        lambda: users.select("users", columns=["nope"]),
        lambda: users.select("users", where={"nope": 1}),
        lambda: users.count("users", where={"nope": 1}),
        lambda: users.delete("users", where={"nope": 1}),
    ):
        with pytest.raises(mngs.db.ProgrammingError, match="nope"):
            call()


def test_create_index_without_columns_is_argument_error(users):
    """create_index with no columns raises ArgumentError."""
    with pytest.raises(mngs.db.ArgumentError):
        users.create_index("users", [])


def test_drop_index_removes_it(users):
    """drop_index(table, name) removes that index and leaves the others."""
    users.create_index("users", ["email"])
    users.create_index("users", ["username"])
    users.drop_index("users", "idx_users_email")
    assert [i["name"] for i in _secondary(users, "users")] == ["idx_users_username"]
    assert users.count("users") == 3


def test_drop_missing_index_is_fine(users):
    """Dropping an index that does not exist (even on a missing table) does nothing."""
    users.drop_index("users", "idx_users_nothing")
    users.drop_index("ghost", "idx_ghost_x")
    assert _secondary(users, "users") == []


def test_drop_missing_index_if_exists_false_raises(users):
    """drop_index(..., if_exists=False) of a missing index raises ProgrammingError naming it."""
    with pytest.raises(mngs.db.ProgrammingError, match="idx_users_nothing"):
        users.drop_index("users", "idx_users_nothing", if_exists=False)


def test_list_indexes_same_shape_on_both_backends(db):
    """list_indexes returns name/columns/unique/primary records, the primary key's included."""
    db.create_table("items", {"code": "TEXT PRIMARY KEY", "a": "INTEGER", "b": "INTEGER"})
    db.create_index("items", ["a", "b"], unique=True)
    indexes = db.list_indexes("items")
    assert all(set(i) == {"name", "columns", "unique", "primary"} for i in indexes)
    assert all(isinstance(i["name"], str) for i in indexes)
    primary = [i for i in indexes if i["primary"]]
    assert [(i["columns"], i["unique"]) for i in primary] == [(["code"], True)]
    assert [i for i in indexes if not i["primary"]] == [
        {"name": "idx_items_a_b", "columns": ["a", "b"], "unique": True, "primary": False}
    ]


def test_list_indexes_of_table_without_indexes_is_empty(db):
    """A table without any index has an empty list."""
    db.create_table("plain", {"x": "INTEGER"})
    assert db.list_indexes("plain") == []


@pytest.mark.parametrize("table", ["measurements_of_a_rather_long_table_name", "計測データ" * 4])
def test_long_index_names_are_shortened_deterministically(db, backend, table):
    """Default names longer than PostgreSQL's 63 bytes are shortened the same way every time."""
    columns = ["a_long_column_name_number_one", "a_long_column_name_number_two"]
    db.create_table(table, {c: "INTEGER" for c in columns})
    db.insert_many(table, [{columns[0]: 1, columns[1]: 1}])
    name = db.create_index(table, columns, unique=True)
    full = "_".join(["idx", table, *columns])
    if backend == "postgresql":
        assert len(name.encode()) <= 63 and name != full
        assert name.startswith("idx_")
    else:
        assert name == full
    assert db.create_index(table, columns, unique=True) == name
    assert [i["name"] for i in db.list_indexes(table)] == [name]
    with pytest.raises(mngs.db.IntegrityError):
        db.insert(table, {columns[0]: 1, columns[1]: 1})
    db.drop_index(table, name)
    assert db.list_indexes(table) == []


def test_long_names_for_different_columns_do_not_collide(db):
    """Two long default names that share a prefix get different shortened names."""
    table = "a_table_name_long_enough_to_need_shortening"
    db.create_table(table, {"column_number_one_xxxxxxxxxx": "INTEGER",
                            "column_number_two_xxxxxxxxxx": "INTEGER"})
    first = db.create_index(table, ["column_number_one_xxxxxxxxxx"])
    second = db.create_index(table, ["column_number_two_xxxxxxxxxx"])
    assert first != second
    assert sorted(i["name"] for i in db.list_indexes(table)) == sorted([first, second])
