"""Full-text search on both backends (FTS5 on SQLite, tsvector + GIN on PostgreSQL)."""

from __future__ import annotations

__all__ = ["SearchMixin"]


class SearchMixin:
    """Methods of :class:`~mngs.db.database.Database`; see the module docstring."""
