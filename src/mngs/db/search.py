"""Full-text search on both backends (FTS5 on SQLite, tsvector + GIN on PostgreSQL).

``db.enable_search("articles", ["title", "content"])`` makes a table searchable and
``db.search("articles", "machine learning")`` returns its best-matching rows, each with a
``rank`` (higher is better; comparable within one backend only). Queries read like a web
search on both backends: every word must match, ``"quoted phrases"`` match in order, ``or``
accepts either side and ``-word`` excludes; the query is always a bound parameter, and no input
is a syntax error. Words are stemmed in English (``runs`` finds ``running``).

What is created:

- SQLite: a virtual FTS5 table ``<table>_fts`` over the table's rows (it stores only the index,
  not a copy of the text) plus triggers ``<table>_fts_insert/_delete/_update`` that keep it in
  step with every write. ``list_tables()`` shows ``<table>_fts`` and FTS5's own
  ``<table>_fts_*`` tables. ``VACUUM`` may renumber the rows of a table without an ``INTEGER
  PRIMARY KEY``; run :meth:`SearchMixin.rebuild_search` after it for such tables.
- PostgreSQL: a GIN index ``idx_<table>_fts`` on ``to_tsvector(language, col1 || ' ' || …)``,
  always up to date, found again through its comment (so it survives renames).

A query that only excludes words matches nothing on SQLite, and every row without them on
PostgreSQL. Stop words (``the``, ``a``) are ignored on PostgreSQL and matched on SQLite.
"""


import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .dialects.base import Dialect
from .errors import ArgumentError, ProgrammingError
from .executor import Executor, Record
from .sql import Params, Where, limit_clause, quote, quote_all, where_clause

__all__ = ["SearchMixin"]

_LANGUAGE = re.compile(r"[a-z_][a-z0-9_]*")
_QUERY_NAME = "_mngs_query"


