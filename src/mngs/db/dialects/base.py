"""What differs between backends: facts as class attributes, mechanisms as a few methods.

Everything else — CRUD, batches, transactions, most DDL — is written once in
:mod:`mngs.db.database` and :mod:`mngs.db.schema` with SQL both backends run unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import Error
from ..reflection import ColumnInfo, ForeignKeyInfo, IndexInfo

if TYPE_CHECKING:
    from ..database import Database

__all__ = ["Dialect"]


class Dialect:
    """Base class of the per-backend objects; one instance per database handle."""

    name: ClassVar[str] = "base"
    #: Longest identifier in UTF-8 bytes, or None for no limit.
    max_identifier_length: ClassVar[int | None] = None
    #: Statement that opens a transaction.
    begin_sql: ClassVar[str] = "BEGIN"
    #: True when a failed statement inside a transaction leaves the transaction usable.
    #: Where it does not (PostgreSQL), single statements in a transaction run in a savepoint.
    statement_rollback_is_atomic: ClassVar[bool] = True
    #: True when streaming reads must run inside a transaction (server-side cursors).
    stream_needs_transaction: ClassVar[bool] = False
    #: True when an unknown double-quoted name is read as a string literal instead of an error
    #: (SQLite's legacy quirk): column names are then checked against the schema first.
    quoted_unknown_is_literal: ClassVar[bool] = False
    #: How LIMIT spells "no limit" (needed for an OFFSET without LIMIT).
    unlimited: ClassVar[str] = "ALL"
    #: Rows per batch in bulk writes: bounds memory for inputs of any length.
    batch_size: ClassVar[int] = 10_000
    #: Rows fetched per round trip when streaming.
    stream_size: ClassVar[int] = 2_000
    #: Column-type rewrites applied by create_table/add_column, so schemas written for the
    #: other backend work: ``(pattern, replacement)`` on the whole type text, case-insensitive.
    type_rewrites: ClassVar[Sequence[tuple[str, str]]] = ()
    #: The driver's DB-API exception base class, set by subclasses when they load the driver.
    driver_error: type[BaseException] = Exception

    def __init__(self) -> None:
        self._type_rewrites = [
            (re.compile(pattern, re.IGNORECASE), repl) for pattern, repl in self.type_rewrites
        ]

    # -- connection --------------------------------------------------------------------
    def connect(self) -> Any:
        """Open and configure a driver connection in autocommit mode."""
        raise NotImplementedError

    def describe(self) -> str:
        """Where this handle points, for reprs and messages; never includes a password."""
        raise NotImplementedError

    def secrets(self) -> tuple[str, ...]:
        """Strings to blank out of any error message (passwords)."""
        return ()

    def in_failed_transaction(self, conn: Any) -> bool:
        """True when the open transaction can only be rolled back."""
        return False

    # -- statements --------------------------------------------------------------------
    def classify(self, exc: BaseException) -> type[Error] | None:
        """Our error class for ``exc`` where the driver's DB-API class is misleading."""
        return None

    def prepare(self, sql: str, params: Any) -> tuple[str, Any]:
        """Return the statement and parameters in the driver's placeholder style."""
        return sql, params

    def last_rowid(self, cursor: Any) -> Any:
        """The row id of the last insert when the table has no single-column primary key."""
        return None

    def rewrite_type(self, sqltype: str) -> str:
        """Rewrite a column type written for the other backend (``SERIAL``, ``BYTEA``, ...)."""
        for pattern, repl in self._type_rewrites:
            sqltype = pattern.sub(repl, sqltype)
        return sqltype

    def stream(
        self, conn: Any, sql: str, params: Any, size: int
    ) -> Iterator[tuple[list[str], list[tuple]]]:
        """Yield ``(column_names, rows)`` chunks of a query in bounded memory."""
        raise NotImplementedError

    def bulk_insert(
        self,
        db: Database,
        table: str,
        columns: Sequence[str],
        rows: Sequence[tuple],
        on_conflict: str | None,
        target: Sequence[str],
    ) -> int | None:
        """Write rows faster than executemany and return the count; None when there is no
        faster path (the caller then uses executemany)."""
        return None

    def bulk_update(
        self, db: Database, table: str, sets: Sequence[str], keys: Sequence[str], rows: Sequence[tuple]
    ) -> int | None:
        """Update rows given as ``(sets…, keys…)`` tuples faster than executemany; or None."""
        return None

    def blame_column(
        self, exc: BaseException, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> str | None:
        """Name the column whose value caused ``exc``, when it can be told."""
        for row in rows:
            for column, value in zip(columns, row):
                if isinstance(value, str) and "\x00" in value and "NUL" in str(exc):
                    return column
        return None

    def after_explicit_keys(self, db: Database, table: str, columns: Sequence[str]) -> None:
        """Called after rows were written with the given columns (sequence repair hook)."""

    # -- reflection --------------------------------------------------------------------
    def list_tables(self, db: Database) -> list[str]:
        raise NotImplementedError

    def get_columns(self, db: Database, table: str) -> list[ColumnInfo]:
        raise NotImplementedError

    def primary_key(self, db: Database, table: str) -> tuple[str, ...]:
        """The primary key columns in key order (empty when there is none)."""
        raise NotImplementedError

    def list_indexes(self, db: Database, table: str) -> list[IndexInfo]:
        raise NotImplementedError

    def get_foreign_keys(self, db: Database, table: str) -> list[ForeignKeyInfo]:
        raise NotImplementedError

    def drop_column(self, db: Database, table: str, column: str) -> None:
        """Drop a column keeping the data (``ALTER TABLE … DROP COLUMN`` where it exists)."""
        from ..sql import quote

        n = self.max_identifier_length
        db._run(f"ALTER TABLE {quote(table, n)} DROP COLUMN {quote(column, n)}", None, table=table)

    # -- maintenance -------------------------------------------------------------------
    #: Names of the pseudo-column that identifies a row in tables without a primary key, in
    #: order of preference (the first one that is not a real column of the table is used).
    row_identities: ClassVar[Sequence[str]] = ()

    def vacuum(self, db: Database, tables: Sequence[str]) -> None:
        """Reclaim space in ``tables`` (the backend may do the whole database); the caller
        has checked that no transaction is open."""
        raise NotImplementedError

    def database_stats(self, db: Database, tables: Sequence[str]) -> dict[str, Any]:
        """``size`` in bytes plus backend-specific facts for ``get_stats()``."""
        raise NotImplementedError

    def generated_key(self, db: Database, table: str) -> str | None:
        """The single primary key column whose values the database generates, if any."""
        raise NotImplementedError

    # -- inspection --------------------------------------------------------------------
    def create_table_sql(self, db: Database, table: str) -> str:
        """A ``CREATE TABLE`` statement that recreates ``table`` (without its indexes)."""
        raise NotImplementedError

    # -- search ------------------------------------------------------------------------
    def enable_search(self, db: Database, table: str, columns: Sequence[str], language: str) -> None:
        """Make ``table`` searchable on ``columns``, replacing an earlier setup. The caller has
        checked the names and the language's spelling, and runs this in a transaction."""
        raise NotImplementedError

    def disable_search(self, db: Database, table: str) -> None:
        """Remove what :meth:`enable_search` created; nothing to do when there is none."""
        raise NotImplementedError

    def rebuild_search(self, db: Database, table: str) -> None:
        """Index every row of a searchable table afresh."""
        raise NotImplementedError

    def searchable_tables(self, db: Database) -> list[str]:
        """The tables :meth:`enable_search` has made searchable, sorted."""
        raise NotImplementedError

    def search_parts(
        self, db: Database, table: str, query: str, placeholder: str
    ) -> tuple[str, str | None, str, Any] | None:
        """The backend's part of a ranked search of ``table``: ``(from_sql, condition,
        rank_sql, value)``, where ``from_sql`` binds ``value`` (the query in the backend's
        syntax) at ``placeholder`` and a higher rank is a better match. None when the query
        can match nothing."""
        raise NotImplementedError
