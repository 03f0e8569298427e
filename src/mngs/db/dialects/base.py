"""What differs between backends: facts as class attributes, mechanisms as a few methods.

Everything else — CRUD, batches, transactions, most DDL — is written once in
:mod:`mngs.db.database` and :mod:`mngs.db.schema` with SQL both backends run unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import DataError, Error, NotSupportedError
from ..reflection import ColumnInfo, ForeignKeyInfo, IndexInfo

if TYPE_CHECKING:
    from pathlib import Path

    from ..executor import Executor

__all__ = ["Dialect"]

#: Driver messages meaning "this Python value cannot be sent" (sqlite3, psycopg).
_UNSENDABLE = ("Error binding parameter", "cannot adapt type")


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
    #: What ``select(..., for_update=True)`` appends to the statement.
    for_update_sql: ClassVar[str] = " FOR UPDATE"
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
    #: Table-name prefixes the backend keeps for itself (refused by create_table).
    reserved_table_prefixes: ClassVar[tuple[str, ...]] = ()
    #: Column names the backend keeps for itself (refused by create_table/add_column).
    reserved_column_names: ClassVar[frozenset[str]] = frozenset()

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

    def is_alive(self, conn: Any) -> bool:
        """False when ``conn`` is known to be dead, checked cheaply before each statement."""
        return True

    def fault(self, exc: BaseException, conn: Any) -> str | None:
        """What a driver error means for the executor: ``"lost"`` (the connection died),
        ``"busy"`` (the database was locked and nothing was done), ``"unprepared"`` (a
        pooler lost a prepared statement; nothing was done), or None for an ordinary error."""
        return None

    def client_deadline(self) -> float | None:
        """Seconds after which a statement the server has not answered is abandoned by the
        client (its connection dropped), or None for no client-side limit."""
        return None

    def abort(self, conn: Any) -> None:
        """Make a call blocked on ``conn`` return at once (from another thread)."""

    def retry_busy(self, sql: str, depth: int) -> bool:
        """True when a statement refused as busy may be sent again."""
        return False

    def busy_timeout(self) -> float:
        """Seconds to keep retrying a statement refused as busy."""
        return 0.0

    def begin_statement(self, isolation: str | None) -> str:
        """The statement opening a transaction at ``isolation`` (None: the default)."""
        if isolation is None:
            return self.begin_sql
        return f"BEGIN ISOLATION LEVEL {isolation.upper()}"

    # -- statements --------------------------------------------------------------------
    def classify(self, exc: BaseException) -> type[Error] | None:
        """Our error class for ``exc`` where the driver's DB-API class is misleading: a value
        the driver cannot send is a :class:`DataError` on every backend."""
        if isinstance(exc, (UnicodeEncodeError, OverflowError, RecursionError)):
            return DataError
        if any(m in str(exc) for m in _UNSENDABLE):
            return DataError
        return None

    def scrub(self, exc: BaseException) -> None:
        """Remove what a driver exception holds that could reveal a secret (a password in its
        connection object) before the package hands it out as ``driver_error``."""

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
        ex: Executor,
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
        self, ex: Executor, table: str, sets: Sequence[str], keys: Sequence[str], rows: Sequence[tuple]
    ) -> int | None:
        """Update rows given as ``(sets…, keys…)`` tuples faster than executemany; or None."""
        return None

    def blame_column(
        self, exc: BaseException, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> str | None:
        """Name the column whose value caused ``exc``, when it can be told: a str with NUL,
        or a value of the type the driver could not adapt (``cannot adapt type 'set'``)."""
        message = str(exc)
        unadaptable = re.search(r"cannot adapt type '([^']+)'", message)
        out_of_range = isinstance(exc, OverflowError) or getattr(exc, "sqlstate", None) == "22003"
        for row in rows:
            for column, value in zip(columns, row):
                if out_of_range and type(value) is int and not -(2**63) <= value < 2**63:
                    return column
                if isinstance(exc, RecursionError) and isinstance(value, (dict, list)):
                    return column
                if isinstance(exc, UnicodeEncodeError) and isinstance(value, str):
                    try:
                        value.encode("utf-8")
                    except UnicodeEncodeError:
                        return column
                if isinstance(value, str) and "\x00" in value and "NUL" in message:
                    return column
                if unadaptable and type(value).__name__ == unadaptable[1]:
                    return column
        return None

    def after_explicit_keys(self, ex: Executor, table: str, columns: Sequence[str]) -> None:
        """Called after rows were written with the given columns (sequence repair hook)."""

    # -- reflection --------------------------------------------------------------------
    def list_tables(self, ex: Executor) -> list[str]:
        raise NotImplementedError

    def get_columns(self, ex: Executor, table: str) -> list[ColumnInfo]:
        raise NotImplementedError

    def primary_key(self, ex: Executor, table: str) -> tuple[str, ...]:
        """The primary key columns in key order (empty when there is none)."""
        raise NotImplementedError

    def list_indexes(self, ex: Executor, table: str) -> list[IndexInfo]:
        raise NotImplementedError

    def get_foreign_keys(self, ex: Executor, table: str) -> list[ForeignKeyInfo]:
        raise NotImplementedError

    def table_facts(self, ex: Executor, table: str) -> dict[str, Any]:
        """What copying ``table`` to another database needs beyond the reflection records:

        ``auto`` (the key column the database numbers, or None), ``sequenced`` (other
        auto-numbered columns), ``generated`` (computed column → expression, or None when not
        known), ``checks`` (CHECK constraints as ``CHECK (…)`` text), ``special_indexes``
        (index name → why it is more than an index on columns: partial, expression, method),
        ``virtual`` (True for a virtual table), ``autoincrement`` (SQLite's keyword),
        ``identity_always`` (columns that refuse explicit values), ``other`` (constraints that
        cannot be copied, as text)."""
        raise NotImplementedError

    def other_objects(self, ex: Executor) -> list[str]:
        """What the database holds besides tables and their indexes and constraints (views,
        triggers, sequences of their own, routines, types), as ``"view name"`` texts."""
        raise NotImplementedError

    def drop_column(self, ex: Executor, table: str, column: str) -> None:
        """Drop a column keeping the data (``ALTER TABLE … DROP COLUMN`` where it exists),
        all-or-nothing (the dialect opens the transaction)."""
        from ..sql import quote

        n = self.max_identifier_length
        ex.run(f"ALTER TABLE {quote(table, n)} DROP COLUMN {quote(column, n)}", None, table=table)

    @contextmanager
    def schema_change(self, ex: Executor) -> Iterator[bool]:
        """Run the block as one all-or-nothing schema change (a transaction; a savepoint inside
        one); yields whether foreign keys are enforced during it (checked before commit)."""
        with ex.transaction():
            yield True

    # -- maintenance -------------------------------------------------------------------
    #: Names of the pseudo-column that identifies a row in tables without a primary key, in
    #: order of preference (the first one that is not a real column of the table is used).
    row_identities: ClassVar[Sequence[str]] = ()
    #: True when VACUUM may renumber row identities (full-text indexes are rebuilt after it).
    vacuum_renumbers_rows: ClassVar[bool] = False

    def vacuum(self, ex: Executor, tables: Sequence[str]) -> None:
        """Reclaim space in ``tables`` (the backend may do the whole database); the caller
        has checked that no transaction is open."""
        raise NotImplementedError

    def database_stats(self, ex: Executor, tables: Sequence[str]) -> dict[str, Any]:
        """``size`` in bytes plus backend-specific facts for ``get_stats()``."""
        raise NotImplementedError

    def generated_key(self, ex: Executor, table: str) -> str | None:
        """The single primary key column whose values the database generates, if any."""
        raise NotImplementedError

    def comparable(self, column_sql: str, sqltype: str) -> str:
        """An expression of the quoted column that can be compared for equality (grouped,
        partitioned), for types that cannot be as they are."""
        return column_sql

    # -- inspection --------------------------------------------------------------------
    def create_table_sql(self, ex: Executor, table: str) -> str:
        """A ``CREATE TABLE`` statement that recreates ``table`` (without its indexes)."""
        raise NotImplementedError

    # -- search ------------------------------------------------------------------------
    def enable_search(self, ex: Executor, table: str, columns: Sequence[str], language: str) -> None:
        """Make ``table`` searchable on ``columns``, replacing an earlier setup. The caller has
        checked the names and the language's spelling, and runs this in a transaction."""
        raise NotImplementedError

    def disable_search(self, ex: Executor, table: str) -> None:
        """Remove what :meth:`enable_search` created; nothing to do when there is none."""
        raise NotImplementedError

    def rebuild_search(self, ex: Executor, table: str) -> None:
        """Index every row of a searchable table afresh."""
        raise NotImplementedError

    def searchable_tables(self, ex: Executor) -> list[str]:
        """The tables :meth:`enable_search` has made searchable, sorted."""
        raise NotImplementedError

    def search_parts(
        self, ex: Executor, table: str, query: str, placeholder: str
    ) -> tuple[str, str | None, str, Any] | None:
        """The backend's part of a ranked search of ``table``: ``(from_sql, condition,
        rank_sql, value)``, where ``from_sql`` binds ``value`` (the query in the backend's
        syntax) at ``placeholder`` and a higher rank is a better match. None when the query
        can match nothing."""
        raise NotImplementedError

    # -- backup ------------------------------------------------------------------------
    #: True when a backup path not ending in ``.sql`` gets a binary copy of the database.
    binary_backups: ClassVar[bool] = False
    #: The last line of a complete SQL dump (the first is named in messages); a dump that
    #: does not end with one of these is truncated and is refused.
    dump_trailers: ClassVar[tuple[str, ...]] = ("-- mngs.db dump complete",)

    def dump_facts(self, ex: Executor) -> dict[str, Any]:
        """Facts recorded in a dump's header line, checked again on restore."""
        return {}

    def backup(self, ex: Executor, path: Path, *, table: str | None, text: bool) -> dict[str, int] | None:
        """Append a SQL dump of the database (or of ``table``) to ``path`` (which holds the
        header line) when ``text`` and return the rows it holds per table; otherwise write a
        binary copy to the empty file ``path`` (and return None)."""
        raise NotImplementedError

    def restore_dump(self, ex: Executor, path: Path, facts: dict[str, Any]) -> dict[str, int]:
        """Run the checked SQL dump at ``path`` inside the open transaction, replacing what
        it contains (everything, when ``facts["scope"] == "database"``); return the rows it
        loaded per table."""
        raise NotImplementedError

    def restore_copy(self, ex: Executor, path: Path, facts: dict[str, Any] | None) -> None:
        """Replace the database with the binary copy at ``path``, all-or-nothing, after
        checking it against ``facts`` (its checksum file) when there are any."""
        raise NotSupportedError(
            f"{path} is a SQLite database file; a {self.name} database restores SQL dumps only"
        )

    # -- transfer ----------------------------------------------------------------------
    #: Column type for each value kind, used when import_from_csv / from_dataframe create a table.
    transfer_types: ClassVar[dict[str, str]] = {
        "boolean": "BOOLEAN", "integer": "INTEGER", "bigint": "TEXT", "float": "REAL", "decimal": "DECIMAL",
        "text": "TEXT", "bytes": "BLOB", "json": "JSON", "date": "DATE", "time": "TIME",
        "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMPTZ",
    }  # fmt: skip

    def copy_csv_in(
        self, ex: Executor, table: str, columns: Sequence[str], chunks: Iterator[bytes], delimiter: str
    ) -> int | None:
        """Load CSV records (UTF-8 blocks after the header) into ``columns`` with the database's
        own CSV loader; return the rows loaded, or None when there is none (nothing consumed)."""
        return None

    def copy_csv_out(
        self, ex: Executor, sql: str, params: Any, write: Callable[[bytes], Any], delimiter: str
    ) -> int | None:
        """Write a query's result as CSV with a header (UTF-8 blocks to ``write``) with the
        database's own CSV writer; return the rows written, or None when there is none."""
        return None

    def copy_error_location(self, exc: BaseException) -> tuple[int | None, str | None, str]:
        """(data line, column, message) of an error raised by :meth:`copy_csv_in`, when the
        database named them; lines count from 1 at the first record sent."""
        return None, None, str(exc)

    def stored_value_sql(self, column: str, declared: str) -> tuple[str, Callable[[Any], Any]] | None:
        """Where the driver converts a column's values by its declared type (``column`` is
        quoted): an expression reading the stored value unconverted (text as str, anything else
        as what the conversion takes) and that conversion; None when values arrive as stored."""
        return None

    def parameter_limit(self, conn: Any) -> int:
        """The most bound parameters one statement may take (sizes multi-row VALUES)."""
        return 999
