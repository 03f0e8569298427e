"""Copy tables between two handles, SQLite and PostgreSQL alike: schema translated, rows streamed."""

from __future__ import annotations

import logging
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .codecs import dumps_json
from .errors import ArgumentError, Error, ProgrammingError
from .sql import index_name, quote

if TYPE_CHECKING:
    from .database import Database
    from .reflection import ColumnInfo

__all__ = ["CopyReport", "copy"]

_log = logging.getLogger("mngs.db")
IF_EXISTS = ("fail", "replace", "append", "upsert")


@dataclass
class CopyReport:
    """What :func:`copy` did: rows written per table (in the order they were loaded), and
    everything it did not copy as it was, each as one readable line."""

    tables: dict[str, int] = field(default_factory=dict)
    """Table → rows written to the destination."""
    skipped: list[str] = field(default_factory=list)
    """What was left out: views, triggers, CHECK constraints or defaults the destination does
    not accept, partial and expression indexes, foreign keys to tables that are not there."""
    changed: list[str] = field(default_factory=list)
    """What was copied differently: values stored as text, computed columns as plain values."""
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        """Rows written in all."""
        return sum(self.tables.values())

    def __str__(self) -> str:
        lines = [f"copied {len(self.tables)} tables, {self.rows} rows in {self.seconds:.2f} s"]
        lines += [f"  {table}: {count} rows" for table, count in self.tables.items()]
        lines += [f"  skipped: {line}" for line in self.skipped]
        lines += [f"  changed: {line}" for line in self.changed]
        return "\n".join(lines)


# -- types ---------------------------------------------------------------------------------
_ARGS = re.compile(r"\(\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?\)")
_PG_TEXT_TYPES = {"character varying": "VARCHAR", "character": "CHAR", "varchar": "VARCHAR", "char": "CHAR"}


def _kind(sqltype: str, backend: str) -> tuple[str, tuple[int, ...]]:
    """A column type as a portable kind and its arguments: ``("varchar", (160,))``."""
    text = " ".join((sqltype or "").lower().split())
    if text.endswith("[]"):
        return "array", ()
    args = _ARGS.search(text)
    numbers = tuple(int(a) for a in args.groups() if a is not None) if args else ()
    base = _ARGS.sub("", text).strip()
    if backend == "sqlite":  # SQLite's own affinity rules, most specific names first
        if base == "":
            return "untyped", ()
        if base in ("bool", "boolean"):
            return "boolean", ()
        if base in ("datetime", "timestamp"):
            return "timestamp", ()
        if base in ("timestamptz", "timestamp with time zone"):
            return "timestamptz", ()
        if base in ("date", "time", "json", "jsonb", "uuid"):
            return base, ()
        if "int" in base:
            return "integer", ()
        if any(word in base for word in ("char", "clob", "text")):
            return ("varchar", numbers[:1]) if numbers and "char" in base else ("text", ())
        if "blob" in base:
            return "bytes", ()
        if any(word in base for word in ("real", "floa", "doub")):
            return "float", ()
        if base in ("numeric", "decimal"):
            return "numeric", numbers
        return "other", ()
    if base in ("smallint", "integer", "bigint"):
        return "integer", ()
    if base in ("real", "double precision"):
        return "float", ()
    if base in _PG_TEXT_TYPES:
        return ("varchar" if "var" in base else "char"), numbers[:1]
    if base in ("text", "citext", "name"):
        return "text", ()
    if base == "numeric":
        return "numeric", numbers
    if base == "bytea":
        return "bytes", ()
    if base == "boolean":
        return "boolean", ()
    if base.startswith("timestamp"):
        return ("timestamptz" if "with time zone" in base else "timestamp"), ()
    if base.startswith("time"):
        return ("timetz" if "with time zone" in base else "time"), ()
    if base in ("date", "json", "jsonb", "uuid"):
        return base, ()
    return "other", ()


