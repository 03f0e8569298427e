"""SQLite through the standard library's sqlite3 module."""

from __future__ import annotations

import hashlib
import os
import random
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.request import pathname2url

from .. import codecs
from ..errors import (
    ArgumentError,
    DataError,
    Error,
    IntegrityError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    ReadOnlyError,
)
from ..reflection import ColumnInfo, ForeignKeyInfo, IndexInfo
from ..sql import quote
from .base import Dialect

if TYPE_CHECKING:
    from pathlib import Path

    from ..executor import Executor

__all__ = ["SQLiteDialect"]

#: Longest wait in SQLite's own busy handler for one attempt of a statement.
_HANDLER_SLICE = 0.5
_JOURNAL_MODES = frozenset({"wal", "delete", "truncate", "persist", "memory", "off"})

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
    reserved_table_prefixes = ("sqlite_",)
    begin_sql = "BEGIN IMMEDIATE"  # take the write lock up front: no deadlock on upgrade
    for_update_sql = ""  # the transaction already holds the database's write lock
    unlimited = "-1"
    driver_error = sqlite3.Error
    type_rewrites = (
        (r"^\s*(?:small|big)?serial\s+primary\s+key\b", "INTEGER PRIMARY KEY AUTOINCREMENT"),
        (r"^\s*(?:small|big)?serial\b", "INTEGER"),
        (r"^\s*bytea\b", "BLOB"),
        (r"\bgenerated\s+(?:by\s+default|always)\s+as\s+identity\b", ""),
    )

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        timeout: float = 5.0,
        *,
        journal_mode: str | None = "wal",
        read_only: bool = False,
    ) -> None:
        super().__init__()
        self.path = os.fspath(path)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise ArgumentError(f"timeout must be a number of seconds >= 0, not {timeout!r}")
        self.timeout = float(timeout)
        if journal_mode is not None and str(journal_mode).lower() not in _JOURNAL_MODES:
            raise ArgumentError(f"journal_mode must be one of {sorted(_JOURNAL_MODES)} or None")
        self.journal_mode = None if journal_mode is None else str(journal_mode).lower()
        self.read_only = bool(read_only)
        self._numpy_ready = False
        #: The types whose values may be a NaN SQLite would store as NULL (numpy's float64 too).
        self._float_types: frozenset[type] = frozenset({float})

    def connect(self) -> sqlite3.Connection:
        codecs.register_sqlite()
        memory = self.path == ":memory:" or self.path.startswith("file::memory:")
        folder = os.path.dirname(os.path.abspath(self.path))
        if not memory and not self.path.startswith("file:") and not os.path.isdir(folder):
            raise OperationalError(
                f"cannot open SQLite database {self.path!r}: the folder {folder!r} does not exist"
            )
        target, uri = self.path, self.path.startswith("file:")
        if self.read_only and not memory:
            target, uri = f"file:{pathname2url(os.path.abspath(self.path))}?mode=ro", True
        try:
            conn = sqlite3.connect(
                target,
                timeout=min(self.timeout, _HANDLER_SLICE),  # then jittered retries: see busy_timeout
                detect_types=sqlite3.PARSE_DECLTYPES,
                isolation_level=None,  # autocommit: the handle issues BEGIN/COMMIT itself
                check_same_thread=False,  # the handle's lock serialises access
                cached_statements=512,
                uri=uri,
            )
        except sqlite3.Error as exc:
            raise OperationalError(f"cannot open SQLite database {self.path!r}: {exc}") from exc
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            if self.journal_mode and not memory and not self.read_only:
                self._set_journal_mode(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise OperationalError(f"cannot open SQLite database {self.path!r}: {exc}") from exc
        return conn

    def _set_journal_mode(self, conn: sqlite3.Connection) -> None:
        """Switch the file to the journal mode asked for (WAL by default: readers never block
        writers nor the other way round). Switching needs a moment without other writers, so
        a busy database is waited for like any statement."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                conn.execute(f"PRAGMA journal_mode = {self.journal_mode}")
                return
            except sqlite3.OperationalError as exc:
                if self.fault(exc, conn) != "busy" or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.005, 0.05))

    def describe(self) -> str:
        return repr(self.path) + (" (read-only)" if self.read_only else "")

    def fault(self, exc: BaseException, conn: Any) -> str | None:
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return "busy"
        return None

    def retry_busy(self, sql: str, depth: int) -> bool:
        # SQLITE_BUSY means the statement did nothing: outside a transaction any statement may
        # be sent again, and so may COMMIT (the transaction stays open when COMMIT is busy).
        return depth == 0 or sql == "COMMIT"

    def busy_timeout(self) -> float:
        # SQLite's own busy handler waits a first slice; the executor retries for the rest,
        # with jittered sleeps, so that no writer starves behind the others.
        return max(0.0, self.timeout - _HANDLER_SLICE)

    def begin_statement(self, isolation: str | None) -> str:
        return self.begin_sql  # every SQLite transaction is serializable

    def classify(self, exc: BaseException) -> type[Error] | None:
        message = str(exc)
        if "readonly database" in message:
            return ReadOnlyError
        if isinstance(exc, sqlite3.OperationalError) and any(m in message for m in _PROGRAMMING_MESSAGES):
            return ProgrammingError
        return super().classify(exc)

    def prepare(self, sql: str, params: Any) -> tuple[str, Any]:
        codecs.register_sqlite()  # a no-op unless another library replaced our codecs
        if not self._numpy_ready and "numpy" in sys.modules:
            codecs.register_sqlite_numpy()
            self._numpy_ready = True
            import numpy

            self._float_types = frozenset({float, *(t for t in (numpy.float64,) if issubclass(t, float))})
        if params is None:
            return sql, ()
        values = params.values() if isinstance(params, dict) else params
        if not self._float_types.isdisjoint(map(type, values)):
            for index, value in enumerate(values):
                if isinstance(value, float) and value != value:  # NaN: SQLite would store NULL
                    raise sqlite3.DataError(
                        f"Error binding parameter {index + 1}: NaN cannot be stored by SQLite (it "
                        "would silently become NULL); pass None for a missing value"
                    )
        return sql, params

    def last_rowid(self, cursor: sqlite3.Cursor) -> int | None:
        return cursor.lastrowid

    def blame_column(
        self, exc: BaseException, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> str | None:
        match = _BIND_ERROR.search(str(exc))
        if match and 0 < int(match[1]) <= len(columns):
            return columns[int(match[1]) - 1]
        return super().blame_column(exc, columns, rows)

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
    def list_tables(self, ex: Executor) -> list[str]:
        if sqlite3.sqlite_version_info >= (3, 37, 0):  # pragma_table_list knows shadow tables
            rows = ex.query(
                "SELECT name FROM pragma_table_list WHERE schema = 'main' "
                "AND type IN ('table', 'virtual') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
                "ORDER BY name"
            )
        else:
            rows = ex.query(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
            )
        return [r["name"] for r in rows]

    def get_columns(self, ex: Executor, table: str) -> list[ColumnInfo]:
        rows = ex.query("SELECT * FROM pragma_table_info(?) ORDER BY cid", [table])
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

    def primary_key(self, ex: Executor, table: str) -> tuple[str, ...]:
        rows = ex.query("SELECT name, pk FROM pragma_table_info(?) WHERE pk > 0", [table])
        return tuple(r["name"] for r in sorted(rows, key=lambda r: r["pk"]))

    def list_indexes(self, ex: Executor, table: str) -> list[IndexInfo]:
        result = []
        for idx in ex.query("SELECT * FROM pragma_index_list(?) ORDER BY name", [table]):
            cols = ex.query(
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

    def get_foreign_keys(self, ex: Executor, table: str) -> list[ForeignKeyInfo]:
        keys: dict[int, ForeignKeyInfo] = {}
        for r in ex.query("SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq", [table]):
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

    def table_facts(self, ex: Executor, table: str) -> dict[str, Any]:
        sql = self.create_table_sql(ex, table)
        hidden = ex.query("SELECT name, hidden FROM pragma_table_xinfo(?) WHERE hidden IN (2, 3)", [table])
        special = {}
        for idx in ex.query("SELECT name, partial FROM pragma_index_list(?)", [table]):
            expression = ex.query(
                "SELECT 1 FROM pragma_index_xinfo(?) WHERE key = 1 AND cid = -2", [idx["name"]]
            )
            if idx["partial"] or expression:
                text = ex.query(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", [idx["name"]]
                )
                why = "partial" if idx["partial"] else "expression"
                special[idx["name"]] = f"{why} index: {text[0]['sql'] if text else idx['name']}"
        virtual = bool(re.match(r"\s*create\s+virtual\b", sql, re.IGNORECASE))
        bare = _QUOTED.sub("''", sql)
        return {
            "auto": None if virtual else self.generated_key(ex, table),
            "sequenced": [],
            "generated": {r["name"]: None for r in hidden},
            "checks": [] if virtual else _check_clauses(sql),
            "special_indexes": special,
            "virtual": virtual,
            "autoincrement": bool(re.search(r"\bautoincrement\b", bare, re.IGNORECASE)),
            "identity_always": [],
            "other": _table_notes(bare),
            "partitioned": False,
            "partition_of": None,
        }

    def other_objects(self, ex: Executor) -> list[str]:
        rows = ex.query(
            "SELECT type, name FROM sqlite_master WHERE type IN ('view', 'trigger') ORDER BY type, name"
        )
        return [f"{r['type']} {r['name']}" for r in rows]

    # -- table rebuilds ----------------------------------------------------------------
    @contextmanager
    def schema_change(self, ex: Executor) -> Iterator[bool]:
        """Steps 1, 2, 11 and 12 of SQLite's procedure for schema changes
        (https://www.sqlite.org/lang_altertable.html#otheralter): foreign keys off *outside*
        the transaction (SQLite ignores the pragma inside one), so that no DROP TABLE fires an
        ON DELETE action, then one transaction, then foreign keys back on. Yields whether
        foreign keys were on before: the block checks them (``foreign_key_check``) before the
        commit. Inside a transaction the user opened the pragma cannot change: the block runs
        in a savepoint with foreign keys still on (yields True) and must avoid what would cascade."""
        with ex.lock:
            enforced = bool(ex.run("PRAGMA foreign_keys").fetchone()[0])
            if not enforced or ex.in_transaction:
                with ex.transaction():
                    yield enforced
                return
            ex.run("PRAGMA foreign_keys = OFF")
            try:
                with ex.transaction():
                    yield True
            finally:
                ex.run("PRAGMA foreign_keys = ON")

    def foreign_keys_enforced(self, ex: Executor) -> bool:
        """True when foreign keys are enforced right now (on, as a handle opens them)."""
        return bool(ex.run("PRAGMA foreign_keys").fetchone()[0])

    def drop_column(self, ex: Executor, table: str, column: str) -> None:
        """Drop ``column`` keeping every row, every rowid and everything else of the table.

        What belongs to the column alone goes with it: its own constraints, indexes on it
        alone, table constraints (UNIQUE, CHECK, FOREIGN KEY, PRIMARY KEY) naming only it.
        Anything that also needs another column (a multi-column index or constraint, a CHECK
        or generated column of another column, a trigger, a view, a foreign key of another
        table) is refused with a :class:`ProgrammingError` naming it, before anything changes.
        ``ALTER TABLE … DROP COLUMN`` is used where SQLite allows it; otherwise the table is
        rebuilt by SQLite's documented procedure (see :meth:`schema_change`)."""
        plan = _plan_drop(ex, table, column)
        nested = ex.in_transaction  # then foreign keys stay as they are
        with self.schema_change(ex) as enforced:
            for index in plan.dropped_indexes:
                ex.run(f"DROP INDEX {quote(index)}", None, table=table)
            if plan.alter and sqlite3.sqlite_version_info >= (3, 35, 0):
                try:
                    with ex.transaction():
                        super().drop_column(ex, table, column)
                    return
                except ProgrammingError:
                    raise
                except Error:
                    pass  # SQLite refused (a constraint on the column): rebuild below
            if enforced and nested and plan.children and self.foreign_keys_enforced(ex):
                raise OperationalError(
                    f"dropping column {column!r} of {table!r} rebuilds the table, which must run "
                    f"with foreign keys off because {', '.join(map(repr, plan.children))} refer to "
                    "it (else their rows could be deleted in cascade); SQLite can switch them off "
                    "only outside a transaction: call drop_column after the transaction block ends"
                )
            self._rebuild(ex, table, plan, check=enforced)

    def _rebuild(self, ex: Executor, table: str, plan: _DropPlan, check: bool) -> None:
        """Steps 3-10 of SQLite's procedure: new table, copy, drop, rename, indexes and
        triggers again, ``foreign_key_check``; the caller holds the transaction."""
        kept = plan.kept_objects
        seq = None
        if ex.query("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"):
            found = ex.query("SELECT seq FROM sqlite_sequence WHERE name = ?", [table])
            seq = found[0]["seq"] if found else None
        tmp = "_mngs_rebuild_" + os.urandom(6).hex()
        ex.run(plan.create_sql(quote(tmp)), None, table=table)
        names = ", ".join(quote(c) for c in plan.copied)
        if plan.rowid:
            names = f"{plan.rowid}, {names}" if names else plan.rowid
        ex.run(f"INSERT INTO {quote(tmp)} ({names}) SELECT {names} FROM {quote(table)}", None, table=table)
        ex.run(f"DROP TABLE {quote(table)}", None, table=table)
        legacy = ex.run("PRAGMA legacy_alter_table").fetchone()[0]
        ex.run("PRAGMA legacy_alter_table = ON")  # no view is rewritten, nor checked half-done
        try:
            ex.run(f"ALTER TABLE {quote(tmp)} RENAME TO {quote(table)}", None, table=table)
        finally:
            ex.run(f"PRAGMA legacy_alter_table = {1 if legacy else 0}")
        for sql in kept:
            ex.run(sql, None, table=table)
        if seq is not None and plan.autoincrement:
            ex.run("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", [seq, table])
            if not ex.query("SELECT 1 FROM sqlite_sequence WHERE name = ?", [table]):
                ex.run("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", [table, seq])
        for view in plan.views:
            try:
                ex.run(f"SELECT * FROM {quote(view)} LIMIT 0", None, table=table)
            except Error as exc:
                raise ProgrammingError(
                    f"cannot drop column {plan.column!r} of {table!r}: view {view!r} needs it "
                    f"({exc}); drop or change the view first. Nothing was changed"
                ) from None
        if check:
            for name in (table, *plan.children):
                broken = ex.query("SELECT * FROM pragma_foreign_key_check(?)", [name])
                if broken:
                    raise IntegrityError(
                        f"dropping column {plan.column!r} of {table!r} would leave {len(broken)} "
                        f"row(s) of {broken[0]['table']!r} referring to missing rows of "
                        f"{broken[0]['parent']!r}; nothing was changed"
                    )

    # -- maintenance -------------------------------------------------------------------
    row_identities = ("rowid", "_rowid_", "oid")
    vacuum_renumbers_rows = True  # rowids of tables without an INTEGER PRIMARY KEY

    def vacuum(self, ex: Executor, tables: Sequence[str]) -> None:
        """SQLite can only rebuild the whole file."""
        ex.run("VACUUM")

    def database_stats(self, ex: Executor, tables: Sequence[str]) -> dict[str, Any]:
        row = ex.query(
            "SELECT p.page_count * s.page_size AS size, s.page_size AS page_size, "
            "f.freelist_count * s.page_size AS free_size, j.journal_mode AS journal_mode "
            "FROM pragma_page_count() AS p, pragma_page_size() AS s, "
            "pragma_freelist_count() AS f, pragma_journal_mode() AS j"
        )[0]
        return {"path": self.path, **row, "sqlite_version": sqlite3.sqlite_version}

    def generated_key(self, ex: Executor, table: str) -> str | None:
        """An ``INTEGER PRIMARY KEY`` of a rowid table: an alias of the auto-assigned rowid."""
        pk = [c for c in self.get_columns(ex, table) if c["primary_key"]]
        if len(pk) != 1 or pk[0]["type"].strip().upper() != "INTEGER":
            return None
        sql = self.create_table_sql(ex, table)
        if re.search(r"\bwithout\s+rowid\s*$", sql, re.IGNORECASE):
            return None
        return pk[0]["name"]

    # -- inspection --------------------------------------------------------------------
    def create_table_sql(self, ex: Executor, table: str) -> str:
        """The statement SQLite keeps in ``sqlite_master`` (normalised to ``CREATE TABLE``)."""
        rows = ex.query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table])
        if not rows or rows[0]["sql"] is None:
            raise ProgrammingError(f"no such table: {table!r}")
        return str(rows[0]["sql"])

    # -- search ------------------------------------------------------------------------
    #: Languages accepted by enable_search: PostgreSQL's built-in configurations, so a
    #: program written for one backend runs on the other. FTS5 stems English only (porter);
    #: other languages are tokenized without stemming, accents removed.
    search_languages = frozenset(
        "simple arabic armenian basque catalan danish dutch english finnish french german greek "
        "hindi hungarian indonesian irish italian lithuanian nepali norwegian portuguese romanian "
        "russian serbian spanish swedish tamil turkish yiddish".split()
    )

    @staticmethod
    def _fts_names(table: str) -> tuple[str, str, str, str]:
        """The FTS5 table and its insert/delete/update trigger names, each quoted."""
        fts = table + "_fts"
        return quote(fts), quote(fts + "_insert"), quote(fts + "_delete"), quote(fts + "_update")

    def _has_fts(self, ex: Executor, table: str) -> bool:
        rows = ex.query(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table + "_fts"]
        )
        if rows and not str(rows[0]["sql"]).upper().startswith("CREATE VIRTUAL TABLE"):
            raise ProgrammingError(
                f"{table + '_fts'!r} is a plain table, not the search index of {table!r}; "
                "rename it to make the table searchable"
            )
        return bool(rows)

    def enable_search(self, ex: Executor, table: str, columns: Sequence[str], language: str) -> None:
        """An external-content FTS5 table ``<table>_fts`` kept in sync by triggers."""
        if language not in self.search_languages:
            raise ArgumentError(
                f"unknown search language {language!r}; use one of {sorted(self.search_languages)}"
            )
        try:
            ex.run(f"SELECT rowid FROM {quote(table)} LIMIT 0", None, table=table)
        except ProgrammingError:
            raise NotSupportedError(
                f"table {table!r} is WITHOUT ROWID: SQLite full-text search needs a rowid table"
            ) from None
        self.disable_search(ex, table)
        fts, on_insert, on_delete, on_update = self._fts_names(table)
        name = quote(table)
        cols = ", ".join(quote(c) for c in columns)
        new = ", ".join(f"new.{quote(c)}" for c in columns)
        old = ", ".join(f"old.{quote(c)}" for c in columns)
        tokenize = "porter unicode61 remove_diacritics 2" if language == "english" else (
            "unicode61 remove_diacritics 2"
        )
        content = "'" + table.replace("'", "''") + "'"
        add = f"INSERT INTO {fts} (rowid, {cols}) VALUES (new.rowid, {new});"
        remove = f"INSERT INTO {fts} ({fts}, rowid, {cols}) VALUES ('delete', old.rowid, {old});"
        for sql in (
            f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content={content}, "
            f"content_rowid='rowid', tokenize='{tokenize}')",
            f"CREATE TRIGGER {on_insert} AFTER INSERT ON {name} BEGIN {add} END",
            f"CREATE TRIGGER {on_delete} AFTER DELETE ON {name} BEGIN {remove} END",
            f"CREATE TRIGGER {on_update} AFTER UPDATE ON {name} BEGIN {remove} {add} END",
        ):
            ex.run(sql, None, table=table)
        self.rebuild_search(ex, table)

    def disable_search(self, ex: Executor, table: str) -> None:
        if not self._has_fts(ex, table):
            return
        fts, *triggers = self._fts_names(table)
        for trigger in triggers:
            ex.run(f"DROP TRIGGER IF EXISTS {trigger}", None, table=table)
        ex.run(f"DROP TABLE {fts}", None, table=table)

    def rebuild_search(self, ex: Executor, table: str) -> None:
        """FTS5's ``rebuild``: needed after ``VACUUM`` renumbers the rows of a table that has
        no ``INTEGER PRIMARY KEY``."""
        fts = self._fts_names(table)[0]
        ex.run(f"INSERT INTO {fts} ({fts}) VALUES ('rebuild')", None, table=table)

    def searchable_tables(self, ex: Executor) -> list[str]:
        rows = ex.query(
            "SELECT t.name FROM sqlite_master AS t JOIN sqlite_master AS f "
            "ON f.name = t.name || '_fts' AND f.type = 'table' "
            "AND upper(f.sql) LIKE 'CREATE VIRTUAL TABLE%' WHERE t.type = 'table' ORDER BY t.name"
        )
        return [r["name"] for r in rows]

    def search_parts(
        self, ex: Executor, table: str, query: str, placeholder: str
    ) -> tuple[str, str | None, str, Any] | None:
        """FTS5 ``MATCH`` ranked by bm25 (negated, so higher is better)."""
        if not self._has_fts(ex, table):
            raise ProgrammingError(
                f"table {table!r} is not searchable: call db.enable_search({table!r}, columns) first"
            )
        expression = _fts5_query(query)
        if expression is None:
            return None
        fts, name = self._fts_names(table)[0], quote(table)
        from_sql = (
            f"FROM {name} JOIN (SELECT rowid AS _mngs_rowid, bm25({fts}) AS _mngs_bm25 "
            f"FROM {fts} WHERE {fts} MATCH {placeholder}) AS _mngs_hits "
            f"ON {name}.rowid = _mngs_hits._mngs_rowid"
        )
        return from_sql, None, "-_mngs_hits._mngs_bm25", expression

    # -- backup ------------------------------------------------------------------------
    binary_backups = True
    #: Our dumps end with the first; ``sqlite3``'s ``.dump`` and ``iterdump()`` with the second.
    dump_trailers = ("-- mngs.db dump complete", "COMMIT;")
    _DUMP_SKIP = re.compile(r"(?:BEGIN|COMMIT|END|ROLLBACK)\b|PRAGMA\s+foreign_keys\b", re.IGNORECASE)
    _DUMP_CREATES = re.compile(
        r"CREATE\s+(?:VIRTUAL\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
        r"(\"(?:[^\"]|\"\")+\"|'(?:[^']|'')+'|`(?:[^`]|``)+`|\[[^\]]+\]|[^\s(]+)",
        re.IGNORECASE,
    )

    def backup(self, ex: Executor, path: Path, *, table: str | None, text: bool) -> dict[str, int] | None:
        """Read through a second connection (committed data, one consistent snapshot), or
        through the handle's own for a database no other connection can open."""
        with ex.lock:
            rows = ex.query("SELECT file FROM pragma_database_list WHERE name = 'main'")
        file = rows[0]["file"] if rows else ""
        if not file:  # ":memory:" or a temporary database
            with ex.lock:
                return self._backup_from(ex, ex.conn, path, table, text, snapshot=False)
        with ex.translating(f"-- backup of {file}"):
            source = sqlite3.connect(file, timeout=self.timeout, isolation_level=None)
        try:
            return self._backup_from(ex, source, path, table, text, snapshot=True)
        finally:
            source.close()

    def _backup_from(
        self, ex: Executor, source: Any, path: Path, table: str | None, text: bool, snapshot: bool
    ) -> dict[str, int] | None:
        with ex.translating(f"-- backup to {path}"):
            if not text:
                target = sqlite3.connect(path, isolation_level=None)
                try:
                    source.backup(target)  # one step: a consistent copy even while others write
                    target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
                finally:
                    target.close()
                return None
            if snapshot:
                source.execute("BEGIN")
            counts: dict[str, int] = {}
            try:
                with open(path, "a", encoding="utf-8", newline="") as out:
                    out.writelines(_dump_lines(source, table, counts))
            finally:
                if snapshot:
                    source.execute("ROLLBACK")
            return counts

    def restore_dump(self, ex: Executor, path: Path, facts: dict[str, Any]) -> dict[str, int]:
        """Run the dump statement by statement (not ``executescript``, which commits); each
        table it creates is dropped first. Foreign keys are off (see :meth:`schema_change`),
        so tables may come in any order and no ON DELETE action fires; they are checked with
        ``foreign_key_check`` before the commit. Inside a transaction the user opened they
        stay on: every table is then created before any row is loaded, checks are deferred to
        the end, and a table whose replacement would fire an ON DELETE action of another table
        is refused. Returns the rows inserted per table."""
        enforced = self.foreign_keys_enforced(ex)
        database = facts.get("scope") == "database"
        deferred = ex.run("PRAGMA defer_foreign_keys").fetchone()[0]
        created: list[str] = []
        if enforced:  # the tables are known first: their replacement must not cascade
            ex.run("PRAGMA defer_foreign_keys = ON")
            if not database:
                self._refuse_cascades(ex, self._dump_tables(path))
        if database:
            self._drop_everything(ex)
        counts: dict[str, int] = {}
        passes = ("create", "rest") if enforced else ("all",)
        for step in passes:
            with open(path, encoding="utf-8", newline="\n") as source:
                for statement in _dump_statements(source, path):
                    if self._DUMP_SKIP.match(statement):
                        continue  # the dump's own transaction control: ours is already open
                    made = self._DUMP_CREATES.match(statement)
                    if (step == "create" and not made) or (step == "rest" and made):
                        continue
                    if made:
                        created.append(_unquote(made[1]))
                        ex.run(f"DROP TABLE IF EXISTS {quote(created[-1])}")
                    else:
                        into = _DUMP_INSERT.match(statement)
                        if into:
                            name = _unquote(into[1])
                            counts[name] = counts.get(name, 0) + 1
                    ex.run(statement)
        if database:
            broken = ex.query("SELECT * FROM pragma_foreign_key_check")
        else:
            broken = []
            for name in self._with_children(ex, created):
                broken += ex.query("SELECT * FROM pragma_foreign_key_check(?)", [name])
        if broken:
            raise IntegrityError(
                f"restoring {path} would leave {len(broken)} row(s) of table "
                f"{broken[0]['table']!r} referring to missing rows of {broken[0]['parent']!r}; "
                "nothing was restored"
            )
        if enforced:
            ex.run(f"PRAGMA defer_foreign_keys = {1 if deferred else 0}")
        return counts

    def _dump_tables(self, path: Path) -> list[str]:
        """The names of the tables a dump creates."""
        names = []
        with open(path, encoding="utf-8", newline="\n") as source:
            for statement in _dump_statements(source, path):
                made = self._DUMP_CREATES.match(statement)
                if made:
                    names.append(_unquote(made[1]))
        return names

    def _with_children(self, ex: Executor, tables: list[str]) -> list[str]:
        """``tables`` that exist, and every table with a foreign key to one of them."""
        wanted = {t.translate(_ASCII_LOWER) for t in tables}
        found = []
        for row in ex.query("SELECT name FROM sqlite_master WHERE type = 'table'"):
            name = row["name"]
            if name.translate(_ASCII_LOWER) in wanted or any(
                str(fk["table"]).translate(_ASCII_LOWER) in wanted
                for fk in ex.query("SELECT \"table\" FROM pragma_foreign_key_list(?)", [name])
            ):
                found.append(name)
        return found

    def _refuse_cascades(self, ex: Executor, tables: list[str]) -> None:
        """With foreign keys on, replacing a table deletes its rows first: refuse when a table
        the dump leaves alone has rows and an ON DELETE action on one of the tables."""
        replaced = {t.translate(_ASCII_LOWER) for t in tables}
        for row in ex.query("SELECT name FROM sqlite_master WHERE type = 'table'"):
            name = row["name"]
            if name.translate(_ASCII_LOWER) in replaced:
                continue
            for fk in ex.query("SELECT * FROM pragma_foreign_key_list(?)", [name]):
                acts = str(fk["on_delete"]).upper() != "NO ACTION"
                if acts and str(fk["table"]).translate(_ASCII_LOWER) in replaced:
                    if ex.query(f"SELECT 1 FROM {quote(name)} LIMIT 1"):
                        raise OperationalError(
                            f"restoring table {fk['table']!r} inside a transaction would run the "
                            f"ON DELETE {fk['on_delete']} action of table {name!r} (SQLite can "
                            "switch foreign keys off only outside a transaction); restore it "
                            "after the transaction block ends"
                        )

    def _drop_everything(self, ex: Executor) -> None:
        """Drop every view and table (virtual tables first: their shadow tables go with them)."""
        objects = ex.query(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type = 'table', "
            "sql NOT LIKE 'CREATE VIRTUAL TABLE%'"
        )
        for obj in objects:
            kind = "VIEW" if obj["type"] == "view" else "TABLE"
            ex.run(f"DROP {kind} IF EXISTS {quote(obj['name'])}")
        if ex.query("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"):
            ex.run("DELETE FROM sqlite_sequence")

    def restore_copy(self, ex: Executor, path: Path, facts: dict[str, Any] | None) -> None:
        """Check the file (its content against ``facts``, the checksum file written with it,
        then ``PRAGMA integrity_check``) and copy it over the live database with the backup
        API, all from one read snapshot of the file (one step: it fails as a whole or succeeds)."""
        if ex.in_transaction:
            raise OperationalError(
                "restoring a binary SQLite backup replaces the whole database and cannot run "
                "inside a transaction; call restore_database after the `with db.transaction():` "
                "block ends (or restore a .sql dump, which can run inside one)"
            )
        source = _open_copy(path)
        try:
            source.execute("BEGIN")  # one snapshot: what is checked is what is copied
            source.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the read lock, now
            _check_open_copy(source, path, facts, describe=False)
            with ex.translating(f"-- restore from {path}"):
                source.backup(ex.conn)
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{path} is not a usable SQLite database ({exc}); nothing was restored") from exc
        finally:
            source.close()

    # -- transfer ----------------------------------------------------------------------
    def stored_value_sql(self, column: str, declared: str) -> tuple[str, Callable[[Any], Any]] | None:
        """A CASE (no declared type, so no converter): text as str, other values as the bytes
        sqlite3 hands the converter registered for the type's first word (as sqlite3 splits it)."""
        convert = sqlite3.converters.get(re.split(r"[ (]", declared, maxsplit=1)[0].upper())
        if convert is None:
            return None
        return f"CASE typeof({column}) WHEN 'text' THEN {column} ELSE CAST({column} AS BLOB) END", convert

    def parameter_limit(self, conn: sqlite3.Connection) -> int:
        """The library's compiled limit (32766 since SQLite 3.32; 999 before), where Python
        can ask for it (3.11+)."""
        getlimit = getattr(conn, "getlimit", None)
        if getlimit is None:
            return super().parameter_limit(conn)
        return int(getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))


