"""Backup and restore of whole databases and single tables."""

from __future__ import annotations

__all__ = ["BackupMixin"]


class BackupMixin:
    """Methods of :class:`~mngs.db.database.Database`; see the module docstring."""
