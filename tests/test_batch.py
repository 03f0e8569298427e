"""Tests for insert_many (bounded memory, defaults, atomicity, upserts) and update_many."""

from __future__ import annotations

import tracemalloc

import pytest

import mngs.db


@pytest.fixture
def items(db):
    """An `items` table: serial id, NOT NULL name, unique code, qty with a default."""
    db.create_table(
        "items",
        {
            "id": "INTEGER PRIMARY KEY",
            "name": "TEXT NOT NULL",
            "code": "TEXT UNIQUE",
            "qty": "INTEGER DEFAULT 1",
            "note": "TEXT DEFAULT 'none'",
        },
    )
    return db


def _records(n: int, bad_at: int | None = None, bad: object = None):
    for i in range(n):
        if i == bad_at:
            yield bad
        else:
            yield {"name": f"item-{i}", "code": f"c{i}", "qty": i}


# -- insert_many -------------------------------------------------------------------------------


def test_insert_many_list_returns_count(items):
    """insert_many of a list stores every record and returns how many were written."""
    assert items.insert_many("items", list(_records(3))) == 3
    assert items.select("items", columns=["id", "name", "qty"], order_by="id") == [
        {"id": 1, "name": "item-0", "qty": 0},
        {"id": 2, "name": "item-1", "qty": 1},
        {"id": 3, "name": "item-2", "qty": 2},
    ]


def test_insert_many_empty_iterable_writes_nothing(items):
    """insert_many of an empty list or generator returns 0."""
    assert items.insert_many("items", []) == 0
    assert items.insert_many("items", iter(())) == 0
    assert items.count("items") == 0


def test_insert_many_generator_in_bounded_memory(db):
    """A generator of 50k rows with batch_size=1000 is written in a fraction of the memory
    that holding all the rows as dicts would take."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "name": "TEXT", "value": "REAL"})

    def rows(n):
        return ({"name": f"name-{i:06d}", "value": i * 0.5} for i in range(n))

    tracemalloc.start()
    try:
        sample = list(rows(1000))
        held_1000, _ = tracemalloc.get_traced_memory()
        del sample
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        written = db.insert_many("t", rows(50_000), batch_size=1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    all_rows_estimate = held_1000 * 50
    assert written == 50_000
    assert db.count("t") == 50_000
    assert peak - base < all_rows_estimate / 4, (peak - base, all_rows_estimate)
    assert db.select("t", where={"id": 50_000}) == [{"id": 50_000, "name": "name-049999", "value": 24999.5}]


def test_insert_many_missing_keys_get_column_defaults(items):
    """A key missing from a record gets the column's DEFAULT, not NULL."""
    items.insert_many("items", [{"name": "a"}, {"name": "b", "qty": 5}, {"name": "c", "note": "n"}])
    assert items.select("items", columns=["name", "qty", "note"], order_by="id") == [
        {"name": "a", "qty": 1, "note": "none"},
        {"name": "b", "qty": 5, "note": "none"},
        {"name": "c", "qty": 1, "note": "n"},
    ]


def test_insert_many_heterogeneous_keys_and_key_order(items):
    """Records with different key sets and key orders in one call each land in the right columns."""
    records = [
        {"name": "a", "qty": 2},
        {"qty": 3, "name": "b"},
        {"note": "x", "name": "c", "code": "k"},
        {"name": "d"},
        {"qty": 4, "name": "e"},
    ]
    assert items.insert_many("items", records, batch_size=2) == 5
    assert items.select("items", columns=["name", "code", "qty", "note"], order_by="id") == [
        {"name": "a", "code": None, "qty": 2, "note": "none"},
        {"name": "b", "code": None, "qty": 3, "note": "none"},
        {"name": "c", "code": "k", "qty": 1, "note": "x"},
        {"name": "d", "code": None, "qty": 1, "note": "none"},
        {"name": "e", "code": None, "qty": 4, "note": "none"},
    ]


