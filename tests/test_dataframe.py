"""pandas DataFrames in and out on both backends: types, NULLs, if_exists, index, spec examples."""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

import mngs.db


def _frame():
    return pd.DataFrame(
        {
            "i": np.array([1, -2, 2**62], dtype="int64"),
            "f": [0.5, np.nan, -1e300],
            "b": [True, False, True],
            "s": ["x", None, "ünïcødé 😀"],
            "t": pd.to_datetime(
                ["2025-05-30 12:00:00.123456", None, "1970-01-01 00:00:00"], format="ISO8601"
            ),
            "tz": pd.to_datetime(["2025-01-01 10:00", "2025-06-01 12:00", None]).tz_localize("UTC"),
            "by": [b"\x00\x01", None, b""],
            "ni": pd.array([1, None, 3], dtype="Int64"),
            "nb": pd.array([True, None, False], dtype="boolean"),
            "j": [{"a": [1, 2]}, None, {"b": "c"}],
        }
    )


def test_dataframe_round_trip_keeps_values_and_types(db):
    """from_dataframe then to_dataframe gives the same values, dtypes and missing values."""
    df = _frame()
    assert db.from_dataframe(df, "frame") == 3
    out = db.to_dataframe("frame")
    assert list(out.columns) == list(df.columns)
    for name in ["i", "f", "b", "t", "ni", "nb"]:
        pd.testing.assert_series_equal(out[name], df[name], check_dtype=True, obj=name)
    assert out["s"].tolist()[0::2] == ["x", "ünïcødé 😀"] and out["s"].isna().tolist() == [0, 1, 0]
    assert str(out["tz"].dtype).startswith("datetime64[us,")
    assert out["tz"].dt.tz_convert("UTC").tolist()[:2] == df["tz"].tolist()[:2] and out["tz"].isna()[2]
    assert out["by"].tolist() == [b"\x00\x01", None, b""]
    assert out["j"].tolist() == [{"a": [1, 2]}, None, {"b": "c"}]


def test_created_columns_get_sensible_types(db):
    """A new table gets a column type per dtype, named as the backend spells it."""
    df = _frame()
    df["d"] = [dt.date(2025, 1, 1), None, dt.date(2025, 1, 3)]
    df["dec"] = [Decimal("1.10"), Decimal("2"), None]
    db.from_dataframe(df, "typed")
    types = {c["name"]: c["type"].lower() for c in db.get_columns("typed")}
    if db.backend == "sqlite":
        expected = {"i": "integer", "f": "real", "b": "boolean", "s": "text", "t": "timestamp",
                    "tz": "timestamptz", "by": "blob", "ni": "integer", "nb": "boolean", "j": "json",
                    "d": "date", "dec": "decimal"}  # fmt: skip
    else:
        expected = {"i": "bigint", "f": "double precision", "b": "boolean", "s": "text",
                    "t": "timestamp without time zone", "tz": "timestamp with time zone",
                    "by": "bytea", "ni": "bigint", "nb": "boolean", "j": "jsonb", "d": "date",
                    "dec": "numeric"}  # fmt: skip
    assert types == expected
    row = db.select("typed", where="i = ?", params=[1])[0]
    assert row["d"] == dt.date(2025, 1, 1) and row["dec"] == Decimal("1.1")


def test_missing_values_become_null(db):
    """NaN, NaT, None and pd.NA are stored as NULL."""
    df = pd.DataFrame(
        {
            "f": [np.nan, 1.0],
            "t": pd.to_datetime([None, "2025-01-01"]),
            "s": pd.array([pd.NA, "a"], dtype="string"),
            "o": [None, "b"],
            "n": pd.array([pd.NA, 1], dtype="Int64"),
        }
    )
    db.from_dataframe(df, "gaps")
    assert db.count("gaps", "f IS NULL AND t IS NULL AND s IS NULL AND o IS NULL AND n IS NULL") == 1
    assert db.count("gaps", "f IS NOT NULL AND t IS NOT NULL AND s IS NOT NULL AND n IS NOT NULL") == 1


def test_if_exists_fail_append_replace(db):
    """fail refuses an existing table by name; append adds rows; replace starts over."""
    df = pd.DataFrame({"a": [1, 2]})
    db.from_dataframe(df, "t")
    with pytest.raises(mngs.db.ProgrammingError, match="'t' already exists"):
        db.from_dataframe(df, "t")
    assert db.from_dataframe(df, "t", if_exists="append") == 2
    assert db.count("t") == 4
    assert db.from_dataframe(pd.DataFrame({"b": ["x"]}), "t", if_exists="replace") == 1
    assert db.select("t") == [{"b": "x"}]
    with pytest.raises(mngs.db.ArgumentError, match="if_exists"):
        db.from_dataframe(df, "t", if_exists="merge")


