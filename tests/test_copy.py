"""mngs.db.copy: tables between handles, SQLite ↔ PostgreSQL and same-backend, every value kept."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import mngs.db
from mngs.db.copy import CopyReport

PAIRS = [
    pytest.param("sqlite", "postgresql", id="sqlite-postgresql", marks=pytest.mark.postgresql),
    pytest.param("postgresql", "sqlite", id="postgresql-sqlite", marks=pytest.mark.postgresql),
    pytest.param("sqlite", "sqlite", id="sqlite-sqlite"),
    pytest.param("postgresql", "postgresql", id="postgresql-postgresql", marks=pytest.mark.postgresql),
]
OTHER = {"sqlite": "postgresql", "postgresql": "sqlite"}


@pytest.fixture
def make(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[[str], Any]]:
    """Opens a handle to a new empty database of a backend: a SQLite file in tmp_path, or a
    fresh PostgreSQL schema (dropped afterwards)."""
    schemas: list[str] = []
    with ExitStack() as stack:

        def open_db(backend: str) -> Any:
            if backend == "sqlite":
                handle = mngs.db.SQLite3(str(tmp_path / f"db{len(stack._exit_callbacks)}.db"))
            else:
                dsn = request.getfixturevalue("pg_dsn")
                schema = f"t_{uuid.uuid4().hex[:12]}"
                import psycopg

                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f'CREATE SCHEMA "{schema}"')
                schemas.append(schema)
                handle = mngs.db.PostgreSQL(dsn=dsn, options=f"-c search_path={schema}")
            stack.callback(handle.close)
            return handle

        try:
            yield open_db
        finally:
            stack.close()
            if schemas:
                import psycopg

                with psycopg.connect(request.getfixturevalue("pg_dsn"), autocommit=True) as conn:
                    for schema in schemas:
                        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _chinook(db: Any) -> None:
    """A small Chinook-shaped schema as its SQLite file spells it: bracketed names,
    NVARCHAR, DATETIME, NUMERIC(10,2), children created before their parents, a
    self-reference, a composite key, and the FK indexes."""
    statements = [
        """CREATE TABLE [PlaylistTrack] ([PlaylistId] INTEGER NOT NULL, [TrackId] INTEGER NOT NULL,
            CONSTRAINT [PK_PlaylistTrack] PRIMARY KEY ([PlaylistId], [TrackId]),
            FOREIGN KEY ([PlaylistId]) REFERENCES [Playlist] ([PlaylistId]),
            FOREIGN KEY ([TrackId]) REFERENCES [Track] ([TrackId]))""",
        """CREATE TABLE [Track] ([TrackId] INTEGER NOT NULL, [Name] NVARCHAR(200) NOT NULL,
            [AlbumId] INTEGER, [Composer] NVARCHAR(220), [Milliseconds] INTEGER NOT NULL,
            [Bytes] INTEGER, [UnitPrice] NUMERIC(10,2) NOT NULL,
            CONSTRAINT [PK_Track] PRIMARY KEY ([TrackId]),
            FOREIGN KEY ([AlbumId]) REFERENCES [Album] ([AlbumId])
                ON DELETE NO ACTION ON UPDATE NO ACTION)""",
        """CREATE TABLE [Album] ([AlbumId] INTEGER NOT NULL, [Title] NVARCHAR(160) NOT NULL,
            [ArtistId] INTEGER NOT NULL, CONSTRAINT [PK_Album] PRIMARY KEY ([AlbumId]),
            FOREIGN KEY ([ArtistId]) REFERENCES [Artist] ([ArtistId]))""",
        "CREATE TABLE [Artist] ([ArtistId] INTEGER NOT NULL, [Name] NVARCHAR(120), "
        "CONSTRAINT [PK_Artist] PRIMARY KEY ([ArtistId]))",
        "CREATE TABLE [Playlist] ([PlaylistId] INTEGER NOT NULL, [Name] NVARCHAR(120), "
        "CONSTRAINT [PK_Playlist] PRIMARY KEY ([PlaylistId]))",
        """CREATE TABLE [Employee] ([EmployeeId] INTEGER NOT NULL, [LastName] NVARCHAR(20) NOT NULL,
            [ReportsTo] INTEGER, [BirthDate] DATETIME, [HireDate] DATETIME, [Email] NVARCHAR(60),
            CONSTRAINT [PK_Employee] PRIMARY KEY ([EmployeeId]),
            FOREIGN KEY ([ReportsTo]) REFERENCES [Employee] ([EmployeeId]))""",
        """CREATE TABLE [Invoice] ([InvoiceId] INTEGER NOT NULL, [InvoiceDate] DATETIME NOT NULL,
            [BillingCountry] NVARCHAR(40), [Total] NUMERIC(10,2) NOT NULL,
            CONSTRAINT [PK_Invoice] PRIMARY KEY ([InvoiceId]))""",
        "CREATE INDEX [IFK_AlbumArtistId] ON [Album] ([ArtistId])",
        "CREATE INDEX [IFK_TrackAlbumId] ON [Track] ([AlbumId])",
        "CREATE UNIQUE INDEX [IPK_EmployeeEmail] ON [Employee] ([Email])",
    ]
    for sql in statements:
        db.execute(sql)
    db.insert_many(
        "Artist",
        [
            {"ArtistId": 1, "Name": "AC/DC"},
            {"ArtistId": 2, "Name": "Motörhead"},
            {"ArtistId": 3, "Name": None},
            {"ArtistId": 4, "Name": "Antônio Carlos Jobim"},
        ],
    )
    db.insert_many(
        "Album",
        [
            {"AlbumId": 1, "Title": "For Those About To Rock", "ArtistId": 1},
            {"AlbumId": 2, "Title": "Ace of Spades — 日本版", "ArtistId": 2},
        ],
    )
    db.insert_many("Track", [
        {"TrackId": i, "Name": f"Track {i} “quoted” \\ tab\t", "AlbumId": 1 + i % 2,
         "Composer": None if i % 3 else "Ö", "Milliseconds": 1000 * i, "Bytes": 2**40 + i,
         "UnitPrice": Decimal("0.99") if i % 2 else Decimal("1.99")}
        for i in range(1, 21)
    ])  # fmt: skip
    db.insert_many("Playlist", [{"PlaylistId": 1, "Name": "Music"}, {"PlaylistId": 2, "Name": "Grunge"}])
    db.insert_many(
        "PlaylistTrack", [{"PlaylistId": p, "TrackId": t} for p in (1, 2) for t in range(1, 21, p)]
    )
    db.insert_many("Employee", [  # the manager has the larger id: read after those who report to her
        {"EmployeeId": 3, "LastName": "Adams", "ReportsTo": None, "BirthDate": dt.datetime(1962, 2, 18),
         "HireDate": dt.datetime(2002, 8, 14, 12, 30, 5), "Email": "andrew@chinookcorp.com"},
        {"EmployeeId": 1, "LastName": "Edwards", "ReportsTo": 3, "BirthDate": dt.datetime(1958, 12, 8),
         "HireDate": dt.datetime(2002, 5, 1, 0, 0), "Email": "nancy@chinookcorp.com"},
        {"EmployeeId": 2, "LastName": "Peacock", "ReportsTo": 3, "BirthDate": None, "HireDate": None,
         "Email": None},
    ])  # fmt: skip
    db.insert_many("Invoice", [
        {"InvoiceId": i, "InvoiceDate": dt.datetime(2009, 1, i), "BillingCountry": "Deutschland",
         "Total": Decimal(i) + Decimal("0.98")}
        for i in range(1, 11)
    ])  # fmt: skip


def _everything(db: Any) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in key order."""
    inspector = mngs.db.inspect(db)
    return {
        table: db.select(table, order_by=inspector.get_primary_keys(table) or None)
        for table in db.list_tables()
    }


