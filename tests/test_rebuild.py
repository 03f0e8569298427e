"""drop_column keeps everything else of the table and never cascades; what needs the column is refused."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import mngs.db

PORTABLE_PARENT = """CREATE TABLE parent (
    id INTEGER PRIMARY KEY,
    code TEXT UNIQUE,
    name TEXT NOT NULL CHECK (length(name) > 0),
    score INTEGER DEFAULT 7 CHECK (score >= 0),
    tag TEXT UNIQUE,
    owner_id INTEGER REFERENCES owner (id),
    CHECK (score < 1000)
)"""


def _family(db: Any, children: int = 30) -> None:
    """owner ← parent ← child (ON DELETE CASCADE), with ``children`` child rows."""
    db.execute("CREATE TABLE owner (id INTEGER PRIMARY KEY)")
    db.execute(PORTABLE_PARENT)
    db.execute(
        "CREATE TABLE child (id INTEGER PRIMARY KEY, "
        "parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE)"
    )
    db.create_index("parent", ["name"])
    db.insert("owner", {"id": 1})
    db.insert_many(
        "parent",
        [
            {"id": i, "code": f"c{i}", "name": f"n{i}", "score": i, "tag": f"t{i}", "owner_id": 1}
            for i in (1, 2, 3)
        ],
    )
    db.insert_many("child", [{"id": i, "parent_id": 1 + i % 3} for i in range(children)])


def test_drop_unique_column_of_a_parent_keeps_cascading_children(db: Any) -> None:
    """Dropping a UNIQUE column of a parent table (SQLite rebuilds it) deletes no child row
    declared ON DELETE CASCADE: 30 child rows before, 30 after, all still pointing at it; a
    view over the other columns still works."""
    _family(db)
    db.execute("CREATE VIEW names AS SELECT id, name FROM parent")
    before = db.select("child", order_by="id")
    assert len(before) == 30

    db.drop_column("parent", "code")

    assert db.count("child") == 30
    assert db.execute("SELECT name FROM names ORDER BY id") == [{"name": f"n{i}"} for i in (1, 2, 3)]
    assert db.select("child", order_by="id") == before
    assert [c["name"] for c in db.get_columns("parent")] == ["id", "name", "score", "tag", "owner_id"]
    assert db.select("parent", order_by="id")[0] == {
        "id": 1,
        "name": "n1",
        "score": 1,
        "tag": "t1",
        "owner_id": 1,
    }


def test_drop_column_keeps_every_other_constraint_index_and_foreign_key(db: Any) -> None:
    """After the drop, NOT NULL, DEFAULT, column and table CHECKs, UNIQUE, the foreign key to
    the owner, the foreign key from the child (with its cascade) and the index all still hold."""
    _family(db)
    db.drop_column("parent", "code")

    bad_rows = [
        {"id": 10, "name": None},  # NOT NULL
        {"id": 11, "name": ""},  # column CHECK
        {"id": 12, "name": "x", "score": -1},  # column CHECK
        {"id": 13, "name": "x", "score": 1000},  # table CHECK
        {"id": 14, "name": "x", "tag": "t1"},  # UNIQUE
        {"id": 15, "name": "x", "owner_id": 99},  # foreign key to owner
    ]
    for row in bad_rows:
        with pytest.raises(mngs.db.IntegrityError):
            db.insert("parent", row)
    assert db.count("parent") == 3
    db.insert("parent", {"id": 20, "name": "fresh"})
    assert db.select("parent", columns=["score"], where={"id": 20}) == [{"score": 7}]  # DEFAULT
    with pytest.raises(mngs.db.IntegrityError):
        db.insert("child", {"id": 100, "parent_id": 99})  # the child's foreign key
    assert [i["columns"] for i in db.list_indexes("parent") if not i["primary"] and not i["unique"]] == [
        ["name"]
    ]
    db.delete("parent", where={"id": 1})  # the cascade still works when asked for
    assert db.count("child") == 20


@pytest.mark.parametrize(
    "extra, column",
    [
        ("CREATE INDEX two ON parent (name, code)", "code"),
        ("CREATE UNIQUE INDEX two ON parent (code, tag)", "tag"),
        ("CREATE VIEW codes AS SELECT code FROM parent", "code"),
    ],
    ids=["index", "unique-index", "view"],
)
def test_drop_column_refuses_what_needs_the_column(db: Any, extra: str, column: str) -> None:
    """An index on the column and another one, or a view using it, is never dropped silently:
    ProgrammingError naming it, the table unchanged (its rows, columns, children)."""
    _family(db)
    db.execute(extra)
    columns = db.get_columns("parent")
    rows = db.select("parent", order_by="id")
    with pytest.raises(mngs.db.ProgrammingError, match=r"cannot drop column|depend"):
        db.drop_column("parent", column)
    assert db.get_columns("parent") == columns
    assert db.select("parent", order_by="id") == rows
    assert db.count("child") == 30


def test_drop_column_refuses_a_check_of_another_column_using_it(db: Any) -> None:
    """A table CHECK over the column and another one is refused, naming the constraint."""
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, lo INTEGER, hi INTEGER, CHECK (lo <= hi))")
    db.insert("t", {"id": 1, "lo": 1, "hi": 2})
    with pytest.raises(mngs.db.ProgrammingError, match=r"hi|depend"):
        db.drop_column("t", "hi")
    assert db.select("t") == [{"id": 1, "lo": 1, "hi": 2}]


def test_drop_column_referred_to_by_another_table_is_refused(db: Any) -> None:
    """A column another table's foreign key refers to cannot be dropped; nothing changes."""
    _family(db)
    db.execute("CREATE TABLE by_code (id INTEGER PRIMARY KEY, code TEXT REFERENCES parent (code))")
    db.insert("by_code", {"id": 1, "code": "c1"})
    with pytest.raises(mngs.db.ProgrammingError, match=r"by_code|depend"):
        db.drop_column("parent", "code")
    assert db.count("parent") == 3 and db.count("by_code") == 1 and db.count("child") == 30