def _dst_type(kind: str, args: tuple[int, ...], backend: str) -> str:
    """The destination's column type for a portable kind."""
    numbers = f"({', '.join(map(str, args))})" if args else ""
    if backend == "postgresql":
        return {
            "integer": "BIGINT", "float": "DOUBLE PRECISION", "text": "TEXT", "varchar": f"VARCHAR{numbers}",
            "char": f"VARCHAR{numbers}", "numeric": f"NUMERIC{numbers}", "bytes": "BYTEA",
            "boolean": "BOOLEAN", "date": "DATE", "time": "TIME", "timetz": "TIMETZ",
            "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMPTZ", "json": "JSONB", "jsonb": "JSONB",
            "uuid": "UUID",
        }.get(kind, "TEXT")  # fmt: skip
    return {
        "integer": "INTEGER", "float": "REAL", "text": "TEXT", "varchar": f"VARCHAR{numbers}",
        "char": f"CHAR{numbers}", "numeric": f"NUMERIC{numbers}", "bytes": "BLOB", "boolean": "BOOLEAN",
        "date": "DATE", "time": "TIME", "timetz": "TIME", "timestamp": "TIMESTAMP",
        "timestamptz": "TIMESTAMPTZ", "json": "JSON", "jsonb": "JSON", "array": "JSON", "uuid": "TEXT",
    }.get(kind, "TEXT")  # fmt: skip


def _as_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def _converter(kind: str, src: str, dst: str) -> Callable[[Any], Any] | None:
    """How a value read from the source must change to mean the same on the destination
    (None: it is sent as it is)."""
    if kind in ("json", "jsonb"):
        if dst == "postgresql":
            from psycopg.types.json import Jsonb

            # dicts and lists go as JSON already; a JSON scalar ("a", 3, true) must too
            return lambda v: v if v is None or isinstance(v, (dict, list)) else Jsonb(v)
        return lambda v: v if v is None or isinstance(v, (dict, list)) else dumps_json(v)
    if src == dst:
        return None
    if kind in ("untyped", "other") and dst == "postgresql":
        return _as_text
    if kind == "uuid" and dst == "sqlite":
        return _as_text
    if kind == "other" and dst == "sqlite":
        return lambda v: v if v is None or isinstance(v, (str, int, float, bytes, list, dict)) else str(v)
    return None


# -- defaults and CHECK expressions --------------------------------------------------------
_CAST = re.compile(
    r"::(?:character varying|double precision|timestamp(?:\(\d+\))? with(?:out)? time zone|"
    r"time(?:\(\d+\))? with(?:out)? time zone|bit varying|\"[^\"]+\"|[a-z_][a-z0-9_]*)"
    r"(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])?",
    re.IGNORECASE,
)
_LITERAL = re.compile(
    r"\(*\s*(?:[-+]?\d+(?:\.\d*)?(?:e[-+]?\d+)?|'(?:[^']|'')*'|null|true|false|"
    r"current_timestamp|current_date|current_time)\s*\)*",
    re.IGNORECASE,
)
_NOW = re.compile(r"^\(?\s*(?:now\(\)|transaction_timestamp\(\)|localtimestamp)\s*\)?$", re.IGNORECASE)


def _portable_default(default: str, kind: str, dst: str) -> str | None:
    """A source default the destination reads the same way, or None when there is none."""
    text = _CAST.sub("", default.strip())
    if _NOW.match(text):
        text = "CURRENT_TIMESTAMP"
    if not _LITERAL.fullmatch(text):
        return None
    if kind == "boolean" and dst == "postgresql" and text.strip("() ") in ("0", "1"):
        text = "TRUE" if text.strip("() ") == "1" else "FALSE"
    return text


def _portable_check(check: str, src: str, dst: str) -> str:
    return check if src == dst else _CAST.sub("", check)


# -- planning ------------------------------------------------------------------------------
@dataclass
class _Plan:
    """One table to copy: its reflection and what the destination gets."""

    name: str
    columns: list[ColumnInfo]
    primary_key: tuple[str, ...]
    foreign_keys: list[dict[str, Any]]
    indexes: list[dict[str, Any]]
    facts: dict[str, Any]
    create: bool = True
    copied: list[str] = field(default_factory=list)
    converters: dict[str, Callable[[Any], Any]] = field(default_factory=dict)