def test_insert_many_empty_records_use_all_defaults(items):
    """Empty dicts insert rows made of defaults only."""
    items.create_table("d", {"id": "INTEGER PRIMARY KEY", "n": "INTEGER DEFAULT 9"})
    assert items.insert_many("d", [{}, {}]) == 2
    assert items.select("d", order_by="id") == [{"id": 1, "n": 9}, {"id": 2, "n": 9}]


def test_insert_many_not_null_violation_mid_generator_inserts_nothing(items):
    """A NOT NULL violation deep in a generator (after whole batches) raises IntegrityError naming
    the table and column, and no row at all is inserted."""
    records = _records(100, bad_at=57, bad={"name": None, "code": "bad"})
    with pytest.raises(mngs.db.IntegrityError) as info:
        items.insert_many("items", records, batch_size=10)
    head = str(info.value).split("statement:")[0]  # the statement names every column anyway
    assert "items" in head and "name" in head, head
    assert items.count("items") == 0


def test_insert_many_unsupported_value_type_inserts_nothing(items):
    """A value of an unsupported type (a set) mid-stream raises a mngs.db error naming table and
    column; nothing is inserted."""
    records = _records(100, bad_at=57, bad={"name": "ok", "code": {"a", "set"}})
    with pytest.raises(mngs.db.Error) as info:
        items.insert_many("items", records, batch_size=10)
    message = str(info.value)
    assert "table 'items'" in message and "column 'code'" in message, message
    assert "set" in message
    assert items.count("items") == 0


@pytest.mark.parametrize("bad", [["name", "x"], "name=x", 42, None])
def test_insert_many_non_dict_record_inserts_nothing(items, bad):
    """A record that is not a dict raises ArgumentError naming the table; nothing is inserted."""
    with pytest.raises(mngs.db.ArgumentError) as info:
        items.insert_many("items", _records(30, bad_at=25, bad=bad), batch_size=10)
    assert "items" in str(info.value)
    assert items.count("items") == 0


def test_insert_many_unknown_column_inserts_nothing(items):
    """A record with a column the table lacks raises ProgrammingError naming it; nothing is inserted."""
    records = _records(30, bad_at=25, bad={"name": "x", "colour": "red"})
    with pytest.raises(mngs.db.ProgrammingError) as info:
        items.insert_many("items", records, batch_size=10)
    assert "colour" in str(info.value)
    assert items.count("items") == 0


def test_insert_many_single_dict_is_argument_error(items):
    """Passing one dict (not an iterable of dicts) raises ArgumentError pointing at insert()."""
    with pytest.raises(mngs.db.ArgumentError, match="insert"):
        items.insert_many("items", {"name": "a"})
    assert items.count("items") == 0


@pytest.mark.parametrize("size", [0, -5, 2.5, True])
def test_insert_many_bad_batch_size_is_argument_error(items, size):
    """batch_size must be a positive int."""
    with pytest.raises(mngs.db.ArgumentError, match="batch_size"):
        items.insert_many("items", _records(3), batch_size=size)
    assert items.count("items") == 0


def test_insert_many_bad_on_conflict_is_argument_error(items):
    """on_conflict accepts only None, "ignore" and "update"."""
    with pytest.raises(mngs.db.ArgumentError, match="on_conflict"):
        items.insert_many("items", _records(3), on_conflict="replace")
    assert items.count("items") == 0


def test_insert_many_duplicate_key_without_on_conflict_inserts_nothing(items):
    """A duplicate key without on_conflict raises IntegrityError and rolls back the whole call."""
    items.insert("items", {"name": "old", "code": "c5"})
    with pytest.raises(mngs.db.IntegrityError, match="items"):
        items.insert_many("items", _records(20), batch_size=4)
    assert items.select("items", columns=["name"]) == [{"name": "old"}]


# -- upserts -----------------------------------------------------------------------------------


def test_on_conflict_ignore_skips_duplicates(items):
    """on_conflict="ignore" keeps existing rows and returns only the count of new ones."""
    items.insert_many("items", [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}])
    written = items.insert_many(
        "items", [{"id": 2, "name": "TWO"}, {"id": 3, "name": "three"}], on_conflict="ignore"
    )
    assert written == 1
    assert [r["name"] for r in items.select("items", order_by="id")] == ["one", "two", "three"]


