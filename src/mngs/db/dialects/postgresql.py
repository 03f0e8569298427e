"""PostgreSQL through psycopg 3 (imported only when a PostgreSQL handle is opened)."""

from __future__ import annotations

import itertools
import os
import re
import select
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .. import codecs
from ..errors import (
    ArgumentError,
    DataError,
    Error,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    ReadOnlyError,
    TransactionConflict,
)
from ..placeholders import is_stacked, to_pyformat
from ..reflection import ColumnInfo, ForeignKeyInfo, IndexInfo
from ..sql import conflict_clause, index_name, quote, quote_all
from .base import Dialect

if TYPE_CHECKING:
    from pathlib import Path

    from ..executor import Executor

__all__ = ["PostgreSQLDialect"]

#: libpq parameters given a default unless the DSN (or the environment variable) sets them:
#: a bounded connect, and TCP keepalives so that a server that vanished is noticed in about a
#: minute instead of the kernel's two hours.
_CONNECT_DEFAULTS = (
    ("connect_timeout", "PGCONNECT_TIMEOUT", "10"),
    ("keepalives", None, "1"),
    ("keepalives_idle", None, "30"),
    ("keepalives_interval", None, "10"),
    ("keepalives_count", None, "3"),
    ("tcp_user_timeout", None, "60000"),
)
#: How long after statement_timeout the client abandons a statement the server did not cancel.
_CLIENT_GRACE_S = 5.0
#: SQLSTATEs meaning the server ended the connection (shutdown, crash, terminated backend).
_LOST_STATES = frozenset({"57P01", "57P02", "57P03"})
_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
_cursor_ids = itertools.count(1)
_stage_ids = itertools.count(1)

_COLUMNS_SQL = """
SELECT a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       NOT a.attnotnull AS nullable,
       pg_get_expr(d.adbin, d.adrelid) AS "default",
       COALESCE(a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1]), false) AS primary_key
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

_INDEXES_SQL = """
SELECT ic.relname AS name, ix.indisunique AS "unique", ix.indisprimary AS "primary",
       ARRAY(SELECT CASE WHEN ix.indkey[k] = 0
                         THEN pg_get_indexdef(ix.indexrelid, k + 1, true)
                         ELSE (SELECT attname FROM pg_attribute
                               WHERE attrelid = ix.indrelid AND attnum = ix.indkey[k]) END
             FROM generate_series(0, ix.indnkeyatts - 1) AS k ORDER BY k) AS columns
FROM pg_index ix JOIN pg_class ic ON ic.oid = ix.indexrelid
WHERE ix.indrelid = to_regclass(%s)
ORDER BY ic.relname
"""

_FOREIGN_KEYS_SQL = """
SELECT con.conname AS name,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
             ORDER BY k.ord) AS columns,
       ref.relname AS referred_table,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY AS k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
             ORDER BY k.ord) AS referred_columns,
       con.confupdtype AS on_update, con.confdeltype AS on_delete
FROM pg_constraint con JOIN pg_class ref ON ref.oid = con.confrelid
WHERE con.conrelid = to_regclass(%s) AND con.contype = 'f'
ORDER BY con.conname
"""

#: A column default drawing from a sequence, as pg_get_expr renders it.
_NEXTVAL = re.compile(r"nextval\('(?:[^']|'')+'::regclass\)")

_SEQUENCES_SQL = """
SELECT attname, seq FROM (
    SELECT a.attname, pg_get_serial_sequence(%s, a.attname) AS seq
    FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
) AS s WHERE seq IS NOT NULL
"""

_SETVAL_SQL = """
SELECT setval(%s::regclass, GREATEST(m, COALESCE(pg_sequence_last_value(%s::regclass), 0)))
FROM (SELECT max({col}) AS m FROM {table}) AS s WHERE m IS NOT NULL
"""


#: Objects that need a column, each with a description when dropping the column must be
#: refused (else NULL: the object goes with the column).
_DROP_DEPENDENTS_SQL = """
WITH col AS (
    SELECT attrelid AS rel, attnum AS num FROM pg_attribute
    WHERE attrelid = to_regclass(?) AND attname = ? AND NOT attisdropped
)
SELECT CASE
    WHEN d.classid = 'pg_rewrite'::regclass THEN
        (SELECT 'view ' || quote_literal(ev_class::regclass::text) FROM pg_rewrite WHERE oid = d.objid)
    WHEN d.classid = 'pg_trigger'::regclass THEN
        (SELECT 'trigger ' || quote_literal(tgname) FROM pg_trigger WHERE oid = d.objid)
    WHEN d.classid = 'pg_attrdef'::regclass THEN
        (SELECT 'column ' || quote_literal(a.attname) || ' (generated)' FROM pg_attrdef ad
         JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum WHERE ad.oid = d.objid)
    WHEN d.classid = 'pg_constraint'::regclass THEN
        (SELECT 'constraint ' || quote_literal(con.conname) || ' of '
                || quote_literal(con.conrelid::regclass::text)
         FROM pg_constraint con WHERE con.oid = d.objid AND (
             con.conrelid <> col.rel
             OR (con.contype = 'f' AND con.confrelid = col.rel
                 AND col.num = ANY (con.confkey) AND NOT col.num = ANY (con.conkey))
             OR (col.num = ANY (con.conkey) AND cardinality(con.conkey) > 1)))
    WHEN d.classid = 'pg_class'::regclass THEN
        (SELECT 'index ' || quote_literal(c.relname) FROM pg_class c WHERE c.oid = d.objid
         AND c.relkind IN ('i', 'I') AND (
             SELECT count(DISTINCT d2.refobjsubid) FROM pg_depend d2
             WHERE d2.classid = d.classid AND d2.objid = d.objid AND d2.refobjid = col.rel
             AND d2.refobjsubid > 0) > 1)
END AS what
FROM col JOIN pg_depend d
  ON d.refclassid = 'pg_class'::regclass AND d.refobjid = col.rel AND d.refobjsubid = col.num