def _same_database(src: Database, dst: Database) -> bool:
    if src.backend != dst.backend:
        return False
    if src.backend == "sqlite":
        paths = [getattr(db._dialect, "path", "") for db in (src, dst)]
        if any(p == ":memory:" or p.startswith("file:") for p in paths):
            return False
        return os.path.realpath(paths[0]) == os.path.realpath(paths[1])
    where = [db._dialect.describe() + "/" + str(db._dialect._current_schema(db._ex)) for db in (src, dst)]
    return where[0] == where[1]


def _order(plans: dict[str, _Plan]) -> list[str]:
    """The tables parents first (Kahn's algorithm, ties by name; a cycle is broken at its
    first table by name)."""
    parents: dict[str, set[str]] = defaultdict(set)
    for name, plan in plans.items():
        for fk in plan.foreign_keys:
            if fk["referred_table"] in plans and fk["referred_table"] != name:
                parents[name].add(fk["referred_table"])
    order: list[str] = []
    remaining = set(plans)
    while remaining:
        ready = sorted(t for t in remaining if not (parents[t] & remaining))
        if not ready:  # a cycle: break it at the first table by name
            ready = [min(remaining)]
        for table in ready:
            order.append(table)
            remaining.discard(table)
    return order


def copy(
    src: Database,
    dst: Database,
    tables: str | Sequence[str] | None = None,
    if_exists: str = "fail",
    *,
    batch_size: int | None = None,
) -> CopyReport:
    """Copy tables (all by default) from ``src`` to ``dst``, between any two handles.

    Each table is created on ``dst`` with its types translated (``NVARCHAR(n)`` → ``VARCHAR(n)``,
    ``DATETIME`` → ``TIMESTAMP``, ``BLOB`` ↔ ``BYTEA``, ``INTEGER PRIMARY KEY`` ↔ identity…), its
    primary key, NOT NULL, portable defaults and CHECKs, unique and plain indexes and foreign
    keys, parents first (foreign keys closing a cycle are added after the rows on PostgreSQL,
    checked at commit on SQLite). Rows are streamed (``select_iter`` → ``insert_many``: COPY on
    PostgreSQL) in bounded memory, and auto-numbering continues past the copied ids.

    ``if_exists`` says what to do with a table that exists on ``dst``: ``"fail"`` (refuse before
    anything is written), ``"replace"`` (drop and recreate it), ``"append"`` (insert the rows; a
    duplicate key fails) or ``"upsert"`` (insert, overwriting rows with the same primary key).

    The whole copy is one transaction on ``dst``: when anything fails nothing of it remains. A
    PostgreSQL source is read in one REPEATABLE READ transaction, so the tables are a consistent
    snapshot; a SQLite source is read table by table. What could not be copied as it was
    (views, triggers, CHECKs and defaults the other dialect cannot run, partial and expression
    indexes, collations, PostgreSQL-only types stored as text) is in the report, and logged as
    warnings; nothing is left out silently. Index sort order is not kept.

    >>> report = mngs.db.copy(mngs.db.SQLite3("chinook.db"), mngs.db.PostgreSQL(dsn=...))
    >>> report.tables["Track"]
    3503
    """
    from .database import ensure_open

    started = time.perf_counter()
    ensure_open(src)
    ensure_open(dst)
    if if_exists not in IF_EXISTS:
        raise ArgumentError(f"if_exists must be one of {', '.join(map(repr, IF_EXISTS))}, not {if_exists!r}")
    if src is dst or _same_database(src, dst):
        raise ArgumentError(f"copy needs two different databases; {src!r} and {dst!r} are the same")
    report = CopyReport()
    with ExitStack() as stack:
        if src.backend == "postgresql" and not src.in_transaction:
            stack.enter_context(src.transaction("repeatable read"))
        plans = _plan(src, dst, tables, if_exists, report)
        stack.enter_context(dst.transaction())
        _run(src, dst, plans, if_exists, report, batch_size)
    for line in report.skipped:
        _log.warning("copy: not copied: %s", line)
    for line in report.changed:
        _log.warning("copy: copied differently: %s", line)
    report.seconds = time.perf_counter() - started
    return report


