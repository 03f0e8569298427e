"""Round-trip properties for values and hostile identifiers, on both backends (hypothesis)."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import mngs.db

PROPERTY = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOATS = st.floats(allow_nan=False)  # NaN is not equal to itself; SQLite stores it as NULL
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"))
BINARY = st.binary(max_size=200)
# Whole-minute offsets within a day; years 2..9998 so the UTC instant stays a valid datetime.
OFFSETS = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda m: dt.timezone(dt.timedelta(minutes=m))
)
AWARE = st.datetimes(
    min_value=dt.datetime(2, 1, 1), max_value=dt.datetime(9998, 12, 31), timezones=OFFSETS
)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
JSON_DOCUMENTS = st.lists(JSON_VALUES, max_size=5) | st.dictionaries(TEXT, JSON_VALUES, max_size=5)


def roundtrip(db, sqltype: str, value):
    """Insert ``value`` into a column of ``sqltype`` and return what select() gives back."""
    table = f"rt {sqltype}"  # one table per column type
    db.create_table(table, {"id": "INTEGER PRIMARY KEY", "v": sqltype})
    new_id = db.insert(table, {"v": value})
    rows = db.select(table, columns=["v"], where={"id": new_id})
    assert len(rows) == 1
    return rows[0]["v"]


# -- scalar round trips --------------------------------------------------------------------------


@PROPERTY
@given(value=INT64)
@pytest.mark.parametrize("sqltype", ["BIGINT", "INTEGER"])
def test_int64_round_trip(db, sqltype, value):
    """Every 64-bit int comes back as the same int (SQLite INTEGER is 64-bit; PG needs BIGINT)."""
    if sqltype == "INTEGER" and not -(2**31) <= value < 2**31 and db.backend == "postgresql":
        value = value % 2**31  # PostgreSQL INTEGER is 32-bit by definition
    back = roundtrip(db, sqltype, value)
    assert back == value and type(back) is int


@PROPERTY
@given(value=FLOATS)
@pytest.mark.parametrize("sqltype", ["REAL", "DOUBLE PRECISION"])
def test_float_round_trip(db, sqltype, value):
    """Every non-NaN float, ±inf included, comes back exactly (REAL is 8 bytes on both backends:
    it is rewritten to DOUBLE PRECISION on PostgreSQL). SQLite drops the sign of -0.0."""
    back = roundtrip(db, sqltype, value)
    assert back == value and type(back) is float


@PROPERTY
@given(value=TEXT)
def test_text_round_trip(db, value):
    """Any unicode text without NUL comes back unchanged."""
    assert roundtrip(db, "TEXT", value) == value


@PROPERTY
@given(value=BINARY, kind=st.sampled_from([bytes, bytearray, memoryview]))
def test_binary_round_trip(db, value, kind):
    """bytes, bytearray and memoryview all come back as equal bytes (BLOB / BYTEA)."""
    back = roundtrip(db, "BLOB", kind(value))
    assert back == value and type(back) is bytes


@PROPERTY
@given(value=st.booleans())
def test_bool_round_trip(db, value):
    """True and False come back as bool from a BOOLEAN column."""
    assert roundtrip(db, "BOOLEAN", value) is value


@PROPERTY
@given(value=st.datetimes())
def test_naive_datetime_round_trip(db, value):
    """Naive datetimes, microseconds included, come back equal and naive (TIMESTAMP)."""
    back = roundtrip(db, "TIMESTAMP", value)
    assert back == value and back.tzinfo is None


@PROPERTY
@given(value=AWARE)
def test_aware_datetime_round_trip(db, value):
    """Aware datetimes come back aware and denoting the same instant (TIMESTAMPTZ)."""
    back = roundtrip(db, "TIMESTAMPTZ", value)
    assert isinstance(back, dt.datetime) and back.tzinfo is not None
    assert back == value


@PROPERTY
@given(value=st.dates())
def test_date_round_trip(db, value):
    """Dates come back as equal date objects (DATE)."""
    back = roundtrip(db, "DATE", value)
    assert back == value and type(back) is dt.date


@PROPERTY
@given(value=st.times())
def test_time_round_trip(db, value):
    """Naive times, microseconds included, come back as equal time objects (TIME)."""
    back = roundtrip(db, "TIME", value)
    assert back == value and type(back) is dt.time


DECIMALS = st.builds(
    lambda digits, exponent: Decimal(digits).scaleb(exponent),
    st.integers(min_value=-(10**15 - 1), max_value=10**15 - 1),
    st.integers(min_value=-30, max_value=30),
).filter(lambda d: not 2**53 <= abs(d) < 2**63)


@PROPERTY
@given(value=DECIMALS)
def test_decimal_round_trip(db, value):
    """Decimals come back as equal Decimals from a DECIMAL column.

    Limited to 15 significant digits: SQLite has no decimal storage class, and a DECIMAL column
    (NUMERIC affinity) stores a number-like text as an 8-byte REAL, which keeps only 15
    significant digits. Integral values in [2**53, 2**63) are left out too: SQLite turns such a
    REAL into the nearest INTEGER, exposing the binary rounding (5.76460752305E+17 comes back as
    576460752304999936). PostgreSQL's NUMERIC is exact at any precision.
    """
    back = roundtrip(db, "DECIMAL", value)
    assert back == value and isinstance(back, Decimal)


def test_decimal_exact_at_high_precision_on_postgresql(pg_db):
    """On PostgreSQL NUMERIC keeps every digit of a 40-digit Decimal."""
    value = Decimal("1234567890.123456789012345678901234567890")
    assert roundtrip(pg_db, "NUMERIC", value) == value


@PROPERTY
@given(value=JSON_DOCUMENTS)
def test_json_round_trip(db, value):
    """dicts and lists of JSON values come back equal from a JSON column."""
    back = roundtrip(db, "JSON", value)
    assert back == value and type(back) is type(value)


@pytest.mark.parametrize("value", [{"a": [1, 2.5, None, True], "b": {"c": "ü"}}, [1, "two", {"3": []}]])
def test_jsonb_round_trip(db, value):
    """dicts and lists also come back from a JSONB column (JSON text on SQLite)."""
    assert roundtrip(db, "JSONB", value) == value


@PROPERTY
@given(
    value=st.one_of(
        INT64.map(np.int64),
        st.integers(min_value=-(2**31), max_value=2**31 - 1).map(np.int32),
        FLOATS.map(np.float64),
        st.booleans().map(np.bool_),
    )
)
def test_numpy_scalar_round_trip(db, value):
    """numpy int/float/bool scalars are stored and come back as plain Python values."""
    sqltype = {np.int64: "BIGINT", np.int32: "BIGINT", np.float64: "REAL", np.bool_: "BOOLEAN"}[type(value)]
    back = roundtrip(db, sqltype, value)
    expected = value.item()
    assert back == expected and type(back) is type(expected)


ALL_TYPES = {
    "i": "BIGINT", "f": "REAL", "s": "TEXT", "b": "BLOB", "flag": "BOOLEAN", "ts": "TIMESTAMP",
    "tstz": "TIMESTAMPTZ", "d": "DATE", "t": "TIME", "n": "DECIMAL", "j": "JSON",
}


def test_none_round_trips_in_every_type(db):
    """None is stored as NULL and comes back as None in a column of every type."""
    db.create_table("nulls", {"id": "INTEGER PRIMARY KEY", **ALL_TYPES})
    new_id = db.insert("nulls", dict.fromkeys(ALL_TYPES))
    db.insert_many("nulls", [dict.fromkeys(ALL_TYPES)] * 2)
    rows = db.select("nulls", columns=list(ALL_TYPES))
    assert rows == [dict.fromkeys(ALL_TYPES)] * 3
    assert db.count("nulls", where={"j": None, "b": None, "id": new_id}) == 1


def test_insert_many_round_trips_every_type(db):
    """insert_many (COPY on PostgreSQL) stores every supported type as faithfully as insert."""
    row = {
        "i": 2**62, "f": float("-inf"), "s": "é\n\t'\"\\", "b": b"\x00\xff", "flag": False,
        "ts": dt.datetime(2024, 2, 29, 23, 59, 59, 999999),
        "tstz": dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        "d": dt.date(1, 1, 1), "t": dt.time(0, 0, 0, 1), "n": Decimal("-12.50"),
        "j": {"k": [1, None, "x\\y"]},
    }
    db.create_table("all_types", {"id": "INTEGER PRIMARY KEY", **ALL_TYPES})
    db.insert_many("all_types", [row, {**row, "b": bytearray(b"ab"), "i": np.int64(3)}])
    first, second = db.select("all_types", columns=list(ALL_TYPES), order_by="id")
    assert first == row
    assert second == {**row, "b": b"ab", "i": 3}


# -- values a backend cannot store ---------------------------------------------------------------


def test_nul_in_text_is_data_error_on_postgresql(pg_db):
    """PostgreSQL text cannot hold NUL: insert, insert_many and update raise DataError naming the
    column, and nothing is written."""
    pg_db.create_table("notes", {"id": "INTEGER PRIMARY KEY", "title": "TEXT", "body": "TEXT"})
    pg_db.insert("notes", {"title": "kept", "body": "fine"})
    with pytest.raises(mngs.db.DataError, match="column 'body'"):
        pg_db.insert("notes", {"title": "t", "body": "a\x00b"})
    with pytest.raises(mngs.db.DataError, match="column 'body'"):
        pg_db.insert_many("notes", [{"title": "ok", "body": "ok"}, {"title": "t", "body": "a\x00b"}])
    with pytest.raises(mngs.db.DataError, match="column 'title'"):
        pg_db.update("notes", {"title": "\x00"}, where={"title": "kept"})
    assert pg_db.select("notes", columns=["title", "body"]) == [{"title": "kept", "body": "fine"}]


def test_lone_surrogate_is_data_error_naming_the_column(db):
    """Text that is not valid unicode (a lone surrogate) raises DataError naming the column."""
    db.create_table("notes", {"id": "INTEGER PRIMARY KEY", "body": "TEXT"})
    with pytest.raises(mngs.db.DataError, match="column 'body'"):
        db.insert("notes", {"body": "bad \ud800 text"})
    assert db.count("notes") == 0


@PROPERTY
@given(value=st.text(min_size=1).map(lambda s: s + "\x00" + s))
def test_nul_in_text_round_trips_on_sqlite(sqlite_db, value):
    """SQLite text can hold NUL: it comes back unchanged."""
    assert roundtrip(sqlite_db, "TEXT", value) == value


# -- hostile identifiers ---------------------------------------------------------------------------

NASTY_NAMES = [
    "select", "order", "table", "group", "user", "from", "where", "Robert'); DROP TABLE rt;--",
    'a"b', '"', '""', "a'b", "a;b", "a b", " leading", "trailing ", "Ünïcödé", "名前", "--x", "/*x*/",
    "a.b", "oid", "rowid", "%s", "%(x)s", "?", ":name", "$1", "$$", "\n", "\\", "MixedCase",
    "x" * 63, "é" * 32,
]
# Names the servers themselves reserve; see test_reserved_names_are_identifier_errors.
RESERVED = {"sqlite": lambda name: name[:7].lower() == "sqlite_",
            "postgresql": lambda name: name.lower() in ("ctid", "xmin", "xmax", "cmin", "cmax", "tableoid")}
IDENTIFIERS = st.sampled_from(NASTY_NAMES) | st.text(min_size=0, max_size=70)


def _refused(db, name: str) -> bool:
    """Whether the backend must refuse ``name`` (before any SQL runs)."""
    too_long = db.backend == "postgresql" and len(name.encode("utf-8")) > 63
    return not name or "\x00" in name or too_long


@PROPERTY
@given(table=IDENTIFIERS, column=IDENTIFIERS)
def test_hostile_identifiers_work_or_are_refused_before_sql(db, caplog, table, column):
    """Any table/column name either works for create/insert/select/update/delete/get_columns, or is
    refused with IdentifierError before any SQL runs; no name is ever spliced into SQL."""
    assume(not RESERVED[db.backend](table) and not RESERVED[db.backend](column))
    assert db.list_tables() == []
    if _refused(db, table) or _refused(db, column):
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="mngs.db"):
            with pytest.raises(mngs.db.IdentifierError) as info:
                db.create_table(table, {column: "TEXT"})
        assert isinstance(info.value, ValueError)
        assert not [r for r in caplog.records if r.name == "mngs.db"]
        assert db.list_tables() == []
        return
    db.create_table(table, {column: "TEXT"})
    try:
        assert db.list_tables() == [table]
        assert [c["name"] for c in db.get_columns(table)] == [column]
        db.insert(table, {column: "v1"})
        db.insert_many(table, [{column: "v2"}, {column: None}])
        assert db.select(table, columns=[column], where={column: "v1"}) == [{column: "v1"}]
        assert db.count(table, where={column: None}) == 1
        assert db.update(table, {column: "v3"}, where={column: "v2"}) == 1
        assert sorted(r[column] or "" for r in db.select(table, columns=[column])) == ["", "v1", "v3"]
        assert db.delete(table, where={column: ("v1", "v3")}) == 2
        assert db.select(table) == [{column: None}]
    finally:
        db.drop_table(table)
    assert db.list_tables() == []


def test_reserved_names_are_identifier_errors(db):
    """Names the backend reserves are refused with IdentifierError, leaving the database as it was."""
    table, column = ("sqlite_stuff", "x") if db.backend == "sqlite" else ("stuff", "ctid")
    with pytest.raises(mngs.db.IdentifierError):
        db.create_table(table, {column: "TEXT"})
    assert db.list_tables() == []


@pytest.mark.parametrize("name", ["", "a\x00b", "\x00"])
def test_empty_or_nul_names_are_identifier_errors(db, name):
    """Empty names and names with NUL raise IdentifierError (a ValueError) everywhere."""
    db.create_table("ok", {"x": "INTEGER"})
    calls = [
        lambda: db.create_table(name, {"x": "INTEGER"}),
        lambda: db.create_table("ok2", {name: "INTEGER"}),
        lambda: db.insert("ok", {name: 1}),
        lambda: db.select(name),
        lambda: db.select("ok", columns=[name]),
        lambda: db.select("ok", where={name: 1}),
        lambda: db.update("ok", {name: 1}, where={"x": 1}),
        lambda: db.delete(name, where={"x": 1}),
        lambda: db.count(name),
        lambda: db.get_columns(name),
    ]
    for call in calls:
        with pytest.raises(mngs.db.IdentifierError):
            call()
    assert db.list_tables() == ["ok"]


def test_long_names_refused_on_postgresql(pg_db):
    """On PostgreSQL a name over 63 bytes raises IdentifierError instead of being truncated."""
    with pytest.raises(mngs.db.IdentifierError, match="63"):
        pg_db.create_table("t" * 64, {"x": "INTEGER"})
    with pytest.raises(mngs.db.IdentifierError, match="63"):
        pg_db.create_table("t", {"é" * 32: "INTEGER"})  # 32 characters, 64 bytes
    assert pg_db.list_tables() == []
    pg_db.create_table("t" * 63, {"x": "INTEGER"})
    assert pg_db.list_tables() == ["t" * 63]


def test_long_names_work_on_sqlite(sqlite_db):
    """SQLite has no identifier length limit: a 200-character name works."""
    name = "n" * 200
    sqlite_db.create_table(name, {name: "INTEGER"})
    sqlite_db.insert(name, {name: 1})
    assert sqlite_db.select(name) == [{name: 1}]


def test_codecs_survive_another_library_replacing_them(sqlite_db):
    """When another library re-registers sqlite3's process-wide datetime codecs (pandas does,
    whenever it writes to a sqlite3 connection), mngs.db still reads and writes its own way."""
    import sqlite3

    sqlite_db.create_table("events", {"at": "TIMESTAMP"})
    sqlite3.register_converter("TIMESTAMP", lambda raw: "hijacked")
    sqlite3.register_adapter(dt.datetime, lambda value: "hijacked")
    moment = dt.datetime(2025, 5, 30, 12, 0, 1)
    sqlite_db.insert("events", {"at": moment})
    sqlite_db.insert("events", {"at": "not a date"})
    assert [r["at"] for r in sqlite_db.select("events")] == [moment, "not a date"]