@pytest.mark.postgresql
def test_chinook_sqlite_to_postgresql_and_back_keeps_every_value(make):
    """Chinook-shaped SQLite → PostgreSQL → SQLite: every table, every value equal; types
    translated, keys, foreign keys and indexes created on PostgreSQL and enforced there."""
    lite, pg, back = make("sqlite"), make("postgresql"), make("sqlite")
    _chinook(lite)
    original = _everything(lite)
    report = mngs.db.copy(lite, pg)
    assert isinstance(report, CopyReport)
    assert report.tables == {t: len(rows) for t, rows in original.items()}
    order = list(report.tables)  # parents first
    assert order.index("Artist") < order.index("Album") < order.index("Track") < order.index("PlaylistTrack")
    assert report.skipped == [] and report.changed == []
    assert _everything(pg) == original
    types = {c["name"]: c["type"] for c in pg.get_columns("Track")}
    assert types["Name"] == "character varying(200)" and types["UnitPrice"] == "numeric(10,2)"
    assert {c["name"]: c["type"] for c in pg.get_columns("Invoice")}["InvoiceDate"].startswith("timestamp")
    inspector = mngs.db.inspect(pg)
    assert inspector.get_primary_keys("PlaylistTrack") == ["PlaylistId", "TrackId"]
    fks = {(tuple(fk["columns"]), fk["referred_table"]) for fk in inspector.get_foreign_keys("PlaylistTrack")}
    assert fks == {(("PlaylistId",), "Playlist"), (("TrackId",), "Track")}
    assert [fk["referred_table"] for fk in inspector.get_foreign_keys("Employee")] == ["Employee"]
    indexes = {i["name"]: (i["columns"], i["unique"]) for i in inspector.get_indexes("Album")}
    assert indexes["IFK_AlbumArtistId"] == (["ArtistId"], False)
    with pytest.raises(mngs.db.IntegrityError):
        pg.insert("Album", {"Title": "orphan", "ArtistId": 99})
    with pytest.raises(mngs.db.IntegrityError):
        pg.insert("Employee", {"LastName": "Dup", "Email": "nancy@chinookcorp.com"})
    assert pg.insert("Artist", {"Name": "next"}) == 5  # the identity continues past copied ids
    pg.delete("Artist", where={"ArtistId": 5})

    again = mngs.db.copy(pg, back)
    assert again.tables == report.tables and again.skipped == []
    assert _everything(back) == original
    assert back.insert("Artist", {"Name": "next"}) == 5  # INTEGER PRIMARY KEY again
    with pytest.raises(mngs.db.IntegrityError):
        back.insert("PlaylistTrack", {"PlaylistId": 9, "TrackId": 1})


