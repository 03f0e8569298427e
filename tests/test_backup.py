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


# -- verified backups ------------------------------------------------------------------------


def _accounts(db: Any) -> None:
    """20 accounts of 1,000 each (20,000 in all), with names that are easy to find in a dump."""
    db.create_table("accounts", {"id": "INTEGER PRIMARY KEY", "owner": "TEXT", "balance": "INTEGER"})
    db.insert_many("accounts", [{"id": i, "owner": f"owner-{i:04d}", "balance": 1000} for i in range(1, 21)])


def _money(db: Any) -> tuple[int, int]:
    return db.count("accounts"), db.execute("SELECT SUM(balance) AS s FROM accounts")[0]["s"]


def _data_line(text: str, needle: str) -> str:
    """The one line of ``text`` holding ``needle`` (an INSERT on SQLite, a COPY row on PostgreSQL)."""
    found = [line for line in text.split("\n") if needle in line]
    assert len(found) == 1, found
    return found[0]


def test_damaged_dumps_are_refused_and_change_nothing(db: Any, tmp_path: Path) -> None:
    """A dump with one data line deleted, one digit changed, or 64 bytes overwritten in the
    middle is refused (DataError, checksum) by restore_database and verify_backup; the
    database keeps its 21 rows summing to 21,000."""
    _accounts(db)
    path = db.backup_database(tmp_path / "backup.sql")
    assert db.verify_backup(path)["tables"] == {"accounts": 20}
    db.insert("accounts", {"id": 21, "owner": "after", "balance": 1000})
    assert _money(db) == (21, 21000)
    text = path.read_text(encoding="utf-8")
    line = _data_line(text, "owner-0007")
    middle = len(text.encode()) // 2
    raw = text.encode()
    damaged = {
        "line_deleted": text.replace(line + "\n", "").encode(),
        "digit_changed": text.replace(line, line.replace("1000", "9000")).encode(),
        "overwritten": raw[:middle] + b"x" * 64 + raw[middle + 64 :],
    }
    for name, content in damaged.items():
        bad = tmp_path / f"{name}.sql"
        bad.write_bytes(content)
        with pytest.raises(mngs.db.DataError, match="does not match its checksum"):
            db.verify_backup(bad)
        with pytest.raises(mngs.db.DataError, match="does not match its checksum"):
            db.restore_database(bad)
        assert _money(db) == (21, 21000), name
    db.restore_database(path)
    assert _money(db) == (20, 20000)


def test_restore_checks_the_rows_it_loaded(db: Any, tmp_path: Path) -> None:
    """A dump whose statements load another number of rows than its row-count line records
    (checksum recomputed, as a bug in writing it would leave it) is rolled back."""
    _accounts(db)
    path = db.backup_database(tmp_path / "backup.sql")
    text = path.read_text(encoding="utf-8")
    _reseal(path, lambda body: body.replace(_data_line(text, "owner-0003") + "\n", ""))
    db.insert("accounts", {"id": 21, "owner": "after", "balance": 1000})
    with pytest.raises(mngs.db.DataError, match=r"'accounts': 19 instead of 20"):
        db.restore_database(path)
    assert _money(db) == (21, 21000)


def test_verify_backup_reports_tables_and_rows(db: Any, tmp_path: Path) -> None:
    """verify_backup describes a sound file (format, backend, scope, rows per table, checksum)
    without touching the database; a truncated one raises DataError."""
    _populate(db)
    before = _state(db)
    report = db.verify_backup(db.backup_database(tmp_path / "backup.sql"))
    assert report["ok"] is True and report["verified"] is True
    assert report["backend"] == db.backend and report["scope"] == "database" and report["format"] == "sql"
    assert report["tables"] == {"experiments": 3, "runs": 2}
    assert re.fullmatch(r"[0-9a-f]{64}", report["sha256"])
    table = db.verify_backup(db.backup_table("runs", tmp_path / "runs.sql"))
    assert table["scope"] == "table" and table["tables"] == {"runs": 2}
    cut = tmp_path / "cut.sql"
    cut.write_bytes((tmp_path / "backup.sql").read_bytes()[:-20])
    with pytest.raises(mngs.db.DataError, match="truncated"):
        db.verify_backup(cut)
    assert _state(db) == before


