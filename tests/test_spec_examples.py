"""The code examples of the design document (shared/spec/mngs-db.md), run as written.

Sections covered: "Database Implementations", "Core Features" 1-5, "Best Practices" 1-3 and
"Troubleshooting". Each example's code is copied verbatim into its test; the test only sets up
what the example presupposes (its tables, and ``db`` bound to the fixture's handle) and then
checks the outcome. Where an example has ``...`` placeholders, the test uses the nearest
runnable form and its docstring says so.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap

import pytest

import mngs.db

RESEARCH_DB_LOCK = "mngs.db spec example research_db"


# -- Database Implementations -----------------------------------------------------------------


def test_database_implementations_sqlite3_example(tmp_path, monkeypatch, capsys):
    """Database Implementations / 1. SQLite3 Database: the example runs as written in a tmp cwd."""
    monkeypatch.chdir(tmp_path)

    # Create/connect to SQLite database
    db = mngs.db.SQLite3("my_data.db")

    # Create a table
    db.create_table(
        "experiments",
        {
            "id": "INTEGER PRIMARY KEY AUTOINCREMENT",
            "name": "TEXT NOT NULL",
            "timestamp": "DATETIME DEFAULT CURRENT_TIMESTAMP",
            "accuracy": "REAL",
            "parameters": "TEXT"
        }
    )

    # Insert data
    db.insert("experiments", {
        "name": "exp_001",
        "accuracy": 0.95,
        "parameters": '{"lr": 0.001, "batch_size": 32}'
    })

    # Query data
    results = db.select("experiments", where="accuracy > 0.9")
    print(results)

    # Close connection
    db.close()

    assert db.closed
    assert "'name': 'exp_001'" in capsys.readouterr().out
    assert len(results) == 1
    row = results[0]
    assert (row["id"], row["name"], row["accuracy"]) == (1, "exp_001", 0.95)
    assert row["parameters"] == '{"lr": 0.001, "batch_size": 32}'
    assert isinstance(row["timestamp"], dt.datetime)
    with mngs.db.SQLite3(tmp_path / "my_data.db") as again:
        assert again.select("experiments", columns=["name"]) == [{"name": "exp_001"}]


@pytest.fixture
def research_db(pg_dsn):
    """Role ``researcher`` and database ``research_db`` as the PostgreSQL example expects them.

    Created if missing (as the server's superuser from ``pg_dsn``); the example's table is
    dropped before and after. An advisory lock keeps concurrent test runs from sharing it.
    """
    import psycopg
    from psycopg.conninfo import make_conninfo

    research_dsn = make_conninfo(pg_dsn, dbname="research_db")
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_advisory_lock(hashtext(%s))", [RESEARCH_DB_LOCK])
        try:
            if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'researcher'").fetchone():
                try:
                    admin.execute("CREATE ROLE researcher")
                except psycopg.errors.DuplicateObject:
                    pass
            admin.execute("ALTER ROLE researcher LOGIN PASSWORD 'secure_password'")
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = 'research_db'").fetchone():
                try:
                    admin.execute("CREATE DATABASE research_db OWNER researcher")
                except psycopg.errors.DuplicateDatabase:
                    pass
            with psycopg.connect(research_dsn, autocommit=True) as conn:
                conn.execute("GRANT USAGE, CREATE ON SCHEMA public TO researcher")
                conn.execute("DROP TABLE IF EXISTS public.neural_recordings")
            yield research_dsn
            with psycopg.connect(research_dsn, autocommit=True) as conn:
                conn.execute("DROP TABLE IF EXISTS public.neural_recordings")
        finally:
            admin.execute("SELECT pg_advisory_unlock(hashtext(%s))", [RESEARCH_DB_LOCK])


@pytest.mark.postgresql
def test_database_implementations_postgresql_example(research_db):
    """Database Implementations / 2. PostgreSQL Database: connects as written, creates the table
    and its composite index."""
    # Connect to PostgreSQL
    db = mngs.db.PostgreSQL(
        dbname="research_db",
        user="researcher",
        password="secure_password",
        host="localhost",
        port=5432
    )

    # Create table with advanced features
    db.create_table(
        "neural_recordings",
        {
            "id": "SERIAL PRIMARY KEY",
            "subject_id": "VARCHAR(50) NOT NULL",
            "session_date": "DATE",
            "recording_data": "BYTEA",
            "metadata": "JSONB",
            "created_at": "TIMESTAMP DEFAULT CURRENT_TIMESTAMP"
        }
    )

    # Create index for performance
    db.create_index("neural_recordings", ["subject_id", "session_date"])

    try:
        assert "secure_password" not in repr(db)
        assert [c["name"] for c in db.get_columns("neural_recordings")] == [
            "id", "subject_id", "session_date", "recording_data", "metadata", "created_at"
        ]
        assert {
            "name": "idx_neural_recordings_subject_id_session_date",
            "columns": ["subject_id", "session_date"],
            "unique": False,
            "primary": False,
        } in db.list_indexes("neural_recordings")
        new_id = db.insert("neural_recordings", {
            "subject_id": "S01", "session_date": dt.date(2025, 5, 30),
            "recording_data": b"\x00\x01", "metadata": {"channels": 64},
        })
        row = db.select("neural_recordings", where={"id": new_id})[0]
        assert (row["recording_data"], row["metadata"]) == (b"\x00\x01", {"channels": 64})
        assert isinstance(row["created_at"], dt.datetime)
    finally:
        db.close()


# -- Core Features --------------------------------------------------------------------------------


def test_core_features_1_basic_crud(db):
    """Core Features / 1. Basic CRUD Operations: insert, select, update and delete as written."""
    db.create_table("users", {"id": "INTEGER PRIMARY KEY", "name": "TEXT", "email": "TEXT",
                              "score": "REAL"})
    db.insert("users", {"name": "Low Scorer", "email": "low@example.com", "score": 20.0})

    # CREATE - Insert single record
    db.insert("users", {
        "name": "Alice Smith",
        "email": "alice@example.com",
        "score": 85.5
    })

    # READ - Select with conditions
    users = db.select(
        "users",
        columns=["name", "email"],
        where="score > 80",
        order_by="score DESC",
        limit=10
    )

    # UPDATE - Modify records
    db.update(
        "users",
        data={"score": 90.0},
        where="name = 'Alice Smith'"
    )

    # DELETE - Remove records
    db.delete("users", where="score < 50")

    assert users == [{"name": "Alice Smith", "email": "alice@example.com"}]
    assert db.select("users") == [
        {"id": 2, "name": "Alice Smith", "email": "alice@example.com", "score": 90.0}
    ]


def test_core_features_2_batch_operations(db):
    """Core Features / 2. Batch Operations: insert_many then update_many by id, as written."""
    db.create_table("users", {"id": "INTEGER PRIMARY KEY", "name": "TEXT", "score": "REAL"})

    # Batch insert
    records = [
        {"name": "User1", "score": 75},
        {"name": "User2", "score": 82},
        {"name": "User3", "score": 91}
    ]
    db.insert_many("users", records)

    # Batch update
    updates = [
        {"id": 1, "score": 80},
        {"id": 2, "score": 85},
        {"id": 3, "score": 90}
    ]
    db.update_many("users", updates, key="id")

    assert db.select("users", order_by="id") == [
        {"id": 1, "name": "User1", "score": 80},
        {"id": 2, "name": "User2", "score": 85},
        {"id": 3, "name": "User3", "score": 90},
    ]


def _accounts(db) -> None:
    db.create_table("accounts", {"id": "INTEGER PRIMARY KEY", "name": "TEXT UNIQUE",
                                 "balance": "INTEGER CHECK (balance >= 0)"})


def test_core_features_3_transaction_context_manager(db):
    """Core Features / 3. Transaction Management (context manager): the transfer commits."""
    _accounts(db)

    # Context manager for automatic commit/rollback
    with db.transaction():
        db.insert("accounts", {"name": "Alice", "balance": 1000})
        db.insert("accounts", {"name": "Bob", "balance": 1000})

        # Transfer money
        db.update("accounts", {"balance": 900}, where="name = 'Alice'")
        db.update("accounts", {"balance": 1100}, where="name = 'Bob'")

        # If any operation fails, all changes are rolled back

    assert not db.in_transaction
    assert db.select("accounts", columns=["name", "balance"], order_by="name") == [
        {"name": "Alice", "balance": 900},
        {"name": "Bob", "balance": 1100},
    ]


def test_core_features_3_transaction_context_manager_rolls_back(db):
    """Core Features / 3. Transaction Management: "if any operation fails, all changes are
    rolled back" — the same block with a failing last update leaves no trace."""
    _accounts(db)
    with pytest.raises(mngs.db.IntegrityError):
        with db.transaction():
            db.insert("accounts", {"name": "Alice", "balance": 1000})
            db.insert("accounts", {"name": "Bob", "balance": 1000})
            db.update("accounts", {"balance": 900}, where="name = 'Alice'")
            db.update("accounts", {"balance": -1}, where="name = 'Bob'")  # violates the CHECK
    assert db.count("accounts") == 0
    db.insert("accounts", {"name": "Carol", "balance": 5})  # the handle is still usable
    assert db.count("accounts") == 1


def test_core_features_3_manual_transaction(db):
    """Core Features / 3. Transaction Management (manual): the example's ``db.insert(...)`` and
    ``db.update(...)`` are written out with concrete arguments; both are committed."""
    _accounts(db)

    # Manual transaction control
    db.begin_transaction()
    try:
        # Multiple operations
        db.insert("accounts", {"name": "Carol", "balance": 500})
        db.update("accounts", {"balance": 400}, where="name = 'Carol'")
        db.commit()
    except Exception as e:  # noqa: F841 - the spec's spelling
        db.rollback()
        raise

    assert not db.in_transaction
    assert db.select("accounts", columns=["name", "balance"]) == [{"name": "Carol", "balance": 400}]


def test_core_features_3_manual_transaction_rolls_back(db):
    """Core Features / 3. Transaction Management (manual): with the ``...`` filled in by an
    update that fails, the except branch rolls the insert back and re-raises."""
    _accounts(db)
    with pytest.raises(mngs.db.IntegrityError):
        db.begin_transaction()
        try:
            db.insert("accounts", {"name": "Carol", "balance": 500})
            db.update("accounts", {"balance": -100}, where="name = 'Carol'")
            db.commit()
        except Exception as e:  # noqa: F841 - the spec's spelling
            db.rollback()
            raise
    assert not db.in_transaction
    assert db.count("accounts") == 0


def test_core_features_4_schema_management(db, capsys):
    """Core Features / 4. Schema Management: inspect, drop, add/drop column and rename, as written."""
    db.create_table("experiments", {"id": "INTEGER PRIMARY KEY", "name": "TEXT",
                                    "deprecated_field": "TEXT"})
    db.insert("experiments", {"id": 1, "name": "exp_001", "deprecated_field": "x"})
    db.create_table("old_data", {"x": "INTEGER"})
    db.create_table("old_name", {"x": "INTEGER"})
    db.insert("old_name", {"x": 42})

    # Get table information
    tables = db.list_tables()
    print(f"Tables: {tables}")

    # Get column information
    columns = db.get_columns("experiments")
    print(f"Columns: {columns}")

    # Check if table exists
    if db.table_exists("old_data"):
        db.drop_table("old_data")

    # Alter table structure
    db.add_column("experiments", "notes", "TEXT")
    db.drop_column("experiments", "deprecated_field")

    # Rename table
    db.rename_table("old_name", "new_name")

    out = capsys.readouterr().out
    assert "Tables: ['experiments', 'old_data', 'old_name']" in out
    assert "Columns: [{'name': 'id'" in out
    assert tables == ["experiments", "old_data", "old_name"]
    assert [c["name"] for c in columns] == ["id", "name", "deprecated_field"]
    assert db.list_tables() == ["experiments", "new_name"]
    assert db.select("experiments") == [{"id": 1, "name": "exp_001", "notes": None}]
    assert db.select("new_name") == [{"x": 42}]


def test_core_features_5_index_management(db):
    """Core Features / 5. Index Management: create single, composite and unique indexes, drop
    idx_users_email by its default name, list the rest — as written."""
    db.create_table("users", {"id": "INTEGER PRIMARY KEY", "username": "TEXT", "email": "TEXT"})
    db.create_table("logs", {"user_id": "INTEGER", "timestamp": "TIMESTAMP", "message": "TEXT"})

    # Create single column index
    db.create_index("users", ["email"])

    # Create composite index
    db.create_index("logs", ["user_id", "timestamp"])

    # Create unique index
    db.create_index("users", ["username"], unique=True)

    # Drop index
    db.drop_index("users", "idx_users_email")

    # List all indexes
    indexes = db.list_indexes("users")

    assert [i for i in indexes if not i["primary"]] == [
        {"name": "idx_users_username", "columns": ["username"], "unique": True, "primary": False}
    ]
    assert db.list_indexes("logs") == [
        {"name": "idx_logs_user_id_timestamp", "columns": ["user_id", "timestamp"], "unique": False,
         "primary": False}
    ]
    db.insert("users", {"username": "ann"})
    with pytest.raises(mngs.db.IntegrityError):
        db.insert("users", {"username": "ann"})


# -- Best Practices -------------------------------------------------------------------------------


def test_best_practices_1_context_manager(tmp_path, monkeypatch):
    """Best Practices / 1. Connection Management (context manager): ``db.insert(...)`` written
    out with a concrete row; the handle is closed at the end of the block and the row is kept."""
    monkeypatch.chdir(tmp_path)
    with mngs.db.SQLite3("data.db") as setup:
        setup.create_table("notes", {"id": "INTEGER PRIMARY KEY", "text": "TEXT"})

    # Using context manager (recommended)
    with mngs.db.SQLite3("data.db") as db:
        db.insert("notes", {"text": "hello"})
        # Connection automatically closed

    assert db.closed
    with pytest.raises(mngs.db.ClosedError):
        db.select("notes")
    with mngs.db.SQLite3("data.db") as again:
        assert again.select("notes") == [{"id": 1, "text": "hello"}]


@pytest.mark.postgresql
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_best_practices_1_manual_management(db, pg_dsn):
    """Best Practices / 1. Connection Management (manual): ``PostgreSQL(...)`` gets the test
    server's DSN and this test's schema, ``db.insert(...)`` a concrete row; closed in finally."""
    check = db
    check.create_table("notes", {"id": "INTEGER PRIMARY KEY", "text": "TEXT"})
    schema = check.execute("SELECT current_schema() AS s")[0]["s"]

    # Manual management
    db = mngs.db.PostgreSQL(dsn=pg_dsn, options=f"-c search_path={schema}")
    try:
        db.insert("notes", {"text": "hello"})
    finally:
        db.close()

    assert db.closed
    assert check.select("notes") == [{"id": 1, "text": "hello"}]


def test_best_practices_2_parameterized_queries(db):
    """Best Practices / 2. SQL Injection Prevention: both forms as written, with ``request`` a
    dict holding a benign user id; the parameterized one finds the row."""
    db.create_table("users", {"id": "INTEGER PRIMARY KEY", "name": "TEXT"})
    db.insert_many("users", [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}])
    request = {"user_id": 2}

    # Good - parameterized
    user_id = request.get("user_id")
    results = db.select("users", where="id = ?", params=[user_id])
    assert results == [{"id": 2, "name": "bob"}]

    # Bad - string concatenation
    results = db.select("users", where=f"id = {user_id}")  # DON'T DO THIS
    assert results == [{"id": 2, "name": "bob"}]