_SEARCH_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def _fts5_query(text: str) -> str | None:
    """Translate a web-search style query, read as PostgreSQL's ``websearch_to_tsquery`` reads
    it, to FTS5 syntax: every word and ``"quoted phrase"`` must match, ``or`` between two
    accepts either, a leading ``-`` excludes. Every term is quoted, so no input is an FTS5
    syntax error. None when nothing is left to match."""
    groups: list[list[str]] = []
    excluded: list[str] = []
    either = False
    for match in _SEARCH_TOKEN.finditer(text):
        minus, phrase, word = match.groups()
        if word is not None:
            if word.lower() == "or":
                either = bool(groups)
                continue
            minus, phrase = ("-", word[1:]) if word.startswith("-") else ("", word)
        if not any(ch.isalnum() for ch in phrase):
            continue  # punctuation only: the tokenizer would find no term in it
        term = '"' + phrase.replace('"', '""') + '"'
        if minus:
            excluded.append(term)
        elif either:
            groups[-1].append(term)
        else:
            groups.append([term])
        either = False
    if not groups:
        return None
    expression = " AND ".join("(" + " OR ".join(group) + ")" for group in groups)
    for term in excluded:
        expression = f"({expression}) NOT {term}"
    return expression


_DUMP_TRAILER = SQLiteDialect.dump_trailers[0]
#: The INSERT statements of our dumps: one row each.
_DUMP_INSERT = re.compile(r'INSERT INTO ("(?:[^"]|"")+")\(')


