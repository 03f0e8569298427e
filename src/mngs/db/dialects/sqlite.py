"""SQLite through the standard library's sqlite3 module."""

from __future__ import annotations

import os
import re
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .. import codecs
from ..errors import Error, ProgrammingError
from ..reflection import ColumnInfo, ForeignKeyInfo, IndexInfo
from ..sql import quote
from .base import Dialect

if TYPE_CHECKING:
    from ..database import Database

__all__ = ["SQLiteDialect"]

_BIND_ERROR = re.compile(r"Error binding parameter :?(\d+)")
_PROGRAMMING_MESSAGES = (
    "no such table",
    "no such column",
    "no such index",
    "has no column named",
    "syntax error",
    "already exists",
    "near \"",
    "incomplete input",
    "duplicate column name",
)


class SQLiteDialect(Dialect):
    """A file (or ``":memory:"``) database; one connection shared under the handle's lock."""

    name = "sqlite"
    quoted_unknown_is_literal = True
    begin_sql = "BEGIN IMMEDIATE"  # take the write lock up front: no deadlock on upgrade
    unlimited = "-1"
    driver_error = sqlite3.Error
    type_rewrites = (
        (r"^\s*(?:small|big)?serial\s+primary\s+key\b", "INTEGER PRIMARY KEY AUTOINCREMENT"),
        (r"^\s*(?:small|big)?serial\b", "INTEGER"),
        (r"^\s*bytea\b", "BLOB"),
        (r"\bgenerated\s+(?:by\s+default|always)\s+as\s+identity\b", ""),
    )

    def __init__(self, path: str | os.PathLike[str] = ":memory:", timeout: float = 5.0) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.timeout = float(timeout)
        self._numpy_ready = False

    def connect(self) -> sqlite3.Connection:
        codecs.register_sqlite()
        conn = sqlite3.connect(
            self.path,
            timeout=self.timeout,
            detect_types=sqlite3.PARSE_DECLTYPES,
            isolation_level=None,  # autocommit: the handle issues BEGIN/COMMIT itself
            check_same_thread=False,  # the handle's lock serialises access
            cached_statements=512,
        )
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def describe(self) -> str:
        return repr(self.path)

    def classify(self, exc: BaseException) -> type[Error] | None:
        message = str(exc)
        if isinstance(exc, sqlite3.OperationalError) and message.startswith(_PROGRAMMING_MESSAGES):
            return ProgrammingError
        return None

    def prepare(self, sql: str, params: Any) -> tuple[str, Any]:
        if not self._numpy_ready and "numpy" in sys.modules:
            codecs.register_sqlite_numpy()
            self._numpy_ready = True
        return sql, () if params is None else params

    def last_rowid(self, cursor: sqlite3.Cursor) -> int | None:
        return cursor.lastrowid

    def blame_column(
        self, exc: BaseException, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> str | None:
        match = _BIND_ERROR.search(str(exc))
        if match and 0 < int(match[1]) <= len(columns):
            return columns[int(match[1]) - 1]
        return None

    def stream(
        self, conn: sqlite3.Connection, sql: str, params: Any, size: int
    ) -> Iterator[tuple[list[str], list[tuple]]]:
        cursor = conn.execute(sql, params)
        try:
            names = [d[0] for d in cursor.description or ()]
            while rows := cursor.fetchmany(size):
                yield names, rows
        finally:
            cursor.close()

    # -- reflection --------------------------------------------------------------------
    def list_tables(self, db: Database) -> list[str]:
        rows = db._query(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
        return [r["name"] for r in rows]

    def get_columns(self, db: Database, table: str) -> list[ColumnInfo]:
        rows = db._query("SELECT * FROM pragma_table_info(?) ORDER BY cid", [table])
        return [
            ColumnInfo(
                name=r["name"],
                type=r["type"],
                nullable=not (r["notnull"] or r["pk"]),
                default=r["dflt_value"],
                primary_key=bool(r["pk"]),
            )
            for r in rows
        ]

    def primary_key(self, db: Database, table: str) -> tuple[str, ...]:
        rows = db._query("SELECT name, pk FROM pragma_table_info(?) WHERE pk > 0", [table])
        return tuple(r["name"] for r in sorted(rows, key=lambda r: r["pk"]))

    def list_indexes(self, db: Database, table: str) -> list[IndexInfo]:
        result = []
        for idx in db._query("SELECT * FROM pragma_index_list(?) ORDER BY name", [table]):
            cols = db._query(
                "SELECT name FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno", [idx["name"]]
            )
            result.append(
                IndexInfo(
                    name=idx["name"],
                    columns=[c["name"] if c["name"] is not None else "<expression>" for c in cols],
                    unique=bool(idx["unique"]),
                    primary=idx["origin"] == "pk",
                )
            )
        return result

    def get_foreign_keys(self, db: Database, table: str) -> list[ForeignKeyInfo]:
        keys: dict[int, ForeignKeyInfo] = {}
        for r in db._query("SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq", [table]):
            fk = keys.setdefault(
                r["id"],
                ForeignKeyInfo(
                    name=None,
                    columns=[],
                    referred_table=r["table"],
                    referred_columns=[],
                    on_update=r["on_update"],
                    on_delete=r["on_delete"],
                ),
            )
            fk["columns"].append(r["from"])
            fk["referred_columns"].append(r["to"])
        return list(keys.values())

    def drop_column(self, db: Database, table: str, column: str) -> None:
        """Drop the column's plain indexes, then ``DROP COLUMN``; rebuild when SQLite refuses."""
        for index in self.list_indexes(db, table):
            if column in index["columns"] and not index["name"].startswith("sqlite_autoindex"):
                db._run(f"DROP INDEX {quote(index['name'])}", None, table=table)
        if sqlite3.sqlite_version_info >= (3, 35, 0):
            try:
                with db.transaction():
                    super().drop_column(db, table, column)
                return
            except ProgrammingError:
                raise
            except Error:
                pass  # e.g. a PRIMARY KEY or UNIQUE column: rebuild below
        self._rebuild_without(db, table, column)

    def _rebuild_without(self, db: Database, table: str, column: str) -> None:
        """Copy the table into a new one without ``column`` (constraints other than the
        primary key and NOT NULL/DEFAULT are not carried over), then swap it in."""
        columns = [c for c in self.get_columns(db, table) if c["name"] != column]
        pk = [c["name"] for c in columns if c["primary_key"]]
        defs = []
        for c in columns:
            text = f"{quote(c['name'])} {c['type']}"
            if not c["nullable"] and not c["primary_key"]:
                text += " NOT NULL"
            if c["default"] is not None:
                text += f" DEFAULT {c['default']}"
            defs.append(text)
        if pk:
            defs.append(f"PRIMARY KEY ({', '.join(quote(p) for p in pk)})")
        indexes = db._query(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            [table],
        )
        tmp = f"_mngs_rebuild_{table}"
        names = ", ".join(quote(c["name"]) for c in columns)
        with db.transaction():
            db._run(f"CREATE TABLE {quote(tmp)} ({', '.join(defs)})", None, table=table)
            db._run(
                f"INSERT INTO {quote(tmp)} ({names}) SELECT {names} FROM {quote(table)}",
                None,
                table=table,
            )
            db._run(f"DROP TABLE {quote(table)}", None, table=table)
            db._run(f"ALTER TABLE {quote(tmp)} RENAME TO {quote(table)}", None, table=table)
            for index in indexes:
                db._run(index["sql"], None, table=table)

    # -- maintenance -------------------------------------------------------------------
    row_identities = ("rowid", "_rowid_", "oid")

    def vacuum(self, db: Database, tables: Sequence[str]) -> None:
        """SQLite can only rebuild the whole file."""
        db._run("VACUUM")

    def database_stats(self, db: Database, tables: Sequence[str]) -> dict[str, Any]:
        row = db._query(
            "SELECT p.page_count * s.page_size AS size, s.page_size AS page_size, "
            "f.freelist_count * s.page_size AS free_size, j.journal_mode AS journal_mode "
            "FROM pragma_page_count() AS p, pragma_page_size() AS s, "
            "pragma_freelist_count() AS f, pragma_journal_mode() AS j"
        )[0]
        return {"path": self.path, **row, "sqlite_version": sqlite3.sqlite_version}

    def generated_key(self, db: Database, table: str) -> str | None:
        """An ``INTEGER PRIMARY KEY`` of a rowid table: an alias of the auto-assigned rowid."""
        pk = [c for c in self.get_columns(db, table) if c["primary_key"]]
        if len(pk) != 1 or pk[0]["type"].strip().upper() != "INTEGER":
            return None
        sql = self.create_table_sql(db, table)
        if re.search(r"\bwithout\s+rowid\s*$", sql, re.IGNORECASE):
            return None
        return pk[0]["name"]

    # -- inspection --------------------------------------------------------------------
    def create_table_sql(self, db: Database, table: str) -> str:
        """The statement SQLite keeps in ``sqlite_master`` (normalised to ``CREATE TABLE``)."""
        rows = db._query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table])
        if not rows or rows[0]["sql"] is None:
            raise ProgrammingError(f"no such table: {table!r}")
        return str(rows[0]["sql"])
