"""The executor: the one object that owns a handle's connection and runs every statement.

It holds the driver connection, the lock, the transaction depth and savepoints, and the schema
cache; it runs statements (one, many, streamed, or a driver call such as COPY), translates
driver errors, logs statements, and enforces the transaction policy in that one path. The
handle and the feature modules call it; the dialects receive it and never the handle.

Faults, in the order they are handled:

- **A lost connection** (server restarted, backend terminated, failover) outside a transaction
  is reopened by the next statement. A connection found dead *before* a statement is sent is
  reopened and the statement sent on the new one; a read that fails because the connection
  died is run again; a write that was sent has an unknown outcome, so it is never resent: it
  raises :class:`ConnectionLostError` and the next call reconnects. Inside a transaction the
  whole transaction is gone: every statement until the block ends raises
  :class:`ConnectionLostError`, and nothing of it was committed.
- **A busy SQLite database**: a statement refused with SQLITE_BUSY did nothing, so it is retried
  with jittered backoff until the handle's ``timeout`` has passed.
- **Inside a transaction the user opened**, a failed statement undoes only itself where the
  backend would otherwise abort the whole transaction (a savepoint around it).
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import repeat
from time import perf_counter
from typing import Any

from .dialects.base import Dialect
from .errors import (
    ArgumentError,
    ClosedError,
    ConnectionLostError,
    Error,
    OperationalError,
    ProgrammingError,
    translate,
)
from .sql import quote

_base_is_alive = Dialect.is_alive

__all__ = ["Executor", "Record", "Rows", "dicts"]

_log = logging.getLogger("mngs.db")
_DEBUG = logging.DEBUG
#: Statements that only read: safe to run again when the connection died under them.
_READ = re.compile(r"\s*(?:select|show|explain|values|table|pragma)\b", re.IGNORECASE)
_DDL = re.compile(r"\s*(create|alter|drop)\b", re.IGNORECASE)
#: Python errors raised while the driver adapts a value (an int beyond 64 bits on SQLite, JSON
#: nested too deep, a str that is not valid Unicode): bad values, translated as DataError.
_VALUE_ERRORS = (UnicodeEncodeError, OverflowError, RecursionError)
ISOLATION_LEVELS = ("read committed", "repeatable read", "serializable")


#: A row: column name → value.
Record = dict[str, Any]


class Rows(list):  # type: ignore[type-arg]
    """The rows of a statement as a list of dicts, with the affected-row count as ``rowcount``
    and the result's column names as ``columns`` (also when no row matched)."""

    def __init__(
        self, rows: Iterable[dict[str, Any]] = (), rowcount: int = -1, columns: Sequence[str] = ()
    ) -> None:
        super().__init__(rows)
        self.rowcount = rowcount
        self.columns = list(columns)


def dicts(names: list[str], rows: list[tuple]) -> list[dict[str, Any]]:
    """Rows as plain dicts: the one row factory of the package."""
    if len(rows) == 1:  # a point select: skip building the iterators
        return [dict(zip(names, rows[0]))]
    return list(map(dict, map(zip, repeat(names), rows)))


