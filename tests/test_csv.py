"""CSV export and import on both backends: round trips, the file format, errors and atomicity."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest

import mngs.db

COLUMNS = {
    "id": "INTEGER PRIMARY KEY",
    "name": "TEXT",
    "score": "REAL",
    "big": "BIGINT",
    "flag": "BOOLEAN",
    "data": "BLOB",
    "meta": "JSON",
    "day": "DATE",
    "ts": "TIMESTAMP",
}

ROWS = [
    {
        "id": 1, "name": 'comma, "quote"\nnew line', "score": 0.1, "big": 2**62, "flag": True,
        "data": b"\x00\xff\x10", "meta": {"k": [1, 2.5, None], "ü": "ñ"}, "day": dt.date(2025, 5, 30),
        "ts": dt.datetime(2025, 5, 30, 12, 0, 0, 123456),
    },
    {
        "id": 2, "name": "", "score": None, "big": -(2**63), "flag": False, "data": b"",
        "meta": [], "day": None, "ts": None,
    },
    {
        "id": 3, "name": None, "score": float("inf"), "big": None, "flag": None, "data": None,
        "meta": None, "day": dt.date(1999, 12, 31), "ts": dt.datetime(1970, 1, 1),
    },
    {
        "id": 4, "name": "ünïcødé 😀 中文", "score": -1.5e-300, "big": 0, "flag": True,
        "data": bytes(range(256)), "meta": {"nested": {"deep": True}}, "day": None, "ts": None,
    },
    {
        "id": 5, "name": "\\.", "score": 1e308, "big": 7, "flag": False, "data": b"\\x41",
        "meta": {"s": ""}, "day": None, "ts": None,
    },
    {
        "id": 6, "name": " padded ", "score": float("nan"), "big": 1, "flag": True,
        "data": b"x", "meta": [1, "two", {"3": None}], "day": None, "ts": None,
    },
    {
        "id": 7, "name": "\\x41", "score": 0.0, "big": 2, "flag": True, "data": b"\r\n",
        "meta": 42, "day": None, "ts": None,
    },
    {
        "id": 8, "name": "NULL", "score": -0.0, "big": 3, "flag": False, "data": b'"',
        "meta": {"a": 'quote " and , comma'}, "day": None, "ts": None,
    },
]  # fmt: skip


def _same(a, b):
    """Row equality where NaN equals NaN."""
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            continue
        if x != y or type(x) is not type(y):
            return False
    return True


def _sample(db, table="sample"):
    db.create_table(table, COLUMNS)
    db.insert_many(table, ROWS)
    return db.select(table, order_by="id")


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_round_trip_equals_original(db, tmp_path):
    """Export then import gives back every value: types, NULL vs "", unicode, BLOBs, JSON."""
    original = _sample(db)
    path = tmp_path / "sample.csv"
    assert db.export_to_csv("sample", path) == len(ROWS)
    db.create_table("copy", COLUMNS)
    assert db.import_from_csv("copy", path) == len(ROWS)
    copied = db.select("copy", order_by="id")
    assert len(copied) == len(original)
    for a, b in zip(original, copied):
        assert _same(a, b), (a, b)
    assert copied[1]["name"] == "" and copied[2]["name"] is None


def test_export_follows_postgresql_csv_conventions(db, tmp_path):
    """The file has a header, "" for empty strings, nothing for NULL, \\x hex bytes, t/f."""
    _sample(db)
    path = tmp_path / "out.csv"
    db.export_to_csv("sample", path, columns=["id", "name", "flag", "data"], where="id IN (2, 3, 5)",
                     order_by="id")  # fmt: skip
    assert path.read_text(encoding="utf-8") == (
        'id,name,flag,data\n2,"",f,\\x\n3,,,\n5,\\.,f,\\x5c783431\n'
    )
    db.export_to_csv("sample", path, columns=["name"], where="id IN (5, 7)", order_by="id")
    assert path.read_text(encoding="utf-8") == 'name\n"\\."\n\\x41\n'  # alone, \. would end COPY data
    db.create_table("names", {"name": "TEXT"})
    assert db.import_from_csv("names", path) == 2
    assert db.select("names") == [{"name": "\\."}, {"name": "\\x41"}]


def test_export_query_binds_params_and_writes_header_for_no_rows(db, tmp_path):
    """export_query_to_csv binds ? params and still writes the header when nothing matches."""
    _sample(db)
    path = tmp_path / "q.csv"
    query = "SELECT id, big AS value FROM sample WHERE big > ? ORDER BY id"
    assert db.export_query_to_csv(query, path, [2]) == 3
    assert path.read_text() == "id,value\n1,4611686018427387904\n5,7\n8,3\n"
    assert db.export_query_to_csv(query, path, params=[2**63 - 1]) == 0
    assert path.read_text() == "id,value\n"


def test_csv_from_sqlite_imports_into_every_backend(db, tmp_path):
    """A file exported from SQLite imports unchanged into PostgreSQL (and SQLite)."""
    path = tmp_path / "from_sqlite.csv"
    with mngs.db.SQLite3(tmp_path / "source.db") as source:
        original = _sample(source)
        source.export_to_csv("sample", path)
    db.create_table("sample", COLUMNS)
    assert db.import_from_csv("sample", path) == len(ROWS)
    for a, b in zip(original, db.select("sample", order_by="id")):
        assert _same(a, b), (a, b)


def test_import_creates_missing_table_with_inferred_types(db, tmp_path):
    """A missing table is created with each column's narrowest fitting type."""
    path = _write(
        tmp_path / "new.csv",
        "n,x,ok,when,day,blob,doc,label,empty\n"
        '1,1.5,t,2025-01-02 03:04:05,2025-01-02,\\x00ff,"{""a"": 1}",abc,\n'
        "2,2,false,2025-01-02T03:04:05.5,2025-12-31,\\x,[1],12,\n"
        ',,,,,,,"",\n',
    )
    assert db.import_from_csv("fresh", path) == 3
    types = {c["name"]: c["type"].upper() for c in db.get_columns("fresh")}
    expected = db._dialect.transfer_types
    assert types == {
        "n": expected["integer"].upper(), "x": expected["float"].upper(), "ok": "BOOLEAN",
        "when": "TIMESTAMP" if db.backend == "sqlite" else "TIMESTAMP WITHOUT TIME ZONE",
        "day": "DATE", "blob": expected["bytes"].upper(), "doc": expected["json"].upper(),
        "label": "TEXT", "empty": "TEXT",
    }  # fmt: skip
    rows = sorted(db.select("fresh"), key=lambda r: (r["n"] is None, r["n"]))
    assert rows[0] == {
        "n": 1, "x": 1.5, "ok": True, "when": dt.datetime(2025, 1, 2, 3, 4, 5),
        "day": dt.date(2025, 1, 2), "blob": b"\x00\xff", "doc": {"a": 1}, "label": "abc",
        "empty": None,
    }  # fmt: skip
    assert rows[1]["when"] == dt.datetime(2025, 1, 2, 3, 4, 5, 500000)
    assert rows[2] == dict.fromkeys(rows[2], None) | {"label": ""}


