"""Inspection: mngs.db.inspect(db) keys, indexes, CREATE TABLE SQL and schema diagrams."""

from __future__ import annotations

import re
import shutil
import sys

import pytest

import mngs.db

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz 'dot' not installed (apt-get install graphviz)"
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _shop(db):
    """users ← orders (FK), experiments: the tables of the spec's inspection example."""
    db.create_table("users", {"id": "INTEGER PRIMARY KEY", "name": "TEXT NOT NULL"})
    db.create_table(
        "orders",
        {"id": "INTEGER PRIMARY KEY", "user_id": "INTEGER NOT NULL", "total": "REAL"},
        foreign_keys=[
            {"columns": "user_id", "table": "users", "other_columns": "id", "on_delete": "CASCADE"}
        ],
    )
    db.create_table("experiments", {"id": "INTEGER PRIMARY KEY", "params": "TEXT", "accuracy": "REAL"})


@needs_dot
def test_spec_database_inspection_runs_as_written(db, tmp_path, monkeypatch):
    """The spec's "Database Inspection" example runs as written and returns real facts."""
    monkeypatch.chdir(tmp_path)
    _shop(db)
    # Detailed inspection
    inspector = mngs.db.inspect(db)

    # Get all foreign keys
    foreign_keys = inspector.get_foreign_keys("orders")

    # Get primary keys
    primary_keys = inspector.get_primary_keys("users")

    # Get table creation SQL
    create_sql = inspector.get_create_table_sql("experiments")

    # Database schema diagram (if graphviz installed)
    inspector.generate_schema_diagram("schema.png")

    assert isinstance(inspector, mngs.db.Inspector)
    assert [(fk["columns"], fk["referred_table"], fk["referred_columns"]) for fk in foreign_keys] == [
        (["user_id"], "users", ["id"])
    ]
    assert foreign_keys[0]["on_delete"] == "CASCADE"
    assert primary_keys == ["id"]
    assert re.match(r'CREATE TABLE "experiments" \(', create_sql)
    assert (tmp_path / "schema.png").read_bytes().startswith(PNG_MAGIC)


def _shape(db, table):
    """What makes two tables equivalent, with the table's own name taken out."""
    columns = [
        {**c, "default": None if c["default"] is None else c["default"].replace(table, "T")}
        for c in db.get_columns(table)
    ]
    inspector = mngs.db.inspect(db)
    keys = [{k: v for k, v in fk.items() if k != "name"} for fk in inspector.get_foreign_keys(table)]
    indexes = sorted((tuple(i["columns"]), i["unique"], i["primary"]) for i in inspector.get_indexes(table))
    return columns, inspector.get_primary_keys(table), keys, indexes


