"""Tests for the exception hierarchy, driver-error translation, messages and statement logging."""

from __future__ import annotations

import logging
import re
import sqlite3

import pytest

import mngs.db

SECRET_VALUE = "secret-value-123"


@pytest.fixture
def people(db):
    """A `people` table with a unique email, a NOT NULL name and a CHECK on age."""
    db.create_table(
        "people",
        {"id": "INTEGER PRIMARY KEY", "name": "TEXT NOT NULL", "email": "TEXT UNIQUE",
         "age": "INTEGER CHECK (age >= 0)"},
    )
    db.insert("people", {"name": "Ann", "email": SECRET_VALUE, "age": 30})
    return db


def _driver_error_class(db) -> type[BaseException]:
    if db.backend == "sqlite":
        return sqlite3.Error
    import psycopg

    return psycopg.Error


# -- hierarchy ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        ("InterfaceError", "Error"),
        ("DatabaseError", "Error"),
        ("DataError", "DatabaseError"),
        ("OperationalError", "DatabaseError"),
        ("IntegrityError", "DatabaseError"),
        ("InternalError", "DatabaseError"),
        ("ProgrammingError", "DatabaseError"),
        ("NotSupportedError", "DatabaseError"),
        ("ClosedError", "InterfaceError"),
        ("ArgumentError", "ProgrammingError"),
        ("IdentifierError", "ArgumentError"),
    ],
)
def test_dbapi_hierarchy(child, parent):
    """The exception tree follows DB-API 2.0 names, all under mngs.db.Error."""
    assert issubclass(getattr(mngs.db, child), getattr(mngs.db, parent))
    assert issubclass(getattr(mngs.db, child), mngs.db.Error)


def test_argument_and_identifier_errors_are_value_errors():
    """ArgumentError is a ValueError and a TypeError; IdentifierError is a ValueError."""
    assert issubclass(mngs.db.ArgumentError, ValueError)
    assert issubclass(mngs.db.ArgumentError, TypeError)
    assert issubclass(mngs.db.IdentifierError, ValueError)
    assert not issubclass(mngs.db.Error, (sqlite3.Error, ValueError))
    assert issubclass(mngs.db.Warning, Exception) and not issubclass(mngs.db.Warning, mngs.db.Error)


# -- translation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda db: db.select("no_such_table"),
        lambda db: db.count("no_such_table"),
        lambda db: db.insert("no_such_table", {"x": 1}),
        lambda db: db.insert_many("no_such_table", [{"x": 1}]),
        lambda db: db.update("no_such_table", {"x": 1}, where={"x": 2}),
        lambda db: db.delete("no_such_table", where={"x": 2}),
        lambda db: db.execute("SELECT * FROM no_such_table"),
        lambda db: list(db.select_iter("no_such_table")),
    ],
    ids=["select", "count", "insert", "insert_many", "update", "delete", "execute", "select_iter"],
)
def test_missing_table_is_programming_error(db, call):
    """Any operation on a missing table raises ProgrammingError naming it, on both backends."""
    with pytest.raises(mngs.db.ProgrammingError, match="no_such_table") as info:
        call(db)
    assert isinstance(info.value.driver_error, _driver_error_class(db))


def test_driver_error_kept_as_driver_error_not_chained(people):
    """The driver's exception is kept as ``driver_error``, not chained as ``__cause__``
    (a traceback would print the server's DETAIL lines, which quote the row)."""
    with pytest.raises(mngs.db.IntegrityError) as info:
        people.insert("people", {"name": "Bob", "email": SECRET_VALUE})
    assert isinstance(info.value.driver_error, _driver_error_class(people))
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert not isinstance(info.value, _driver_error_class(people))


def test_message_names_table_and_statement(people):
    """A translated error names the table and shows the statement."""
    with pytest.raises(mngs.db.IntegrityError) as info:
        people.insert("people", {"name": "Bob", "email": SECRET_VALUE})
    message = str(info.value)
    assert "table 'people'" in message
    assert re.search(r'statement: INSERT INTO "people"', message), message


