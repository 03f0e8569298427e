"""SQL fragments (``where``, ``order_by``) are one expression: they can never run a second
statement, on either backend; ``order_by`` quotes what names a column and refuses typos."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mngs.db

ATTACKS = [
    "1=1; DROP TABLE sentinel",
    "1=0; DROP TABLE sentinel",
    "1=1; DROP TABLE sentinel; --",
    "1=1 /* */; DROP TABLE sentinel",
    "1=1;DROP TABLE sentinel",
]


@pytest.fixture
def tables(db):
    db.create_table("users", {"id": "INTEGER PRIMARY KEY", "name": "TEXT", "score": "REAL"})
    db.insert_many("users", [{"name": n, "score": s} for n, s in [("b", 2.0), ("a", 3.0), ("c", 1.0)]])
    db.create_table("sentinel", {"id": "INTEGER PRIMARY KEY"})
    db.insert("sentinel", {"id": 1})
    return db


def _sentinel_alive(db) -> bool:
    return db.table_exists("sentinel") and db.count("sentinel") == 1


@pytest.mark.parametrize("fragment", ATTACKS)
@pytest.mark.parametrize(
    "call",
    ["select", "count", "delete", "update", "order_by", "order_by_list", "search", "export"],
)
def test_stacked_statement_in_a_fragment_is_refused(tables, fragment, call, tmp_path):
    """Each fragment with a second statement raises the package's error; ``sentinel`` survives."""
    db = tables
    calls = {
        "select": lambda: db.select("users", where=fragment),
        "count": lambda: db.count("users", where=fragment),
        "delete": lambda: db.delete("users", where=fragment),
        "update": lambda: db.update("users", {"score": 0}, where=fragment),
        "order_by": lambda: db.select("users", order_by=fragment),
        "order_by_list": lambda: db.select("users", order_by=["id", fragment]),
        "search": lambda: db.search("users", "a", where=fragment),
        "export": lambda: db.export_to_csv("users", tmp_path / "u.csv", where=fragment),
    }
    if call == "search":
        db.enable_search("users", ["name"])
    with pytest.raises(mngs.db.Error):
        calls[call]()
    assert _sentinel_alive(db)
    assert db.count("users") == 3


def test_execute_runs_exactly_one_statement(tables):
    """``execute("SELECT 1; DROP ...")`` is a ProgrammingError on both backends; a trailing
    ``;`` and a ``;`` inside a string or comment are fine."""
    db = tables
    with pytest.raises(mngs.db.ProgrammingError):
        db.execute("SELECT 1; DROP TABLE sentinel")
    with pytest.raises(mngs.db.ProgrammingError):
        db.execute("SELECT 1 AS a; SELECT 2 AS b")
    assert _sentinel_alive(db)
    assert db.execute("SELECT 1 AS a;") == [{"a": 1}]
    assert db.execute("SELECT ';x' AS a -- ; DROP TABLE sentinel") == [{"a": ";x"}]


def test_order_by_quotes_a_column_whatever_its_name(db):
    """A column literally named ``1; DROP TABLE x`` (or ``c,d``, ``a b``, ``"q"``) is sorted by."""
    odd = ["1; DROP TABLE sentinel", "c,d", "a b", 'say "hi"']
    db.create_table("odd", {"id": "INTEGER PRIMARY KEY", **{name: "INTEGER" for name in odd}})
    db.create_table("sentinel", {"id": "INTEGER PRIMARY KEY"})
    db.insert_many("odd", [{name: v for name in odd} for v in (3, 1, 2)])
    for name in odd:
        assert [r[name] for r in db.select("odd", order_by=name)] == [1, 2, 3]
        assert [r[name] for r in db.select("odd", order_by=[name])] == [1, 2, 3]
    assert db.table_exists("sentinel")


def test_order_by_typo_is_an_error_on_both_backends(tables):
    """A mistyped column is a ProgrammingError naming it — never silently unsorted."""
    db = tables
    for typo in ["scroe DESC", "scroe", "name, scroe"]:
        with pytest.raises(mngs.db.ProgrammingError, match="scroe"):
            db.select("users", order_by=typo)


def test_order_by_directions_nulls_and_expressions_still_work(tables):
    """``col DESC``, ``col NULLS LAST``, several items in one string, and expressions."""
    db = tables
    db.insert("users", {"name": "d", "score": None})
    assert [r["name"] for r in db.select("users", order_by="score DESC NULLS LAST")] == ["a", "b", "c", "d"]
    assert [r["name"] for r in db.select("users", order_by="score ASC NULLS FIRST")][0] == "d"
    by_null_then_name = db.select("users", order_by="score IS NULL, name DESC")
    assert [r["name"] for r in by_null_then_name] == ["c", "b", "a", "d"]
    assert [r["name"] for r in db.select("users", order_by=["length(name)", "id"])] == ["b", "a", "c", "d"]
    assert [r["name"] for r in db.select("users", order_by="-id")][0] == "d"


def test_a_comment_in_where_cannot_swallow_the_rest(tables):
    """``where="1=1 --"`` cannot comment out LIMIT: it is an error, not a silent full read."""
    db = tables
    with pytest.raises(mngs.db.ProgrammingError):
        db.select("users", where="1=1 --", limit=1)


_PIECES = st.sampled_from(
    [";", "--", "/*", "*/", "'", '"', "$$", "E'\\'", "1=1", " OR ", "DROP TABLE sentinel", " ", "\n"]
    + [")", "("]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fragment=st.lists(_PIECES, min_size=1, max_size=8).map("".join))
def test_hostile_fragments_never_drop_the_sentinel(tables, fragment):
    """Whatever the fragment, the call returns rows or raises the package's error, and the
    sentinel table is still there with its row."""
    db = tables
    for call in (
        lambda: db.select("users", where=fragment),
        lambda: db.count("users", where=fragment),
        lambda: db.select("users", order_by=fragment),
    ):
        try:
            call()
        except mngs.db.Error:
            pass
        assert _sentinel_alive(db)