def _plan(
    src: Database, dst: Database, tables: str | Sequence[str] | None, if_exists: str, report: CopyReport
) -> dict[str, _Plan]:
    """Read the source schema and check everything that can be checked before writing."""
    available = src.list_tables()
    if tables is None:
        names = available
    else:
        names = [tables] if isinstance(tables, str) else list(tables)
        missing = [t for t in names if not isinstance(t, str) or t not in available]
        if missing:
            raise ProgrammingError(f"no such table in the source {src!r}: {missing[0]!r}")
        if len(set(names)) != len(names):
            raise ArgumentError(f"tables names a table twice: {names}")
    n = dst._dialect.max_identifier_length
    existing = set(dst.list_tables())
    plans: dict[str, _Plan] = {}
    with src._ex.lock:
        ex, dialect = src._ex, src._dialect
        for name in names:
            facts = dialect.table_facts(ex, name)
            if facts["virtual"]:
                report.skipped.append(f"virtual table {name} (create it on the destination yourself)")
                continue
            if facts["partition_of"] in names:  # the parent's rows are the partitions' rows
                report.skipped.append(f"partition {name} (its rows are copied with {facts['partition_of']})")
                continue
            if facts["partitioned"]:
                report.changed.append(f"{name}: partitioned table created as an ordinary table")
            quote(name, n)  # a name the destination cannot take fails here, before any write
            columns = dialect.get_columns(ex, name)
            for column in columns:
                quote(column["name"], n)
            foreign_keys = [dict(fk) for fk in dialect.get_foreign_keys(ex, name)]
            for fk in foreign_keys:
                if any(c is None for c in fk["referred_columns"]):  # SQLite: REFERENCES parent
                    fk["referred_columns"] = list(dialect.primary_key(ex, fk["referred_table"]))
            plans[name] = _Plan(
                name=name,
                columns=columns,
                primary_key=tuple(dialect.primary_key(ex, name)),
                foreign_keys=foreign_keys,
                indexes=[dict(i) for i in dialect.list_indexes(ex, name)],
                facts=facts,
                create=not (name in existing and if_exists in ("append", "upsert")),
            )
        for other in dialect.other_objects(ex):
            report.skipped.append(other)
    clash = sorted(t for t in plans if t in existing)
    if clash and if_exists == "fail":
        raise ProgrammingError(
            f"table(s) {', '.join(map(repr, clash))} already exist in {dst!r}; pass "
            "if_exists='replace', 'append' or 'upsert'"
        )
    for plan in plans.values():
        generated = plan.facts["generated"]
        same = src.backend == dst.backend
        plan.copied = [c["name"] for c in plan.columns if not (same and c["name"] in generated)]
        listed = {c["name"] for c in plan.columns}
        for column, expr in generated.items():
            if same and expr is not None:
                continue  # recreated as it is
            if column in listed:
                report.changed.append(f"{plan.name}.{column}: computed column ({expr}) copied as values")
            else:
                report.skipped.append(f"{plan.name}.{column}: computed column (recreate it yourself)")
        if not plan.create:
            if if_exists == "upsert" and not _primary_key(dst, plan.name):
                raise ArgumentError(
                    f"if_exists='upsert' matches rows on the primary key, and table {plan.name!r} in "
                    f"{dst!r} has none; use if_exists='append' or 'replace'"
                )
            target = {c["name"] for c in dst.get_columns(plan.name)}
            missing = [c for c in plan.copied if c not in target]
            if missing:
                raise ProgrammingError(
                    f"table {plan.name!r} in {dst!r} has no column {missing[0]!r}, which the source has"
                )
    return plans


def _primary_key(db: Database, table: str) -> tuple[str, ...]:
    with db._ex.lock:
        return tuple(db._dialect.primary_key(db._ex, table))


