"""Column types for a new table, inferred from the Python values of the records to be stored.

Each column gets the narrowest kind every non-None value of it fits, by the value's Python
type (strings are never parsed: ``"007"`` stays TEXT):

==========================  ===========  =====================================================
values                      kind         portable type (rewritten by ``create_table`` on PG)
==========================  ===========  =====================================================
bool                        boolean      BOOLEAN
int (64-bit)                integer      BIGINT
int beyond 64 bits          bigint       TEXT (never a float: store ``str(value)``)
float (ints mixed in too)   float        REAL (DOUBLE PRECISION)
Decimal                     decimal      DECIMAL
str                         text         TEXT
bytes, numpy arrays         bytes        BLOB (BYTEA)
dict, list                  json         JSON
datetime (naive)            timestamp    TIMESTAMP
datetime (with a tz)        timestamptz  TIMESTAMPTZ
date / time                 date / time  DATE / TIME
==========================  ===========  =====================================================

A column whose values mix kinds gets the kind that holds them all where there is one (int and
float: float; date and datetime: timestamp; naive and aware datetimes: timestamptz), else TEXT.
A column that is None in every record is TEXT. :func:`infer_csv_columns` does the same for a
CSV file, from its text.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from .csvformat import CsvFile, infer_kinds
from .errors import ArgumentError

__all__ = ["INT64", "PORTABLE_TYPES", "infer_columns", "infer_csv_columns", "value_kind"]

INT64 = (-(1 << 63), (1 << 63) - 1)
_LEADING_ZERO = re.compile(r"^\s*[+-]?0\d")

#: Column type per kind, valid on both backends (``create_table`` rewrites REAL and BLOB).
PORTABLE_TYPES: dict[str, str] = {
    "boolean": "BOOLEAN", "integer": "BIGINT", "bigint": "TEXT", "float": "REAL",
    "decimal": "DECIMAL", "text": "TEXT", "bytes": "BLOB", "json": "JSON", "date": "DATE",
    "time": "TIME", "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMPTZ",
}  # fmt: skip

_NUMPY_KINDS = {"b": "boolean", "i": "integer", "u": "integer", "f": "float"}

#: The kind holding both of two kinds, where one exists (both orders listed).
_WIDER: dict[frozenset[str], str] = {
    frozenset(("integer", "float")): "float",
    frozenset(("integer", "bigint")): "bigint",
    frozenset(("integer", "decimal")): "decimal",
    frozenset(("bigint", "decimal")): "decimal",
    frozenset(("float", "decimal")): "decimal",
    frozenset(("bigint", "float")): "decimal",
    frozenset(("date", "timestamp")): "timestamp",
    frozenset(("date", "timestamptz")): "timestamptz",
    frozenset(("timestamp", "timestamptz")): "timestamptz",
}


def value_kind(value: Any) -> str | None:
    """The kind of one value (see the module docstring); None for None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer" if INT64[0] <= value <= INT64[1] else "bigint"
    if isinstance(value, float):
        return "float"
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    if isinstance(value, (dict, list)):
        return "json"
    if isinstance(value, _dt.datetime):
        return "timestamp" if value.tzinfo is None else "timestamptz"
    if isinstance(value, _dt.date):
        return "date"
    if isinstance(value, _dt.time):
        return "time"
    if type(value).__module__ == "numpy":
        if type(value).__name__ == "ndarray":
            return "bytes"
        kind = getattr(getattr(value, "dtype", None), "kind", None)
        if kind in _NUMPY_KINDS:
            return _NUMPY_KINDS[kind]
    raise ArgumentError(f"cannot infer a column type from a value of type {type(value).__name__}")


def _merge(a: str | None, b: str) -> str:
    if a is None or a == b:
        return b
    return _WIDER.get(frozenset((a, b)), "text")


def infer_columns(
    records: Iterable[Mapping[str, Any]], types: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Column name → SQL type for a table holding ``records``, columns in first-seen order
    (a key that appears only in a later record is included).

    ``types`` maps kinds to the column types to use (default :data:`PORTABLE_TYPES`; a
    dialect's own mapping may leave kinds out, those fall back to the portable type).

    >>> infer_columns([{"id": 1, "name": "a"}, {"id": 2, "score": 0.5, "zip": "007"}])
    {'id': 'BIGINT', 'name': 'TEXT', 'score': 'REAL', 'zip': 'TEXT'}
    """
    kinds: dict[str, str | None] = {}
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise ArgumentError(f"record {index} is a {type(record).__name__}, not a dict")
        for name, value in record.items():
            if not isinstance(name, str):
                raise ArgumentError(f"record {index} has a non-text column name {name!r}")
            try:
                kind = value_kind(value)
            except ArgumentError as exc:
                raise ArgumentError(f"record {index}, column {name!r}: {exc}") from None
            known = kinds.get(name)
            kinds[name] = known if kind is None else _merge(known, kind)
    if not kinds:
        raise ArgumentError("cannot infer columns from no records (or records without keys)")
    chosen = types or PORTABLE_TYPES
    return {
        name: chosen.get(kind or "text") or PORTABLE_TYPES[kind or "text"] for name, kind in kinds.items()
    }


def infer_csv_columns(
    path: str | os.PathLike[str],
    types: Mapping[str, str] | None = None,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    batch_size: int = 10_000,
) -> dict[str, str]:
    """Column name → portable SQL type for a CSV file: the type inference of
    ``import_from_csv`` (see :mod:`mngs.db.csvformat`), except that a number written with a
    leading zero (``007``, an identifier or a postcode) keeps its column TEXT. ``types`` as for
    :func:`infer_columns`."""
    source = CsvFile(path, delimiter, encoding)
    zeros = [False] * len(source.header)

    def batches() -> Iterator[tuple[int, list[Sequence[Any]]]]:
        for first, columns in source.batches(batch_size):
            for i, column in enumerate(columns):
                if not zeros[i]:
                    zeros[i] = any(v is not None and _LEADING_ZERO.match(v) for v in column)
            yield first, columns

    kinds = infer_kinds(batches(), len(source.header))
    chosen = types or PORTABLE_TYPES
    return {
        name: "TEXT"
        if zeros[i] and kind in ("integer", "float")
        else chosen.get(kind) or PORTABLE_TYPES[kind]
        for i, (name, kind) in enumerate(zip(source.header, kinds))
    }