def test_on_conflict_ignore_on_unique_column(items):
    """on_conflict="ignore" also skips rows that clash on a non-key unique column."""
    items.insert("items", {"name": "a", "code": "k1"})
    written = items.insert_many(
        "items", [{"name": "b", "code": "k1"}, {"name": "c", "code": "k2"}], on_conflict="ignore",
        conflict_columns=["code"],
    )
    assert written == 1
    assert [r["name"] for r in items.select("items", order_by="id")] == ["a", "c"]


def test_on_conflict_update_defaults_to_primary_key(items):
    """on_conflict="update" overwrites existing rows matched on the primary key; returns rows written."""
    items.insert_many("items", [{"id": 1, "name": "one", "qty": 10}, {"id": 2, "name": "two", "qty": 20}])
    written = items.insert_many(
        "items", [{"id": 2, "name": "TWO", "qty": 22}, {"id": 3, "name": "three"}], on_conflict="update"
    )
    assert written == 2
    assert items.select("items", columns=["id", "name", "qty"], order_by="id") == [
        {"id": 1, "name": "one", "qty": 10},
        {"id": 2, "name": "TWO", "qty": 22},
        {"id": 3, "name": "three", "qty": 1},
    ]


def test_on_conflict_update_with_conflict_columns(items):
    """conflict_columns= makes a unique column the upsert key; columns not given are kept."""
    items.insert("items", {"name": "a", "code": "k1", "qty": 5, "note": "keep"})
    written = items.insert_many(
        "items", [{"code": "k1", "name": "A", "qty": 6}, {"code": "k2", "name": "B"}],
        on_conflict="update", conflict_columns=["code"],
    )
    assert written == 2
    assert items.select("items", columns=["code", "name", "qty", "note"], order_by="id") == [
        {"code": "k1", "name": "A", "qty": 6, "note": "keep"},
        {"code": "k2", "name": "B", "qty": 1, "note": "none"},
    ]
    assert items.select("items", columns=["id"], where={"code": "k1"}) == [{"id": 1}]


def test_on_conflict_update_last_record_of_a_key_wins(items):
    """Several records with one key in one upsert: the last one is what is stored."""
    records = [{"id": 1, "name": "first"}, {"id": 1, "name": "second"}, {"id": 1, "name": "third"}]
    items.insert_many("items", records, on_conflict="update")
    assert items.select("items", columns=["name"]) == [{"name": "third"}]


def test_on_conflict_update_without_primary_key_needs_conflict_columns(db):
    """on_conflict="update" on a table without a primary key and no conflict_columns is refused."""
    db.create_table("t", {"a": "INTEGER", "b": "TEXT"})
    with pytest.raises(mngs.db.ArgumentError, match="conflict_columns"):
        db.insert_many("t", [{"a": 1, "b": "x"}], on_conflict="update")
    assert db.count("t") == 0


# -- update_many -------------------------------------------------------------------------------


def test_update_many_by_id(items):
    """update_many matches each record on "id", changes only the given columns, returns the count."""
    items.insert_many("items", _records(5))
    changed = items.update_many("items", [{"id": 2, "qty": 200}, {"id": 4, "qty": 400, "note": "n4"}])
    assert changed == 2
    rows = items.select("items", columns=["id", "name", "qty", "note"], order_by="id")
    assert rows[1] == {"id": 2, "name": "item-1", "qty": 200, "note": "none"}
    assert rows[3] == {"id": 4, "name": "item-3", "qty": 400, "note": "n4"}
    assert [r["qty"] for r in rows] == [0, 200, 2, 400, 4]


def test_update_many_unmatched_keys_count_zero(items):
    """Records whose key matches no row change nothing and do not count."""
    items.insert_many("items", _records(2))
    assert items.update_many("items", [{"id": 99, "qty": 1}, {"id": 1, "qty": 7}]) == 1
    assert items.count("items") == 2