def _portable(db: Any) -> dict[str, list[dict[str, Any]]]:
    """Tables with every portable type, composite keys, foreign keys both ways round in
    creation order, a self-reference and unicode names; returns the rows written."""
    forward = (["a", "b"], "pair 表", ["a", "b"])  # to a table created later
    db.create_table("child ü", {"id": "INTEGER PRIMARY KEY", "a": "INTEGER NOT NULL", "b": "TEXT NOT NULL",
                                "parent": "INTEGER"},
                    foreign_keys=[*([forward] if db.backend == "sqlite" else []),
                                  {"columns": "parent", "table": "child ü", "other_columns": "id",
                                   "on_delete": "CASCADE"}])  # fmt: skip
    db.create_table(
        "pair 表", {"a": "INTEGER", "b": "TEXT", "naïve col": "TEXT DEFAULT 'x'"}, primary_key=["a", "b"]
    )
    if db.backend == "postgresql":  # PostgreSQL refers only to existing tables: add it now
        db.execute('ALTER TABLE "child ü" ADD FOREIGN KEY (a, b) REFERENCES "pair 表" (a, b)')
    db.create_table(
        "vals",
        {
            "id": "INTEGER PRIMARY KEY", "big": "BIGINT", "f": "REAL", "t": "TEXT", "v": "VARCHAR(30)",
            "bin": "BLOB", "n": "NUMERIC(20,4)", "flag": "BOOLEAN DEFAULT FALSE", "d": "DATE",
            "ts": "TIMESTAMP", "tz": "TIMESTAMPTZ", "tm": "TIME", "j": "JSON", "pair_a": "INTEGER",
            "pair_b": "TEXT", "qty": "INTEGER DEFAULT 0 CHECK (qty >= 0)",
        },
        foreign_keys=[(["pair_a", "pair_b"], "pair 表", ["a", "b"])],
    )  # fmt: skip
    db.create_index("vals", ["pair_b", "big"])
    db.create_index("vals", ["v"], unique=True)
    rows = {
        "pair 表": [{"a": 1, "b": "x", "naïve col": "ä"}, {"a": 2, "b": "y", "naïve col": None}],
        "child ü": [{"id": 3, "a": 1, "b": "x", "parent": None}, {"id": 1, "a": 1, "b": "x", "parent": 3},
                    {"id": 2, "a": 2, "b": "y", "parent": 1}],  # read back with a parent after its child
        "vals": [
            {"id": 1, "big": 2**62, "f": 1.5, "t": "unicode ☃ \"' \\. \n\r\\N", "v": "a",
             "bin": b"\x00\xff\\.",
             "n": Decimal("12345678901.2345"), "flag": True, "d": dt.date(1, 1, 1),
             "ts": dt.datetime(2024, 2, 29, 23, 59, 59, 999999),
             "tz": dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone.utc),
             "tm": dt.time(0, 0, 0, 1), "j": {"k": ["ü", 1, 2.5, None, True], "n": {"x": {}}},
             "pair_a": 1, "pair_b": "x", "qty": 3},
            {"id": 2, "big": -(2**62), "f": -1e300, "t": "", "v": "b", "bin": b"", "n": Decimal("-0.0001"),
             "flag": False, "d": dt.date(9999, 12, 31), "ts": dt.datetime(1970, 1, 1),
             "tz": dt.datetime(1999, 12, 31, 23, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
             "tm": dt.time(23, 59, 59), "j": [1, "two", [3]], "pair_a": 2, "pair_b": "y", "qty": 0},
            {"id": 3, "big": None, "f": None, "t": None, "v": None, "bin": None, "n": None, "flag": None,
             "d": None, "ts": None, "tz": None, "tm": None, "j": None, "pair_a": None, "pair_b": None,
             "qty": None},
        ],
    }  # fmt: skip
    for table in ("pair 表", "child ü", "vals"):
        db.insert_many(table, rows[table])
    return rows


