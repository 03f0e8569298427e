"""Typed records that describe a schema, shaped the same on every backend."""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = ["ColumnInfo", "ForeignKeyInfo", "IndexInfo"]


class ColumnInfo(TypedDict):
    """One column of a table, as returned by ``db.get_columns(table)``."""

    name: str
    """The column name."""
    type: str
    """The declared type as the backend reports it, e.g. ``"INTEGER"`` or ``"character varying(50)"``."""
    nullable: bool
    """False when the column is ``NOT NULL`` (primary key columns included)."""
    default: Any
    """The default as SQL text (``"CURRENT_TIMESTAMP"``, ``"nextval(...)"``), or None."""
    primary_key: bool
    """True when the column is part of the primary key."""


class IndexInfo(TypedDict):
    """One index of a table, as returned by ``db.list_indexes(table)``."""

    name: str
    columns: list[str]
    """Indexed columns in index order (expressions appear as their SQL text)."""
    unique: bool
    primary: bool
    """True for the index that backs the primary key."""


class ForeignKeyInfo(TypedDict):
    """One foreign key of a table."""

    name: str | None
    """The constraint name (SQLite does not keep one: None)."""
    columns: list[str]
    """The referencing columns of this table."""
    referred_table: str
    referred_columns: list[str]
    on_update: str
    on_delete: str