def test_create_table_sql_recreates_an_equivalent_table(db):
    """Running get_create_table_sql under a new name gives the same columns, keys,
    defaults, unique and check constraints."""
    db.create_table("owners", {"id": "INTEGER PRIMARY KEY", "name": "TEXT"})
    db.create_table(
        "orig",
        {
            "id": "INTEGER PRIMARY KEY",
            "code": "VARCHAR(20) NOT NULL UNIQUE",
            "price": "NUMERIC(10,2) DEFAULT 0 CHECK (price >= 0)",
            "created": "TIMESTAMP DEFAULT CURRENT_TIMESTAMP",
            "owner_id": "INTEGER",
            "a": "INTEGER",
            "b": "INTEGER",
            "odd name": "TEXT DEFAULT 'it''s'",
        },
        foreign_keys=[
            {"columns": "owner_id", "table": "owners", "other_columns": "id", "on_delete": "CASCADE"}
        ],
        constraints=["UNIQUE (a, b)", "CHECK (a < b)"],
    )
    sql = mngs.db.inspect(db).get_create_table_sql("orig")
    assert sql.count('"orig"') == 1
    db.execute(sql.replace('"orig"', '"copy"'))
    assert _shape(db, "copy") == _shape(db, "orig")

    db.insert("owners", {"id": 1, "name": "o"})
    db.insert("copy", {"code": "c1", "owner_id": 1, "a": 1, "b": 2})
    row = db.select("copy")[0]
    assert (row["id"], float(row["price"]), row["odd name"]) == (1, 0.0, "it's")
    assert row["created"] is not None
    bad = [
        {"code": "c2", "price": -1},  # CHECK (price >= 0)
        {"code": "c3", "a": 5, "b": 1},  # CHECK (a < b)
        {"code": "c1"},  # UNIQUE code
        {"code": "c4", "a": 1, "b": 2},  # UNIQUE (a, b)
        {"code": "c5", "owner_id": 99},  # FOREIGN KEY
        {"price": 1},  # NOT NULL code
    ]
    for record in bad:
        with pytest.raises(mngs.db.IntegrityError):
            db.insert("copy", record)
    db.delete("owners", where="id = ?", params=[1])
    assert db.count("copy") == 0  # ON DELETE CASCADE


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_create_table_sql_keeps_postgresql_identity_generated_collation(db):
    """PostgreSQL: identity, generated columns, collations, arrays and named constraints
    survive the rebuilt CREATE TABLE."""
    db.execute(
        'CREATE TABLE "orig" ('
        ' "id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,'
        ' "name" text COLLATE "C" NOT NULL,'
        ' "qty" integer NOT NULL DEFAULT 1,'
        ' "double_qty" integer GENERATED ALWAYS AS (qty * 2) STORED,'
        ' "tags" text[],'
        ' "n" smallserial,'
        ' CONSTRAINT "qty_positive" CHECK (qty > 0))'
    )
    sql = mngs.db.inspect(db).get_create_table_sql("orig")
    assert 'CONSTRAINT "qty_positive" CHECK (qty > 0)' in sql
    assert '"n" smallserial' in sql
    db.execute(sql.replace('"orig"', '"copy"'))
    catalog = (
        "SELECT attname, attidentity, attgenerated, attnotnull, format_type(atttypid, atttypmod) AS type,"
        " (SELECT collname FROM pg_collation WHERE oid = attcollation) AS coll"
        " FROM pg_attribute WHERE attrelid = to_regclass(?) AND attnum > 0 ORDER BY attnum"
    )
    assert db.execute(catalog, ['"copy"']) == db.execute(catalog, ['"orig"'])
    assert _shape(db, "copy") == _shape(db, "orig")
    db.insert("copy", {"name": "x", "qty": 3})
    assert db.select("copy", columns=["id", "double_qty", "n"]) == [{"id": 1, "double_qty": 6, "n": 1}]
    with pytest.raises(mngs.db.IntegrityError, match="qty_positive"):
        db.insert("copy", {"name": "y", "qty": 0})


def test_keys_and_indexes(db):
    """Primary keys in key order (empty without one), foreign keys, and indexes."""
    _shop(db)
    db.create_table("pairs", {"a": "TEXT", "b": "INTEGER", "c": "TEXT"}, primary_key=["b", "a"])
    db.create_table("loose", {"x": "INTEGER"})
    db.create_index("orders", ["user_id", "total"])
    inspector = mngs.db.inspect(db)
    assert inspector.get_tables() == ["experiments", "loose", "orders", "pairs", "users"]
    assert inspector.get_primary_keys("pairs") == ["b", "a"]
    assert inspector.get_primary_keys("loose") == []
    assert inspector.get_foreign_keys("users") == []
    assert [c["name"] for c in inspector.get_columns("orders")] == ["id", "user_id", "total"]
    named = {i["name"]: i for i in inspector.get_indexes("orders")}
    assert named["idx_orders_user_id_total"]["columns"] == ["user_id", "total"]
    assert not named["idx_orders_user_id_total"]["unique"]
    schema = inspector.get_schema()
    assert schema["pairs"]["primary_key"] == ["b", "a"]
    assert schema["orders"]["foreign_keys"][0]["referred_table"] == "users"