def test_best_practices_2_parameter_is_never_sql(db):
    """Best Practices / 2. SQL Injection Prevention: a hostile value bound as a parameter is
    compared as a value, never run as SQL."""
    db.create_table("users", {"id": "INTEGER PRIMARY KEY", "name": "TEXT"})
    db.insert_many("users", [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}])
    hostile = "x' OR '1'='1"
    assert db.select("users", where="name = ?", params=[hostile]) == []
    assert db.select("users", where=f"name = '{hostile}'") != []  # why the spec says DON'T
    assert db.count("users") == 2


def test_best_practices_3_performance(db):
    """Best Practices / 3. Performance Optimization: the index, the batch insert and the loop,
    as written, with ``large_list`` 300 records."""
    db.create_table("logs", {"user_id": "INTEGER", "timestamp": "TIMESTAMP"})
    db.create_table("records", {"id": "INTEGER PRIMARY KEY", "name": "TEXT", "value": "REAL"})
    large_list = [{"name": f"r{i}", "value": i / 3} for i in range(300)]

    # Use indexes for frequently queried columns
    db.create_index("logs", ["timestamp", "user_id"])

    # Batch operations instead of loops
    # Good
    db.insert_many("records", large_list)

    # Bad
    for record in large_list:
        db.insert("records", record)

    assert [i["name"] for i in db.list_indexes("logs")] == ["idx_logs_timestamp_user_id"]
    assert db.count("records") == 600
    rows = db.select("records", columns=["name", "value"], order_by="id")
    assert rows == large_list + large_list


