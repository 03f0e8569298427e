"""Tests for binary values: store_blob/get_blob as in the spec, and numpy arrays stored without
pickle (insert, insert_many, update, save_array/load_array, decode_array), on both backends."""

from __future__ import annotations

import datetime as dt
import io
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mngs.db


def _column_types(db, table: str) -> dict[str, str]:
    return {c["name"]: c["type"].lower() for c in db.get_columns(table)}


# -- the spec's example -------------------------------------------------------------------------


def test_spec_blob_storage_example_runs_as_written(db):
    """Spec "BLOB Storage": store_blob creates "arrays", get_blob returns the pickled bytes."""
    # Store numpy array
    data = np.random.rand(100, 100)
    blob_data = pickle.dumps(data)

    db.store_blob("arrays", {
        "name": "random_matrix",
        "data": blob_data
    })

    # Retrieve numpy array
    result = db.get_blob("arrays", "data", where="name = 'random_matrix'")
    retrieved_data = pickle.loads(result)

    assert isinstance(result, bytes)
    np.testing.assert_array_equal(retrieved_data, data)


def test_store_blob_creates_the_table_with_types_inferred_from_the_values(db):
    """A missing table is created: an id key plus one column per value, typed by the value."""
    new_id = db.store_blob(
        "things",
        {
            "name": "x",
            "payload": b"\x00\x01",
            "count": 3,
            "score": 0.5,
            "ok": True,
            "meta": {"a": 1},
            "taken": dt.datetime(2024, 1, 2, 3, 4, 5),
            "array": np.arange(3),
        },
    )
    assert new_id == 1
    types = _column_types(db, "things")
    expected_sqlite = {
        "id": "integer", "name": "text", "payload": "blob", "count": "bigint", "score": "real",
        "ok": "boolean", "meta": "jsonb", "taken": "timestamp", "array": "blob",
    }
    expected_pg = {
        "id": "bigint", "name": "text", "payload": "bytea", "count": "bigint",
        "score": "double precision", "ok": "boolean", "meta": "jsonb",
        "taken": "timestamp without time zone", "array": "bytea",
    }
    assert types == (expected_sqlite if db.backend == "sqlite" else expected_pg)
    assert db.get_columns("things")[0]["primary_key"]
    row = db.select("things")[0]
    assert row["payload"] == b"\x00\x01" and row["meta"] == {"a": 1} and row["ok"] is True
    assert row["taken"] == dt.datetime(2024, 1, 2, 3, 4, 5)


def test_store_blob_returns_increasing_ids_and_uses_an_existing_table_as_is(db):
    """Later calls insert into the table (created once); each returns the new row's id."""
    db.create_table(
        "files", {"id": "INTEGER PRIMARY KEY", "path": "TEXT UNIQUE", "body": "BLOB", "n": "INTEGER"}
    )
    ids = [db.store_blob("files", {"path": f"f{i}", "body": bytes([i]) * i}) for i in range(1, 4)]
    assert ids == [1, 2, 3]
    assert _column_types(db, "files")["n"] == "integer"  # the existing table was not altered
    assert db.get_blob("files", "body", where="path = ?", params=["f3"]) == b"\x03\x03\x03"


def test_store_blob_with_its_own_id_makes_it_the_primary_key(db):
    """When the values include "id", that column becomes the key instead of an automatic one."""
    assert db.store_blob("named", {"id": "abc", "body": b"1"}) == "abc"
    assert [c["name"] for c in db.get_columns("named") if c["primary_key"]] == ["id"]
    with pytest.raises(mngs.db.IntegrityError):
        db.store_blob("named", {"id": "abc", "body": b"2"})
    assert db.get_blob("named", "body", where={"id": "abc"}) == b"1"


def test_store_blob_with_uninferable_value_raises_before_creating_anything(db):
    """A None (or unknown) value for a new table raises ArgumentError and creates no table."""
    with pytest.raises(mngs.db.ArgumentError, match="'note'"):
        db.store_blob("blobs", {"data": b"x", "note": None})
    with pytest.raises(mngs.db.ArgumentError, match="object"):
        db.store_blob("blobs", {"data": b"x", "note": object()})
    assert not db.table_exists("blobs")


def test_store_blob_is_atomic_a_failed_insert_creates_no_table(db):
    """If the row cannot be stored, the table created for it is rolled back too."""
    with pytest.raises(mngs.db.DataError, match="dtype object"):
        db.store_blob("blobs", {"name": "bad", "data": np.array([1, "a"], dtype=object)})
    assert not db.table_exists("blobs")


# -- get_blob ---------------------------------------------------------------------------------


def test_get_blob_returns_none_when_no_row_matches_or_the_value_is_null(db):
    """No matching row gives None; so does a NULL value."""
    db.store_blob("blobs", {"name": "a", "data": b"A"})
    db.execute("INSERT INTO blobs (name) VALUES ('empty')")
    assert db.get_blob("blobs", "data", where="name = ?", params=["missing"]) is None
    assert db.get_blob("blobs", "data", where={"name": "empty"}) is None


