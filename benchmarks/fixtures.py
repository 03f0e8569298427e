"""Fixtures shared by the workloads: the rows, the tables, and connections to each backend."""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import functools
import inspect
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness import log

DEFAULT_PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"
SCHEMA = "mngs_bench"
COLUMNS = ("id", "name", "value", "category", "created")
CATEGORIES = ("alpha", "beta", "gamma", "delta", "epsilon")
EPOCH = dt.datetime(2024, 1, 1)
STREAM_SIZE = 2_000  # rows per fetch for the raw streaming readers (mngs' default too)
DDL = {
    "sqlite": "CREATE TABLE {t} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, value REAL, "
    "category TEXT, created TIMESTAMP)",
    "postgresql": "CREATE TABLE {t} (id BIGINT PRIMARY KEY, name TEXT NOT NULL, "
    "value DOUBLE PRECISION, category TEXT, created TIMESTAMP)",
}
SERIAL_DDL = {
    "sqlite": DDL["sqlite"],
    "postgresql": DDL["postgresql"].replace("BIGINT PRIMARY KEY", "BIGSERIAL PRIMARY KEY"),
}
UPDATES = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])


# -- data --------------------------------------------------------------------------------
def row_tuple(i: int, tag: str = "v1") -> tuple:
    """The benchmark row ``i``: int, text, float, text, timestamp."""
    return (i, f"{tag}-name-{i}", i * 0.25, CATEGORIES[i % 5], EPOCH + dt.timedelta(seconds=i))


def importable(module: str) -> bool:
    try:
        __import__(module)
    except Exception:
        return False
    return True


