"""CSV and DataFrame import/export: streamed, one transaction per call, COPY on PostgreSQL.

The CSV format is the one PostgreSQL's ``COPY … (FORMAT csv, HEADER true)`` reads and writes,
used on every backend, so a file exported from one imports into the other:

- the first row names the columns;
- an empty unquoted field is NULL, a quoted empty field ``""`` is the empty string;
- fields holding the delimiter, a double quote or a line break are quoted (quotes doubled);
  lines end with ``\\n``;
- bytes are ``\\x`` followed by hexadecimal (PostgreSQL's ``bytea`` hex format);
- booleans are ``t`` / ``f`` (on import also ``true``/``false``, ``1``/``0``, ``yes``/``no``,
  ``on``/``off``); numbers are written so they read back exactly (``NaN``, ``Infinity``);
- JSON values are JSON text; dates and times are ISO 8601 (``2025-05-30 12:00:00+00:00``).

Error messages name the file, the line and the column; lines count CSV records, the header being
line 1 (the same as physical lines unless quoted values span lines).
"""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, nullcontext
from decimal import Decimal
from itertools import islice
from typing import TYPE_CHECKING, Any

from .codecs import dumps_json
from .errors import ArgumentError, DataError, Error, NotSupportedError, ProgrammingError
from .sql import Params, Where, quote

if TYPE_CHECKING:
    from .dialects.base import Dialect

__all__ = ["TransferMixin"]

_IF_EXISTS = ("fail", "append", "replace")
_READ_SIZE = 1 << 20  # bytes per read when streaming a file into COPY
_PARSE_ERRORS = (ValueError, TypeError, KeyError, OverflowError, ArithmeticError)
_PLAIN = frozenset((int, float, str, type(None)))
_BOOL_KINDS = frozenset((bool, type(None)))
_BOOL_TEXT = {True: "t", False: "f"}
_INT64 = (-(1 << 63), (1 << 63) - 1)
_SIMPLE_NAME = re.compile(r"^[^\s;()'\"]+$|^\"(?:[^\"]|\"\")+\"$")
_SHORT_OFFSET = re.compile(r"([+-]\d\d)$")
_BYTEA_ESCAPE = re.compile(rb"\\(\\|[0-3][0-7]{2})")
_BOOLS = {
    "t": True, "true": True, "y": True, "yes": True, "on": True, "1": True,
    "f": False, "false": False, "n": False, "no": False, "off": False, "0": False,
}  # fmt: skip
_PANDAS_HINT = "pip install 'mngs-db[pandas]'"


# -- values: CSV text <-> Python --------------------------------------------------------
def _parse_bool(text: str) -> bool:
    return _BOOLS[text.strip().lower()]


class _BoolLookup(dict):  # type: ignore[type-arg]
    """Exact spellings found directly (C speed); any other case or spacing parsed once."""

    def __missing__(self, text: str) -> bool:
        return _parse_bool(text)


_BOOL_LOOKUP = _BoolLookup({k: v for key, v in _BOOLS.items() for k in (key, key.upper(), key.title())})


def _parse_int(text: str) -> int:
    value = int(text)
    if not _INT64[0] <= value <= _INT64[1]:
        raise OverflowError("out of the 64-bit integer range")
    return value


def _parse_bytes(text: str) -> bytes:
    if text.startswith("\\x"):
        return bytes.fromhex(text[2:])
    raw = text.encode("utf-8")
    if b"\\" in raw:  # PostgreSQL's escape format: \\ and \ooo octal escapes
        if b"\\" in _BYTEA_ESCAPE.sub(b"", raw):
            raise ValueError("invalid bytea escape")
        return _BYTEA_ESCAPE.sub(lambda m: b"\\" if m[1] == b"\\" else bytes([int(m[1], 8)]), raw)
    return raw


def _iso(text: str) -> str:
    text = text.strip()
    if text.endswith(("Z", "z")):
        return text[:-1] + "+00:00"
    return _SHORT_OFFSET.sub(r"\1:00", text) if len(text) > 10 else text