def test_a_killed_backup_leaves_temporary_files_the_next_backup_removes(db: Any, tmp_path: Path) -> None:
    """A backup process killed half-way leaves its temporary file; the next backup to the same
    path removes it (and leaves the temporary file of a process still running alone)."""
    _accounts(db)
    out = tmp_path / "out"
    out.mkdir()
    target = out / "backup.sql"
    child = (
        "import sys, time\n"
        "import mngs.db.backup as b\n"
        "def stall(self, tmp, scope, table):\n"
        "    tmp.write_text('half a backup')\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
        "b.BackupMixin._write_dump = stall\n"
        "db = mngs.db.SQLite3(sys.argv[1])\n"
        "db.backup_database(sys.argv[2])\n"
    )
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", "import mngs.db\n" + child, str(tmp_path / "other.db"), str(target)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "writing\n"
        proc.kill()
    finally:
        proc.wait()
    stale = [p.name for p in out.iterdir()]
    assert len(stale) == 1 and stale[0].startswith(".backup.sql.") and stale[0].endswith(".tmp")
    alive = out / f".backup.sql.{os.getppid()}.keep.tmp"  # a process that is still running
    alive.write_text("in progress")
    legacy_old, legacy_new = out / ".backup.sql.k3j4h5g6.tmp", out / ".backup.sql.a1b2c3d4.tmp"
    for legacy in (legacy_old, legacy_new):  # named without a process id (older versions)
        legacy.write_text("from an older version")
    os.utime(legacy_old, (time.time() - 7200, time.time() - 7200))

    db.backup_database(target)

    assert sorted(p.name for p in out.iterdir()) == sorted(["backup.sql", alive.name, legacy_new.name])
    assert db.verify_backup(target)["ok"]


# -- no cascades, any table order ------------------------------------------------------------


def _family(db: Any) -> None:
    db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
    db.execute(
        "CREATE TABLE child (id INTEGER PRIMARY KEY, "
        "parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE)"
    )
    db.insert_many("parent", [{"id": i, "name": f"p{i}"} for i in (1, 2, 3)])
    db.insert_many("child", [{"id": i, "parent_id": 1 + i % 3} for i in range(30)])


def test_restoring_a_parent_table_fires_no_cascade(db: Any, tmp_path: Path) -> None:
    """restore_database of a backup_table file of a parent table replaces the parent and
    deletes no child row declared ON DELETE CASCADE: 30 child rows before, 30 after."""
    _family(db)
    path = db.backup_table("parent", tmp_path / "parent.sql")
    db.update("parent", {"name": "changed"}, where={"id": 2})
    children = db.select("child", order_by="id")
    assert len(children) == 30

    db.restore_database(path)

    assert db.select("child", order_by="id") == children
    assert db.select("parent", order_by="id") == [{"id": i, "name": f"p{i}"} for i in (1, 2, 3)]
    db.delete("parent", where={"id": 1})  # the cascade is still there when asked for
    assert db.count("child") == 20


def test_restoring_a_parent_missing_rows_children_need_is_refused(db: Any, tmp_path: Path) -> None:
    """A parent backup that lacks a row children refer to is refused; nothing changes."""
    _family(db)
    db.delete("child", where={"parent_id": 3})
    db.delete("parent", where={"id": 3})
    path = db.backup_table("parent", tmp_path / "parent.sql")
    db.insert("parent", {"id": 3, "name": "p3"})
    db.insert("child", {"id": 100, "parent_id": 3})
    with pytest.raises(mngs.db.IntegrityError):
        db.restore_database(path)
    assert db.count("parent") == 3 and db.count("child") == 21
    with pytest.raises(mngs.db.IntegrityError):
        db.insert("child", {"id": 101, "parent_id": 99})  # foreign keys are enforced again