def _same(found: dict[str, list[dict[str, Any]]], wanted: dict[str, list[dict[str, Any]]]) -> None:
    for table, rows in wanted.items():
        got = found[table]
        for row in got:  # a timestamptz comes back in the session's zone: compare instants
            if row.get("tz") is not None:
                row["tz"] = row["tz"].astimezone(dt.timezone.utc)
        for row in rows:
            if row.get("tz") is not None:
                row["tz"] = row["tz"].astimezone(dt.timezone.utc)
        assert sorted(got, key=repr) == sorted(rows, key=repr), table


@pytest.mark.parametrize(("src_backend", "dst_backend"), PAIRS)
def test_every_portable_type_survives_copy(make, src_backend, dst_backend):
    """Every portable type (2**62, NULLs, JSON, BLOB, NUMERIC, dates, times, booleans), composite
    keys, foreign keys created before their tables, a self-reference and unicode names copy
    exactly, and the constraints hold on the destination."""
    src, dst = make(src_backend), make(dst_backend)
    rows = _portable(src)
    report = mngs.db.copy(src, dst)
    assert report.tables == {"pair 表": 2, "child ü": 3, "vals": 3}
    assert report.skipped == []
    _same(_everything(dst), rows)
    assert mngs.db.inspect(dst).get_primary_keys("pair 表") == ["a", "b"]
    for bad in (
        {"id": 9, "qty": -1},  # CHECK
        {"id": 9, "v": "a"},  # UNIQUE index
        {"id": 9, "pair_a": 5, "pair_b": "nope"},  # composite FOREIGN KEY
    ):
        with pytest.raises(mngs.db.IntegrityError):
            dst.insert("vals", bad)
    assert dst.insert("vals", {"t": "next"}) == 4
    assert dst.select("vals", where={"id": 4})[0]["flag"] is False  # the default came along
    assert dst.select("pair 表", columns=["naïve col"], where={"a": 2})[0]["naïve col"] is None
    dst.delete("child ü", where={"id": 3})  # ON DELETE CASCADE: 1 points at 3, 2 at 1
    assert dst.count("child ü") == 0


@pytest.mark.postgresql
@pytest.mark.parametrize("start", ["sqlite", "postgresql"])
def test_round_trip_through_the_other_backend_is_equal(make, start):
    """A → B → A with the other backend in the middle: every value equal to what was written."""
    first, middle, last = make(start), make(OTHER[start]), make(start)
    rows = _portable(first)
    mngs.db.copy(first, middle)
    mngs.db.copy(middle, last)
    _same(_everything(last), rows)


