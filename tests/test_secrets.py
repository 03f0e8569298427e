"""Nothing leaks out: no password anywhere in an exception, its chain or the driver's objects;
no parameter value in a message or a printed traceback; every bad value is a DataError naming
the table and column, with the database unchanged."""

from __future__ import annotations

import traceback
from typing import Any

import pytest

import mngs.db

PASSWORD = "Tr0ub4dor&3-horse"


def _everything_reachable(exc: BaseException) -> str:
    """The text of an exception, its chain, its driver_error and their attributes' reprs."""
    seen: set[int] = set()
    parts: list[str] = []

    def visit(obj: Any, depth: int = 0) -> None:
        if obj is None or id(obj) in seen or depth > 3:
            return
        seen.add(id(obj))
        parts.append(repr(obj))
        parts.append(str(obj))
        if isinstance(obj, BaseException):
            parts.extend(traceback.format_exception(obj))
            for linked in (obj.__cause__, obj.__context__, getattr(obj, "driver_error", None)):
                visit(linked, depth + 1)
        for value in getattr(obj, "__dict__", {}).values():
            visit(value, depth + 1)
        for name in ("pgconn", "pgresult", "diag"):
            try:
                visit(getattr(obj, name, None), depth + 1)
            except Exception:  # noqa: BLE001 - a property that cannot answer hides nothing
                pass

    visit(exc)
    return "\n".join(parts)


