"""Through pgbouncer in transaction-pooling mode: prepared statements, transactions, many
worker processes (issue 7, point 6)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import servers
import workers

import mngs.db

pytestmark = pytest.mark.postgresql


@pytest.fixture
def pooled(pgbouncer: servers.PgBouncer) -> Iterator[str]:
    """The pgbouncer DSN, with a fresh ``events`` table in the pooled database and fresh
    server connections behind the pooler."""
    pgbouncer.server.start()  # an earlier fault test may have left it stopped
    pgbouncer.reconnect_servers()
    with mngs.db.PostgreSQL(dsn=pgbouncer.server.dsn(servers.POOL_DB)) as direct:
        direct.drop_table("events")
        direct.create_table("events", {"id": "SERIAL PRIMARY KEY", "worker": "INTEGER", "seq": "INTEGER"})
    yield pgbouncer.dsn()


def test_repeated_statements_through_the_pooler(pooled: str) -> None:
    """Two handles alternate 30 times through pgbouncer, each repeating the same insert and
    select, so the driver would prepare them (default threshold: 5 runs) on server
    connections the other handle then gets.

    Figures checked: 60 inserts and 60 selects, 0 errors ("prepared statement ... does not
    exist / already exists" would be one), 60 rows.
    """
    first = mngs.db.PostgreSQL(dsn=pooled)
    second = mngs.db.PostgreSQL(dsn=pooled)
    try:
        for i in range(30):
            for n, db in enumerate((first, second)):
                db.insert("events", {"worker": n, "seq": i})
                assert db.select("events", where="worker = ? AND seq = ?", params=[n, i]) != []
                assert db.count("events", where={"worker": n}) == i + 1
    finally:
        first.close()
        second.close()
    with mngs.db.PostgreSQL(dsn=pooled) as db:
        assert db.count("events") == 60


def test_prepare_threshold_none_is_accepted(pooled: str) -> None:
    """``prepare_threshold=None`` (never prepare) is accepted and works through the pooler."""
    with mngs.db.PostgreSQL(dsn=pooled, prepare_threshold=None) as db:
        for i in range(10):
            db.insert("events", {"worker": 0, "seq": i})
        assert db.count("events") == 10


def test_transactions_through_the_pooler(pooled: str) -> None:
    """A transaction keeps one server connection: a committed block is whole, a failed block
    leaves nothing, a streamed read (server-side cursor) works."""
    with mngs.db.PostgreSQL(dsn=pooled) as db:
        with db.transaction():
            for i in range(20):
                db.insert("events", {"worker": 1, "seq": i})
        with pytest.raises(RuntimeError):
            with db.transaction():
                db.insert("events", {"worker": 2, "seq": 0})
                raise RuntimeError("abandon")
        assert db.count("events", where={"worker": 1}) == 20
        assert db.count("events", where={"worker": 2}) == 0
        assert [r["seq"] for r in db.select_iter("events", order_by="seq", batch_size=7)] == list(range(20))


@pytest.mark.slow
def test_64_worker_processes_through_the_pooler(pooled: str) -> None:
    """64 processes through pgbouncer (8 server connections): each 40 single inserts with a
    repeated select after each, then one insert_many of 10.

    Figures checked: 64 × 50 = 3,200 rows, every (worker, seq) present exactly once, 0 errors.
    """
    results = workers.run_all(
        workers.pooled_writer, [({"dsn": pooled}, w, 40) for w in range(64)], timeout=300
    )
    errors = [r["crashed"] for r in results if "crashed" in r] + [
        e for r in results for e in r.get("errors", [])
    ]
    assert errors == [], f"{len(errors)} errors, e.g. {errors[:3]}"
    with mngs.db.PostgreSQL(dsn=pooled) as db:
        rows = db.execute("SELECT worker, seq, count(*) AS n FROM events GROUP BY worker, seq")
    assert len(rows) == 64 * 50
    assert all(r["n"] == 1 for r in rows)
    assert {(r["worker"], r["seq"]) for r in rows} == {(w, s) for w in range(64) for s in range(50)}