def _sql_literal(value: Any) -> str:
    """A SQL literal that reads back as exactly ``value`` (a value as SQLite stores it)."""
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:  # SQLite stores NaN as NULL
            return "NULL"
        if value in (float("inf"), float("-inf")):
            return "1e999" if value > 0 else "-1e999"
        return repr(value)  # the shortest text that parses back to the same double
    if isinstance(value, bytes):
        return "X'" + value.hex().upper() + "'"
    text = str(value)
    if "\x00" in text or "\r" in text:  # NUL cannot be in SQL text; CR gets lost: spell them out
        return "CAST(X'" + text.encode("utf-8").hex().upper() + "' AS TEXT)"
    return "'" + text.replace("'", "''") + "'"


def _insert_lines(conn: sqlite3.Connection, table: str, counts: dict[str, int]) -> Iterator[str]:
    """One INSERT per row of ``table``, with the values as stored (no converters) and the
    rowid kept where it is not a column of its own."""
    info = conn.execute(
        "SELECT name, type, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid", (table,)
    ).fetchall()
    columns = [quote(r[0]) for r in info if r[3] == 0]  # generated columns are computed again
    keys = [r for r in info if r[2]]
    rowid = None
    if not (len(keys) == 1 and str(keys[0][1]).upper() == "INTEGER"):  # no rowid alias
        taken = {str(r[0]).lower() for r in info}
        rowid = next((n for n in ("rowid", "_rowid_", "oid") if n not in taken), None)
        if rowid is not None:
            try:
                conn.execute(f"SELECT {rowid} FROM {quote(table)} LIMIT 0")
            except sqlite3.OperationalError:
                rowid = None  # a WITHOUT ROWID table
    names = ([rowid] if rowid else []) + columns
    selected = ([rowid] if rowid else []) + ["+" + c for c in columns]  # "+": no decltype
    prefix = f"INSERT INTO {quote(table)}({','.join(names)}) VALUES("
    counts[table] = 0
    for row in conn.execute(f"SELECT {', '.join(selected)} FROM {quote(table)}"):
        counts[table] += 1
        yield prefix + ",".join(map(_sql_literal, row)) + ");\n"


