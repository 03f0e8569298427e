"""Backup and restore: SQL dumps on both backends, SQLite binary copies, all-or-nothing restores."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import mngs.db
import mngs.gen

BLOB = bytes(range(256)) * 4
TEXT = "O'Brien \"quoted\" back\\slash\ttab\r\nline\n\\.\n-- not a comment; ünïcødé 🧪 'x'"
CONFIG = {"model": "resnet50", "optimizer": {"type": "adam", "betas": [0.9, 0.999]}, "none": None}
TABLES = ("experiments", "runs")
ONLY_POSTGRESQL = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True
)


def _populate(db: Any) -> None:
    """Two tables linked by a foreign key, with indexes, awkward values, and a deleted row
    so that each AUTOINCREMENT/serial counter is ahead of the largest id."""
    db.create_table(
        "experiments",
        {
            "id": "INTEGER PRIMARY KEY AUTOINCREMENT",
            "name": "TEXT NOT NULL",
            "accuracy": "REAL",
            "data": "BLOB",
            "config": "JSON",
            "created": "DATETIME",
            "done": "BOOLEAN",
        },
    )
    db.create_table(
        "runs",
        {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "experiment_id": "INTEGER NOT NULL", "value": "REAL"},
        foreign_keys=[("experiment_id", "experiments", "id")],
    )
    db.create_index("experiments", ["name"], unique=True)
    db.create_index("runs", ["experiment_id"])
    when = datetime(2025, 5, 30, 14, 3, 22, 123456)
    db.insert_many(
        "experiments",
        [
            {"name": TEXT, "accuracy": 0.1 + 0.2, "data": BLOB, "config": CONFIG, "created": when,
             "done": True},
            {"name": "nulls", "accuracy": None, "data": None, "config": None, "created": None, "done": None},
            {"name": "edge", "accuracy": float("inf"), "data": b"", "config": [1, "two", {"3": 4.5}],
             "created": when, "done": False},
            {"name": "deleted", "accuracy": 1.0, "data": b"x", "config": {}, "created": when, "done": True},
        ],
    )  # fmt: skip
    db.delete("experiments", where="name = ?", params=["deleted"])
    db.insert_many("runs", [{"experiment_id": 1, "value": 1.5}, {"experiment_id": 1, "value": 1e-300}])


def _state(db: Any, tables: tuple[str, ...] = TABLES) -> dict[str, Any]:
    """Everything a restore must bring back: rows, indexes, foreign keys, columns."""
    inspector = mngs.db.inspect(db)
    state: dict[str, Any] = {"tables": db.list_tables()}
    for table in tables:
        if table in state["tables"]:
            state[table] = {
                "rows": db.select(table, order_by="id"),
                "indexes": sorted(db.list_indexes(table), key=lambda i: i["name"]),
                "foreign_keys": inspector.get_foreign_keys(table),
                "columns": db.get_columns(table),
            }
    return state


def _reseal(path: Path, edit: Any) -> None:
    """Edit the body of a dump (``edit(text) -> text``) and write its checksum lines again, as
    a backup that was written that way would have them: for testing what the restore does."""
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-3].startswith("-- mngs.db rows: ") and lines[-2].startswith("-- mngs.db sha256: ")
    body = edit("\n".join(lines[:-3]) + "\n") + lines[-3] + "\n"
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    path.write_bytes((body + f"-- mngs.db sha256: {digest}\n").encode("utf-8"))


def _change(db: Any) -> None:
    """Insert, update, delete, drop a table and create another."""
    db.insert("experiments", {"name": "added after the backup"})
    db.update("experiments", {"accuracy": 0.5, "data": b"changed"}, where="name = ?", params=["nulls"])
    db.drop_table("runs")
    db.delete("experiments", where="name = ?", params=["edge"])
    db.create_table("extra", {"id": "INTEGER PRIMARY KEY", "note": "TEXT"})
    db.insert("extra", {"id": 1, "note": "not in the backup"})


@pytest.mark.parametrize("suffix", [".sql", ".db"])
def test_backup_change_restore_equals_original(db: Any, tmp_path: Path, suffix: str) -> None:
    """Backup, then change everything, then restore: rows, BLOBs, NULLs, JSON, indexes and
    foreign keys are back, tables made since are gone, and the next id is a fresh one."""
    _populate(db)
    original = _state(db)
    path = db.backup_database(tmp_path / f"backup{suffix}")
    assert path == tmp_path / f"backup{suffix}" and path.stat().st_size > 0
    _change(db)
    assert _state(db) != original

    db.restore_database(path)

    assert _state(db) == original
    assert db.select("experiments", columns=["data"], where={"name": TEXT}) == [{"data": BLOB}]
    assert db.insert("experiments", {"name": "after the restore"}) == 5  # 4, deleted before: not reused
    with pytest.raises(mngs.db.IntegrityError):
        db.insert("runs", {"experiment_id": 999, "value": 0.0})
    with pytest.raises(mngs.db.IntegrityError):
        db.insert("experiments", {"name": "nulls"})  # the unique index is back


def test_truncated_backup_changes_nothing(db: Any, tmp_path: Path) -> None:
    """A dump cut short anywhere (half of it, or just its last line) is refused before
    anything changes."""
    _populate(db)
    path = db.backup_database(tmp_path / "backup.sql")
    full = path.read_bytes()
    _change(db)
    changed = _state(db)
    for size in (len(full) // 2, full.rstrip().rfind(b"\n-- ") + 1):
        cut = tmp_path / f"cut_{size}.sql"
        cut.write_bytes(full[:size])
        with pytest.raises(mngs.db.DataError, match="truncated"):
            db.restore_database(cut)
        assert _state(db) == changed


def test_missing_backup_file_changes_nothing(db: Any, tmp_path: Path) -> None:
    """A backup file that does not exist raises an error naming it; nothing changes."""
    _populate(db)
    before = _state(db)
    with pytest.raises(mngs.db.ArgumentError, match="no_such_backup.sql.*does not exist"):
        db.restore_database(tmp_path / "no_such_backup.sql")
    assert _state(db) == before


def test_corrupt_backup_files_change_nothing(db: Any, tmp_path: Path) -> None:
    """Random bytes, random bytes behind a SQLite header, and a dump with bytes damaged in the
    middle (invalid UTF-8, trailer intact) all raise an error; nothing changes."""
    _populate(db)
    full = db.backup_database(tmp_path / "backup.sql").read_bytes()
    db.insert("experiments", {"name": "after the backup"})
    before = _state(db)
    noise = os.urandom(8192)
    middle = len(full) // 2
    files = {
        "garbage.sql": noise,
        "garbage.db": noise,
        "fake.db": b"SQLite format 3\x00" + noise,
        "damaged.sql": full[:middle] + b"\xff\xfe" + full[middle + 2 :],
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(mngs.db.Error) as raised:
            db.restore_database(tmp_path / name)
        assert _state(db) == before, name
    assert "does not match its checksum" in str(raised.value)


def test_failing_statement_rolls_back_the_whole_restore(db: Any, tmp_path: Path) -> None:
    """A complete-looking dump whose last statement fails leaves the database exactly as it
    was, although every table had been replaced before that statement ran."""
    _populate(db)
    path = db.backup_database(tmp_path / "backup.sql")
    _change(db)
    changed = _state(db)
    _reseal(path, lambda body: body + "INSERT INTO no_such_table VALUES (1);\n")
    with pytest.raises(mngs.db.ProgrammingError, match="no_such_table"):
        db.restore_database(path)
    assert _state(db) == changed


def test_backup_table_restores_that_table_only(db: Any, tmp_path: Path) -> None:
    """A backup_table file brings back that one table (rows, index, counter) and leaves the
    other tables, and their foreign keys into it, alone."""
    _populate(db)
    original = _state(db)
    path = db.backup_table("experiments", tmp_path / "experiments_backup.sql")
    db.update("experiments", {"accuracy": 0.25}, where="name = ?", params=["nulls"])
    db.delete("experiments", where="name = ?", params=["edge"])
    db.insert("experiments", {"name": "added"})
    db.insert("runs", {"experiment_id": 2, "value": 7.0})
    runs = _state(db)["runs"]

    db.restore_database(path)

    state = _state(db)
    assert state["experiments"] == original["experiments"]
    assert state["runs"] == runs
    assert db.insert("experiments", {"name": "next"}) == 5
    with pytest.raises(mngs.db.IntegrityError):
        db.insert("runs", {"experiment_id": 999, "value": 0.0})
    with pytest.raises(mngs.db.IntegrityError):
        db.delete("experiments", where="id = ?", params=[2])  # runs refers to it


def test_backup_table_of_missing_table_raises(db: Any, tmp_path: Path) -> None:
    """backup_table of a table that does not exist raises and writes no file."""
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(mngs.db.ProgrammingError, match="no_such_table"):
        db.backup_table("no_such_table", out / "t.sql")
    assert list(out.iterdir()) == []


def test_failed_backup_leaves_existing_file_alone(db: Any, tmp_path: Path) -> None:
    """A backup that fails leaves the file already at the path as it was, and no temporary file."""
    _populate(db)
    out = tmp_path / "out"
    out.mkdir()
    path = out / "backup.sql"
    path.write_text("yesterday's backup")
    db.close()
    with pytest.raises(mngs.db.ClosedError):
        db.backup_database(path)
    assert path.read_text() == "yesterday's backup"
    assert list(out.iterdir()) == [path]


def test_restore_inside_a_transaction_is_rolled_back_with_it(db: Any, tmp_path: Path) -> None:
    """Inside an open transaction a SQL restore is a savepoint: it is undone with the
    transaction, and the handle works as before (search_path intact on PostgreSQL)."""
    _populate(db)
    original = _state(db)
    path = db.backup_database(tmp_path / "backup.sql")
    _change(db)
    changed = _state(db)
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.restore_database(path)
            assert _state(db) == original
            raise RuntimeError("abandon")
    assert _state(db) == changed
    with db.transaction():
        db.restore_database(path)
    assert _state(db) == original


def test_backup_inside_a_transaction_holds_committed_data_only(db: Any, tmp_path: Path) -> None:
    """A backup taken inside an open transaction holds what is committed, not the open
    transaction's own changes."""
    _populate(db)
    committed = _state(db)
    with db.transaction():
        db.insert("experiments", {"name": "uncommitted"})
        path = db.backup_database(tmp_path / "backup.sql")
    db.restore_database(path)
    assert _state(db) == committed