def test_unknown_table_and_bad_handles_are_clear_errors(db):
    """Every per-table method names a missing table; inspect() refuses non-handles and
    closed handles."""
    inspector = mngs.db.inspect(db)
    for method in (
        "get_primary_keys",
        "get_foreign_keys",
        "get_indexes",
        "get_create_table_sql",
        "get_columns",
    ):
        with pytest.raises(mngs.db.ProgrammingError, match="ghost"):
            getattr(inspector, method)("ghost")
    with pytest.raises(mngs.db.InterfaceError):
        mngs.db.inspect("not a db")  # type: ignore[arg-type]
    db.close()
    with pytest.raises(mngs.db.ClosedError):
        mngs.db.inspect(db)


def test_schema_dot_source(db, monkeypatch):
    """schema_dot() needs no graphviz: one HTML-label node per table, escaped, and one
    edge per foreign key from the child column to the parent column."""
    monkeypatch.setitem(sys.modules, "graphviz", None)
    _shop(db)
    db.create_table('we<i>rd "t"&', {"k": "INTEGER"})
    dot = mngs.db.inspect(db).schema_dot()
    assert dot.startswith("digraph schema {") and dot.rstrip().endswith("}")
    assert '"orders":c1 -> "users":c0 [label="user_id"];' in dot
    assert dot.count("->") == 1
    assert '"we<i>rd \\"t\\"&" [label=<' in dot
    assert "<b>we&lt;i&gt;rd &quot;t&quot;&amp;</b>" in dot
    assert "<b>user_id</b> FK" in dot and "<b>id</b> PK" in dot


def test_schema_mermaid_source(db):
    """schema_mermaid() gives an erDiagram with entities, keys and relationships."""
    _shop(db)
    db.create_table(
        "ratings", {"user_id": "INTEGER", "stars": "INTEGER"}, foreign_keys=[("user_id", "users", "id")]
    )
    db.create_table("my table", {"a b": "TEXT"})
    text = mngs.db.inspect(db).schema_mermaid()
    lines = text.splitlines()
    assert lines[0] == "erDiagram"
    assert "    users {" in lines
    assert re.search(r"^        \w+ id PK$", text, re.MULTILINE)
    assert re.search(r"^        \w+ user_id FK$", text, re.MULTILINE)
    assert '    users ||--o{ orders : "user_id"' in lines  # NOT NULL: exactly one user
    assert '    users |o--o{ ratings : "user_id"' in lines  # nullable: zero or one
    assert "    my_table {" in lines
    assert '        TEXT a_b "a b"' in lines or '        text a_b "a b"' in lines


@needs_dot
@pytest.mark.parametrize("name", ["schema.png", "schema.svg", "SCHEMA.PNG"])
def test_generate_schema_diagram_writes_a_real_image(db, tmp_path, name):
    """generate_schema_diagram picks PNG or SVG by the extension and writes a real image,
    also for names that need escaping."""
    _shop(db)
    db.create_table('we<i>rd "t"&', {"k": "INTEGER"})
    path = mngs.db.inspect(db).generate_schema_diagram(tmp_path / name)
    assert path == tmp_path / name
    data = path.read_bytes()
    if name.lower().endswith(".png"):
        assert data.startswith(PNG_MAGIC) and len(data) > 1000
    else:
        text = data.decode()
        assert "<svg" in text and ">orders</text>" in text and "we&lt;i&gt;rd" in text


def test_generate_schema_diagram_without_dot_names_the_tool(db, tmp_path, monkeypatch):
    """Without the dot program the error says to install Graphviz; no file is written."""
    _shop(db)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(mngs.db.NotSupportedError, match=r"'dot'.*apt-get install graphviz"):
        mngs.db.inspect(db).generate_schema_diagram(tmp_path / "schema.png")
    assert not (tmp_path / "schema.png").exists()


def test_generate_schema_diagram_without_the_package_names_the_extra(db, tmp_path, monkeypatch):
    """Without the graphviz package the error names the extra to install."""
    monkeypatch.setitem(sys.modules, "graphviz", None)
    _shop(db)
    with pytest.raises(mngs.db.NotSupportedError, match=re.escape("pip install 'mngs-db[graphviz]'")):
        mngs.db.inspect(db).generate_schema_diagram(tmp_path / "schema.svg")
    with pytest.raises(mngs.db.ArgumentError, match="schema.gif"):
        mngs.db.inspect(db).generate_schema_diagram(tmp_path / "schema.gif")