def _dump_lines(conn: sqlite3.Connection, table: str | None, counts: dict[str, int]) -> Iterator[str]:
    """The SQL text dump of the database (or one table), in the order ``sqlite3``'s ``.dump``
    uses: tables with their rows, AUTOINCREMENT counters, then indexes, views, triggers."""
    kinds = dict(conn.execute("SELECT name, type FROM pragma_table_list WHERE schema = 'main'"))
    objects = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"
    ).fetchall()
    tables = [
        (name, sql)
        for kind, name, _, sql in objects
        if kind == "table" and not name.startswith("sqlite_") and kinds.get(name) != "shadow"
    ]
    shadows = [name for kind, name, _, _ in objects if kind == "table" and kinds.get(name) == "shadow"]
    if table is not None:
        tables = [t for t in tables if t[0] == table]
        objects = [o for o in objects if o[2] == table]
        prefix = table + "_"
        shadows = [s for s in shadows if kinds.get(table) == "virtual" and s.startswith(prefix)]
    yield "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n"
    for name, sql in tables:
        yield sql + ";\n"
        if kinds.get(name) != "virtual":
            yield from _insert_lines(conn, name, counts)
    for name in shadows:  # the virtual table's CREATE made them: replace their rows
        yield f"DELETE FROM {quote(name)};\n"
        yield from _insert_lines(conn, name, counts)
    if "sqlite_sequence" in kinds:
        wanted = {name for name, _ in tables}
        for name, seq in conn.execute("SELECT name, seq FROM sqlite_sequence"):
            if name in wanted:
                yield (
                    f"DELETE FROM sqlite_sequence WHERE name = {_sql_literal(name)};\n"
                    f"INSERT INTO sqlite_sequence(name, seq) VALUES({_sql_literal(name)}, {seq});\n"
                )
    for kind, _, _, sql in objects:
        if kind in ("index", "view", "trigger"):
            yield sql + ";\n"
    yield f"COMMIT;\n{_DUMP_TRAILER}\n"