@pytest.mark.parametrize(("src_backend", "dst_backend"), PAIRS)
def test_if_exists_modes(make, src_backend, dst_backend):
    """fail refuses and changes nothing; replace recreates; append adds rows (a duplicate key
    fails, undoing the whole copy); upsert overwrites rows with the same key."""
    src, dst = make(src_backend), make(dst_backend)
    src.create_table("t", {"id": "INTEGER PRIMARY KEY", "x": "TEXT"})
    src.insert_many("t", [{"id": 1, "x": "a"}, {"id": 2, "x": "b"}])
    dst.create_table("t", {"id": "INTEGER PRIMARY KEY", "x": "TEXT", "extra": "INTEGER"})
    dst.insert_many("t", [{"id": 2, "x": "old", "extra": 7}, {"id": 3, "x": "c", "extra": 8}])
    before = dst.select("t", order_by="id")
    with pytest.raises(mngs.db.ProgrammingError, match=r"'t' already exist.*if_exists"):
        mngs.db.copy(src, dst)
    with pytest.raises(mngs.db.IntegrityError):
        mngs.db.copy(src, dst, if_exists="append")
    assert dst.select("t", order_by="id") == before
    assert mngs.db.copy(src, dst, if_exists="upsert").tables == {"t": 2}
    assert dst.select("t", order_by="id") == [
        {"id": 1, "x": "a", "extra": None}, {"id": 2, "x": "b", "extra": 7}, {"id": 3, "x": "c", "extra": 8}
    ]  # fmt: skip
    src.insert("t", {"id": 4, "x": "d"})
    mngs.db.copy(src, dst, tables=["t"], if_exists="replace")
    assert dst.select("t", order_by="id") == src.select("t", order_by="id")
    assert [c["name"] for c in dst.get_columns("t")] == ["id", "x"]
    dst.delete("t", where={"id": 4})
    src.delete("t", where="id < 4")
    assert mngs.db.copy(src, dst, tables="t", if_exists="append").tables == {"t": 1}
    assert [r["id"] for r in dst.select("t", order_by="id")] == [1, 2, 4]
    with pytest.raises(mngs.db.ArgumentError, match="if_exists"):
        mngs.db.copy(src, dst, if_exists="merge")


@pytest.mark.parametrize(("src_backend", "dst_backend"), PAIRS)
def test_bad_input_changes_nothing(make, src_backend, dst_backend):
    """An unknown table, the same database twice, or a table missing a column on the
    destination: a clear error before anything is written."""
    src, dst = make(src_backend), make(dst_backend)
    src.create_table("t", {"id": "INTEGER PRIMARY KEY", "x": "TEXT"})
    with pytest.raises(mngs.db.ProgrammingError, match="ghost"):
        mngs.db.copy(src, dst, tables=["t", "ghost"])
    assert dst.list_tables() == []
    with pytest.raises(mngs.db.ArgumentError, match="same"):
        mngs.db.copy(src, src)
    dst.create_table("t", {"id": "INTEGER PRIMARY KEY"})
    with pytest.raises(mngs.db.ProgrammingError, match="'x'"):
        mngs.db.copy(src, dst, if_exists="append")
    src.create_table("loose", {"x": "TEXT"})
    dst.create_table("loose", {"x": "TEXT"})
    with pytest.raises(mngs.db.ArgumentError, match="primary key"):
        mngs.db.copy(src, dst, tables=["loose"], if_exists="upsert")
    assert dst.list_tables() == ["loose", "t"] and dst.count("loose") == 0
    with pytest.raises(mngs.db.InterfaceError):
        mngs.db.copy(src, "not a handle")  # type: ignore[arg-type]


@pytest.mark.parametrize(("src_backend", "dst_backend"), PAIRS)
def test_a_failed_copy_leaves_the_destination_unchanged(make, src_backend, dst_backend):
    """The copy is one transaction on the destination: a row it refuses in the last table
    undoes every table created and every row written before."""
    src, dst = make(src_backend), make(dst_backend)
    dst.create_table("keep", {"id": "INTEGER PRIMARY KEY"})
    dst.insert("keep", {"id": 1})
    src.create_table("a", {"id": "INTEGER PRIMARY KEY"})
    src.insert_many("a", [{"id": i} for i in range(100)])
    src.create_table("z", {"id": "INTEGER PRIMARY KEY", "s": "TEXT"})
    src.insert_many("z", [{"id": 1, "s": "fine"}, {"id": 2, "s": "bad"}])
    dst.create_table("z", {"id": "INTEGER PRIMARY KEY", "s": "TEXT CHECK (s <> 'bad')"})
    with pytest.raises(mngs.db.IntegrityError):
        mngs.db.copy(src, dst, if_exists="append")
    assert dst.list_tables() == ["keep", "z"] and dst.count("z") == 0 and dst.count("keep") == 1