def test_searchable_table_survives_backup_and_restore(db: Any, tmp_path: Path) -> None:
    """A table made searchable is restored with its search index and stays searchable."""
    db.create_table("articles", {"id": "INTEGER PRIMARY KEY", "title": "TEXT", "body": "TEXT"})
    db.insert_many(
        "articles",
        [
            {"id": 1, "title": "Neural networks", "body": "deep learning of spikes"},
            {"id": 2, "title": "Spike sorting", "body": "clustering spikes in recordings"},
        ],
    )
    db.enable_search("articles", ["title", "body"])
    path = db.backup_database(tmp_path / "backup.sql")
    db.delete("articles", all_rows=True)
    db.insert("articles", {"id": 3, "title": "Unrelated", "body": "spikes elsewhere"})
    db.restore_database(path)
    assert sorted(r["id"] for r in db.search("articles", "spikes")) == [1, 2]
    db.insert("articles", {"id": 4, "title": "Spikes again", "body": "more"})
    assert sorted(r["id"] for r in db.search("articles", "spikes")) == [1, 2, 4]


def test_spec_backup_and_restore_example(db: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The spec's "Backup and Restore" example runs as written, the scheduled job's body too."""
    monkeypatch.chdir(tmp_path)
    _populate(db)
    original = _state(db)

    db.backup_database("backup_20250530.sql")
    db.restore_database("backup_20250530.sql")
    db.backup_table("experiments", "experiments_backup.sql")

    def daily_backup() -> None:
        timestamp = mngs.gen.gen_timestamp()
        db.backup_database(f"backup_{timestamp}.sql")

    daily_backup()

    assert _state(db) == original
    assert (tmp_path / "experiments_backup.sql").is_file()
    made = [p.name for p in tmp_path.glob("backup_*.sql") if p.name != "backup_20250530.sql"]
    assert len(made) == 1 and re.fullmatch(r"backup_\d{4}(-\d\d){5}\.sql", made[0])
    _change(db)
    db.restore_database(made[0])
    assert _state(db) == original


# -- SQLite only: binary copies, dumps into new files ------------------------------------------


def _raw(path: Path) -> dict[str, Any]:
    """Every object's SQL and every stored row (rowid included where there is one), read
    without converters, so storage classes are compared too."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        objects = sorted(conn.execute("SELECT type, name, sql FROM sqlite_master"), key=str)
        rows = {}
        for kind, name, sql in objects:
            if kind != "table" or str(sql).startswith("CREATE VIRTUAL"):
                continue
            if name.startswith("sqlite_"):  # sqlite_sequence: its rows' rowids do not matter
                rows[name] = sorted(conn.execute(f'SELECT * FROM "{name}"'))
                continue
            try:
                found = conn.execute(f'SELECT rowid, * FROM "{name}"').fetchall()
            except sqlite3.OperationalError:  # WITHOUT ROWID
                found = conn.execute(f'SELECT * FROM "{name}"').fetchall()
            rows[name] = sorted(found, key=repr)
    return {"objects": objects, "rows": rows}


def test_sqlite_sql_dump_restores_into_a_new_file(tmp_path: Path) -> None:
    """A .sql dump of SQLite restores into a brand-new file equal to the original: storage
    classes, implicit rowids, NUL in text, WITHOUT ROWID and generated columns, views,
    triggers, full-text tables; sqlite3's own executescript runs the dump too."""
    source = mngs.db.SQLite3(tmp_path / "source.db")
    _populate(source)
    for sql in (
        "CREATE TABLE notes (body TEXT, n)",
        "CREATE TABLE pairs (a TEXT, b TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID",
        "CREATE TABLE areas (w REAL, h REAL, area REAL GENERATED ALWAYS AS (w * h) VIRTUAL)",
        "CREATE VIEW accurate AS SELECT name FROM experiments WHERE accuracy > 0.2",
        "CREATE TRIGGER run_done AFTER INSERT ON runs "
        "BEGIN UPDATE experiments SET done = 1 WHERE id = new.experiment_id; END",
        "CREATE VIRTUAL TABLE docs USING fts5(body)",
    ):
        source.execute(sql)
    source.insert_many(
        "notes", [{"body": "a\x00b", "n": 1}, {"body": "gone", "n": 2.5}, {"body": None, "n": "3"}]
    )
    source.delete("notes", where="n = ?", params=[2.5])  # rowids 1 and 3 remain
    source.insert_many("pairs", [{"a": "x", "b": "y"}, {"a": "x", "b": "z"}])
    source.insert("areas", {"w": 2.0, "h": 3.5})
    source.insert_many("docs", [{"body": "spike sorting"}, {"body": "local field potential"}])
    dump = source.backup_database(tmp_path / "dump.sql")
    source.close()

    fresh = mngs.db.SQLite3(tmp_path / "fresh.db")
    fresh.restore_database(dump)
    assert fresh.execute("SELECT rowid FROM docs WHERE docs MATCH 'spike'") == [{"rowid": 1}]
    fresh.close()
    assert _raw(tmp_path / "fresh.db") == _raw(tmp_path / "source.db")

    with contextlib.closing(sqlite3.connect(tmp_path / "script.db")) as conn:
        conn.executescript(dump.read_text(encoding="utf-8"))  # text mode: newlines translated
    assert _raw(tmp_path / "script.db") == _raw(tmp_path / "source.db")


def test_sqlite_memory_database_backs_up_to_files(tmp_path: Path) -> None:
    """An in-memory database is saved to a binary file and to a dump, both equal to it."""
    memory = mngs.db.SQLite3(":memory:")
    _populate(memory)
    original = _state(memory)
    copy = memory.backup_database(tmp_path / "saved.sqlite")
    dump = memory.backup_database(tmp_path / "saved.sql")
    memory.close()
    with mngs.db.SQLite3(copy) as saved:
        assert _state(saved) == original
    with mngs.db.SQLite3(":memory:") as fresh:
        fresh.restore_database(dump)
        assert _state(fresh) == original


def test_sqlite_binary_backup_restores_and_refuses_damage(tmp_path: Path) -> None:
    """A binary copy restores the database; a truncated or damaged copy, or a restore inside a
    transaction, raises and changes nothing."""
    db = mngs.db.SQLite3(tmp_path / "main.db")
    _populate(db)
    original = _state(db)
    path = db.backup_database(tmp_path / "copy.sqlite3")
    assert path.read_bytes()[:16] == b"SQLite format 3\x00"
    _change(db)
    changed = _state(db)
    full = path.read_bytes()
    (tmp_path / "half.db").write_bytes(full[: len(full) // 2])
    page = 4096  # overwrite the second page (a table's b-tree) with noise
    (tmp_path / "damaged.db").write_bytes(full[:page] + os.urandom(page) + full[2 * page :])
    for name in ("half.db", "damaged.db"):
        with pytest.raises(mngs.db.DataError):
            db.restore_database(tmp_path / name)
        assert _state(db) == changed
    with db.transaction():
        with pytest.raises(mngs.db.OperationalError, match="inside a transaction"):
            db.restore_database(path)
    assert _state(db) == changed

    db.restore_database(path)
    assert _state(db) == original
    assert db.insert("experiments", {"name": "next"}) == 5
    db.close()


def test_sqlite_binary_backup_is_consistent_while_another_handle_writes(tmp_path: Path) -> None:
    """Binary backups taken while another handle keeps committing transfers are each a sound
    database (integrity_check ok) holding whole transactions only (the total is unchanged)."""
    db = mngs.db.SQLite3(tmp_path / "live.db")
    writer = mngs.db.SQLite3(tmp_path / "live.db", timeout=30)
    db.create_table("accounts", {"id": "INTEGER PRIMARY KEY", "balance": "INTEGER NOT NULL"})
    db.create_table("log", {"id": "INTEGER PRIMARY KEY", "payload": "BLOB"})
    db.insert_many("accounts", [{"id": i, "balance": 100} for i in range(10)])
    stop = threading.Event()
    done: list[int] = []

    def transfer() -> None:
        i = 0
        while not stop.is_set():
            with writer.transaction():
                writer.execute("UPDATE accounts SET balance = balance - 7 WHERE id = ?", [i % 10])
                writer.insert("log", {"payload": os.urandom(4000)})
                writer.execute("UPDATE accounts SET balance = balance + 7 WHERE id = ?", [(i + 3) % 10])
            i += 1
            done.append(i)
            time.sleep(0.001)

    thread = threading.Thread(target=transfer)
    thread.start()
    try:
        logged = []
        for n in range(6):
            copy = db.backup_database(tmp_path / f"copy{n}.db")
            with contextlib.closing(sqlite3.connect(copy)) as check:
                assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
                assert check.execute("SELECT SUM(balance) FROM accounts").fetchone() == (1000,)
                logged.append(check.execute("SELECT COUNT(*) FROM log").fetchone()[0])
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join()
    assert done and logged == sorted(logged) and logged[-1] > logged[0]  # writes went on meanwhile
    writer.close()
    db.close()


# -- PostgreSQL only: pg_dump and psql -------------------------------------------------------


@ONLY_POSTGRESQL
def test_postgresql_dump_runs_with_psql(db: Any, tmp_path: Path, pg_dsn: str) -> None:
    """The PostgreSQL backup is a plain SQL dump that psql restores into an emptied database."""
    _populate(db)
    original = _state(db)
    path = db.backup_database(tmp_path / "backup.sql")
    schema = db.execute("SELECT current_schema() AS s")[0]["s"]
    db.execute(f'DROP SCHEMA "{schema}" CASCADE')
    assert db.list_tables() == []
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("psql is not installed")
    subprocess.run(
        [psql, "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", f"--file={path}", pg_dsn],
        check=True,
        capture_output=True,
    )
    assert _state(db) == original


@ONLY_POSTGRESQL
def test_postgresql_backup_without_pg_dump_names_it(
    db: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without pg_dump on PATH, a backup raises NotSupportedError saying what to install,
    and writes no file."""
    _populate(db)
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(mngs.db.NotSupportedError, match=r"pg_dump.*apt-get install postgresql-client"):
        db.backup_database(out / "backup.sql")
    assert list(out.iterdir()) == []


@ONLY_POSTGRESQL
def test_postgresql_refuses_sqlite_backups(db: Any, tmp_path: Path) -> None:
    """A SQLite dump or database file given to a PostgreSQL handle raises; nothing changes."""
    _populate(db)
    before = _state(db)
    lite = mngs.db.SQLite3(tmp_path / "lite.db")
    lite.create_table("experiments", {"id": "INTEGER PRIMARY KEY", "name": "TEXT"})
    dump = lite.backup_database(tmp_path / "lite.sql")
    copy = lite.backup_database(tmp_path / "copy.db")
    lite.close()
    with pytest.raises(mngs.db.ArgumentError, match="sqlite"):
        db.restore_database(dump)
    with pytest.raises(mngs.db.NotSupportedError, match="SQLite database file"):
        db.restore_database(copy)
    assert _state(db) == before


@ONLY_POSTGRESQL
def test_postgresql_table_restore_refuses_when_a_view_depends_on_it(db: Any, tmp_path: Path) -> None:
    """Replacing a table that a view depends on raises an error saying so; nothing changes."""
    _populate(db)
    path = db.backup_table("experiments", tmp_path / "experiments.sql")
    db.execute("CREATE VIEW accurate AS SELECT name FROM experiments WHERE accuracy > 0.2")
    db.insert("experiments", {"name": "added"})
    before = _state(db)
    with pytest.raises(mngs.db.ProgrammingError, match="depend on it"):
        db.restore_database(path)
    assert _state(db) == before
    assert len(db.execute("SELECT * FROM accurate")) == 2
