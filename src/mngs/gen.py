"""General helpers shared across mngs: timestamps for file names and run ids."""

from __future__ import annotations

from datetime import datetime

__all__ = ["TIMESTAMP_FORMAT", "gen_timestamp"]

TIMESTAMP_FORMAT = "%Y-%m-%d-%H-%M-%S"
"""The ``strftime`` format of :func:`gen_timestamp`, e.g. ``2025-05-30-14-03-22``."""


def gen_timestamp() -> str:
    """Return the current local time as ``YYYY-MM-DD-HH-MM-SS``, e.g. ``2025-05-30-14-03-22``.

    Every field is zero-padded and ordered from year down to second, so the strings sort
    chronologically as plain text (within one time zone; a daylight-saving change can step
    local time back by an hour). Only digits and hyphens appear, so the result is safe in file
    names on every operating system. The resolution is one second: two calls within the same
    second return the same string, so add a counter or a UUID when you need unique names.

    >>> db.backup_database(f"backup_{gen_timestamp()}.sql")  # doctest: +SKIP
    """
    return datetime.now().strftime(TIMESTAMP_FORMAT)
