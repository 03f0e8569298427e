"""The CSV format of import/export: reading, writing and type checks; no database handle here.

The format is the one PostgreSQL's ``COPY … (FORMAT csv, HEADER true)`` reads and writes, used
on every backend, so a file exported from one imports into the other:

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

Where the database does not parse CSV itself (SQLite), values are checked here against their
column's declared type. Text already in the form the database would store (canonical ISO dates
and times, checked a whole column at a time with one regular expression) is kept as it is;
anything else is parsed, so a value that does not fit its column is refused, never stored as is.
"""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from itertools import islice, repeat
from typing import Any

from .codecs import dumps_json
from .errors import ArgumentError, DataError

__all__ = [
    "CsvFile",
    "CsvWriter",
    "StoredText",
    "check_format",
    "csv_text",
    "infer_kinds",
    "parse_column",
    "parser_for",
    "quote_field",
    "stored_text",
]

READ_SIZE = 1 << 20  # bytes per read when streaming a file
_PARSE_ERRORS = (ValueError, TypeError, KeyError, OverflowError, ArithmeticError)
_NONE = type(None)
_INT64 = (-(1 << 63), (1 << 63) - 1)
_SHORT_OFFSET = re.compile(r"([+-]\d\d)$")
_BYTEA_ESCAPE = re.compile(rb"\\(\\|[0-3][0-7]{2})")
_BOOLS = {
    "t": True, "true": True, "y": True, "yes": True, "on": True, "1": True,
    "f": False, "false": False, "n": False, "no": False, "off": False, "0": False,
}  # fmt: skip
_NULL_FIELD = {"": None}  # .get(v, v): an empty unquoted field is NULL
_EMPTY_FIELD = {None: ""}  # .get(v, v): NULL is written as an empty field
_BOOL_FIELD = {True: "t", False: "f", None: ""}
_NUMBER_CHARS = frozenset("0123456789+-.eEinfaINFA")  # what str(int) / repr(float) can hold


def check_format(delimiter: str, encoding: str) -> None:
    """Raise :class:`ArgumentError` unless ``delimiter`` and ``encoding`` can be used."""
    one = isinstance(delimiter, str) and len(delimiter) == 1
    if not one or delimiter in '"\r\n' or not delimiter.isascii():
        raise ArgumentError(
            f"delimiter must be one ASCII character other than a quote or newline, not {delimiter!r}"
        )
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError) as exc:
        raise ArgumentError(f"unknown encoding {encoding!r}") from exc
    if info.name != "utf-8-sig" and "a,\n".encode(info.name) != b"a,\n":
        raise ArgumentError(f"CSV files must use an ASCII-compatible encoding, not {encoding!r}")


# -- canonical text: what SQLite stores for a date or time, checked without parsing ------------
_YEAR = "(?!0000)[0-9]{4}"
_LEAP_YEAR = "(?!0000)(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)"
_DATE = (
    rf"(?:{_YEAR}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
    rf"|(?:0[13578]|1[02])-31)|{_LEAP_YEAR}-02-29)"
)
_CLOCK = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.(?!000000)[0-9]{6})?"
_OFFSET = r"(?:\+(?:[01][0-9]|2[0-3]):[0-5][0-9]|-(?!00:00)(?:[01][0-9]|2[0-3]):[0-5][0-9])?"


class StoredText:
    """The exact text ``isoformat()`` gives for a valid date, time or timestamp: such text is
    what SQLite stores for the value, so it can be bound and written unchanged."""

    #: Characters canonical text can hold (a delimiter among them needs the slow path).
    chars = frozenset("0123456789-:. +")

    def __init__(self, pattern: str) -> None:
        self.one = re.compile(pattern).fullmatch
        try:  # possessive (Python 3.11+): no backtracking state kept per value
            self._many: Callable[[str], Any] | None = re.compile(f"(?:{pattern}\n)*+").fullmatch
        except re.error:
            self._many = None

    def all(self, values: Sequence[str]) -> bool:
        """Whether every value (all str) is canonical: one regular expression for them all."""
        if self._many is None or not values:
            return all(map(self.one, values))
        text = "\n".join(values)
        return text.count("\n") == len(values) - 1 and self._many(text + "\n") is not None


_TIMESTAMP_TEXT = StoredText(f"{_DATE} {_CLOCK}{_OFFSET}")
_DATE_ONLY_TEXT = StoredText(_DATE)
_TIME_TEXT = StoredText(_CLOCK + _OFFSET)


# -- values: CSV text -> Python (import) ---------------------------------------------------
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


#: Parsers whose canonical input is exactly the text SQLite stores for the parsed value.
_CANONICAL: dict[Callable[[str], Any], StoredText] = {
    _parse_timestamp: _TIMESTAMP_TEXT,
    _parse_date: _DATE_ONLY_TEXT,
    _parse_time: _TIME_TEXT,
}