def _dump_statements(lines: Iterator[str], path: Path) -> Iterator[str]:
    """The statements of a SQL text, one at a time, as ``sqlite3.complete_statement`` splits it."""
    buffer: list[str] = []
    for line in lines:
        if not buffer and (not line.strip() or line.startswith("--")):
            continue
        buffer.append(line)
        if line.rstrip().endswith(";"):
            statement = "".join(buffer)
            if sqlite3.complete_statement(statement):
                yield statement
                buffer = []
    if buffer:
        raise DataError(f"{path} ends inside a statement, so it is truncated; nothing was restored")


_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`(?:[^`]|``)*`|\[[^\]]*\]|--[^\n]*|/\*.*?\*/", re.S)
_CHECK_WORD = re.compile(r"\bcheck\s*\(", re.IGNORECASE)


def _check_clauses(sql: str) -> list[str]:
    """The ``CHECK (…)`` clauses of a CREATE TABLE text, column and table constraints alike."""
    blanked = _QUOTED.sub(lambda m: " " * len(m[0]), sql)  # same offsets, no quoted text
    clauses = []
    for match in _CHECK_WORD.finditer(blanked):
        depth, start = 0, match.end() - 1
        for end in range(start, len(blanked)):
            depth += {"(": 1, ")": -1}.get(blanked[end], 0)
            if depth == 0:
                clauses.append("CHECK " + sql[start : end + 1])
                break
    return clauses


_OPTION = r"(?:without\s+rowid|strict)"
_TABLE_OPTIONS = re.compile(rf"\)\s*({_OPTION}(?:\s*,\s*{_OPTION})*)\s*$", re.IGNORECASE)
_COLLATE = re.compile(r"\bcollate\s+(\w+)", re.IGNORECASE)


def _table_notes(bare: str) -> list[str]:
    """What a copy of the table (CREATE text without quoted parts) leaves out: WITHOUT ROWID,
    STRICT and collations."""
    options = _TABLE_OPTIONS.search(bare)
    notes = [" ".join(options[1].upper().split())] if options else []
    return notes + [f"COLLATE {name}" for name in dict.fromkeys(n.upper() for n in _COLLATE.findall(bare))]


def _unquote(name: str) -> str:
    """An SQLite identifier as written in SQL, without its quotes."""
    if len(name) >= 2 and name[0] + name[-1] in ('""', "''", "``"):
        return name[1:-1].replace(name[0] * 2, name[0])
    if len(name) >= 2 and name[0] == "[" and name[-1] == "]":
        return name[1:-1]
    return name


# -- planning a column drop ------------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<space>\s+|--[^\n]*(?:\n|$)|/\*.*?(?:\*/|$))
      |(?P<string>'(?:[^']|'')*'?)
      |(?P<quoted>"(?:[^"]|"")*"?|`(?:[^`]|``)*`?|\[[^\]]*\]?)
      |(?P<number>\.?\d[\w.]*(?:[eE][-+]?\d+)?)
      |(?P<word>[^\W\d]\w*|\$\w*)
      |(?P<punct>.)""",
    re.DOTALL | re.VERBOSE,
)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
#: Words that start a table constraint in CREATE TABLE (anything else starts a column).
_TABLE_CONSTRAINTS = frozenset({"constraint", "primary", "unique", "check", "foreign"})
#: Words that end a column's type name and start its constraints.
_COLUMN_CONSTRAINTS = frozenset(
    {"constraint", "primary", "not", "null", "unique", "check", "default", "collate", "references",
     "generated", "as"}
)  # fmt: skip


class _Token:
    __slots__ = ("kind", "text")

    def __init__(self, kind: str, text: str) -> None:
        self.kind, self.text = kind, text

    @property
    def name(self) -> str | None:
        """The identifier this token spells (ASCII case folded, as SQLite compares names)."""
        if self.kind == "word":
            return self.text.translate(_ASCII_LOWER)
        if self.kind in ("quoted", "string"):
            return _unquote(self.text).translate(_ASCII_LOWER)
        return None


def _tokens(sql: str) -> list[_Token]:
    """The significant tokens of SQLite SQL text (comments and whitespace dropped)."""
    out = []
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup or "punct"
        if kind != "space":
            out.append(_Token(kind, match[0]))
    return out


def _identifiers(tokens: Sequence[_Token], strings: bool = False) -> set[str]:
    """The names an expression refers to: words and quoted names that are not keywords of the
    few kinds that can be told apart here (function names, COLLATE names)."""
    found = set()
    for i, token in enumerate(tokens):
        if token.kind == "string" and not strings:
            continue
        name = token.name
        if name is None:
            continue
        if i + 1 < len(tokens) and tokens[i + 1].text == "(" and token.kind == "word":
            continue  # a function call
        if i and tokens[i - 1].kind == "word" and tokens[i - 1].text.lower() == "collate":
            continue
        found.add(name)
    return found


def _groups(tokens: Sequence[_Token], start: int) -> tuple[list[list[_Token]], int]:
    """Split the parenthesized list opening at ``tokens[start]`` on its top-level commas;
    return the items and the index of the closing parenthesis."""
    items: list[list[_Token]] = [[]]
    depth = 0
    for i in range(start, len(tokens)):
        text = tokens[i].text
        if text == "(":
            depth += 1
            if depth == 1:
                continue
        elif text == ")":
            depth -= 1
            if depth == 0:
                return items, i
        elif text == "," and depth == 1:
            items.append([])
            continue
        items[-1].append(tokens[i])
    return items, len(tokens)


def _paren_after(tokens: Sequence[_Token], i: int) -> tuple[list[_Token], int]:
    """The tokens inside the parenthesized group starting at or after ``tokens[i]``, and the
    index of its closing parenthesis."""
    while i < len(tokens) and tokens[i].text != "(":
        i += 1
    if i >= len(tokens):
        return [], len(tokens)
    end = _groups(tokens, i)[1]
    return list(tokens[i + 1 : end]), end


def _item_references(item: Sequence[_Token], constraint: bool) -> tuple[set[str], bool]:
    """The names a CREATE TABLE item uses in its expressions and key lists (for a column
    definition, apart from its own name), and whether it makes a PRIMARY KEY. Names after
    REFERENCES are the other table's; self-references are checked through the catalog."""
    refs: set[str] = set()
    primary = False
    i = 0 if constraint else 1
    while i < len(item):
        word = item[i].text.lower() if item[i].kind == "word" else ""
        if word in ("check", "as"):
            group, i = _paren_after(item, i)
            refs |= _identifiers(group)
        elif word == "primary" or (word in ("unique", "foreign") and constraint):
            primary |= word == "primary"
            if constraint:
                group, i = _paren_after(item, i)
                refs |= _key_columns(group)
        elif word == "references":
            _, i = _paren_after(item, i) if i + 2 < len(item) and item[i + 2].text == "(" else ([], i + 1)
        i += 1
    return refs, primary