def _column_sql(plan: _Plan, column: ColumnInfo, src: str, dst: str, report: CopyReport) -> str:
    """One column definition of the destination's CREATE TABLE."""
    n = 63 if dst == "postgresql" else None
    name = column["name"]
    facts = plan.facts
    kind, args = _kind(column["type"], src)
    auto = facts["auto"] == name
    if src == dst:
        sqltype = column["type"] or ""
    else:
        sqltype = _dst_type(kind, args, dst)
        if kind in ("other", "untyped", "array") or (kind == "uuid" and dst == "sqlite"):
            shown = column["type"] or "no declared type"
            report.changed.append(f"{plan.name}.{name}: {shown} stored as {sqltype}")
        if kind == "timetz" and dst == "sqlite":
            report.changed.append(f"{plan.name}.{name}: time with time zone stored as TIME text")
    text = f"{quote(name, n)} {sqltype}".rstrip()
    if auto and dst == "sqlite":
        keyword = " AUTOINCREMENT" if facts["autoincrement"] and src == dst else ""
        return f"{quote(name, n)} INTEGER PRIMARY KEY{keyword}"
    sequenced = auto or name in facts["sequenced"]
    if dst == "postgresql" and sequenced:
        if src != dst or kind != "integer":
            text = f"{quote(name, n)} BIGINT"
        if name in facts["identity_always"]:
            report.changed.append(f"{plan.name}.{name}: GENERATED ALWAYS identity created BY DEFAULT")
        text += " GENERATED BY DEFAULT AS IDENTITY"
    elif sequenced:
        report.changed.append(f"{plan.name}.{name}: auto-numbering dropped (SQLite numbers only its key)")
    generated = facts["generated"].get(name)
    if src == dst and name in facts["generated"] and generated is not None:
        return f"{text} GENERATED ALWAYS AS ({generated}) STORED"
    if not column["nullable"]:
        text += " NOT NULL"
    default = column["default"]
    if default is not None and not sequenced and name not in facts["generated"]:
        portable = default if src == dst else _portable_default(default, kind, dst)
        if portable is None:
            report.skipped.append(f"{plan.name}.{name}: default {default}")
        else:
            text += f" DEFAULT {portable}"
    return text


def _fk_sql(fk: dict[str, Any], n: int | None) -> str:
    columns = ", ".join(quote(c, n) for c in fk["columns"])
    referred = ", ".join(quote(c, n) for c in fk["referred_columns"])
    sql = f"FOREIGN KEY ({columns}) REFERENCES {quote(fk['referred_table'], n)} ({referred})"
    for event in ("on_update", "on_delete"):
        action = str(fk.get(event) or "NO ACTION").upper()
        if action != "NO ACTION":
            sql += f" {event.replace('_', ' ').upper()} {action}"
    return sql


def _accepted(dst: Database, probe: str) -> bool:
    """True when the destination runs ``probe`` (undone either way)."""
    try:
        with dst._ex.transaction():
            dst._ex.run(probe)
            raise _Undo
    except _Undo:
        return True
    except Error:
        return False


class _Undo(Exception):
    """Rolls back a probe that worked."""