def test_import_without_create_refuses_missing_table(db, tmp_path):
    """create=False turns a missing table into a ProgrammingError naming it."""
    path = _write(tmp_path / "a.csv", "a\n1\n")
    with pytest.raises(mngs.db.ProgrammingError, match="nowhere"):
        db.import_from_csv("nowhere", path, create=False)
    assert not db.table_exists("nowhere")


def test_import_maps_header_to_columns_and_defaults_the_rest(db, tmp_path):
    """Header columns in any order fill those columns; the others get their defaults."""
    db.create_table("people", {"id": "INTEGER PRIMARY KEY", "name": "TEXT", "age": "INTEGER",
                               "city": "TEXT DEFAULT 'Paris'"})  # fmt: skip
    path = _write(tmp_path / "p.csv", "age,name\n30,Ann\n,Bob\n")
    assert db.import_from_csv("people", path) == 2
    assert db.select("people", order_by="id") == [
        {"id": 1, "name": "Ann", "age": 30, "city": "Paris"},
        {"id": 2, "name": "Bob", "age": None, "city": "Paris"},
    ]


def test_import_with_explicit_ids_keeps_later_inserts_fresh(db, tmp_path):
    """Ids written by an import do not collide with the next generated id."""
    db.create_table("items", {"id": "INTEGER PRIMARY KEY", "name": "TEXT"})
    path = _write(tmp_path / "i.csv", "id,name\n10,a\n11,b\n")
    db.import_from_csv("items", path)
    assert db.insert("items", {"name": "c"}) == 12


