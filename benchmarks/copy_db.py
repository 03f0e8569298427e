"""Copy workloads: copy/sqlite->postgresql, mngs.db.copy against select_iter + insert_many by hand."""

from __future__ import annotations

from collections.abc import Callable

from fixtures import SCHEMA, Env, without_progress
from harness import Contender, Target, Workload, workload

TABLE = "w_copy"  # its own name: the PostgreSQL read tables (read_<n>) must not be in the way
BY_HAND = "select_iter+insert_many"
NOT_YET = "n/a (mngs.db.copy not added yet)"


def open_copy(spec: dict) -> Callable[[], int]:
    """Open both handles in the measuring subprocess; return the copying run (rows copied)."""
    import mngs.db

    table, rows = spec["table"], spec["rows"]
    src = mngs.db.SQLite3(spec["sqlite_path"])
    dst = mngs.db.PostgreSQL(dsn=spec["dsn"], options=f"-c search_path={SCHEMA}")
    if spec["impl"] == BY_HAND:
        return lambda: dst.insert_many(table, src.select_iter(table))
    if spec["impl"] == "mngs.db":
        copy = without_progress(mngs.db.copy)

        def run() -> int:
            copy(src, dst, tables=[table])
            return rows

        return run
    raise ValueError(f"unknown copy contender {spec['impl']!r}")


@workload("copy", backends=("sqlite->postgresql",), size="big", big=True,
          target=Target(0.80, rss_mb=100), reference=BY_HAND,
          description="mngs.db.copy vs select_iter + insert_many by hand; each run a subprocess")
def copy(env: Env, w: Workload) -> list[Contender]:
    """A 1M-row table from a SQLite file to PostgreSQL, each run in a fresh process."""
    import mngs.db

    env.read_table("sqlite", w.rows, TABLE)
    spec = {**env.child_spec(w.backend, TABLE, "copy_db.open_copy"), "rows": w.rows}
    out = [
        Contender(BY_HAND, None, lambda: env.fresh_table("postgresql", TABLE),
                  child={**spec, "impl": BY_HAND}, note="into a fresh table"),
    ]
    if hasattr(mngs.db, "copy"):  # copy creates the table itself (if_exists="fail")
        out.append(Contender("mngs.db", None, lambda: env.drop_table("postgresql", TABLE),
                             child={**spec, "impl": "mngs.db"}))
    else:
        out.append(Contender("mngs.db", None, unavailable=NOT_YET))
    return out