@pytest.mark.postgresql
def test_report_names_what_was_not_copied(make):
    """Views, triggers, CHECKs the other dialect cannot run, partial and expression indexes
    are listed in the report (and logged); portable CHECKs are copied and enforced."""
    lite, pg = make("sqlite"), make("postgresql")
    lite.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT CHECK (typeof(name) = 'text'), "
                 "qty INTEGER CHECK (qty > 0), tags, kind YEAR)")  # fmt: skip
    lite.execute("CREATE INDEX t_partial ON t (qty) WHERE qty > 10")
    lite.execute("CREATE INDEX t_lower ON t (lower(name))")
    lite.execute("CREATE VIEW v AS SELECT * FROM t")
    lite.execute("CREATE TRIGGER trg AFTER INSERT ON t BEGIN SELECT 1; END")
    lite.insert_many("t", [{"id": 1, "name": "a", "qty": 5, "tags": 3, "kind": 2024}])
    report = mngs.db.copy(lite, pg)
    text = "\n".join(report.skipped)
    for expected in ("typeof(name)", "view v", "trigger trg", "t_partial", "lower(name)"):
        assert expected in text
    assert "CHECK (qty > 0)" not in text
    assert any("t.tags" in line and "TEXT" in line for line in report.changed)
    assert any("t.kind: YEAR stored as TEXT" in line for line in report.changed)
    assert "skipped: view v" in str(report)
    with pytest.raises(mngs.db.IntegrityError):
        pg.insert("t", {"qty": 0})
    assert pg.select("t") == [{"id": 1, "name": "a", "qty": 5, "tags": "3", "kind": "2024"}]

    pg.execute("CREATE TABLE p (id serial PRIMARY KEY, code text CHECK (code ~ '^[a-z]+$') "
               "CHECK (char_length(code) < 9), "
               "total numeric(8,2) DEFAULT 0 CHECK (total >= 0), "
               "twice integer GENERATED ALWAYS AS (id * 2) STORED, "
               "made timestamp DEFAULT now())")  # fmt: skip
    pg.insert("p", {"code": "abc", "total": Decimal("2.50")})
    back = make("sqlite")
    report = mngs.db.copy(pg, back, tables=["p"])
    assert any("code ~" in line for line in report.skipped)  # not SQL that SQLite parses
    assert any("char_length(code)" in line for line in report.skipped)  # no such function in SQLite
    assert any("p.twice" in line for line in report.changed)
    with pytest.raises(mngs.db.IntegrityError):
        back.insert("p", {"code": "x", "total": -1})
    row = back.select("p")[0]
    assert (row["id"], row["code"], row["total"], row["twice"]) == (1, "abc", Decimal("2.50"), 2)
    assert back.insert("p", {"code": "y"}) == 2
    assert back.select("p", where={"id": 2})[0]["made"] is not None  # now() → CURRENT_TIMESTAMP


@pytest.mark.postgresql
def test_sequences_move_past_copied_ids(make):
    """Auto-numbered columns continue after the largest copied value on PostgreSQL, key or
    not (serial and identity)."""
    lite, pg = make("sqlite"), make("postgresql")
    lite.create_table("t", {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "x": "TEXT"})
    lite.insert_many("t", [{"id": 10, "x": "a"}, {"id": 41, "x": "b"}])
    mngs.db.copy(lite, pg)
    assert pg.insert("t", {"x": "c"}) == 42
    other = make("postgresql")
    pg.execute("CREATE TABLE s (k text PRIMARY KEY, n serial, i bigint GENERATED ALWAYS AS IDENTITY)")
    pg.execute("INSERT INTO s (k) VALUES ('a'), ('b'), ('c')")
    report = mngs.db.copy(pg, other, tables=["s"])
    assert any("GENERATED ALWAYS" in line for line in report.changed)
    other.insert("s", {"k": "d"})
    assert other.select("s", where={"k": "d"}) == [{"k": "d", "n": 4, "i": 4}]


def test_numeric_reads_back_as_decimal(db):
    """NUMERIC and DECIMAL columns read back as Decimal on both backends, whatever the value
    was written as (Decimal, int, float, numeric text)."""
    db.create_table(
        "m", {"id": "INTEGER PRIMARY KEY", "n": "NUMERIC(10,2)", "d": "DECIMAL(12,4)", "p": "NUMERIC"}
    )
    db.insert_many("m", [
        {"id": 1, "n": Decimal("3.50"), "d": Decimal("-0.0001"), "p": Decimal("12345678901234")},
        {"id": 2, "n": 3, "d": 2.25, "p": "7"},
        {"id": 3, "n": None, "d": None, "p": None},
    ])  # fmt: skip
    rows = db.select("m", order_by="id")
    assert rows == [
        {"id": 1, "n": Decimal("3.5"), "d": Decimal("-0.0001"), "p": Decimal("12345678901234")},
        {"id": 2, "n": Decimal(3), "d": Decimal("2.25"), "p": Decimal(7)},
        {"id": 3, "n": None, "d": None, "p": None},
    ]
    assert all(type(v) is Decimal for row in rows[:2] for k, v in row.items() if k != "id")