def _key_columns(tokens: Sequence[_Token]) -> set[str]:
    """The column names of a key list ``a COLLATE x DESC, b`` (expressions: every name in them)."""
    names: set[str] = set()
    item: list[_Token] = []
    for token in [*tokens, _Token("punct", ",")]:
        if token.text == "," and item:
            if len(item) == 1 or item[1].kind == "word":
                first = item[0].name
                if first is not None:
                    names.add(first)
            else:
                names |= _identifiers(item)
            item = []
        else:
            item.append(token)
    return names


class _DropPlan:
    """What dropping one column does to a table: checked and decided before anything changes."""

    def __init__(self, column: str) -> None:
        self.column = column
        self.head = ""
        self.items: list[str] = []
        self.tail = ""
        self.copied: list[str] = []
        self.rowid: str | None = None
        self.autoincrement = False
        self.dropped_indexes: list[str] = []
        self.kept_objects: list[str] = []
        self.children: list[str] = []
        self.views: list[str] = []
        self.alter = True

    def create_sql(self, name: str) -> str:
        return f"CREATE TABLE {name} ({', '.join(self.items)}){self.tail}"


def _plan_drop(ex: Executor, table: str, column: str) -> _DropPlan:
    """Read the schema and decide what a drop of ``column`` keeps, drops and refuses."""
    found = ex.query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table])
    if not found or found[0]["sql"] is None:
        raise ProgrammingError(f"no such table: {table!r}")
    sql = str(found[0]["sql"])
    if re.match(r"\s*CREATE\s+VIRTUAL\b", sql, re.IGNORECASE):
        raise NotSupportedError(f"{table!r} is a virtual table: SQLite cannot drop its columns")
    plan = _DropPlan(column)
    folded = column.translate(_ASCII_LOWER)
    me = table.translate(_ASCII_LOWER)

    def refuse(what: str) -> ProgrammingError:
        return ProgrammingError(
            f"cannot drop column {column!r} of {table!r}: {what} needs it (drop or change that "
            "first, or keep the column); nothing was changed"
        )

    spans = [(m.start(), m.end(), m.lastgroup) for m in _TOKEN.finditer(sql)]
    significant = [(s, e) for s, e, kind in spans if kind != "space"]
    tokens = _tokens(sql)
    open_at = next((i for i, t in enumerate(tokens) if t.text == "("), None)
    if open_at is None:
        raise NotSupportedError(f"cannot read the definition of {table!r}: {sql!r}")
    items, close_at = _groups(tokens, open_at)
    # Item texts are cut from the original SQL (comments and spelling kept).
    positions = []
    depth, begin = 0, significant[open_at][1]
    for i in range(open_at, close_at + 1):
        text = tokens[i].text
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
        if (text == "," and depth == 1) or i == close_at:
            positions.append(sql[begin : significant[i][0]].strip())
            begin = significant[i][1]
    plan.tail = sql[significant[close_at][1] :] if close_at < len(significant) else ""
    without_rowid = bool(re.search(r"\bwithout\s+rowid\b", plan.tail, re.IGNORECASE))
    info = ex.query("SELECT name, type, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid", [table])
    columns = {str(r["name"]).translate(_ASCII_LOWER) for r in info}
    dropped_primary = False
    for item, text in zip(items, positions):
        if not item:
            continue
        first = item[0]
        constraint = first.kind == "word" and first.text.lower() in _TABLE_CONSTRAINTS
        refs, primary = _item_references(item, constraint)
        refs &= columns
        if not constraint and first.name == folded:
            dropped_primary |= primary
            plan.alter = not primary
            continue  # the column itself, with its own constraints
        if folded in refs:
            if constraint and refs == {folded}:
                dropped_primary |= primary
                plan.alter = False
                continue  # a constraint on the dropped column alone goes with it
            owner = f"column {_unquote(first.text)!r}" if not constraint else "the table constraint"
            raise refuse(f"{owner} ({' '.join(text.split())})")
        if not constraint and re.search(r"\bautoincrement\b", text, re.IGNORECASE):
            plan.autoincrement = True
        plan.items.append(text)
    if dropped_primary and without_rowid:
        raise refuse("the WITHOUT ROWID table's PRIMARY KEY")
    plan.copied = [
        r["name"] for r in info if r["hidden"] == 0 and str(r["name"]).translate(_ASCII_LOWER) != folded
    ]
    keys = [r for r in info if r["pk"]]
    alias_kept = (
        len(keys) == 1 and str(keys[0]["type"]).upper() == "INTEGER" and not dropped_primary
    )
    if not without_rowid and not alias_kept:
        plan.rowid = next((n for n in ("rowid", "_rowid_", "oid") if n not in columns), None)
    # Foreign keys of other tables (and of this one) that point at the column.
    for other in ex.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        name = other["name"]
        for fk in ex.query("SELECT * FROM pragma_foreign_key_list(?)", [name]):
            if str(fk["table"]).translate(_ASCII_LOWER) != me:
                continue
            to = fk["to"]
            targets = (to is None and dropped_primary) or (
                to is not None and str(to).translate(_ASCII_LOWER) == folded
            )
            if name == table:
                if targets and str(fk["from"]).translate(_ASCII_LOWER) != folded:
                    raise refuse(f"the foreign key ({fk['from']}) referring to it")
                continue
            if targets:
                raise refuse(f"the foreign key of table {name!r} ({fk['from']} → {fk['to']})")
            if name not in plan.children:
                plan.children.append(name)
    for obj in ex.query(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('index', 'trigger', 'view') "
        "AND sql IS NOT NULL ORDER BY rowid"
    ):
        obj_tokens = _tokens(str(obj["sql"]))
        mine = obj["tbl_name"] == table
        if obj["type"] == "index":
            if not mine:
                continue
            on = next(i for i, t in enumerate(obj_tokens) if t.kind == "word" and t.text.lower() == "on")
            refs = _identifiers(obj_tokens[on + 2 :]) & columns
            if folded in refs:
                if refs != {folded}:
                    raise refuse(f"index {obj['name']!r}")
                plan.dropped_indexes.append(obj["name"])
                continue
            plan.kept_objects.append(str(obj["sql"]))
            continue
        names = _identifiers(obj_tokens[2:])
        if mine:  # a trigger on the table
            if folded in names:
                raise refuse(f"trigger {obj['name']!r}")
            plan.kept_objects.append(str(obj["sql"]))
        elif me in names:
            if folded in names:
                raise refuse(f"{obj['type']} {obj['name']!r}")
            if obj["type"] == "view":
                plan.views.append(obj["name"])
    return plan


