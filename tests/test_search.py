"""Tests for full-text search: the spec's PostgreSQL example, and enable_search/search/
disable_search/rebuild_search on both backends (FTS5 on SQLite, tsvector + GIN on PostgreSQL)."""

from __future__ import annotations

import pytest

import mngs.db

PG_ONLY = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True
)
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

ARTICLES = [
    {"title": "Machine learning for EEG", "content": "We apply machine learning to brain signals.",
     "year": 2020},
    {"title": "Deep networks", "content": "Neural networks extract features for machine vision.",
     "year": 2021},
    {"title": "Cooking at home", "content": "Recipes for running a small kitchen.", "year": 2019},
    {"title": "Neurons", "content": "Neuron after neuron: neuron recordings of the neuron.", "year": 2022},
    {"title": "Review", "content": "A long review that mentions a neuron once among many other words "
     "about methods, statistics, data, analysis, pipelines and results.", "year": 2023},
]


def _articles(db, *, search: bool = True) -> None:
    db.create_table(
        "articles",
        {"id": "INTEGER PRIMARY KEY", "title": "TEXT", "content": "TEXT", "year": "INTEGER"},
    )
    db.insert_many("articles", ARTICLES)
    if search:
        db.enable_search("articles", ["title", "content"])


def _ids(rows) -> list[int]:
    return [r["id"] for r in rows]


# -- the spec's example -------------------------------------------------------------------------


@PG_ONLY
def test_spec_postgresql_full_text_example_runs_as_written(db):
    """Spec "Full-Text Search (PostgreSQL)": the GIN index and the @@ query run through execute."""
    _articles(db, search=False)
    # Create full-text search index
    db.execute("""
        CREATE INDEX idx_fts ON articles
        USING gin(to_tsvector('english', title || ' ' || content))
    """)

    # Search documents
    results = db.execute("""
        SELECT * FROM articles
        WHERE to_tsvector('english', title || ' ' || content)
        @@ plainto_tsquery('english', 'machine learning')
    """)
    assert sorted(_ids(results)) == [1]
    assert "idx_fts" in [i["name"] for i in db.list_indexes("articles")]


# -- enable_search + search -------------------------------------------------------------------


def test_search_returns_matching_rows_best_first_with_a_rank(db):
    """Rows come back as dicts of the table's columns plus "rank", best match first."""
    _articles(db)
    rows = db.search("articles", "neuron")
    assert _ids(rows) == [4, 5]
    assert set(rows[0]) == {"id", "title", "content", "year", "rank"}
    assert rows[0]["rank"] > rows[1]["rank"] > 0
    assert rows[0]["title"] == "Neurons"


def test_search_requires_every_word_and_stems_english(db):
    """All words must match; English stemming finds "learns"/"running" from "learn"/"run"."""
    _articles(db)
    assert _ids(db.search("articles", "machine learning")) == [1]
    assert sorted(_ids(db.search("articles", "machine"))) == [1, 2]
    assert _ids(db.search("articles", "run")) == [3]
    assert _ids(db.search("articles", "learns")) == [1]


def test_search_understands_phrases_or_and_exclusion(db):
    """Web-search syntax on both backends: "quoted phrase", or, and -excluded words."""
    _articles(db)
    assert _ids(db.search("articles", '"machine vision"')) == [2]
    assert _ids(db.search("articles", '"vision machine"')) == []
    assert sorted(_ids(db.search("articles", "kitchen or vision"))) == [2, 3]
    assert _ids(db.search("articles", "machine -brain")) == [2]
    assert _ids(db.search("articles", 'machine -"brain signals"')) == [2]


