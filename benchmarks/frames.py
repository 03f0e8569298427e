"""DataFrame workloads: from_dataframe and to_dataframe on PostgreSQL, against COPY and pandas."""

from __future__ import annotations

import io

from fixtures import COLUMNS, Env, mngs_method
from harness import NOT_IMPLEMENTED, Contender, Target, Workload, workload


@workload("from_dataframe", backends=("postgresql",), size="big", big=True,
          target=Target(versus="pandas.to_sql", factor=5.0),
          description="from_dataframe; raw: COPY; pandas.to_sql on fewer rows")
def from_dataframe(env: Env, w: Workload) -> list[Contender]:
    """from_dataframe of a 1M-row frame into a table, against COPY by hand and DataFrame.to_sql."""
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


@workload("to_dataframe", backends=("postgresql",), size="big", big=True, target=Target(1.0),
          reference="pandas.read_sql", description="to_dataframe vs pandas.read_sql")
def to_dataframe(env: Env, w: Workload) -> list[Contender]:
    """to_dataframe of a 1M-row table, against pandas.read_sql (and COPY + read_csv, for info)."""
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