# -- SQLite only: the rebuild itself ---------------------------------------------------------


def _schema(db: Any) -> list[tuple[str, str]]:
    return [(r["name"], r["sql"]) for r in db.execute("SELECT name, sql FROM sqlite_master ORDER BY name")]


def test_sqlite_rebuild_keeps_collation_triggers_rowids_and_counter(tmp_path: Path) -> None:
    """The rebuilt table keeps COLLATE, a trigger, the implicit rowids of a table without an
    INTEGER PRIMARY KEY, and the AUTOINCREMENT counter ahead of the largest id; foreign keys
    are on again afterwards."""
    db = mngs.db.SQLite3(tmp_path / "t.db")
    db.execute(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, tag TEXT COLLATE NOCASE UNIQUE, "
        "code TEXT UNIQUE, body TEXT)"
    )
    db.execute("CREATE TABLE log (note_id INTEGER, body TEXT)")
    db.execute(
        "CREATE TRIGGER logged AFTER INSERT ON notes BEGIN INSERT INTO log VALUES (new.id, new.body); END"
    )
    db.execute("CREATE TABLE plain (k TEXT, code TEXT UNIQUE, v INTEGER)")
    db.insert_many("notes", [{"tag": f"T{i}", "code": f"c{i}", "body": f"b{i}"} for i in range(5)])
    db.delete("notes", where={"id": 5})
    db.insert_many("plain", [{"k": f"k{i}", "code": f"c{i}", "v": i} for i in range(6)])
    db.delete("plain", where={"v": 2})
    rowids = db.execute("SELECT rowid, k FROM plain ORDER BY rowid")

    db.drop_column("notes", "code")
    db.drop_column("plain", "code")

    assert db.execute("SELECT rowid, k FROM plain ORDER BY rowid") == rowids
    with pytest.raises(mngs.db.IntegrityError):
        db.insert("notes", {"tag": "t1"})  # COLLATE NOCASE + UNIQUE kept
    assert db.insert("notes", {"tag": "new", "body": "x"}) == 6  # counter kept: 5 is not reused
    assert db.count("log") == 6  # the trigger is back
    assert db.execute("PRAGMA foreign_keys") == [{"foreign_keys": 1}]
    assert not [name for name, _ in _schema(db) if name.startswith("_mngs")]
    with contextlib.closing(sqlite3.connect(tmp_path / "t.db")) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    db.close()


