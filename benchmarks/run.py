"""Benchmark suite of mngs.db against the raw drivers (the limit) and other libraries.

Usage::

    python benchmarks/run.py [--quick] [--only PATTERN] [--rows N] [--repeats N]
                             [--pg-dsn DSN] [--markdown] [--profile [cprofile|pyinstrument]]

Every workload runs each contender on the same data in the same process run: one warm-up, one
run under tracemalloc (peak of Python allocations), then ``--repeats`` timed runs interleaved
across contenders (so a burst of load elsewhere on the machine hits them all alike), reporting
the median. Write workloads get a freshly created table before every run (untimed). Streaming
workloads run each measurement in a fresh subprocess so its peak RSS growth is clean.
See benchmarks/README.md for what each workload compares.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import fnmatch
import functools
import gc
import inspect
import io
import json
import os
import platform
import random
import re
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))  # benchmark this checkout, installed or not

DEFAULT_PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"
SCHEMA = "mngs_bench"
COLUMNS = ("id", "name", "value", "category", "created")
CATEGORIES = ("alpha", "beta", "gamma", "delta", "epsilon")
EPOCH = dt.datetime(2024, 1, 1)
STREAM_SIZE = 2_000  # rows per fetch for the raw streaming readers (mngs' default too)
NOT_IMPLEMENTED = "n/a (not implemented)"

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


def lib_version(name: str) -> str | None:
    """The installed version of a distribution, or None when it is not installed."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def importable(module: str) -> bool:
    try:
        __import__(module)
    except Exception:
        return False
    return True


# -- memory ------------------------------------------------------------------------------
def _status_kb(field_name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def reset_rss_peak() -> int:
    """Reset VmHWM to the current RSS (Linux >= 4.0) and return the current RSS in kB."""
    with contextlib.suppress(OSError):
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    return _status_kb("VmRSS")


def rss_growth_mb(base_kb: int) -> float:
    return max(0, _status_kb("VmHWM") - base_kb) / 1024


def run_external(argv: list[str], stdout: Any = subprocess.DEVNULL) -> float | None:
    """Run a command, raise on failure, and return its peak RSS in MB when it can be told.

    The peak comes from ``/usr/bin/time -f %M`` (a forked child's own rusage would include the
    memory of this Python process it was forked from)."""
    timer = Path("/usr/bin/time")
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        prefix = [str(timer), "-q", "-f", "%M", "-o", rss_file.name] if timer.exists() else []
        proc = subprocess.run([*prefix, *argv], stdout=stdout, stderr=subprocess.PIPE)
        err = proc.stderr.decode(errors="replace")
        if proc.returncode != 0 or "Error" in err or "ERROR" in err:
            raise RuntimeError(f"{argv[0]} failed ({proc.returncode}): {err.strip()[:300]}")
        text = rss_file.read().strip()
    return int(text.splitlines()[-1]) / 1024 if prefix and text else None


# -- model -------------------------------------------------------------------------------
@dataclass
class Contender:
    """One way of doing a workload: ``run`` is timed and returns the rows it processed (an
    int, or the list of rows it produced); ``prepare`` runs untimed before every run."""

    impl: str
    run: Callable[[], Any] | None
    prepare: Callable[[], None] | None = None
    rows: int | None = None  # rows per run when fewer than the workload's (rows/s is scaled)
    external: bool = False  # the work happens in another process: RSS is that process's peak
    child: dict | None = None  # streaming: measure in a fresh subprocess with this spec
    unavailable: str | None = None
    note: str = ""


@dataclass
class Target:
    """The issue's target for the mngs rows of a workload."""

    ratio: float | None = None  # rows/s of mngs / rows/s of the reference contender
    versus: str | None = None  # another contender mngs must beat ...
    factor: float = 1.0  # ... by this factor in rows/s
    rss_mb: float | None = None  # peak RSS growth ceiling (streaming)

    def text(self, reference: str) -> str:
        parts = []
        if self.ratio is not None:
            parts.append(f">= {self.ratio:.2f}" + ("" if reference == "raw" else f" x {reference}"))
        if self.versus:
            parts.append(f">= {self.factor:g}x {self.versus}")
        if self.rss_mb is not None:
            parts.append(f"RSS <= {self.rss_mb:g} MB")
        return "; ".join(parts)


@dataclass
class Workload:
    name: str
    backend: str
    rows: int
    build: Callable[[Env, Workload], list[Contender]]
    target: Target
    big: bool = False  # a 1M-row workload: fewer repeats
    reference: str = "raw"
    description: str = ""

    @property
    def key(self) -> str:
        return f"{self.name}/{self.backend}"


@dataclass
class Result:
    workload: Workload
    contender: Contender
    rows: int = 0
    seconds: float | None = None
    py_peak_mb: float | None = None
    rss_mb: float | None = None
    status: str = ""  # "" when measured, else why not
    ratio: float | None = None
    verdict: str = ""
    times: list[float] = field(default_factory=list)

    @property
    def rows_per_s(self) -> float | None:
        if self.seconds is None or self.seconds <= 0:
            return None
        return self.rows / self.seconds


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

    # tables
    def fresh_table(self, backend: str, table: str, serial: bool = False) -> None:
        conn = self.admin(backend)
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute((SERIAL_DDL if serial else DDL)[backend].format(t=table))

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

    def read_table(self, backend: str, n: int) -> str:
        """A table of ``n`` rows for the read workloads, created once per run."""
        table = f"read_{n}"
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


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def mngs_method(db: Any, name: str) -> Callable | None:
    """The bound mngs method ``name`` (without a progress bar, which would be timed too), or
    None while it is not implemented yet."""
    if not callable(getattr(type(db), name, None)):
        return None
    method = getattr(db, name)
    if "progress" in inspect.signature(method).parameters:
        return functools.partial(method, progress=False)
    return method


# -- workloads ---------------------------------------------------------------------------
def build_insert_many(env: Env, w: Workload) -> list[Contender]:
    n, backend, table = w.rows, w.backend, "w_insert"
    tuples, dicts = env.tuples(n), env.dicts(n)

    def prepare() -> None:
        env.fresh_table(backend, table)

    out = []
    if backend == "sqlite":
        raw_conn = env.raw_sqlite(isolation_level=None)

        def raw() -> int:
            raw_conn.execute("BEGIN")
            raw_conn.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)", tuples)
            raw_conn.execute("COMMIT")
            return n

    else:
        pg = env.raw_pg()

        def raw() -> int:
            with pg.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as cp:
                for row in tuples:
                    cp.write_row(row)
            return n

    out.append(Contender("raw", raw, prepare))
    db = env.mngs(backend)
    out.append(Contender("mngs.db", lambda: db.insert_many(table, dicts), prepare))
    if backend == "sqlite" and env.libs["sqlite-utils"]:
        sdb = env.sqlite_utils()
        out.append(Contender("sqlite-utils", lambda: sdb[table].insert_all(dicts), prepare))
    if env.libs["dataset"]:
        ds = env.dataset(backend)

        def dataset_run() -> int:
            with ds:
                ds[table].insert_many(dicts)
            return n

        out.append(Contender("dataset", dataset_run, prepare, note="in one transaction"))
    if env.libs["pandas"] and (backend == "sqlite" or env.libs["sqlalchemy"]):
        import pandas as pd

        frame = pd.DataFrame(dicts)
        con = env.pandas_con(backend)
        out.append(
            Contender(
                "pandas.to_sql",
                keeping_sqlite_codecs(
                    lambda: frame.to_sql(table, con, if_exists="append", index=False) and n
                ),
                prepare,
                note="DataFrame built beforehand",
            )
        )
    return out


