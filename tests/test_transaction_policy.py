"""The transaction policy holds for every public method: a call that fails inside a transaction
undoes only itself, so the transaction stays usable and commits the rest, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import mngs.db

#: Each public method that can fail, made to fail at the database (or before it).
FAILING_CALLS: dict[str, Callable[[Any, Path], Any]] = {
    "select": lambda db, tmp: db.select("t", where="no_such_column = 1"),
    "select_iter": lambda db, tmp: list(db.select_iter("t", where="no_such_column = 1")),
    "query_iter": lambda db, tmp: list(db.query_iter("SELECT no_such_column FROM t")),
    "execute": lambda db, tmp: db.execute("SELECT no_such_column FROM t"),
    "executemany": lambda db, tmp: db.executemany("INSERT INTO t (name) VALUES (?)", [["n1"], ["a"]]),
    "count": lambda db, tmp: db.count("t", where="no_such_column = 1"),
    "insert": lambda db, tmp: db.insert("t", {"name": "a"}),
    "insert_many": lambda db, tmp: db.insert_many("t", [{"name": "n2"}, {"name": "a"}]),
    "insert_many_upsert": lambda db, tmp: db.insert_many(
        "t", [{"id": 1, "name": "b"}], on_conflict="update"
    ),
    "update": lambda db, tmp: db.update("t", {"name": "a"}, where={"name": "b"}),
    "update_many": lambda db, tmp: db.update_many("t", [{"id": 2, "name": "a"}]),
    "delete": lambda db, tmp: db.delete("t", where="no_such_column = 1"),
    "search": lambda db, tmp: db.search("notes", "alpha", where="no_such_column = 1"),
    "export_query_to_csv": lambda db, tmp: db.export_query_to_csv(
        "SELECT no_such_column FROM t", tmp / "q.csv"
    ),
    "export_to_csv": lambda db, tmp: db.export_to_csv("t", tmp / "t.csv", where="no_such_column = 1"),
    "import_from_csv": lambda db, tmp: db.import_from_csv("t", _csv(tmp, "id,name\n7,fresh\n8,a\n")),
    "to_dataframe": lambda db, tmp: db.to_dataframe("SELECT no_such_column FROM t"),
    "from_dataframe": lambda db, tmp: db.from_dataframe(
        _frame([{"name": "n3"}, {"name": "a"}]), "t", "append"
    ),
    "create_table": lambda db, tmp: db.create_table("t", {"x": "INTEGER"}, if_not_exists=False),
    "drop_table": lambda db, tmp: db.drop_table("missing", if_exists=False),
    "add_column": lambda db, tmp: db.add_column("t", "name", "TEXT"),
    "drop_column": lambda db, tmp: db.drop_column("t", "missing"),
    "rename_table": lambda db, tmp: db.rename_table("missing", "other"),
    "create_index": lambda db, tmp: db.create_index("t", ["missing"]),
    "drop_index": lambda db, tmp: db.drop_index("t", "missing", if_exists=False),
    "enable_search": lambda db, tmp: db.enable_search("t", ["missing"]),
    "rebuild_search": lambda db, tmp: db.rebuild_search("t"),
    "delete_duplicates": lambda db, tmp: db.delete_duplicates("t", ["missing"]),
    "store_blob": lambda db, tmp: db.store_blob("t", {"name": "a", "data": b"x"}),
    "get_blob": lambda db, tmp: db.get_blob("t", "data", where="no_such_column = 1"),
    "save_array": lambda db, tmp: db.save_array("t", _array(), name="a"),
    "load_array": lambda db, tmp: db.load_array("t", "data", where="no_such_column = 1"),
    "backup_table": lambda db, tmp: db.backup_table("missing", tmp / "missing.sql"),
    "restore_database": lambda db, tmp: db.restore_database(tmp / "none.sql"),
    "vacuum": lambda db, tmp: db.vacuum(),
    "analyze": lambda db, tmp: db.analyze("missing"),
    "run_transaction": lambda db, tmp: db.run_transaction(lambda d: None),
    "select_for_update": lambda db, tmp: db.select("t", where="no_such_column = 1", for_update=True),
}


def _csv(tmp: Path, text: str) -> Path:
    path = tmp / "in.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _frame(records: list[dict[str, Any]]) -> Any:
    pd = pytest.importorskip("pandas")
    return pd.DataFrame.from_records(records)


def _array() -> Any:
    np = pytest.importorskip("numpy")
    return np.arange(3)


@pytest.mark.parametrize("method", sorted(FAILING_CALLS))
def test_failed_call_inside_a_transaction_undoes_only_itself(db, tmp_path, method):
    """The call raises one of the package's errors; the transaction goes on and commits both
    the row written before the failure and the row written after it."""
    db.create_table(
        "t", {"id": "INTEGER PRIMARY KEY", "name": "TEXT NOT NULL UNIQUE", "data": "BLOB"}
    )
    db.insert_many("t", [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    db.create_table("notes", {"id": "INTEGER PRIMARY KEY", "body": "TEXT"})
    db.enable_search("notes", ["body"])
    with db.transaction():
        db.insert("t", {"name": "before"})
        with pytest.raises(mngs.db.Error):
            FAILING_CALLS[method](db, tmp_path)
        assert db.in_transaction
        db.insert("t", {"name": "after"})
    names = {r["name"] for r in db.select("t")}
    assert names == {"a", "b", "before", "after"}
    assert not db.in_transaction