def test_failed_replace_keeps_the_old_table(db):
    """replace drops and recreates in one transaction: a failure leaves the old table intact."""
    db.from_dataframe(pd.DataFrame({"a": [1, 2, 3]}), "keep")
    db.execute("CREATE UNIQUE INDEX keep_a ON keep (a)")
    bad = pd.DataFrame({"a": [1, 2**64]}, dtype=object)  # 2**64 fits no 64-bit column
    with pytest.raises(mngs.db.Error):
        db.from_dataframe(bad, "keep", if_exists="replace")
    assert db.select("keep", order_by="a") == [{"a": 1}, {"a": 2}, {"a": 3}]
    assert [i["name"] for i in db.list_indexes("keep")] == ["keep_a"]


def test_append_with_unknown_column_writes_nothing(db):
    """Appending a frame with a column the table lacks names it and writes nothing."""
    db.create_table("t", {"a": "INTEGER"})
    with pytest.raises(mngs.db.ProgrammingError, match="extra"):
        db.from_dataframe(pd.DataFrame({"a": [1], "extra": [2]}), "t", if_exists="append")
    assert db.count("t") == 0


def test_index_is_written_when_asked(db):
    """index=True writes the index as a column named after it, or "index" when unnamed."""
    df = pd.DataFrame({"v": [1.5, 2.5]}, index=pd.Index(["a", "b"], name="key"))
    db.from_dataframe(df, "named", index=True)
    assert db.select("named", order_by="key") == [{"key": "a", "v": 1.5}, {"key": "b", "v": 2.5}]
    db.from_dataframe(df.rename_axis(None), "unnamed", index=True)
    assert [c["name"] for c in db.get_columns("unnamed")] == ["index", "v"]
    db.from_dataframe(df, "dropped")
    assert [c["name"] for c in db.get_columns("dropped")] == ["v"]


def test_spec_integration_example_with_describe(db):
    """The spec's mngs.pd example: a describe() summary is saved as a new table."""
    db.create_table("experiments", {"id": "INTEGER PRIMARY KEY", "name": "TEXT", "accuracy": "REAL"})
    db.insert_many("experiments", [{"name": f"e{i}", "accuracy": i / 4} for i in range(5)])

    df = db.to_dataframe("experiments")
    summary = df.describe()
    db.from_dataframe(summary, "experiment_summary")

    rows = db.select("experiment_summary")
    assert len(rows) == 8 and set(rows[0]) == {"id", "accuracy"}
    assert rows[1]["accuracy"] == pytest.approx(0.5)  # the mean
    db.from_dataframe(summary, "summary_with_stats", index=True)
    stats = db.select("summary_with_stats", columns=["index", "accuracy"])
    assert [r["index"] for r in stats] == ["count", "mean", "std", "min", "25%", "50%", "75%", "max"]


def test_to_dataframe_table_or_query(db):
    """A bare name reads the table (with columns/where/index_col); other text runs as a query."""
    db.create_table("my table", {"id": "INTEGER PRIMARY KEY", "score": "REAL", "tag": "TEXT"})
    db.insert_many("my table", [{"score": i * 1.5, "tag": "odd" if i % 2 else "even"} for i in range(6)])
    db.create_table("plain", {"x": "INTEGER"})
    db.insert("plain", {"x": 7})
    assert db.to_dataframe("plain")["x"].tolist() == [7]
    whole = db.to_dataframe("my table", index_col="id")
    assert whole.index.name == "id" and len(whole) == 6
    some = db.to_dataframe("my table", columns=["tag"], where="score > ?", params=[4])
    assert list(some.columns) == ["tag"] and sorted(some["tag"]) == ["even", "odd", "odd"]
    query = db.to_dataframe('SELECT tag, COUNT(*) AS n FROM "my table" GROUP BY tag ORDER BY tag')
    assert query.to_dict("list") == {"tag": ["even", "odd"], "n": [3, 3]}
    assert str(query["n"].dtype) == "int64"
    with pytest.raises(mngs.db.ArgumentError, match="table name"):
        db.to_dataframe("SELECT * FROM plain", where="x > 1")
    with pytest.raises(mngs.db.ProgrammingError):
        db.to_dataframe("no_such_table")


def test_to_dataframe_of_no_rows_keeps_the_columns(db):
    """An empty result is an empty frame with the result's columns."""
    db.create_table("empty", {"a": "INTEGER", "b": "TEXT"})
    out = db.to_dataframe("empty")
    assert list(out.columns) == ["a", "b"] and len(out) == 0


def test_numpy_scalars_in_object_columns(db):
    """numpy scalars inside object columns are stored as plain numbers."""
    df = pd.DataFrame({"o": pd.Series([np.int64(3), np.float64(2.5), None], dtype=object)})
    db.from_dataframe(df, "npy")
    assert [r["o"] for r in db.select("npy")] == [3, 2.5, None]