def build_upsert(env: Env, w: Workload) -> list[Contender]:
    n, backend, table = w.rows, w.backend, "w_upsert"
    existing = [row_tuple(i) for i in range(0, n, 2)]  # every other id exists: half conflict
    tuples, dicts = env.tuples(n, "v2"), env.dicts(n, "v2")

    def prepare() -> None:
        env.fresh_table(backend, table)
        env.load(backend, table, iter(existing))

    upsert = (
        f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?) "
        f"ON CONFLICT (id) DO UPDATE SET {UPDATES}"
    )
    out = []
    if backend == "sqlite":
        raw_conn = env.raw_sqlite(isolation_level=None)

        def raw() -> int:
            raw_conn.execute("BEGIN")
            raw_conn.executemany(upsert, tuples)
            raw_conn.execute("COMMIT")
            return n

    else:
        pg = env.raw_pg()

        def raw() -> int:
            with pg.transaction(), pg.cursor() as cur:
                cur.execute(f"CREATE TEMP TABLE tmp_upsert (LIKE {table}) ON COMMIT DROP")
                with cur.copy("COPY tmp_upsert FROM STDIN") as cp:
                    for row in tuples:
                        cp.write_row(row)
                cur.execute(
                    f"INSERT INTO {table} SELECT * FROM tmp_upsert "
                    f"ON CONFLICT (id) DO UPDATE SET {UPDATES}"
                )
            return n

    out.append(Contender("raw", raw, prepare))
    db = env.mngs(backend)
    out.append(
        Contender("mngs.db", lambda: db.insert_many(table, dicts, on_conflict="update"), prepare)
    )
    if backend == "sqlite" and env.libs["sqlite-utils"]:
        sdb = env.sqlite_utils()
        out.append(Contender("sqlite-utils", lambda: sdb[table].upsert_all(dicts, pk="id"), prepare))
    if env.libs["dataset"]:
        ds = env.dataset(backend)
        cap = min(n, 5_000)

        def dataset_run() -> int:
            with ds:
                ds[table].upsert_many(dicts[:cap], keys=["id"])
            return cap

        out.append(
            Contender("dataset", dataset_run, prepare, rows=cap, note="row by row, in one transaction")
        )
    return out