@pytest.mark.postgresql
@pytest.mark.parametrize(
    "make",
    [
        lambda dsn: mngs.db.PostgreSQL(dsn=f"{dsn} password={PASSWORD} port=1", connect_timeout=2),
        lambda dsn: mngs.db.PostgreSQL(dsn=f"{dsn} password={PASSWORD} dbname=no_such_db_mngs"),
        lambda dsn: mngs.db.PostgreSQL(dsn=f"{dsn} password='{PASSWORD} with space' dbname=no_such_db"),
        lambda dsn: mngs.db.PostgreSQL(dsn=f"host=127.0.0.1 password={PASSWORD} space in it"),
        lambda dsn: mngs.db.connect(f"postgresql://postgres:{PASSWORD}%zz@127.0.0.1/test"),
        lambda dsn: mngs.db.connect(f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/test?connect_timeout=2"),
    ],
    ids=["refused", "missing-db", "quoted", "malformed-dsn", "bad-escape-url", "url-refused"],
)
def test_no_password_anywhere_in_a_constructor_error(pg_dsn, make):
    """Every constructor error is the package's own type and holds no part of the password."""
    with pytest.raises(mngs.db.Error) as info:
        make(pg_dsn)
    text = _everything_reachable(info.value)
    assert PASSWORD not in text
    assert PASSWORD[:8] not in text and PASSWORD[-8:] not in text
    assert "Traceback" in text  # the walk really printed the traceback


def test_half_built_handle_has_a_working_repr():
    """A constructor that failed leaves an object whose repr works."""
    handle = mngs.db.SQLite3.__new__(mngs.db.SQLite3)
    assert "SQLite3" in repr(handle)
    handle.close()  # and closing it is harmless
    with pytest.raises(mngs.db.OperationalError, match="does not exist"):
        mngs.db.SQLite3("/no/such/folder/x.db")


def test_sqlite_open_failure_names_the_path_and_the_missing_folder(tmp_path):
    """A file in a folder that does not exist: the message names the path and the folder."""
    target = tmp_path / "missing" / "lab.db"
    with pytest.raises(mngs.db.OperationalError) as info:
        mngs.db.SQLite3(target)
    assert str(target) in str(info.value) and str(target.parent) in str(info.value)


@pytest.fixture
def typed(db):
    db.create_table(
        "vals",
        {"id": "INTEGER PRIMARY KEY", "n": "BIGINT", "name": "TEXT UNIQUE", "doc": "JSON", "x": "REAL"},
    )
    db.insert("vals", {"n": 1, "name": "taken", "doc": {"a": 1}, "x": 0.5})
    return db


SECRET_VALUE = "VAL-4f1c-secret-value"


@pytest.mark.parametrize(
    "call",
    [
        lambda db: db.insert("vals", {"name": "taken"}),
        lambda db: db.insert_many("vals", [{"name": "fresh"}, {"name": "taken"}]),
        lambda db: db.execute("INSERT INTO vals (name) VALUES (?)", ["taken"]),
        lambda db: db.insert("vals", {"n": SECRET_VALUE}) if db.backend == "postgresql" else db.insert(
            "vals", {"name": "taken", "n": 7}
        ),
    ],
    ids=["unique", "unique-many", "execute", "bad-text"],
)
def test_no_parameter_value_in_message_or_printed_traceback(typed, call):
    """The message and the traceback a user sees name the constraint, never the value."""
    db = typed
    db.update("vals", {"name": SECRET_VALUE}, where={"id": 1})
    db.insert("vals", {"name": "taken"})
    with pytest.raises(mngs.db.Error) as info:
        call(db)
    printed = "".join(traceback.format_exception(info.value))
    assert SECRET_VALUE not in printed
    assert "taken" not in str(info.value).replace("'taken'", "")  # only as no parameter
    assert "DETAIL" not in printed
    assert info.value.driver_error is not None  # still there for code that asks


@pytest.mark.parametrize(
    "values, column",
    [
        ({"n": 2**63}, "n"),
        ({"n": -(2**63) - 1}, "n"),
        ({"n": 10**30}, "n"),
        ({"doc": "deep"}, "doc"),
        ({"name": "bad \udc80 text"}, "name"),
    ],
    ids=["2**63", "-2**63-1", "10**30", "deep-json", "lone-surrogate"],
)
@pytest.mark.parametrize("how", ["insert", "insert_many"])
def test_bad_values_are_data_errors_naming_table_and_column(typed, values, column, how):
    """Out-of-range ints, JSON nested 100,000 deep and unencodable text are DataError naming
    the table and column; the table is unchanged (1 row before, 1 after)."""
    db = typed
    if values.get("doc") == "deep":
        deep: list = []
        cursor = deep
        for _ in range(100_000):
            cursor.append([])
            cursor = cursor[0]
        values = {"doc": deep}
    with pytest.raises(mngs.db.DataError) as info:
        if how == "insert":
            db.insert("vals", values)
        else:
            db.insert_many("vals", [{"n": 5}, values])
    message = str(info.value)
    assert "'vals'" in message
    if not (how == "insert_many" and db.backend == "postgresql" and column == "n"):
        assert f"'{column}'" in message
    assert db.count("vals") == 1


@pytest.mark.parametrize("name", ["t\udc80", "\ud800", "col\udfff"])
def test_names_that_are_not_unicode_text_are_refused(db, name):
    """A table or column name with a lone surrogate is an IdentifierError, before any SQL."""
    with pytest.raises(mngs.db.IdentifierError, match="surrogate"):
        db.create_table(name, {"a": "TEXT"})
    with pytest.raises(mngs.db.IdentifierError, match="surrogate"):
        db.create_table("ok", {name: "TEXT"})
    with pytest.raises(mngs.db.IdentifierError):
        db.insert(name, {"a": 1})
    assert db.list_tables() == []


def test_nan_is_refused_on_sqlite_and_kept_on_postgresql(db):
    """SQLite would store NaN as NULL: a single-row write of NaN is a DataError naming the
    column (nothing written); PostgreSQL stores NaN and reads it back as NaN."""
    import math

    db.create_table("m", {"id": "INTEGER PRIMARY KEY", "x": "REAL"})
    if db.backend == "sqlite":
        with pytest.raises(mngs.db.DataError, match="'x'"):
            db.insert("m", {"x": float("nan")})
        assert db.count("m") == 0
    else:
        db.insert("m", {"x": float("nan")})
        assert math.isnan(db.select("m")[0]["x"])