def parser_for(declared: str) -> Callable[[str], Any] | None:
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


def stored_text(declared: str) -> StoredText | None:
    """The canonical text of values of this declared type, for dates and times (else None)."""
    parse = parser_for(declared)
    return None if parse is None else _CANONICAL.get(parse)


def parse_column(
    source: CsvFile,
    column: Sequence[Any],
    parse: Callable[[str], Any],
    declared: str,
    first: int,
    index: int,
) -> Sequence[Any]:
    """Parse one column of a batch; a value that does not parse is a DataError naming its line.

    Canonical date and time text is kept as text (it is what would be stored); only the rest
    is parsed."""
    try:
        canonical = _CANONICAL.get(parse)
        if canonical is not None:
            present = column if None not in column else [v for v in column if v is not None]
            if canonical.all(present):
                return column
            one = canonical.one
            return [v if v is None or one(v) else parse(v) for v in column]
        if None not in column:
            values = list(map(parse, column))
        else:
            parsed = iter(list(map(parse, [v for v in column if v is not None])))
            values = [None if v is None else next(parsed) for v in column]
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
_TIMESTAMP_TEXT_LOOSE = re.compile(_STAMP_TEXT + "$")
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


#: Numbers whose spelling a number column would lose: a leading zero (``02134``) or ``+`` (``+49``).
_KEEPS_SPELLING = re.compile(r"^\s*(?:\+|-?0\d)")


