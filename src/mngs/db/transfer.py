"""CSV and DataFrame import/export."""

from __future__ import annotations

__all__ = ["TransferMixin"]


class TransferMixin:
    """Methods of :class:`~mngs.db.database.Database`; see the module docstring."""
