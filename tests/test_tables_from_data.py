"""Tables made from data (``create=True``, ``alter=True``), single-row upserts and ``get``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

import mngs.db

EVERY_TYPE = {
    "flag": True,
    "count": 2**62,
    "ratio": 0.25,
    "price": Decimal("12.50"),
    "name": "Zoë",
    "zip": "02134",
    "raw": b"\x00\x01\xff",
    "doc": {"a": [1, 2]},
    "day": dt.date(2026, 12, 1),
    "at": dt.time(8, 30),
    "ts": dt.datetime(2026, 12, 1, 8, 30, 15),
    "tz": dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.timezone.utc),
}


def test_insert_many_creates_the_table_with_a_key_seen_only_later(db):
    """The table is created from the records; a key in a later batch adds its column; every
    value of every supported type reads back equal."""
    records = [{"id": 1, "name": "a"}, {"id": 2, **EVERY_TYPE}, {"id": 3, "late": "only here"}]
    assert db.insert_many("rows", records, create=True, pk="id", batch_size=1) == 3
    got = {r["id"]: r for r in db.select("rows", order_by="id")}
    for name, value in EVERY_TYPE.items():
        assert got[2][name] == value, name
    assert got[3]["late"] == "only here" and got[1]["late"] is None
    assert db.get_columns("rows")[0]["primary_key"]


def test_create_with_an_auto_id_when_no_record_holds_the_key(db):
    """``pk`` not in the records: an auto-assigned id column."""
    db.insert_many("notes", [{"text": "a"}, {"text": "b"}], create=True, pk="id")
    assert [r["id"] for r in db.select("notes", order_by="id")] == [1, 2]
    assert db.insert("notes", {"text": "c"}) == 3


def test_composite_key_and_get_by_tuple(db):
    """A composite ``pk``; ``get`` takes a tuple and raises NotFoundError for a missing key."""
    db.insert_many("m", [{"run": 1, "step": 1, "v": 0.5}, {"run": 1, "step": 2, "v": 0.4}], create=True,
                   pk=["run", "step"])
    assert db.get("m", (1, 2)) == {"run": 1, "step": 2, "v": 0.4}
    with pytest.raises(mngs.db.NotFoundError) as info:
        db.get("m", (9, 9))
    assert isinstance(info.value, LookupError) and info.value.key == (9, 9)
    with pytest.raises(mngs.db.ArgumentError, match="2 value"):
        db.get("m", 1)


def test_without_create_a_missing_table_is_still_an_error(db):
    """``create`` is opt-in: plain insert_many into a missing table raises and creates nothing."""
    with pytest.raises(mngs.db.ProgrammingError):
        db.insert_many("nope", [{"a": 1}])
    assert not db.table_exists("nope")


def test_failed_create_leaves_no_table(db):
    """A record that cannot be stored undoes the table it would have created."""
    with pytest.raises(mngs.db.Error):
        db.insert_many("t", [{"id": 1, "v": "x"}, {"id": 1, "v": "dup"}], create=True, pk="id")
    assert not db.table_exists("t")


def test_alter_adds_missing_columns_to_an_existing_table(db):
    """``alter=True`` adds a column for a key the table lacks; without it, it is an error."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "a": "TEXT"})
    with pytest.raises(mngs.db.ProgrammingError):
        db.insert("t", {"a": "x", "b": 2})
    db.insert("t", {"a": "x", "b": 2}, alter=True)
    db.insert_many("t", [{"a": "y", "c": 1.5}], alter=True)
    assert [c["name"] for c in db.get_columns("t")] == ["id", "a", "b", "c"]
    assert db.select("t", columns=["a", "b", "c"], order_by="id") == [
        {"a": "x", "b": 2, "c": None},
        {"a": "y", "b": None, "c": 1.5},
    ]


def test_single_row_upsert_update_and_ignore(db):
    """``insert(on_conflict="update")`` overwrites and returns the key; ``"ignore"`` keeps the
    existing row; conflict_columns picks another unique key."""
    db.create_table("u", {"id": "INTEGER PRIMARY KEY", "email": "TEXT UNIQUE", "n": "INTEGER"})
    assert db.insert("u", {"id": 1, "email": "a@x", "n": 1}) == 1
    assert db.insert("u", {"id": 1, "email": "a@x", "n": 2}, on_conflict="update") == 1
    assert db.get("u", 1)["n"] == 2
    assert db.insert("u", {"id": 1, "email": "a@x", "n": 3}, on_conflict="ignore") == 1
    assert db.get("u", 1)["n"] == 2
    db.insert("u", {"email": "a@x", "n": 9}, on_conflict="update", conflict_columns=["email"])
    assert db.count("u") == 1 and db.get("u", 1)["n"] == 9
    assert db.insert("u", {"id": 2, "email": "a@x", "n": 5}, on_conflict="ignore") == 2
    assert db.count("u") == 1  # as insert_many: "ignore" skips a violation of any unique key
    with pytest.raises(mngs.db.ArgumentError, match="on_conflict"):
        db.insert("u", {"id": 2}, on_conflict="merge")


def test_insert_creates_a_table_from_one_row(db):
    """``insert(create=True)`` makes the table from one dict and returns the key."""
    assert db.insert("one", {"id": 5, "name": "x"}, create=True, pk="id") == 5
    assert db.get("one", 5) == {"id": 5, "name": "x"}
    assert db.insert("one", {"name": "y"}) == 6  # the id is auto-assigned after explicit ones


def test_explicit_ids_into_tables_named_with_percent_signs(db):
    """A ``%`` in a table or column name is an ordinary character (no placeholder mix-up)."""
    db.create_table("100%", {"id%": "INTEGER PRIMARY KEY", "v": "TEXT"})
    db.insert("100%", {"id%": 5, "v": "a"})
    assert db.insert("100%", {"v": "b"}) == 6


def test_from_dataframe_creates_with_a_key_refuses_without_create_and_alters(db):
    """``from_dataframe(pk=...)`` creates the table with that key; ``create=False`` refuses a
    missing table; ``alter=True`` adds the frame's new columns to an existing table."""
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"run": [1, 2], "loss": [0.5, 0.4]})
    with pytest.raises(mngs.db.ProgrammingError, match="create=True"):
        db.from_dataframe(frame, "runs", create=False)
    assert not db.table_exists("runs")
    assert db.from_dataframe(frame, "runs", pk="run") == 2
    assert [c["name"] for c in db.get_columns("runs") if c["primary_key"]] == ["run"]
    with pytest.raises(mngs.db.IntegrityError):
        db.from_dataframe(frame, "runs", if_exists="append")
    more = pd.DataFrame({"run": [3], "loss": [0.3], "note": ["warm"]})
    with pytest.raises(mngs.db.ProgrammingError, match="alter=True"):
        db.from_dataframe(more, "runs", if_exists="append")
    assert db.from_dataframe(more, "runs", if_exists="append", alter=True) == 1
    assert db.get("runs", 3) == {"run": 3, "loss": 0.3, "note": "warm"}