# -- Troubleshooting ------------------------------------------------------------------------------


@pytest.mark.postgresql
def test_troubleshooting_1_connection_errors(pg_dsn, capsys):
    """Troubleshooting / 1. Connection Errors: the try/except with ``PostgreSQL(...)`` given the
    test server's DSN prints success; with a missing database it prints the failure, password
    masked. (The ``sudo service postgresql status`` line is not run: it needs root.)"""
    # Test connection
    try:
        db = mngs.db.PostgreSQL(dsn=pg_dsn)
        print("Connection successful")
    except Exception as e:
        print(f"Connection failed: {e}")
    db.close()
    assert capsys.readouterr().out == "Connection successful\n"

    try:
        db = mngs.db.PostgreSQL(dsn=pg_dsn, dbname="mngs_no_such_database", password="hunter2")
        print("Connection successful")
    except Exception as e:
        print(f"Connection failed: {e}")
        assert isinstance(e, mngs.db.OperationalError)
    out = capsys.readouterr().out
    assert out.startswith("Connection failed: ") and "mngs_no_such_database" in out
    assert "hunter2" not in out


def test_troubleshooting_2_locked_database(tmp_path, monkeypatch):
    """Troubleshooting / 2. Locked Database (SQLite): timeout=30 and WAL mode, as written."""
    monkeypatch.chdir(tmp_path)

    # Set timeout for busy database
    db = mngs.db.SQLite3("data.db", timeout=30)

    # Enable WAL mode for better concurrency
    db.execute("PRAGMA journal_mode=WAL")

    try:
        assert db.execute("PRAGMA journal_mode") == [{"journal_mode": "wal"}]
        assert db.timeout == 30.0  # waits up to 30 s for a lock (SQLite busy handler + retries)
        db.create_table("t", {"x": "INTEGER"})
        db.insert("t", {"x": 1})
        assert (tmp_path / "data.db-wal").exists()
        with mngs.db.SQLite3("data.db") as reader:
            assert reader.select("t") == [{"x": 1}]
    finally:
        db.close()