def test_missing_column_is_programming_error(people):
    """A missing column in a read or write raises ProgrammingError naming the column."""
    with pytest.raises(mngs.db.ProgrammingError, match="shoe_size"):
        people.insert("people", {"name": "Bob", "shoe_size": 44})
    with pytest.raises(mngs.db.ProgrammingError, match="shoe_size"):
        people.select("people", where={"shoe_size": 44})
    with pytest.raises(mngs.db.ProgrammingError, match="shoe_size"):
        people.select("people", columns=["shoe_size"])
    assert people.count("people") == 1


def test_syntax_error_is_programming_error(db):
    """Malformed SQL raises ProgrammingError showing the statement."""
    with pytest.raises(mngs.db.ProgrammingError, match="SELEC FROM"):
        db.execute("SELEC FROM nowhere")


def test_wrong_number_of_params_is_programming_error(people):
    """Too few parameters for the placeholders raise ProgrammingError."""
    with pytest.raises(mngs.db.ProgrammingError):
        people.execute("SELECT * FROM people WHERE name = ? AND age = ?", ["Ann"])


def test_unique_violation_is_integrity_error(people):
    """A duplicate unique value raises IntegrityError on both backends; nothing changes."""
    with pytest.raises(mngs.db.IntegrityError):
        people.insert("people", {"name": "Bob", "email": SECRET_VALUE})
    with pytest.raises(mngs.db.IntegrityError):
        people.insert("people", {"id": 1, "name": "Bob"})
    assert people.count("people") == 1


def test_not_null_and_check_violations_are_integrity_errors(people):
    """NOT NULL and CHECK violations raise IntegrityError; the row is not stored."""
    with pytest.raises(mngs.db.IntegrityError, match="name"):
        people.insert("people", {"name": None})
    with pytest.raises(mngs.db.IntegrityError):
        people.insert("people", {"name": "Kid", "age": -1})
    with pytest.raises(mngs.db.IntegrityError):
        people.update("people", {"age": -5}, where={"name": "Ann"})
    assert people.select("people", columns=["name", "age"]) == [{"name": "Ann", "age": 30}]


def test_foreign_key_violation_is_integrity_error(db):
    """Referring to a missing parent row raises IntegrityError (foreign keys are enforced)."""
    db.create_table("parent", {"id": "INTEGER PRIMARY KEY"})
    db.create_table("child", {"id": "INTEGER PRIMARY KEY", "parent_id": "INTEGER REFERENCES parent(id)"})
    with pytest.raises(mngs.db.IntegrityError):
        db.insert("child", {"parent_id": 42})
    assert db.count("child") == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda db: db.insert("people", {"name": "Bob", "email": SECRET_VALUE}),
        lambda db: db.insert_many("people", [{"name": "Bob", "email": SECRET_VALUE}]),
        lambda db: db.insert("people", {"name": None, "email": SECRET_VALUE + "-x"}),
        lambda db: db.insert_many("people", [{"name": "C"}, {"name": None, "email": SECRET_VALUE + "y"}]),
        lambda db: db.update("people", {"age": -1}, where={"email": SECRET_VALUE}),
    ],
    ids=["unique-insert", "unique-insert_many", "not-null-insert", "not-null-insert_many", "check-update"],
)
def test_error_messages_never_contain_parameter_values(people, call):
    """Constraint errors name the table and constraint but never echo the values written."""
    with pytest.raises(mngs.db.IntegrityError) as info:
        call(people)
    assert SECRET_VALUE not in str(info.value)
    assert "people" in str(info.value)