# -- environment: connections, tables, data ----------------------------------------------
class Env:
    """Connections, temporary files, cached data and tables shared by the workloads."""

    def __init__(self, args: argparse.Namespace) -> None:
        from mngs.db import codecs

        codecs.register_sqlite()  # raw connections read timestamps with the same converters
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="mngs_bench_", dir=args.tmpdir))
        self.sqlite_path = str(self.tmp / "bench.db")
        self.dsn = args.pg_dsn
        self.pg_error: str | None = None
        self.pg_version = "-"
        self._admin: dict[str, Any] = {}
        self._tables: set[tuple[str, str]] = set()
        self._cache: dict[Any, Any] = {}
        self.stack = contextlib.ExitStack()  # per-workload connections
        self.libs = {
            "sqlite-utils": importable("sqlite_utils"),
            "dataset": importable("dataset"),
            "pandas": importable("pandas"),
            "sqlalchemy": importable("sqlalchemy"),
        }
        self._connect_pg()

    # connections
    def _connect_pg(self) -> None:
        try:
            import psycopg
            from psycopg import sql

            conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
            conn.execute("SET lock_timeout = '30s'")
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))
            conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(SCHEMA)))
            self.pg_version = conn.execute("SHOW server_version").fetchone()[0]
            self._admin["postgresql"] = conn
        except Exception as exc:  # no driver, no server, bad DSN: PostgreSQL workloads are skipped
            self.pg_error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:200]

    def admin(self, backend: str) -> Any:
        if backend == "sqlite" and "sqlite" not in self._admin:
            self._admin["sqlite"] = sqlite3.connect(self.sqlite_path, isolation_level=None)
        return self._admin[backend]

    def keep(self, conn: Any) -> Any:
        """Close ``conn`` when the current workload ends."""
        self.stack.callback(conn.close)
        return conn

    def raw_sqlite(self, **kwargs: Any) -> sqlite3.Connection:
        return self.keep(sqlite3.connect(self.sqlite_path, **kwargs))

    def raw_pg(self, autocommit: bool = True) -> Any:
        import psycopg

        return self.keep(
            psycopg.connect(self.dsn, autocommit=autocommit, options=f"-c search_path={SCHEMA}")
        )

    def mngs(self, backend: str) -> Any:
        import mngs.db

        if backend == "sqlite":
            return self.keep(mngs.db.SQLite3(self.sqlite_path))
        return self.keep(mngs.db.PostgreSQL(dsn=self.dsn, options=f"-c search_path={SCHEMA}"))

    def sqlite_utils(self) -> Any:
        import sqlite_utils

        db = sqlite_utils.Database(self.sqlite_path)
        self.stack.callback(db.close)
        return db

    def _pg_creator(self) -> Callable[[], Any]:
        import psycopg

        dsn = self.dsn
        return lambda: psycopg.connect(dsn, options=f"-c search_path={SCHEMA}")

    def dataset(self, backend: str) -> Any:
        import dataset

        if backend == "sqlite":
            db = dataset.connect(f"sqlite:///{self.sqlite_path}", sqlite_wal_mode=False)
        else:
            db = dataset.connect("postgresql+psycopg://", engine_kwargs={"creator": self._pg_creator()})
        self.stack.callback(db.close)
        return db

    def sa_engine(self) -> Any:
        """A SQLAlchemy engine on the PostgreSQL schema (pandas.to_sql / read_sql)."""
        import sqlalchemy

        engine = sqlalchemy.create_engine("postgresql+psycopg://", creator=self._pg_creator())
        self.stack.callback(engine.dispose)
        return engine

    def pandas_con(self, backend: str) -> Any:
        return self.raw_sqlite() if backend == "sqlite" else self.sa_engine()

    def child_spec(self, backend: str, table: str, opener: str) -> dict:
        """The spec a subprocess-measured contender starts from (add its ``impl``)."""
        return {"opener": opener, "backend": backend, "table": table,
                "sqlite_path": self.sqlite_path, "dsn": self.dsn}

    # tables
    def fresh_table(self, backend: str, table: str, serial: bool = False) -> None:
        conn = self.admin(backend)
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute((SERIAL_DDL if serial else DDL)[backend].format(t=table))

    def drop_table(self, backend: str, table: str) -> None:
        self.admin(backend).execute(
            f"DROP TABLE IF EXISTS {table}" + (" CASCADE" if backend == "postgresql" else "")
        )

    def load(self, backend: str, table: str, rows: Iterator[tuple]) -> None:
        """Bulk-load tuples with the raw driver's fastest path."""
        conn = self.admin(backend)
        if backend == "sqlite":
            conn.execute("BEGIN")
            conn.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        else:
            with conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            conn.execute(f"ANALYZE {table}")

    def read_table(self, backend: str, n: int, table: str | None = None) -> str:
        """A table of ``n`` rows (named ``read_<n>`` by default) for the read workloads, created
        once per run."""
        table = table or f"read_{n}"
        if (backend, table) not in self._tables:
            log(f"  loading {n:,} rows into {backend} table {table} ...")
            self.fresh_table(backend, table)
            self.load(backend, table, (row_tuple(i) for i in range(n)))
            self._tables.add((backend, table))
        return table

    # data
    def tuples(self, n: int, tag: str = "v1", start: int = 0) -> list[tuple]:
        key = ("tuples", n, tag, start)
        if key not in self._cache:
            self._cache[key] = [row_tuple(i, tag) for i in range(start, start + n)]
        return self._cache[key]

    def dicts(self, n: int, tag: str = "v1", start: int = 0) -> list[dict]:
        key = ("dicts", n, tag, start)
        if key not in self._cache:
            self._cache[key] = [dict(zip(COLUMNS, t)) for t in self.tuples(n, tag, start)]
        return self._cache[key]

    def dataframe(self, n: int) -> Any:
        key = ("df", n)
        if key not in self._cache:
            import numpy as np
            import pandas as pd

            ids = np.arange(n, dtype="int64")
            self._cache[key] = pd.DataFrame(
                {
                    "id": ids,
                    "name": [f"v1-name-{i}" for i in range(n)],
                    "value": ids * 0.25,
                    "category": np.array(CATEGORIES, dtype=object)[ids % 5],
                    "created": pd.Timestamp(EPOCH) + pd.to_timedelta(ids, unit="s"),
                }
            )
        return self._cache[key]

    def csv_file(self, n: int) -> str:
        path = self.tmp / f"rows_{n}.csv"
        if not path.exists():
            with open(path, "w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(COLUMNS)
                writer.writerows(
                    (i, name, value, cat, ts.isoformat(" "))
                    for i, name, value, cat, ts in map(row_tuple, range(n))
                )
        return str(path)

    def close(self) -> None:
        self.stack.close()
        for backend, conn in self._admin.items():
            with contextlib.suppress(Exception):
                if backend == "postgresql":
                    conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
                conn.close()
        for path in sorted(self.tmp.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        self.tmp.rmdir()


def keeping_sqlite_codecs(fn: Callable[[], Any]) -> Callable[[], Any]:
    """Wrap a pandas call on SQLite: pandas registers its own process-wide sqlite3 adapters and
    converters (datetime, date, time), which would then serve the raw and mngs.db runs too."""

    def run() -> Any:
        adapters, converters = dict(sqlite3.adapters), dict(sqlite3.converters)
        try:
            return fn()
        finally:
            sqlite3.adapters.clear()
            sqlite3.adapters.update(adapters)
            sqlite3.converters.clear()
            sqlite3.converters.update(converters)

    return run


def mngs_method(db: Any, name: str) -> Callable | None:
    """The bound mngs method ``name`` (without a progress bar, which would be timed too), or
    None while it is not implemented yet."""
    if not callable(getattr(type(db), name, None)):
        return None
    return without_progress(getattr(db, name))


def without_progress(fn: Callable) -> Callable:
    """``fn`` with ``progress=False`` when it takes a progress argument."""
    if "progress" in inspect.signature(fn).parameters:
        return functools.partial(fn, progress=False)
    return fn