def _users_with_scores(db) -> None:
    db.create_table("users", {"name": "TEXT", "score": "REAL"})
    db.insert_many("users", [{"name": "ann", "score": 90.0}, {"name": "bob", "score": 70.0}])


@pytest.mark.postgresql
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_troubleshooting_3_explain_analyze_postgresql(db):
    """Troubleshooting / 3. Performance Issues: ``EXPLAIN ANALYZE SELECT ...`` with a real
    SELECT on PostgreSQL returns the plan as rows."""
    _users_with_scores(db)

    # Analyze query performance
    plan = db.execute("EXPLAIN ANALYZE SELECT * FROM users WHERE score > 80")

    lines = [row["QUERY PLAN"] for row in plan]
    assert any("Seq Scan on users" in line for line in lines)
    assert any("actual time" in line for line in lines)
    assert any(line.startswith("Execution Time") for line in lines)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_troubleshooting_3_explain_query_plan_sqlite(db):
    """Troubleshooting / 3. Performance Issues: SQLite's spelling, ``EXPLAIN QUERY PLAN``,
    returns the plan as rows and shows when an index is used."""
    _users_with_scores(db)
    assert [r["detail"] for r in db.execute("EXPLAIN QUERY PLAN SELECT * FROM users WHERE score > 80")] == [
        "SCAN users"
    ]
    db.create_index("users", ["score"])
    details = [r["detail"] for r in db.execute("EXPLAIN QUERY PLAN SELECT * FROM users WHERE score > 80")]
    assert any("idx_users_score" in d for d in details)