def test_large_frame_in_small_batches(db):
    """A few thousand rows written in batches of 250 all arrive, in order."""
    n = 3000
    df = pd.DataFrame({"k": np.arange(n), "v": np.linspace(0, 1, n), "s": [f"r{i}" for i in range(n)]})
    assert db.from_dataframe(df, "big", batch_size=250) == n
    back = db.to_dataframe("SELECT * FROM big ORDER BY k")
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    assert str(back["k"].dtype) == "int64"


def test_bad_frames_are_refused_before_writing(db):
    """Duplicate or multi-level column names, durations and non-frames raise ArgumentError."""
    dup = pd.DataFrame([[1, 2]], columns=["a", "a"])
    multi = pd.DataFrame([[1]], columns=pd.MultiIndex.from_tuples([("a", "b")]))
    durations = pd.DataFrame({"d": pd.to_timedelta([1, 2], unit="s")})
    for frame in (dup, multi, durations, [{"a": 1}]):
        with pytest.raises(mngs.db.ArgumentError):
            db.from_dataframe(frame, "never")
    assert not db.table_exists("never")


def test_missing_pandas_names_the_extra(db, monkeypatch):
    """Without pandas, the DataFrame methods raise an error naming the extra to install."""
    db.create_table("t", {"a": "INTEGER"})
    frame = pd.DataFrame({"a": [1]})
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(mngs.db.NotSupportedError, match=r"pip install 'mngs-db\[pandas\]'"):
        db.to_dataframe("t")
    with pytest.raises(mngs.db.NotSupportedError, match=r"mngs-db\[pandas\]"):
        db.from_dataframe(frame, "t", if_exists="append")
    assert db.count("t") == 0


def test_to_dataframe_in_chunks_types_each_column_as_a_whole(db, monkeypatch):
    """Read in chunks of two rows, each column gets the dtype the whole column calls for (NULLs
    in a late chunk, a chunk of only NULLs) and the frame equals the one read at once."""
    db.create_table("c", {"k": "INTEGER", "i": "INTEGER", "f": "REAL", "b": "BOOLEAN", "s": "TEXT",
                          "t": "TIMESTAMP", "by": "BLOB"})  # fmt: skip
    n = None
    db.insert_many("c", [
        {"k": 0, "i": 1, "f": n, "b": True, "s": "a", "t": n, "by": b"x"},
        {"k": 1, "i": 2, "f": n, "b": False, "s": n, "t": n, "by": n},
        {"k": 2, "i": 3, "f": 0.5, "b": True, "s": "c", "t": dt.datetime(2025, 1, 1), "by": n},
        {"k": 3, "i": 4, "f": 1.5, "b": False, "s": "d", "t": dt.datetime(2025, 1, 2), "by": n},
        {"k": 4, "i": n, "f": 2.5, "b": n, "s": "e", "t": n, "by": b"y"},
    ])  # fmt: skip
    whole = db.to_dataframe("SELECT * FROM c ORDER BY k")
    monkeypatch.setattr(mngs.db.transfer, "_FRAME_ROWS", 2)
    monkeypatch.setattr(db._dialect, "stream_size", 2)
    chunked = db.to_dataframe("SELECT * FROM c ORDER BY k")
    pd.testing.assert_frame_equal(chunked, whole)
    dtypes = [str(chunked[c].dtype) for c in ["k", "i", "f", "b", "t"]]
    assert dtypes == ["int64", "Int64", "float64", "boolean", "datetime64[us]"]
    assert chunked["i"].isna().tolist() == [False] * 4 + [True]
    assert chunked["by"].tolist() == [b"x", None, None, None, b"y"]


def test_to_dataframe_of_statements_that_return_rows(db):
    """Statements other than queries that return rows (RETURNING) give frames, even with no
    rows; a statement returning none is an ArgumentError."""
    db.create_table("r", {"k": "INTEGER", "s": "TEXT"})
    db.insert_many("r", [{"k": 1, "s": "a"}, {"k": 2, "s": "b"}])
    changed = db.to_dataframe("UPDATE r SET s = 'z' WHERE k = 2 RETURNING k, s")
    assert changed.to_dict("list") == {"k": [2], "s": ["z"]}
    none = db.to_dataframe("UPDATE r SET s = 'z' WHERE k < 0 RETURNING k, s")
    assert list(none.columns) == ["k", "s"] and len(none) == 0
    assert list(db.to_dataframe("SELECT k FROM r WHERE k < 0 -- no rows").columns) == ["k"]
    with pytest.raises(mngs.db.ArgumentError, match="returns rows"):
        db.to_dataframe("DELETE FROM r WHERE k < 0")
    assert db.count("r") == 2
