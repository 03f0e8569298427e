"""Maintenance and overview: vacuum, analyze, statistics, summary, duplicates."""

from __future__ import annotations

__all__ = ["MaintenanceMixin"]


class MaintenanceMixin:
    """Methods of :class:`~mngs.db.database.Database`; see the module docstring."""
