"""CSV and DataFrame import/export methods of the handle: streamed, one transaction per call."""


import codecs
import gc
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from .csvformat import (
    CsvFile,
    CsvWriter,
    StoredText,
    check_format,
    infer_kinds,
    parse_column,
    parser_for,
    stored_text,
)
from .dialects.base import Dialect
from .errors import ArgumentError, DataError, Error, NotSupportedError, ProgrammingError
from .executor import Executor
from .frames import build_frame, column_values, pandas, series_kind
from .reflection import ColumnInfo
from .sql import Params, Where, quote, quote_all

__all__ = ["TransferMixin"]

_IF_EXISTS = ("fail", "append", "replace")
_SIMPLE_NAME = re.compile(r"^[^\s;()'\"]+$|^\"(?:[^\"]|\"\")+\"$")
_QUERY = re.compile(r"\s*(?:\(\s*)*(?:SELECT|WITH|VALUES|TABLE)\b", re.IGNORECASE)  # streamable
_EXPORT_ROWS = 10_000  # rows per chunk when formatting CSV here
_FRAME_ROWS = 50_000  # rows per chunk turned into typed DataFrame columns
_VALUES_ROWS = 100  # rows per INSERT statement when importing CSV without COPY


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around a bulk loop. The loop allocates a tuple per
    row, and each collection those allocations trigger scans every object of the process
    (seconds per million rows once pandas is loaded); reference counting still frees the rows
    at once. The collector's previous state is restored."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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


