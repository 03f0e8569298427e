"""The database handle: statements, reads, writes, batches and transactions, for every backend.

Transaction policy, in two sentences: every public call is atomic — outside a transaction it is
its own transaction, inside one it undoes only itself when it fails (a savepoint where the
backend needs one), so the enclosing transaction stays usable. ``with db.transaction():`` commits
when the block ends and rolls everything back and re-raises when it raises; nested blocks are
savepoints.

One connection per handle, owned by its :class:`~mngs.db.executor.Executor`, which runs every
statement, enforces that policy, reconnects after a lost connection and holds the lock that
serialises threads (a transaction holds it from begin to end, so other threads wait for it
rather than joining it).
"""


import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from itertools import groupby, islice
from operator import itemgetter
from typing import Any

from .backup import BackupMixin
from .blobs import BlobMixin
from .dialects.base import Dialect
from .errors import (
    ArgumentError,
    ClosedError,
    Error,
    InterfaceError,
    NotFoundError,
    ProgrammingError,
    TransactionConflict,
)
from .executor import Executor, Record, Rows, dicts, retry_delays
from .inference import infer_columns
from .maintenance import MaintenanceMixin
from .schema import SchemaMixin
from .search import SearchMixin
from .sql import Params, Where, conflict_clause, limit_clause, order_clause, quote, quote_all, where_clause
from .transfer import TransferMixin

__all__ = ["Database", "Record", "Rows"]