# -- arguments are checked before any SQL runs -----------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda db: db.insert("people", ["name", "x"]),
        lambda db: db.insert_many("people", {"name": "x"}),
        lambda db: db.update("people", {"age": 1}),
        lambda db: db.delete("people"),
        lambda db: db.select("people", where=42),
        lambda db: db.select("people", where={"name": "x"}, params=["y"]),
        lambda db: db.select("people", limit=-1),
        lambda db: db.execute("SELECT ?", "x"),
        lambda db: db.update_many("people", [{"age": 1}]),
        lambda db: db.select("bad\x00name"),
    ],
    ids=["insert-list", "insert_many-dict", "update-no-where", "delete-no-where", "where-int",
         "dict-where-params", "negative-limit", "string-params", "update_many-no-key", "nul-name"],
)
def test_bad_arguments_raise_before_any_sql(people, caplog, call):
    """Bad arguments raise ArgumentError before a single statement is sent."""
    with caplog.at_level(logging.DEBUG, logger="mngs.db"):
        with pytest.raises(mngs.db.ArgumentError):
            call(people)
    statements = [r.getMessage() for r in caplog.records if r.name == "mngs.db"]
    assert not [s for s in statements if "people" in s or "bad" in s], statements
    assert people.count("people") == 1


# -- logging -------------------------------------------------------------------------------------


def test_every_statement_logged_with_duration_without_values(db, caplog):
    """At DEBUG, logger mngs.db logs each statement with its duration and never a value."""
    db.create_table("log_t", {"id": "INTEGER PRIMARY KEY", "secret": "TEXT", "n": "INTEGER"})
    with caplog.at_level(logging.DEBUG, logger="mngs.db"):
        db.insert("log_t", {"secret": SECRET_VALUE, "n": 1})
        db.insert_many("log_t", [{"secret": SECRET_VALUE + "-many", "n": i} for i in range(3)])
        db.select("log_t", where={"secret": SECRET_VALUE})
        db.select("log_t", where="secret = :s", params={"s": SECRET_VALUE})
        db.update("log_t", {"secret": SECRET_VALUE + "-new"}, where="secret = ?", params=[SECRET_VALUE])
        db.update_many("log_t", [{"id": 2, "secret": SECRET_VALUE + "-um"}])
        db.count("log_t", where={"secret": SECRET_VALUE + "-new"})
        db.execute("DELETE FROM log_t WHERE secret = ?", [SECRET_VALUE + "-um"])
        list(db.select_iter("log_t", where={"secret": SECRET_VALUE + "-many"}))
        with db.transaction():
            db.delete("log_t", where={"secret": SECRET_VALUE + "-new"})
    records = [r for r in caplog.records if r.name == "mngs.db"]
    messages = [r.getMessage() for r in records]
    assert all(r.levelno == logging.DEBUG for r in records)
    for verb in ("INSERT INTO", "SELECT", "UPDATE", "DELETE FROM", "COUNT(*)"):
        assert any(verb in m for m in messages), (verb, messages)
    timed = [m for m in messages if "log_t" in m]
    assert len(timed) >= 9
    assert all(re.match(r"^\d+\.\d+ ms\s", m) for m in timed), timed
    for record in records:
        assert SECRET_VALUE not in record.getMessage()
        assert SECRET_VALUE not in repr(record.args)
    assert SECRET_VALUE not in caplog.text


def test_nothing_logged_above_debug_for_normal_work(db, caplog):
    """Ordinary statements log nothing at INFO or above."""
    with caplog.at_level(logging.INFO, logger="mngs.db"):
        db.create_table("q", {"x": "INTEGER"})
        db.insert("q", {"x": 1})
        db.select("q")
    assert [r for r in caplog.records if r.name == "mngs.db"] == []


@pytest.mark.postgresql
def test_password_never_logged(pg_dsn, caplog):
    """A handle opened with a password never writes it to the log."""
    password = "pw-never-logged-991"
    with caplog.at_level(logging.DEBUG):
        with mngs.db.PostgreSQL(dsn=pg_dsn, password=password) as db:
            db.execute("SELECT 1")
            with pytest.raises(mngs.db.ProgrammingError) as info:
                db.execute("SELECT * FROM no_such_table_xyz")
    assert password not in caplog.text
    assert password not in str(info.value)