class SearchMixin:
    """Methods of :class:`~mngs.db.database.Database`; see the module docstring."""

    _dialect: Dialect
    _ex: Executor

    if TYPE_CHECKING:
        def transaction(self) -> Any: ...
        def get_columns(self, table: str) -> Any: ...

    def enable_search(
        self, table: str, columns: str | Sequence[str], *, language: str = "english"
    ) -> None:
        """Make ``table`` searchable on the text of ``columns`` and index its rows; later writes
        are indexed as they happen. Calling it again replaces the setup (other columns, another
        language) and re-indexes. ``language`` is a PostgreSQL text search configuration name
        (``"english"``, ``"simple"``, ``"german"``, …); SQLite stems English only.

        >>> db.enable_search("articles", ["title", "content"])
        """
        names = [columns] if isinstance(columns, str) else list(columns)
        if not names or not all(isinstance(c, str) for c in names):
            raise ArgumentError(f"enable_search on {table!r} needs one or more column names")
        if len(set(names)) != len(names):
            raise ArgumentError(f"enable_search on {table!r}: a column is named twice: {names}")
        if not isinstance(language, str) or not _LANGUAGE.fullmatch(language.lower()):
            raise ArgumentError(f"invalid search language {language!r}")
        n = self._dialect.max_identifier_length
        quote_all(names, n)
        existing = {c["name"] for c in self.get_columns(table)}
        missing = [c for c in names if c not in existing]
        if missing:
            raise ProgrammingError(f"table {table!r} has no column(s) {missing} to search")
        with self._ex.lock:
            try:
                with self._ex.transaction():
                    self._dialect.enable_search(self._ex, table, names, language.lower())
            finally:
                self._ex.invalidate()

    def disable_search(self, table: str) -> None:
        """Remove what :meth:`enable_search` created for ``table`` (no error when nothing was).

        >>> db.disable_search("articles")
        """
        quote(table, self._dialect.max_identifier_length)
        with self._ex.lock:
            try:
                with self._ex.transaction():
                    self._dialect.disable_search(self._ex, table)
            finally:
                self._ex.invalidate()

    def rebuild_search(self, table: str | None = None) -> list[str]:
        """Re-index every row of ``table`` (of every searchable table when None) and return the
        tables rebuilt. Only needed on SQLite after ``VACUUM`` of a table that has no
        ``INTEGER PRIMARY KEY``, or after writes that bypassed the triggers.

        >>> db.rebuild_search()
        ['articles']
        """
        with self._ex.lock, self._ex.transaction():
            searchable = self._dialect.searchable_tables(self._ex)
            if table is not None:
                if table not in searchable:
                    raise ProgrammingError(f"table {table!r} is not searchable")
                searchable = [table]
            for name in searchable:
                self._dialect.rebuild_search(self._ex, name)
        return searchable

    def searchable_tables(self) -> list[str]:
        """The tables :meth:`enable_search` has made searchable, sorted.

        >>> db.searchable_tables()
        ['notes']
        """
        with self._ex.lock:
            return self._dialect.searchable_tables(self._ex)

    def search(
        self,
        table: str,
        query: str,
        *,
        columns: Sequence[str] | None = None,
        where: Where = None,
        params: Params = None,
        limit: int | None = 20,
        offset: int | None = None,
        rank_key: str = "rank",
    ) -> list[Record]:
        """Return the rows of ``table`` matching ``query``, best first, each with its
        relevance under ``rank_key`` (higher is better).

        ``columns`` picks the columns returned (all by default); ``where``/``params`` narrow
        the rows as in :meth:`select`; ``limit`` (None for all) and ``offset`` page through
        the results. The table must have been made searchable with :meth:`enable_search`.

        >>> db.search("articles", "machine learning", limit=5)
        [{'id': 3, 'title': 'Machine learning for EEG', 'content': '…', 'rank': 0.0986}]
        """
        if not isinstance(query, str):
            raise ArgumentError(f"search query must be a str, not {type(query).__name__}")
        n = self._dialect.max_identifier_length
        name = quote(table, n)
        if isinstance(columns, str):
            columns = [columns]
        selected = quote_all(columns, n) if columns else f"{name}.*"
        condition, values = where_clause(where, params, n)
        limits = limit_clause(limit, offset, self._dialect.unlimited)
        named = isinstance(values, Mapping)
        if named and _QUERY_NAME in values:
            raise ArgumentError(f"params may not use the reserved name {_QUERY_NAME!r}")
        if values is not None and not named and (
            isinstance(values, (str, bytes)) or not isinstance(values, Sequence)
        ):
            raise ArgumentError(f"params must be a list/tuple or a dict, not {type(values).__name__}")
        with self._ex.lock:
            parts = self._dialect.search_parts(self._ex, table, query, f":{_QUERY_NAME}" if named else "?"
            )
            if parts is None or not any(ch.isalnum() for ch in query):
                return []
            from_sql, match, rank_sql, value = parts
            conditions = [c for c in (match, condition[len(" WHERE ") :]) if c]
            if condition and match:
                conditions[1] = f"({conditions[1]})"
            filters = f" WHERE {' AND '.join(conditions)}" if conditions else ""
            order = "".join(f", {name}.{quote(k, n)}" for k in self._ex.primary_key(table))
            sql = (
                f"SELECT {selected}, {rank_sql} AS _mngs_rank {from_sql}{filters} "
                f"ORDER BY _mngs_rank DESC{order}{limits}"
            )
            bound: Any = {**values, _QUERY_NAME: value} if named else [value, *(values or ())]
            rows = self._ex.rows(self._ex.run(sql, bound, table=table))
        for row in rows:
            score = row.pop("_mngs_rank")
            if rank_key in row:
                raise ArgumentError(
                    f"table {table!r} has a column named {rank_key!r}: pass rank_key='…' to "
                    "name the relevance differently"
                )
            row[rank_key] = float(score)
        return list(rows)
