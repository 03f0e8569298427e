"""Binary values: BLOBs and numpy arrays stored without pickle."""

from __future__ import annotations

__all__ = ["BlobMixin"]


class BlobMixin:
    """Methods of :class:`~mngs.db.database.Database`; see the module docstring."""