class TransferMixin:
    """CSV and DataFrame import/export, methods of :class:`~mngs.db.database.Database`; the CSV
    format is described in :mod:`mngs.db.csvformat`."""

    _dialect: Dialect
    _ex: Executor

    if TYPE_CHECKING:
        def _select_sql(self, *args: Any) -> tuple[str, Params]: ...
        def _insert_sql(self, *args: Any) -> str: ...
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

        The file is written in the format described in :mod:`mngs.db.csvformat` and replaced
        only once complete. ``progress`` shows a bar (None: only when stderr is a terminal).

        >>> db.export_to_csv("experiments", "experiments_backup.csv")
        1250
        """
        declared = {c["name"]: c["type"] for c in self.get_columns(table)}
        names = [columns] if isinstance(columns, str) else list(columns or declared)
        sql, values = self._select_sql(table, names, where, params, order_by, None, None)
        json_columns = {name for name, sqltype in declared.items() if sqltype.upper().startswith("JSON")}
        sql, stored = self._stored_text_select(sql, names, declared)
        return self._export_csv(sql, values, path, delimiter, encoding, progress, json_columns, stored)

    def _stored_text_select(
        self, sql: str, names: list[str], declared: Mapping[str, str]
    ) -> tuple[str, dict[str, tuple[StoredText, Callable[[Any], Any]]]]:
        """``sql`` reading date and time columns as the text the database stores, where the
        driver would otherwise convert them (SQLite), with what the CSV writer needs for them."""
        n = self._dialect.max_identifier_length
        stored: dict[str, tuple[StoredText, Callable[[Any], Any]]] = {}
        select = []
        for name in names:
            quoted = quote(name, n)
            canonical = stored_text(declared.get(name, ""))
            raw = self._dialect.stored_value_sql(quoted, declared[name]) if canonical else None
            if raw is not None and canonical is not None:
                stored[name] = (canonical, raw[1])
                select.append(f"{raw[0]} AS {quoted}")
            else:
                select.append(quoted)
        plain = f"SELECT {quote_all(names, n)} FROM "
        if not stored or not sql.startswith(plain):
            return sql, {}
        return f"SELECT {', '.join(select)} FROM {sql[len(plain) :]}", stored

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
        sql = query.strip().rstrip(";")
        return self._export_csv(sql, params, path, delimiter, encoding, progress, set(), {})

    def _export_csv(
        self,
        sql: str,
        params: Params,
        path: str | os.PathLike[str],
        delimiter: str,
        encoding: str,
        progress: bool | None,
        json_columns: set[str],
        stored: Mapping[str, tuple[StoredText, Callable[[Any], Any]]],
    ) -> int:
        check_format(delimiter, encoding)
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

            with self._ex.lock:
                count = self._dialect.copy_csv_out(self._ex, sql, params, sink, delimiter)
                if count is None:
                    count = self._write_csv_rows(sql, params, sink, delimiter, json_columns, stored)
        return count

    def _write_csv_rows(
        self,
        sql: str,
        params: Params,
        sink: Callable[[bytes], None],
        delimiter: str,
        json_columns: set[str],
        stored: Mapping[str, tuple[StoredText, Callable[[Any], Any]]],
    ) -> int:
        """The export without a COPY mechanism: stream the rows and format them here."""
        count = 0
        writer: CsvWriter | None = None
        chunks = self._stream(sql, params, _EXPORT_ROWS)
        with closing(chunks), _gc_paused():  # the stream is closed even when writing fails
            for names, rows in chunks:
                if writer is None:
                    writer = CsvWriter(
                        names,
                        delimiter,
                        json=[i for i, name in enumerate(names) if name in json_columns],
                        stored={i: stored[name] for i, name in enumerate(names) if name in stored},
                    )
                    sink(writer.header.encode("utf-8"))
                sink(writer.rows(rows).encode("utf-8"))
                count += len(rows)
        if writer is None:  # no rows: the names come from the statement's description
            cursor = self._ex.run(f"SELECT * FROM ({sql}\n) AS mngs_q LIMIT 0", params)
            sink(CsvWriter([d[0] for d in cursor.description], delimiter).header.encode("utf-8"))
        return count

    def _stream(self, sql: str, params: Params, size: int) -> Iterator[tuple[list[str], list[tuple]]]:
        """``(names, rows)`` chunks of a query in bounded memory; the caller holds the lock."""
        stmt, bound = self._dialect.prepare(sql, params)
        use_transaction = self._dialect.stream_needs_transaction
        with self._ex.transaction() if use_transaction else nullcontext(), self._ex.translating(sql):
            yield from self._dialect.stream(self._ex.conn, stmt, bound, size)

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
        header: bool = True,
        columns: Sequence[str] | None = None,
        na_values: Iterable[str] = (),
        types: Mapping[str, str] | None = None,
    ) -> int:
        """Import a CSV file whose header row names the columns; return how many rows were
        imported. All or nothing: on any error nothing is imported.

        ``header=False`` reads a file without a header row: its first line is data, and
        ``columns`` names its columns (default: the existing table's columns, in order).
        ``na_values`` are field texts read as NULL too (``["NA", "n/a"]``). ``types`` maps
        columns to the SQL types a created table gets, instead of the inferred ones. A UTF-8
        byte-order mark is skipped (``encoding="utf-8-sig"`` works as well).

        The file is streamed (COPY on PostgreSQL, batches of ``batch_size`` rows in one
        transaction elsewhere), so its size is not limited by memory. Columns missing from the
        header get their defaults; a header naming an unknown column is refused before anything
        is read. Empty unquoted fields are NULL, ``""`` is the empty string (see
        :mod:`mngs.db.csvformat`). A malformed record or a value that does not fit its column
        raises :class:`~mngs.db.DataError` naming the line and column.

        When ``table`` does not exist and ``create`` is true, it is created first, each column
        with the narrowest type every value fits (found by a first pass over the file; the
        PostgreSQL name in parentheses): BOOLEAN (``t``/``f``/``true``/``false``), INTEGER
        (BIGINT), REAL (DOUBLE PRECISION), DATE, TIMESTAMP, TIMESTAMPTZ, BLOB (BYTEA; for ``\\x``
        hex), JSON (JSONB; for objects and arrays), else TEXT; all-NULL columns are TEXT.

        >>> db.import_from_csv("experiments", "experiments_data.csv")
        1250
        """
        check_format(delimiter, encoding)
        if header and columns is not None:
            raise ArgumentError("columns names the columns of a file without a header: pass header=False")
        if isinstance(na_values, str):
            na_values = [na_values]
        if not header and columns is None:
            if not self.table_exists(table):
                raise ArgumentError(
                    f"a file without a header (header=False) needs columns=[...] to create {table!r}"
                )
            columns = [c["name"] for c in self.get_columns(table)]
        source = CsvFile(path, delimiter, encoding, columns=None if header else columns, na_values=na_values)
        header_names = source.header
        n = self._dialect.max_identifier_length
        for name in header_names:
            quote(name, n)
        if types is not None:
            unknown_types = [name for name in types if name not in header_names]
            if unknown_types:
                raise ArgumentError(f"types names column(s) {unknown_types} the file does not have")
        with self._ex.lock, self._ex.transaction():
            if self.table_exists(table):
                declared = {c["name"]: c["type"] for c in self.get_columns(table)}
                unknown = [name for name in header_names if name not in declared]
                if unknown:
                    raise ProgrammingError(
                        f"{source.path}: the header names column(s) {unknown} that table {table!r} "
                        f"does not have (its columns: {list(declared)})"
                    )
            elif create:
                kinds = infer_kinds(source.batches(self._dialect.batch_size), len(header_names))
                chosen = self._dialect.transfer_types
                declared = {name: chosen[kind] for name, kind in zip(header_names, kinds)}
                declared.update(types or {})
                self.create_table(table, declared)
            else:
                raise ProgrammingError(f"no such table: {table!r} (pass create=True to create it)")
            with _progress(progress, source.size - source.data_start, "import") as bar:
                count = None
                if not source.na_values:  # the database's loader knows one NULL spelling only
                    try:
                        chunks = source.utf8_chunks(bar)
                        count = self._dialect.copy_csv_in(self._ex, table, header_names, chunks, delimiter)
                    except Error as exc:
                        raise self._located(exc, source, offset=source.first_line - 1) from None
                if count is None:
                    count = self._insert_csv(table, source, declared, batch_size, bar)
            if set(header_names).intersection(self._ex.primary_key(table)):
                self._dialect.after_explicit_keys(self._ex, table, header_names)
        return count

    def _located(self, exc: Error, source: CsvFile, offset: int) -> Error:
        """``exc`` with the CSV line and column the database blamed, when it named them."""
        cause = exc.driver_error
        line, column, message = self._dialect.copy_error_location(cause) if cause else (None, None, "")
        if line is None:
            return exc
        located = type(exc)(str(source.error(line + offset, message or str(exc), column)))
        located.driver_error = cause
        return located

    def _insert_csv(
        self,
        table: str,
        source: CsvFile,
        declared: Mapping[str, str],
        batch_size: int | None,
        bar: Any,
    ) -> int:
        """The import without a COPY mechanism: parse here, insert batches with multi-row
        INSERT statements, one savepoint per batch."""
        header = source.header
        parsers = [
            (i, parse, declared[name])
            for i, name in enumerate(header)
            if (parse := parser_for(declared[name])) is not None
        ]
        insert = _MultiInsert(self, table, header)
        total = 0
        size = batch_size or self._dialect.batch_size
        next(self._batches((), size), None)  # validates batch_size
        for first, columns in source.batches(size):
            for i, parse, declared_type in parsers:
                columns[i] = parse_column(source, columns[i], parse, declared_type, first, i)
            try:
                with self._ex.transaction():
                    total += insert(columns)
            except (Error, OverflowError) as exc:
                rows = list(zip(*columns))
                failed = self._first_failing(insert.one_row, table, header, rows, first)
                if failed is None:
                    raise
                line, error = failed
                if isinstance(exc, OverflowError):
                    raise source.error(line, f"a value is out of range ({exc})") from exc
                raise type(error)(str(source.error(line, str(error)))) from error
            bar.update(source.consumed - bar.n)
        return total

    def _first_failing(
        self, sql: str, table: str, header: list[str], rows: list[Sequence[Any]], first: int
    ) -> tuple[int, Exception] | None:
        """Run the rows one by one in a savepoint that is always rolled back; return the line
        and error of the first row that fails."""
        found: tuple[int, Exception] | None = None
        try:
            with self._ex.transaction():
                for line, row in enumerate(rows, start=first):
                    try:
                        self._ex.run(sql, row, table=table, columns=header)
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
        pd = pandas()
        if self._names_table(table_or_query):
            sql, values = self._select_sql(table_or_query, columns, where, params, None, None, None)
            table: str | None = table_or_query
        else:
            if columns is not None or where is not None:
                raise ArgumentError("columns and where apply to a table name, not to a query")
            sql, values, table = table_or_query.strip().rstrip(";"), params, None
        with self._ex.lock, _gc_paused():
            frame = self._read_frame(pd, sql, values, table)
        if index_col is not None:
            frame = frame.set_index(index_col)
        return frame

    def _read_frame(self, pd: Any, sql: str, params: Params, table: str | None) -> Any:
        """A DataFrame built a chunk of rows at a time, from a query streamed in bounded memory
        (a server-side cursor on PostgreSQL), or from any other statement that returns rows
        (``… RETURNING``, ``SHOW``, ``PRAGMA``) read in chunks; the caller holds the lock."""
        if table is not None or _QUERY.match(sql):
            chunks = self._stream(sql, params, self._dialect.stream_size)
            try:
                first = next(chunks, None)
            except (ProgrammingError, NotSupportedError):
                pass  # e.g. a data-modifying WITH, which no cursor can stream: run it below
            else:
                with closing(chunks):
                    if first is None:  # no rows: the names come from the statement's description
                        return build_frame(pd, self._result_names(sql, params), [])
                    return build_frame(pd, first[0], _regroup(first[1], chunks, _FRAME_ROWS))
        cursor = self._ex.run(sql, params, table=table)
        if cursor.description is None:
            raise ArgumentError("to_dataframe needs a statement that returns rows")
        names = [d[0] for d in cursor.description]
        return build_frame(pd, names, iter(lambda: cursor.fetchmany(_FRAME_ROWS), []))

    def _result_names(self, sql: str, params: Params) -> list[str]:
        """The column names of a query (run with LIMIT 0)."""
        cursor = self._ex.run(f"SELECT * FROM ({sql}\n) AS mngs_q LIMIT 0", params)
        return [d[0] for d in cursor.description]

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
        *,
        create: bool = True,
        pk: str | Sequence[str] | None = None,
        alter: bool = False,
    ) -> int:
        """Write a pandas DataFrame into ``table`` in one transaction; return the rows written.

        ``create=False`` refuses a missing table instead of creating it; ``pk`` names the
        primary key of a created table; ``alter=True`` adds the frame's columns an existing
        table lacks (with ``if_exists="append"``).

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
        pd = pandas()
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
        kinds = [series_kind(pd, s, name) for s, name in zip(series, names)]
        size = batch_size or self._dialect.batch_size
        next(self._batches((), size), None)  # validates batch_size

        def batches() -> Iterator[list[tuple]]:
            for start in range(0, len(frame), size):
                values = [column_values(np, s.iloc[start : start + size], k) for s, k in zip(series, kinds)]
                yield list(zip(*values))

        with self._ex.lock, self._ex.transaction():
            exists = self.table_exists(table)
            if exists and if_exists == "fail":
                raise ProgrammingError(
                    f"table {table!r} already exists; pass if_exists='append' or 'replace'"
                )
            if exists and if_exists == "replace":
                self.drop_table(table)
                exists = False
            types = self._dialect.transfer_types
            if exists:
                have = {c["name"] for c in self.get_columns(table)}
                unknown = [name for name in names if name not in have]
                if unknown and alter:
                    for name, kind in zip(names, kinds):
                        if name in unknown:
                            self.add_column(table, name, types[kind])
                elif unknown:
                    raise ProgrammingError(
                        f"table {table!r} has no column(s) {unknown}; its columns: {sorted(have)} "
                        "(alter=True adds them)"
                    )
            elif not create:
                raise ProgrammingError(f"no such table: {table!r} (pass create=True to create it)")
            else:
                keys = [pk] if isinstance(pk, str) else list(pk or ())
                missing = [k for k in keys if k not in names]
                if missing:
                    raise ArgumentError(f"pk column(s) {missing} are not columns of the DataFrame")
                self.create_table(
                    table, {name: types[kind] for name, kind in zip(names, kinds)}, primary_key=keys or None
                )
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
            copied = self._dialect.bulk_insert(self._ex, table, columns, rows, None, ())
            if copied is None:
                try:
                    cursor = self._ex.run(sql, rows, table=table, columns=columns, many=True)
                except OverflowError as exc:
                    raise DataError(f"a value for table {table!r} is out of range: {exc}") from exc
                copied = max(cursor.rowcount, 0)
            total += copied
        if set(columns).intersection(self._ex.primary_key(table)):
            self._dialect.after_explicit_keys(self._ex, table, columns)
        return total


def _regroup(
    first: list[tuple], chunks: Iterator[tuple[list[str], list[tuple]]], size: int
) -> Iterator[list[tuple]]:
    """The rows of ``first`` and of the streamed chunks after it, in lists of about ``size``."""
    pending = list(first)
    for _, rows in chunks:
        if len(pending) >= size:
            yield pending
            pending = []
        pending += rows
    yield pending


class _MultiInsert:
    """Inserts columns of values with ``INSERT … VALUES (…), (…), …`` statements of up to
    ``_VALUES_ROWS`` rows (within the dialect's parameter limit): far fewer statement steps than
    one row per statement, with the values bound from one flat list."""

    def __init__(self, db: TransferMixin, table: str, header: list[str]) -> None:
        n = db._dialect.max_identifier_length
        self.db, self.table, self.header = db, table, header
        self.width = len(header)
        self.one_row = db._insert_sql(table, header, n)
        self.head = f"INSERT INTO {quote(table, n)} ({quote_all(header, n)}) VALUES "
        self.row = "(" + ", ".join("?" * self.width) + ")"
        limit = db._dialect.parameter_limit(db._ex.conn)
        self.per = max(1, min(_VALUES_ROWS, limit // max(self.width, 1)))
        self.many = self._sql(self.per)

    def _sql(self, rows: int) -> str:
        return self.head + ", ".join([self.row] * rows)

    def __call__(self, columns: Sequence[Sequence[Any]]) -> int:
        """Insert the rows the columns hold; return how many were inserted."""
        width, count = self.width, len(columns[0]) if columns else 0
        values: list[Any] = [None] * (count * width)
        for i, column in enumerate(columns):
            values[i::width] = column
        step = self.per * width
        full = count // self.per * step
        done = 0
        run, context = self.db._ex.run, {"table": self.table, "columns": self.header}
        if full:
            chunks = (values[j : j + step] for j in range(0, full, step))
            done += max(run(self.many, chunks, many=True, **context).rowcount, 0)
        if full < len(values):
            done += max(run(self._sql((len(values) - full) // width), values[full:], **context).rowcount, 0)
        return done


class _Undo(Exception):
    """Raised to roll back a probing savepoint."""