def test_get_blob_returns_the_first_match_by_primary_key_unless_ordered(db):
    """Several matches: the lowest primary key wins by default; order_by picks another."""
    for body in (b"first", b"second", b"third"):
        db.store_blob("blobs", {"kind": "k", "data": body})
    assert db.get_blob("blobs", "data", where="kind = ?", params=["k"]) == b"first"
    assert db.get_blob("blobs", "data", where={"kind": "k"}, order_by="id DESC") == b"third"
    assert db.get_blob("blobs", "data") == b"first"


def test_get_blob_of_a_text_column_raises_data_error(db):
    """Asking for bytes from a column holding text raises DataError naming the column."""
    db.store_blob("blobs", {"name": "a", "data": b"A"})
    with pytest.raises(mngs.db.DataError, match="'name'"):
        db.get_blob("blobs", "name")


def test_get_blob_binds_params_safely(db):
    """A hostile value in params is data, not SQL."""
    db.store_blob("blobs", {"name": "x'; DROP TABLE blobs; --", "data": b"ok"})
    assert db.get_blob("blobs", "data", where="name = ?", params=["x'; DROP TABLE blobs; --"]) == b"ok"
    assert db.table_exists("blobs")


@pytest.mark.parametrize(
    "value",
    [b"", bytes(range(256)) * 4, b"\x00" * 1000, bytearray(b"\xff\x00abc"), memoryview(b"view\x00")],
    ids=["empty", "all-bytes", "nuls", "bytearray", "memoryview"],
)
def test_binary_values_round_trip_exactly(db, value):
    """Every byte value, NULs and empty bytes come back as identical bytes."""
    db.store_blob("blobs", {"name": "v", "data": value})
    got = db.get_blob("blobs", "data")
    assert isinstance(got, bytes) and got == bytes(value)


def test_large_blob_round_trips(db):
    """A 4 MB blob comes back intact."""
    payload = np.random.default_rng(1).bytes(4 * 1024 * 1024)
    db.store_blob("blobs", {"name": "big", "data": payload})
    assert db.get_blob("blobs", "data", where="name = 'big'") == payload


# -- numpy arrays ---------------------------------------------------------------------------


ARRAYS = {
    "float32": np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
    "float64-nan-inf": np.array([0.1, np.nan, np.inf, -np.inf, -0.0]),
    "int16": np.array([-32768, 0, 32767], dtype=np.int16),
    "uint64": np.array([0, 2**64 - 1], dtype=np.uint64),
    "bool": np.array([[True, False], [False, True]]),
    "complex128": np.array([1 + 2j, -3.5j, np.nan + 0j]),
    "big-endian": np.arange(5, dtype=">i4"),
    "unicode": np.array(["α", "βγ", "✓✓✓"]),
    "bytes": np.array([b"a\x00", b"bc"]),
    "datetime64": np.array(["2024-01-01T12:00", "NaT"], dtype="datetime64[m]"),
    "structured": np.array([(1, 2.5), (3, 4.5)], dtype=[("a", "<i4"), ("b", "<f8")]),
    "empty": np.array([], dtype=np.float64),
    "shape-3-4-5": np.arange(60, dtype=np.int64).reshape(3, 4, 5),
    "zero-size-2d": np.zeros((0, 7), dtype=np.float32),
    "0-d": np.array(3.25),
    "fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
}


def _assert_same_array(got, expected) -> None:
    assert isinstance(got, np.ndarray)
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    assert got.flags.f_contiguous == expected.flags.f_contiguous
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", list(ARRAYS))
def test_array_values_round_trip_through_insert_with_dtype_and_shape(db, name):
    """An ndarray passed to insert comes back from load_array with dtype, shape, order and values."""
    db.create_table("arrays", {"id": "INTEGER PRIMARY KEY", "data": "BLOB"})
    db.insert("arrays", {"id": 1, "data": ARRAYS[name]})
    _assert_same_array(db.load_array("arrays", "data", where="id = ?", params=[1]), ARRAYS[name])


def test_array_values_round_trip_through_insert_many_update_and_update_many(db):
    """Bulk inserts (COPY on PostgreSQL), update and update_many store arrays the same way."""
    db.create_table("arrays", {"id": "INTEGER PRIMARY KEY", "data": "BLOB"})
    records = [{"id": i, "data": array} for i, array in enumerate(ARRAYS.values())]
    assert db.insert_many("arrays", records, batch_size=5) == len(records)
    for record in records:
        _assert_same_array(db.load_array("arrays", where={"id": record["id"]}), record["data"])
    db.update("arrays", {"data": np.eye(2)}, where="id = 0")
    db.update_many("arrays", [{"id": 1, "data": np.ones(3, dtype=np.int8)}])
    _assert_same_array(db.load_array("arrays", where={"id": 0}), np.eye(2))
    _assert_same_array(db.load_array("arrays", where={"id": 1}), np.ones(3, dtype=np.int8))