def test_unknown_header_column_is_refused_before_import(db, tmp_path):
    """A header naming a column the table lacks raises an error naming it; nothing changes."""
    db.create_table("t", {"a": "INTEGER", "b": "TEXT"})
    db.insert("t", {"a": 1, "b": "keep"})
    path = _write(tmp_path / "bad.csv", "a,colour\n2,red\n")
    with pytest.raises(mngs.db.ProgrammingError, match="colour"):
        db.import_from_csv("t", path)
    assert db.select("t") == [{"a": 1, "b": "keep"}]


@pytest.mark.parametrize("header", ["a,,b", "a,b,a", ""])
def test_bad_header_is_a_data_error(db, tmp_path, header):
    """An empty file, an empty column name or a repeated one is refused on line 1."""
    path = _write(tmp_path / "h.csv", header + ("\n1,2,3\n" if header else ""))
    with pytest.raises(mngs.db.DataError, match="line 1"):
        db.import_from_csv("h", path)
    assert not db.table_exists("h")


def test_value_not_fitting_column_mid_file_imports_nothing(db, tmp_path):
    """'abc' in an INTEGER column on line 52: DataError naming line and column; no row added."""
    db.create_table("nums", {"k": "INTEGER", "label": "TEXT"})
    db.insert("nums", {"k": 0, "label": "before"})
    lines = ["label,k"] + [f"row{i},{i}" for i in range(1, 101)]
    lines[51] = "row51,abc"
    path = _write(tmp_path / "nums.csv", "\n".join(lines) + "\n")
    with pytest.raises(mngs.db.DataError, match=r"line 52, column 'k'") as info:
        db.import_from_csv("nums", path, batch_size=10)
    assert "nums.csv" in str(info.value)
    assert db.select("nums") == [{"k": 0, "label": "before"}]


def test_wrong_number_of_fields_names_the_line(db, tmp_path):
    """A record with too few or too many fields is a DataError naming its line; none imported."""
    db.create_table("pairs", {"a": "TEXT", "b": "TEXT"})
    for bad in ("x", "x,y,z"):
        path = _write(tmp_path / "pairs.csv", f"a,b\n1,2\n3,4\n{bad}\n5,6\n")
        with pytest.raises(mngs.db.DataError, match="line 4"):
            db.import_from_csv("pairs", path)
    assert db.count("pairs") == 0


def test_invalid_encoding_names_the_line(db, tmp_path):
    """Bytes that are not valid in the file's encoding are a DataError naming the line."""
    db.create_table("words", {"w": "TEXT"})
    path = tmp_path / "w.csv"
    path.write_bytes(b"w\nok\nfine\nbad \xff byte\n")
    with pytest.raises(mngs.db.DataError, match="line 4"):
        db.import_from_csv("words", path)
    path.write_bytes(b"w\nok\ncaf\xe9\n")
    with pytest.raises(mngs.db.DataError, match=r"line 3: not valid ascii"):
        db.import_from_csv("words", path, encoding="ascii")
    assert db.count("words") == 0


def test_unterminated_quote_is_a_data_error(db, tmp_path):
    """A quoted field that never closes is malformed: DataError, nothing imported."""
    db.create_table("q", {"a": "TEXT", "b": "TEXT"})
    path = _write(tmp_path / "q.csv", 'a,b\n1,2\n3,"open\n')
    with pytest.raises(mngs.db.DataError, match=r"q\.csv, line \d"):
        db.import_from_csv("q", path)
    assert db.count("q") == 0


def test_failed_import_into_a_new_table_leaves_no_table(db, tmp_path):
    """When an import that would create its table fails, the table is not created either."""
    path = _write(tmp_path / "n.csv", "a,b\n1,x\n2,y\n" + "3,z\n" * 50 + "4\n")
    with pytest.raises(mngs.db.DataError, match="line 54: 1 field"):
        db.import_from_csv("never", path, batch_size=7)
    assert not db.table_exists("never")


def test_constraint_violation_names_the_line(db, tmp_path):
    """A duplicate key on line 4 is an IntegrityError naming that line; nothing imported."""
    db.create_table("keys", {"id": "INTEGER PRIMARY KEY", "v": "TEXT"})
    path = _write(tmp_path / "k.csv", "id,v\n1,a\n2,b\n1,c\n3,d\n")
    with pytest.raises(mngs.db.IntegrityError, match="line 4"):
        db.import_from_csv("keys", path)
    assert db.count("keys") == 0