# -- verifying binary copies -----------------------------------------------------------------


def _open_copy(path: Path) -> sqlite3.Connection:
    """A read-only connection to a database file (a backup copy), in autocommit mode."""
    try:
        return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None)
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{path} is not a usable SQLite database ({exc}); nothing was restored") from exc


#: Bytes of a database file's header that SQLite rewrites when it merely opens the file in
#: another journal mode (journal mode, change counter, version-valid-for, writer's version):
#: left out of a copy's checksum, so that opening a copy (a handle opens in WAL) keeps it valid.
_BOOKKEEPING = ((18, 20), (24, 28), (92, 100))


def _file_digest(path: Path) -> str:
    """SHA-256 of a database file's bytes, with the header's bookkeeping bytes zeroed."""
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        head = bytearray(source.read(100))
        for start, end in _BOOKKEEPING:
            head[start:end] = bytes(len(head[start:end]))
        digest.update(head)
        while block := source.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """The rows of every table of an open database file (virtual tables: in their shadow tables)."""
    rows = {}
    for name, sql in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name"
    ).fetchall():
        if name.startswith("sqlite_") or str(sql).upper().startswith("CREATE VIRTUAL"):
            continue
        rows[name] = conn.execute(f"SELECT count(*) FROM {quote(name)}").fetchone()[0]
    return rows