def test_update_many_composite_key(db):
    """update_many with key=[a, b] matches on both columns."""
    db.create_table("grades", {"student": "TEXT", "course": "TEXT", "grade": "REAL"},
                    primary_key=["student", "course"])
    db.insert_many("grades", [
        {"student": "ann", "course": "math", "grade": 1.0},
        {"student": "ann", "course": "art", "grade": 2.0},
        {"student": "bob", "course": "math", "grade": 3.0},
    ])
    changed = db.update_many(
        "grades",
        [
            {"student": "ann", "course": "math", "grade": 1.5},
            {"course": "math", "student": "bob", "grade": 3.5},
        ],
        key=["student", "course"],
    )
    assert changed == 2
    rows = db.select("grades", order_by=["student", "course"])
    assert [r["grade"] for r in rows] == [2.0, 1.5, 3.5]


def test_update_many_across_batches(items):
    """update_many of a generator across many small batches updates every record."""
    items.insert_many("items", _records(50))
    changed = items.update_many("items", ({"id": i, "qty": -i} for i in range(1, 51)), batch_size=7)
    assert changed == 50
    assert items.count("items", where="qty = -id") == 50


def test_update_many_record_missing_key_changes_nothing(items):
    """A record without the key column raises ArgumentError naming it; earlier updates are undone."""
    items.insert_many("items", _records(30))
    records = [{"id": i, "qty": 1000} for i in range(1, 21)] + [{"qty": 5}]
    with pytest.raises(mngs.db.ArgumentError, match="id"):
        items.update_many("items", records, batch_size=5)
    assert items.count("items", where={"qty": 1000}) == 0


def test_update_many_bad_value_changes_nothing(items):
    """A constraint violation in a later record of update_many rolls back the whole call."""
    items.insert_many("items", _records(10))
    records = [{"id": 1, "name": "renamed"}, {"id": 2, "name": None}]
    with pytest.raises(mngs.db.IntegrityError):
        items.update_many("items", records)
    assert items.count("items", where={"name": "renamed"}) == 0


# -- explicit keys and sequences -----------------------------------------------------------------


@pytest.mark.parametrize("id_type", ["INTEGER PRIMARY KEY", "SERIAL PRIMARY KEY",
                                     "INTEGER PRIMARY KEY AUTOINCREMENT"])
def test_explicit_ids_then_insert_gets_a_fresh_id(db, id_type):
    """After insert_many with explicit ids, insert() without an id gets the next free id."""
    db.create_table("t", {"id": id_type, "v": "TEXT"})
    db.insert_many("t", [{"id": 10, "v": "a"}, {"id": 20, "v": "b"}])
    new_id = db.insert("t", {"v": "c"})
    assert new_id == 21
    assert db.insert_many("t", [{"v": "d"}]) == 1
    assert sorted(r["id"] for r in db.select("t")) == [10, 20, 21, 22]


@pytest.mark.parametrize("id_type", ["INTEGER PRIMARY KEY", "SERIAL PRIMARY KEY"])
def test_explicit_id_via_insert_then_insert_gets_a_fresh_id(db, id_type):
    """insert() with an explicit id moves the id sequence on, so the next insert() does not clash."""
    db.create_table("t", {"id": id_type, "v": "TEXT"})
    assert db.insert("t", {"id": 5, "v": "a"}) == 5
    assert db.insert("t", {"v": "b"}) == 6


def test_explicit_ids_in_upsert_then_insert_gets_a_fresh_id(items):
    """Upserting explicit ids also moves the sequence on."""
    items.insert_many("items", [{"id": 7, "name": "a"}], on_conflict="update")
    assert items.insert("items", {"name": "b"}) == 8


def test_insert_many_accepts_any_iterable(items):
    """insert_many takes tuples, generators and other iterables of dicts."""
    assert items.insert_many("items", tuple(_records(2))) == 2
    assert items.insert_many("items", map(dict, [{"name": "m"}])) == 1
    assert items.count("items") == 3