def test_search_columns_where_params_limit_and_offset(db):
    """columns picks the returned columns; where/params (? or :name) filter; limit/offset page."""
    _articles(db)
    rows = db.search("articles", "machine", columns=["title"], where="year > ?", params=[2020])
    assert [sorted(r) for r in rows] == [["rank", "title"]]
    assert rows[0]["title"] == "Deep networks"
    assert _ids(db.search("articles", "machine", where="year <= :y", params={"y": 2020})) == [1]
    assert _ids(db.search("articles", "machine", where={"year": 2021})) == [2]
    everything = _ids(db.search("articles", "neuron or machine", limit=None))
    assert sorted(everything) == [1, 2, 4, 5]
    assert _ids(db.search("articles", "neuron or machine", limit=2)) == everything[:2]
    assert _ids(db.search("articles", "neuron or machine", limit=2, offset=2)) == everything[2:]


def test_search_rank_key_can_be_renamed_and_a_clash_is_reported(db):
    """rank_key names the relevance; a table column of that name is never silently overwritten."""
    db.create_table("scored", {"id": "INTEGER PRIMARY KEY", "body": "TEXT", "rank": "INTEGER"})
    db.insert("scored", {"body": "alpha beta", "rank": 7})
    db.enable_search("scored", "body")
    with pytest.raises(mngs.db.ArgumentError, match="rank_key"):
        db.search("scored", "alpha")
    row = db.search("scored", "alpha", rank_key="relevance")[0]
    assert row["rank"] == 7 and row["relevance"] > 0


def test_rows_present_before_enable_search_are_indexed(db):
    """enable_search indexes the rows already in the table."""
    _articles(db)
    assert _ids(db.search("articles", "recipes")) == [3]


def test_search_follows_inserts_updates_deletes_and_bulk_writes(db):
    """Writes after enable_search — single, bulk (COPY on PostgreSQL), upsert, update_many,
    delete — are reflected in the results at once."""
    _articles(db)
    db.insert("articles", {"id": 10, "title": "Zebra", "content": "stripes"})
    db.insert_many("articles", [{"id": 11, "title": "Zebra two", "content": "more stripes"}])
    assert sorted(_ids(db.search("articles", "zebra"))) == [10, 11]
    db.update("articles", {"title": "Horse"}, where="id = ?", params=[10])
    db.insert_many("articles", [{"id": 11, "title": "Okapi", "content": "stripes"}], on_conflict="update")
    assert _ids(db.search("articles", "zebra")) == []
    assert _ids(db.search("articles", "horse")) == [10]
    db.update_many("articles", [{"id": 10, "content": "giraffe"}])
    assert _ids(db.search("articles", "stripes")) == [11]
    db.delete("articles", where="id = ?", params=[11])
    assert _ids(db.search("articles", "okapi")) == []
    assert _ids(db.search("articles", "giraffe horse")) == [10]


def test_search_sees_uncommitted_rows_in_its_transaction_and_forgets_rolled_back_ones(db):
    """Inside a transaction the index includes its own writes; a rollback removes them."""
    _articles(db)
    with pytest.raises(RuntimeError), db.transaction():
        db.insert("articles", {"title": "Quasar", "content": "astronomy"})
        assert len(db.search("articles", "quasar")) == 1
        raise RuntimeError("roll back")
    assert db.search("articles", "quasar") == []


@pytest.mark.parametrize(
    "query",
    ['"', '""', "AND", "OR", "NOT", "NEAR(", "*", "title:machine", "a OR", "-", "^x", "(", ")",
     "'; DROP TABLE articles; --", "machine AND", "{title}: x", "\\", "%", "?", ":name", "  ", ""],
)
def test_hostile_or_odd_queries_never_raise(db, query):
    """FTS5/tsquery syntax characters in a query are text: no error, and the table survives."""
    _articles(db)
    rows = db.search("articles", query)
    assert isinstance(rows, list)
    assert db.count("articles") == len(ARTICLES)


def test_punctuation_in_queries_is_ignored_like_a_web_search(db):
    """Quotes, operators and punctuation around words do not stop the words from matching."""
    _articles(db)
    assert _ids(db.search("articles", "machine: (learning)!")) == [1]
    assert _ids(db.search("articles", "[machine], learning*;")) == [1]


