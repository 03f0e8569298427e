"""Column types inferred from records (``mngs.db.inference``), and tables made from them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

import mngs.db
from mngs.db.inference import PORTABLE_TYPES, infer_columns, infer_csv_columns

UTC = dt.timezone.utc


def test_each_python_type_has_its_column_type():
    """One value of each supported type gives its portable type."""
    record = {
        "b": True, "i": -(2**63), "f": 0.5, "d": Decimal("1.25"), "s": "x", "y": b"\x00",
        "j": {"a": [1]}, "l": [1, 2], "ts": dt.datetime(2024, 1, 2, 3, 4, 5),
        "tz": dt.datetime(2024, 1, 2, tzinfo=UTC), "day": dt.date(2024, 1, 2), "t": dt.time(3, 4),
        "np_i": np.int32(3), "np_f": np.float64(1.5), "np_b": np.bool_(True), "arr": np.zeros(2),
    }  # fmt: skip
    assert infer_columns([record]) == {
        "b": "BOOLEAN", "i": "BIGINT", "f": "REAL", "d": "DECIMAL", "s": "TEXT", "y": "BLOB",
        "j": "JSON", "l": "JSON", "ts": "TIMESTAMP", "tz": "TIMESTAMPTZ", "day": "DATE", "t": "TIME",
        "np_i": "BIGINT", "np_f": "REAL", "np_b": "BOOLEAN", "arr": "BLOB",
    }  # fmt: skip


def test_later_keys_mixed_kinds_and_nulls():
    """A key first seen in a later record is included (in first-seen order); mixed kinds widen
    (int+float → REAL, date+datetime → TIMESTAMP) or fall back to TEXT; all-None is TEXT."""
    records = [
        {"id": 1, "x": 1, "when": dt.date(2024, 1, 1), "mixed": 1, "none": None},
        {"id": 2, "x": 2.5, "when": dt.datetime(2024, 1, 1, 5), "mixed": "a", "none": None, "late": True},
    ]
    assert infer_columns(records) == {
        "id": "BIGINT", "x": "REAL", "when": "TIMESTAMP", "mixed": "TEXT", "none": "TEXT", "late": "BOOLEAN",
    }  # fmt: skip


def test_big_integers_and_leading_zeros_are_never_numbers_that_lose_data():
    """Integers beyond 64 bits are TEXT (never a float); strings like "007" stay TEXT."""
    assert infer_columns([{"big": 2**64, "zip": "007"}, {"big": 1}]) == {"big": "TEXT", "zip": "TEXT"}
    assert infer_columns([{"v": -(2**63) - 1}, {"v": 0.5}]) == {"v": "DECIMAL"}


def test_bad_input_is_refused():
    """Records that are not dicts, unknown value types and no columns at all are refused."""
    with pytest.raises(mngs.db.ArgumentError, match="record 1"):
        infer_columns([{"a": 1}, [1]])  # type: ignore[list-item]
    with pytest.raises(mngs.db.ArgumentError, match="'a'.*object"):
        infer_columns([{"a": object()}])
    with pytest.raises(mngs.db.ArgumentError, match="no records"):
        infer_columns([])


def test_a_dialect_mapping_replaces_the_portable_types():
    """``types`` maps kinds to another set of names; kinds it lacks keep the portable type."""
    assert infer_columns([{"a": 1, "b": 2**70}], {"integer": "INTEGER"}) == {"a": "INTEGER", "b": "TEXT"}
    assert set(PORTABLE_TYPES) >= {"boolean", "integer", "float", "text", "bytes", "json", "timestamp"}


def test_csv_columns_follow_import_inference_but_keep_leading_zeros(tmp_path):
    """CSV text is typed as ``import_from_csv`` does, except numbers with a leading zero."""
    path = tmp_path / "x.csv"
    path.write_text("id,zip,score,ok,at,note\n1,007,0.5,t,2024-01-02 03:04:05,\n2,10,1,f,,x\n", "utf-8")
    assert infer_csv_columns(path) == {
        "id": "BIGINT", "zip": "TEXT", "score": "REAL", "ok": "BOOLEAN", "at": "TIMESTAMP", "note": "TEXT",
    }  # fmt: skip
    assert infer_csv_columns(path, {"integer": "INTEGER"})["id"] == "INTEGER"


def test_table_made_from_inferred_columns_round_trips_every_type(db):
    """On both backends: a table created from inferred columns stores and returns each value."""
    records = [
        {"id": 1, "flag": True, "n": 2**62, "x": 0.25, "d": Decimal("2.5"), "s": "007", "y": b"\x00\xff"},
        {
            "id": 2, "j": {"k": [1, "two"]}, "ts": dt.datetime(2024, 5, 6, 7, 8, 9, 123456),
            "tz": dt.datetime(2024, 5, 6, 7, 8, tzinfo=UTC), "day": dt.date(2024, 5, 6),
            "t": dt.time(7, 8, 9),
        },
    ]  # fmt: skip
    columns = infer_columns(records)
    columns["id"] += " PRIMARY KEY"
    db.create_table("made", columns)
    db.insert_many("made", records)
    rows = db.select("made", order_by="id")
    assert list(rows[0]) == list(columns)  # a key of the later record is a column too
    for record, row in zip(records, rows):
        for key, value in record.items():
            got = row[key]
            if isinstance(value, dt.datetime) and value.tzinfo is not None:
                assert got == value  # the same instant, whatever zone it is shown in
            else:
                assert got == value and type(got) is type(value), (key, got)
    assert rows[0]["j"] is None and rows[1]["flag"] is None
