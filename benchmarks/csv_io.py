"""CSV workloads: import_csv and export_csv, against the sqlite3 and psql command-line tools."""

from __future__ import annotations

from fixtures import SCHEMA, Env, mngs_method
from harness import NOT_IMPLEMENTED, Contender, Target, Workload, run_external, workload


def _psql(env: Env, command: str) -> list[str]:
    return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", env.dsn, "-c", command]


@workload("import_csv", size="big", big=True, target=Target(0.70),
          description="import_from_csv; raw: sqlite3 CLI .import / psql \\copy")
def import_csv(env: Env, w: Workload) -> list[Contender]:
    """import_from_csv of a 1M-row file into a fresh table, against sqlite3 .import / psql \\copy."""
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


@workload("export_csv", size="big", big=True, target=Target(0.70),
          description="export_to_csv; raw: sqlite3 CLI -csv / psql \\copy")
def export_csv(env: Env, w: Workload) -> list[Contender]:
    """export_to_csv of a 1M-row table, against sqlite3 -csv -header / psql \\copy."""
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
