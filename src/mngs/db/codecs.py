"""Value codecs: how Python values beyond the drivers' native ones are stored and read back.

SQLite keeps dates, times, Decimals and JSON as text. The sqlite3 module only offers
process-wide adapters (keyed by Python type) and converters (keyed by declared column type),
so these are registered once, on the first SQLite connection; they replace the standard
library's deprecated datetime defaults and add none for types sqlite3 already handles:

=====================  ====================  ============================================
Python value           stored as             read back as (by declared column type)
=====================  ====================  ============================================
datetime               ISO text              datetime for DATETIME, TIMESTAMP, TIMESTAMPTZ
date / time            ISO text              date for DATE, time for TIME
Decimal                text                  Decimal for DECIMAL
dict / list            JSON text             dict/list for JSON, JSONB
bool                   0 / 1                 bool for BOOLEAN, BOOL
numpy scalars          int / float           int / float
=====================  ====================  ============================================

A stored value that does not parse as its column type is returned as it was stored.
On PostgreSQL psycopg handles all of these natively except dict and list, which are sent as
JSON text of unknown type, so the server fits them to the column: json, jsonb or text.
"""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["dumps_json", "register_postgresql", "register_sqlite", "register_sqlite_numpy"]

_sqlite_registered = False
_numpy_registered = False


def dumps_json(value: Any) -> str:
    """Serialise a dict/list to compact JSON (non-ASCII kept as is; NaN refused)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _number_or_text(raw: bytes) -> Any:
    text = raw.decode("utf-8", "replace")
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _converter(parse: Any) -> Any:
    def convert(raw: bytes) -> Any:
        try:
            return parse(raw.decode("utf-8"))
        except (ValueError, TypeError, InvalidOperation, UnicodeDecodeError):
            return _number_or_text(raw)

    return convert


def _parse_bool(text: str) -> Any:
    if text in ("1", "0"):
        return text == "1"
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise ValueError(text)


def register_sqlite() -> None:
    """Register the adapters and converters described above (idempotent)."""
    global _sqlite_registered
    if _sqlite_registered:
        return
    sqlite3.register_adapter(_dt.datetime, lambda v: v.isoformat(" "))
    sqlite3.register_adapter(_dt.date, lambda v: v.isoformat())
    sqlite3.register_adapter(_dt.time, lambda v: v.isoformat())
    sqlite3.register_adapter(Decimal, str)
    sqlite3.register_adapter(dict, dumps_json)
    sqlite3.register_adapter(list, dumps_json)
    for name in ("DATETIME", "TIMESTAMP", "TIMESTAMPTZ"):
        sqlite3.register_converter(name, _converter(_dt.datetime.fromisoformat))
    sqlite3.register_converter("DATE", _converter(_dt.date.fromisoformat))
    sqlite3.register_converter("TIME", _converter(_dt.time.fromisoformat))
    sqlite3.register_converter("DECIMAL", _converter(Decimal))
    for name in ("JSON", "JSONB"):
        sqlite3.register_converter(name, _converter(json.loads))
    for name in ("BOOLEAN", "BOOL"):
        sqlite3.register_converter(name, _converter(_parse_bool))
    _sqlite_registered = True


def register_sqlite_numpy() -> None:
    """Register numpy scalar adapters; called once numpy has been imported by the user."""
    global _numpy_registered
    if _numpy_registered:
        return
    import numpy as np

    for kind in set(np.sctypeDict.values()):
        if issubclass(kind, np.bool_):
            sqlite3.register_adapter(kind, int)
        elif issubclass(kind, np.integer):
            sqlite3.register_adapter(kind, int)
        elif issubclass(kind, np.floating):
            sqlite3.register_adapter(kind, float)
    _numpy_registered = True


def register_postgresql(conn: Any) -> None:
    """Teach one psycopg connection to send dict and list values as JSON."""
    from psycopg.adapt import Dumper

    class JsonUnknownDumper(Dumper):
        """Dump as JSON text with no type (oid 0), so the server casts it to the column's."""

        oid = 0

        def dump(self, obj: Any) -> bytes:
            return dumps_json(obj).encode("utf-8")

    conn.adapters.register_dumper(dict, JsonUnknownDumper)
    conn.adapters.register_dumper(list, JsonUnknownDumper)