@pytest.mark.postgresql
def test_numeric_rows_are_equal_across_backends(make):
    """The same NUMERIC rows written to SQLite and PostgreSQL read back equal."""
    written = [{"id": i, "price": Decimal(i) / 4} for i in range(1, 9)]
    found = []
    for backend in ("sqlite", "postgresql"):
        db = make(backend)
        db.create_table("m", {"id": "INTEGER PRIMARY KEY", "price": "NUMERIC(10,2)"})
        db.insert_many("m", written)
        found.append(db.select("m", order_by="id"))
    assert found[0] == found[1] == written


@pytest.mark.postgresql
def test_postgresql_only_types_reach_sqlite_as_text_and_are_reported(make):
    """A Pagila-shaped PostgreSQL table (INCLUDE key, enum, arrays, uuid, interval, inet, a
    sequence made apart) reaches SQLite with every value readable: arrays as JSON lists, the
    rest as text, each change named in the report; the key is one column."""
    pg, lite = make("postgresql"), make("sqlite")
    pg.execute("CREATE TYPE mpaa AS ENUM ('G', 'PG', 'R')")
    pg.execute("CREATE SEQUENCE film_film_id_seq")
    pg.execute(
        "CREATE TABLE film (film_id integer DEFAULT nextval('film_film_id_seq'::regclass) NOT NULL, "
        "title text NOT NULL, rating mpaa DEFAULT 'G'::mpaa, features text[], token uuid, "
        "length interval, host inet, PRIMARY KEY (film_id) INCLUDE (title))"
    )
    token = uuid.UUID("12345678-1234-5678-1234-567812345678")
    pg.execute(
        "INSERT INTO film (title, rating, features, token, length, host) VALUES "
        "('Academy Dinosaur', 'PG', ARRAY['Trailers', 'Deleted Scenes'], ?, '01:26:00', '10.0.0.1')",
        [token],
    )
    report = mngs.db.copy(pg, lite)
    assert report.tables == {"film": 1}
    changed = "\n".join(report.changed)
    for column in ("film.rating: mpaa", "film.features: text[] stored as JSON", "film.token: uuid",
                   "film.length: interval", "film.host: inet"):  # fmt: skip
        assert column in changed
    assert any("sequence film_film_id_seq" in line for line in report.skipped)
    assert mngs.db.inspect(lite).get_primary_keys("film") == ["film_id"]
    assert lite.select("film") == [
        {"film_id": 1, "title": "Academy Dinosaur", "rating": "PG",
         "features": ["Trailers", "Deleted Scenes"], "token": str(token), "length": "1:26:00",
         "host": "10.0.0.1"}
    ]  # fmt: skip
    assert lite.insert("film", {"title": "next"}) == 2
    assert lite.select("film", columns=["rating"], where={"film_id": 2}) == [{"rating": "G"}]  # 'G'::mpaa


@pytest.mark.parametrize(("src_backend", "dst_backend"), PAIRS)
def test_a_foreign_key_to_a_table_left_behind_is_reported(make, src_backend, dst_backend):
    """Copying a child without its parent: the table and rows come, the foreign key is named
    in the report instead of failing or vanishing silently."""
    src, dst = make(src_backend), make(dst_backend)
    src.create_table("parent", {"id": "INTEGER PRIMARY KEY"})
    src.create_table("kid", {"id": "INTEGER PRIMARY KEY", "parent_id": "INTEGER"},
                     foreign_keys=[("parent_id", "parent", "id")])  # fmt: skip
    src.insert("parent", {"id": 1})
    src.insert("kid", {"id": 1, "parent_id": 1})
    report = mngs.db.copy(src, dst, tables=["kid"])
    assert report.tables == {"kid": 1}
    assert report.skipped == ["kid: foreign key (parent_id) → parent, which is not on the destination"]
    assert dst.list_tables() == ["kid"]