def test_troubleshooting_3_list_indexes_loop(db, capsys):
    """Troubleshooting / 3. Performance Issues: the "check missing indexes" loop, as written."""
    _users_with_scores(db)
    db.create_table("logs", {"user_id": "INTEGER", "timestamp": "TIMESTAMP"})
    db.create_index("logs", ["user_id"])
    db.create_index("logs", ["timestamp"])

    # Check missing indexes
    tables = db.list_tables()
    for table in tables:
        indexes = db.list_indexes(table)
        print(f"{table}: {len(indexes)} indexes")

    assert capsys.readouterr().out == "logs: 2 indexes\nusers: 0 indexes\n"


_DEBUG_SCRIPT = '''
import sys
import mngs.db

{snippet}
backend, dsn = sys.argv[1], sys.argv[2]
db = mngs.db.SQLite3(":memory:") if backend == "sqlite" else mngs.db.PostgreSQL(dsn=dsn)
db.execute("SELECT ? AS secret_param", ["value-that-must-not-be-logged"])
db.close()
'''


def test_troubleshooting_debug_mode_logs_statements(backend, request):
    """Troubleshooting / Debug Mode: after the snippet, every statement is logged at DEBUG by
    ``mngs.db`` (run in a fresh interpreter, so the root logger starts unconfigured); parameter
    values are not logged."""
    snippet = textwrap.dedent('''
        import logging
        logging.basicConfig(level=logging.DEBUG)
        logger = logging.getLogger('mngs.db')
    ''')
    dsn = request.getfixturevalue("pg_dsn") if backend == "postgresql" else ""
    result = subprocess.run(
        [sys.executable, "-c", _DEBUG_SCRIPT.format(snippet=snippet), backend, dsn],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    logged = [line for line in result.stderr.splitlines() if line.startswith("DEBUG:mngs.db:")]
    assert any("SELECT ? AS secret_param" in line and " ms " in line for line in logged), result.stderr
    assert "value-that-must-not-be-logged" not in result.stderr