def _run(
    src: Database,
    dst: Database,
    plans: dict[str, _Plan],
    if_exists: str,
    report: CopyReport,
    batch_size: int | None,
) -> None:
    """Create, load and constrain the tables, inside the destination's open transaction."""
    s, d = src.backend, dst.backend
    n = dst._dialect.max_identifier_length
    ex = dst._ex
    order = _order(plans)
    # SQLite cannot add a foreign key later: they are in its CREATE TABLE, checked at commit.
    # PostgreSQL gets them after the rows (as pg_dump does): faster, and cycles need no care.
    inline_fks = d == "sqlite"
    if inline_fks:
        ex.run("PRAGMA defer_foreign_keys = ON")
    existing = set(dst.list_tables())
    replaced = [t for t in reversed(order) if t in existing and plans[t].create]
    if replaced and d == "postgresql":  # one statement: foreign keys among them are no obstacle
        ex.run(f"DROP TABLE {', '.join(quote(t, n) for t in replaced)}")
    elif replaced:
        for table in replaced:
            ex.run(f"DROP TABLE {quote(table, n)}", None, table=table)
    ex.invalidate()
    present = (existing - set(replaced)) | set(plans)
    later: list[tuple[str, str]] = []  # (table, ALTER TABLE … ADD …) run after the rows
    for table in order:
        plan = plans[table]
        if not plan.create:
            continue
        columns = {c["name"]: c for c in plan.columns}
        parts = [_column_sql(plan, columns[c], s, d, report) for c in plan.copied]
        key = [k for k in plan.primary_key if not (d == "sqlite" and plan.facts["auto"] == k)]
        if key:
            parts.append(f"PRIMARY KEY ({', '.join(quote(k, n) for k in key)})")
        for fk in plan.foreign_keys:
            if fk["referred_table"] not in present:
                report.skipped.append(
                    f"{table}: foreign key ({', '.join(fk['columns'])}) → {fk['referred_table']}, "
                    "which is not on the destination"
                )
            elif inline_fks:
                parts.append(_fk_sql(fk, n))
            else:
                later.append((table, _fk_sql(fk, n)))
        checks = [_portable_check(c, s, d) for c in plan.facts["checks"]]
        head = f"CREATE TABLE {quote(table, n)} ("
        if d == "sqlite":  # checks are part of the table: keep the ones SQLite accepts
            kept = [c for c in checks if _accepted(dst, f"{head}{', '.join([*parts, c])})")]
            report.skipped += [f"{table}: {c}" for c in checks if c not in kept]
            parts += kept
        else:
            later += [(table, c) for c in checks]
        report.skipped += [f"{table}: {other}" for other in plan.facts["other"]]
        ex.run(f"{head}{', '.join(parts)})", None, table=table)
        ex.invalidate()
        if inline_fks:
            _create_indexes(dst, plan, report)
    for table in order:  # the rows, parents first
        plan = plans[table]
        report.tables[table] = _load(src, dst, plan, if_exists, batch_size)
    for table in order:
        if plans[table].create and not inline_fks:
            _create_indexes(dst, plans[table], report)
    for table, constraint in later:
        sql = f"ALTER TABLE {quote(table, n)} ADD {constraint}"
        if constraint.startswith("FOREIGN KEY"):
            ex.run(sql, None, table=table)
        elif not _try(dst, sql):
            report.skipped.append(f"{table}: {constraint} (not valid on {d}, or the rows break it)")
    ex.invalidate()


def _try(dst: Database, sql: str) -> bool:
    try:
        with dst._ex.transaction():
            dst._ex.run(sql)
        return True
    except Error:
        return False


def _create_indexes(dst: Database, plan: _Plan, report: CopyReport) -> None:
    n = dst._dialect.max_identifier_length
    copied = set(plan.copied)
    for index in plan.indexes:
        if index["primary"]:
            continue
        why = plan.facts["special_indexes"].get(index["name"])
        if why is not None or not set(index["columns"]) <= copied:
            report.skipped.append(f"{plan.name}: {why or 'index ' + index['name']}")
            continue
        if plan.primary_key and tuple(index["columns"]) == plan.primary_key:
            continue  # the key's own index (SQLite's autoindex of a PRIMARY KEY)
        name = index["name"]
        if name.lower().startswith("sqlite_") or len(name.encode()) > (n or 10**6):
            name = index_name(plan.name, index["columns"], n)
        unique = "UNIQUE " if index["unique"] else ""
        columns = ", ".join(quote(c, n) for c in index["columns"])
        dst._ex.run(f"CREATE {unique}INDEX {quote(name, n)} ON {quote(plan.name, n)} ({columns})")


def _load(src: Database, dst: Database, plan: _Plan, if_exists: str, batch_size: int | None) -> int:
    """Stream the table's rows from the source into the destination; return the count."""
    converters = {}
    for column in plan.columns:
        if column["name"] in plan.copied:
            convert = _converter(_kind(column["type"], src.backend)[0], src.backend, dst.backend)
            if convert is not None:
                converters[column["name"]] = convert
    rows: Iterable[dict[str, Any]] = src.select_iter(plan.name, columns=plan.copied)
    if converters:
        rows = _converted(rows, converters)
    upsert = if_exists == "upsert" and not plan.create
    count = dst.insert_many(plan.name, rows, on_conflict="update" if upsert else None, batch_size=batch_size)
    # insert_many moves sequences only after keys; numbered non-key columns need it too
    dst._dialect.after_explicit_keys(dst._ex, plan.name, plan.copied)
    return count


def _converted(rows: Iterable[dict[str, Any]], converters: dict[str, Callable[[Any], Any]]) -> Iterator[dict]:
    items = list(converters.items())
    for row in rows:
        for name, convert in items:
            row[name] = convert(row[name])
        yield row