WHERE d.deptype IN ('a', 'n')
"""


class PostgreSQLDialect(Dialect):
    """A PostgreSQL server; connection parameters follow libpq, ``PG*`` variables included."""

    name = "postgresql"
    max_identifier_length = 63
    reserved_column_names = frozenset({"ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"})
    statement_rollback_is_atomic = False  # an error aborts the whole transaction
    stream_needs_transaction = True  # server-side cursors live in a transaction
    batch_size = 50_000  # each COPY costs a round trip: fewer, larger batches (memory stays bounded)
    type_rewrites = (
        (r"\binteger\s+primary\s+key\s+autoincrement\b", "BIGSERIAL PRIMARY KEY"),
        (r"\s*\bautoincrement\b", ""),
        # SQLite's INTEGER PRIMARY KEY is an auto-assigned 64-bit rowid: keep that meaning.
        (r"^\s*integer\s+primary\s+key\b", "BIGSERIAL PRIMARY KEY"),
        (r"^\s*datetime\b", "TIMESTAMP"),
        (r"^\s*blob\b", "BYTEA"),
        (r"^\s*real\b", "DOUBLE PRECISION"),  # SQLite's REAL is 8 bytes; PostgreSQL's is 4
    )

    def __init__(
        self,
        dsn: str | None = None,
        *,
        statement_timeout: float | None = None,
        read_only: bool = False,
        prepare_threshold: int | None | str = "auto",
        **params: Any,
    ) -> None:
        super().__init__()
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        self._psycopg = psycopg
        self.driver_error = psycopg.Error
        given = {k: v for k, v in params.items() if v is not None}
        try:
            conninfo = conninfo_to_dict(make_conninfo(dsn or "", **given))
        except (psycopg.Error, TypeError, ValueError):
            # The driver's message quotes the text it could not parse: a password, perhaps.
            problem = "malformed PostgreSQL connection string"
        else:
            problem = None
        if problem:
            raise ArgumentError(
                f"{problem}: libpq could not parse the dsn/keywords (check quoting of values "
                "with spaces as key='a b', and %-escapes in a postgresql:// URL)"
            )
        for key, env, default in _CONNECT_DEFAULTS:
            if key not in conninfo and (env is None or env not in os.environ):
                conninfo[key] = default
        settings = []
        if statement_timeout is not None:
            if isinstance(statement_timeout, bool) or not isinstance(statement_timeout, (int, float)):
                raise ArgumentError(f"statement_timeout must be seconds, not {statement_timeout!r}")
            if statement_timeout <= 0:
                raise ArgumentError("statement_timeout must be > 0 seconds (None: no limit)")
            settings.append(f"-c statement_timeout={max(1, round(statement_timeout * 1000))}")
        if read_only:
            settings.append("-c default_transaction_read_only=on")
        if settings:
            conninfo["options"] = " ".join([str(conninfo.get("options") or ""), *settings]).strip()
        self._conninfo = make_conninfo("", **conninfo)
        self.statement_timeout = statement_timeout
        self.read_only = bool(read_only)
        if prepare_threshold != "auto" and prepare_threshold is not None and (
            isinstance(prepare_threshold, bool) or not isinstance(prepare_threshold, int)
        ):
            raise ArgumentError(
                f"prepare_threshold must be 'auto', None or an int, not {prepare_threshold!r}"
            )
        #: psycopg's: after how many runs a statement is prepared; None never. "auto" keeps
        #: psycopg's default until a pooler is seen losing prepared statements, then None.
        self.prepare_threshold = prepare_threshold
        password = conninfo.get("password")
        self._secrets = tuple(str(p) for p in (password, os.environ.get("PGPASSWORD")) if p)
        self._info = "?"

    def connect(self) -> Any:
        kwargs: dict[str, Any] = {}
        if self.prepare_threshold != "auto":
            kwargs["prepare_threshold"] = self.prepare_threshold
        conn = self._psycopg.connect(self._conninfo, autocommit=True, **kwargs)
        codecs.register_postgresql(conn)
        if conn.info.parameter_status("standard_conforming_strings") != "on":
            conn.execute("SET standard_conforming_strings = on")  # quotes as our scanner reads them
        info = conn.info
        self._info = f"{info.user}@{info.host}:{info.port}/{info.dbname}"
        if self.read_only:
            self._info += " (read-only)"
        return conn

    def describe(self) -> str:
        return self._info

    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def is_alive(self, conn: Any) -> bool:
        """Cheap: the socket of an idle connection has something to read only when the server
        spoke first — a notice, or (almost always) its goodbye when it shut down or the backend
        was terminated. Read it: if that reveals the end of the connection, it is dead."""
        if conn.closed or conn.broken:
            return False
        pgconn = conn.pgconn
        try:
            for _ in range(2):
                if not select.select([pgconn.socket], (), (), 0)[0]:
                    return True
                pgconn.consume_input()
                if pgconn.status != self._psycopg.pq.ConnStatus.OK:
                    return False
        except (OSError, ValueError, self._psycopg.Error):
            return False
        return True

    def client_deadline(self) -> float | None:
        # The server cancels a statement at statement_timeout; a server that froze cannot,
        # so the client gives up a little later.
        if self.statement_timeout is None:
            return None
        return float(self.statement_timeout) + _CLIENT_GRACE_S

    def abort(self, conn: Any) -> None:
        try:
            sock = socket.socket(fileno=os.dup(conn.pgconn.socket))
        except (OSError, self._psycopg.Error):
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)  # the blocked read sees the end of the stream
        except OSError:
            pass
        finally:
            sock.close()

    def fault(self, exc: BaseException, conn: Any) -> str | None:
        sqlstate = getattr(exc, "sqlstate", None)
        if conn.closed or conn.broken or sqlstate in _LOST_STATES or (sqlstate or "").startswith("08"):
            return "lost"
        if sqlstate in ("26000", "42P05") and "prepared statement" in str(exc):
            # A pooler in transaction mode (pgbouncer) hands each transaction another server
            # connection, where psycopg's prepared statements do not exist: stop preparing.
            if self.prepare_threshold == "auto":
                self.prepare_threshold = None
            conn.prepare_threshold = None
            return "unprepared"
        return None

    def scrub(self, exc: BaseException) -> None:
        # psycopg keeps the failed connection on the exception; its repr shows the whole
        # connection info, password included. psycopg drops it the same way when pickling.
        if getattr(exc, "_pgconn", None) is not None:
            exc._pgconn = None  # type: ignore[attr-defined]

    def classify(self, exc: BaseException) -> type[Error] | None:
        sqlstate = getattr(exc, "sqlstate", None)
        if sqlstate in ("40001", "40P01"):
            return TransactionConflict
        if sqlstate == "25006":
            return ReadOnlyError
        return super().classify(exc)

    def in_failed_transaction(self, conn: Any) -> bool:
        return conn.info.transaction_status == self._psycopg.pq.TransactionStatus.INERROR

    def prepare(self, sql: str, params: Any) -> tuple[str, Any]:
        if params is None:
            # Without parameters psycopg uses the simple query protocol, which would run every
            # statement in the string: one statement per call, as on SQLite.
            if is_stacked(sql):
                raise ProgrammingError(
                    "one statement per call: the SQL holds a second statement after a ';' "
                    f"(run each statement separately) [statement: {' '.join(sql.split())[:120]}]"
                )
            return sql, None
        return to_pyformat(sql)[0], params

    def last_rowid(self, cursor: Any) -> None:
        return None

    def stream(self, conn: Any, sql: str, params: Any, size: int) -> Iterator[tuple[list[str], list[tuple]]]:
        with conn.cursor(name=f"mngs_stream_{next(_cursor_ids)}") as cursor:
            cursor.itersize = size
            cursor.execute(sql, params)
            names = [d.name for d in cursor.description or ()]
            while rows := cursor.fetchmany(size):
                yield names, rows

    def bulk_insert(
        self,
        ex: Executor,
        table: str,
        columns: Sequence[str],
        rows: Sequence[tuple],
        on_conflict: str | None,
        target: Sequence[str],
    ) -> int | None:
        """COPY the rows in; for upserts COPY them into a staging table first, then one
        ``INSERT … SELECT … ON CONFLICT`` (the last of several rows with one key wins)."""
        if not columns:
            return None
        if on_conflict is None:
            return self._copy(ex, quote(table, 63), table, columns, rows)
        stage = self._stage(ex, table, columns, rows)
        names = quote_all(columns, 63)
        insert = f"INSERT INTO {quote(table, 63)} ({names}) "
        tail = conflict_clause(columns, on_conflict, target, 63)
        # Rows go in key order, so concurrent upserts of overlapping keys take their row locks
        # in the same order and wait for each other instead of deadlocking.
        order = f" ORDER BY {quote_all(target or columns, 63)}"
        if on_conflict == "update" and target and set(target) <= set(columns):
            try:
                with ex.transaction():  # a savepoint, for the retry below
                    sql = f"{insert}SELECT {names} FROM {stage}{order}{tail}"
                    count = ex.run(sql, None, table=table).rowcount
            except ProgrammingError as exc:
                if exc.sqlstate != "21000":
                    raise
                # One key twice in the rows ("cannot affect row a second time"): the last wins.
                keys = quote_all(target, 63)
                source = f"SELECT DISTINCT ON ({keys}) {names} FROM {stage} ORDER BY {keys}, ctid DESC"
                count = ex.run(f"{insert}{source}{tail}", None, table=table).rowcount
        else:
            count = ex.run(f"{insert}SELECT {names} FROM {stage}{order}{tail}", None, table=table).rowcount
        ex.run(f"DROP TABLE {stage}", None, table=table)
        return int(count)

    def bulk_update(
        self, ex: Executor, table: str, sets: Sequence[str], keys: Sequence[str], rows: Sequence[tuple]
    ) -> int | None:
        """COPY ``(sets…, keys…)`` rows into a staging table, then one ``UPDATE … FROM``."""
        stage = self._stage(ex, table, [*sets, *keys], rows)
        key_list = quote_all(keys, 63)
        assignments = ", ".join(f"{quote(c, 63)} = s.{quote(c, 63)}" for c in sets)
        match = " AND ".join(f"t.{quote(k, 63)} = s.{quote(k, 63)}" for k in keys)
        # Lock the rows in key order first: concurrent updates (and upserts) of overlapping
        # keys then wait for each other instead of deadlocking.
        ex.run(
            f"SELECT 1 FROM {quote(table, 63)} WHERE ({key_list}) IN (SELECT {key_list} FROM {stage}) "
            f"ORDER BY {key_list} FOR UPDATE",
            None,
            table=table,
        )
        sql = (
            f"UPDATE {quote(table, 63)} AS t SET {assignments} FROM "
            f"(SELECT DISTINCT ON ({key_list}) * FROM {stage} ORDER BY {key_list}, ctid DESC) AS s "
            f"WHERE {match}"
        )
        count = ex.run(sql, None, table=table).rowcount
        ex.run(f"DROP TABLE {stage}", None, table=table)
        return int(count)

    def _stage(self, ex: Executor, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> str:
        """A temporary table shaped like ``table``'s ``columns`` (no constraints), holding rows."""
        stage = quote(f"_mngs_stage_{next(_stage_ids)}", 63)
        ex.run(
            f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS "
            f"SELECT {quote_all(columns, 63)} FROM {quote(table, 63)} WITH NO DATA",
            None,
            table=table,
        )
        self._copy(ex, stage, table, columns, rows)
        return stage

    def _copy(
        self, ex: Executor, target: str, table: str, columns: Sequence[str], rows: Sequence[tuple]
    ) -> int:
        sql = f"COPY {target} ({quote_all(columns, 63)}) FROM STDIN"
        with ex.translating(sql, table=table, columns=columns, rows=rows):
            with ex.conn.cursor() as cursor:
                with cursor.copy(sql) as copy:
                    write = copy.write_row
                    for row in rows:
                        write(row)
                return int(cursor.rowcount)

    def after_explicit_keys(self, ex: Executor, table: str, columns: Sequence[str]) -> None:
        """Move each serial/identity sequence past the largest value written explicitly."""
        for column, sequence in self._sequences(ex, table).items():
            if column in columns:
                # The statement is in psycopg's %s style: a % in a name must be doubled.
                sql = _SETVAL_SQL.format(
                    col=quote(column, 63).replace("%", "%%"), table=quote(table, 63).replace("%", "%%")
                )
                ex.run(sql, [sequence, sequence], table=table, prepared=True)

    def _sequences(self, ex: Executor, table: str) -> dict[str, str]:
        """Column → sequence for the table's serial and identity columns (cached)."""
        key = ("sequences", table)
        if key not in ex.cache:
            rows = ex.run(_SEQUENCES_SQL, [quote(table, 63)] * 2, table=table, prepared=True)
            ex.cache[key] = dict(rows.fetchall())
        return ex.cache[key]

    # -- reflection --------------------------------------------------------------------
    def list_tables(self, ex: Executor) -> list[str]:
        rows = ex.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        )
        return [r["tablename"] for r in rows]

    def get_columns(self, ex: Executor, table: str) -> list[ColumnInfo]:
        rows = ex.run(_COLUMNS_SQL, [quote(table, 63)], table=table, prepared=True).fetchall()
        return [
            ColumnInfo(name=r[0], type=r[1], nullable=r[2], default=r[3], primary_key=r[4])
            for r in rows
        ]

    def primary_key(self, ex: Executor, table: str) -> tuple[str, ...]:
        rows = ex.query(
            "SELECT a.attname AS name FROM pg_index i "
            "JOIN unnest(i.indkey) WITH ORDINALITY AS k(num, ord) ON true "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num "
            "WHERE i.indrelid = to_regclass(?) AND i.indisprimary AND k.ord <= i.indnkeyatts "
            "ORDER BY k.ord",  # INCLUDE columns follow the key columns and are not part of it
            [quote(table, 63)],
        )
        return tuple(r["name"] for r in rows)

    def list_indexes(self, ex: Executor, table: str) -> list[IndexInfo]:
        rows = ex.run(_INDEXES_SQL, [quote(table, 63)], table=table, prepared=True).fetchall()
        return [IndexInfo(name=r[0], unique=r[1], primary=r[2], columns=list(r[3])) for r in rows]

    def get_foreign_keys(self, ex: Executor, table: str) -> list[ForeignKeyInfo]:
        rows = ex.run(_FOREIGN_KEYS_SQL, [quote(table, 63)], table=table, prepared=True).fetchall()
        return [
            ForeignKeyInfo(
                name=r[0],
                columns=list(r[1]),
                referred_table=r[2],
                referred_columns=list(r[3]),
                on_update=_ACTIONS.get(r[4], r[4]),
                on_delete=_ACTIONS.get(r[5], r[5]),
            )
            for r in rows
        ]

    def table_facts(self, ex: Executor, table: str) -> dict[str, Any]:
        name = quote(table, 63)
        columns = ex.query(
            "SELECT a.attname AS name, a.attidentity AS identity, a.attgenerated AS generated, "
            "pg_get_expr(d.adbin, d.adrelid) AS expr, CASE WHEN a.attcollation <> t.typcollation "
            "THEN (SELECT collname FROM pg_collation WHERE oid = a.attcollation) END AS collation "
            "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            [name],
        )
        constraints = ex.query(
            "SELECT contype, conname, pg_get_constraintdef(oid, true) AS definition FROM pg_constraint "
            "WHERE conrelid = to_regclass(?) AND contype IN ('c', 'x', 't') ORDER BY conname",
            [name],
        )
        special = {}
        for idx in ex.query(
            "SELECT c.relname AS name, am.amname AS method, i.indpred IS NOT NULL AS partial, "
            "i.indexprs IS NOT NULL AS expression, pg_get_indexdef(i.indexrelid) AS definition "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
            "WHERE i.indrelid = to_regclass(?) AND NOT i.indisprimary ORDER BY c.relname",
            [name],
        ):
            why = [w for w, on in (("partial", idx["partial"]), ("expression", idx["expression"])) if on]
            if idx["method"] != "btree":
                why.append(idx["method"])
            if why:
                special[idx["name"]] = f"{'/'.join(why)} index: {idx['definition']}"
        sequenced = [
            c["name"] for c in columns
            if c["identity"] or (c["expr"] is not None and _NEXTVAL.fullmatch(c["expr"]))
        ]  # fmt: skip
        auto = self.generated_key(ex, table)
        if auto is None:
            pk = self.primary_key(ex, table)
            auto = pk[0] if len(pk) == 1 and pk[0] in sequenced else None  # pg_dump-style nextval
        return {
            "auto": auto,
            "sequenced": [c for c in sequenced if c != auto],
            "generated": {c["name"]: c["expr"] for c in columns if c["generated"]},
            "checks": [c["definition"] for c in constraints if c["contype"] == "c"],
            "special_indexes": special,
            "virtual": False,
            "autoincrement": False,
            "identity_always": [c["name"] for c in columns if c["identity"] == "a"],
            "other": [
                f"{'exclusion' if c['contype'] == 'x' else 'constraint trigger'} {c['conname']}: "
                f"{c['definition']}"
                for c in constraints
                if c["contype"] != "c"
            ]
            + [f"{c['name']}: COLLATE {c['collation']}" for c in columns if c["collation"]],
            **ex.query(
                "SELECT c.relkind = 'p' AS partitioned, "
                "(SELECT p.relname FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent "
                " WHERE i.inhrelid = c.oid AND c.relispartition) AS partition_of "
                "FROM pg_class c WHERE c.oid = to_regclass(?)",
                [name],
            )[0],
        }

    def other_objects(self, ex: Executor) -> list[str]:
        rows = ex.query(
            "SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' "
            "WHEN 'f' THEN 'foreign table' ELSE 'sequence' END AS kind, c.relname AS name "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND (c.relkind IN ('v', 'm', 'f') OR (c.relkind = 'S' "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))) "
            "UNION ALL SELECT 'trigger', t.tgname || ' on ' || c.relname FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND NOT t.tgisinternal "
            "UNION ALL SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, p.proname "
            "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema() "
            "UNION ALL SELECT 'type', t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = current_schema() AND t.typtype IN ('e', 'd', 'r') "
            "ORDER BY 1, 2"
        )
        return [f"{r['kind']} {r['name']}" for r in rows]

    # -- maintenance -------------------------------------------------------------------
    row_identities = ("ctid",)  # a system column: no user column can take the name

    def drop_column(self, ex: Executor, table: str, column: str) -> None:
        """``ALTER TABLE … DROP COLUMN`` after the same check as on SQLite: what belongs to the
        column alone (its constraints, an index on it alone, its sequence) goes with it; an
        index or constraint over it and another column, a view, a trigger, a generated column
        or another table's foreign key that uses it is refused, naming it (PostgreSQL would
        drop the index or constraint silently, or refuse with a message of its own)."""
        for dep in ex.query(_DROP_DEPENDENTS_SQL, [quote(table, 63), column]):
            if dep["what"] is not None:
                raise ProgrammingError(
                    f"cannot drop column {column!r} of {table!r}: {dep['what']} needs it (drop or "
                    "change that first, or keep the column); nothing was changed"
                )
        with ex.transaction():
            super().drop_column(ex, table, column)

    def vacuum(self, ex: Executor, tables: Sequence[str]) -> None:
        """``VACUUM`` the given tables only (not every schema of the database)."""
        if tables:
            ex.run(f"VACUUM {quote_all(tables, 63)}")

    def database_stats(self, ex: Executor, tables: Sequence[str]) -> dict[str, Any]:
        row = ex.query(
            "SELECT pg_database_size(current_database()) AS size, current_database() AS database, "
            "current_schema() AS schema, "
            "(SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            " JOIN pg_namespace n ON n.oid = c.relnamespace "
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')) AS tables_size, "
            "current_setting('server_version') AS server_version"
        )[0]
        row["tables_size"] = int(row["tables_size"])
        return row

    def generated_key(self, ex: Executor, table: str) -> str | None:
        """A single-column primary key that is ``SERIAL`` or an identity column."""
        pk = self.primary_key(ex, table)
        if len(pk) == 1 and pk[0] in self._sequences(ex, table):
            return pk[0]
        return None

    #: Types without an equality operator, compared as their text.
    _compared_as_text = frozenset({"xml", "point", "line", "lseg", "box", "path", "polygon", "circle"})

    def comparable(self, column_sql: str, sqltype: str) -> str:
        """``json`` has no equality: compare it as ``jsonb`` (key order and spacing ignored);
        geometric types and ``xml`` as text."""
        array = sqltype.endswith("[]")
        base = sqltype[:-2] if array else sqltype
        if base == "json":
            return f"CAST({column_sql} AS jsonb{'[]' if array else ''})"
        if base in self._compared_as_text:
            return f"CAST({column_sql} AS text)"
        return column_sql

    # -- inspection --------------------------------------------------------------------
    def create_table_sql(self, ex: Executor, table: str) -> str:
        """Rebuilt from the catalogs (PostgreSQL keeps no CREATE text): columns with their
        types, collations, defaults, serial/identity/generated status and NOT NULL, then the
        primary key, unique, check, exclusion and foreign key constraints. Constraint names
        PostgreSQL generated (``<table>_pkey``, ``<table>_<col>_key``, …) are left out, so the
        statement also works under another table name."""
        name = quote(table, 63)
        columns = ex.query(
            "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, "
            "a.attnotnull AS notnull, a.attidentity AS identity, a.attgenerated AS generated, "
            "pg_get_expr(d.adbin, d.adrelid) AS expr, "
            "CASE WHEN a.attcollation <> t.typcollation THEN "
            " (SELECT quote_ident(n.nspname) || '.' || quote_ident(c.collname) FROM pg_collation c "
            "  JOIN pg_namespace n ON n.oid = c.collnamespace WHERE c.oid = a.attcollation) "
            "END AS collation "
            "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            [name],
        )
        if not columns:
            from ..errors import ProgrammingError

            raise ProgrammingError(f"no such table: {table!r}")
        constraints = ex.query(
            "SELECT conname AS name, pg_get_constraintdef(oid, true) AS definition "
            "FROM pg_constraint WHERE conrelid = to_regclass(?) AND contype IN ('p','u','c','x','f') "
            "ORDER BY position(contype IN 'pucxf'), conname",
            [name],
        )
        serials = {"integer": "serial", "bigint": "bigserial", "smallint": "smallserial"}
        parts = []
        for c in columns:
            text = f"{quote(c['name'], 63)} "
            # A nextval() default, whether its sequence is owned by the column (serial) or was
            # made apart (pg_dump's style): a serial column, so that the statement runs on its
            # own and creates its sequence (named after the table, like any serial's).
            serial = c["expr"] is not None and _NEXTVAL.fullmatch(c["expr"]) and not c["identity"]
            if serial and c["type"] in serials:
                text += serials[c["type"]]
            else:
                text += c["type"]
                if c["collation"]:
                    text += f" COLLATE {c['collation']}"
                if c["generated"] == "s":
                    text += f" GENERATED ALWAYS AS ({c['expr']}) STORED"
                elif c["expr"] is not None:
                    text += f" DEFAULT {c['expr']}"
                if c["identity"]:
                    kind = "ALWAYS" if c["identity"] == "a" else "BY DEFAULT"
                    text += f" GENERATED {kind} AS IDENTITY"
            if c["notnull"]:
                text += " NOT NULL"
            parts.append(text)
        for con in constraints:
            generated = con["name"].startswith(table + "_") and con["name"].rstrip("0123456789").endswith(
                ("_pkey", "_key", "_check", "_fkey", "_excl")
            )
            prefix = "" if generated else f"CONSTRAINT {quote(con['name'], 63)} "
            parts.append(prefix + con["definition"])
        persistence = ex.query("SELECT relpersistence FROM pg_class WHERE oid = to_regclass(?)", [name])
        unlogged = " UNLOGGED" if persistence[0]["relpersistence"] == "u" else ""
        body = ",\n    ".join(parts)
        return f"CREATE{unlogged} TABLE {name} (\n    {body}\n)"

    # -- search ------------------------------------------------------------------------
    #: The comment that marks a GIN index made by enable_search; the language follows it.
    search_note = "mngs.db search index: "

    def _search_index(self, ex: Executor, table: str) -> tuple[str, str, str] | None:
        """(name, tsvector expression, language) of the table's search index, if any. The
        expression is the server's own rendering, so a query repeating it uses the index."""
        rows = ex.query(
            "SELECT c.relname AS name, pg_get_expr(i.indexprs, i.indrelid) AS expr, "
            "obj_description(c.oid, 'pg_class') AS note "
            "FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = to_regclass(?) ORDER BY c.relname",
            [quote(table, 63)],
        )
        for r in rows:
            note = r["note"] or ""
            language = note[len(self.search_note) :]
            safe = language.isascii() and language.isidentifier()  # it is spliced into SQL
            if note.startswith(self.search_note) and safe and r["expr"]:
                return r["name"], r["expr"], language
        return None

    def enable_search(self, ex: Executor, table: str, columns: Sequence[str], language: str) -> None:
        """A GIN index on ``to_tsvector(language, col1 || ' ' || col2 …)``, marked by a comment."""
        from ..errors import ArgumentError

        known = ex.query("SELECT cfgname FROM pg_ts_config WHERE pg_ts_config_is_visible(oid)")
        languages = sorted(r["cfgname"] for r in known)
        if language not in languages:
            raise ArgumentError(f"unknown search language {language!r}; use one of {languages}")
        self.disable_search(ex, table)
        name = quote(index_name(table, ["fts"], 63), 63)
        document = " || ' ' || ".join(f"COALESCE({quote(c, 63)}::text, '')" for c in columns)
        ex.run(
            f"CREATE INDEX {name} ON {quote(table, 63)} "
            f"USING gin (to_tsvector('{language}'::regconfig, {document}))",
            None,
            table=table,
        )
        ex.run(f"COMMENT ON INDEX {name} IS '{self.search_note}{language}'", None, table=table)

    def disable_search(self, ex: Executor, table: str) -> None:
        index = self._search_index(ex, table)
        if index is not None:
            ex.run(f"DROP INDEX {quote(index[0], 63)}", None, table=table)

    def rebuild_search(self, ex: Executor, table: str) -> None:
        index = self._search_index(ex, table)
        if index is not None:
            ex.run(f"REINDEX INDEX {quote(index[0], 63)}", None, table=table)

    def searchable_tables(self, ex: Executor) -> list[str]:
        rows = ex.query(
            "SELECT DISTINCT t.relname AS name FROM pg_index AS i "
            "JOIN pg_class AS c ON c.oid = i.indexrelid JOIN pg_class AS t ON t.oid = i.indrelid "
            "WHERE t.relnamespace = current_schema()::regnamespace "
            "AND left(obj_description(c.oid, 'pg_class'), ?) = ? ORDER BY t.relname",
            [len(self.search_note), self.search_note],
        )
        return [r["name"] for r in rows]

    def search_parts(
        self, ex: Executor, table: str, query: str, placeholder: str
    ) -> tuple[str, str | None, str, Any] | None:
        """The index's expression ``@@ websearch_to_tsquery(…)``, ranked by ``ts_rank``."""
        index = self._search_index(ex, table)
        if index is None:
            from ..errors import ProgrammingError

            raise ProgrammingError(
                f"table {table!r} is not searchable: call db.enable_search({table!r}, columns) first"
            )
        _, vector, language = index
        from_sql = (
            f"FROM {quote(table, 63)}, (SELECT websearch_to_tsquery('{language}'::regconfig, "
            f"{placeholder}) AS _mngs_tsquery) AS _mngs_q"
        )
        return (
            from_sql,
            f"{vector} @@ _mngs_q._mngs_tsquery",
            f"ts_rank({vector}, _mngs_q._mngs_tsquery)",
            query,
        )

    # -- backup ------------------------------------------------------------------------
    dump_trailers = ("-- PostgreSQL database dump complete",)
    #: libpq connection parameters and the environment variables that carry them to pg_dump.
    _LIBPQ_ENV = {
        "host": "PGHOST", "hostaddr": "PGHOSTADDR", "port": "PGPORT", "dbname": "PGDATABASE",
        "user": "PGUSER", "password": "PGPASSWORD", "passfile": "PGPASSFILE",
        "channel_binding": "PGCHANNELBINDING", "service": "PGSERVICE", "options": "PGOPTIONS",
        "application_name": "PGAPPNAME", "sslmode": "PGSSLMODE", "requiressl": "PGREQUIRESSL",
        "sslcompression": "PGSSLCOMPRESSION", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
        "sslrootcert": "PGSSLROOTCERT", "sslcrl": "PGSSLCRL", "sslcrldir": "PGSSLCRLDIR",
        "sslsni": "PGSSLSNI", "requirepeer": "PGREQUIREPEER",
        "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
        "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION", "gssencmode": "PGGSSENCMODE",
        "krbsrvname": "PGKRBSRVNAME", "gsslib": "PGGSSLIB", "connect_timeout": "PGCONNECT_TIMEOUT",
        "client_encoding": "PGCLIENTENCODING", "target_session_attrs": "PGTARGETSESSIONATTRS",
        "load_balance_hosts": "PGLOADBALANCEHOSTS",
    }  # fmt: skip
    _NAME_PATH = r'((?:"(?:[^"]|"")*"|[^\s."(]+)(?:\.(?:"(?:[^"]|"")*"|[^\s."(]+))*)'
    _DUMP_CREATES = re.compile(
        r"^CREATE (?:UNLOGGED |FOREIGN )?(?:TABLE|SEQUENCE|VIEW|MATERIALIZED VIEW) " + _NAME_PATH,
        re.MULTILINE,
    )
    _DUMP_SCHEMA = re.compile(
        r"""^(?:CREATE SCHEMA ("(?:[^"]|"")*"|[^\s;]+)|"""
        r"""COMMENT ON SCHEMA ("(?:[^"]|"")*"|[^\s;]+) IS '(?:[^']|'')*');$""",
        re.MULTILINE,
    )
    _DUMP_SETTINGS = re.compile(r"^SET (\w+) = |set_config\('(\w+)'", re.MULTILINE)
    _DROP_KINDS = {
        "r": "TABLE", "p": "TABLE", "f": "FOREIGN TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW",
        "S": "SEQUENCE",
    }  # fmt: skip
    _NOT_EXTENSION = (
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{catalog}'::regclass "
        "AND d.objid = {oid} AND d.deptype = 'e')"
    )

    def dump_facts(self, ex: Executor) -> dict[str, Any]:
        return {"schema": self._current_schema(ex)}

    def _current_schema(self, ex: Executor) -> str:
        with ex.lock:
            schema = ex.query("SELECT current_schema() AS s")[0]["s"]
        if schema is None:
            raise ProgrammingError("no current schema: search_path names no existing schema")
        return str(schema)

    def backup(self, ex: Executor, path: Path, *, table: str | None, text: bool) -> dict[str, int]:
        """``pg_dump --format=plain`` of the current schema (or of one table), appended to
        ``path``; connection parameters travel in the environment, never on the command line.
        Returns the rows of each table, counted in the dump's COPY blocks."""
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        program = self._pg_dump(ex)
        if table is None:
            selection = "--schema=" + _pg_pattern(self._current_schema(ex))
        else:
            with ex.lock:
                rows = ex.query(
                    "SELECT n.nspname AS schema, c.relname AS name FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(?)",
                    [quote(table, 63)],
                )
            if not rows:
                raise ProgrammingError(f"no such table: {table!r}")
            selection = f"--table={_pg_pattern(rows[0]['schema'])}.{_pg_pattern(rows[0]['name'])}"
        env = dict(os.environ)
        rest = {}
        for key, value in conninfo_to_dict(self._conninfo).items():
            if key in self._LIBPQ_ENV:
                env[self._LIBPQ_ENV[key]] = str(value)
            else:
                rest[key] = value  # no variable exists for it: pass it (it is no secret) as --dbname
        args = [program, "--format=plain", "--no-owner", "--no-privileges", selection]
        if ex.in_transaction:  # our own open transaction may hold a lock pg_dump would wait for
            args.append("--lock-wait-timeout=10000")
        if rest:
            args.append("--dbname=" + make_conninfo(**rest))
        with open(path, "ab") as out:
            done = subprocess.run(args, stdout=out, stderr=subprocess.PIPE, env=env, check=False)
        if done.returncode:
            message = done.stderr.decode("utf-8", "replace").strip()
            for secret in self._secrets:
                message = message.replace(secret, "***")
            if ex.in_transaction and "lock" in message:
                message += " (this handle's open transaction may hold that lock: back up after it ends)"
            raise OperationalError(f"pg_dump failed (exit status {done.returncode}): {message}")
        counts: dict[str, int] = {}
        with open(path, encoding="utf-8", newline="\n") as source:
            for statement, rows in _dump_parts(source, path):
                if rows is not None:
                    counts[_copy_table(statement)] = sum(1 for _ in rows)
        return counts

    def _pg_dump(self, ex: Executor) -> str:
        """The pg_dump program, checked to be at least as new as the server."""
        program = shutil.which("pg_dump")
        server = ex.conn.info.server_version // 10000
        if program is None:
            raise NotSupportedError(
                "backup of a PostgreSQL database needs the pg_dump program, which is not on PATH; "
                f"install the PostgreSQL client tools, version {server} or newer (Debian/Ubuntu: "
                "`apt-get install postgresql-client`; macOS: `brew install libpq`)"
            )
        version = subprocess.run([program, "--version"], capture_output=True, text=True, check=False)
        found = re.search(r"\)\s*(\d+)", version.stdout) or re.search(r"(\d+)", version.stdout)
        client = int(found[1]) if found else 0
        if client < server:
            raise NotSupportedError(
                f"{program} is pg_dump {client}, older than the server (PostgreSQL {server}), "
                f"which it cannot dump; install postgresql-client-{server} (or newer) and put "
                "its pg_dump first on PATH"
            )
        return program

    def restore_dump(self, ex: Executor, path: Path, facts: dict[str, Any]) -> dict[str, int]:
        """Run a plain pg_dump file through psycopg: the SQL between ``COPY … FROM stdin``
        blocks as statements, each block's data through ``cursor.copy()``. Settings the dump
        changes (``search_path`` among them) are put back afterwards."""
        settings: dict[str, str] = {}
        keep: list[str] = []
        if facts.get("scope") == "database":
            schema = self._current_schema(ex)
            if facts.get("schema") != schema:
                raise ArgumentError(
                    f"{path} is a backup of schema {facts.get('schema')!r}, but this handle works "
                    f"in schema {schema!r}; pg_dump names every object with its schema, so "
                    "restore it through a handle whose search_path starts with that schema"
                )
            self._drop_schema_objects(ex, schema)
        counts: dict[str, int] = {}
        with open(path, encoding="utf-8", newline="\n") as source:
            for statement, rows in _dump_parts(source, path):
                if rows is None:
                    self._run_dump_sql(ex, statement, settings, keep)
                else:
                    name = _copy_table(statement)
                    counts[name] = counts.get(name, 0) + self._copy_dump_data(ex, statement, rows)
        for statement in keep:
            ex.run(statement)
        for name, value in settings.items():
            ex.run("SELECT set_config(?, ?, false)", [name, value])
        return counts

    def _run_dump_sql(self, ex: Executor, sql: str, settings: dict[str, str], keep: list[str]) -> None:
        if not any(line.strip() and not line.startswith("--") for line in sql.splitlines()):
            return
        for match in self._DUMP_SETTINGS.finditer(sql):
            name = match[1] or match[2]
            if name not in settings:
                settings[name] = ex.query("SELECT current_setting(?) AS v", [name])[0]["v"]
        created = self._DUMP_CREATES.findall(sql)
        if created:
            keep.extend(self._clear_for_restore(ex, created, settings))
        sql = self._DUMP_SCHEMA.sub(lambda m: self._unless_schema_exists(ex, m), sql)
        # Many statements in one string: sent as they are, without parameters (simple protocol).
        with ex.translating(sql) as conn:
            conn.execute(sql)

    def _unless_schema_exists(self, ex: Executor, match: re.Match[str]) -> str:
        """The dump's ``CREATE SCHEMA``/``COMMENT ON SCHEMA`` statement, or nothing when the
        schema exists: a restore fills the schema and leaves the schema itself (owner, comment,
        privileges) as it is, so it needs no right to create or alter schemas."""
        found = ex.query("SELECT to_regnamespace(?) IS NOT NULL AS found", [match[1] or match[2]])
        return "" if found[0]["found"] else match[0]

    def _clear_for_restore(self, ex: Executor, names: list[str], settings: dict[str, str]) -> list[str]:
        """Drop the existing relations the dump creates. Foreign keys of other tables that point
        at them are dropped too and returned as statements that add them back."""
        if "search_path" not in settings:
            settings["search_path"] = ex.query("SELECT current_setting('search_path') AS v")[0]["v"]
        ex.run("SELECT set_config('search_path', '', false)")  # constraint text fully qualified
        found = []
        for name in names:
            found += ex.query(
                "SELECT c.oid, c.relkind, n.nspname, c.relname FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(?)",
                [name],
            )
        if not found:
            return []
        oids = [r["oid"] for r in found]
        marks = ", ".join("?" * len(oids))
        restore = []
        for fk in ex.query(
            "SELECT con.conname, n.nspname, c.relname, pg_get_constraintdef(con.oid) AS def "
            "FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE con.contype = 'f' AND con.confrelid IN ({marks}) AND con.conrelid NOT IN ({marks})",
            oids + oids,
        ):
            child = f"{quote(fk['nspname'])}.{quote(fk['relname'])}"
            ex.run(f"ALTER TABLE {child} DROP CONSTRAINT {quote(fk['conname'])}")
            restore.append(f"ALTER TABLE {child} ADD CONSTRAINT {quote(fk['conname'])} {fk['def']}")
        for rel in sorted(found, key=lambda r: r["relkind"] == "S"):  # sequences go with tables
            kind = self._DROP_KINDS.get(rel["relkind"])
            if not kind:
                continue
            try:
                ex.run(f"DROP {kind} IF EXISTS {quote(rel['nspname'])}.{quote(rel['relname'])}")
            except Error as exc:
                if "depend" not in str(exc):
                    raise
                raise ProgrammingError(
                    f"cannot replace {rel['relname']!r} from the backup: other objects (views, "
                    "...) depend on it; drop them first, or restore a whole-database backup"
                ) from exc
        return restore

    def _drop_schema_objects(self, ex: Executor, schema: str) -> None:
        """Drop every relation, routine and type of ``schema`` that no extension owns."""
        s = quote(schema)
        relations = ex.query(
            "SELECT c.relkind, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = ? AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S') AND "
            + self._NOT_EXTENSION.format(catalog="pg_class", oid="c.oid"),
            [schema],
        )
        for rel in relations:
            kind = self._DROP_KINDS[rel["relkind"]]
            ex.run(f"DROP {kind} IF EXISTS {s}.{quote(rel['relname'])} CASCADE")
        routines = ex.query(
            "SELECT p.proname, p.prokind, pg_get_function_identity_arguments(p.oid) AS args "
            "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ? AND "
            + self._NOT_EXTENSION.format(catalog="pg_proc", oid="p.oid"),
            [schema],
        )
        for fn in routines:
            kind = "AGGREGATE" if fn["prokind"] == "a" else "ROUTINE"
            ex.run(f"DROP {kind} IF EXISTS {s}.{quote(fn['proname'])}({fn['args']}) CASCADE")
        types = ex.query(
            "SELECT t.typname, t.typtype FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "LEFT JOIN pg_class c ON c.oid = t.typrelid WHERE n.nspname = ? "
            "AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND c.relkind = 'c')) AND "
            + self._NOT_EXTENSION.format(catalog="pg_type", oid="t.oid"),
            [schema],
        )
        for typ in types:
            kind = "DOMAIN" if typ["typtype"] == "d" else "TYPE"
            ex.run(f"DROP {kind} IF EXISTS {s}.{quote(typ['typname'])} CASCADE")

    def _copy_dump_data(self, ex: Executor, statement: str, rows: Iterator[str]) -> int:
        """Feed the data lines of one COPY block to the server; return the rows loaded."""
        with ex.translating(statement), ex.conn.cursor() as cursor:
            with cursor.copy(statement) as copy:
                pending: list[str] = []
                size = 0
                for line in rows:
                    pending.append(line)
                    size += len(line)
                    if size >= 1 << 20:
                        copy.write("".join(pending))
                        pending, size = [], 0
                if pending:
                    copy.write("".join(pending))
            return int(cursor.rowcount)

    # -- transfer ----------------------------------------------------------------------
    transfer_types = {
        "boolean": "BOOLEAN", "integer": "BIGINT", "bigint": "NUMERIC", "float": "DOUBLE PRECISION",
        "decimal": "NUMERIC", "text": "TEXT", "bytes": "BYTEA", "json": "JSONB", "date": "DATE",
        "time": "TIME", "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMPTZ",
    }  # fmt: skip
    _COPY_CONTEXT = re.compile(r"^COPY .*?, line (\d+)(?:, column (.*?))?(?:: .*)?$", re.MULTILINE)

    def copy_csv_in(
        self, ex: Executor, table: str, columns: Sequence[str], chunks: Iterator[bytes], delimiter: str
    ) -> int | None:
        """``COPY … FROM STDIN (FORMAT csv)`` fed with the blocks as they are read."""
        literal = "'" + delimiter.replace("'", "''") + "'"
        sql = (
            f"COPY {quote(table, 63)} ({quote_all(columns, 63)}) FROM STDIN "
            f"WITH (FORMAT csv, DELIMITER {literal})"
        )
        with ex.translating(sql, table=table):
            with ex.conn.cursor() as cursor:
                with cursor.copy(sql) as copy:
                    for block in _quote_end_markers(chunks):
                        copy.write(block)
                return int(cursor.rowcount)

    def copy_csv_out(
        self, ex: Executor, sql: str, params: Any, write: Callable[[bytes], Any], delimiter: str
    ) -> int | None:
        """``COPY (query) TO STDOUT (FORMAT csv, HEADER true)``, streamed block by block;
        parameters are bound client-side, as COPY takes none."""
        literal = "'" + delimiter.replace("'", "''") + "'"
        text = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER true, DELIMITER {literal})"
        stmt, bound = self.prepare(text, params)
        with ex.translating(text):
            with ex.conn.cursor() as cursor:
                with cursor.copy(stmt, bound) as copy:
                    buffer = bytearray()  # the server sends a message per row: write fewer, larger blocks
                    for block in copy:
                        buffer += block
                        if len(buffer) >= 1 << 17:
                            write(buffer)
                            buffer = bytearray()
                    if buffer:
                        write(buffer)
                return int(cursor.rowcount)

    def copy_error_location(self, exc: BaseException) -> tuple[int | None, str | None, str]:
        diag = getattr(exc, "diag", None)
        message = (diag.message_primary if diag is not None else None) or str(exc).split("\n")[0]
        found = self._COPY_CONTEXT.search((diag.context if diag is not None else None) or "")
        if found is None:
            return None, None, message
        return int(found[1]), found[2], message


def _pg_pattern(name: str) -> str:
    """A name as a pg_dump pattern that matches exactly it (no wildcards, case kept)."""
    return '"' + name.replace('"', '""') + '"'


_PSQL_META = re.compile(r"\\(?:un)?restrict\b")
_COPY_NAME = re.compile(r'COPY ((?:"(?:[^"]|"")*"|[^\s."(]+)(?:\.(?:"(?:[^"]|"")*"|[^\s."(]+))*)')


def _dump_parts(lines: Iterator[str], path: Path) -> Iterator[tuple[str, Iterator[str] | None]]:
    """Split a plain pg_dump file into SQL text (``(sql, None)``) and COPY blocks
    (``(statement, data lines)``; the data must be consumed before the next part). A COPY
    statement spans several lines when a name in it holds a newline."""
    lines = iter(lines)
    chunk: list[str] = []
    for line in lines:
        if line.startswith("COPY "):
            statement = line
            while statement.count('"') % 2:  # inside a quoted name: the statement goes on
                more = next(lines, None)
                if more is None:
                    raise DataError(f"{path} ends inside a COPY statement, so it is truncated")
                statement += more
            if statement.rstrip("\n").endswith(" FROM stdin;"):
                if chunk:
                    yield "".join(chunk), None
                    chunk = []
                complete: list[bool] = []
                yield statement.rstrip("\n")[:-1], _copy_rows(lines, complete)
                if not complete:
                    raise DataError(f"{path} ends inside the data of a COPY block, so it is truncated")
                continue
            line = statement
        if not _PSQL_META.match(line):
            chunk.append(line)
    if chunk:
        yield "".join(chunk), None


def _copy_rows(lines: Iterator[str], complete: list[bool]) -> Iterator[str]:
    """The data lines of a COPY block up to its ``\\.`` line (then ``complete`` is set)."""
    for line in lines:
        if line in ("\\.\n", "\\."):
            complete.append(True)
            return
        yield line


def _copy_table(statement: str) -> str:
    """The table name (unquoted, without its schema) of a ``COPY name (...) FROM stdin``."""
    found = _COPY_NAME.match(statement)
    path = found[1] if found else statement
    parts = re.findall(r'"(?:[^"]|"")*"|[^\s."(]+', path)
    last = parts[-1] if parts else path
    return last[1:-1].replace('""', '"') if last.startswith('"') else last


_END_MARKER = re.compile(rb"(?m)^\\\.(?=\r?$)")


def _quote_end_markers(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """CSV blocks with every record that is exactly ``\\.`` quoted: COPY reads such a line as
    its end-of-data marker and would silently stop there, while in the file it is data."""
    quotes = 0  # double quotes seen so far: odd means inside a quoted field
    carry = b""
    for block in blocks:
        data = carry + block
        cut = data.rfind(b"\n") + 1
        whole, carry = data[:cut], data[cut:]
        if b"\\." in whole:
            out, last = [], 0
            for match in _END_MARKER.finditer(whole):
                quotes += whole.count(b'"', last, match.start())
                out.append(whole[last : match.start()])
                out.append(b'"\\."' if quotes % 2 == 0 else match.group())
                last = match.end()
            quotes += whole.count(b'"', last)
            out.append(whole[last:])
            whole = b"".join(out)
        else:
            quotes += whole.count(b'"')
        if whole:
            yield whole
    if carry:
        if quotes % 2 == 0 and _END_MARKER.fullmatch(carry.rstrip(b"\r")):
            carry = b'"\\."' + carry[2:]
        yield carry