def _parse_timestamp(text: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(_iso(text))


def _parse_date(text: str) -> _dt.date:
    return _dt.date.fromisoformat(text.strip())


def _parse_time(text: str) -> _dt.time:
    return _dt.time.fromisoformat(_iso(text))


def _parse_json(text: str) -> str:
    json.loads(text)
    return text


def _parse_decimal(text: str) -> Decimal:
    return Decimal(text.strip())


def _parser_for(declared: str) -> Callable[[str], Any] | None:
    """How CSV text becomes a value for a column of this declared type (None: kept as text).

    Used where the database does not parse CSV itself (SQLite); it follows SQLite's type
    affinity rules plus the codecs of :mod:`mngs.db.codecs`, and rejects what PostgreSQL would.
    """
    t = declared.upper().strip()
    if "BOOL" in t:
        return _BOOL_LOOKUP.__getitem__
    if "INT" in t and not t.startswith(("INTERVAL", "POINT")):
        return int  # the 64-bit range is checked per batch
    if "BLOB" in t or "BYTEA" in t:
        return _parse_bytes
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return float
    if t.startswith(("TIMESTAMP", "DATETIME")):
        return _parse_timestamp
    if t.startswith("DATE"):
        return _parse_date
    if t.startswith("TIME"):
        return _parse_time
    if t.startswith(("DECIMAL", "NUMERIC")):
        return _parse_decimal
    if t.startswith("JSON"):
        return _parse_json
    return None


def _csv_text(value: Any) -> Any:
    """A value as CSV text in the format of the module docstring (None stays None)."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is bool:
        return "t" if value else "f"
    if kind in (bytes, bytearray, memoryview):
        return "\\x" + bytes(value).hex()
    if kind in (dict, list):
        return dumps_json(value)
    if isinstance(value, _dt.datetime):
        return value.isoformat(" ")
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    return str(value)


def _quote_field(value: Any, delimiter: str, alone: bool) -> str:
    if value is None:
        return ""
    text = value if type(value) is str else str(value)
    if text == "":
        return '""'
    if delimiter in text or '"' in text or "\n" in text or "\r" in text or (alone and text == "\\."):
        return '"' + text.replace('"', '""') + '"'
    return text


def _quoted_empty_fields(record: str, delimiter: str) -> set[int]:
    """Indexes of the fields of one raw CSV record that are exactly ``""``."""
    found: set[int] = set()
    pos, field = 0, 0
    while True:
        if record.startswith('"', pos):
            start = pos
            pos += 1
            while True:
                close = record.find('"', pos)
                if close < 0:
                    return found
                if record.startswith('"', close + 1):
                    pos = close + 2
                    continue
                break
            if close == start + 1:
                found.add(field)
            pos = close + 1
        nxt = record.find(delimiter, pos)
        if nxt < 0:
            return found
        pos, field = nxt + 1, field + 1


def _parse_column(
    source: _CsvFile,
    column: Sequence[Any],
    parse: Callable[[str], Any],
    declared: str,
    first: int,
    index: int,
) -> list[Any]:
    """Parse one column of a batch; a value that does not parse is a DataError naming its line."""
    try:
        if None not in column:
            values = list(map(parse, column))
        else:
            present = iter(list(map(parse, [v for v in column if v is not None])))
            values = [None if v is None else next(present) for v in column]
        if parse is int and values:
            low = min(v for v in values if v is not None) if None in values else min(values)
            high = max(v for v in values if v is not None) if None in values else max(values)
            if low < _INT64[0] or high > _INT64[1]:
                raise OverflowError
        return values
    except _PARSE_ERRORS:
        pass
    strict = _parse_int if parse is int else parse
    for k, value in enumerate(column):
        if value is not None:
            try:
                strict(value)
            except _PARSE_ERRORS as exc:
                raise source.error(first + k, f"not a valid {declared} value", source.header[index]) from exc
    raise AssertionError("unreachable: a value failed to parse only in bulk")  # pragma: no cover


# -- inferring column types of a new table from CSV text -----------------------------------
_INT_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")
_FLOAT_TEXT = re.compile(
    r"^\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)\s*$", re.IGNORECASE
)
_DATE_TEXT = re.compile(r"^\d{4}-\d\d-\d\d$")
_STAMP_TEXT = r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d(?:\.\d{1,6})?)?"
_TIMESTAMP_TEXT = re.compile(_STAMP_TEXT + "$")
_TIMESTAMPTZ_TEXT = re.compile(_STAMP_TEXT + r"(?:[Zz]|[+-]\d\d(?::?\d\d)?)$")
_HEX_TEXT = re.compile(r"^\\x(?:[0-9a-fA-F]{2})*$")


def _fits(parse: Callable[[str], Any], pattern: re.Pattern[str] | None = None) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        if pattern is not None and not pattern.match(text):
            return False
        try:
            parse(text)
        except _PARSE_ERRORS:
            return False
        return True

    return check


#: Candidate kinds in order of preference, each with its test on a CSV text value.
_KIND_TESTS: dict[str, Callable[[str], bool]] = {
    "boolean": lambda text: text.strip().lower() in ("t", "f", "true", "false"),
    "integer": _fits(_parse_int, _INT_TEXT),
    "float": lambda text: _FLOAT_TEXT.match(text) is not None,
    "date": _fits(_parse_date, _DATE_TEXT),
    "timestamp": _fits(_parse_timestamp, _TIMESTAMP_TEXT),
    "timestamptz": _fits(_parse_timestamp, _TIMESTAMPTZ_TEXT),
    "bytes": lambda text: _HEX_TEXT.match(text) is not None,
    "json": lambda text: text[:1] in ("{", "[") and _fits(json.loads)(text),
}


def _infer_kinds(batches: Iterable[tuple[int, list[Sequence[Any]]]], width: int) -> list[str]:
    """The narrowest kind fitting every non-NULL value of each column ("text" when none)."""
    alive = [list(_KIND_TESTS) for _ in range(width)]
    seen = [False] * width
    for _, columns in batches:
        for i, column in enumerate(columns):
            if not alive[i]:
                continue
            values = [v for v in column if v is not None]
            if values:
                seen[i] = True
                alive[i] = [kind for kind in alive[i] if all(map(_KIND_TESTS[kind], values))]
    return [kinds[0] if kinds and seen[i] else "text" for i, kinds in enumerate(alive)]


# -- reading CSV files -------------------------------------------------------------------
class _CsvFile:
    """A CSV file being imported: its header, then its records in bounded memory."""

    def __init__(self, path: str | os.PathLike[str], delimiter: str, encoding: str) -> None:
        self.path = os.fspath(path)
        self.delimiter = delimiter
        self.encoding = encoding
        self.utf8 = codecs.lookup(encoding).name == "utf-8"
        self.consumed = 0  # bytes read by batches(), for progress bars
        try:
            with open(self.path, "rb") as f:
                self.header = self._read_header(f)
                self.data_start = f.tell()
                self.size = os.fstat(f.fileno()).st_size
        except OSError as exc:
            raise ArgumentError(f"cannot read CSV file {self.path!r}: {exc.strerror or exc}") from exc

    def error(self, line: int, message: str, column: str | None = None) -> DataError:
        where = f", column {column!r}" if column is not None else ""
        return DataError(f"{self.path}, line {line}{where}: {message}")

    def _read_header(self, f: Any) -> list[str]:
        data = f.readline()
        while data.count(b'"') % 2:  # a quoted header name spanning lines
            more = f.readline()
            if not more:
                break
            data += more
        if not data.strip():
            raise self.error(1, "no header row: the first line must name the columns")
        try:
            text = data.decode(self.encoding)
        except UnicodeDecodeError as exc:
            raise self.error(1, f"not valid {self.encoding} text ({exc.reason})") from exc
        try:
            header = next(csv.reader(io.StringIO(text.lstrip("\ufeff")), **self._dialect()))
        except csv.Error as exc:
            raise self.error(1, f"malformed CSV header ({exc})") from exc
        for index, name in enumerate(header):
            if not name.strip():
                raise self.error(1, f"the header's field {index + 1} is empty: every column needs a name")
        duplicates = sorted({name for name in header if header.count(name) > 1})
        if duplicates:
            raise self.error(1, f"the header names column(s) {duplicates} more than once")
        return header

    def _dialect(self) -> dict[str, Any]:
        return {"delimiter": self.delimiter, "quotechar": '"', "doublequote": True, "strict": True}

    def batches(self, size: int) -> Iterator[tuple[int, list[Sequence[str | None]]]]:
        """Yield ``(line of the first record, columns)`` for batches of up
        to ``size`` records; each column is a sequence of fields, NULL (empty unquoted) as None.
        """
        width = len(self.header)
        exact = self._has_quoted_empty()
        raw: list[str] = []
        self.consumed = 0
        with open(self.path, "rb") as f:
            f.seek(self.data_start)
            text = io.TextIOWrapper(f, encoding=self.encoding, newline="")
            if exact:  # keep each record's text to tell "" from NULL (slower)

                def lines() -> Iterator[str]:
                    for line in text:
                        raw.append(line)
                        yield line

                reader = csv.reader(lines(), **self._dialect())
                records: Iterator[Sequence[Any]] = self._exact(reader, raw)
            else:
                reader = csv.reader(text, **self._dialect())
                records = reader
            line = 2
            while True:
                try:
                    rows = list(islice(records, size))
                except csv.Error as exc:
                    raise self.error(reader.line_num + 1, f"malformed CSV ({exc})") from exc
                except UnicodeDecodeError as exc:
                    bad = self._undecodable_line()
                    raise self.error(bad, f"not valid {self.encoding} text ({exc.reason})") from exc
                if not rows:
                    return
                if len(set(map(len, rows))) != 1 or len(rows[0]) != width:
                    rows = self._fix_widths(rows, line)
                columns: list[Sequence[Any]] = list(zip(*rows))
                if not exact:
                    for i, column in enumerate(columns):
                        if "" in column:
                            columns[i] = [None if v == "" else v for v in column]
                self.consumed = f.tell() - self.data_start
                yield line, columns
                line += len(rows)

    def _fix_widths(self, rows: list[Sequence[Any]], first: int) -> list[Sequence[Any]]:
        """Raise for the first record with the wrong number of fields; an empty line is a NULL
        in a one-column file, as in COPY."""
        width = len(self.header)
        for k, row in enumerate(rows):
            if len(row) != width:
                if row or width != 1:
                    message = f"{len(row)} field(s), but the header names {width} column(s)"
                    raise self.error(first + k, message)
                rows[k] = [None]
        return rows

    def _exact(self, reader: Iterator[list[str]], raw: list[str]) -> Iterator[Sequence[Any]]:
        for row in reader:
            if "" in row:
                quoted = _quoted_empty_fields("".join(raw), self.delimiter)
                row = [None if v == "" and i not in quoted else v for i, v in enumerate(row)]
            raw.clear()
            yield row

    def _has_quoted_empty(self) -> bool:
        """Whether ``""`` occurs after the header at all (else every empty field is NULL)."""
        tail = b""
        with open(self.path, "rb") as f:
            f.seek(self.data_start)
            while block := f.read(_READ_SIZE):
                if b'""' in tail + block[:1] or b'""' in block:
                    return True
                tail = block[-1:]
        return False

    def _undecodable_line(self) -> int:
        """The (physical) number of the first line that does not decode."""
        with open(self.path, "rb") as f:
            f.seek(self.data_start)
            for number, data in enumerate(f, start=2):
                try:
                    data.decode(self.encoding)
                except UnicodeDecodeError:
                    return number
        return 2

    def utf8_chunks(self, progress: Any) -> Iterator[bytes]:
        """The data after the header as UTF-8 bytes, in blocks (transcoded when needed)."""
        decoder = None if self.utf8 else codecs.getincrementaldecoder(self.encoding)()
        line = 2
        with open(self.path, "rb") as f:
            f.seek(self.data_start)
            while block := f.read(_READ_SIZE):
                progress.update(len(block))
                if decoder is not None:
                    try:
                        text = decoder.decode(block)
                    except UnicodeDecodeError as exc:
                        line += block[: exc.start].count(b"\n")
                        raise self.error(line, f"not valid {self.encoding} text ({exc.reason})") from exc
                    line += block.count(b"\n")
                    block = text.encode("utf-8")
                yield block


def _check_format(delimiter: str, encoding: str) -> None:
    one = isinstance(delimiter, str) and len(delimiter) == 1
    if not one or delimiter in '"\r\n' or not delimiter.isascii():
        raise ArgumentError(
            f"delimiter must be one ASCII character other than a quote or newline, not {delimiter!r}"
        )
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError) as exc:
        raise ArgumentError(f"unknown encoding {encoding!r}") from exc
    if "a,\n".encode(info.name) != b"a,\n":
        raise ArgumentError(f"CSV files must use an ASCII-compatible encoding, not {encoding!r}")


def _progress(progress: bool | None, total: int | None, what: str) -> Any:
    """A tqdm bar in bytes: shown when asked, or (None) when stderr is a terminal."""
    from tqdm import tqdm

    if progress is None:
        stream = sys.stderr
        show = bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
        delay = 0.5  # automatic bars stay hidden for quick transfers
    else:
        show, delay = bool(progress), 0.0
    return tqdm(
        total=total, desc=what, unit="B", unit_scale=True, unit_divisor=1024,
        disable=not show, delay=delay, leave=False,
    )  # fmt: skip


@contextmanager
def _replacing(path: str | os.PathLike[str]) -> Iterator[Any]:
    """Open ``path`` for binary writing through a temporary file moved into place on success,
    so a failed export never leaves a truncated file where a good one was."""
    target = os.fspath(path)
    direct = os.path.exists(target) and not os.path.isfile(target)  # /dev/stdout, a FIFO, ...
    temp = target if direct else target + ".part"
    try:
        f = open(temp, "wb")
    except OSError as exc:
        raise ArgumentError(f"cannot write CSV file {target!r}: {exc.strerror or exc}") from exc
    try:
        with f:
            yield f
        if not direct:
            os.replace(temp, target)
    except BaseException:
        if not direct:
            try:
                os.remove(temp)
            except OSError:
                pass
        raise


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:
        raise NotSupportedError(f"DataFrame support needs pandas: {_PANDAS_HINT}") from exc
    return pandas


# -- DataFrames ----------------------------------------------------------------------------
def _series_kind(pd: Any, series: Any, name: str) -> str:
    """The column kind of a DataFrame column, from its dtype (or its values when object)."""
    dtype = series.dtype
    kind = getattr(dtype, "kind", "O")
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "integer"
    if kind == "f":
        return "float"
    if kind == "M":
        return "timestamptz" if getattr(dtype, "tz", None) is not None else "timestamp"
    if kind in "mc":
        raise ArgumentError(
            f"column {name!r} has dtype {dtype}, which has no SQL counterpart here: convert it first "
            "(e.g. .dt.total_seconds() for durations)"
        )
    if pd.api.types.is_string_dtype(dtype) and str(dtype) != "object":
        return "text"
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    simple = {
        "string": "text", "empty": "text", "bytes": "bytes", "integer": "integer",
        "floating": "float", "mixed-integer-float": "float", "boolean": "boolean",
        "date": "date", "time": "time", "decimal": "decimal",
    }  # fmt: skip
    if inferred in simple:
        return simple[inferred]
    if inferred in ("datetime", "datetime64"):
        first = series[series.notna()].iloc[0]
        return "timestamptz" if getattr(first, "tzinfo", None) is not None else "timestamp"
    present = series[series.notna()]
    if len(present) and isinstance(present.iloc[0], (dict, list)):
        return "json"
    return "text"


def _column_values(np: Any, series: Any, kind: str) -> list[Any]:
    """One column as Python values, missing ones (NaN, NaT, None, pd.NA) as None."""
    mask = series.isna().to_numpy()
    typed = str(series.dtype) != "object"
    if kind == "integer" and typed:
        values = series.to_numpy(dtype="int64" if series.dtype.kind == "i" else "uint64", na_value=0).tolist()
    elif kind == "float" and typed:
        values = series.to_numpy(dtype="float64", na_value=np.nan).tolist()
    elif kind == "boolean" and typed:
        values = series.to_numpy(dtype=bool, na_value=False).tolist()
    elif kind in ("timestamp", "timestamptz") and series.dtype.kind == "M":
        values = list(series.array.to_pydatetime())
    else:
        values = series.to_numpy(dtype=object).tolist()
        generic = np.generic
        for i, value in enumerate(values):
            if isinstance(value, generic):
                values[i] = value.item()
            elif hasattr(value, "to_pydatetime"):  # pandas Timestamp
                values[i] = value.to_pydatetime()
    if mask.any():
        for i in np.flatnonzero(mask).tolist():
            values[i] = None
    return values


def _frame(pd: Any, names: list[str], rows: list[tuple]) -> Any:
    """Rows as a DataFrame with typed columns: int64 (Int64 with NULLs), float64, bool (boolean
    with NULLs), datetime64, str; bytes, dates, Decimals and JSON values as Python objects."""
    frame = pd.DataFrame.from_records(rows, columns=names, nrows=len(rows))
    if not rows:
        return frame
    infer = pd.api.types.infer_dtype
    for i in range(len(names)):
        column = frame.iloc[:, i]
        dtype = column.dtype
        if dtype.kind == "f" and column.hasnans:
            present = column.notna().to_numpy()
            if not present.any() or type(rows[int(present.argmax())][i]) is not int:
                continue  # a float column (its first value is no int), or only NULLs
            values = column.to_numpy()
            try:
                if abs(values[present]).max() < 2**53:  # exact in float64: convert in bulk
                    frame.isetitem(i, pd.array(values, dtype="Int64"))
                    continue
            except (TypeError, ValueError):
                continue  # not all integral: ints and floats mixed (SQLite)
            raw = [row[i] for row in rows]
            if infer(raw, skipna=True) == "integer":
                frame.isetitem(i, pd.array(raw, dtype="Int64"))
        elif str(dtype) == "object":
            inferred = infer(column, skipna=True)
            try:
                if inferred == "boolean":
                    frame.isetitem(i, pd.array(column.to_numpy(), dtype="boolean"))
                elif inferred == "integer":
                    frame.isetitem(i, pd.array(column.to_numpy(), dtype="Int64"))
            except (TypeError, ValueError, OverflowError):
                pass  # e.g. integers beyond 64 bits: kept as Python ints
    return frame


class TransferMixin:
    """CSV and DataFrame import/export, methods of :class:`~mngs.db.database.Database`; the CSV
    format is described in :mod:`mngs.db.transfer`."""

    _dialect: Dialect
    _lock: Any
    _conn: Any

    if TYPE_CHECKING:
        from .reflection import ColumnInfo

        def _run(self, sql: str, params: Any = None, **context: Any) -> Any: ...
        def _translating(self, sql: str, **context: Any) -> Any: ...
        def _select_sql(self, *args: Any) -> tuple[str, Params]: ...
        def _insert_sql(self, *args: Any) -> str: ...
        def _primary_key(self, table: str) -> tuple[str, ...]: ...
        def _batches(self, records: Iterable[Any], batch_size: int | None) -> Iterator[list[Any]]: ...
        def transaction(self) -> Any: ...
        def table_exists(self, table: str) -> bool: ...
        def get_columns(self, table: str) -> list[ColumnInfo]: ...
        def create_table(self, table: str, columns: Mapping[str, str], **options: Any) -> None: ...
        def drop_table(self, table: str, if_exists: bool = True) -> None: ...

    # -- CSV export --------------------------------------------------------------------
    def export_to_csv(
        self,
        table: str,
        path: str | os.PathLike[str],
        columns: Sequence[str] | None = None,
        where: Where = None,
        params: Params = None,
        order_by: str | Sequence[str] | None = None,
        *,
        delimiter: str = ",",
        encoding: str = "utf-8",
        progress: bool | None = None,
    ) -> int:
        """Write the rows of ``table`` (or those matching ``where``) to a CSV file with a header
        row, streaming (COPY on PostgreSQL), and return how many rows were written.

        The file is written in the format described in :mod:`mngs.db.transfer` and replaced
        only once complete. ``progress`` shows a bar (None: only when stderr is a terminal).

        >>> db.export_to_csv("experiments", "experiments_backup.csv")
        1250
        """
        sql, values = self._select_sql(table, columns, where, params, order_by, None, None)
        json_columns = {
            c["name"] for c in self.get_columns(table) if c["type"].upper().startswith("JSON")
        }
        return self._export_csv(sql, values, path, delimiter, encoding, progress, json_columns)

    def export_query_to_csv(
        self,
        query: str,
        path: str | os.PathLike[str],
        params: Params = None,
        *,
        delimiter: str = ",",
        encoding: str = "utf-8",
        progress: bool | None = None,
    ) -> int:
        """Write the rows of a query (``?``/``:name`` placeholders bound to ``params``) to a CSV
        file with a header row, like :meth:`export_to_csv`; return how many rows were written.

        >>> db.export_query_to_csv("SELECT * FROM experiments WHERE accuracy > ?", "best.csv", [0.9])
        42
        """
        if not isinstance(query, str) or not query.strip():
            raise ArgumentError("query must be non-empty SQL text")
        return self._export_csv(query.strip().rstrip(";"), params, path, delimiter, encoding, progress, set())

    def _export_csv(
        self,
        sql: str,
        params: Params,
        path: str | os.PathLike[str],
        delimiter: str,
        encoding: str,
        progress: bool | None,
        json_columns: set[str],
    ) -> int:
        _check_format(delimiter, encoding)
        with _progress(progress, None, "export") as bar, _replacing(path) as f:
            write = f.write
            if codecs.lookup(encoding).name != "utf-8":
                decoder = codecs.getincrementaldecoder("utf-8")()

                def write(data: Any) -> None:  # noqa: F811 - transcoding variant
                    try:
                        f.write(decoder.decode(bytes(data)).encode(encoding))
                    except UnicodeEncodeError as exc:
                        message = f"{os.fspath(path)}: a value cannot be written as {encoding}"
                        raise DataError(message) from exc

            def sink(data: Any) -> None:
                write(data)
                bar.update(len(data))

            with self._lock:
                count = self._dialect.copy_csv_out(self, sql, params, sink, delimiter)
                if count is None:
                    count = self._write_csv_rows(sql, params, sink, delimiter, json_columns)
        return count

    def _write_csv_rows(
        self,
        sql: str,
        params: Params,
        sink: Callable[[bytes], None],
        delimiter: str,
        json_columns: set[str],
    ) -> int:
        """The export without a COPY mechanism: stream the rows and format them here."""
        count = 0
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
        header_done = False
        with closing(self._stream(sql, params)) as chunks:  # closed even when writing fails
            for names, rows in chunks:
                if not header_done:
                    writer.writerow(names)
                    header_done = True
                    as_json = {i for i, name in enumerate(names) if name in json_columns}
                    alone = len(names) == 1
                if not rows:
                    continue
                columns: list[Sequence[Any]] = list(zip(*rows))
                special: set[int] = set()  # rows needing quoting csv.writer does not do
                for i, column in enumerate(columns):
                    if i in as_json:
                        column = columns[i] = [None if v is None else dumps_json(v) for v in column]
                    else:
                        kinds = set(map(type, column))
                        if not kinds <= _PLAIN:
                            convert = _BOOL_TEXT.get if kinds <= _BOOL_KINDS else _csv_text
                            column = columns[i] = list(map(convert, column))
                    if "" in column:
                        special.update(k for k, v in enumerate(column) if v == "")
                    if alone and "\\." in column:  # as COPY: \. alone on a line would end the data
                        special.update(k for k, v in enumerate(column) if v == "\\.")
                lines = list(zip(*columns))
                start = 0
                for k in sorted(special):
                    writer.writerows(lines[start:k])
                    buffer.write(delimiter.join(_quote_field(v, delimiter, alone) for v in lines[k]) + "\n")
                    start = k + 1
                writer.writerows(lines[start:] if start else lines)
                count += len(rows)
                sink(buffer.getvalue().encode("utf-8"))
                buffer.seek(0)
                buffer.truncate()
        if not header_done:  # no rows: the names come from the statement's description
            cursor = self._run(f"SELECT * FROM ({sql}) AS mngs_q LIMIT 0", params)
            writer.writerow([d[0] for d in cursor.description])
            sink(buffer.getvalue().encode("utf-8"))
        return count

    def _stream(self, sql: str, params: Params) -> Iterator[tuple[list[str], list[tuple]]]:
        """``(names, rows)`` chunks of a query in bounded memory; the caller holds the lock."""
        stmt, bound = self._dialect.prepare(sql, params)
        use_transaction = self._dialect.stream_needs_transaction
        with self.transaction() if use_transaction else nullcontext(), self._translating(sql):
            yield from self._dialect.stream(self._conn, stmt, bound, self._dialect.stream_size)

    # -- CSV import --------------------------------------------------------------------
    def import_from_csv(
        self,
        table: str,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        batch_size: int | None = None,
        delimiter: str = ",",
        encoding: str = "utf-8",
        progress: bool | None = None,
    ) -> int:
        """Import a CSV file whose header row names the columns; return how many rows were
        imported. All or nothing: on any error nothing is imported.

        The file is streamed (COPY on PostgreSQL, batches of ``batch_size`` rows in one
        transaction elsewhere), so its size is not limited by memory. Columns missing from the
        header get their defaults; a header naming an unknown column is refused before anything
        is read. Empty unquoted fields are NULL, ``""`` is the empty string (see
        :mod:`mngs.db.transfer`). A malformed record or a value that does not fit its column
        raises :class:`~mngs.db.DataError` naming the line and column.

        When ``table`` does not exist and ``create`` is true, it is created first, each column
        with the narrowest type every value fits (found by a first pass over the file; the
        PostgreSQL name in parentheses): BOOLEAN (``t``/``f``/``true``/``false``), INTEGER
        (BIGINT), REAL (DOUBLE PRECISION), DATE, TIMESTAMP, TIMESTAMPTZ, BLOB (BYTEA; for ``\\x``
        hex), JSON (JSONB; for objects and arrays), else TEXT; all-NULL columns are TEXT.

        >>> db.import_from_csv("experiments", "experiments_data.csv")
        1250
        """
        _check_format(delimiter, encoding)
        source = _CsvFile(path, delimiter, encoding)
        header = source.header
        n = self._dialect.max_identifier_length
        for name in header:
            quote(name, n)
        with self._lock, self.transaction():
            if self.table_exists(table):
                declared = {c["name"]: c["type"] for c in self.get_columns(table)}
                unknown = [name for name in header if name not in declared]
                if unknown:
                    raise ProgrammingError(
                        f"{source.path}: the header names column(s) {unknown} that table {table!r} "
                        f"does not have (its columns: {list(declared)})"
                    )
            elif create:
                kinds = _infer_kinds(source.batches(self._dialect.batch_size), len(header))
                types = self._dialect.transfer_types
                declared = {name: types[kind] for name, kind in zip(header, kinds)}
                self.create_table(table, declared)
            else:
                raise ProgrammingError(f"no such table: {table!r} (pass create=True to create it)")
            with _progress(progress, source.size - source.data_start, "import") as bar:
                try:
                    count = self._dialect.copy_csv_in(self, table, header, source.utf8_chunks(bar), delimiter)
                except Error as exc:
                    raise self._located(exc, source, offset=1) from exc.__cause__ or exc
                if count is None:
                    count = self._insert_csv(table, source, declared, batch_size, bar)
            if set(header).intersection(self._primary_key(table)):
                self._dialect.after_explicit_keys(self, table, header)
        return count

    def _located(self, exc: Error, source: _CsvFile, offset: int) -> Error:
        """``exc`` with the CSV line and column the database blamed, when it named them."""
        cause = exc.__cause__
        line, column, message = self._dialect.copy_error_location(cause) if cause else (None, None, "")
        if line is None:
            return exc
        return type(exc)(str(source.error(line + offset, message or str(exc), column)))

    def _insert_csv(
        self,
        table: str,
        source: _CsvFile,
        declared: Mapping[str, str],
        batch_size: int | None,
        bar: Any,
    ) -> int:
        """The import without a COPY mechanism: parse here, insert batches with executemany."""
        header = source.header
        parsers = [
            (i, parse, declared[name])
            for i, name in enumerate(header)
            if (parse := _parser_for(declared[name])) is not None
        ]
        sql = self._insert_sql(table, header, self._dialect.max_identifier_length)
        total = 0
        size = batch_size or self._dialect.batch_size
        next(self._batches((), size), None)  # validates batch_size
        for first, columns in source.batches(size):
            for i, parse, declared_type in parsers:
                columns[i] = _parse_column(source, columns[i], parse, declared_type, first, i)
            total += self._insert_batch(sql, table, header, list(zip(*columns)), first, source)
            bar.update(source.consumed - bar.n)
        return total

    def _insert_batch(
        self,
        sql: str,
        table: str,
        header: list[str],
        rows: list[Sequence[Any]],
        first: int,
        source: _CsvFile,
    ) -> int:
        """Insert one batch in a savepoint; on failure, name the first line that fails."""
        try:
            with self.transaction():
                cursor = self._run(sql, rows, table=table, columns=header, many=True)
                return max(cursor.rowcount, 0)
        except (Error, OverflowError) as exc:
            failed = self._first_failing(sql, table, header, rows, first)
            if failed is None:
                raise
            line, error = failed
            if isinstance(exc, OverflowError):
                raise source.error(line, f"a value is out of range ({exc})") from exc
            raise type(error)(str(source.error(line, str(error)))) from error

    def _first_failing(
        self, sql: str, table: str, header: list[str], rows: list[Sequence[Any]], first: int
    ) -> tuple[int, Exception] | None:
        """Run the rows one by one in a savepoint that is always rolled back; return the line
        and error of the first row that fails."""
        found: tuple[int, Exception] | None = None
        try:
            with self.transaction():
                for line, row in enumerate(rows, start=first):
                    try:
                        self._run(sql, row, table=table, columns=header)
                    except (Error, OverflowError) as exc:
                        found = (line, exc)
                        break
                raise _Undo
        except _Undo:
            pass
        return found

    # -- DataFrames --------------------------------------------------------------------
    def to_dataframe(
        self,
        table_or_query: str,
        params: Params = None,
        columns: Sequence[str] | None = None,
        where: Where = None,
        index_col: str | Sequence[str] | None = None,
    ) -> Any:
        """Return a table's rows, or a query's, as a pandas DataFrame with typed columns.

        ``table_or_query`` is a table name when it is a single word (or a quoted name) or names
        an existing table; anything else is SQL with ``?``/``:name`` placeholders bound to
        ``params``. ``columns`` and ``where`` (with ``params``) select from a table. Columns
        come back as int64 (nullable Int64 when they hold NULLs), float64, bool (nullable
        boolean), datetime64 (with the time zone for TIMESTAMPTZ), str, and Python objects for
        bytes, dates, Decimals and JSON values. ``index_col`` sets the index.

        >>> df = db.to_dataframe("experiments")
        >>> df = db.to_dataframe("SELECT * FROM experiments WHERE accuracy > ?", [0.9])
        """
        pd = _pandas()
        if self._names_table(table_or_query):
            sql, values = self._select_sql(table_or_query, columns, where, params, None, None, None)
            table: str | None = table_or_query
        else:
            if columns is not None or where is not None:
                raise ArgumentError("columns and where apply to a table name, not to a query")
            sql, values, table = table_or_query, params, None
        with self._lock:
            cursor = self._run(sql, values, table=table)
            if cursor.description is None:
                raise ArgumentError("to_dataframe needs a statement that returns rows")
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        frame = _frame(pd, names, rows)
        if index_col is not None:
            frame = frame.set_index(index_col)
        return frame

    def _names_table(self, text: Any) -> bool:
        if not isinstance(text, str) or not text.strip():
            raise ArgumentError(f"expected a table name or a query, not {text!r}")
        if _SIMPLE_NAME.match(text.strip()):
            return True
        return self.table_exists(text)

    def from_dataframe(
        self,
        df: Any,
        table: str,
        if_exists: str = "fail",
        index: bool = False,
        batch_size: int | None = None,
    ) -> int:
        """Write a pandas DataFrame into ``table`` in one transaction; return the rows written.

        A missing table is created with a column type per dtype (the PostgreSQL name in
        parentheses): integers → INTEGER (BIGINT),
        floats → REAL (DOUBLE PRECISION), bool → BOOLEAN, datetime64 → TIMESTAMP (TIMESTAMPTZ
        with a time zone), text → TEXT, bytes → BLOB (BYTEA), dict/list → JSON (JSONB), dates,
        times and Decimals likewise. NaN, NaT, None and pd.NA become NULL. ``if_exists``:
        "fail" (an existing table is an error), "append", or "replace" (drop and recreate, in
        the same transaction). ``index=True`` also writes the index, as a column named after it
        (``"index"`` when unnamed). Rows are written in batches (COPY on PostgreSQL).

        >>> db.from_dataframe(df, "experiments", if_exists="append")
        1250
        """
        pd = _pandas()
        import numpy as np

        if not isinstance(df, pd.DataFrame):
            raise ArgumentError(f"from_dataframe takes a pandas DataFrame, not {type(df).__name__}")
        if if_exists not in _IF_EXISTS:
            raise ArgumentError(f"if_exists must be 'fail', 'append' or 'replace', not {if_exists!r}")
        frame = df.reset_index() if index else df
        if isinstance(frame.columns, pd.MultiIndex):
            raise ArgumentError("DataFrame columns with several levels: flatten them to names first")
        names = [str(c) for c in frame.columns]
        if not names:
            raise ArgumentError(f"the DataFrame for {table!r} has no columns")
        duplicates = sorted({c for c in names if names.count(c) > 1})
        if duplicates:
            raise ArgumentError(f"the DataFrame for {table!r} has duplicate column names {duplicates}")
        n = self._dialect.max_identifier_length
        for name in names:
            quote(name, n)
        series = [frame.iloc[:, i] for i in range(len(names))]
        series = [s.astype(object) if isinstance(s.dtype, pd.CategoricalDtype) else s for s in series]
        kinds = [_series_kind(pd, s, name) for s, name in zip(series, names)]
        size = batch_size or self._dialect.batch_size
        next(self._batches((), size), None)  # validates batch_size

        def batches() -> Iterator[list[tuple]]:
            for start in range(0, len(frame), size):
                values = [_column_values(np, s.iloc[start : start + size], k) for s, k in zip(series, kinds)]
                yield list(zip(*values))

        with self._lock, self.transaction():
            exists = self.table_exists(table)
            if exists and if_exists == "fail":
                raise ProgrammingError(
                    f"table {table!r} already exists; pass if_exists='append' or 'replace'"
                )
            if exists and if_exists == "replace":
                self.drop_table(table)
                exists = False
            if exists:
                have = {c["name"] for c in self.get_columns(table)}
                unknown = [name for name in names if name not in have]
                if unknown:
                    raise ProgrammingError(
                        f"table {table!r} has no column(s) {unknown}; its columns: {sorted(have)}"
                    )
            else:
                types = self._dialect.transfer_types
                self.create_table(table, {name: types[kind] for name, kind in zip(names, kinds)})
            total = self._write_rows(table, names, batches())
        return total

    def _write_rows(self, table: str, columns: list[str], batches: Iterable[list[tuple]]) -> int:
        """Insert batches of value tuples (COPY where the dialect has it); caller holds the
        lock and a transaction."""
        n = self._dialect.max_identifier_length
        sql = self._insert_sql(table, columns, n)
        total = 0
        for rows in batches:
            if not rows:
                continue
            copied = self._dialect.bulk_insert(self, table, columns, rows, None, ())
            if copied is None:
                try:
                    cursor = self._run(sql, rows, table=table, columns=columns, many=True)
                except OverflowError as exc:
                    raise DataError(f"a value for table {table!r} is out of range: {exc}") from exc
                copied = max(cursor.rowcount, 0)
            total += copied
        if set(columns).intersection(self._primary_key(table)):
            self._dialect.after_explicit_keys(self, table, columns)
        return total


class _Undo(Exception):
    """Raised to roll back a probing savepoint."""