def _number(test: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda text: test(text) and _KEEPS_SPELLING.match(text) is None


#: Candidate kinds in order of preference, each with its test on a CSV text value. "bigint" is
#: an integer beyond 64 bits: stored exactly (NUMERIC, or TEXT where NUMERIC is a float).
_KIND_TESTS: dict[str, Callable[[str], bool]] = {
    "boolean": lambda text: text.strip().lower() in ("t", "f", "true", "false"),
    "integer": _number(_fits(_parse_int, _INT_TEXT)),
    "bigint": _number(lambda text: _INT_TEXT.match(text) is not None),
    "float": _number(lambda text: _FLOAT_TEXT.match(text) is not None),
    "date": _fits(_parse_date, _DATE_TEXT),
    "timestamp": _fits(_parse_timestamp, _TIMESTAMP_TEXT_LOOSE),
    "timestamptz": _fits(_parse_timestamp, _TIMESTAMPTZ_TEXT),
    "bytes": lambda text: _HEX_TEXT.match(text) is not None,
    "json": lambda text: text[:1] in ("{", "[") and _fits(json.loads)(text),
}


def infer_kinds(batches: Iterable[tuple[int, list[Sequence[Any]]]], width: int) -> list[str]:
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
class CsvFile:
    """A CSV file being imported: its header, then its records in bounded memory.

    Blocks without a double quote (or a lone carriage return) are split with ``str.split``;
    from the first block that has one on, the rest of the file goes through :mod:`csv`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        delimiter: str,
        encoding: str,
        *,
        columns: Sequence[str] | None = None,
        na_values: Iterable[str] = (),
    ) -> None:
        """``columns`` names the columns of a file without a header row (its first line is
        data); ``na_values`` are field texts read as NULL besides an empty unquoted field."""
        self.path = os.fspath(path)
        self.delimiter = delimiter
        self.encoding = "utf-8" if codecs.lookup(encoding).name == "utf-8-sig" else encoding
        self.utf8 = codecs.lookup(self.encoding).name == "utf-8"
        self.na_values = frozenset(na_values)
        self.consumed = 0  # bytes read by batches(), for progress bars
        try:
            with open(self.path, "rb") as f:
                if columns is None:
                    self.header = self._read_header(f)
                else:
                    self.header = self._given_header(columns)
                    if f.read(3) != codecs.BOM_UTF8 or not self.utf8:
                        f.seek(0)
                self.data_start = f.tell()
                self.first_line = 2 if columns is None else 1  # the line of the first record
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

    def _given_header(self, columns: Sequence[str]) -> list[str]:
        header = list(columns)
        if not header or not all(isinstance(name, str) and name.strip() for name in header):
            raise ArgumentError(f"columns must be a non-empty list of column names, not {columns!r}")
        duplicates = sorted({name for name in header if header.count(name) > 1})
        if duplicates:
            raise ArgumentError(f"columns names {duplicates} more than once")
        return header

    def _dialect(self) -> dict[str, Any]:
        return {"delimiter": self.delimiter, "quotechar": '"', "doublequote": True, "strict": True}

    def batches(self, size: int) -> Iterator[tuple[int, list[Sequence[str | None]]]]:
        """Yield ``(line of the first record, columns)`` for batches of up to ``size`` records;
        each column is a sequence of fields, NULL (empty unquoted, or one of ``na_values``)
        as None."""
        if not self.na_values:
            yield from self._batches(size)
            return
        na = self.na_values
        for line, columns in self._batches(size):
            yield line, [[None if v in na else v for v in column] for column in columns]

    def _batches(self, size: int) -> Iterator[tuple[int, list[Sequence[str | None]]]]:
        self.consumed = 0
        line = self.first_line
        decoder = codecs.getincrementaldecoder(self.encoding)()
        with open(self.path, "rb") as f:
            f.seek(self.data_start)
            pending = b""
            offset = self.data_start  # where ``pending`` starts in the file
            while True:
                data = f.read(READ_SIZE)
                pending += data
                if not data and not pending:
                    return
                cut = pending.rfind(b"\n") + 1 if data else len(pending)
                if not cut:
                    continue  # no complete line yet: read on
                block, pending = pending[:cut], pending[cut:]
                try:
                    text = decoder.decode(block, final=not data)
                except UnicodeDecodeError as exc:
                    bad = line + block[: exc.start].count(b"\n")
                    raise self.error(bad, f"not valid {self.encoding} text ({exc.reason})") from exc
                lines = _plain_lines(text)
                if lines is None:  # quoted fields: the csv module from here to the end
                    yield from self._parsed_batches(offset, line, size)
                    return
                offset += len(block)
                for start in range(0, len(lines), size):
                    part = lines[start : start + size]
                    columns = self._split(part, line)
                    self.consumed = offset - self.data_start
                    yield line, columns
                    line += len(part)
                if not data:
                    return

    def _split(self, lines: list[str], first: int) -> list[Sequence[str | None]]:
        """The columns of records given as lines without quotes."""
        width = len(self.header)
        delimiter = self.delimiter
        if set(map(str.count, lines, repeat(delimiter))) != {width - 1}:
            for k, text in enumerate(lines):
                if text.count(delimiter) != width - 1:  # an empty line: NULL in one column
                    fields = text.count(delimiter) + 1 if text else 0
                    message = f"{fields} field(s), but the header names {width} column(s)"
                    raise self.error(first + k, message)
        if width == 1:
            columns: list[Sequence[Any]] = [lines]
        else:
            values = delimiter.join(lines).split(delimiter)
            columns = [values[i::width] for i in range(width)]
        for i, column in enumerate(columns):
            if "" in column:
                columns[i] = list(map(_NULL_FIELD.get, column, column))
        return columns

    def _parsed_batches(self, offset: int, line: int, size: int) -> Iterator[tuple[int, list[Sequence[Any]]]]:
        """:meth:`batches` through :mod:`csv` from byte ``offset`` (record ``line``) on."""
        width = len(self.header)
        exact = self._has_quoted_empty(offset)
        raw: list[str] = []
        with open(self.path, "rb") as f:
            f.seek(offset)
            text = io.TextIOWrapper(f, encoding=self.encoding, newline="")
            if exact:  # keep each record's text to tell "" from NULL (slower)

                def lines() -> Iterator[str]:
                    for record in text:
                        raw.append(record)
                        yield record

                reader = csv.reader(lines(), **self._dialect())
                records: Iterator[Sequence[Any]] = self._exact(reader, raw)
            else:
                reader = csv.reader(text, **self._dialect())
                records = reader
            before = line - 1  # physical lines before ``offset``: each record was one line
            while True:
                try:
                    rows = list(islice(records, size))
                except csv.Error as exc:
                    raise self.error(before + reader.line_num, f"malformed CSV ({exc})") from exc
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
                            columns[i] = list(map(_NULL_FIELD.get, column, column))
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

    def _has_quoted_empty(self, offset: int) -> bool:
        """Whether ``""`` occurs after ``offset`` at all (else every empty field is NULL)."""
        tail = b""
        with open(self.path, "rb") as f:
            f.seek(offset)
            while block := f.read(READ_SIZE):
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
        line = self.first_line
        with open(self.path, "rb") as f:
            f.seek(self.data_start)
            while block := f.read(READ_SIZE):
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


def _plain_lines(text: str) -> list[str] | None:
    """The records of a block as lines, when it has no quotes and only ``\\n`` or ``\\r\\n``
    line ends (so every line is one record); else None."""
    if '"' in text:
        return None
    if "\r" in text:
        lines = text.split("\r\n")  # spreadsheets, Windows
        ends = len(lines) - 1
        if text.count("\r") != ends:
            return None  # a carriage return alone: the csv module reads it as a line end
        if text.count("\n") != ends:  # line ends of both kinds
            lines = text.replace("\r\n", "\n").split("\n")
    else:
        lines = text.split("\n")
    if not lines[-1]:
        lines.pop()  # the block ends with a line end
    return lines


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


# -- values: Python -> CSV text (export) ---------------------------------------------------
def csv_text(value: Any) -> Any:
    """A value as CSV text in the format of the module docstring (None, str, int and float
    stay as they are)."""
    kind = type(value)
    if kind in (int, float, str, _NONE):
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


def _float_texts(column: Sequence[Any], null: bool) -> list[str]:
    """Numbers as PostgreSQL writes them: the shortest text that reads back exactly, without
    the ``.0`` Python adds to a whole float (``3``, ``0.1``, ``1e+20``), so exports of the same
    table match byte for byte across backends."""
    texts = [repr(v) for v in column] if not null else ["" if v is None else repr(v) for v in column]
    joined = "\n".join(texts) + "\n"
    if ".0\n" not in joined:
        return texts
    return joined.replace(".0\n", "\n")[:-1].split("\n")


def quote_field(value: Any, delimiter: str, alone: bool) -> str:
    """One field as written: NULL empty, ``""`` for the empty string, quoted where needed
    (``alone``: the only column, where ``\\.`` would end COPY's data)."""
    if value is None:
        return ""
    text = value if type(value) is str else str(value)
    if text == "":
        return '""'
    if delimiter in text or '"' in text or "\n" in text or "\r" in text or (alone and text == "\\."):
        return '"' + text.replace('"', '""') + '"'
    return text


class CsvWriter:
    """Formats chunks of rows as CSV text, a column at a time.

    ``json``: indexes of columns whose dict/list values are written as JSON text.
    ``stored``: index -> (canonical text, conversion) for columns read as the text SQLite
    stores (without the driver's conversion by declared type): canonical text is written as
    it is, anything else as the value the conversion gives.
    """

    def __init__(
        self,
        names: Sequence[str],
        delimiter: str,
        json: Iterable[int] = (),
        stored: Mapping[int, tuple[StoredText, Callable[[Any], Any]]] | None = None,
    ) -> None:
        self.delimiter = delimiter
        self.alone = len(names) == 1
        self.json = frozenset(json)
        self.stored = dict(stored or {})
        self.header = delimiter.join(quote_field(name, delimiter, False) for name in names) + "\n"
        self._plain_numbers = delimiter not in _NUMBER_CHARS
        self._plain_stored = delimiter not in StoredText.chars

    def rows(self, rows: Sequence[Sequence[Any]]) -> str:
        """The lines of ``rows``, each ending with ``\\n``."""
        if not rows:
            return ""
        fields = [self._column(i, column) for i, column in enumerate(zip(*rows))]
        return "\n".join(map(self.delimiter.join, zip(*fields))) + "\n"

    def _column(self, index: int, column: Sequence[Any]) -> Sequence[str]:
        if index in self.stored:
            return self._stored(column, *self.stored[index])
        if index in self.json:
            column = [None if v is None else dumps_json(v) for v in column]
        kinds = set(map(type, column))
        null = _NONE in kinds
        kinds.discard(_NONE)
        if kinds == {str}:
            return self._texts(column, null)
        if kinds == {bool}:
            return list(map(_BOOL_FIELD.__getitem__, column))
        if kinds and kinds <= {int, float} and self._plain_numbers:
            if kinds == {int}:
                return [str(v) for v in column] if not null else ["" if v is None else str(v) for v in column]
            return _float_texts(column, null)
        if not kinds:
            return [""] * len(column)
        delimiter, alone = self.delimiter, self.alone
        return [quote_field(csv_text(v), delimiter, alone) for v in column]

    def _texts(self, column: Sequence[Any], null: bool) -> Sequence[str]:
        """A column of str (and None): as it is unless some value needs quoting."""
        present = column if not null else [v for v in column if v is not None]
        joined = "".join(present)
        delimiter, alone = self.delimiter, self.alone
        if (
            "" in present
            or delimiter in joined
            or '"' in joined
            or "\n" in joined
            or "\r" in joined
            or (alone and "\\." in present)
        ):
            return [quote_field(v, delimiter, alone) for v in column]
        return column if not null else list(map(_EMPTY_FIELD.get, column, column))

    def _stored(
        self, column: Sequence[Any], canonical: StoredText, convert: Callable[[Any], Any]
    ) -> Sequence[str]:
        null = None in column
        present = column if not null else [v for v in column if v is not None]
        plain = self._plain_stored
        if plain and set(map(type, present)) <= {str} and canonical.all(present):
            return column if not null else list(map(_EMPTY_FIELD.get, column, column))
        delimiter, alone, one = self.delimiter, self.alone, canonical.one
        out = []
        for v in column:
            if v is None or v == "" or v == b"":  # as sqlite3 reads empty values it would convert
                out.append("")
            elif plain and type(v) is str and one(v):
                out.append(v)
            else:
                value = convert(v.encode("utf-8") if type(v) is str else v)
                out.append(quote_field(csv_text(value), delimiter, alone))
        return out