def test_import_streams_many_rows_in_small_batches(db, tmp_path):
    """A few thousand rows in batches of 100 all arrive, exactly once."""
    path = tmp_path / "many.csv"
    with path.open("w") as f:
        f.write("i,square,word\n")
        for i in range(3000):
            f.write(f"{i},{i * i},{'' if i % 7 == 0 else 'w' + str(i)}\n")
    assert db.import_from_csv("many", path, batch_size=100) == 3000
    assert db.count("many") == 3000
    assert db.count("many", "word IS NULL") == len(range(0, 3000, 7))
    assert db.execute("SELECT SUM(square) AS s FROM many")[0]["s"] == sum(i * i for i in range(3000))


def test_import_joins_an_enclosing_transaction(db, tmp_path):
    """Inside db.transaction(), an import is undone with the rest when the block fails."""
    db.create_table("t", {"a": "INTEGER"})
    path = _write(tmp_path / "t.csv", "a\n1\n2\n")
    with pytest.raises(RuntimeError), db.transaction():
        assert db.import_from_csv("t", path) == 2
        assert db.count("t") == 2
        raise RuntimeError("undo")
    assert db.count("t") == 0


def test_delimiter_and_encoding(db, tmp_path):
    """A semicolon-separated latin-1 file round-trips with delimiter and encoding given."""
    db.create_table("fr", {"id": "INTEGER", "mot": "TEXT"})
    db.insert_many("fr", [{"id": 1, "mot": "café; crème"}, {"id": 2, "mot": "où"}])
    path = tmp_path / "fr.csv"
    assert db.export_to_csv("fr", path, delimiter=";", encoding="latin-1", order_by="id") == 2
    assert path.read_bytes() == 'id;mot\n1;"café; crème"\n2;où\n'.encode("latin-1")
    db.create_table("fr2", {"id": "INTEGER", "mot": "TEXT"})
    assert db.import_from_csv("fr2", path, delimiter=";", encoding="latin-1") == 2
    assert db.select("fr2", order_by="id") == db.select("fr", order_by="id")
    with pytest.raises(mngs.db.ArgumentError, match="delimiter"):
        db.export_to_csv("fr", path, delimiter="ab")


def test_utf8_bom_and_crlf_lines_are_accepted(db, tmp_path):
    """A spreadsheet-style file (BOM, CRLF line ends) imports like a plain one."""
    path = tmp_path / "excel.csv"
    path.write_bytes(b'\xef\xbb\xbfname,n\r\nAnn,1\r\n"B\r\nob",2\r\n')
    assert db.import_from_csv("excel", path) == 2
    assert db.select("excel", order_by="n") == [{"name": "Ann", "n": 1}, {"name": "B\r\nob", "n": 2}]


def test_failed_export_keeps_the_previous_file(db, tmp_path):
    """An export that fails leaves an existing file untouched and no partial file behind."""
    _sample(db)
    path = tmp_path / "keep.csv"
    path.write_text("precious\n")
    with pytest.raises(mngs.db.ProgrammingError):
        db.export_query_to_csv("SELECT no_such_column FROM sample", path)
    assert path.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("keep")) == ["keep.csv"]


def test_progress_bar_only_when_asked_or_on_a_terminal(db, tmp_path, capsys):
    """progress=True draws a bar on stderr; the default stays silent off a terminal."""
    _sample(db)
    path = tmp_path / "p.csv"
    db.export_to_csv("sample", path)
    db.create_table("again", COLUMNS)
    db.import_from_csv("again", path)
    assert capsys.readouterr().err == ""
    db.export_to_csv("sample", path, progress=True)
    db.delete("again", all_rows=True)
    db.import_from_csv("again", path, progress=True)
    drawn = capsys.readouterr().err
    assert "export" in drawn and "import" in drawn