class Executor:
    """Owns one driver connection; every statement of a handle runs through :meth:`run`."""

    def __init__(self, dialect: Dialect, label: str = "Database") -> None:
        self.dialect = dialect
        self.label = label  # the handle's class name, for messages
        self.lock = threading.RLock()
        self.depth = 0
        #: Schema facts (columns, keys, sequences), cleared after DDL.
        self.cache: dict[Any, Any] = {}
        #: Generated SELECT text by the arguments that produced it.
        self.select_cache: dict[tuple, str] = {}
        self._levels: list[bool] = []  # per open level: True when the user opened it
        #: Statements in a user's transaction need a savepoint: an error would abort it.
        self._guard = not dialect.statement_rollback_is_atomic
        self._lost = False  # the open transaction died with its connection
        self._closed = False
        self._conn: Any = None
        self._conn = self._open()
        #: False when the dialect's connections never die under us (no check per statement).
        self._check_alive = type(dialect).is_alive is not _base_is_alive
        #: When the running statement was sent (monotonic), for the watchdog; None when idle.
        self._sent_at: float | None = None
        deadline = dialect.client_deadline()
        self._watched = deadline is not None
        if deadline is not None:
            _start_watchdog(self, deadline)

    # -- the connection ----------------------------------------------------------------
    def _open(self) -> Any:
        try:
            return self.dialect.connect()
        except self.dialect.driver_error as exc:
            self.dialect.scrub(exc)
            failure = translate(exc, secrets=self.dialect.secrets(), cls=OperationalError)
        raise failure from None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called (a lost connection is not closed)."""
        return self._closed

    @property
    def conn(self) -> Any:
        """The live driver connection, reopened first when it was lost outside a transaction."""
        if self._closed:
            raise ClosedError(f"<{self.label} {self.dialect.describe()}> is closed")
        if self.depth:
            if self._lost:
                raise self._lost_transaction()
            if self._conn is None or not self.dialect.is_alive(self._conn):
                raise self._connection_lost("before a statement was sent")
            return self._conn
        if self._conn is None or not self.dialect.is_alive(self._conn):
            self._reconnect()
        return self._conn

    def _reconnect(self) -> None:
        if self._conn is not None:
            _log.warning("connection to %s lost; reconnecting", self.dialect.describe())
        self._discard()
        self._conn = self._open()
        self.cache.clear()  # another server may answer now (failover): re-read its schema

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - a dead connection may fail to close; it is gone
                pass

    def close(self) -> None:
        """Roll back an unfinished transaction and close the connection; idempotent."""
        with self.lock:
            if self._closed:
                return
            while self.depth:
                self._end(commit=False)
            self._closed = True
            self._discard()

    def _connection_lost(self, what: str) -> ConnectionLostError:
        """Forget a connection found dead and return the error to raise: inside a transaction,
        the transaction is gone (every call raises until its block ends); outside one, ``what``
        was cut short and the next call reconnects."""
        self._discard()
        if self.depth:
            self._lost = True
            return self._lost_transaction()
        return ConnectionLostError(
            f"the connection to {self.dialect.describe()} was lost {what}; the next call reconnects"
        )

    def _lost_transaction(self) -> ConnectionLostError:
        return ConnectionLostError(
            f"the connection to {self.dialect.describe()} was lost inside a transaction: the "
            "transaction is gone and none of it was committed; the handle reconnects once the "
            "transaction block ends"
        )

    # -- running statements ------------------------------------------------------------
    def run(
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

        ``prepared`` means ``sql`` is already in the driver's placeholder style. Inside a
        transaction the user opened, on a backend where an error aborts the transaction, the
        statement runs in a savepoint so that its failure undoes only itself.
        """
        if self.depth and self._guard and self._levels[-1]:
            with self.transaction():
                return self._execute(sql, params, table, columns, prepared, many)
        return self._execute(sql, params, table, columns, prepared, many)

    def _execute(
        self,
        sql: str,
        params: Any,
        table: str | None,
        columns: Sequence[str] | None,
        prepared: bool,
        many: bool,
    ) -> Any:
        if prepared:
            stmt = sql
        elif many:
            stmt = self.dialect.prepare(sql, ())[0]
        else:
            try:
                stmt, params = self.dialect.prepare(sql, params)
            except self.dialect.driver_error as exc:  # a value refused before it is sent
                failure = self.error(exc, sql, table, columns, [params or ()])
                raise failure from None
        debug = _log.isEnabledFor(_DEBUG)
        start = perf_counter() if debug else 0.0
        conn = self._conn
        if conn is None or self._check_alive:
            conn = self.conn
        if self._watched:
            self._sent_at = time.monotonic()
        try:
            if many:
                cursor = _send(conn, stmt, params, many)
            else:
                cursor = conn.execute(stmt, params)  # the hot path, without a call in between
        except (self.dialect.driver_error, *_VALUE_ERRORS) as exc:
            self._sent_at = None
            cursor = self._recover(exc, conn, sql, stmt, params, table, columns, many)
        self._sent_at = None
        if debug:
            _log.debug("%.3f ms  %s", (perf_counter() - start) * 1000, " ".join(sql.split()))
        return cursor

    def _recover(
        self,
        exc: BaseException,
        conn: Any,
        sql: str,
        stmt: str,
        params: Any,
        table: str | None,
        columns: Sequence[str] | None,
        many: bool,
    ) -> Any:
        """Handle a failed statement: send it again where that is certainly safe (busy,
        a read on a lost connection, a pooler's lost prepared statement), else raise."""
        deadline: float | None = None
        attempt = 0
        while True:
            fault = self.dialect.fault(exc, conn)
            if fault == "busy" and self.dialect.retry_busy(stmt, self.depth):
                if deadline is None:
                    deadline = time.monotonic() + self.dialect.busy_timeout()
                if time.monotonic() >= deadline:
                    break
                attempt += 1
                time.sleep(random.uniform(0.001, 0.004) * 2 ** min(attempt, 5))
            elif fault == "lost":
                if self.depth or many or attempt or not _READ.match(sql):
                    raise self._connection_lost(
                        f"while a statement was running [statement: {_preview(sql)}]: it may or "
                        "may not have taken effect and was not sent again"
                    ) from None
                self._discard()
                attempt += 1  # a read: run it again on a new connection
            elif fault == "unprepared" and not self.depth and not attempt:
                attempt += 1  # the dialect stopped preparing statements (a pooler): send again
            else:
                break
            conn = self.conn
            try:
                return _send(conn, stmt, params, many)
            except (self.dialect.driver_error, *_VALUE_ERRORS) as again:
                exc = again
        rows = params if many else [params or ()]
        raise self.error(exc, sql, table, columns, rows) from None

    def _control(self, sql: str) -> None:
        """Run a transaction-control statement (BEGIN, SAVEPOINT, COMMIT, ...) as it is."""
        self._execute(sql, None, None, None, False, False)

    def error(
        self,
        exc: BaseException,
        sql: str | None,
        table: str | None,
        columns: Sequence[str] | None,
        rows: Any,
    ) -> Error:
        """The package error for driver exception ``exc`` (the caller raises it)."""
        self.dialect.scrub(exc)
        column = None
        if columns and isinstance(rows, Sequence):
            column = self.dialect.blame_column(exc, columns, rows)
        return translate(
            exc,
            sql=sql,
            table=table,
            column=column,
            secrets=self.dialect.secrets(),
            cls=self.dialect.classify(exc),
        )

    @contextmanager
    def translating(
        self, sql: str, *, table: str | None = None, columns: Sequence[str] = (), rows: Any = ()
    ) -> Iterator[Any]:
        """Run driver calls made directly on the connection (COPY, backups): yield the live
        connection, log the call, translate its errors (a lost connection included)."""
        if self.depth and self._guard and self._levels[-1]:
            with self.transaction(), self._translating(sql, table, columns, rows) as conn:
                yield conn
        else:
            with self._translating(sql, table, columns, rows) as conn:
                yield conn

    @contextmanager
    def _translating(self, sql: str, table: str | None, columns: Sequence[str], rows: Any) -> Iterator[Any]:
        conn = self.conn
        start = perf_counter()
        if self._watched:
            self._sent_at = time.monotonic()
        try:
            yield conn
        except (self.dialect.driver_error, *_VALUE_ERRORS) as exc:
            self._sent_at = None
            if self.dialect.fault(exc, conn) == "lost":
                raise self._connection_lost(f"during {_preview(sql)}") from None
            raise self.error(exc, sql, table, columns, rows) from None
        finally:
            self._sent_at = None
        _log.debug("%.3f ms  %s", (perf_counter() - start) * 1000, " ".join(sql.split()))

    def query(self, sql: str, params: Any = None) -> Rows:
        """Run a statement and return its rows as dicts."""
        return self.rows(self.run(sql, params))

    @staticmethod
    def rows(cursor: Any) -> Rows:
        """The rows of an executed cursor as :class:`Rows`."""
        description = cursor.description
        if description is None:
            return Rows((), cursor.rowcount)
        names = [d[0] for d in description]
        return Rows(dicts(names, cursor.fetchall()), cursor.rowcount, names)

    def execute(self, sql: str, params: Any = None) -> Rows:
        """Run any one statement for the user; forget cached schema facts after DDL."""
        with self.lock:
            rows = self.rows(self.run(sql, params))
        if _DDL.match(sql):
            self.invalidate()
        return rows

    def stream(self, sql: str, params: Any, size: int) -> Iterator[dict[str, Any]]:
        """Yield a query's rows as dicts in bounded memory; the lock is held until the end."""
        with self.lock:
            stmt, bound = self.dialect.prepare(sql, params)
            use_transaction = self.dialect.stream_needs_transaction
            if use_transaction:
                self.begin()
            completed = False
            try:
                conn = self.conn
                chunks = self.dialect.stream(conn, stmt, bound, size)
                while True:
                    try:
                        names, rows = next(chunks)
                    except StopIteration:
                        break
                    except self.dialect.driver_error as exc:
                        if self.dialect.fault(exc, conn) == "lost":
                            raise self._connection_lost("while rows were streamed") from None
                        raise self.error(exc, sql, None, None, None) from None
                    yield from dicts(names, rows)
                completed = True
            except GeneratorExit:
                completed = True  # the caller stopped early: that is not a failure
                raise
            finally:
                if use_transaction:
                    self._end(commit=completed)

    # -- transactions ------------------------------------------------------------------
    @contextmanager
    def transaction(self, isolation: str | None = None, *, user: bool = False) -> Iterator[None]:
        """Run the block in a transaction (a savepoint when nested): commit when it ends, roll
        back and re-raise when it raises. ``user`` marks a block the user opened."""
        self.begin(isolation, user=user)
        try:
            yield
        except BaseException:
            self._end(commit=False)
            raise
        self._end(commit=True)

    @property
    def in_transaction(self) -> bool:
        return self.depth > 0

    def begin(self, isolation: str | None = None, *, user: bool = False) -> None:
        """Open a transaction, or a savepoint inside one; the lock is held until it ends."""
        level = _isolation(isolation)
        self.lock.acquire()
        try:
            if self.depth == 0:
                self._lost = False
                self._control(self.dialect.begin_statement(level))
            else:
                if level is not None:
                    raise ArgumentError(
                        "isolation= applies to an outermost transaction; this block is nested"
                    )
                self._control(f"SAVEPOINT mngs_{self.depth}")
        except BaseException:
            self.lock.release()
            raise
        self.depth += 1
        self._levels.append(user)

    def commit(self) -> None:
        """Commit the innermost open transaction; without one there is nothing to do."""
        with self.lock:
            if self.depth:
                self._end(commit=True)

    def rollback(self) -> None:
        """Roll back the innermost open transaction; without one there is nothing to do."""
        with self.lock:
            if self.depth:
                self._end(commit=False)

    def _end(self, commit: bool) -> None:
        depth = self.depth - 1
        try:
            if self._lost:
                if commit:
                    raise self._lost_transaction()
            elif depth == 0:
                self._finish(commit)
            elif commit:
                self._control(f"RELEASE SAVEPOINT mngs_{depth}")
            else:
                self._quietly(f"ROLLBACK TO SAVEPOINT mngs_{depth}")
                self._quietly(f"RELEASE SAVEPOINT mngs_{depth}")
        finally:
            self.depth = depth  # only now: COMMIT must never run on a reopened connection
            self._levels.pop()
            if depth == 0:
                self._lost = False
            self.lock.release()

    def _finish(self, commit: bool) -> None:
        if not commit:
            self._quietly("ROLLBACK")
            return
        if self._conn is not None and self.dialect.in_failed_transaction(self._conn):
            self._quietly("ROLLBACK")
            raise OperationalError(
                "the transaction was aborted by an earlier error and has been rolled back"
            )
        self.conn  # noqa: B018 - found dead before COMMIT is sent: nothing was committed
        try:
            self._control("COMMIT")
        except ConnectionLostError:
            raise ConnectionLostError(
                f"the connection to {self.dialect.describe()} was lost while the transaction "
                "was committing: the server may or may not have committed it"
            ) from None
        except Error:
            self._quietly("ROLLBACK")
            raise

    def _quietly(self, sql: str) -> None:
        """Run a rollback step; a failure here must not hide the error being handled."""
        if self._conn is None:
            return  # the connection is gone, and the transaction with it
        try:
            self._control(sql)
        except Error as exc:
            _log.warning("%s failed: %s", sql, exc)

    # -- the schema cache --------------------------------------------------------------
    def invalidate(self) -> None:
        """Forget cached schema facts (after DDL)."""
        self.cache.clear()
        self.select_cache.clear()

    def primary_key(self, table: str) -> tuple[str, ...]:
        """The table's primary key columns (cached; empty when it has none)."""
        key = ("pk", table)
        pk = self.cache.get(key)
        if pk is None:
            quote(table, self.dialect.max_identifier_length)  # a bad name is refused first
            with self.lock:
                pk = self.cache[key] = self.dialect.primary_key(self, table)
        return pk  # type: ignore[no-any-return]

    def column_names(self, table: str, *, fresh: bool = False) -> set[str]:
        """The table's column names (cached; empty when there is no such table)."""
        key = ("columns", table)
        known = None if fresh else self.cache.get(key)
        if known is None:
            with self.lock:
                known = self.cache[key] = {c["name"] for c in self.dialect.get_columns(self, table)}
        return known  # type: ignore[no-any-return]

    def check_columns(self, table: str, names: Iterable[str], *, always: bool = False) -> None:
        """Refuse unknown column names where the backend would not (SQLite reads an unknown
        double-quoted name as a string literal), or everywhere with ``always``. Cached; a miss
        re-reads the catalog once, since another handle may have added the column."""
        if not (always or self.dialect.quoted_unknown_is_literal):
            return
        names = list(names)
        unknown: list[str] = []
        for fresh in (False, True):
            known = self.column_names(table, fresh=fresh)
            if not known:  # a missing table is reported by the statement itself
                return
            unknown = [name for name in names if name not in known]
            if not unknown:
                return
        for name in unknown:
            quote(name, self.dialect.max_identifier_length)  # IdentifierError first
        raise ProgrammingError(f"no such column: {unknown[0]!r} in table {table!r}")


