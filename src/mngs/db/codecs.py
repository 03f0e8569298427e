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
numpy.ndarray          .npy bytes (BLOB)     bytes: decode with :func:`decode_array`
=====================  ====================  ============================================

A stored value that does not parse as its column type is returned as it was stored.
On PostgreSQL psycopg handles all of these natively except dict and list, which are sent as
JSON text of unknown type, so the server fits them to the column: json, jsonb or text, and
numpy arrays, which are sent as bytea in the same ``.npy`` format.

Inside JSON values numpy scalars and arrays become numbers and lists, and dates and times ISO
text; anything else JSON cannot hold (NaN, sets, objects) is refused with :class:`DataError`.
Arrays are written with ``numpy.save(allow_pickle=False)``: dtype, shape and memory order are
kept, and loading them can never run code; arrays of Python objects are refused.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import sqlite3
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import DataError, NotSupportedError

__all__ = [
    "decode_array",
    "dumps_json",
    "encode_array",
    "register_postgresql",
    "register_sqlite",
    "register_sqlite_numpy",
]

_sqlite_registered = False
_numpy_registered = False


def _json_default(value: Any) -> Any:
    """JSON for the values scientists put in configs: numpy scalars/arrays, dates, times."""
    if isinstance(value, (_dt.date, _dt.time)):  # datetime is a date
        return value.isoformat()
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"a {type(value).__name__} cannot be stored in JSON")


def dumps_json(value: Any) -> str:
    """Serialise a dict/list to compact JSON (non-ASCII kept as is); raise :class:`DataError`
    for what JSON cannot hold (NaN, infinities, sets, arbitrary objects)."""
    try:
        return json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default
        )
    except (TypeError, ValueError) as exc:
        raise DataError(f"cannot store {type(value).__name__} as JSON: {exc}") from exc


def _numpy() -> Any:
    try:
        import numpy
    except ImportError as exc:
        raise NotSupportedError(
            "numpy arrays need numpy: pip install 'mngs-db[numpy]'"
        ) from exc
    return numpy


def encode_array(array: Any) -> bytes:
    """Return a numpy array as ``.npy`` bytes (dtype, shape and order kept; no pickle).

    >>> encode_array(np.eye(3))[:6]
    b'\\x93NUMPY'
    """
    np = _numpy()
    array = np.asanyarray(array)
    if array.dtype.hasobject:
        raise DataError(
            f"cannot store a numpy array of dtype {array.dtype}: arrays holding Python objects "
            "would need pickle; convert it to a numeric, bool, string or bytes dtype"
        )
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def decode_array(blob: bytes | bytearray | memoryview | None) -> Any:
    """Return the numpy array stored as ``blob`` (None for None); never runs pickled code.

    >>> decode_array(db.get_blob("arrays", "data", where="name = ?", params=["eye"])).shape
    (3, 3)
    """
    if blob is None:
        return None
    np = _numpy()
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise DataError(f"a stored array must be bytes, not {type(blob).__name__}")
    try:
        return np.load(io.BytesIO(blob), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"these bytes are not a numpy array stored by mngs.db: {exc}") from exc


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
    """Register numpy scalar and array adapters; called once numpy has been imported."""
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
    sqlite3.register_adapter(np.ndarray, encode_array)
    _numpy_registered = True


def register_postgresql(conn: Any) -> None:
    """Teach one psycopg connection to send dict and list values as JSON, and numpy
    arrays as bytea (registered by name: numpy is not imported here)."""
    from psycopg.adapt import Dumper
    from psycopg.types.string import BytesBinaryDumper, BytesDumper

    class ArrayDumper(BytesDumper):
        """A numpy array as ``.npy`` bytea, text format (used by COPY)."""

        def dump(self, obj: Any) -> Any:
            return super().dump(encode_array(obj))

    class ArrayBinaryDumper(BytesBinaryDumper):
        """A numpy array as ``.npy`` bytea, binary format."""

        def dump(self, obj: Any) -> Any:
            return super().dump(encode_array(obj))

    class JsonUnknownDumper(Dumper):
        """Dump as JSON text with no type (oid 0), so the server casts it to the column's."""

        oid = 0

        def dump(self, obj: Any) -> bytes:
            return dumps_json(obj).encode("utf-8")

    conn.adapters.register_dumper(dict, JsonUnknownDumper)
    conn.adapters.register_dumper(list, JsonUnknownDumper)
    conn.adapters.register_dumper("numpy.ndarray", ArrayDumper)
    conn.adapters.register_dumper("numpy.ndarray", ArrayBinaryDumper)
