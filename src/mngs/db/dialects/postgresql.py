"""PostgreSQL through psycopg 3 (imported only when a PostgreSQL handle is opened)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .. import codecs
from ..placeholders import to_pyformat
from ..reflection import ColumnInfo, ForeignKeyInfo, IndexInfo
from ..sql import conflict_clause, quote, quote_all
from .base import Dialect

if TYPE_CHECKING:
    from ..database import Database

__all__ = ["PostgreSQLDialect"]

_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
_cursor_ids = itertools.count(1)
_stage_ids = itertools.count(1)

_COLUMNS_SQL = """
SELECT a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       NOT a.attnotnull AS nullable,
       pg_get_expr(d.adbin, d.adrelid) AS "default",
       COALESCE(a.attnum = ANY (i.indkey), false) AS primary_key
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


class PostgreSQLDialect(Dialect):
    """A PostgreSQL server; connection parameters follow libpq, ``PG*`` variables included."""

    name = "postgresql"
    max_identifier_length = 63
    statement_rollback_is_atomic = False  # an error aborts the whole transaction
    stream_needs_transaction = True  # server-side cursors live in a transaction
    type_rewrites = (
        (r"\binteger\s+primary\s+key\s+autoincrement\b", "BIGSERIAL PRIMARY KEY"),
        (r"\s*\bautoincrement\b", ""),
        # SQLite's INTEGER PRIMARY KEY is an auto-assigned 64-bit rowid: keep that meaning.
        (r"^\s*integer\s+primary\s+key\b", "BIGSERIAL PRIMARY KEY"),
        (r"^\s*datetime\b", "TIMESTAMP"),
        (r"^\s*blob\b", "BYTEA"),
        (r"^\s*real\b", "DOUBLE PRECISION"),  # SQLite's REAL is 8 bytes; PostgreSQL's is 4
    )

    def __init__(self, dsn: str | None = None, **params: Any) -> None:
        super().__init__()
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        self._psycopg = psycopg
        self.driver_error = psycopg.Error
        given = {k: v for k, v in params.items() if v is not None}
        self._conninfo = make_conninfo(dsn or "", **given)
        password = conninfo_to_dict(self._conninfo).get("password")
        self._secrets = tuple(
            str(p) for p in (password, os.environ.get("PGPASSWORD")) if p
        )
        self._info = "?"

    def connect(self) -> Any:
        conn = self._psycopg.connect(self._conninfo, autocommit=True)
        codecs.register_postgresql(conn)
        info = conn.info
        self._info = f"{info.user}@{info.host}:{info.port}/{info.dbname}"
        return conn

    def describe(self) -> str:
        return self._info

    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def in_failed_transaction(self, conn: Any) -> bool:
        return conn.info.transaction_status == self._psycopg.pq.TransactionStatus.INERROR

    def prepare(self, sql: str, params: Any) -> tuple[str, Any]:
        if params is None:
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
        db: Database,
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
            return self._copy(db, quote(table, 63), table, columns, rows)
        stage = self._stage(db, table, columns, rows)
        names = quote_all(columns, 63)
        source = f"SELECT {names} FROM {stage}"
        if on_conflict == "update" and target and set(target) <= set(columns):
            keys = quote_all(target, 63)
            source = f"SELECT DISTINCT ON ({keys}) {names} FROM {stage} ORDER BY {keys}, ctid DESC"
        tail = conflict_clause(columns, on_conflict, target, 63)
        sql = f"INSERT INTO {quote(table, 63)} ({names}) {source}{tail}"
        count = db._run(sql, None, table=table).rowcount
        db._run(f"DROP TABLE {stage}", None, table=table)
        return int(count)

    def bulk_update(
        self, db: Database, table: str, sets: Sequence[str], keys: Sequence[str], rows: Sequence[tuple]
    ) -> int | None:
        """COPY ``(sets…, keys…)`` rows into a staging table, then one ``UPDATE … FROM``."""
        stage = self._stage(db, table, [*sets, *keys], rows)
        key_list = quote_all(keys, 63)
        assignments = ", ".join(f"{quote(c, 63)} = s.{quote(c, 63)}" for c in sets)
        match = " AND ".join(f"t.{quote(k, 63)} = s.{quote(k, 63)}" for k in keys)
        sql = (
            f"UPDATE {quote(table, 63)} AS t SET {assignments} FROM "
            f"(SELECT DISTINCT ON ({key_list}) * FROM {stage} ORDER BY {key_list}, ctid DESC) AS s "
            f"WHERE {match}"
        )
        count = db._run(sql, None, table=table).rowcount
        db._run(f"DROP TABLE {stage}", None, table=table)
        return int(count)

    def _stage(self, db: Database, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> str:
        """A temporary table shaped like ``table``'s ``columns`` (no constraints), holding rows."""
        stage = quote(f"_mngs_stage_{next(_stage_ids)}", 63)
        db._run(
            f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS "
            f"SELECT {quote_all(columns, 63)} FROM {quote(table, 63)} WITH NO DATA",
            None,
            table=table,
        )
        self._copy(db, stage, table, columns, rows)
        return stage

    def _copy(
        self, db: Database, target: str, table: str, columns: Sequence[str], rows: Sequence[tuple]
    ) -> int:
        sql = f"COPY {target} ({quote_all(columns, 63)}) FROM STDIN"
        with db._translating(sql, table=table, columns=columns, rows=rows):
            with db._conn.cursor() as cursor:
                with cursor.copy(sql) as copy:
                    write = copy.write_row
                    for row in rows:
                        write(row)
                return int(cursor.rowcount)

    def after_explicit_keys(self, db: Database, table: str, columns: Sequence[str]) -> None:
        """Move each serial/identity sequence past the largest value written explicitly."""
        for column, sequence in self._sequences(db, table).items():
            if column in columns:
                sql = _SETVAL_SQL.format(col=quote(column, 63), table=quote(table, 63))
                db._run(sql, [sequence, sequence], table=table, prepared=True)

    def _sequences(self, db: Database, table: str) -> dict[str, str]:
        """Column → sequence for the table's serial and identity columns (cached)."""
        key = ("sequences", table)
        if key not in db._cache:
            rows = db._run(_SEQUENCES_SQL, [quote(table, 63)] * 2, table=table, prepared=True)
            db._cache[key] = dict(rows.fetchall())
        return db._cache[key]

    # -- reflection --------------------------------------------------------------------
    def list_tables(self, db: Database) -> list[str]:
        rows = db._query(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        )
        return [r["tablename"] for r in rows]

    def get_columns(self, db: Database, table: str) -> list[ColumnInfo]:
        rows = db._run(_COLUMNS_SQL, [quote(table, 63)], table=table, prepared=True).fetchall()
        return [
            ColumnInfo(name=r[0], type=r[1], nullable=r[2], default=r[3], primary_key=r[4])
            for r in rows
        ]

    def primary_key(self, db: Database, table: str) -> tuple[str, ...]:
        rows = db._query(
            "SELECT a.attname AS name FROM pg_index i "
            "JOIN unnest(i.indkey) WITH ORDINALITY AS k(num, ord) ON true "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num "
            "WHERE i.indrelid = to_regclass(?) AND i.indisprimary ORDER BY k.ord",
            [quote(table, 63)],
        )
        return tuple(r["name"] for r in rows)

    def list_indexes(self, db: Database, table: str) -> list[IndexInfo]:
        rows = db._run(_INDEXES_SQL, [quote(table, 63)], table=table, prepared=True).fetchall()
        return [IndexInfo(name=r[0], unique=r[1], primary=r[2], columns=list(r[3])) for r in rows]

    def get_foreign_keys(self, db: Database, table: str) -> list[ForeignKeyInfo]:
        rows = db._run(_FOREIGN_KEYS_SQL, [quote(table, 63)], table=table, prepared=True).fetchall()
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

    # -- maintenance -------------------------------------------------------------------
    row_identities = ("ctid",)  # a system column: no user column can take the name

    def vacuum(self, db: Database, tables: Sequence[str]) -> None:
        """``VACUUM`` the given tables only (not every schema of the database)."""
        if tables:
            db._run(f"VACUUM {quote_all(tables, 63)}")

    def database_stats(self, db: Database, tables: Sequence[str]) -> dict[str, Any]:
        row = db._query(
            "SELECT pg_database_size(current_database()) AS size, current_database() AS database, "
            "current_schema() AS schema, "
            "(SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            " JOIN pg_namespace n ON n.oid = c.relnamespace "
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')) AS tables_size, "
            "current_setting('server_version') AS server_version"
        )[0]
        row["tables_size"] = int(row["tables_size"])
        return row

    def generated_key(self, db: Database, table: str) -> str | None:
        """A single-column primary key that is ``SERIAL`` or an identity column."""
        pk = self.primary_key(db, table)
        if len(pk) == 1 and pk[0] in self._sequences(db, table):
            return pk[0]
        return None

    # -- inspection --------------------------------------------------------------------
    def create_table_sql(self, db: Database, table: str) -> str:
        """Rebuilt from the catalogs (PostgreSQL keeps no CREATE text): columns with their
        types, collations, defaults, serial/identity/generated status and NOT NULL, then the
        primary key, unique, check, exclusion and foreign key constraints. Constraint names
        PostgreSQL generated (``<table>_pkey``, ``<table>_<col>_key``, …) are left out, so the
        statement also works under another table name."""
        name = quote(table, 63)
        columns = db._query(
            "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, "
            "a.attnotnull AS notnull, a.attidentity AS identity, a.attgenerated AS generated, "
            "pg_get_expr(d.adbin, d.adrelid) AS expr, "
            "CASE WHEN a.attcollation <> t.typcollation THEN "
            " (SELECT quote_ident(n.nspname) || '.' || quote_ident(c.collname) FROM pg_collation c "
            "  JOIN pg_namespace n ON n.oid = c.collnamespace WHERE c.oid = a.attcollation) "
            "END AS collation, "
            "COALESCE(pg_get_expr(d.adbin, d.adrelid) = 'nextval(' || quote_literal("
            " pg_get_serial_sequence(?, a.attname)::regclass::text) || '::regclass)', false) "
            "AS serial "
            "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            [name, name],
        )
        if not columns:
            from ..errors import ProgrammingError

            raise ProgrammingError(f"no such table: {table!r}")
        constraints = db._query(
            "SELECT conname AS name, pg_get_constraintdef(oid, true) AS definition "
            "FROM pg_constraint WHERE conrelid = to_regclass(?) AND contype IN ('p','u','c','x','f') "
            "ORDER BY position(contype IN 'pucxf'), conname",
            [name],
        )
        serials = {"integer": "serial", "bigint": "bigserial", "smallint": "smallserial"}
        parts = []
        for c in columns:
            text = f"{quote(c['name'], 63)} "
            if c["serial"] and c["type"] in serials:
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
        persistence = db._query("SELECT relpersistence FROM pg_class WHERE oid = to_regclass(?)", [name])
        unlogged = " UNLOGGED" if persistence[0]["relpersistence"] == "u" else ""
        body = ",\n    ".join(parts)
        return f"CREATE{unlogged} TABLE {name} (\n    {body}\n)"
