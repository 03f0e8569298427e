"""Tests for single-row writes, reads, streaming, execute/count and placeholders on both backends."""

from __future__ import annotations

import tracemalloc

import pytest

import mngs.db


@pytest.fixture
def users(db):
    """A `users` table with five rows (ids 1-5); returns the handle."""
    db.create_table(
        "users",
        {"id": "INTEGER PRIMARY KEY", "name": "TEXT", "email": "TEXT", "score": "REAL", "team": "TEXT"},
    )
    db.insert_many(
        "users",
        [
            {"name": "Alice", "email": "alice@x.org", "score": 85.5, "team": "red"},
            {"name": "Bob", "email": "bob@x.org", "score": 72.0, "team": "blue"},
            {"name": "Carol", "email": "carol@x.org", "score": 91.0, "team": "red"},
            {"name": "Dave", "email": None, "score": 60.0, "team": None},
            {"name": "Eve", "email": "eve@x.org", "score": 91.0, "team": "blue"},
        ],
    )
    return db


def _names(rows):
    return [r["name"] for r in rows]


# -- insert ------------------------------------------------------------------------------------


def test_insert_returns_autoincrement_id(db):
    """insert() into an INTEGER PRIMARY KEY table returns 1, 2, 3 for successive rows."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "v": "TEXT"})
    assert [db.insert("t", {"v": c}) for c in "abc"] == [1, 2, 3]
    assert db.select("t", order_by="id") == [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 3, "v": "c"}]


def test_insert_returns_serial_id(db):
    """insert() into a SERIAL PRIMARY KEY table returns the generated id."""
    db.create_table("t", {"id": "SERIAL PRIMARY KEY", "v": "TEXT"})
    first = db.insert("t", {"v": "a"})
    second = db.insert("t", {"v": "b"})
    assert (first, second) == (1, 2)
    assert db.select("t", columns=["v"], where={"id": second}) == [{"v": "b"}]


def test_insert_with_text_primary_key_returns_that_key(db):
    """insert() into a table keyed on TEXT returns the key it was given."""
    db.create_table("t", {"code": "TEXT PRIMARY KEY", "v": "INTEGER"})
    assert db.insert("t", {"code": "abc", "v": 1}) == "abc"


def test_insert_into_table_without_primary_key(db):
    """insert() into a table without a primary key stores the row (returns a rowid or None)."""
    db.create_table("t", {"a": "INTEGER", "b": "TEXT"})
    result = db.insert("t", {"a": 1, "b": "x"})
    assert result is None or isinstance(result, int)
    assert db.select("t") == [{"a": 1, "b": "x"}]


def test_insert_missing_columns_get_defaults(db):
    """Columns left out of insert() get their DEFAULT (or NULL)."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "n": "INTEGER DEFAULT 7", "s": "TEXT"})
    new_id = db.insert("t", {})
    assert db.select("t") == [{"id": new_id, "n": 7, "s": None}]


def test_insert_non_dict_is_argument_error(db):
    """insert() of something that is not a dict raises ArgumentError; nothing is stored."""
    db.create_table("t", {"a": "INTEGER"})
    with pytest.raises(mngs.db.ArgumentError, match="'t'"):
        db.insert("t", [("a", 1)])
    assert db.count("t") == 0


# -- select ------------------------------------------------------------------------------------


def test_select_all_rows_in_column_order(users):
    """select() returns every row as a dict whose keys follow the table's column order."""
    rows = users.select("users", order_by="id")
    assert len(rows) == 5
    assert all(list(r) == ["id", "name", "email", "score", "team"] for r in rows)
    assert rows[0] == {"id": 1, "name": "Alice", "email": "alice@x.org", "score": 85.5, "team": "red"}


def test_select_rows_are_plain_mutable_dicts(users):
    """Rows are plain dicts the caller may change without touching the database."""
    rows = users.select("users", order_by="id")
    assert all(type(r) is dict for r in rows)
    rows[0]["name"] = "changed"
    rows[0]["extra"] = 1
    del rows[1]["email"]
    assert users.select("users", columns=["name"], where={"id": 1}) == [{"name": "Alice"}]


def test_select_columns_in_requested_order(users):
    """columns= picks columns and orders the keys as requested."""
    rows = users.select("users", columns=["score", "name"], where={"id": 2})
    assert rows == [{"score": 72.0, "name": "Bob"}]
    assert list(rows[0]) == ["score", "name"]