_log = logging.getLogger("mngs.db")
_CONFLICT_ACTIONS = (None, "ignore", "update")


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
        self._grown: set[str] = set()  # tables created from data: later keys add columns
        self._ex = Executor(dialect, type(self).__name__)

    # -- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection, rolling back an unfinished transaction. Closing twice is fine.

        >>> db.close()
        >>> db.closed
        True
        """
        ex = self.__dict__.get("_ex")
        if ex is not None:
            ex.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called (a lost connection is reopened, not closed).

        >>> db.closed
        False
        """
        return self._ex.closed

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        dialect = self.__dict__.get("_dialect")
        where = dialect.describe() if dialect is not None else "(not connected)"
        ex = self.__dict__.get("_ex")
        state = " (closed)" if ex is None or ex.closed else ""
        return f"<{type(self).__name__} {where}{state}>"

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``.

        >>> db.backend
        'sqlite'
        """
        return self._dialect.name

    def _where(self, table: str, where: Where, params: Params) -> tuple[str, Params]:
        """The WHERE clause and its values, with a dict condition's columns checked."""
        if isinstance(where, Mapping):
            self._ex.check_columns(table, where)
        condition, values = where_clause(where, params, self._dialect.max_identifier_length)
        _check_params(values)
        return condition, values

    # -- transactions ------------------------------------------------------------------
    @contextmanager
    def transaction(self, isolation: str | None = None) -> Iterator["Database"]:
        """Run the block in a transaction (a savepoint when nested): commit when it ends,
        roll back and re-raise when it raises.

        ``isolation`` is ``"read committed"`` (PostgreSQL's default), ``"repeatable read"`` or
        ``"serializable"``; SQLite transactions are always serializable. To rerun a block that
        lost a serialization conflict, use :meth:`run_transaction`.

        >>> with db.transaction():
        ...     db.insert("accounts", {"name": "Alice", "balance": 1000})
        """
        with self._ex.transaction(isolation, user=True):
            yield self

    def run_transaction(
        self,
        fn: Callable[["Database"], Any],
        *,
        isolation: str | None = None,
        attempts: int = 20,
    ) -> Any:
        """Call ``fn(db)`` in a transaction and return its result, rerunning the whole call
        (with jittered backoff) when the database aborts it for a serialization failure or a
        deadlock; after ``attempts`` tries :class:`~mngs.db.TransactionConflict` is raised.

        ``fn`` may run more than once: keep effects outside the database out of it.

        >>> def transfer(db):
        ...     row = db.select("accounts", where={"id": 1}, for_update=True)[0]
        ...     db.update("accounts", {"balance": row["balance"] - 10}, where={"id": 1})
        >>> db.run_transaction(transfer, isolation="serializable")
        """
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ArgumentError(f"attempts must be a positive int, not {attempts!r}")
        if self._ex.in_transaction:
            raise ArgumentError(
                "run_transaction cannot run inside an open transaction: a conflict aborts the "
                "outer transaction too, so only the outermost block can be rerun"
            )
        delays = retry_delays(attempts)
        while True:
            try:
                with self.transaction(isolation):
                    return fn(self)
            except TransactionConflict as exc:
                delay = next(delays, None)
                if delay is None:
                    raise TransactionConflict(f"{exc} (gave up after {attempts} attempts)") from exc
                _log.info("transaction conflict (%s); rerunning in %.3f s", exc, delay)
                time.sleep(delay)

    def begin_transaction(self, isolation: str | None = None) -> None:
        """Open a transaction (a savepoint when one is open); end it with commit() or rollback().

        >>> db.begin_transaction()
        >>> db.insert("runs", {"name": "a"})
        >>> db.commit()
        """
        self._ex.begin(isolation, user=True)

    def commit(self) -> None:
        """Commit the innermost open transaction; without one there is nothing to do.

        >>> db.begin_transaction(); db.delete("runs", where={"name": "a"}); db.commit()
        """
        self._ex.commit()

    def rollback(self) -> None:
        """Roll back the innermost open transaction; without one there is nothing to do.

        >>> db.begin_transaction(); db.delete("users", all_rows=True); db.rollback()
        """
        self._ex.rollback()

    @property
    def in_transaction(self) -> bool:
        """True while a transaction opened through this handle is open.

        >>> with db.transaction():
        ...     db.in_transaction
        True
        """
        return self._ex.in_transaction

    # -- statements --------------------------------------------------------------------
    def execute(self, sql: str, params: Params = None) -> Rows:
        """Run any one statement with ``?`` or ``:name`` placeholders bound to ``params``.

        Returns its rows as dicts (empty for statements that return none); the number of rows
        affected is ``.rowcount``.

        >>> db.execute("SELECT * FROM users WHERE id = ?", [1])
        [{'id': 1, 'name': 'Alice'}]
        """
        _check_params(params)
        return self._ex.execute(sql, params)

    def executemany(self, sql: str, seq_of_params: Iterable[Params]) -> int:
        """Run one statement for each parameter set, atomically; return the rows affected.

        >>> db.executemany("UPDATE users SET score = ? WHERE id = ?", [[90, 1], [75, 2]])
        2
        """
        with self._ex.lock, self._ex.transaction():
            total = 0
            for batch in self._batches(seq_of_params, None):
                cursor = self._ex.run(sql, batch, many=True)
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
        sql = self._ex.select_cache.get(key)
        if sql is None:
            if condition is where:
                condition = where_clause(where, params)[0]
            elif where_key[0] == "=":
                condition = self._where(table, where, params)[0]
            if columns:
                self._ex.check_columns(table, columns)
            n = self._dialect.max_identifier_length
            order, ordered = order_clause(order_by, n, self._ex.column_names(table) if order_by else None)
            if ordered:
                self._ex.check_columns(table, ordered)
            names = quote_all(columns, n) if columns else "*"
            sql = (
                f"SELECT {names} FROM {quote(table, n)}{condition}{order}"
                f"{limit_clause(limit, offset, self._dialect.unlimited)}"
            )
            if len(self._ex.select_cache) > 1000:
                self._ex.select_cache.clear()
            self._ex.select_cache[key] = sql
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
        *,
        for_update: bool = False,
    ) -> list[Record]:
        """Return the matching rows as dicts in column order.

        ``where`` is SQL text with ``?``/``:name`` placeholders bound to ``params``, or a dict
        of column → value. ``for_update=True`` (inside a transaction) locks the rows until it
        ends, for read-modify-write: ``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the
        transaction already holds the database's write lock, so it adds nothing.

        >>> db.select("users", columns=["name"], where="score > ?", params=[80], limit=10)
        [{'name': 'Alice Smith'}]
        """
        sql, values = self._select_sql(table, columns, where, params, order_by, limit, offset)
        if for_update:
            if not self._ex.in_transaction:
                raise ArgumentError(
                    f"select(..., for_update=True) on {table!r} locks rows until the transaction "
                    "ends: call it inside `with db.transaction():`"
                )
            sql += self._dialect.for_update_sql
        ex = self._ex
        with ex.lock:
            cursor = ex.run(sql, values, table=table)
            names = [d[0] for d in cursor.description]
            return dicts(names, cursor.fetchall())

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
        PostgreSQL). The handle stays locked to this thread until the iteration ends.

        >>> for row in db.query_iter("SELECT id, name FROM users WHERE score > ?", [80]):
        ...     print(row["name"])
        """
        _check_params(params)
        return self._ex.stream(sql, params, batch_size or self._dialect.stream_size)

    def count(self, table: str, where: Where = None, params: Params = None) -> int:
        """Return the number of rows matching ``where`` (all rows when None).

        >>> db.count("users", where="score > ?", params=[80])
        2
        """
        n = self._dialect.max_identifier_length
        condition, values = self._where(table, where, params)
        with self._ex.lock:
            cursor = self._ex.run(
                f"SELECT COUNT(*) FROM {quote(table, n)}{condition}", values, table=table
            )
            return int(cursor.fetchone()[0])

    # -- writing -----------------------------------------------------------------------
    def insert(
        self,
        table: str,
        data: Mapping[str, Any],
        *,
        on_conflict: str | None = None,
        conflict_columns: Sequence[str] | None = None,
        create: bool = False,
        pk: str | Sequence[str] | None = None,
        alter: bool = False,
    ) -> Any:
        """Insert one row and return its primary key (the rowid on SQLite tables without a
        single-column key; None on PostgreSQL ones). Missing columns get their defaults.

        ``on_conflict="update"`` makes it an upsert (keyed on ``conflict_columns``, default
        the primary key); ``"ignore"`` leaves an existing row alone (and returns the key when
        ``data`` holds it, else None). ``create=True`` creates a missing table with column types
        inferred from ``data`` and primary key ``pk`` (an auto id when ``pk`` is not in
        ``data``); ``alter=True`` adds the columns the table lacks.

        >>> db.insert("users", {"name": "Alice", "score": 85.5})
        1
        >>> db.insert("runs", {"id": 7, "loss": 0.2}, create=True, pk="id", on_conflict="update")
        7
        """
        if not isinstance(data, Mapping):
            raise ArgumentError(f"data for table {table!r} must be a dict, not {type(data).__name__}")
        if on_conflict not in _CONFLICT_ACTIONS:
            raise ArgumentError(f"on_conflict must be None, 'ignore' or 'update', not {on_conflict!r}")
        n = self._dialect.max_identifier_length
        columns = list(data)
        with self._ex.lock, (self._ex.transaction() if create or alter else nullcontext()):
            if create or alter:
                self._fit_table(table, [data], create, pk, alter)
            key = self._ex.primary_key(table)
            sql = self._insert_sql(table, columns, n)
            if on_conflict or conflict_columns:
                target = self._conflict_target(table, on_conflict, conflict_columns)
                sql += conflict_clause(columns, on_conflict or "ignore", target, n)
            if len(key) == 1:
                sql += f" RETURNING {quote(key[0], n)}"
            try:
                cursor = self._ex.run(sql, list(data.values()), table=table, columns=columns)
            except Error:
                self._ex.cache.pop(("pk", table), None)  # the table may not have existed yet
                raise
            if len(key) == 1:
                returned = cursor.fetchall()
                new_id = returned[0][0] if returned else data.get(key[0])
            else:
                new_id = self._dialect.last_rowid(cursor) if not on_conflict else None
            if key and key[0] in data:
                self._dialect.after_explicit_keys(self._ex, table, columns)
        return new_id

    def _conflict_target(
        self, table: str, on_conflict: str | None, conflict_columns: Sequence[str] | None
    ) -> tuple[str, ...]:
        """The columns an upsert is keyed on: ``conflict_columns``, else the primary key for
        ``"update"``; none for ``"ignore"`` (any unique violation is skipped)."""
        if not (on_conflict == "update" or conflict_columns):
            return ()
        target = tuple(conflict_columns or self._ex.primary_key(table))
        if not target:
            raise ArgumentError(f"table {table!r} has no primary key: pass conflict_columns for on_conflict")
        return target

    def get(self, table: str, key: Any) -> Record:
        """Return the row whose primary key is ``key`` (a tuple for a composite key), or raise
        :class:`~mngs.db.NotFoundError`.

        >>> db.get("users", 1)
        {'id': 1, 'name': 'Alice', 'score': 85.5}
        """
        pk = self._ex.primary_key(table)
        if not pk:
            if not self.table_exists(table):
                raise ProgrammingError(f"no such table: {table!r}")
            raise ArgumentError(f"table {table!r} has no primary key: use select(where=...)")
        values = key if isinstance(key, tuple) else (key,)
        if len(values) != len(pk):
            raise ArgumentError(
                f"the primary key of {table!r} is {list(pk)}: pass {len(pk)} value(s), not {len(values)}"
            )
        rows = self.select(table, where=dict(zip(pk, values)), limit=1)
        if not rows:
            raise NotFoundError(f"no row of {table!r} has that primary key ({', '.join(pk)})", key)
        return rows[0]

    def _fit_table(
        self,
        table: str,
        records: Sequence[Mapping[str, Any]],
        create: bool,
        pk: str | Sequence[str] | None,
        alter: bool,
    ) -> None:
        """Make ``table`` hold ``records``: create it from their inferred types (``create``), or
        add the columns it lacks (``alter``, or a table this handle created from data)."""
        keys = (pk,) if isinstance(pk, str) else tuple(pk or ())
        known = self._ex.column_names(table, fresh=True)
        if not known:
            if not create:
                return  # the statement reports the missing table
            types = infer_columns(records, self._dialect.transfer_types)
            spec: dict[str, str] = {}
            auto = [k for k in keys if k not in types]
            if auto and len(keys) > 1:
                raise ArgumentError(f"pk columns {auto} of {table!r} are in no record")
            if len(keys) == 1 and (auto or types[keys[0]] in ("INTEGER", "BIGINT")):
                spec[keys[0]] = "INTEGER PRIMARY KEY"  # an auto id where none is given
                keys = ()
            for name, sqltype in types.items():
                spec.setdefault(name, sqltype)
            self.create_table(table, spec, primary_key=keys or None)
            self._grown.add(table)
            return
        if not (alter or table in self._grown):
            return
        missing = [r for r in records if any(name not in known for name in r)]
        if missing:
            for name, sqltype in infer_columns(missing, self._dialect.transfer_types).items():
                if name not in known:
                    self.add_column(table, name, sqltype)

    def insert_many(
        self,
        table: str,
        records: Iterable[Mapping[str, Any]],
        on_conflict: str | None = None,
        conflict_columns: Sequence[str] | None = None,
        batch_size: int | None = None,
        *,
        create: bool = False,
        pk: str | Sequence[str] | None = None,
        alter: bool = False,
    ) -> int:
        """Insert many rows atomically — if one fails, none is inserted — and return how many
        rows were written.

        ``records`` may be any iterable, a generator of millions included: it is consumed in
        batches of ``batch_size``. A key missing from a record gets the column's default.
        ``on_conflict="ignore"`` skips rows that violate a unique key; ``"update"`` overwrites
        the existing row (keyed on ``conflict_columns``, default the primary key).
        ``create=True`` creates a missing table with the column types inferred from the records
        (the same kinds as the CSV import) and primary key ``pk`` — an auto id when no record
        holds it — and a key first seen in a later record adds its column; ``alter=True`` adds
        the columns an existing table lacks.

        >>> db.insert_many("users", [{"name": "U1", "score": 75}, {"name": "U2", "score": 82}])
        2
        >>> db.insert_many("runs", [{"id": 1, "loss": 0.3}, {"id": 2, "loss": 0.2, "tag": "b"}],
        ...                create=True, pk="id")
        2
        """
        if on_conflict not in _CONFLICT_ACTIONS:
            raise ArgumentError(f"on_conflict must be None, 'ignore' or 'update', not {on_conflict!r}")
        if isinstance(records, Mapping):
            raise ArgumentError("insert_many takes an iterable of dicts; use insert for one dict")
        target: Sequence[str] | None = None
        with self._ex.lock, self._ex.transaction():
            total = 0
            written: set[str] = set()
            for batch in self._batches(records, batch_size):
                if create or alter:
                    self._fit_table(table, batch, create, pk, alter)
                if target is None:
                    target = self._conflict_target(table, on_conflict, conflict_columns)
                columns = _uniform_columns(batch)
                if columns:
                    # Fast path: every record looks alike, so rows are made lazily as the driver
                    # consumes them. In a savepoint: should records differ after all (or a value
                    # fail), it is undone and the batch redone below, record by record kind.
                    try:
                        with self._ex.transaction():
                            rows = map(_getter(columns), batch)
                            total += self._bulk_write(table, columns, rows, on_conflict, target)
                        written.update(columns)
                        continue
                    except (KeyError, TypeError, Error):
                        pass
                for columns, rows in _keyed_groups(batch, table):
                    written.update(columns)
                    total += self._bulk_write(table, columns, rows, on_conflict, target)
            if written.intersection(self._ex.primary_key(table)):
                self._dialect.after_explicit_keys(self._ex, table, sorted(written))
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
        count = self._dialect.bulk_insert(self._ex, table, columns, rows, on_conflict, target)
        if count is None:
            n = self._dialect.max_identifier_length
            sql = self._insert_sql(table, columns, n) + conflict_clause(columns, on_conflict, target, n)
            count = max(self._ex.run(sql, rows, table=table, columns=columns, many=True).rowcount, 0)
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
        with self._ex.lock:
            cursor = self._ex.run(sql, bound, table=table, columns=columns)
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
        with self._ex.lock:
            cursor = self._ex.run(f"DELETE FROM {quote(table, n)}{condition}", values, table=table)
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
        with self._ex.lock, self._ex.transaction():
            for batch in self._batches(records, batch_size):
                for order, rows in _keyed_groups(batch, table, arrange):
                    sets = order[: len(order) - len(keys)]
                    if not sets:
                        continue
                    count = self._dialect.bulk_update(self._ex, table, sets, keys, rows)
                    if count is None:
                        sql = (
                            f"UPDATE {quote(table, n)} SET "
                            f"{', '.join(f'{quote(c, n)} = ?' for c in sets)} WHERE {condition}"
                        )
                        cursor = self._ex.run(sql, rows, table=table, columns=order, many=True)
                        count = max(cursor.rowcount, 0)
                    total += count
        return total


def ensure_open(db: Database) -> None:
    """Raise :class:`InterfaceError` unless ``db`` is an open handle."""
    if not isinstance(db, Database):
        raise InterfaceError(f"expected a mngs.db handle, not {type(db).__name__}")
    if db.closed:
        raise ClosedError(f"{db!r} is closed")
