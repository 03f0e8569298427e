"""Write workloads: insert_many, upsert and single_insert."""

from __future__ import annotations

from fixtures import COLUMNS, UPDATES, Env, keeping_sqlite_codecs, row_tuple
from harness import Contender, Target, Workload, workload


@workload("insert_many", target={"sqlite": Target(0.90),
                                 "postgresql": Target(0.85, versus="pandas.to_sql", factor=5.0)},
          description={"sqlite": "dict rows; raw: executemany of tuples in one transaction",
                       "postgresql": "dict rows; raw: COPY FROM STDIN with write_row"})
def insert_many(env: Env, w: Workload) -> list[Contender]:
    """Bulk insert of dict rows into a fresh table, against executemany / COPY of tuples."""
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


@workload("upsert", target=Target(0.85),
          description="half the keys exist; raw: ON CONFLICT executemany / COPY + temp table")
def upsert(env: Env, w: Workload) -> list[Contender]:
    """insert_many(on_conflict="update") where half the keys exist, against ON CONFLICT by hand."""
    n, backend, table = w.rows, w.backend, "w_upsert"
    existing = [row_tuple(i) for i in range(0, n, 2)]  # every other id exists: half conflict
    tuples, dicts = env.tuples(n, "v2"), env.dicts(n, "v2")

    def prepare() -> None:
        env.fresh_table(backend, table)
        env.load(backend, table, iter(existing))

    sql = (
        f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?) "
        f"ON CONFLICT (id) DO UPDATE SET {UPDATES}"
    )
    out = []
    if backend == "sqlite":
        raw_conn = env.raw_sqlite(isolation_level=None)

        def raw() -> int:
            raw_conn.execute("BEGIN")
            raw_conn.executemany(sql, tuples)
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


@workload("single_insert", size="singles", target=Target(0.75),
          description="insert() each its own transaction; raw: execute + commit")
def single_insert(env: Env, w: Workload) -> list[Contender]:
    """insert() of one dict per call, each its own transaction, against execute + commit."""
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