def test_select_where_text_with_positional_params(users):
    """where text with ? placeholders binds params in order."""
    rows = users.select("users", where="score > ? AND team = ?", params=[80, "red"], order_by="id")
    assert _names(rows) == ["Alice", "Carol"]


def test_select_where_text_with_named_params(users):
    """where text with :name placeholders binds a params dict (names may repeat)."""
    rows = users.select(
        "users", where="score >= :s AND (team = :t OR :t IS NULL)", params={"s": 90, "t": "blue"}
    )
    assert _names(rows) == ["Eve"]


def test_select_where_dict_equality(users):
    """A dict where ANDs bound equalities."""
    assert _names(users.select("users", where={"team": "red", "score": 91.0})) == ["Carol"]


def test_select_where_dict_none_is_null(users):
    """None in a dict where means IS NULL."""
    assert _names(users.select("users", where={"team": None})) == ["Dave"]


def test_select_where_dict_tuple_is_in(users):
    """A tuple in a dict where means IN; an empty tuple matches nothing."""
    rows = users.select("users", where={"name": ("Bob", "Eve", "Zed")}, order_by="name")
    assert _names(rows) == ["Bob", "Eve"]
    assert users.select("users", where={"name": ()}) == []


def test_select_where_dict_value_is_never_sql(users):
    """A hostile value in a dict where is a bound value, not SQL."""
    assert users.select("users", where={"name": "x' OR '1'='1"}) == []
    assert users.count("users") == 5


def test_select_order_by_desc_and_several_columns(users):
    """order_by takes "col DESC" and lists of columns."""
    assert _names(users.select("users", order_by="score DESC", limit=1)) in (["Carol"], ["Eve"])
    rows = users.select("users", order_by=["score DESC", "name"])
    assert _names(rows) == ["Carol", "Eve", "Alice", "Bob", "Dave"]
    rows = users.select("users", order_by="score DESC, name DESC")
    assert _names(rows) == ["Eve", "Carol", "Alice", "Bob", "Dave"]


def test_select_order_by_reserved_word_column(db):
    """order_by a column named like a keyword ("order", "select") works: names are quoted."""
    db.create_table("t", {"order": "INTEGER", "select": "TEXT"})
    db.insert_many("t", [{"order": o, "select": s} for o, s in [(2, "b"), (1, "a"), (3, "c")]])
    assert [r["select"] for r in db.select("t", order_by="order")] == ["a", "b", "c"]
    assert [r["order"] for r in db.select("t", columns=["order"], order_by="select DESC")] == [3, 2, 1]


def test_select_limit_and_offset(users):
    """limit and offset page through the ordered rows; offset alone skips rows."""
    assert _names(users.select("users", order_by="id", limit=2)) == ["Alice", "Bob"]
    assert _names(users.select("users", order_by="id", limit=2, offset=2)) == ["Carol", "Dave"]
    assert _names(users.select("users", order_by="id", offset=3)) == ["Dave", "Eve"]
    assert users.select("users", limit=0) == []


@pytest.mark.parametrize("limit", [-1, 1.5, "3", True])
def test_select_bad_limit_is_argument_error(users, limit):
    """A limit that is not a non-negative int raises ArgumentError."""
    with pytest.raises(mngs.db.ArgumentError, match="limit"):
        users.select("users", limit=limit)


def test_select_params_without_where_is_argument_error(users):
    """params without a where clause raise ArgumentError instead of being ignored."""
    with pytest.raises(mngs.db.ArgumentError):
        users.select("users", params=[1])


def test_select_string_params_is_argument_error(users):
    """A bare string as params (a common slip for [value]) raises ArgumentError."""
    with pytest.raises(mngs.db.ArgumentError, match="params"):
        users.select("users", where="name = ?", params="Alice")


# -- streaming ---------------------------------------------------------------------------------


def test_select_iter_yields_the_same_dicts_as_select(users):
    """select_iter yields plain dicts equal to select()'s, with any batch_size."""
    expected = users.select("users", where="score > ?", params=[70], order_by="id")
    for size in (1, 2, 100):
        rows = list(
            users.select_iter("users", where="score > ?", params=[70], order_by="id", batch_size=size)
        )
        assert rows == expected
        assert all(type(r) is dict for r in rows)


