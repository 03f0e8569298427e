"""The database handle: statements, reads, writes, batches and transactions, for every backend.

Transaction policy, in two sentences: every public call is atomic — outside a transaction it is
its own transaction, inside one it undoes only itself when it fails (a savepoint where the
backend needs one), so the enclosing transaction stays usable. ``with db.transaction():`` commits
when the block ends and rolls everything back and re-raises when it raises; nested blocks are
savepoints.

One connection per handle. A lock serialises threads; a transaction holds it from begin to end,
so other threads wait for it rather than joining it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import groupby, islice, repeat
from operator import itemgetter
from time import perf_counter
from typing import Any

from .backup import BackupMixin
from .blobs import BlobMixin
from .dialects.base import Dialect
from .errors import (
    ArgumentError,
    ClosedError,
    Error,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    translate,
)
from .maintenance import MaintenanceMixin
from .schema import SchemaMixin
from .search import SearchMixin
from .sql import Params, Where, conflict_clause, limit_clause, order_clause, quote, quote_all, where_clause
from .transfer import TransferMixin

__all__ = ["Database", "Record", "Rows"]

Record = dict[str, Any]

_log = logging.getLogger("mngs.db")
_DEBUG = logging.DEBUG
_DDL = re.compile(r"\s*(create|alter|drop)\b", re.IGNORECASE)
_CONFLICT_ACTIONS = (None, "ignore", "update")


class Rows(list):  # type: ignore[type-arg]
    """The rows of a statement as a list of dicts, with the affected-row count as ``rowcount``."""

    def __init__(self, rows: Iterable[Record] = (), rowcount: int = -1) -> None:
        super().__init__(rows)
        self.rowcount = rowcount


def _dicts(names: list[str], rows: Iterable[tuple]) -> list[Record]:
    """Rows as plain dicts: the one row factory of the package."""
    return list(map(dict, map(zip, repeat(names), rows)))


_PLAIN_PARAMS = (list, tuple, dict)
_SCALARS = frozenset((int, float, str, bytes, bool))


def _check_params(params: Any) -> None:
    if params is None or type(params) in _PLAIN_PARAMS or isinstance(params, Mapping):
        return
    if isinstance(params, (str, bytes)) or not isinstance(params, Sequence):
        raise ArgumentError(
            f"params must be a list/tuple (for ?) or a dict (for :name), not {type(params).__name__}"
        )


def _getter(columns: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple]:
    if len(columns) == 1:
        key = columns[0]
        return lambda record: (record[key],)
    return itemgetter(*columns)


def _uniform_columns(batch: list[Any]) -> tuple[str, ...] | None:
    """The first record's keys when every record is a dict of as many keys (a cheap check in
    C; records that still differ make the fast path fail with KeyError), else None."""
    first = batch[0]
    if type(first) is not dict or not first:
        return None
    try:
        lengths = set(map(len, batch))
    except TypeError:  # a record without len(): the slow path names it
        return None
    return tuple(first) if lengths == {len(first)} else None


def _keyed_groups(
    batch: list[Any], table: str, arrange: Callable[[tuple[str, ...]], Sequence[str]] = tuple
) -> Iterator[tuple[tuple[str, ...], list[tuple]]]:
    """Split a batch of records into runs sharing the same keys.

    Yields ``(columns, value tuples)``; ``arrange`` turns a record's keys into the column order
    of the tuples (and may refuse them).
    """
    keys = _uniform_columns(batch)
    if keys is not None:
        columns = tuple(arrange(keys))
        try:
            rows = list(map(_getter(columns), batch))
        except (KeyError, TypeError):
            pass  # records differ in keys after all: slow path below
        else:
            yield columns, rows
            return
    for index, record in enumerate(batch):
        if not isinstance(record, Mapping):
            raise ArgumentError(
                f"record {index} for table {table!r} is a {type(record).__name__}, not a dict"
            )
    for keys, run in groupby(batch, key=tuple):
        records = list(run)
        columns = tuple(arrange(keys))
        yield columns, list(map(_getter(columns), records)) if columns else [()] * len(records)


class Database(SchemaMixin, TransferMixin, BackupMixin, MaintenanceMixin, BlobMixin, SearchMixin):
    """A connection to one database; create it with :class:`mngs.db.SQLite3` or
    :class:`mngs.db.PostgreSQL` (or :func:`mngs.db.connect`)."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._lock = threading.RLock()
        self._depth = 0
        self._cache: dict[Any, Any] = {}
        self._select_cache: dict[tuple, str] = {}  # generated SELECT text by arguments
        self._conn: Any = None
        try:
            self._conn = dialect.connect()
        except dialect.driver_error as exc:
            raise translate(exc, secrets=dialect.secrets(), cls=OperationalError) from exc

    # -- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection, rolling back an unfinished transaction. Closing twice is fine."""
        with self._lock:
            if self._conn is None:
                return
            while self._depth:
                self._end(commit=False)
            conn, self._conn = self._conn, None
            conn.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._conn is None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " (closed)" if self._conn is None else ""
        return f"<{type(self).__name__} {self._dialect.describe()}{state}>"

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._dialect.name

    # -- the one place statements run --------------------------------------------------
    def _run(
        self,
        sql: str,
        params: Any = None,
        *,
        table: str | None = None,
        columns: Sequence[str] | None = None,
        prepared: bool = False,
        many: bool = False,
    ) -> Any:
        """Execute one statement (or one statement for many rows) and return the cursor.

        ``prepared`` means ``sql`` is already in the driver's placeholder style.
        """
        conn = self._conn
        if conn is None:
            raise ClosedError(f"{self!r} is closed")
        if prepared:
            stmt = sql
        elif many:
            stmt = self._dialect.prepare(sql, ())[0]
        else:
            stmt, params = self._dialect.prepare(sql, params)
        debug = _log.isEnabledFor(_DEBUG)
        start = perf_counter() if debug else 0.0
        try:
            if many:
                cursor = conn.cursor()
                cursor.executemany(stmt, params)
            else:
                cursor = conn.execute(stmt, params)
        except (self._dialect.driver_error, UnicodeEncodeError) as exc:
            rows = params if many else [params or ()]
            raise self._error(exc, sql, table, columns, rows) from exc
        if debug:
            _log.debug("%.3f ms  %s", (perf_counter() - start) * 1000, " ".join(sql.split()))
        return cursor

    def _error(
        self,
        exc: BaseException,
        sql: str,
        table: str | None,
        columns: Sequence[str] | None,
        rows: Any,
    ) -> Error:
        column = None
        if columns and isinstance(rows, Sequence):
            column = self._dialect.blame_column(exc, columns, rows)
        return translate(
            exc,
            sql=sql,
            table=table,
            column=column,
            secrets=self._dialect.secrets(),
            cls=self._dialect.classify(exc),
        )

    @contextmanager
    def _translating(
        self, sql: str, *, table: str | None = None, columns: Sequence[str] = (), rows: Any = ()
    ) -> Iterator[None]:
        """Log and translate errors of driver calls made directly (COPY, backups)."""
        if self._conn is None:
            raise ClosedError(f"{self!r} is closed")
        start = perf_counter()
        try:
            yield
        except (self._dialect.driver_error, UnicodeEncodeError) as exc:
            raise self._error(exc, sql, table, columns, rows) from exc
        _log.debug("%.3f ms  %s", (perf_counter() - start) * 1000, " ".join(sql.split()))

    def _query(self, sql: str, params: Any = None) -> Rows:
        """Run a statement and return its rows as dicts (no transaction handling)."""
        cursor = self._run(sql, params)
        return self._rows(cursor)

    @staticmethod
    def _rows(cursor: Any) -> Rows:
        description = cursor.description
        if description is None:
            return Rows((), cursor.rowcount)
        names = [d[0] for d in description]
        return Rows(_dicts(names, cursor.fetchall()), cursor.rowcount)

    def _statement(self, sql: str, params: Any, **context: Any) -> Any:
        """Run one statement atomically under the transaction policy (a failed read inside a
        PostgreSQL transaction must not abort it either); return the cursor.

        Caller holds the lock."""
        if self._depth and not self._dialect.statement_rollback_is_atomic:
            with self.transaction():
                return self._run(sql, params, **context)
        return self._run(sql, params, **context)

    def _invalidate(self) -> None:
        """Forget cached schema facts (after DDL)."""
        self._cache.clear()
        self._select_cache.clear()

    def _check_columns(self, table: str, names: Iterable[str]) -> None:
        """Refuse unknown column names where the backend would not (SQLite reads an unknown
        double-quoted name as a string literal). Uses cached column names: no query per call."""
        if not self._dialect.quoted_unknown_is_literal:
            return
        key = ("columns", table)
        known = self._cache.get(key)
        if known is None:
            with self._lock:
                known = self._cache[key] = {c["name"] for c in self._dialect.get_columns(self, table)}
        if known:  # a missing table is reported by the statement itself
            for name in names:
                if name not in known:
                    quote(name, self._dialect.max_identifier_length)  # IdentifierError first
                    raise ProgrammingError(f"no such column: {name!r} in table {table!r}")

    def _where(self, table: str, where: Where, params: Params) -> tuple[str, Params]:
        """The WHERE clause and its values, with a dict condition's columns checked."""
        if isinstance(where, Mapping):
            self._check_columns(table, where)
        condition, values = where_clause(where, params, self._dialect.max_identifier_length)
        _check_params(values)
        return condition, values

    # -- transactions ------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """Run the block in a transaction (a savepoint when nested): commit when it ends,
        roll back and re-raise when it raises.

        >>> with db.transaction():
        ...     db.insert("accounts", {"name": "Alice", "balance": 1000})
        """
        self._begin()
        try:
            yield self
        except BaseException:
            self._end(commit=False)
            raise
        self._end(commit=True)

    def begin_transaction(self) -> None:
        """Open a transaction (a savepoint when one is open); end it with commit() or rollback()."""
        self._begin()

    def commit(self) -> None:
        """Commit the innermost open transaction; without one there is nothing to do."""
        with self._lock:
            if self._depth:
                self._end(commit=True)

    def rollback(self) -> None:
        """Roll back the innermost open transaction; without one there is nothing to do."""
        with self._lock:
            if self._depth:
                self._end(commit=False)

    @property
    def in_transaction(self) -> bool:
        """True while a transaction opened through this handle is open."""
        return self._depth > 0

    def _begin(self) -> None:
        self._lock.acquire()
        try:
            if self._depth == 0:
                self._run(self._dialect.begin_sql)
            else:
                self._run(f"SAVEPOINT mngs_{self._depth}")
        except BaseException:
            self._lock.release()
            raise
        self._depth += 1

    def _end(self, commit: bool) -> None:
        depth = self._depth - 1
        self._depth = depth
        try:
            if depth == 0:
                self._finish(commit)
            elif commit:
                self._run(f"RELEASE SAVEPOINT mngs_{depth}")
            else:
                self._quietly(f"ROLLBACK TO SAVEPOINT mngs_{depth}")
                self._quietly(f"RELEASE SAVEPOINT mngs_{depth}")
        finally:
            self._lock.release()

    def _finish(self, commit: bool) -> None:
        if not commit:
            self._quietly("ROLLBACK")
            return
        if self._dialect.in_failed_transaction(self._conn):
            self._quietly("ROLLBACK")
            raise OperationalError(
                "the transaction was aborted by an earlier error and has been rolled back"
            )
        try:
            self._run("COMMIT")
        except Error:
            self._quietly("ROLLBACK")
            raise

    def _quietly(self, sql: str) -> None:
        """Run a rollback step; a failure here must not hide the error being handled."""
        try:
            self._run(sql)
        except Error as exc:
            _log.warning("%s failed: %s", sql, exc)

    # -- statements --------------------------------------------------------------------
    def execute(self, sql: str, params: Params = None) -> Rows:
        """Run any one statement with ``?`` or ``:name`` placeholders bound to ``params``.

        Returns its rows as dicts (empty for statements that return none); the number of rows
        affected is ``.rowcount``.

        >>> db.execute("SELECT * FROM users WHERE id = ?", [1])
        [{'id': 1, 'name': 'Alice'}]
        """
        _check_params(params)
        with self._lock:
            rows = self._rows(self._statement(sql, params))
        if _DDL.match(sql):
            self._invalidate()
        return rows

    def executemany(self, sql: str, seq_of_params: Iterable[Params]) -> int:
        """Run one statement for each parameter set, atomically; return the rows affected."""
        with self._lock, self.transaction():
            total = 0
            for batch in self._batches(seq_of_params, None):
                cursor = self._run(sql, batch, many=True)
                total += max(cursor.rowcount, 0)
        return total

    # -- reading -----------------------------------------------------------------------
    def _select_sql(
        self,
        table: str,
        columns: Sequence[str] | None,
        where: Where,
        params: Params,
        order_by: str | Sequence[str] | None,
        limit: int | None,
        offset: int | None,
    ) -> tuple[str, Params]:
        if isinstance(columns, str):
            columns = [columns]
        if type(where) is str and where.strip():  # the common case, kept cheap: no dict to expand
            _check_params(params)
            condition, values = where, params
            where_key: Any = where
        elif type(where) is dict and where and params is None and _SCALARS.issuperset(
            map(type, where.values())
        ):  # equalities only: the clause depends on the keys alone (built and checked on a miss)
            values = list(where.values())
            where_key = ("=", *where)
            condition = ""
        else:
            condition, values = self._where(table, where, params)
            where_key = (condition,)  # never equal to a text where
        key = (
            table,
            None if columns is None else tuple(columns),
            where_key,
            order_by if order_by is None or type(order_by) is str else tuple(order_by),
            limit,
            offset,
        )
        sql = self._select_cache.get(key)
        if sql is None:
            if condition is where:
                condition = where_clause(where, params)[0]
            elif where_key[0] == "=":
                condition = self._where(table, where, params)[0]
            if columns:
                self._check_columns(table, columns)
            n = self._dialect.max_identifier_length
            names = quote_all(columns, n) if columns else "*"
            sql = (
                f"SELECT {names} FROM {quote(table, n)}{condition}{order_clause(order_by, n)}"
                f"{limit_clause(limit, offset, self._dialect.unlimited)}"
            )
            if len(self._select_cache) > 1000:
                self._select_cache.clear()
            self._select_cache[key] = sql
        return sql, values

    def select(
        self,
        table: str,
        columns: Sequence[str] | None = None,
        where: Where = None,
        params: Params = None,
        order_by: str | Sequence[str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[Record]:
        """Return the matching rows as dicts in column order.

        ``where`` is SQL text with ``?``/``:name`` placeholders bound to ``params``, or a dict
        of column → value.

        >>> db.select("users", columns=["name"], where="score > ?", params=[80], limit=10)
        [{'name': 'Alice Smith'}]
        """
        sql, values = self._select_sql(table, columns, where, params, order_by, limit, offset)
        with self._lock:
            if self._depth:
                cursor = self._statement(sql, values, table=table)
            else:
                cursor = self._run(sql, values, table=table)
            names = [d[0] for d in cursor.description]
            return _dicts(names, cursor.fetchall())

    def select_iter(
        self,
        table: str,
        columns: Sequence[str] | None = None,
        where: Where = None,
        params: Params = None,
        order_by: str | Sequence[str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        batch_size: int | None = None,
    ) -> Iterator[Record]:
        """Like :meth:`select`, but yield rows one by one in constant memory.

        >>> for row in db.select_iter("recordings"):
        ...     process(row)
        """
        sql, values = self._select_sql(table, columns, where, params, order_by, limit, offset)
        return self.query_iter(sql, values, batch_size=batch_size)

    def query_iter(
        self, sql: str, params: Params = None, batch_size: int | None = None
    ) -> Iterator[Record]:
        """Yield the rows of a query as dicts in constant memory (a server-side cursor on
        PostgreSQL). The handle stays locked to this thread until the iteration ends."""
        _check_params(params)
        size = batch_size or self._dialect.stream_size
        with self._lock:
            if self._conn is None:
                raise ClosedError(f"{self!r} is closed")
            stmt, bound = self._dialect.prepare(sql, params)
            use_transaction = self._dialect.stream_needs_transaction
            if use_transaction:
                self._begin()
            completed = False
            try:
                chunks = self._dialect.stream(self._conn, stmt, bound, size)
                while True:
                    try:
                        names, rows = next(chunks)
                    except StopIteration:
                        break
                    except self._dialect.driver_error as exc:
                        raise self._error(exc, sql, None, None, None) from exc
                    yield from _dicts(names, rows)
                completed = True
            except GeneratorExit:
                completed = True  # the caller stopped early: that is not a failure
                raise
            finally:
                if use_transaction:
                    self._end(commit=completed)

    def count(self, table: str, where: Where = None, params: Params = None) -> int:
        """Return the number of rows matching ``where`` (all rows when None)."""
        n = self._dialect.max_identifier_length
        condition, values = self._where(table, where, params)
        with self._lock:
            cursor = self._statement(
                f"SELECT COUNT(*) FROM {quote(table, n)}{condition}", values, table=table
            )
            return int(cursor.fetchone()[0])

    # -- writing -----------------------------------------------------------------------
    def _primary_key(self, table: str) -> tuple[str, ...]:
        key = ("pk", table)
        pk = self._cache.get(key)
        if pk is None:
            pk = self._cache[key] = self._dialect.primary_key(self, table)
        return pk

    def insert(self, table: str, data: Mapping[str, Any]) -> Any:
        """Insert one row and return its primary key (the rowid on SQLite tables without a
        single-column key; None on PostgreSQL ones). Missing columns get their defaults.

        >>> db.insert("users", {"name": "Alice", "score": 85.5})
        1
        """
        if not isinstance(data, Mapping):
            raise ArgumentError(f"data for table {table!r} must be a dict, not {type(data).__name__}")
        n = self._dialect.max_identifier_length
        columns = list(data)
        with self._lock:
            pk = self._primary_key(table)
            sql = self._insert_sql(table, columns, n)
            if len(pk) == 1:
                sql += f" RETURNING {quote(pk[0], n)}"
            try:
                cursor = self._statement(sql, list(data.values()), table=table, columns=columns)
            except Error:
                self._cache.pop(("pk", table), None)  # the table may not have existed yet
                raise
            new_id = cursor.fetchall()[0][0] if len(pk) == 1 else self._dialect.last_rowid(cursor)
            if pk and pk[0] in data:
                self._dialect.after_explicit_keys(self, table, columns)
        return new_id

    def insert_many(
        self,
        table: str,
        records: Iterable[Mapping[str, Any]],
        on_conflict: str | None = None,
        conflict_columns: Sequence[str] | None = None,
        batch_size: int | None = None,
    ) -> int:
        """Insert many rows atomically — if one fails, none is inserted — and return how many
        rows were written.

        ``records`` may be any iterable, a generator of millions included: it is consumed in
        batches of ``batch_size``. A key missing from a record gets the column's default.
        ``on_conflict="ignore"`` skips rows that violate a unique key; ``"update"`` overwrites
        the existing row (keyed on ``conflict_columns``, default the primary key).

        >>> db.insert_many("users", [{"name": "U1", "score": 75}, {"name": "U2", "score": 82}])
        2
        """
        if on_conflict not in _CONFLICT_ACTIONS:
            raise ArgumentError(f"on_conflict must be None, 'ignore' or 'update', not {on_conflict!r}")
        if isinstance(records, Mapping):
            raise ArgumentError("insert_many takes an iterable of dicts; use insert for one dict")
        target: Sequence[str] = ()
        with self._lock, self.transaction():
            if on_conflict == "update" or conflict_columns:
                target = tuple(conflict_columns or self._primary_key(table))
                if not target:
                    raise ArgumentError(
                        f"table {table!r} has no primary key: pass conflict_columns for on_conflict"
                    )
            total = 0
            written: set[str] = set()
            for batch in self._batches(records, batch_size):
                columns = _uniform_columns(batch)
                if columns:
                    # Fast path: every record looks alike, so rows are made lazily as the driver
                    # consumes them. In a savepoint: should records differ after all (or a value
                    # fail), it is undone and the batch redone below, record by record kind.
                    try:
                        with self.transaction():
                            rows = map(_getter(columns), batch)
                            total += self._bulk_write(table, columns, rows, on_conflict, target)
                        written.update(columns)
                        continue
                    except (KeyError, TypeError, Error):
                        pass
                for columns, rows in _keyed_groups(batch, table):
                    written.update(columns)
                    total += self._bulk_write(table, columns, rows, on_conflict, target)
            if written.intersection(self._primary_key(table)):
                self._dialect.after_explicit_keys(self, table, sorted(written))
        return total

    def _bulk_write(
        self,
        table: str,
        columns: Sequence[str],
        rows: Iterable[tuple],
        on_conflict: str | None,
        target: Sequence[str],
    ) -> int:
        """Write value tuples for ``columns`` by the dialect's bulk path, else executemany."""
        count = self._dialect.bulk_insert(self, table, columns, rows, on_conflict, target)
        if count is None:
            n = self._dialect.max_identifier_length
            sql = self._insert_sql(table, columns, n) + conflict_clause(columns, on_conflict, target, n)
            count = max(self._run(sql, rows, table=table, columns=columns, many=True).rowcount, 0)
        return count

    def _insert_sql(self, table: str, columns: Sequence[str], n: int | None) -> str:
        if not columns:
            return f"INSERT INTO {quote(table, n)} DEFAULT VALUES"
        return (
            f"INSERT INTO {quote(table, n)} ({quote_all(columns, n)}) "
            f"VALUES ({', '.join('?' * len(columns))})"
        )

    def _batches(self, records: Iterable[Any], batch_size: int | None) -> Iterator[list[Any]]:
        size = self._dialect.batch_size if batch_size is None else batch_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ArgumentError(f"batch_size must be a positive int, not {batch_size!r}")
        iterator = iter(records)
        while batch := list(islice(iterator, size)):
            yield batch

    def _require_where(self, action: str, table: str, where: Where, all_rows: bool) -> None:
        if all_rows:
            if where is not None:
                raise ArgumentError(f"{action} on {table!r}: pass either where or all_rows=True")
            return
        if where is None or (isinstance(where, str) and not where.strip()) or where == {}:
            raise ArgumentError(
                f"{action} on {table!r} without a where clause would touch every row; "
                "pass where=... or all_rows=True"
            )

    def update(
        self,
        table: str,
        data: Mapping[str, Any],
        where: Where = None,
        params: Params = None,
        *,
        all_rows: bool = False,
    ) -> int:
        """Set columns of the rows matching ``where`` and return how many rows changed.

        Without ``where`` it refuses, unless ``all_rows=True`` says every row is meant.

        >>> db.update("users", {"score": 90.0}, where="name = ?", params=["Alice Smith"])
        1
        """
        if not isinstance(data, Mapping) or not data:
            raise ArgumentError(f"update of {table!r} needs a non-empty dict of column values")
        self._require_where("update", table, where, all_rows)
        _check_params(params)
        n = self._dialect.max_identifier_length
        condition, values = self._where(table, where, params)
        columns = list(data)
        if isinstance(values, Mapping):
            names = [f"_mngs_set_{i}" for i in range(len(columns))]
            clash = set(names).intersection(values)
            if clash:
                raise ArgumentError(f"params may not use the reserved names {sorted(clash)}")
            sets = ", ".join(f"{quote(c, n)} = :{p}" for c, p in zip(columns, names))
            bound: Any = {**dict(zip(names, data.values())), **values}
        else:
            sets = ", ".join(f"{quote(c, n)} = ?" for c in columns)
            bound = [*data.values(), *(values or ())]
        sql = f"UPDATE {quote(table, n)} SET {sets}{condition}"
        with self._lock:
            cursor = self._statement(sql, bound, table=table, columns=columns)
            return cursor.rowcount

    def delete(
        self, table: str, where: Where = None, params: Params = None, *, all_rows: bool = False
    ) -> int:
        """Delete the rows matching ``where`` and return how many were deleted.

        Without ``where`` it refuses, unless ``all_rows=True`` says every row is meant.

        >>> db.delete("users", where="score < ?", params=[50])
        3
        """
        self._require_where("delete", table, where, all_rows)
        _check_params(params)
        n = self._dialect.max_identifier_length
        condition, values = self._where(table, where, params)
        with self._lock:
            cursor = self._statement(f"DELETE FROM {quote(table, n)}{condition}", values, table=table)
            return cursor.rowcount

    def update_many(
        self,
        table: str,
        records: Iterable[Mapping[str, Any]],
        key: str | Sequence[str] = "id",
        batch_size: int | None = None,
    ) -> int:
        """Update many rows atomically, each matched on ``key`` (a column or several), and
        return how many rows changed.

        >>> db.update_many("users", [{"id": 1, "score": 80}, {"id": 2, "score": 85}], key="id")
        2
        """
        keys = (key,) if isinstance(key, str) else tuple(key)
        if not keys:
            raise ArgumentError("update_many needs at least one key column")
        n = self._dialect.max_identifier_length
        condition = " AND ".join(f"{quote(k, n)} = ?" for k in keys)

        def arrange(columns: tuple[str, ...]) -> list[str]:
            missing = [k for k in keys if k not in columns]
            if missing:
                raise ArgumentError(f"update_many on {table!r}: a record lacks the key column(s) {missing}")
            return [*(c for c in columns if c not in keys), *keys]

        total = 0
        with self._lock, self.transaction():
            for batch in self._batches(records, batch_size):
                for order, rows in _keyed_groups(batch, table, arrange):
                    sets = order[: len(order) - len(keys)]
                    if not sets:
                        continue
                    count = self._dialect.bulk_update(self, table, sets, keys, rows)
                    if count is None:
                        sql = (
                            f"UPDATE {quote(table, n)} SET "
                            f"{', '.join(f'{quote(c, n)} = ?' for c in sets)} WHERE {condition}"
                        )
                        cursor = self._run(sql, rows, table=table, columns=order, many=True)
                        count = max(cursor.rowcount, 0)
                    total += count
        return total


def ensure_open(db: Database) -> None:
    """Raise :class:`InterfaceError` unless ``db`` is an open handle."""
    if not isinstance(db, Database):
        raise InterfaceError(f"expected a mngs.db handle, not {type(db).__name__}")
    if db.closed:
        raise ClosedError(f"{db!r} is closed")
