"""Duplicate rows: find and delete all but the first row of each group with one set-based statement."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .errors import ArgumentError, NotSupportedError, OperationalError
from .sql import quote, quote_all

if TYPE_CHECKING:
    from .database import Database

__all__ = ["delete_duplicates"]

_RANK = "_mngs_rn"


def delete_duplicates(
    db_or_path: Database | str | os.PathLike[str],
    table: str,
    columns: str | Sequence[str] | None = None,
    dry_run: bool = False,
) -> int:
    """Delete all but the first row of each group of rows with equal values in ``columns``
    and return how many rows were deleted (with ``dry_run=True``: would be; nothing changes).

    ``db_or_path`` is an open handle, a database URL (``postgresql://…``, ``sqlite:///…``) or
    the path of an existing SQLite file; a URL or path is opened and closed again.

    - ``columns``: the columns compared (one name or several). None means every column
      except a primary key the database generates (``INTEGER PRIMARY KEY``, ``SERIAL``,
      identity): such ids never repeat, so rows equal apart from their id count as duplicates.
    - Equal means ``IS NOT DISTINCT FROM``: two NULLs are equal. PostgreSQL ``json`` values
      compare as ``jsonb`` (key order and spacing ignored).
    - The first row of a group is the one with the lowest primary key; without a primary key
      it is the one with the lowest ``rowid`` on SQLite (insertion order) and the lowest
      ``ctid`` on PostgreSQL (physical position, usually insertion order).

    One ``DELETE`` ranks the rows with ``ROW_NUMBER() OVER (PARTITION BY columns ORDER BY key)``
    and removes those ranked after the first, in one transaction, so millions of rows take
    seconds and a failure deletes nothing.

    >>> mngs.db.delete_duplicates("data.db", "measurements", ["subject", "timestamp"])
    12
    """
    from .database import Database
    from .handles import SQLite3, connect

    if isinstance(db_or_path, Database):
        return _delete_duplicates(db_or_path, table, columns, dry_run)
    if not isinstance(db_or_path, (str, os.PathLike)):
        raise ArgumentError(
            f"delete_duplicates needs a mngs.db handle, a URL or a SQLite file path, "
            f"not {type(db_or_path).__name__}"
        )
    target = os.fspath(db_or_path)
    if isinstance(target, str) and "://" in target:
        db = connect(target)
    elif os.path.isfile(target):
        db = SQLite3(target)
    else:
        raise OperationalError(f"no such SQLite database file: {target!r}")
    with db:
        return _delete_duplicates(db, table, columns, dry_run)


def _delete_duplicates(
    db: Database, table: str, columns: str | Sequence[str] | None, dry_run: bool
) -> int:
    dialect = db._dialect
    n = dialect.max_identifier_length
    quote(table, n)
    with db._ex.lock:
        info = db.get_columns(table)  # raises for a missing table
        names = [c["name"] for c in info]
        compared = _compared_columns(db, table, names, columns)
        types = {c["name"]: c["type"] or "" for c in info}
        partition = ", ".join(dialect.comparable(quote(c, n), types[c]) for c in compared)
        key = list(db._ex.primary_key(table))
        if key:
            ids = quote_all(key, n)
        else:
            used = {name.lower() for name in names}
            identity = next((i for i in dialect.row_identities if i not in used), None)
            if identity is None:
                raise NotSupportedError(
                    f"delete_duplicates: table {table!r} has no primary key and its columns hide "
                    f"every row identity ({', '.join(dialect.row_identities)})"
                )
            ids = identity
            key = [ids]
        aliases = [f"_mngs_k{i}" for i in range(len(key))]
        selected = ", ".join(
            f"{quote(k, n) if k in names else k} AS {a}" for k, a in zip(key, aliases)
        )
        ranked = (
            f"SELECT {selected}, "
            f"ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {ids}) AS {_RANK} "
            f"FROM {quote(table, n)}"
        )
        if dry_run:
            cursor = db._ex.run(
                f"SELECT COUNT(*) FROM ({ranked}) AS d WHERE d.{_RANK} > 1", None, table=table
            )
            return int(cursor.fetchone()[0])
        target = ids if len(key) == 1 else f"({ids})"
        sql = (
            f"DELETE FROM {quote(table, n)} WHERE {target} IN "
            f"(SELECT {', '.join(aliases)} FROM ({ranked}) AS d WHERE d.{_RANK} > 1)"
        )
        with db._ex.transaction():
            return int(db._ex.run(sql, None, table=table).rowcount)


def _compared_columns(
    db: Database, table: str, names: list[str], columns: str | Sequence[str] | None
) -> list[str]:
    """The columns that decide equality, validated against the table's columns."""
    if columns is None:
        generated = db._dialect.generated_key(db._ex, table)
        compared = [c for c in names if c != generated]
        return compared or names
    if isinstance(columns, str):
        columns = [columns]
    if not isinstance(columns, Sequence) or not columns:
        raise ArgumentError(
            f"delete_duplicates on {table!r}: columns must be a column name or a non-empty "
            f"list of them, not {columns!r}"
        )
    for column in columns:
        if not isinstance(column, str):
            raise ArgumentError(
                f"delete_duplicates on {table!r}: column names must be str, not {column!r}"
            )
        if column not in names:
            raise ArgumentError(
                f"delete_duplicates: table {table!r} has no column {column!r} "
                f"(its columns: {', '.join(names)})"
            )
    return list(dict.fromkeys(columns))