def test_sqlite_rebuild_refuses_a_trigger_that_uses_the_column(sqlite_db: Any) -> None:
    """A trigger using the column would be left broken: refused, naming it."""
    db = sqlite_db
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, code TEXT UNIQUE, n INTEGER)")
    db.execute("CREATE TABLE log (code TEXT)")
    db.execute("CREATE TRIGGER t_log AFTER INSERT ON t BEGIN INSERT INTO log VALUES (new.code); END")
    before = _schema(db)
    with pytest.raises(mngs.db.ProgrammingError, match="trigger 't_log'"):
        db.drop_column("t", "code")
    assert _schema(db) == before


def test_sqlite_rebuild_with_broken_foreign_keys_rolls_back(sqlite_db: Any) -> None:
    """Rows that break a foreign key (written while foreign keys were off) make the rebuild's
    foreign_key_check fail: IntegrityError, nothing changed."""
    db = sqlite_db
    db.execute("CREATE TABLE p (id INTEGER PRIMARY KEY)")
    db.execute("CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER REFERENCES p (id), code TEXT UNIQUE)")
    db.execute("PRAGMA foreign_keys = OFF")
    db.insert("c", {"id": 1, "p_id": 42, "code": "x"})
    db.execute("PRAGMA foreign_keys = ON")
    before = _schema(db)
    with pytest.raises(mngs.db.IntegrityError, match="referring to missing rows"):
        db.drop_column("c", "code")
    assert _schema(db) == before
    assert db.select("c") == [{"id": 1, "p_id": 42, "code": "x"}]
    assert db.execute("PRAGMA foreign_keys") == [{"foreign_keys": 1}]


def test_sqlite_rebuild_inside_a_transaction(sqlite_db: Any) -> None:
    """Inside a transaction a parent table with children cannot be rebuilt (foreign keys cannot
    be switched off there): OperationalError, no child lost. A table nobody refers to can, and
    the drop is undone with the transaction."""
    db = sqlite_db
    _family(db)
    db.execute("CREATE TABLE lone (id INTEGER PRIMARY KEY, code TEXT UNIQUE)")
    db.insert("lone", {"id": 1, "code": "a"})
    with db.transaction():
        with pytest.raises(mngs.db.OperationalError, match="outside a transaction"):
            db.drop_column("parent", "code")
        assert db.count("child") == 30
    assert "code" in [c["name"] for c in db.get_columns("parent")]
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.drop_column("lone", "code")
            assert [c["name"] for c in db.get_columns("lone")] == ["id"]
            raise RuntimeError("undo")
    assert db.select("lone") == [{"id": 1, "code": "a"}]


def test_sqlite_drop_column_of_a_searchable_table_keeps_search(sqlite_db: Any) -> None:
    """A searchable table keeps its search (triggers and rowids) when another column goes."""
    db = sqlite_db
    db.execute("CREATE TABLE docs (title TEXT, code TEXT UNIQUE)")
    db.insert_many(
        "docs", [{"title": "spike sorting", "code": "a"}, {"title": "field potential", "code": "b"}]
    )
    db.enable_search("docs", ["title"])
    db.drop_column("docs", "code")
    assert [r["title"] for r in db.search("docs", "spike")] == ["spike sorting"]
    db.insert("docs", {"title": "more spike"})
    assert sorted(r["title"] for r in db.search("docs", "spike")) == ["more spike", "spike sorting"]
    with pytest.raises(mngs.db.ProgrammingError, match="trigger"):
        db.drop_column("docs", "title")
