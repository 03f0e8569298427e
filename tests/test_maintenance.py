"""Maintenance: vacuum, analyze, get_stats, summary and db() on both backends."""

from __future__ import annotations

import re
import time

import pytest

import mngs.db
import mngs.gen
from mngs.db.maintenance import human_size


def _people(db, rows=5):
    db.create_table(
        "people",
        {"id": "INTEGER PRIMARY KEY", "name": "TEXT NOT NULL", "score": "REAL", "photo": "BLOB"},
    )
    db.insert_many(
        "people",
        [{"name": f"person {i}", "score": i * 1.5, "photo": bytes(10)} for i in range(rows)],
    )


def _planner_rows(db, table):
    """The row count the query planner believes (set by ANALYZE)."""
    if db.backend == "sqlite":
        rows = db.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = ?", [table])
        return int(rows[0]["stat"].split()[0]) if rows else None
    rows = db.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(?)", [f'"{table}"'])
    return int(rows[0]["reltuples"]) if rows[0]["reltuples"] >= 0 else None


def _table_bytes(db):
    """Bytes the tables occupy: the SQLite file's pages, or this schema's PostgreSQL tables."""
    stats = db.get_stats()
    return stats["tables_size"] if db.backend == "postgresql" else stats["size"]


def test_spec_database_maintenance_runs_as_written(db, capsys):
    """The spec's "Database Maintenance" example runs as written and prints real facts."""
    _people(db)
    # Vacuum database (SQLite)
    db.vacuum()

    # Analyze tables for query optimization
    db.analyze()

    # Get database statistics
    stats = db.get_stats()
    print(f"Database size: {stats['size']}")
    print(f"Number of tables: {stats['table_count']}")

    # Database summary
    print(db.summary)  # or simply db()
    first = capsys.readouterr().out
    db()
    second = capsys.readouterr().out
    assert re.search(r"^Database size: [1-9]\d*$", first, re.MULTILINE)
    assert "Number of tables: 1\n" in first
    assert "people (5 rows)" in first
    assert second == first.split("Number of tables: 1\n", 1)[1]


def test_spec_best_practices_regular_maintenance(db, tmp_path, monkeypatch):
    """Best Practices 4: maintenance() with vacuum, analyze and a timestamped backup runs."""
    monkeypatch.chdir(tmp_path)
    _people(db)
    has_backup = callable(getattr(db, "backup_database", None))

    def maintenance():
        db.vacuum()
        db.analyze()
        if has_backup:  # backup_database belongs to the backup feature
            db.backup_database(f"backup_{mngs.gen.gen_timestamp()}.sql")

    maintenance()
    assert _planner_rows(db, "people") == 5
    if has_backup:
        assert [p.name for p in tmp_path.glob("backup_*.sql")]


def test_get_stats_counts_tables_rows_and_indexes(db):
    """get_stats reports the size in bytes, a readable size, tables, indexes and rows."""
    _people(db, rows=7)
    db.create_table("empty", {"a": "INTEGER", "b": "TEXT"})
    before = db.get_stats()["index_count"]
    db.create_index("empty", ["a"])
    db.create_index("empty", ["a", "b"], unique=True)
    stats = db.get_stats()
    assert stats["backend"] == db.backend
    assert isinstance(stats["size"], int) and stats["size"] > 0
    assert re.fullmatch(r"\d+ B|\d+\.\d (KB|MB|GB|TB|PB)", stats["size_human"])
    assert stats["size_human"] == human_size(stats["size"])
    assert stats["table_count"] == 2
    assert stats["tables"] == ["empty", "people"]
    assert stats["rows"] == {"empty": 0, "people": 7}
    assert stats["total_rows"] == 7
    assert stats["index_count"] == before + 2


def test_get_stats_of_an_empty_database(db):
    """An empty database has no tables and no rows, and still a size."""
    stats = db.get_stats()
    assert (stats["table_count"], stats["rows"], stats["total_rows"], stats["index_count"]) == (
        0,
        {},
        0,
        0,
    )
    assert stats["size"] >= 0


def test_human_size_uses_powers_of_1024():
    """human_size prints bytes below 1 KB and one decimal above."""
    assert human_size(0) == "0 B"
    assert human_size(1023) == "1023 B"
    assert human_size(1024) == "1.0 KB"
    assert human_size(int(1.2 * 1024**2)) == "1.2 MB"
    assert human_size(5 * 1024**3) == "5.0 GB"
    assert human_size(3 * 1024**6) == "3072.0 PB"