def test_unicode_text_is_searchable(db):
    """Non-ASCII words are indexed and found."""
    db.create_table("notes", {"id": "INTEGER PRIMARY KEY", "body": "TEXT"})
    db.insert_many("notes", [{"body": "Über die Größe von Neuronen"}, {"body": "café au lait ✓"}])
    db.enable_search("notes", "body", language="simple")
    assert _ids(db.search("notes", "größe")) == [1]
    assert _ids(db.search("notes", "café")) == [2]


def test_language_simple_does_not_stem(db):
    """language="simple" matches whole words only."""
    _articles(db, search=False)
    db.enable_search("articles", ["title", "content"], language="simple")
    assert _ids(db.search("articles", "run")) == []
    assert _ids(db.search("articles", "running")) == [3]


def test_hostile_identifiers_work(db):
    """Table and column names with quotes and spaces are quoted everywhere."""
    table, column = 'we"ird \'table', 'ti"t le'
    db.create_table(table, {"id": "INTEGER PRIMARY KEY", column: "TEXT"})
    db.insert(table, {column: "needle in a haystack"})
    db.enable_search(table, [column])
    rows = db.search(table, "needle")
    assert [(r["id"], r[column]) for r in rows] == [(1, "needle in a haystack")]
    db.insert(table, {column: "another needle"})
    assert len(db.search(table, "needle")) == 2
    db.disable_search(table)
    assert db.searchable_tables() == []


def test_enable_search_again_replaces_columns_and_reindexes(db):
    """A second enable_search with other columns searches those columns instead."""
    _articles(db)
    assert _ids(db.search("articles", "recipes")) == [3]
    db.enable_search("articles", "title")
    assert _ids(db.search("articles", "recipes")) == []
    assert _ids(db.search("articles", "cooking")) == [3]
    assert db.searchable_tables() == ["articles"]


def test_disable_search_removes_the_index_and_writes_keep_working(db):
    """After disable_search the table is no longer searchable, and inserts still work."""
    _articles(db)
    tables_before = set(db.list_tables())
    db.disable_search("articles")
    db.disable_search("articles")  # twice is fine
    assert db.searchable_tables() == []
    assert set(db.list_tables()) == {"articles"} and "articles" in tables_before
    assert not [i for i in db.list_indexes("articles") if "fts" in i["name"]]
    db.insert("articles", {"title": "after"})
    with pytest.raises(mngs.db.ProgrammingError, match="enable_search"):
        db.search("articles", "after")


def test_searching_a_table_that_is_not_searchable_raises(db):
    """search without enable_search raises ProgrammingError saying what to call."""
    _articles(db, search=False)
    with pytest.raises(mngs.db.ProgrammingError, match="enable_search"):
        db.search("articles", "machine")
    with pytest.raises(mngs.db.ProgrammingError, match="enable_search"):
        db.search("articles", "")
    with pytest.raises(mngs.db.ProgrammingError):
        db.rebuild_search("articles")
    with pytest.raises(mngs.db.ArgumentError):
        db.search("articles", None)


@pytest.mark.parametrize(
    ("columns", "language", "error"),
    [
        (["title", "nope"], "english", mngs.db.ProgrammingError),
        ([], "english", mngs.db.ArgumentError),
        (["title", "title"], "english", mngs.db.ArgumentError),
        (["title"], "english'); DROP TABLE articles; --", mngs.db.ArgumentError),
        (["title"], "klingon", mngs.db.ArgumentError),
    ],
    ids=["missing-column", "no-columns", "twice", "injection", "unknown-language"],
)
def test_enable_search_with_bad_arguments_changes_nothing(db, columns, language, error):
    """Bad columns or languages raise before anything is created."""
    _articles(db, search=False)
    before = (set(db.list_tables()), [i["name"] for i in db.list_indexes("articles")])
    with pytest.raises(error):
        db.enable_search("articles", columns, language=language)
    assert (set(db.list_tables()), [i["name"] for i in db.list_indexes("articles")]) == before
    assert db.searchable_tables() == []