@pytest.mark.parametrize(("src_backend", "dst_backend"), PAIRS)
def test_a_cycle_of_foreign_keys_is_copied(make, src_backend, dst_backend):
    """Two tables referring to each other: both created, rows loaded, both foreign keys
    present and enforced on the destination."""
    src, dst = make(src_backend), make(dst_backend)
    src.create_table("hen", {"id": "INTEGER PRIMARY KEY", "egg_id": "INTEGER"},
                     foreign_keys=[("egg_id", "egg", "id")] if src.backend == "sqlite" else [])  # fmt: skip
    src.create_table(
        "egg", {"id": "INTEGER PRIMARY KEY", "hen_id": "INTEGER"}, foreign_keys=[("hen_id", "hen", "id")]
    )
    if src.backend == "postgresql":
        src.execute("ALTER TABLE hen ADD FOREIGN KEY (egg_id) REFERENCES egg (id)")
    src.insert("hen", {"id": 1, "egg_id": None})
    src.insert("egg", {"id": 1, "hen_id": 1})
    src.update("hen", {"egg_id": 1}, where={"id": 1})
    report = mngs.db.copy(src, dst)
    assert report.tables == {"egg": 1, "hen": 1} and report.skipped == []
    assert dst.select("hen") == [{"id": 1, "egg_id": 1}] and dst.select("egg") == [{"id": 1, "hen_id": 1}]
    inspector = mngs.db.inspect(dst)
    assert [fk["referred_table"] for fk in inspector.get_foreign_keys("hen")] == ["egg"]
    assert [fk["referred_table"] for fk in inspector.get_foreign_keys("egg")] == ["hen"]
    with pytest.raises(mngs.db.IntegrityError):
        dst.insert("hen", {"id": 2, "egg_id": 7})


@pytest.mark.postgresql
def test_json_scalars_survive_the_round_trip(make):
    """JSON columns holding scalars (a string, a number, true) stay JSON scalars on PostgreSQL
    and back on SQLite, not text that no longer parses."""
    lite, pg, back = make("sqlite"), make("postgresql"), make("sqlite")
    lite.create_table("j", {"id": "INTEGER PRIMARY KEY", "doc": "JSON"})
    for i, text in enumerate(['"abc"', "3", "true", '{"a": "b"}', "[]"]):
        lite.execute("INSERT INTO j (id, doc) VALUES (?, ?)", [i, text])
    wanted = lite.select("j", order_by="id")
    assert [r["doc"] for r in wanted] == ["abc", 3, True, {"a": "b"}, []]
    mngs.db.copy(lite, pg)
    assert pg.execute("SELECT jsonb_typeof(doc) AS t FROM j ORDER BY id") == [
        {"t": "string"}, {"t": "number"}, {"t": "boolean"}, {"t": "object"}, {"t": "array"}
    ]  # fmt: skip
    mngs.db.copy(pg, back)
    assert back.select("j", order_by="id") == wanted


@pytest.mark.postgresql
def test_a_partitioned_table_is_copied_once(make):
    """PostgreSQL: a partitioned table (Pagila's payment) arrives as one ordinary table with
    every row once; its partitions are named in the report, not copied a second time."""
    pg, lite = make("postgresql"), make("sqlite")
    pg.execute("CREATE TABLE payment (id integer NOT NULL, paid date NOT NULL, amount numeric(5,2), "
               "PRIMARY KEY (id, paid)) PARTITION BY RANGE (paid)")  # fmt: skip
    for year in (2022, 2023):
        pg.execute(f"CREATE TABLE payment_{year} PARTITION OF payment "
                   f"FOR VALUES FROM ('{year}-01-01') TO ('{year + 1}-01-01')")  # fmt: skip
    pg.insert_many("payment", [{"id": i, "paid": dt.date(2022 + i % 2, 3, 1), "amount": Decimal("1.99")}
                               for i in range(6)])  # fmt: skip
    report = mngs.db.copy(pg, lite)
    assert report.tables == {"payment": 6} and lite.list_tables() == ["payment"]
    assert "partition payment_2022 (its rows are copied with payment)" in report.skipped
    assert "payment: partitioned table created as an ordinary table" in report.changed
    assert mngs.db.inspect(lite).get_primary_keys("payment") == ["id", "paid"]


def test_sqlite_table_options_and_collations_are_reported(make):
    """SQLite: WITHOUT ROWID, STRICT and COLLATE are named in the report (the table is copied
    as an ordinary one)."""
    src, dst = make("sqlite"), make("sqlite")
    src.execute("CREATE TABLE tag (name TEXT COLLATE NOCASE PRIMARY KEY, n INTEGER) WITHOUT ROWID")
    src.insert("tag", {"name": "Ä", "n": 1})
    report = mngs.db.copy(src, dst)
    assert report.skipped == ["tag: WITHOUT ROWID", "tag: COLLATE NOCASE"]
    assert dst.select("tag") == [{"name": "Ä", "n": 1}]
