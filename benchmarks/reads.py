"""Read workloads: select, stream and point_select."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable

from fixtures import SCHEMA, STREAM_SIZE, Env, keeping_sqlite_codecs
from harness import Contender, Target, Workload, workload


@workload("select", target=Target(0.85),
          description="whole table to a list of dicts; raw: fetchall + dict(zip)")
def select(env: Env, w: Workload) -> list[Contender]:
    """The whole table as a list of dicts, against fetchall + dict(zip(...))."""
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


@workload("stream", size="big", big=True, target=Target(rss_mb=100),
          description="select_iter; raw: fetchmany / named cursor; each run a subprocess")
def stream(env: Env, w: Workload) -> list[Contender]:
    """Iterate a 1M-row table with select_iter in bounded memory, each run in a fresh process."""
    table = env.read_table(w.backend, w.rows)
    impls = ["raw", "mngs.db"]
    if w.backend == "sqlite" and env.libs["sqlite-utils"]:
        impls.append("sqlite-utils")
    if env.libs["dataset"]:
        impls.append("dataset")
    base = env.child_spec(w.backend, table, "reads.open_stream")
    return [Contender(impl, None, child={**base, "impl": impl}) for impl in impls]


@workload("point_select", size="points", target=Target(0.75),
          description="select by primary key; raw: execute + fetchone")
def point_select(env: Env, w: Workload) -> list[Contender]:
    """select() of one row by primary key, with a text and a dict where, against fetchone."""
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