def _check_open_copy(
    conn: sqlite3.Connection, path: Path, facts: dict[str, Any] | None, describe: bool = True
) -> tuple[dict[str, int], str]:
    """Check a database file open in a read transaction (so that it cannot change meanwhile):
    its structure (``integrity_check``) and, when ``facts`` (its checksum file) are given, its
    bytes and row counts against them. Returns its rows and checksum (read only when there are
    facts or ``describe`` asks for them; else empty)."""
    problems = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
    if problems != ["ok"]:
        raise DataError(
            f"{path} is a damaged SQLite database ({'; '.join(problems[:3])}); nothing was restored"
        )
    if facts is None and not describe:
        return {}, ""
    digest = _file_digest(path)
    rows = _row_counts(conn)
    if facts is not None and (digest != facts["sha256"] or rows != facts["rows"]):
        wrong = [t for t in sorted(set(rows) | set(facts["rows"])) if rows.get(t) != facts["rows"].get(t)]
        what = "its bytes differ"
        if wrong:
            recorded = facts["rows"].get(wrong[0], 0)
            what = f"table {wrong[0]!r} holds {rows.get(wrong[0], 0)} rows instead of {recorded}"
        raise DataError(
            f"{path} does not match its checksum file ({what}): the copy was changed or damaged "
            "after it was written; nothing was restored"
        )
    return rows, digest


def copy_digest(path: Path) -> tuple[dict[str, int], str]:
    """The row counts and checksum of a database file just written (a backup copy)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        rows = _row_counts(conn)
    finally:
        conn.close()
    return rows, _file_digest(path)


def check_copy(path: Path, facts: dict[str, Any] | None) -> tuple[dict[str, int], str]:
    """Check a binary copy without restoring it (see :func:`_check_open_copy`)."""
    conn = _open_copy(path)
    try:
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the read lock, taken now
        return _check_open_copy(conn, path, facts)
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{path} is not a usable SQLite database ({exc})") from exc
    finally:
        conn.close()