def test_enable_search_on_a_missing_table_raises(db):
    """enable_search on a table that does not exist raises ProgrammingError."""
    with pytest.raises(mngs.db.ProgrammingError, match="ghost"):
        db.enable_search("ghost", ["x"])


def test_enable_search_is_rolled_back_with_its_transaction(db):
    """enable_search inside a transaction that fails leaves no search setup behind."""
    _articles(db, search=False)
    with pytest.raises(RuntimeError), db.transaction():
        db.enable_search("articles", ["title"])
        assert db.searchable_tables() == ["articles"]
        raise RuntimeError("undo")
    assert db.searchable_tables() == []
    db.insert("articles", {"title": "still writable"})


def test_rebuild_search_reindexes_and_reports_tables(db):
    """rebuild_search() re-indexes every searchable table and returns their names."""
    _articles(db)
    db.create_table("other", {"id": "INTEGER PRIMARY KEY", "body": "TEXT"})
    db.enable_search("other", "body")
    assert db.rebuild_search() == ["articles", "other"]
    assert db.rebuild_search("other") == ["other"]
    assert _ids(db.search("articles", "machine learning")) == [1]


@SQLITE_ONLY
def test_rebuild_after_vacuum_renumbers_rows_of_a_table_without_integer_key(db):
    """SQLite's VACUUM may renumber rows of a table without INTEGER PRIMARY KEY; rebuild_search
    brings the index back in step."""
    db.create_table("loose", {"name": "TEXT", "body": "TEXT"})
    db.insert_many("loose", [{"name": f"n{i}", "body": f"word{i} common"} for i in range(10)])
    db.enable_search("loose", "body")
    db.delete("loose", where="name IN ('n1', 'n2', 'n3')")
    db.execute("VACUUM")
    db.rebuild_search("loose")
    assert [r["name"] for r in db.search("loose", "word7")] == ["n7"]
    assert len(db.search("loose", "common", limit=None)) == 7


@SQLITE_ONLY
def test_sqlite_refuses_a_name_clash_with_an_existing_fts_table_name(db):
    """A real table already called <table>_fts is never dropped: enable_search raises."""
    _articles(db, search=False)
    db.create_table("articles_fts", {"x": "TEXT"})
    db.insert("articles_fts", {"x": "keep me"})
    with pytest.raises(mngs.db.ProgrammingError, match="articles_fts"):
        db.enable_search("articles", ["title"])
    assert db.select("articles_fts") == [{"x": "keep me"}]


@PG_ONLY
def test_postgresql_search_uses_the_gin_index(db):
    """The generated query repeats the index expression, so the planner can use the GIN index."""
    _articles(db)
    db.execute("SET enable_seqscan = off")
    index = [i["name"] for i in db.list_indexes("articles") if i["name"].endswith("fts")]
    assert index == ["idx_articles_fts"]
    parts = db._dialect.search_parts(db._ex, "articles", "neuron", "?")
    plan = db.execute(f"EXPLAIN SELECT 1 {parts[0]} WHERE {parts[1]}", [parts[3]])
    assert "idx_articles_fts" in " ".join(str(v) for row in plan for v in row.values())


@PG_ONLY
def test_postgresql_search_survives_table_and_column_renames(db):
    """The index is found through its comment, so renaming the table or a column keeps search."""
    _articles(db)
    db.rename_table("articles", "papers")
    db.execute('ALTER TABLE papers RENAME COLUMN content TO body')
    assert _ids(db.search("papers", "recipes")) == [3]


@SQLITE_ONLY
def test_vacuum_keeps_search_in_step_on_a_table_without_integer_key(db):
    """db.vacuum() leaves search results correct for tables whose rowids VACUUM renumbers."""
    db.create_table("loose", {"name": "TEXT", "body": "TEXT"})
    db.insert_many("loose", [{"name": f"n{i}", "body": f"word{i} common"} for i in range(10)])
    db.enable_search("loose", "body")
    db.delete("loose", where="name IN ('n1', 'n2', 'n3')")
    db.vacuum()
    assert [r["name"] for r in db.search("loose", "word7")] == ["n7"]
