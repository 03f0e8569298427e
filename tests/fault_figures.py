"""Measure the fault figures of issue 7 on the installed library (a script, not a test).

Run as root from the repository: ``.venv/bin/python tests/fault_figures.py [--quick]``. It
makes the same throwaway servers as the tests (tests/servers.py), injects each fault once,
and prints what a user sees — errors, rows, seconds — whether the library survives or not.
Unlike the tests it asserts nothing: it is for the before/after figures of the closing note.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import servers  # noqa: E402
import workers  # noqa: E402

import mngs.db  # noqa: E402

LOST = getattr(mngs.db, "ConnectionLostError", None)


def say(what: str, figure: Any) -> None:
    print(f"{what}: {figure}", flush=True)


def short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:140]}"


def attempt(call: Any) -> str:
    try:
        call()
        return "ok"
    except Exception as exc:
        return short(exc)


def timed(call: Any, limit: float, release: Any) -> str:
    out: dict[str, Any] = {}

    def target() -> None:
        began = time.monotonic()
        out["result"] = attempt(call)
        out["seconds"] = time.monotonic() - began

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        release()
        thread.join(30)
        return f"still waiting after {limit:.0f} s (released)"
    return f"{out['result']} after {out['seconds']:.1f} s"


def reconnect_figures(cluster: servers.Cluster) -> None:
    for fault in ("terminate", "kill", "restart", "stop-start"):
        dsn = cluster.create_database("mngs_faults")
        db = mngs.db.PostgreSQL(dsn=dsn)
        db.create_table("events", {"id": "SERIAL PRIMARY KEY", "seq": "INTEGER"})
        pid = int(db.execute("SELECT pg_backend_pid() AS pid")[0]["pid"])
        from test_reconnect import inject

        inject(cluster, pid, fault)
        calls = [attempt(lambda db=db: db.select("events")) for _ in range(5)]
        calls.append(attempt(lambda db=db: db.insert("events", {"seq": 1})))
        failed = sum(c != "ok" for c in calls)
        say(f"idle {fault}: failed calls of 6 (5 selects, 1 insert)", failed)
        say(f"idle {fault}: first / last error", f"{calls[0]} / {calls[-1]}")
        say(f"idle {fault}: db.closed afterwards", db.closed)
        db.close()
    dsn = cluster.create_database("mngs_faults")
    db = mngs.db.PostgreSQL(dsn=dsn)
    db.create_table("events", {"id": "SERIAL PRIMARY KEY", "seq": "INTEGER"})
    try:
        with db.transaction():
            db.insert("events", {"seq": 1})
            cluster.terminate(int(db.execute("SELECT pg_backend_pid() AS pid")[0]["pid"]))
            db.insert("events", {"seq": 2})
        outcome = "no error"
    except Exception as exc:
        outcome = short(exc)
    say("terminate inside a transaction: error", outcome)
    say("  then the next call", attempt(lambda: db.count("events")))
    db.close()
    dsn = cluster.create_database("mngs_faults")
    with mngs.db.PostgreSQL(dsn=dsn) as db:
        pid = int(db.execute("SELECT pg_backend_pid() AS pid")[0]["pid"])
        with cluster.stalled(pid):
            figure = timed(lambda: db.execute("SELECT 1"), 30, lambda: os.kill(pid, signal.SIGCONT))
        say("SIGSTOPped backend, default handle: SELECT 1", figure)


def timeout_figures(quick: bool) -> None:
    listener = servers.Listener()
    dsn = f"host=127.0.0.1 port={listener.port} dbname=test user=postgres"
    try:
        say(
            "silent server, connect_timeout=2",
            timed(lambda: mngs.db.PostgreSQL(dsn=dsn, connect_timeout=2), 60, listener.close),
        )
        limit = 30 if quick else 150
        say(
            "silent server, default connect",
            timed(lambda: mngs.db.PostgreSQL(dsn=dsn), limit, listener.close),
        )
    finally:
        listener.close()


def sqlite_figures(rounds: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="mngs_figures_"))
    totals = []
    for r in range(rounds):
        path = tmp / f"round{r}.db"
        with mngs.db.SQLite3(path) as db:
            db.create_table("events", {"id": "INTEGER PRIMARY KEY", "worker": "INTEGER", "seq": "INTEGER"})
        began = time.monotonic()
        results = workers.run_all(
            workers.single_inserts, [({"sqlite": str(path)}, w, 500) for w in range(8)], 300
        )
        with mngs.db.SQLite3(path) as db:
            rows = db.count("events")
        errors = sum(len(x["errors"]) for x in results)
        totals.append((rows, errors, time.monotonic() - began))
        path.unlink()
    bad = [t for t in totals if t[0] != 4000 or t[1]]
    say(f"SQLite 8x500 single inserts: rounds with errors of {rounds}", len(bad))
    say("  rows per bad round", [t[0] for t in bad])
    say("  errors in all", sum(t[1] for t in totals))
    say("  seconds per round (mean)", round(sum(t[2] for t in totals) / len(totals), 1))


def pg_figures(pg_dsn: str) -> None:
    import psycopg

    schema = f"figures_{random.randrange(10**9)}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    spec = {"dsn": pg_dsn, "options": f"-c search_path={schema}"}
    try:
        with workers.open_handle(spec) as db:
            db.create_table("items", {"id": "INTEGER PRIMARY KEY", "writer": "INTEGER", "round": "INTEGER"})
        began = time.monotonic()
        results = workers.run_all(workers.upserts, [(spec, w, 100, 1) for w in range(16)], 300)
        failed = sum(bool(r["errors"]) for r in results)
        say("16 concurrent upserts over 100 keys: failed of 16", failed)
        say("  seconds", round(time.monotonic() - began, 1))
        say("  first error", next((e for r in results for e in r["errors"]), None))
        with workers.open_handle(spec) as db:
            db.create_table("counter", {"id": "INTEGER PRIMARY KEY", "n": "INTEGER NOT NULL"})
            db.insert("counter", {"id": 1, "n": 0})
        results = workers.run_all(
            workers.plain_transaction_increments, [(spec, w, 50) for w in range(16)], 300
        )
        with workers.open_handle(spec) as db:
            n = db.select("counter")[0]["n"]
        say(
            "16x50 select+update increments in transaction(), read committed: counter",
            f"{n} (lost {800 - n})",
        )
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def pooler_figures(cluster: servers.Cluster) -> None:
    binary = servers.ensure_pgbouncer_installed()
    cluster.create_database(servers.POOL_DB)
    bouncer = servers.PgBouncer(binary, cluster, servers.POOL_DB)
    bouncer.start()
    try:
        with mngs.db.PostgreSQL(dsn=cluster.dsn(servers.POOL_DB)) as db:
            db.create_table("events", {"id": "SERIAL PRIMARY KEY", "worker": "INTEGER", "seq": "INTEGER"})
        a, b = mngs.db.PostgreSQL(dsn=bouncer.dsn()), mngs.db.PostgreSQL(dsn=bouncer.dsn())
        errors = []
        for i in range(30):
            for n, db in enumerate((a, b)):
                result = attempt(lambda db=db, n=n, i=i: db.insert("events", {"worker": n, "seq": i}))
                if result != "ok":
                    errors.append(result)
        a.close()
        b.close()
        say("pgbouncer, 2 handles x 30 alternating inserts: errors of 60", len(errors))
        say("  first error", errors[0] if errors else None)
        bouncer.reconnect_servers()
        with mngs.db.PostgreSQL(dsn=cluster.dsn(servers.POOL_DB)) as db:
            db.execute("TRUNCATE events")
        results = workers.run_all(
            workers.pooled_writer, [({"dsn": bouncer.dsn()}, w, 40) for w in range(64)], 300
        )
        errors = [e for r in results for e in r.get("errors", [])] + [
            r["crashed"] for r in results if "crashed" in r
        ]
        with mngs.db.PostgreSQL(dsn=cluster.dsn(servers.POOL_DB)) as db:
            rows = db.count("events")
        say("pgbouncer, 64 workers x 50 rows: rows present of 3200", rows)
        say("  errors", len(errors))
    finally:
        bouncer.stop()


def failover_figures() -> None:
    pair = servers.ReplicaPair()
    pair.build()
    try:
        db = mngs.db.PostgreSQL(dsn=pair.multi_host_dsn())
        db.create_table("events", {"id": "SERIAL PRIMARY KEY", "seq": "INTEGER"})
        db.insert_many("events", [{"seq": i} for i in range(100)])
        servers.wait_replayed(pair.primary, pair.standby)
        pair.primary.stop("fast")
        pair.standby.promote()
        calls = [attempt(lambda: db.count("events")) for _ in range(3)]
        say("failover (multi-host DSN): next 3 reads", calls)
        say("  rows on the new primary", pair.standby.scalar("SELECT count(*) FROM events"))
        db.close()
    finally:
        pair.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 SQLite rounds, 30 s connect limit")
    parser.add_argument(
        "--sqlite-rounds", type=int, default=None, help="rounds of 8x500 inserts (default 20)"
    )
    parser.add_argument("--pg-dsn", default="host=127.0.0.1 port=5432 dbname=test user=postgres")
    args = parser.parse_args()
    say("library", f"mngs.db from {Path(mngs.db.__file__).parent}")
    servers.drop_stale_clusters()
    cluster = servers.Cluster(f"{servers.CLUSTER_PREFIX}faulty", servers.FAULTY_PORT)
    cluster.create().start()
    try:
        reconnect_figures(cluster)
        pooler_figures(cluster)
    finally:
        cluster.drop()
    failover_figures()
    timeout_figures(args.quick)
    pg_figures(args.pg_dsn)
    sqlite_figures(args.sqlite_rounds or (3 if args.quick else 20))


if __name__ == "__main__":
    main()
