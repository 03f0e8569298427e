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
Decimal                text (see below)      Decimal for NUMERIC, DECIMAL
dict / list            JSON text             dict/list for JSON, JSONB
bool                   0 / 1                 bool for BOOLEAN, BOOL
numpy scalars          int / float           int / float
numpy.ndarray          .npy bytes (BLOB)     bytes: decode with :func:`decode_array`
=====================  ====================  ============================================

A stored value that does not parse as its column type is returned as it was stored.

NUMERIC and DECIMAL columns read back as :class:`~decimal.Decimal` on both backends, whatever
SQLite made of the value: its NUMERIC affinity stores a number written as text as a 64-bit
integer when it is one, else as a double keeping 15 significant digits, and the value is read
back as the Decimal of exactly that stored number (``3``, ``3.5``, never a binary float's
``3.4999…``). So on SQLite a NUMERIC value is exact to 15 significant digits (integers to 2**63);
on PostgreSQL to the column's declared precision.
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


def _as_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _converter(parse: Any, fallback: Any = _number_or_text) -> Any:
    def convert(raw: bytes) -> Any:
        try:
            return parse(raw.decode("utf-8"))
        except (ValueError, TypeError, InvalidOperation, UnicodeDecodeError):
            return fallback(raw)

    return convert


def _parse_decimal(text: str) -> Decimal:
    """The stored number's own text as a Decimal (SQLite renders a double with 15 digits)."""
    if "_" in text or text != text.strip():  # Decimal() would accept "1_000" and " 1"
        raise ValueError(text)
    return Decimal(text)


def _parse_bool(text: str) -> Any:
    if text in ("1", "0"):
        return text == "1"
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise ValueError(text)


_SQLITE_ADAPTERS: dict[type, Any] = {
    _dt.datetime: lambda v: v.isoformat(" "),
    _dt.date: lambda v: v.isoformat(),
    _dt.time: lambda v: v.isoformat(),
    Decimal: str,
    dict: dumps_json,
    list: dumps_json,
}
_SQLITE_CONVERTERS: dict[str, Any] = {
    "DATETIME": _converter(_dt.datetime.fromisoformat),
    "TIMESTAMP": _converter(_dt.datetime.fromisoformat),
    "TIMESTAMPTZ": _converter(_dt.datetime.fromisoformat),
    "DATE": _converter(_dt.date.fromisoformat),
    "TIME": _converter(_dt.time.fromisoformat),
    "DECIMAL": _converter(_parse_decimal, _as_text),
    "NUMERIC": _converter(_parse_decimal, _as_text),
    "JSON": _converter(json.loads),
    "JSONB": _converter(json.loads),
    "BOOLEAN": _converter(_parse_bool),
    "BOOL": _converter(_parse_bool),
}
# What other libraries are known to overwrite (pandas registers datetime/date/timestamp codecs
# whenever it writes to a sqlite3 connection): checked before every statement, so kept cheap.
_DATETIME_KEY = (_dt.datetime, sqlite3.PrepareProtocol)


_TIMESTAMP_CONVERTER = _SQLITE_CONVERTERS["TIMESTAMP"]
_DATETIME_ADAPTER = _SQLITE_ADAPTERS[_dt.datetime]


def sqlite_codecs_intact() -> bool:
    """True while the codecs below are the registered ones."""
    # pandas replaces these in pairs (both datetime/date adapters, both timestamp/date
    # converters): one of each pair tells.
    return (
        sqlite3.converters.get("TIMESTAMP") is _TIMESTAMP_CONVERTER
        and sqlite3.adapters.get(_DATETIME_KEY) is _DATETIME_ADAPTER
    )


def register_sqlite() -> None:
    """Register the adapters and converters described above; again if another library
    replaced them since (cheap when nothing changed)."""
    if sqlite_codecs_intact():
        return
    for kind, adapt in _SQLITE_ADAPTERS.items():
        sqlite3.register_adapter(kind, adapt)
    for name, convert in _SQLITE_CONVERTERS.items():
        sqlite3.register_converter(name, convert)


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