def test_select_iter_is_lazy(users):
    """select_iter returns an iterator; nothing is read until it is iterated."""
    it = users.select_iter("no_such_table")
    assert iter(it) is it  # an error would only come when iterating
    with pytest.raises(mngs.db.ProgrammingError):
        next(it)
    assert users.count("users") == 5


def test_query_iter_with_params(users):
    """query_iter streams any query with ? or :name params as dicts."""
    rows = list(users.query_iter("SELECT name FROM users WHERE team = ? ORDER BY id", ["blue"]))
    assert rows == [{"name": "Bob"}, {"name": "Eve"}]
    rows = list(users.query_iter("SELECT name FROM users WHERE team = :t ORDER BY id", {"t": "red"}))
    assert rows == [{"name": "Alice"}, {"name": "Carol"}]


def test_breaking_out_of_select_iter_leaves_handle_usable(users, make_db):
    """After breaking out of select_iter early, the handle works and a later write commits."""
    for row in users.select_iter("users", order_by="id", batch_size=2):
        assert row["name"] == "Alice"
        break
    assert not users.in_transaction
    users.insert("users", {"name": "Frank"})
    assert make_db().count("users", where={"name": "Frank"}) == 1


def test_select_iter_memory_is_bounded(db):
    """Streaming 20k rows in batches of 200 peaks far below holding them all (select)."""
    db.create_table("t", {"id": "INTEGER PRIMARY KEY", "payload": "TEXT"})
    db.insert_many("t", ({"payload": f"{i:08d}" + "x" * 90} for i in range(20_000)))
    tracemalloc.start()
    try:
        total = sum(len(r["payload"]) for r in db.select_iter("t", batch_size=200))
        _, stream_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        rows = db.select("t")
        _, select_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 20_000 * 98 and len(rows) == 20_000
    assert stream_peak < select_peak / 5, (stream_peak, select_peak)


# -- execute and count ------------------------------------------------------------------------


def test_execute_returns_rows_as_dicts(users):
    """execute() of a SELECT returns its rows as dicts, with ? or :name params."""
    rows = users.execute("SELECT name, score FROM users WHERE id = ?", [3])
    assert rows == [{"name": "Carol", "score": 91.0}]
    assert users.execute("SELECT COUNT(*) AS n FROM users WHERE team = :t", {"t": "red"}) == [{"n": 2}]


def test_execute_rowcount_for_update_and_delete(users):
    """execute() of UPDATE/DELETE returns no rows and the affected count as .rowcount."""
    result = users.execute("UPDATE users SET score = score + 1 WHERE team = ?", ["blue"])
    assert list(result) == [] and result.rowcount == 2
    result = users.execute("DELETE FROM users WHERE score < :s", {"s": 70})
    assert result.rowcount == 1
    assert users.count("users") == 4


def test_execute_ddl_returns_empty(db):
    """execute() of DDL works and returns an empty result."""
    assert list(db.execute("CREATE TABLE made_by_execute (x INTEGER)")) == []
    assert "made_by_execute" in db.list_tables()


def test_count_with_and_without_where(users):
    """count() counts all rows, or those matching a text or dict where."""
    assert users.count("users") == 5
    assert users.count("users", where="score > ?", params=[80]) == 3
    assert users.count("users", where={"team": ("red", "blue")}) == 4
    assert users.count("users", where={"team": None}) == 1


# -- update and delete -------------------------------------------------------------------------


def test_update_returns_affected_count(users):
    """update() returns how many rows it changed and changes only those."""
    assert users.update("users", {"score": 0.0}, where="team = ?", params=["red"]) == 2
    assert users.count("users", where={"score": 0.0}) == 2
    assert users.update("users", {"score": 1.0}, where={"name": "nobody"}) == 0


def test_update_with_named_params_and_dict_where(users):
    """update() works with :name params and with a dict where."""
    assert users.update("users", {"team": "green"}, where="name = :n", params={"n": "Bob"}) == 1
    assert users.update("users", {"email": "x@y"}, where={"team": None}) == 1
    row = users.select("users", columns=["team"], where={"name": "Bob"})[0]
    assert row == {"team": "green"}
    assert users.count("users", where={"email": "x@y"}) == 1