def test_vacuum_reclaims_space_of_deleted_rows(db):
    """After deleting most rows, vacuum() gives the space back (SQLite file, PG table pages)."""
    db.create_table("big", {"id": "INTEGER PRIMARY KEY", "payload": "TEXT"})
    db.insert_many("big", ({"payload": f"{i:08d}" * 40} for i in range(3000)))
    full = _table_bytes(db)
    db.delete("big", all_rows=True)
    for _ in range(10):  # another session's open snapshot (on a shared server) delays reclaiming
        db.vacuum()
        if _table_bytes(db) < full / 2:
            break
        time.sleep(1)
    assert _table_bytes(db) < full / 2
    assert db.count("big") == 0
    if db.backend == "sqlite":
        assert db.get_stats()["free_size"] == 0


def test_vacuum_one_table_keeps_the_data(db):
    """vacuum(table) works on a named table and every row survives it."""
    _people(db, rows=4)
    db.delete("people", where="id = ?", params=[2])
    db.vacuum("people")
    assert [r["name"] for r in db.select("people", order_by="id")] == [
        "person 0",
        "person 2",
        "person 3",
    ]


def test_vacuum_inside_a_transaction_is_a_clear_error(db):
    """vacuum() in a transaction raises OperationalError and leaves the transaction usable."""
    _people(db, rows=1)
    with db.transaction():
        db.insert("people", {"name": "inside"})
        with pytest.raises(mngs.db.OperationalError, match=r"vacuum\(\) cannot run inside a transaction"):
            db.vacuum()
        db.insert("people", {"name": "after"})
    assert db.count("people") == 3
    assert not db.in_transaction


def test_vacuum_and_analyze_of_a_missing_table_raise(db):
    """vacuum/analyze of an unknown table raise ProgrammingError naming it."""
    with pytest.raises(mngs.db.ProgrammingError, match="nope"):
        db.vacuum("nope")
    with pytest.raises(mngs.db.ProgrammingError, match="nope"):
        db.analyze("nope")


def test_analyze_updates_planner_statistics_even_inside_a_transaction(db):
    """analyze(table) and analyze() refresh planner statistics, also inside a transaction."""
    _people(db, rows=6)
    db.create_index("people", ["name"])
    db.create_table("other", {"x": "INTEGER"})
    db.create_index("other", ["x"])
    db.insert_many("other", [{"x": i} for i in range(3)])
    with db.transaction():
        db.analyze("people")
    assert _planner_rows(db, "people") == 6
    db.analyze()
    assert _planner_rows(db, "other") == 3


def test_summary_shows_tables_counts_columns_and_first_rows(db):
    """summary lists each table with row count, columns and its first three rows, aligned."""
    _people(db, rows=5)
    db.update("people", {"name": "x" * 100, "score": None}, where="id = ?", params=[1])
    db.create_table("tags", {"tag": "TEXT"})
    text = db.summary
    lines = text.splitlines()
    assert lines[0].endswith(f"2 tables, {db.get_stats()['size_human']}")
    assert "people (5 rows)" in lines
    assert "tags (0 rows)" in lines
    assert any(line.startswith("  columns: id ") and "name " in line for line in lines)
    start = lines.index("people (5 rows)")
    header, rule, *grid = lines[start + 2 : start + 7]
    assert [h.strip() for h in header.split("|")] == ["id", "name", "score", "photo"]
    assert set(rule.replace("+", "").strip()) == {"-"}
    cells = [[c.strip() for c in row.split("|")] for row in grid]
    assert [row[0] for row in cells] == ["1", "2", "3"]
    assert cells[0][1].endswith("…") and len(cells[0][1]) < 40
    assert cells[0][2] == "NULL" and cells[0][3] == "<10 bytes>"
    assert cells[1][1] == "person 1"
    bars = {tuple(i for i, ch in enumerate(row) if ch == "|") for row in (header, *grid)}
    assert len(bars) == 1  # the columns line up
    assert lines[start + 7] == "  … 2 more rows"


def test_summary_handles_odd_names_and_an_empty_database(db):
    """summary works with no tables and with quotes and spaces in names."""
    assert "(no tables)" in db.summary
    db.create_table('my "odd" table', {"a b": "TEXT"})
    db.insert('my "odd" table', {"a b": "line\nbreak"})
    text = db.summary
    assert 'my "odd" table (1 row)' in text
    assert "line break" in text


def test_call_prints_the_summary(db, capsys):
    """db() prints db.summary and returns None."""
    _people(db, rows=2)
    assert db() is None
    assert capsys.readouterr().out == db.summary + "\n"