def _children_first_dump(path: Path) -> None:
    """A dump as the sqlite3 shell writes one, where (as in Chinook) the child tables come
    before the parents they refer to."""
    path.write_text(
        "PRAGMA foreign_keys=OFF;\n"
        "BEGIN TRANSACTION;\n"
        "CREATE TABLE [Track] ([TrackId] INTEGER NOT NULL, [AlbumId] INTEGER, [Name] NVARCHAR(200),\n"
        "  CONSTRAINT [PK_Track] PRIMARY KEY ([TrackId]),\n"
        "  FOREIGN KEY ([AlbumId]) REFERENCES [Album] ([AlbumId]) ON DELETE NO ACTION);\n"
        "INSERT INTO Track VALUES(1,1,'For Those About To Rock');\n"
        "INSERT INTO Track VALUES(2,2,'Balls to the Wall');\n"
        "CREATE TABLE [Album] ([AlbumId] INTEGER NOT NULL, [Title] NVARCHAR(160) NOT NULL,\n"
        "  [ArtistId] INTEGER NOT NULL, CONSTRAINT [PK_Album] PRIMARY KEY ([AlbumId]),\n"
        "  FOREIGN KEY ([ArtistId]) REFERENCES [Artist] ([ArtistId]) ON DELETE CASCADE);\n"
        "INSERT INTO Album VALUES(1,'For Those About To Rock We Salute You',1);\n"
        "INSERT INTO Album VALUES(2,'Balls to the Wall',2);\n"
        "CREATE TABLE [Artist] ([ArtistId] INTEGER NOT NULL, [Name] NVARCHAR(120),\n"
        "  CONSTRAINT [PK_Artist] PRIMARY KEY ([ArtistId]));\n"
        "INSERT INTO Artist VALUES(1,'AC/DC');\n"
        "INSERT INTO Artist VALUES(2,'Accept');\n"
        "CREATE INDEX [IFK_TrackAlbumId] ON [Track] ([AlbumId]);\n"
        "COMMIT;\n",
        encoding="utf-8",
    )


def _chinook(db: Any) -> dict[str, Any]:
    return {t: db.select(t, order_by=db.get_columns(t)[0]["name"]) for t in ("Artist", "Album", "Track")}


def test_sqlite_dump_with_children_before_parents_restores(tmp_path: Path) -> None:
    """A sqlite3-shell dump whose child tables come first restores into a fresh file, over
    itself, and inside a transaction (where foreign keys stay on: created first, then loaded)."""
    dump = tmp_path / "chinook.sql"
    _children_first_dump(dump)
    assert db_report(dump)["verified"] is False
    with mngs.db.SQLite3(tmp_path / "fresh.db") as fresh:
        fresh.restore_database(dump)
        loaded = _chinook(fresh)
        assert loaded["Track"][1] == {"TrackId": 2, "AlbumId": 2, "Name": "Balls to the Wall"}
        fresh.update("Artist", {"Name": "changed"}, where={"ArtistId": 1})
        fresh.restore_database(dump)  # over itself: Album's cascade must not empty it
        assert _chinook(fresh) == loaded
        with fresh.transaction():
            fresh.restore_database(dump)
        assert _chinook(fresh) == loaded
        assert fresh.execute("PRAGMA foreign_keys") == [{"foreign_keys": 1}]
        own = fresh.backup_database(tmp_path / "own.sql")
    with mngs.db.SQLite3(tmp_path / "again.db") as again:
        again.restore_database(own)
        assert _chinook(again) == loaded


def db_report(path: Path) -> dict[str, Any]:
    with mngs.db.SQLite3(":memory:") as handle:
        return handle.verify_backup(path)


def test_sqlite_table_restore_inside_a_transaction_refuses_to_cascade(sqlite_db: Any, tmp_path: Path) -> None:
    """Inside a transaction foreign keys cannot be switched off: restoring a parent whose
    children would cascade is refused (OperationalError); not one child row is lost."""
    db = sqlite_db
    _family(db)
    path = db.backup_table("parent", tmp_path / "parent.sql")
    with db.transaction():
        with pytest.raises(mngs.db.OperationalError, match="ON DELETE CASCADE"):
            db.restore_database(path)
        assert db.count("child") == 30
    db.restore_database(path)
    assert db.count("child") == 30


# -- binary copies are verified too ----------------------------------------------------------


def test_sqlite_binary_copy_with_one_changed_byte_is_refused(tmp_path: Path) -> None:
    """A one-byte change inside a stored value of a binary copy passes integrity_check but not
    the checksum file: restore_database and verify_backup refuse it, the database unchanged."""
    db = mngs.db.SQLite3(tmp_path / "live.db")
    _accounts(db)
    path = db.backup_database(tmp_path / "copy.db")
    side = tmp_path / "copy.db.mngs.json"
    assert side.is_file()
    report = db.verify_backup(path)
    assert report["ok"] and report["format"] == "sqlite copy" and report["tables"] == {"accounts": 20}
    db.insert("accounts", {"id": 21, "owner": "after", "balance": 1000})
    raw = path.read_bytes()
    at = raw.index(b"owner-0007")
    bad = tmp_path / "bad.db"
    bad.write_bytes(raw[:at] + b"X" + raw[at + 1 :])
    shutil.copy(side, tmp_path / "bad.db.mngs.json")
    with contextlib.closing(sqlite3.connect(bad)) as check:
        assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]  # SQLite sees nothing
    with pytest.raises(mngs.db.DataError, match="does not match its checksum file"):
        db.verify_backup(bad)
    with pytest.raises(mngs.db.DataError, match="does not match its checksum file"):
        db.restore_database(bad)
    assert _money(db) == (21, 21000)
    (tmp_path / "bad.db.mngs.json").write_text("{not json")
    with pytest.raises(mngs.db.DataError, match="checksum file"):
        db.restore_database(bad)
    assert _money(db) == (21, 21000)

    with mngs.db.SQLite3(path) as opened:  # opening the copy (WAL, header rewritten) is fine
        assert opened.count("accounts") == 20
    db.restore_database(path)
    assert _money(db) == (20, 20000)
    assert db.execute("PRAGMA journal_mode") == [{"journal_mode": "wal"}]
    db.close()


