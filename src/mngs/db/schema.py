"""Schema and indexes: create, inspect, alter and drop tables, columns and indexes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import ArgumentError, IdentifierError, ProgrammingError
from .reflection import ColumnInfo, IndexInfo
from .sql import index_name, quote, quote_all

if TYPE_CHECKING:
    from .dialects.base import Dialect
    from .executor import Executor

__all__ = ["SchemaMixin"]

_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
ForeignKey = tuple[str | Sequence[str], str, str | Sequence[str]] | Mapping[str, Any]


def _names(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _check_sql_fragment(kind: str, text: Any, where: str) -> str:
    """Column types and constraints are SQL text: allow one clause, never a second statement."""
    if not isinstance(text, str) or not text.strip():
        raise ArgumentError(f"{kind} for {where} must be non-empty SQL text, not {text!r}")
    bare = _QUOTED.sub("''", text)
    if ";" in bare or "--" in bare or "/*" in bare:
        raise ArgumentError(f"{kind} for {where} may not contain ';' or comments: {text!r}")
    return text


class SchemaMixin:
    """Tables, columns and indexes; reflection comes from the dialect, shaped the same on
    every backend (see :mod:`mngs.db.reflection`)."""

    _dialect: Dialect
    _ex: Executor

    if TYPE_CHECKING:
        from .database import Rows

        def transaction(self) -> Any: ...

    def _quote(self, name: str) -> str:
        return quote(name, self._dialect.max_identifier_length)

    def _check_new_names(self, table: str | None, columns: Any = ()) -> None:
        """Refuse names the backend keeps for itself, before any SQL runs."""
        dialect = self._dialect
        if table is not None and table.lower().startswith(dialect.reserved_table_prefixes):
            raise IdentifierError(f"table names starting with {table[:7]!r} are reserved: {table!r}")
        for column in columns:
            if isinstance(column, str) and column.lower() in dialect.reserved_column_names:
                raise IdentifierError(
                    f"column name {column!r} of table {table!r} is reserved by {dialect.name}"
                )

    def _ddl(self, sql: str, table: str) -> None:
        with self._ex.lock:
            try:
                with self._ex.transaction():
                    self._ex.run(sql, None, table=table)
            finally:
                self._ex.invalidate()

    # -- tables ------------------------------------------------------------------------
    def create_table(
        self,
        table: str,
        columns: Mapping[str, str],
        *,
        if_not_exists: bool = True,
        primary_key: str | Sequence[str] | None = None,
        foreign_keys: Sequence[ForeignKey] = (),
        constraints: Sequence[str] = (),
    ) -> None:
        """Create ``table`` with ``{column: "SQL type and constraints"}``.

        Idempotent by default: an existing table is left as it is (``if_not_exists=False``
        makes that an error). ``primary_key`` names a composite key; ``foreign_keys`` takes
        ``(columns, other_table, other_columns)`` tuples or dicts with those keys plus
        ``on_delete``/``on_update``; ``constraints`` adds table constraints as SQL text
        (``"UNIQUE (a, b)"``, ``"CHECK (x > 0)"``). Types written for the other backend are
        rewritten where needed (``SERIAL``/``AUTOINCREMENT``, ``BYTEA``/``BLOB``, ``DATETIME``).

        >>> db.create_table("runs", {"id": "INTEGER PRIMARY KEY", "name": "TEXT NOT NULL"})
        """
        if not isinstance(columns, Mapping) or not columns:
            raise ArgumentError(f"create_table {table!r} needs a non-empty dict of column types")
        self._check_new_names(table, columns)
        q = self._quote
        parts = []
        for name, sqltype in columns.items():
            text = _check_sql_fragment("column type", sqltype, f"{table}.{name}")
            parts.append(f"{q(name)} {self._dialect.rewrite_type(text)}")
        if primary_key is not None:
            parts.append(f"PRIMARY KEY ({', '.join(map(q, _names(primary_key)))})")
        for fk in foreign_keys:
            parts.append(self._foreign_key_sql(table, fk))
        for constraint in constraints:
            parts.append(_check_sql_fragment("constraint", constraint, table))
        if not if_not_exists and self.table_exists(table):
            raise ProgrammingError(f"table {table!r} already exists")
        exists = " IF NOT EXISTS" if if_not_exists else ""
        self._ddl(f"CREATE TABLE{exists} {q(table)} ({', '.join(parts)})", table)

    def _foreign_key_sql(self, table: str, fk: ForeignKey) -> str:
        if isinstance(fk, Mapping):
            spec = dict(fk)
        else:
            try:
                columns, other, other_columns = fk
            except (TypeError, ValueError):
                raise ArgumentError(
                    f"foreign key for {table!r} must be (columns, table, columns), not {fk!r}"
                ) from None
            spec = {"columns": columns, "table": other, "other_columns": other_columns}
        q = self._quote
        sql = (
            f"FOREIGN KEY ({', '.join(map(q, _names(spec['columns'])))}) "
            f"REFERENCES {q(spec['table'])} ({', '.join(map(q, _names(spec['other_columns'])))})"
        )
        for event in ("on_delete", "on_update"):
            action = spec.get(event)
            if action is None:
                continue
            action = str(action).upper()
            if action not in ("CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT", "NO ACTION"):
                raise ArgumentError(f"invalid {event} action for {table!r}: {action!r}")
            sql += f" {event.replace('_', ' ').upper()} {action}"
        return sql

    def list_tables(self) -> list[str]:
        """Names of the tables (in the current schema on PostgreSQL), sorted.

        >>> db.list_tables()
        ['users']
        """
        with self._ex.lock:
            return self._dialect.list_tables(self._ex)

    def table_exists(self, table: str) -> bool:
        """True when ``table`` exists.

        >>> db.table_exists("users")
        True
        """
        return table in self.list_tables()

    def get_columns(self, table: str) -> list[ColumnInfo]:
        """Describe each column: name, type, nullable, default and primary_key.

        >>> [c["name"] for c in db.get_columns("users")]
        ['id', 'name', 'score']
        """
        self._quote(table)
        with self._ex.lock:
            columns = self._dialect.get_columns(self._ex, table)
        if not columns:
            raise ProgrammingError(f"no such table: {table!r}")
        return columns

    def drop_table(self, table: str, if_exists: bool = True) -> None:
        """Drop ``table`` (a missing table is fine unless ``if_exists=False``).

        >>> db.drop_table("scratch")
        """
        exists = " IF EXISTS" if if_exists else ""
        self._ddl(f"DROP TABLE{exists} {self._quote(table)}", table)

    def rename_table(self, old: str, new: str) -> None:
        """Rename table ``old`` to ``new``.

        >>> db.rename_table("users", "people")
        """
        self._check_new_names(new)
        self._ddl(f"ALTER TABLE {self._quote(old)} RENAME TO {self._quote(new)}", old)

    def add_column(self, table: str, column: str, sqltype: str = "TEXT") -> None:
        """Add ``column`` of ``sqltype`` (SQL text, e.g. ``"REAL DEFAULT 0"``) to ``table``.

        >>> db.add_column("users", "age", "INTEGER DEFAULT 0")
        """
        self._check_new_names(None, [column])
        text = self._dialect.rewrite_type(_check_sql_fragment("column type", sqltype, table))
        self._ddl(f"ALTER TABLE {self._quote(table)} ADD COLUMN {self._quote(column)} {text}", table)

    def drop_column(self, table: str, column: str) -> None:
        """Drop ``column`` from ``table``, keeping every row (and indexes on other columns).

        >>> db.drop_column("users", "age")
        """
        self._quote(column)
        if column not in {c["name"] for c in self.get_columns(table)}:
            raise ProgrammingError(f"table {table!r} has no column {column!r}")
        with self._ex.lock:
            try:  # the dialect opens the transaction: SQLite switches foreign keys off first
                self._dialect.drop_column(self._ex, table, column)
            finally:
                self._ex.invalidate()

    # -- indexes -----------------------------------------------------------------------
    def create_index(
        self,
        table: str,
        columns: str | Sequence[str],
        unique: bool = False,
        name: str | None = None,
        if_not_exists: bool = True,
    ) -> str:
        """Create an index (``idx_<table>_<col>…`` unless named) and return its name.

        Idempotent by default: an existing index of that name is left as it is.

        >>> db.create_index("users", ["email"], unique=True)
        'idx_users_email'
        """
        cols = _names(columns)
        if not cols:
            raise ArgumentError(f"create_index on {table!r} needs at least one column")
        self._ex.check_columns(table, cols)
        name = name or index_name(table, cols, self._dialect.max_identifier_length)
        sql = (
            f"CREATE {'UNIQUE ' if unique else ''}INDEX{' IF NOT EXISTS' if if_not_exists else ''} "
            f"{self._quote(name)} ON {self._quote(table)} ({quote_all(cols)})"
        )
        self._ddl(sql, table)
        return name

    def drop_index(self, table: str, name: str, if_exists: bool = True) -> None:
        """Drop index ``name`` of ``table`` (a missing one is fine unless ``if_exists=False``).

        >>> db.drop_index("users", "idx_users_email")
        """
        known = [i["name"] for i in self.list_indexes(table)] if self.table_exists(table) else []
        if name not in known:
            if if_exists:
                return
            raise ProgrammingError(f"table {table!r} has no index {name!r}")
        self._ddl(f"DROP INDEX {self._quote(name)}", table)

    def list_indexes(self, table: str) -> list[IndexInfo]:
        """Describe each index of ``table``: name, columns, unique, primary.

        >>> [i["name"] for i in db.list_indexes("users")]
        ['idx_users_email']
        """
        self._quote(table)
        with self._ex.lock:
            return self._dialect.list_indexes(self._ex, table)