def test_rows_read_back_hold_npy_bytes_that_decode_array_turns_into_arrays(db):
    """select returns the stored bytes; mngs.db.decode_array gives the array back."""
    db.create_table("arrays", {"id": "INTEGER PRIMARY KEY", "data": "BLOB"})
    db.insert("arrays", {"id": 1, "data": np.arange(4.0)})
    raw = db.select("arrays")[0]["data"]
    assert isinstance(raw, bytes) and raw.startswith(b"\x93NUMPY")
    _assert_same_array(mngs.db.decode_array(raw), np.arange(4.0))
    assert mngs.db.decode_array(None) is None


def test_big_array_round_trips(db):
    """A million float64 values (8 MB) are stored and loaded intact."""
    big = np.random.default_rng(0).standard_normal(1_000_000)
    db.save_array("arrays", big, name="big")
    _assert_same_array(db.load_array("arrays", where="name = ?", params=["big"]), big)


def test_object_arrays_are_refused_and_nothing_is_written(db):
    """Arrays of Python objects would need pickle: DataError, and the batch is not stored."""
    db.create_table("arrays", {"id": "INTEGER PRIMARY KEY", "data": "BLOB"})
    bad = np.array([{"a": 1}, None], dtype=object)
    with pytest.raises(mngs.db.DataError, match="dtype object"):
        db.insert("arrays", {"id": 1, "data": bad})
    with pytest.raises(mngs.db.DataError, match="pickle"):
        db.insert_many("arrays", [{"id": 2, "data": np.zeros(2)}, {"id": 3, "data": bad}])
    with pytest.raises(mngs.db.DataError):
        db.save_array("arrays", bad)
    assert db.count("arrays") == 0


def test_decode_array_never_unpickles(db):
    """An .npy holding pickled objects, or a raw pickle, is refused instead of executed."""
    buffer = io.BytesIO()
    np.save(buffer, np.array([object()], dtype=object), allow_pickle=True)
    db.store_blob("blobs", {"name": "npy-pickle", "data": buffer.getvalue()})
    db.store_blob("blobs", {"name": "pickle", "data": pickle.dumps(np.arange(3))})
    db.store_blob("blobs", {"name": "junk", "data": b"not an array"})
    for name in ("npy-pickle", "pickle", "junk"):
        with pytest.raises(mngs.db.DataError):
            db.load_array("blobs", where={"name": name})


def test_save_array_and_load_array_with_extra_columns(db):
    """save_array stores other values beside the array; load_array finds it by them."""
    first = db.save_array("arrays", np.eye(3), name="identity", subject="S01", trial=1)
    second = db.save_array("arrays", np.zeros((2, 2), dtype=np.float32), name="zeros", subject="S01", trial=2)
    assert (first, second) == (1, 2)
    _assert_same_array(
        db.load_array("arrays", where="subject = ? AND trial = ?", params=["S01", 2]),
        np.zeros((2, 2), dtype=np.float32),
    )
    _assert_same_array(db.load_array("arrays", where={"name": "identity"}), np.eye(3))
    assert db.load_array("arrays", where={"name": "nothing"}) is None


def test_save_array_into_a_named_column(db):
    """column= chooses the array's column; a value of the same name is refused."""
    db.save_array("signals", np.arange(3, dtype=np.int32), column="samples", channel="Fz")
    assert "samples" in _column_types(db, "signals")
    loaded = db.load_array("signals", "samples", where={"channel": "Fz"})
    _assert_same_array(loaded, np.arange(3, dtype=np.int32))
    with pytest.raises(mngs.db.ArgumentError):
        db.save_array("signals", np.arange(3), column="samples", samples=1)


def test_arrays_written_by_one_backend_load_on_the_other(db, tmp_path):
    """The stored bytes are plain .npy: rows copied from one backend decode on the other."""
    db.save_array("arrays", ARRAYS["structured"], name="s")
    db.save_array("arrays", ARRAYS["fortran"], name="f")
    with mngs.db.SQLite3(tmp_path / "other.db") as other:
        for row in db.select("arrays", order_by="id"):
            other.store_blob("arrays", row)
        _assert_same_array(other.load_array("arrays", where={"name": "s"}), ARRAYS["structured"])
        _assert_same_array(other.load_array("arrays", where={"name": "f"}), ARRAYS["fortran"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    array=hnp.arrays(
        dtype=st.one_of(hnp.scalar_dtypes(), hnp.byte_string_dtypes(), hnp.unicode_string_dtypes()),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    )
)
def test_property_any_plain_array_round_trips(db, array):
    """Property: any array of a plain dtype and shape is loaded back identical (NaN included)."""
    new_id = db.save_array("prop", array)
    got = db.load_array("prop", where="id = ?", params=[new_id])
    assert got.dtype == array.dtype and got.shape == array.shape
    assert got.tobytes() == array.tobytes()