def test_sqlite_binary_copy_without_checksum_file_is_unverified(tmp_path: Path) -> None:
    """A database file not written by backup_database has nothing to be checked against:
    verify_backup says so (ok False), and it still restores after integrity_check."""
    with contextlib.closing(sqlite3.connect(tmp_path / "plain.db")) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.commit()
    with mngs.db.SQLite3(tmp_path / "live.db") as db:
        report = db.verify_backup(tmp_path / "plain.db")
        assert report["ok"] is False and report["verified"] is False and "not written by" in report["reason"]
        assert report["tables"] == {"t": 1}
        db.restore_database(tmp_path / "plain.db")
        assert db.select("t") == [{"x": 1}]


# -- every backup the library wrote restores, whatever the names in it -----------------------

from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

#: "%" is left out: inserting explicit ids into a table so named fails on PostgreSQL before any
#: backup (PostgreSQLDialect.after_explicit_keys formats the name into a %s-style statement).
_HOSTILE = st.text(
    alphabet=st.sampled_from(
        list("aZ09 _-.;,()[]`$*?/\\'\"\n\t\r") + ["é", "ß", "🧪", "名", "\u2028", "\x1c"]
    ),
    min_size=1,
    max_size=14,
).filter(
    lambda n: (
        len(n.encode()) <= 63
        and not n.lower().startswith("sqlite_")
        and n.lower() not in ("id", "ctid", "xmin", "xmax", "cmin", "cmax", "tableoid", "oid")
    )
)
_VALUES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(names=['new\nline "t"', "c\n1; DROP TABLE x; --", "名 'x' [y]"], values=["\\.\n\r\\", "-- x;"])
@example(names=["COPY x FROM stdin;\n", '"', "a\u2028b\x1c"], values=["\t\\N", ""])
@given(
    names=st.lists(_HOSTILE, min_size=3, max_size=3, unique_by=lambda n: n.lower()),
    values=st.lists(_VALUES, min_size=1, max_size=4),
)
def test_backups_of_hostile_names_restore(
    db: Any, tmp_path: Path, names: list[str], values: list[str]
) -> None:
    """Tables and columns named with newlines, quotes, brackets, semicolons, backslashes and
    unicode: the database backup (a dump, and on SQLite a binary copy) and the table backup
    verify and restore to exactly the rows they hold."""
    for old in db.list_tables():
        db.drop_table(old)
    table, text_col, number_col = names
    db.create_table(table, {"id": "INTEGER PRIMARY KEY", text_col: "TEXT", number_col: "INTEGER"})
    db.create_index(table, [text_col])
    rows = [{"id": i + 1, text_col: v, number_col: i * 7} for i, v in enumerate(values)]
    db.insert_many(table, rows)
    suffixes = [".sql", ".db"] if db.backend == "sqlite" else [".sql"]
    for suffix in suffixes:
        path = db.backup_database(tmp_path / f"whole{suffix}")
        assert db.verify_backup(path)["tables"] == {table: len(rows)}
        db.delete(table, all_rows=True)
        db.restore_database(path)
        assert db.select(table, order_by="id") == rows, suffix
    path = db.backup_table(table, tmp_path / "one.sql")
    assert db.verify_backup(path)["tables"] == {table: len(rows)}
    db.update(table, {number_col: -1}, where={"id": 1})
    db.restore_database(path)
    assert db.select(table, order_by="id") == rows
    assert [i["columns"] for i in db.list_indexes(table) if not i["primary"]] == [[text_col]]