def test_spec_import_export_example_runs_as_written(db, tmp_path, monkeypatch):
    """The spec's "Import/Export Operations" example runs as written (on the spec's columns;
    the id is a plain column, since appending a table's own frame repeats its ids)."""
    monkeypatch.chdir(tmp_path)
    db.create_table(
        "experiments",
        {"id": "INTEGER", "name": "TEXT NOT NULL", "timestamp": "DATETIME DEFAULT CURRENT_TIMESTAMP",
         "accuracy": "REAL", "parameters": "TEXT"},
    )  # fmt: skip
    db.insert_many(
        "experiments",
        [{"id": i, "name": f"exp{i}", "accuracy": i / 10, "parameters": '{"lr": 0.001}'} for i in range(11)],
    )
    _write(tmp_path / "experiments_data.csv", "id,name,accuracy\n11,imported,0.95\n")

    # Export to CSV
    db.export_to_csv("experiments", "experiments_backup.csv")

    # Import from CSV
    db.import_from_csv("experiments", "experiments_data.csv")

    # Export to pandas DataFrame
    df = db.to_dataframe("experiments")

    # Import from pandas DataFrame
    db.from_dataframe(df, "experiments", if_exists="append")

    # Export query results
    query = "SELECT * FROM experiments WHERE accuracy > 0.9"
    db.export_query_to_csv(query, "high_accuracy_experiments.csv")

    backup = (tmp_path / "experiments_backup.csv").read_text().splitlines()
    assert backup[0] == "id,name,timestamp,accuracy,parameters" and len(backup) == 12
    assert len(df) == 12 and df["name"].iloc[-1] == "imported"
    assert str(df["timestamp"].dtype).startswith("datetime64")
    assert db.count("experiments") == 24
    assert db.select("experiments", where="id = 11", columns=["name", "accuracy"]) == [
        {"name": "imported", "accuracy": 0.95}
    ] * 2
    high = (tmp_path / "high_accuracy_experiments.csv").read_text().splitlines()
    assert len(high) == 5  # the header, then exp10 and imported, each twice


def test_one_column_null_and_carriage_return_follow_copy(db, tmp_path):
    """NULL alone on a line is an empty line, "" is quoted, a CR is quoted: as COPY writes them."""
    db.create_table("one", {"k": "INTEGER", "v": "TEXT"})
    db.insert_many("one", [{"k": 1, "v": "a"}, {"k": 2, "v": None}, {"k": 3, "v": ""}, {"k": 4, "v": "x\ry"}])
    path = tmp_path / "one.csv"
    assert db.export_to_csv("one", path, columns=["v"], order_by="k") == 4
    assert path.read_bytes() == b'v\na\n\n""\n"x\ry"\n'
    db.create_table("back", {"v": "TEXT"})
    assert db.import_from_csv("back", path) == 4
    assert [r["v"] for r in db.select("back")] == ["a", None, "", "x\ry"]
    db.export_to_csv("one", path, where="k > 3")
    assert path.read_bytes() == b'k,v\n4,"x\ry"\n'


def test_dates_and_times_in_any_iso_spelling_import_as_values(db, tmp_path):
    """Canonical and other ISO spellings (T, Z, short offsets, leap days) import as the same
    values; an impossible date names its line and column and imports nothing."""
    db.create_table("times", {"k": "INTEGER", "ts": "TIMESTAMP", "day": "DATE", "at": "TIME"})
    utc = dt.timezone.utc
    lines = [
        ("2024-01-01 00:00:00", "2024-01-01", "12:00:00"),
        ("2024-01-01T00:00:00.5", "2024-02-29", "12:00:00.250000"),
        ("2024-01-01 00:00:00.000000", "2000-02-29", "23:59:59.999999"),
        ("2024-12-31 23:59:59.999999", "1999-12-31", "00:00:00"),
    ]
    text = "k,ts,day,at\n" + "".join(f"{k},{ts},{d},{t}\n" for k, (ts, d, t) in enumerate(lines))
    path = _write(tmp_path / "times.csv", text)
    assert db.import_from_csv("times", path) == 4
    rows = db.select("times", order_by="k")
    assert [r["ts"] for r in rows] == [
        dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1, 0, 0, 0, 500000), dt.datetime(2024, 1, 1),
        dt.datetime(2024, 12, 31, 23, 59, 59, 999999),
    ]  # fmt: skip
    assert [r["day"] for r in rows] == [dt.date(2024, 1, 1), dt.date(2024, 2, 29), dt.date(2000, 2, 29),
                                        dt.date(1999, 12, 31)]  # fmt: skip
    assert rows[1]["at"] == dt.time(12, 0, 0, 250000)
    out = tmp_path / "out.csv"
    db.export_to_csv("times", out, columns=["ts"], order_by="k")
    exported = out.read_text().splitlines()
    assert exported[1] == exported[3] == "2024-01-01 00:00:00" and exported[4] == lines[3][0]
    db.create_table("zoned", {"ts": "TIMESTAMPTZ"})
    path = _write(tmp_path / "zoned.csv", "ts\n2024-01-01 12:00:00+05:30\n2024-01-01 06:30:00Z\n")
    assert db.import_from_csv("zoned", path) == 2
    values = [r["ts"] for r in db.select("zoned")]
    assert values[0] == values[1] == dt.datetime(2024, 1, 1, 6, 30, tzinfo=utc)
    for bad in ("2023-02-29", "2024-04-31"):
        path = _write(tmp_path / "bad.csv", f"k,day\n1,2024-01-01\n2,{bad}\n")
        with pytest.raises(mngs.db.DataError, match=r"line 3, column 'day'"):
            db.import_from_csv("times", path)
    assert db.count("times") == 4


