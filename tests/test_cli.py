"""The ``mngs-db`` command line, run as a subprocess against both backends."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

TABLE_SCHEMA = {
    "id": "INTEGER PRIMARY KEY",
    "name": "TEXT",
    "score": "REAL",
    "n": "BIGINT",
    "ok": "BOOLEAN",
    "data": "BLOB",
    "meta": "JSON",
    "at": "TIMESTAMP",
    "code": "TEXT",
}
ROWS = [
    {
        "id": 1, "name": 'alpha, "quoted"', "score": 0.5, "n": 2**62, "ok": True, "data": b"\x00\x01",
        "meta": {"k": [1, 2]}, "at": datetime(2024, 5, 1, 12, 30, 15), "code": "007",
    },
    {
        "id": 2, "name": "", "score": None, "n": -5, "ok": False, "data": None, "meta": None,
        "at": None, "code": None,
    },
    {
        "id": 3, "name": "ünï\nline", "score": -1.25e-7, "n": 0, "ok": None, "data": b"\xff",
        "meta": [], "at": datetime(1999, 12, 31, 23, 59, 59, 123456), "code": "x",
    },
]  # fmt: skip
SECRET = "Sekr3t-Pa55word"


def run(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m mngs.db ARGS`` with its exit status, stdout and stderr."""
    env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}
    return subprocess.run(
        [sys.executable, "-m", "mngs.db", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )


def ok(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run the CLI and require success."""
    result = run(*args, **kwargs)  # type: ignore[arg-type]
    assert result.returncode == 0, result.stderr
    return result


def assert_one_error_line(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """A failure: non-zero exit, nothing on stdout, exactly one ``Error:`` line on stderr."""
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for word in words:
        assert word in lines[0]
    return lines[0]


@pytest.fixture
def filled(db, db_target):
    """The test database with table ``t`` holding ROWS; yields (handle, DB argument)."""
    db.create_table("t", TABLE_SCHEMA)
    db.insert_many("t", ROWS)
    return db, db_target


def test_tables_plain_json_and_counts(filled):
    """``tables`` prints one name per line, a JSON array with --json, and counts."""
    db, target = filled
    db.create_table("other", {"x": "TEXT"})
    assert ok("tables", target).stdout.splitlines() == ["other", "t"]
    assert json.loads(ok("tables", target, "--json").stdout) == ["other", "t"]
    counted = json.loads(ok("tables", target, "--counts", "--json").stdout)
    assert counted == [{"table": "other", "count": 0}, {"table": "t", "count": 3}]
    assert [line.split() for line in ok("tables", target, "--counts").stdout.splitlines()] == [
        ["other", "0"],
        ["t", "3"],
    ]


def test_query_json_and_jsonl_parse_back(filled):
    """``--format json`` is a JSON array of objects and ``jsonl`` one object per line, with
    bytes as \\x hex and timestamps as ISO text."""
    _, target = filled
    sql = "SELECT id, name, score, n, ok, data, meta, at FROM t ORDER BY id"
    rows = json.loads(ok("query", target, sql, "--format", "json").stdout)
    assert [r["id"] for r in rows] == [1, 2, 3]
    assert rows[0] == {
        "id": 1, "name": 'alpha, "quoted"', "score": 0.5, "n": 2**62, "ok": True, "data": "\\x0001",
        "meta": {"k": [1, 2]}, "at": "2024-05-01 12:30:15",
    }  # fmt: skip
    assert rows[1]["score"] is None and rows[1]["ok"] is False and rows[2]["name"] == "ünï\nline"
    lines = ok("query", target, sql, "-f", "jsonl").stdout.splitlines()
    assert [json.loads(line) for line in lines] == rows


def test_query_csv_parses_back(filled):
    """``--format csv`` writes the export CSV format: header, NULL empty, "" the empty string."""
    _, target = filled
    out = ok("query", target, "SELECT id, name, ok, code FROM t ORDER BY id", "-f", "csv").stdout
    assert out.splitlines()[0] == "id,name,ok,code"
    assert list(csv.reader(io.StringIO(out)))[1:] == [
        ["1", 'alpha, "quoted"', "t", "007"],
        ["2", "", "f", ""],
        ["3", "ünï\nline", "", "x"],
    ]
    assert '\n2,"",f,\n' in out  # the empty string quoted, NULL left empty


def test_query_table_parses_back(filled):
    """The default on a terminal, ``--format table``, is a grid with a header and NULL shown."""
    _, target = filled
    out = ok("query", target, "SELECT id, score, ok, code FROM t ORDER BY id", "-f", "table").stdout
    grid = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in out.splitlines()
        if line.startswith("| ")
    ]
    assert grid == [
        ["id", "score", "ok", "code"],
        ["1", "0.5", "true", "007"],
        ["2", "NULL", "false", "NULL"],
        ["3", "-1.25e-07", "NULL", "x"],
    ]
    assert out.splitlines()[-1] == "(3 rows)"


def test_query_named_parameters(filled):
    """``-p NAME VALUE`` binds ``:NAME``; values travel as parameters, never pasted in."""
    _, target = filled
    out = ok(
        "query", target, "SELECT id FROM t WHERE code = :c OR name = :n", "-p", "c", "x", "-p", "n", "'; --"
    )
    assert json.loads(out.stdout) == [{"id": 3}]
    assert json.loads(ok("query", target, "SELECT COUNT(*) AS c FROM t").stdout) == [{"c": 3}]


def test_query_runs_statements_without_rows(filled):
    """A statement that returns no rows prints nothing on stdout and the rows affected on stderr;
    a SELECT that matches nothing is an empty JSON array."""
    db, target = filled
    done = ok("query", target, "UPDATE t SET code = :c WHERE id >= 2", "-p", "c", "z")
    assert (done.stdout, done.stderr) == ("", "2 rows affected\n")
    assert db.select("t", columns=["code"], order_by="id") == [{"code": "007"}, {"code": "z"}, {"code": "z"}]
    assert ok("query", target, "CREATE TABLE extra (x TEXT)").stdout == ""
    assert db.list_tables() == ["extra", "t"]
    assert json.loads(ok("query", target, "SELECT * FROM t WHERE id < 0", "-f", "json").stdout) == []
    assert ok("query", target, "SELECT * FROM t WHERE id < 0", "-f", "table").stdout == "(0 rows)\n"


def test_csv_round_trip_recreates_types(filled, tmp_path):
    """``export`` to CSV then ``insert`` into a new table gives back equal rows: the types are
    inferred from the file (a number with a leading zero stays text)."""
    db, target = filled
    path = tmp_path / "t.csv"
    result = ok("export", target, "t", str(path))
    assert "3 rows" in result.stderr
    ok("insert", target, "copy", str(path), "--pk", "id")
    assert db.select("copy", order_by="id") == db.select("t", order_by="id")
    types = {c["name"]: c["type"].upper() for c in db.get_columns("copy")}
    assert types["code"] == "TEXT" and types["ok"] == "BOOLEAN" and "INT" in types["n"]
    assert [c["name"] for c in db.get_columns("copy") if c["primary_key"]] == ["id"]


def test_csv_insert_into_existing_table_and_upsert(filled, tmp_path):
    """CSV rows go into an existing table; ``--upsert`` updates rows whose key exists."""
    db, target = filled
    path = tmp_path / "more.csv"
    path.write_text("id,name,ok\n3,three,t\n4,four,f\n", encoding="utf-8")
    assert run("insert", target, "t", str(path)).returncode == 1  # id 3 exists: nothing written
    assert db.count("t") == 3
    ok("insert", target, "t", str(path), "--upsert")
    assert db.select("t", columns=["id", "name", "ok"], where="id >= 3", order_by="id") == [
        {"id": 3, "name": "three", "ok": True},
        {"id": 4, "name": "four", "ok": False},
    ]
    assert db.select("t", columns=["score"], where={"id": 3}) == [{"score": -1.25e-7}]  # kept


def test_jsonl_round_trip_into_a_table_of_the_same_schema(filled, tmp_path):
    """``export`` to JSON lines then ``insert`` into a table of the same schema gives back
    equal rows (bytes, timestamps and JSON values included)."""
    db, target = filled
    path = tmp_path / "t.jsonl"
    ok("export", target, "t", str(path))
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3
    db.create_table("same", TABLE_SCHEMA)
    ok("insert", target, "same", str(path))
    assert db.select("same", order_by="id") == db.select("t", order_by="id")


def test_json_array_export_and_insert_creating_the_table(filled, tmp_path):
    """A JSON array export inserts into a new table made from the data: JSON's own types kept."""
    db, target = filled
    path = tmp_path / "t.json"
    ok("export", target, "t", str(path))
    exported = json.loads(path.read_text(encoding="utf-8"))
    assert [r["id"] for r in exported] == [1, 2, 3]
    ok("insert", target, "fresh", str(path))
    types = {c["name"]: c["type"].upper() for c in db.get_columns("fresh")}
    assert types["meta"] == ("JSONB" if db.backend == "postgresql" else "JSON")  # as import_from_csv
    assert types["ok"] == "BOOLEAN" and types["code"] == "TEXT" and "INT" in types["n"]
    columns = ["id", "name", "score", "n", "ok", "meta", "code"]
    assert db.select("fresh", columns=columns, order_by="id") == db.select(
        "t", columns=columns, order_by="id"
    )


def test_insert_creates_table_with_key_from_later_record_and_upserts(db, db_target, tmp_path):
    """A key only in a later record becomes a column; ``--pk`` makes the key; ``--upsert``
    overwrites by it; integers beyond 64 bits are kept exactly, as text."""
    path = tmp_path / "rows.json"
    records = [{"id": 1, "name": "a"}, {"id": 2, "name": "b", "extra": 2.5, "big": 2**70}]
    path.write_text(json.dumps(records), encoding="utf-8")
    result = ok("insert", db_target, "items", str(path), "--pk", "id")
    assert result.stderr == "2 rows inserted into items\n"  # no progress bar: stderr is no terminal
    assert [c["name"] for c in db.get_columns("items")] == ["id", "name", "extra", "big"]
    assert [c["name"] for c in db.get_columns("items") if c["primary_key"]] == ["id"]
    assert db.select("items", order_by="id") == [
        {"id": 1, "name": "a", "extra": None, "big": None},
        {"id": 2, "name": "b", "extra": 2.5, "big": str(2**70)},
    ]
    path.write_text(json.dumps([{"id": 2, "name": "B"}, {"id": 3, "name": "c"}]), encoding="utf-8")
    assert run("insert", db_target, "items", str(path)).returncode == 1  # id 2 exists
    ok("insert", db_target, "items", str(path), "--upsert")
    assert db.select("items", columns=["id", "name", "extra"], order_by="id") == [
        {"id": 1, "name": "a", "extra": None},
        {"id": 2, "name": "B", "extra": 2.5},
        {"id": 3, "name": "c", "extra": None},
    ]


def test_insert_from_standard_input(db, db_target):
    """``-`` reads standard input; its format is given by --jsonl or --csv."""
    ok("insert", db_target, "notes", "-", "--jsonl", stdin='{"a": 1}\n\n{"a": 2, "b": "x"}\n')
    ok("insert", db_target, "notes2", "-", "--csv", stdin="a,b\n1,x\n")
    assert_one_error_line(run("insert", db_target, "notes", "-", "--jsonl", "--upsert", stdin="{}"), "--pk")
    assert db.select("notes", order_by="a") == [{"a": 1, "b": None}, {"a": 2, "b": "x"}]
    assert db.select("notes2") == [{"a": 1, "b": "x"}]
    assert_one_error_line(run("insert", db_target, "notes", "-", stdin="{}"), "--jsonl")


def test_export_to_standard_output(filled):
    """``export DB TABLE -`` writes to standard output in the format asked for."""
    _, target = filled
    lines = ok("export", target, "t", "-", "--jsonl").stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [1, 2, 3]
    out = ok("export", target, "t", "-", "--csv").stdout
    assert out.startswith("id,name,score,n,ok,data,meta,at,code\n1,")
    assert len(list(csv.reader(io.StringIO(out)))) == 4


def test_backup_then_restore(filled, tmp_path):
    """``backup`` writes a file that ``restore`` brings the database back from."""
    db, target = filled
    before = db.select("t", order_by="id")
    path = tmp_path / "backup.sql"
    ok("backup", target, str(path))
    assert path.stat().st_size > 0
    db.delete("t", where={"id": 1})
    db.create_table("later", {"x": "TEXT"})
    ok("restore", target, str(path))
    assert db.select("t", order_by="id") == before
    assert db.list_tables() == ["t"]


def test_schema_indexes_stats_summary(filled):
    """The inspection commands describe the database."""
    db, target = filled
    db.create_index("t", ["name"])
    schema = ok("schema", target, "t").stdout
    assert schema.startswith('CREATE TABLE "t"') and '"code"' in schema
    assert ok("schema", target).stdout == schema
    indexes = json.loads(ok("indexes", target, "t", "--json").stdout)
    assert {"name": "idx_t_name", "columns": ["name"], "unique": False, "primary": False} in indexes
    assert "idx_t_name" in ok("indexes", target, "t").stdout
    stats = json.loads(ok("stats", target, "--json").stdout)
    assert stats["table_count"] == 1 and stats["rows"] == {"t": 3}
    assert "table_count: 1" in ok("stats", target).stdout
    assert "t (3 rows)" in ok("summary", target).stdout


def test_vacuum_analyze_dedupe_search(filled, tmp_path):
    """Maintenance commands run and report; ``dedupe --dry-run`` changes nothing."""
    db, target = filled
    db.insert_many("t", [{"id": 10, "name": "dup", "code": "d"}, {"id": 11, "name": "dup", "code": "d"}])
    ok("vacuum", target)
    ok("analyze", target)
    assert ok("dedupe", target, "t", "--columns", "name,code", "--dry-run").stdout.strip() == (
        "would delete 1 duplicate row of t"
    )
    assert db.count("t") == 5
    assert (
        ok("dedupe", target, "t", "--columns", "name,code").stdout.strip() == "deleted 1 duplicate row of t"
    )
    assert db.select("t", columns=["id"], where={"name": "dup"}) == [{"id": 10}]
    db.enable_search("t", ["name"])
    found = json.loads(ok("search", target, "t", "alpha", "-f", "json").stdout)
    assert [r["id"] for r in found] == [1]


def test_diagram_sources(filled, tmp_path):
    """``diagram`` writes Mermaid and Graphviz DOT source by the output's extension."""
    _, target = filled
    ok("diagram", target, str(tmp_path / "s.mmd"))
    assert (tmp_path / "s.mmd").read_text(encoding="utf-8").startswith("erDiagram")
    ok("diagram", target, str(tmp_path / "s.dot"))
    assert "digraph" in (tmp_path / "s.dot").read_text(encoding="utf-8")
    assert_one_error_line(run("diagram", target, str(tmp_path / "s.txt")), ".mmd")


def test_diagram_image_or_a_clear_error(filled, tmp_path):
    """An SVG diagram is drawn when Graphviz is installed; without it, one line says what is missing."""
    _, target = filled
    result = run("diagram", target, str(tmp_path / "s.svg"))
    if shutil.which("dot") is not None and importlib.util.find_spec("graphviz") is not None:
        assert result.returncode == 0, result.stderr
        assert "<svg" in (tmp_path / "s.svg").read_text(encoding="utf-8")
    else:
        assert_one_error_line(result, "graphviz" if importlib.util.find_spec("graphviz") is None else "dot")
        assert not (tmp_path / "s.svg").exists()


def test_missing_table_is_one_error_line(db, db_target, tmp_path):
    """A missing table: exit 1, one line naming it, no traceback."""
    assert_one_error_line(run("query", db_target, "SELECT * FROM nope"), "nope")
    assert_one_error_line(run("export", db_target, "nope", str(tmp_path / "x.csv")), "no such table", "nope")
    assert_one_error_line(run("schema", db_target, "nope"), "nope")
    assert not (tmp_path / "x.csv").exists()


def test_bad_file_is_one_error_line(db, db_target, tmp_path):
    """A missing or malformed input file: exit 1, one line naming it, nothing written."""
    missing = tmp_path / "missing.json"
    assert_one_error_line(run("insert", db_target, "t", str(missing)), "missing.json")
    assert_one_error_line(run("insert", db_target, "t", str(tmp_path / "missing.csv")), "missing.csv")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\n{"a": \n', encoding="utf-8")
    assert_one_error_line(run("insert", db_target, "t", str(bad)), "bad.jsonl", "line 2")
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("a,b\n1,2\n3,4,5\n", encoding="utf-8")
    assert_one_error_line(run("insert", db_target, "t", str(bad_csv)), "bad.csv")
    assert db.list_tables() == []
    assert_one_error_line(run("restore", db_target, str(tmp_path / "none.sql")), "none.sql")
    assert_one_error_line(run("insert", db_target, "t", str(tmp_path / "x.txt")), "x.txt")


@pytest.mark.parametrize(
    "url",
    ["postgresql://postgres@127.0.0.1:1/test", "postgresql://postgres@127.0.0.1:notaport/test"],
    ids=["refused", "bad-port"],
)
def test_bad_url_is_one_error_line(url):
    """An unreachable or malformed URL: exit 1, one line, no traceback."""
    assert_one_error_line(run("tables", url))


def test_password_in_url_is_never_printed(pg_dsn):
    """Neither an unreachable server's error, nor a live server's error with --debug (the
    traceback included), echoes the URL's password."""
    refused = run("--debug", "tables", f"postgresql://postgres:{SECRET}@127.0.0.1:1/test")
    assert refused.returncode == 1 and "Traceback" in refused.stderr
    assert SECRET not in refused.stdout + refused.stderr
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(pg_dsn)
    live = f"postgresql://{info.get('user', 'postgres')}:{SECRET}@{info.get('host', '127.0.0.1')}:"
    live += f"{info.get('port', 5432)}/{info.get('dbname', 'test')}"
    query_form = f"postgresql://127.0.0.1:1/test?user=postgres&password={SECRET}"
    result = run("--debug", "tables", query_form)
    assert result.returncode == 1 and SECRET not in result.stdout + result.stderr
    for args in (
        ["query", live, f"SELECT * FROM nope_{SECRET.lower().replace('-', '_')}"],
        ["summary", live],
    ):
        result = run("--debug", *args)
        assert SECRET not in result.stdout + result.stderr
        assert SECRET.lower() not in (result.stdout + result.stderr).lower()


def test_sqlite_paths(tmp_path):
    """A read command on a missing file refuses and creates nothing; a missing folder is named."""
    missing = tmp_path / "absent.db"
    assert_one_error_line(run("tables", str(missing)), "absent.db")
    assert not missing.exists()
    assert_one_error_line(
        run("insert", str(tmp_path / "no" / "x.db"), "t", "-", "--jsonl", stdin='{"a": 1}'), "does not exist"
    )
    ok("insert", str(missing), "t", "-", "--jsonl", stdin='{"a": 1}')
    assert ok("tables", str(missing)).stdout == "t\n"


def test_usage_errors_and_debug(tmp_path):
    """Bad usage exits 2 with one line; --debug adds the traceback of a failure."""
    assert_one_error_line(run("query"), "DB")
    assert run("query").returncode == 2
    assert_one_error_line(run("nosuchcommand", "x.db"), "nosuchcommand")
    result = run("--debug", "tables", str(tmp_path / "absent.db"))
    assert result.returncode == 1 and "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("Error: no such database file")
    result = run("tables", str(tmp_path / "absent.db"), "--debug")
    assert "Traceback" in result.stderr
    assert "Usage" in ok("--help").stdout and "insert" in ok("--help").stdout


def test_console_script_is_installed():
    """The ``mngs-db`` console script runs the same command line."""
    script = Path(sys.executable).parent / ("mngs-db.exe" if os.name == "nt" else "mngs-db")
    if not script.exists():
        pytest.skip("mngs-db is not installed next to this Python (pip install -e .)")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "mngs-db" in done.stdout


def test_redact_blanks_every_form_of_password():
    """The error printer's redaction: URL passwords, ``password=`` pairs and given secrets."""
    from mngs.db.cli import redact

    assert redact(f"at postgresql://me:{SECRET}@db/x failed") == "at postgresql://me:***@db/x failed"
    assert redact(f"host=db password={SECRET} user=me") == "host=db password=*** user=me"
    assert redact(f"bad value {SECRET!r}", [SECRET]) == "bad value '***'"