def build_select(env: Env, w: Workload) -> list[Contender]:
    n, backend = w.rows, w.backend
    table = env.read_table(backend, n)
    sql = f"SELECT * FROM {table}"
    if backend == "sqlite":
        raw_conn = env.raw_sqlite(detect_types=sqlite3.PARSE_DECLTYPES)

        def raw() -> list[dict]:
            cur = raw_conn.execute(sql)
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

    else:
        pg = env.raw_pg()

        def raw() -> list[dict]:
            cur = pg.execute(sql)
            cols = [d.name for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

    db = env.mngs(backend)
    out = [Contender("raw", raw), Contender("mngs.db", lambda: db.select(table))]
    if backend == "sqlite" and env.libs["sqlite-utils"]:
        sdb = env.sqlite_utils()
        out.append(
            Contender("sqlite-utils", lambda: list(sdb[table].rows), note="timestamps left as text")
        )
    if env.libs["dataset"]:
        ds = env.dataset(backend)
        out.append(Contender("dataset", lambda: list(ds[table].all())))
    if env.libs["pandas"] and (backend == "sqlite" or env.libs["sqlalchemy"]):
        import pandas as pd

        con = env.pandas_con(backend)
        out.append(
            Contender(
                "pandas",
                keeping_sqlite_codecs(lambda: pd.read_sql(sql, con).to_dict("records")),
                note="read_sql().to_dict('records')",
            )
        )
    return out


def open_stream(spec: dict) -> Callable[[], int]:
    """Open the connection a streaming contender needs; return the streaming run (rows read).

    Runs in the measuring subprocess (and in-process for --profile)."""
    backend, impl, table = spec["backend"], spec["impl"], spec["table"]
    sql = f"SELECT * FROM {table}"
    path, dsn = spec["sqlite_path"], spec["dsn"]
    options = f"-c search_path={SCHEMA}"
    if impl == "raw" and backend == "sqlite":
        conn = sqlite3.connect(path, detect_types=sqlite3.PARSE_DECLTYPES)

        def run() -> int:
            cur = conn.execute(sql)
            cols = [d[0] for d in cur.description]
            n = 0
            while rows := cur.fetchmany(STREAM_SIZE):
                for _ in [dict(zip(cols, r)) for r in rows]:
                    n += 1
            return n

        return run
    if impl == "raw":
        import psycopg

        conn = psycopg.connect(dsn, autocommit=True, options=options)

        def run() -> int:
            n = 0
            with conn.transaction(), conn.cursor(name="bench_stream") as cur:
                cur.itersize = STREAM_SIZE
                cur.execute(sql)
                cols = [d.name for d in cur.description]
                while rows := cur.fetchmany(STREAM_SIZE):
                    for _ in [dict(zip(cols, r)) for r in rows]:
                        n += 1
            return n

        return run
    if impl == "mngs.db":
        import mngs.db

        db = (
            mngs.db.SQLite3(path)
            if backend == "sqlite"
            else mngs.db.PostgreSQL(dsn=dsn, options=options)
        )

        def run() -> int:
            n = 0
            for _ in db.select_iter(table):
                n += 1
            return n

        return run
    if impl == "sqlite-utils":
        import sqlite_utils

        sdb = sqlite_utils.Database(path)
        return lambda: sum(1 for _ in sdb[table].rows)
    if impl == "dataset":
        import dataset
        import psycopg

        if backend == "sqlite":
            ds = dataset.connect(f"sqlite:///{path}", sqlite_wal_mode=False)
        else:
            creator = lambda: psycopg.connect(dsn, options=options)  # noqa: E731
            ds = dataset.connect("postgresql+psycopg://", engine_kwargs={"creator": creator})
        return lambda: sum(1 for _ in ds[table].all())
    raise ValueError(f"unknown stream contender {impl!r}")


def build_stream(env: Env, w: Workload) -> list[Contender]:
    table = env.read_table(w.backend, w.rows)
    impls = ["raw", "mngs.db"]
    if w.backend == "sqlite" and env.libs["sqlite-utils"]:
        impls.append("sqlite-utils")
    if env.libs["dataset"]:
        impls.append("dataset")
    base = {"backend": w.backend, "table": table, "sqlite_path": env.sqlite_path, "dsn": env.dsn}
    return [Contender(impl, None, child={**base, "impl": impl}) for impl in impls]


def build_single_insert(env: Env, w: Workload) -> list[Contender]:
    k, backend, table = w.rows, w.backend, "w_single"
    dicts = [{c: v for c, v in d.items() if c != "id"} for d in env.dicts(k)]
    tuples = [tuple(d.values()) for d in dicts]
    sql = f"INSERT INTO {table} (name, value, category, created) VALUES (?, ?, ?, ?)"

    def prepare() -> None:
        env.fresh_table(backend, table, serial=True)

    if backend == "sqlite":
        tx_conn = env.raw_sqlite()  # the sqlite3 default: BEGIN implied by the INSERT
        auto_conn = env.raw_sqlite(isolation_level=None)
    else:
        sql = sql.replace("?", "%s")
        tx_conn = env.raw_pg(autocommit=False)
        auto_conn = env.raw_pg(autocommit=True)

    def raw() -> int:
        for values in tuples:
            tx_conn.execute(sql, values)
            tx_conn.commit()
        return k

    def raw_autocommit() -> int:
        for values in tuples:
            auto_conn.execute(sql, values)
        return k

    db = env.mngs(backend)

    def mngs_run() -> int:
        for record in dicts:
            db.insert(table, record)
        return k

    out = [
        Contender("raw", raw, prepare, note="execute + commit"),
        Contender("raw autocommit", raw_autocommit, prepare, note="execute only (info)"),
        Contender("mngs.db", mngs_run, prepare),
    ]
    if backend == "sqlite" and env.libs["sqlite-utils"]:
        sdb = env.sqlite_utils()

        def su_run() -> int:
            for record in dicts:
                sdb[table].insert(record)
            return k

        out.append(Contender("sqlite-utils", su_run, prepare))
    if env.libs["dataset"]:
        ds = env.dataset(backend)

        def ds_run() -> int:
            for record in dicts:
                ds[table].insert(record)
            return k

        out.append(Contender("dataset", ds_run, prepare))
    return out


def build_point_select(env: Env, w: Workload) -> list[Contender]:
    k, backend = w.rows, w.backend
    n = env.args.base
    table = env.read_table(backend, n)
    ids = random.Random(42).choices(range(n), k=k)
    if backend == "sqlite":
        conn = env.raw_sqlite(detect_types=sqlite3.PARSE_DECLTYPES)
        sql = f"SELECT * FROM {table} WHERE id = ?"
    else:
        conn = env.raw_pg()
        sql = f"SELECT * FROM {table} WHERE id = %s"

    def raw() -> int:
        execute = conn.execute
        for i in ids:
            execute(sql, (i,)).fetchone()
        return k

    db = env.mngs(backend)

    def mngs_text() -> int:
        for i in ids:
            db.select(table, where="id = ?", params=[i])
        return k

    def mngs_dict() -> int:
        for i in ids:
            db.select(table, where={"id": i})
        return k

    out = [
        Contender("raw", raw, note="execute + fetchone"),
        Contender("mngs.db", mngs_text, note='where="id = ?"'),
        Contender("mngs.db dict", mngs_dict, note='where={"id": i}'),
    ]
    if backend == "sqlite" and env.libs["sqlite-utils"]:
        sdb = env.sqlite_utils()

        def su_run() -> int:
            t = sdb[table]
            for i in ids:
                t.get(i)
            return k

        out.append(Contender("sqlite-utils", su_run, note="table.get(pk)"))
    if env.libs["dataset"]:
        ds = env.dataset(backend)

        def ds_run() -> int:
            t = ds[table]
            for i in ids:
                t.find_one(id=i)
            return k

        out.append(Contender("dataset", ds_run, note="find_one(id=...)"))
    return out


def _psql(env: Env, command: str) -> list[str]:
    return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", env.dsn, "-c", command]


def build_import_csv(env: Env, w: Workload) -> list[Contender]:
    n, backend, table = w.rows, w.backend, "w_import"
    path = env.csv_file(n)

    def prepare() -> None:
        env.fresh_table(backend, table)

    if backend == "sqlite":
        argv = ["sqlite3", env.sqlite_path, f".import --csv --skip 1 {path} {table}"]
        note = "sqlite3 CLI .import"
    else:
        argv = _psql(env, f"\\copy {SCHEMA}.{table} FROM '{path}' WITH (FORMAT csv, HEADER)")
        note = "psql \\copy"
    out = [Contender("raw", lambda: run_external(argv), prepare, external=True, note=note)]
    db = env.mngs(backend)
    method = mngs_method(db, "import_from_csv")
    out.append(
        Contender(
            "mngs.db",
            method and (lambda: method(table, path)),
            prepare,
            unavailable=None if method else NOT_IMPLEMENTED,
        )
    )
    return out


def build_export_csv(env: Env, w: Workload) -> list[Contender]:
    n, backend = w.rows, w.backend
    table = env.read_table(backend, n)
    target = str(env.tmp / "export.csv")

    if backend == "sqlite":
        argv = ["sqlite3", "-csv", "-header", env.sqlite_path, f"SELECT * FROM {table}"]
        note = "sqlite3 CLI -csv"

        def raw() -> float:
            with open(target, "wb") as f:
                return run_external(argv, stdout=f)

    else:
        argv = _psql(env, f"\\copy {SCHEMA}.{table} TO '{target}' WITH (FORMAT csv, HEADER)")
        note = "psql \\copy"

        def raw() -> float:
            return run_external(argv)

    out = [Contender("raw", raw, external=True, note=note)]
    db = env.mngs(backend)
    method = mngs_method(db, "export_to_csv")
    out.append(
        Contender(
            "mngs.db",
            method and (lambda: method(table, target)),
            unavailable=None if method else NOT_IMPLEMENTED,
        )
    )
    return out


def build_from_dataframe(env: Env, w: Workload) -> list[Contender]:
    n, table = w.rows, "w_fromdf"
    frame = env.dataframe(n)

    def prepare() -> None:
        env.fresh_table("postgresql", table)

    pg = env.raw_pg()

    def raw() -> int:
        columns = [  # Python objects column by column: pandas.Timestamp would dump 2x slower
            list(s.dt.to_pydatetime()) if s.dtype.kind == "M" else s.tolist()
            for s in (frame[c] for c in frame.columns)
        ]
        with pg.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as cp:
            for row in zip(*columns):
                cp.write_row(row)
        return n

    db = env.mngs("postgresql")
    method = mngs_method(db, "from_dataframe")
    out = [
        Contender("raw", raw, prepare, note="COPY write_row, columns via tolist()"),
        Contender(
            "mngs.db",
            method and (lambda: method(frame, table, if_exists="append")),
            prepare,
            unavailable=None if method else NOT_IMPLEMENTED,
        ),
    ]
    if env.libs["sqlalchemy"]:
        engine = env.sa_engine()
        cap = min(n, env.args.base)
        part = frame.iloc[:cap]
        out.append(
            Contender(
                "pandas.to_sql",
                lambda: part.to_sql(table, engine, if_exists="append", index=False) and cap,
                prepare,
                rows=cap,
                note=f"first {cap:,} rows, rows/s compared",
            )
        )
    return out


def build_to_dataframe(env: Env, w: Workload) -> list[Contender]:
    import pandas as pd

    n = w.rows
    table = env.read_table("postgresql", n)
    out = []
    if env.libs["sqlalchemy"]:
        engine = env.sa_engine()
        out.append(
            Contender(
                "pandas.read_sql", lambda: len(pd.read_sql(f"SELECT * FROM {table}", engine))
            )
        )
    pg = env.raw_pg()

    def copy_csv() -> int:
        buf = io.BytesIO()
        with pg.cursor() as cur, cur.copy(f"COPY {table} TO STDOUT WITH (FORMAT csv, HEADER)") as cp:
            for chunk in cp:
                buf.write(chunk)
        buf.seek(0)
        return len(pd.read_csv(buf, parse_dates=["created"]))

    out.append(Contender("raw COPY+read_csv", copy_csv, note="info: a faster loader exists"))
    db = env.mngs("postgresql")
    method = mngs_method(db, "to_dataframe")
    out.append(
        Contender(
            "mngs.db",
            method and (lambda: len(method(table))),
            unavailable=None if method else NOT_IMPLEMENTED,
        )
    )
    return out


def workloads(args: argparse.Namespace) -> list[Workload]:
    base, big = args.base, args.base * 10
    singles, points = max(base // 100, 10), max(base // 10, 10)
    both = ("sqlite", "postgresql")
    ws = [
        Workload("insert_many", "sqlite", base, build_insert_many, Target(0.90),
                 description="dict rows; raw: executemany of tuples in one transaction"),
        Workload("insert_many", "postgresql", base, build_insert_many,
                 Target(0.85, versus="pandas.to_sql", factor=5.0),
                 description="dict rows; raw: COPY FROM STDIN with write_row"),
    ]
    ws += [
        Workload("upsert", b, base, build_upsert, Target(0.85),
                 description="half the keys exist; raw: ON CONFLICT executemany / COPY + temp table")
        for b in both
    ]
    ws += [
        Workload("select", b, base, build_select, Target(0.85),
                 description="whole table to a list of dicts; raw: fetchall + dict(zip)")
        for b in both
    ]
    ws += [
        Workload("stream", b, big, build_stream, Target(rss_mb=100), big=True,
                 description="select_iter; raw: fetchmany / named cursor; each run a subprocess")
        for b in both
    ]
    ws += [
        Workload("single_insert", b, singles, build_single_insert, Target(0.75),
                 description="insert() each its own transaction; raw: execute + commit")
        for b in both
    ]
    ws += [
        Workload("point_select", b, points, build_point_select, Target(0.75),
                 description="select by primary key; raw: execute + fetchone")
        for b in both
    ]
    ws += [
        Workload("import_csv", b, big, build_import_csv, Target(0.70), big=True,
                 description="import_from_csv; raw: sqlite3 CLI .import / psql \\copy")
        for b in both
    ]
    ws += [
        Workload("export_csv", b, big, build_export_csv, Target(0.70), big=True,
                 description="export_to_csv; raw: sqlite3 CLI -csv / psql \\copy")
        for b in both
    ]
    ws += [
        Workload("from_dataframe", "postgresql", big, build_from_dataframe,
                 Target(versus="pandas.to_sql", factor=5.0), big=True,
                 description="from_dataframe; raw: COPY; pandas.to_sql on fewer rows"),
        Workload("to_dataframe", "postgresql", big, build_to_dataframe, Target(1.0), big=True,
                 reference="pandas.read_sql", description="to_dataframe vs pandas.read_sql"),
    ]
    return ws


def selected(w: Workload, patterns: list[str]) -> bool:
    if not patterns:
        return True
    for p in patterns:
        if any(ch in p for ch in "*?[") and fnmatch.fnmatch(w.key, p):
            return True
        if p in w.key:
            return True
    return False


# -- measuring ---------------------------------------------------------------------------
def count_of(output: Any, contender: Contender, default: int) -> int:
    if isinstance(output, list):
        return len(output)
    return contender.rows or default


def run_child(spec: dict, trace: bool) -> dict:
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps({**spec, "trace": trace})]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "child failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child_main(spec: dict) -> None:
    """Measure one streaming run in this fresh process; print the result as JSON."""
    from mngs.db import codecs  # every child imports the same modules before the baseline

    codecs.register_sqlite()  # raw connections read timestamps with the same converters
    run = open_stream(spec)
    gc.collect()
    base = reset_rss_peak()
    if spec["trace"]:
        tracemalloc.start()
    start = perf_counter()
    rows = run()
    seconds = perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if spec["trace"] else None
    print(json.dumps({"rows": rows, "seconds": seconds, "rss_mb": rss_growth_mb(base), "py_peak_mb": peak}))


class Skip(Exception):
    """The contender cannot run (feature not implemented)."""


def once(c: Contender, w: Workload, *, trace: bool = False) -> tuple[int, float, float | None, float | None]:
    """One run of a contender: (rows, seconds, tracemalloc peak MB, RSS growth MB)."""
    if c.child is not None:
        r = run_child(c.child, trace)
        return r["rows"], r["seconds"], r["py_peak_mb"], r["rss_mb"]
    if c.prepare:
        c.prepare()
    gc.collect()
    base = reset_rss_peak()
    if trace:
        tracemalloc.start()
    try:
        start = perf_counter()
        output = c.run()
        seconds = perf_counter() - start
    except NotImplementedError as exc:
        raise Skip(NOT_IMPLEMENTED) from exc
    finally:
        peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
        if trace:
            tracemalloc.stop()
    if c.external:
        rss: float | None = float(output) if isinstance(output, (int, float)) else None
        peak = None
    else:
        rss = rss_growth_mb(base)
    rows = count_of(output, c, w.rows)
    del output
    return rows, seconds, peak, rss


def measure(w: Workload, contenders: list[Contender], repeats: int) -> list[Result]:
    results = [Result(w, c) for c in contenders]
    live = []
    for r in results:
        if r.contender.unavailable:
            r.status = r.contender.unavailable
            continue
        try:
            r.rows, _, _, _ = once(r.contender, w)  # warm-up
            _, _, r.py_peak_mb, r.rss_mb = once(r.contender, w, trace=not r.contender.external)
            live.append(r)
        except Skip as exc:
            r.status = str(exc)
        except Exception as exc:
            r.status = f"error: {type(exc).__name__}: {exc}"[:70]
            log(f"  {w.key} {r.contender.impl}: {traceback.format_exc()}")
    for _ in range(repeats):  # interleaved: load spikes elsewhere hit every contender alike
        for r in list(live):
            try:
                rows, seconds, _, rss = once(r.contender, w)
            except Exception as exc:
                r.status = f"error: {type(exc).__name__}: {exc}"[:70]
                live.remove(r)
                continue
            r.rows = rows
            r.times.append(seconds)
            if rss is not None:
                r.rss_mb = max(r.rss_mb or 0.0, rss)
    for r in results:
        if r.times and not r.status:
            r.seconds = statistics.median(r.times)
    judge(w, results)
    return results


def judge(w: Workload, results: list[Result]) -> None:
    by_impl = {r.contender.impl: r for r in results}
    ref = by_impl.get(w.reference)
    for r in results:
        if ref and ref.rows_per_s and r.rows_per_s:
            r.ratio = r.rows_per_s / ref.rows_per_s
    t = w.target
    for r in results:
        if not r.contender.impl.startswith("mngs"):
            continue
        if r.status:
            r.verdict = "n/a"
            continue
        ok, notes = True, []
        if t.ratio is not None:
            if r.ratio is None:
                ok, notes = False, ["no reference"]
            elif r.ratio < t.ratio:
                ok = False
                notes.append(f"{r.ratio:.3f}")
        if t.versus:
            other = by_impl.get(t.versus)
            if other and other.rows_per_s and r.rows_per_s:
                factor = r.rows_per_s / other.rows_per_s
                ok = ok and factor >= t.factor
                notes.append(f"{factor:.1f}x {t.versus}")
            else:
                notes.append(f"{t.versus} n/a")
        if t.rss_mb is not None:
            ok = ok and r.rss_mb is not None and r.rss_mb <= t.rss_mb
        r.verdict = ("PASS" if ok else "MISS") + (f" ({', '.join(notes)})" if notes else "")


# -- reporting ---------------------------------------------------------------------------
def fmt_rate(v: float | None) -> str:
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def fmt_mb(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


HEADER = ("workload", "impl", "rows", "median s", "rows/s", "vs ref", "py peak MB", "RSS Δ MB",
          "target", "result")


def table_rows(results: list[Result]) -> list[tuple[str, ...]]:
    out = []
    for r in results:
        w, c = r.workload, r.contender
        first = c.impl.startswith("mngs")
        rows = f"{r.rows:,}" if r.rows else f"{c.rows or w.rows:,}"
        if r.status:
            out.append((w.key, c.impl, rows, "-", "-", "-", "-", "-",
                        w.target.text(w.reference) if first else "", r.status))
            continue
        ratio = fmt(r.ratio, ".2f") if c.impl != w.reference else "1.00 (ref)"
        out.append((
            w.key,
            c.impl,
            rows,
            fmt(r.seconds, ".3f"),
            fmt_rate(r.rows_per_s),
            ratio,
            fmt_mb(r.py_peak_mb),
            fmt_mb(r.rss_mb),
            w.target.text(w.reference) if first else "",
            r.verdict,
        ))
    return out


def render_text(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(row[i])) for row in [HEADER, *rows]) for i in range(len(HEADER))]
    right = {2, 3, 4, 5, 6, 7}
    lines = []
    previous = None
    for row in [HEADER, *rows]:
        if previous is not None and row[0] != previous and previous != HEADER[0]:
            lines.append("")
        cells = [
            str(v).rjust(widths[i]) if i in right and row is not HEADER else str(v).ljust(widths[i])
            for i, v in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if row is HEADER:
            lines.append("  ".join("-" * wd for wd in widths))
        previous = row[0]
    return "\n".join(lines)


def render_markdown(rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(
        "---:" if i in {2, 3, 4, 5, 6, 7} else "---" for i in range(len(HEADER))) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def environment(env: Env, args: argparse.Namespace) -> list[str]:
    import psycopg

    command = re.sub(r"(password\s*=\s*)\S+|(://[^:/@]*:)[^@]*@", r"\1\2***", shlex.join(sys.argv[1:]))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    libs = ", ".join(
        f"{name} {lib_version(name) or 'not installed'}"
        for name in ("psycopg", "pandas", "sqlalchemy", "sqlite-utils", "dataset")
    )
    return [
        f"command: python benchmarks/run.py {command}".rstrip(),
        f"date: {time.strftime('%Y-%m-%d %H:%M')}; host: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average before the run {load}",
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"PostgreSQL {env.pg_version if not env.pg_error else 'unreachable'} (psycopg {psycopg.__version__})",
        f"libraries: {libs}",
        f"repeats: median of {args.repeats} (1M-row workloads: {args.big_repeats}) after one warm-up; "
        f"SQLite file in {env.tmp}",
    ]


def profile(w: Workload, contenders: list[Contender], tool: str, top: int = 30) -> str:
    """Profile one run of each mngs contender of ``w``; return where the time goes, as text."""
    sections = []
    for c in contenders:
        if not c.impl.startswith("mngs") or c.unavailable:
            continue
        run = open_stream(c.child) if c.child is not None else c.run
        if c.prepare:
            c.prepare()
        title = f"== profile: {w.key} {c.impl}, {w.rows:,} rows ({tool}) =="
        if tool == "pyinstrument":
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
            run()
            profiler.stop()
            sections.append(f"{title}\n{profiler.output_text(unicode=False, color=False)}")
            continue
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        run()
        prof.disable()
        stream = io.StringIO()
        pstats.Stats(prof, stream=stream).sort_stats("tottime").print_stats(top)
        text = re.sub(r"/\S*/(site-packages|src|lib/python3\.\d+)/", "", stream.getvalue())
        sections.append(title + "\n" + "\n".join(line for line in text.splitlines() if line.strip()))
    return "\n\n".join(sections)


# -- main --------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10x fewer rows and 3 repeats (smoke test)")
    parser.add_argument("--only", action="append", default=[], metavar="PATTERN",
                        help="run workloads whose 'name/backend' contains PATTERN (or matches a glob); "
                        "repeatable, comma-separated")
    parser.add_argument("--rows", type=int, default=None, metavar="N",
                        help="rows of the bulk workloads (default 100000; the 1M-row workloads use 10x, "
                        "single inserts N/100, point selects N/10)")
    parser.add_argument("--repeats", type=int, default=None, metavar="N",
                        help="timed runs per contender (default 5, 1M-row workloads 3; --quick 3)")
    parser.add_argument("--pg-dsn", default=os.environ.get("MNGS_BENCH_PG_DSN")
                        or os.environ.get("MNGS_TEST_PG_DSN") or DEFAULT_PG_DSN, metavar="DSN",
                        help="libpq connection string (default $MNGS_BENCH_PG_DSN, $MNGS_TEST_PG_DSN, "
                        f"else {DEFAULT_PG_DSN!r}); the schema {SCHEMA!r} is created and dropped")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--profile", nargs="?", const="cprofile", choices=("cprofile", "pyinstrument"),
                        help="after measuring, profile one run of each mngs contender")
    parser.add_argument("--tmpdir", default=None, help="where the SQLite file and CSVs go")
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.base = args.rows or (10_000 if args.quick else 100_000)
    args.repeats_given = args.repeats
    args.repeats = args.repeats or (3 if args.quick else 5)
    args.big_repeats = args.repeats_given or 3
    args.only = [p.strip() for item in args.only for p in item.split(",") if p.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child_main(json.loads(args.child))
        return 0
    chosen = [w for w in workloads(args) if selected(w, args.only)]
    if args.list:
        for w in chosen:
            print(f"{w.key:28} {w.rows:>9,} rows  {w.description}")
        return 0
    if not chosen:
        log(f"no workload matches {args.only}; see --list")
        return 2
    env = Env(args)
    results: list[Result] = []
    profiles: list[str] = []
    try:
        header = environment(env, args)
        if env.pg_error:
            log(f"PostgreSQL workloads skipped: {env.pg_error}")
        for w in chosen:
            if w.backend == "postgresql" and env.pg_error:
                continue
            log(f"{w.key}: {w.rows:,} rows ...")
            start = perf_counter()
            try:
                contenders = w.build(env, w)
                repeats = args.big_repeats if w.big else args.repeats
                results += measure(w, contenders, repeats)
                if args.profile:
                    profiles.append(profile(w, contenders, args.profile))
            except Exception:
                log(f"  {w.key} failed to set up:\n{traceback.format_exc()}")
            finally:
                env.stack.close()
                env.stack = contextlib.ExitStack()
            log(f"  done in {perf_counter() - start:.1f} s")
    finally:
        env.close()
    rows = table_rows(results)
    print()
    if args.markdown:
        print("\n".join(f"- {line}" for line in header))
        print()
        print(render_markdown(rows))
    else:
        print("\n".join(header))
        print()
        print(render_text(rows))
    for text in filter(None, profiles):
        print(f"\n{text}")
    misses = [r for r in results if r.verdict.startswith("MISS")]
    if misses:
        print("\nmissed targets: " + ", ".join(f"{r.workload.key} {r.contender.impl}" for r in misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