def test_exported_dates_and_times_are_iso_text(db, tmp_path):
    """Dates, times and timestamps are written as ISO text that reads back as the same values."""
    db.create_table("t", {"k": "INTEGER", "ts": "TIMESTAMP", "day": "DATE", "at": "TIME"})
    db.insert_many("t", [
        {"k": 1, "ts": dt.datetime(2024, 2, 29, 23, 59, 59), "day": dt.date(2024, 2, 29),
         "at": dt.time(7, 5)},
        {"k": 2, "ts": dt.datetime(1970, 1, 1, 0, 0, 0, 1), "day": None, "at": dt.time(0, 0, 0, 500000)},
    ])  # fmt: skip
    path = tmp_path / "t.csv"
    db.export_to_csv("t", path, order_by="k")
    lines = path.read_text().splitlines()
    assert lines[1] == "1,2024-02-29 23:59:59,2024-02-29,07:05:00"
    assert lines[2].startswith("2,1970-01-01 00:00:00.000001,,00:00:00.5")
    db.create_table("t2", {"k": "INTEGER", "ts": "TIMESTAMP", "day": "DATE", "at": "TIME"})
    db.import_from_csv("t2", path)
    assert db.select("t2", order_by="k") == db.select("t", order_by="k")


def test_quoted_fields_late_in_a_long_file(db, tmp_path, monkeypatch):
    """Read in small blocks, a file whose quoted (even multi-line) fields start mid-way imports
    every row, and an error after them still names its CSV record line."""
    monkeypatch.setattr(mngs.db.csvformat, "READ_SIZE", 64)
    db.create_table("t", {"k": "INTEGER", "label": "TEXT", "x": "REAL"})
    lines = [f"{k},row{k},{k / 2}" for k in range(300)]
    lines[150] = '150,"quoted, with comma",75.0'
    lines[151] = '151,"two\nlines",75.5'
    lines[200] = '200,"",100.0'
    path = _write(tmp_path / "late.csv", "k,label,x\n" + "\n".join(lines) + "\n")
    assert db.import_from_csv("t", path, batch_size=40) == 300
    rows = db.select("t", order_by="k")
    assert [r["label"] for r in rows[149:152]] == ["row149", "quoted, with comma", "two\nlines"]
    assert rows[200]["label"] == "" and rows[299] == {"k": 299, "label": "row299", "x": 149.5}
    lines[151] = '151,"one line",75.5'  # PostgreSQL counts physical lines, the others records
    lines[250] = "250,row250,not a number"
    _write(path, "k,label,x\n" + "\n".join(lines) + "\n")
    db.delete("t", all_rows=True)
    with pytest.raises(mngs.db.DataError, match=r"line 252, column 'x'"):
        db.import_from_csv("t", path, batch_size=40)
    lines[250] = '250,"unterminated,1.0'
    _write(path, "k,label,x\n" + "\n".join(lines[:251]) + "\n")
    at = "line 253" if db.backend == "postgresql" else "line 252"  # COPY names the line after it
    with pytest.raises(mngs.db.DataError, match=at):
        db.import_from_csv("t", path, batch_size=40)
    assert db.count("t") == 0


def test_transfers_leave_the_garbage_collector_as_it_was(db, tmp_path):
    """Export and import restore the garbage collector's state, enabled or disabled."""
    import gc

    _sample(db)
    path = tmp_path / "gc.csv"
    assert gc.isenabled()
    db.export_to_csv("sample", path)
    assert gc.isenabled()
    gc.disable()
    try:
        db.export_to_csv("sample", path)
        assert not gc.isenabled()
    finally:
        gc.enable()