def _send(conn: Any, stmt: str, params: Any, many: bool) -> Any:
    """Hand one statement (or one statement for many rows) to the driver; return the cursor."""
    if many:
        cursor = conn.cursor()
        cursor.executemany(stmt, params)
        return cursor
    return conn.execute(stmt, params)


def _start_watchdog(executor: Executor, deadline: float) -> None:
    """Watch ``executor`` from a daemon thread: a statement still unanswered ``deadline``
    seconds after it was sent (the server froze, so its own statement_timeout cannot fire)
    has its connection's socket shut down, which ends the wait as a lost connection."""
    ref = weakref.ref(executor)

    def watch() -> None:
        while True:
            time.sleep(min(0.25, deadline / 4))
            ex = ref()
            if ex is None or ex._closed:
                return
            sent, conn = ex._sent_at, ex._conn
            if sent is not None and conn is not None and time.monotonic() - sent > deadline:
                _log.warning("no answer from %s for %.1f s: dropping the connection",
                             ex.dialect.describe(), deadline)
                ex._sent_at = None
                ex.dialect.abort(conn)
            del ex

    threading.Thread(target=watch, name="mngs.db watchdog", daemon=True).start()


def _isolation(level: str | None) -> str | None:
    if level is None:
        return None
    normal = " ".join(str(level).lower().replace("_", " ").split())
    if normal not in ISOLATION_LEVELS:
        raise ArgumentError(f"isolation must be one of {', '.join(ISOLATION_LEVELS)}; not {level!r}")
    return normal


def _preview(sql: str) -> str:
    statement = " ".join(sql.split())
    return statement if len(statement) <= 120 else statement[:120] + " …"


def retry_delays(attempts: int) -> Iterator[float]:
    """Backoff before each rerun of a conflicting transaction: jittered, doubling, capped."""
    for attempt in range(attempts - 1):
        yield random.uniform(0, min(0.5, 0.005 * 2**attempt))