def test_create_table_sql_of_a_serial_table_runs_on_its_own(db):
    """The CREATE TABLE text of a table with an auto-numbered key runs after the table is
    gone (no reference to a sequence that no longer exists) and enforces its constraints."""
    db.create_table(
        "items",
        {"id": "SERIAL PRIMARY KEY", "code": "VARCHAR(10) NOT NULL UNIQUE", "qty": "INTEGER CHECK (qty > 0)"},
    )
    sql = mngs.db.inspect(db).get_create_table_sql("items")
    db.drop_table("items")
    db.execute(sql)
    assert [db.insert("items", {"code": c, "qty": 1}) for c in ("a", "b")] == [1, 2]
    for record in ({"code": "a", "qty": 1}, {"code": "c", "qty": 0}, {"qty": 2}):
        with pytest.raises(mngs.db.IntegrityError):
            db.insert("items", record)
    assert db.count("items") == 2


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_create_table_sql_of_a_pg_dump_style_sequence_runs_on_its_own(db):
    """PostgreSQL: a key drawing from a sequence created apart (pg_dump's and Pagila's style)
    comes out as a serial column, so the statement runs without that sequence."""
    db.execute("CREATE SEQUENCE actor_seq")
    db.execute(
        "CREATE TABLE actor (actor_id integer DEFAULT nextval('actor_seq'::regclass) NOT NULL, "
        "name text NOT NULL, PRIMARY KEY (actor_id))"
    )
    sql = mngs.db.inspect(db).get_create_table_sql("actor")
    assert "nextval" not in sql and '"actor_id" serial NOT NULL' in sql
    db.drop_table("actor")
    db.execute("DROP SEQUENCE actor_seq")
    db.execute(sql)
    assert db.insert("actor", {"name": "a"}) == 1
    with pytest.raises(mngs.db.IntegrityError):
        db.insert("actor", {"actor_id": 1, "name": "b"})


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_include_columns_are_not_key_columns(db):
    """PostgreSQL: ``PRIMARY KEY (actor_id) INCLUDE (…)`` (Pagila's actor) is a one-column key
    everywhere — keys, columns, indexes, schema, diagram — so upserts on it work; a unique
    index's INCLUDE columns are not among its columns either."""
    db.execute(
        "CREATE TABLE actor (actor_id integer NOT NULL, first_name text NOT NULL, "
        "last_name text NOT NULL, PRIMARY KEY (actor_id) INCLUDE (first_name, last_name))"
    )
    db.execute("CREATE UNIQUE INDEX actor_names ON actor (last_name) INCLUDE (first_name)")
    inspector = mngs.db.inspect(db)
    assert inspector.get_primary_keys("actor") == ["actor_id"]
    assert [c["name"] for c in db.get_columns("actor") if c["primary_key"]] == ["actor_id"]
    indexes = {i["name"]: (i["columns"], i["unique"], i["primary"]) for i in inspector.get_indexes("actor")}
    assert indexes == {"actor_pkey": (["actor_id"], True, True), "actor_names": (["last_name"], True, False)}
    assert inspector.get_schema()["actor"]["primary_key"] == ["actor_id"]
    mermaid = inspector.schema_mermaid()
    assert re.search(r"^        \w+ actor_id PK$", mermaid, re.MULTILINE)
    assert not re.search(r"first_name PK", mermaid)
    assert "<b>first_name</b>" not in inspector.schema_dot()
    db.insert("actor", {"actor_id": 1, "first_name": "A", "last_name": "X"})
    rows = [
        {"actor_id": 1, "first_name": "B", "last_name": "Y"},
        {"actor_id": 2, "first_name": "C", "last_name": "Z"},
    ]
    assert db.insert_many("actor", rows, on_conflict="update") == 2
    assert db.select("actor", order_by="actor_id") == rows
    sql = inspector.get_create_table_sql("actor")
    assert "PRIMARY KEY (actor_id) INCLUDE (first_name, last_name)" in sql
