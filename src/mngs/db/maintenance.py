"""Maintenance and overview: vacuum, analyze, statistics, summary, duplicates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .errors import OperationalError, ProgrammingError
from .sql import quote, quote_all

if TYPE_CHECKING:
    from .dialects.base import Dialect
    from .executor import Executor
    from .reflection import ColumnInfo

__all__ = ["MaintenanceMixin", "human_size"]

_SUMMARY_ROWS = 3
_SUMMARY_COLUMNS = 8
_CELL_WIDTH = 24
_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def human_size(size: float) -> str:
    """Format a byte count for people, in powers of 1024: ``human_size(1258291)`` → ``"1.2 MB"``."""
    value = float(size)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _cell(value: Any) -> str:
    """One value as short text for the summary: NULL, bytes as their length, long text cut."""
    if value is None:
        text = "NULL"
    elif isinstance(value, (bytes, bytearray, memoryview)):
        text = f"<{len(value)} bytes>"
    elif isinstance(value, (datetime, date, time)):
        text = value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    else:
        text = str(value)
    text = " ".join(text.split()) if ("\n" in text or "\t" in text) else text
    if len(text) > _CELL_WIDTH:
        text = text[: _CELL_WIDTH - 1] + "…"
    return text


def _grid(names: Sequence[str], rows: Sequence[dict[str, Any]], indent: str = "  ") -> list[str]:
    """Rows as an aligned text table: numbers right-aligned, everything else left-aligned."""
    header = [_cell(n) for n in names]
    cells = [[_cell(row[n]) for n in names] for row in rows]
    numeric = [
        bool(rows) and all(
            isinstance(row[n], (int, float, Decimal)) and not isinstance(row[n], bool)
            for row in rows
            if row[n] is not None
        )
        for n in names
    ]
    widths = [max(len(c) for c in column) for column in zip(header, *cells)]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if right else v.ljust(w) for v, w, right in zip(values, widths, numeric)
        ]
        return (indent + " | ".join(parts)).rstrip()

    return [line(header), indent + "-+-".join("-" * w for w in widths), *map(line, cells)]


class MaintenanceMixin:
    """Methods of :class:`~mngs.db.database.Database`; see the module docstring."""

    _dialect: Dialect
    _ex: Executor

    if TYPE_CHECKING:

        def transaction(self) -> Any: ...
        def list_tables(self) -> list[str]: ...
        def get_columns(self, table: str) -> list[ColumnInfo]: ...
        def list_indexes(self, table: str) -> list[Any]: ...
        def count(self, table: str, where: Any = None, params: Any = None) -> int: ...
        @property
        def in_transaction(self) -> bool: ...
        @property
        def backend(self) -> str: ...

    def _tables_for(self, table: str | None) -> list[str]:
        """``[table]`` after checking it exists, or every table when None."""
        tables = self.list_tables()
        if table is None:
            return tables
        quote(table, self._dialect.max_identifier_length)
        if table not in tables:
            raise ProgrammingError(f"no such table: {table!r}")
        return [table]

    def vacuum(self, table: str | None = None) -> None:
        """Reclaim the space of deleted rows and defragment: ``VACUUM``.

        On PostgreSQL only ``table`` (default: every table of the current schema) is vacuumed;
        SQLite always rebuilds the whole file. Neither backend can vacuum inside a
        transaction, so inside ``with db.transaction():`` this raises
        :class:`~mngs.db.OperationalError` and changes nothing.

        >>> db.vacuum()
        """
        with self._ex.lock:
            if self.in_transaction:
                raise OperationalError(
                    "vacuum() cannot run inside a transaction (the database refuses VACUUM in a "
                    "transaction block); call it after the `with db.transaction():` block ends"
                )
            tables = self._tables_for(table)
            self._dialect.vacuum(self._ex, tables)
            if self._dialect.vacuum_renumbers_rows:
                self.rebuild_search()

    def analyze(self, table: str | None = None) -> None:
        """Refresh the statistics the query planner uses: ``ANALYZE`` of ``table``, or of
        every table when None. Allowed inside a transaction.

        >>> db.analyze("users")
        """
        n = self._dialect.max_identifier_length
        with self._ex.lock, self._ex.transaction():
            for name in self._tables_for(table):
                self._ex.run(f"ANALYZE {quote(name, n)}", None, table=name)

    def get_stats(self) -> dict[str, Any]:
        """Return facts about the database as a dict.

        Keys on both backends: ``backend``, ``size`` (bytes: the SQLite file's pages, or the
        whole PostgreSQL database), ``size_human`` (``"1.2 MB"``), ``table_count``,
        ``index_count``, ``rows`` (table → row count), ``total_rows`` and ``tables`` (names);
        the tables are those :meth:`list_tables` shows (on PostgreSQL: the current schema).
        SQLite adds ``path``, ``page_size``, ``free_size`` (bytes :meth:`vacuum` would
        reclaim), ``journal_mode`` and ``sqlite_version``; PostgreSQL adds ``database``,
        ``schema``, ``tables_size`` (bytes of this schema's tables with their indexes and
        TOAST) and ``server_version``.

        >>> db.get_stats()["table_count"]
        2
        """
        with self._ex.lock:
            tables = self.list_tables()
            rows = {t: self.count(t) for t in tables}
            index_count = sum(len(self.list_indexes(t)) for t in tables)
            extra = self._dialect.database_stats(self._ex, tables)
        size = int(extra.pop("size"))
        return {
            "backend": self.backend,
            "size": size,
            "size_human": human_size(size),
            "table_count": len(tables),
            "index_count": index_count,
            "rows": rows,
            "total_rows": sum(rows.values()),
            "tables": tables,
            **extra,
        }

    @property
    def summary(self) -> str:
        """A readable overview: each table with its row count, columns and first rows.

        >>> print(db.summary)
        """
        n = self._dialect.max_identifier_length
        with self._ex.lock:
            stats = self.get_stats()
            lines = [
                f"{type(self).__name__} {self._dialect.describe()}: "
                f"{stats['table_count']} table{'s' * (stats['table_count'] != 1)}, "
                f"{stats['size_human']}"
            ]
            if not stats["tables"]:
                lines.append("(no tables)")
            for table in stats["tables"]:
                count = stats["rows"][table]
                columns = self.get_columns(table)
                lines += ["", f"{table} ({count} row{'s' * (count != 1)})"]
                described = []
                for c in columns:
                    text = f"{c['name']} {c['type'] or '(no type)'}"
                    if c["primary_key"]:
                        text += " PK"
                    elif not c["nullable"]:
                        text += " NOT NULL"
                    described.append(text)
                lines.append("  columns: " + ", ".join(described))
                if not count:
                    continue
                shown = [c["name"] for c in columns[:_SUMMARY_COLUMNS]]
                pk = self._ex.primary_key(table)
                order = f" ORDER BY {quote_all(pk, n)}" if pk else ""
                first = self._ex.query(
                    f"SELECT {quote_all(shown, n)} FROM {quote(table, n)}{order} "
                    f"LIMIT {_SUMMARY_ROWS}"
                )
                lines += _grid(shown, first)
                notes = []
                if count > len(first):
                    notes.append(f"{count - len(first)} more row{'s' * (count - len(first) != 1)}")
                if len(columns) > len(shown):
                    notes.append(f"{len(columns) - len(shown)} more columns")
                if notes:
                    lines.append("  … " + ", ".join(notes))
        return "\n".join(lines)

    def __call__(self) -> None:
        """Print :attr:`summary`: ``db()`` is ``print(db.summary)``."""
        print(self.summary)

    def delete_duplicates(
        self, table: str, columns: str | Sequence[str] | None = None, dry_run: bool = False
    ) -> int:
        """Delete all but the first row of each group of rows with equal ``columns`` and
        return how many rows were deleted (with ``dry_run=True``: would be; nothing changes).

        See :func:`mngs.db.delete_duplicates` for what "equal" and "first" mean.

        >>> db.delete_duplicates("measurements", ["subject", "timestamp"])
        12
        """
        from .duplicates import delete_duplicates

        return delete_duplicates(self, table, columns, dry_run)  # type: ignore[arg-type]