def test_delete_returns_affected_count(users):
    """delete() returns how many rows it deleted."""
    assert users.delete("users", where="score < ?", params=[80]) == 2
    assert users.delete("users", where={"name": "nobody"}) == 0
    assert _names(users.select("users", order_by="id")) == ["Alice", "Carol", "Eve"]


@pytest.mark.parametrize("where", [None, "", "   ", {}])
def test_update_without_where_is_refused(users, where):
    """update() without a where raises ArgumentError and changes nothing."""
    with pytest.raises(mngs.db.ArgumentError, match="all_rows"):
        users.update("users", {"score": 0.0}, where=where)
    assert users.count("users", where={"score": 0.0}) == 0


@pytest.mark.parametrize("where", [None, "", {}])
def test_delete_without_where_is_refused(users, where):
    """delete() without a where raises ArgumentError and deletes nothing."""
    with pytest.raises(mngs.db.ArgumentError, match="all_rows"):
        users.delete("users", where=where)
    assert users.count("users") == 5


def test_all_rows_true_updates_and_deletes_everything(users):
    """all_rows=True is the explicit way to touch every row."""
    assert users.update("users", {"score": 1.0}, all_rows=True) == 5
    assert users.count("users", where={"score": 1.0}) == 5
    assert users.delete("users", all_rows=True) == 5
    assert users.count("users") == 0


def test_all_rows_with_where_is_argument_error(users):
    """Passing both where and all_rows=True is ambiguous and refused."""
    with pytest.raises(mngs.db.ArgumentError):
        users.delete("users", where={"id": 1}, all_rows=True)
    assert users.count("users") == 5


def test_update_with_empty_data_is_argument_error(users):
    """update() with no columns to set raises ArgumentError."""
    with pytest.raises(mngs.db.ArgumentError):
        users.update("users", {}, where={"id": 1})


# -- placeholders ------------------------------------------------------------------------------


def test_percent_in_literal_with_params(users):
    """A '%' inside a string literal next to bound params is left alone on both backends."""
    rows = users.select("users", where="email LIKE '%@x.org' AND score > ?", params=[85], order_by="id")
    assert _names(rows) == ["Alice", "Carol", "Eve"]
    assert users.execute("SELECT '100%' AS p, ? AS q", ["50%"]) == [{"p": "100%", "q": "50%"}]


def test_question_mark_and_colon_inside_literals_are_not_placeholders(users):
    """'?' and ':name' inside quotes are text, not placeholders."""
    rows = users.execute("SELECT 'what?' AS a, 'x:y :z' AS b, name FROM users WHERE id = ?", [1])
    assert rows == [{"a": "what?", "b": "x:y :z", "name": "Alice"}]


def test_named_params_may_repeat(users):
    """A :name used twice binds the same value both times."""
    assert users.count("users", where="score >= :v OR score + 20 < :v", params={"v": 91}) == 3


def test_postgresql_double_colon_casts_stay_casts(pg_db):
    """On PostgreSQL `::` casts work next to ? and :name placeholders."""
    assert pg_db.execute("SELECT ?::int + 1 AS n", ["41"]) == [{"n": 42}]
    assert pg_db.execute("SELECT :v::text || 'x'::text AS s", {"v": 1}) == [{"s": "1x"}]


def test_postgresql_double_question_mark_is_jsonb_operator(pg_db):
    """On PostgreSQL `??`, `??|`, `??&` are JSONB's ?, ?|, ?& in statements with params.

    (A Python list parameter is sent as JSON, so key arrays are written ``array[?, ?]``.)
    """
    pg_db.create_table("docs", {"id": "INTEGER PRIMARY KEY", "body": "JSONB"})
    pg_db.insert_many("docs", [{"body": {"a": 1, "b": 2}}, {"body": {"b": 3}}])
    assert pg_db.select("docs", columns=["id"], where="body ?? ?", params=["a"]) == [{"id": 1}]
    rows = pg_db.select("docs", columns=["id"], where="body ??| array[?, ?]", params=["a", "b"],
                        order_by="id")
    assert rows == [{"id": 1}, {"id": 2}]
    assert pg_db.count("docs", where="body ??& array[:k1, :k2]", params={"k1": "a", "k2": "b"}) == 1
    assert pg_db.execute("SELECT COUNT(*) AS n FROM docs WHERE body ? 'b'") == [{"n": 2}]
