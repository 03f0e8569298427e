"""Reconnect after a lost connection: restarts, killed backends, a stopped server (issue 7, point 2).

Faults are injected into the throwaway cluster ``mngs_test_faulty`` (port 5443), never into the
main cluster. The property everywhere: nothing committed is lost, nothing is applied twice,
and the handle works again after the fault (``closed`` stays False).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import servers
import workers

import mngs.db

pytestmark = pytest.mark.postgresql

FAULTS = ["terminate", "kill", "restart", "stop-start"]


def _pid(db: mngs.db.Database) -> int:
    return int(db.execute("SELECT pg_backend_pid() AS pid")[0]["pid"])


def inject(cluster: servers.Cluster, pid: int, fault: str) -> None:
    """One fault against the connection whose backend is ``pid``; the server is up afterwards."""
    if fault == "terminate":
        cluster.terminate(pid)
    elif fault == "kill":  # a crashed backend: the postmaster resets every connection
        cluster.kill(pid)
        time.sleep(0.5)
        cluster.wait_ready()
    elif fault == "restart":
        cluster.restart("immediate")
    elif fault == "stop-start":
        cluster.stop("fast")
        cluster.start()
    else:
        raise ValueError(fault)


@pytest.fixture
def handle(faulty_dsn: str) -> Iterator[mngs.db.Database]:
    """A handle on the restartable cluster with table ``events`` holding 10 rows."""
    db = mngs.db.PostgreSQL(dsn=faulty_dsn)
    db.create_table("events", {"id": "SERIAL PRIMARY KEY", "worker": "INTEGER", "seq": "INTEGER"})
    db.insert_many("events", [{"worker": 0, "seq": i} for i in range(10)])
    try:
        yield db
    finally:
        db.close()


def _count(cluster: servers.Cluster, where: str = "TRUE") -> int:
    return int(cluster.scalar(f"SELECT count(*) FROM events WHERE {where}", dbname="mngs_faults"))


def test_closed_only_after_close(db: mngs.db.Database) -> None:
    """``closed`` is False on an open handle and True only once ``close()`` was called."""
    assert db.closed is False
    db.execute("SELECT 1")
    assert db.closed is False
    db.close()
    assert db.closed is True
    with pytest.raises(mngs.db.ClosedError):
        db.execute("SELECT 1")


def test_error_classes() -> None:
    """The new errors are OperationalErrors, so existing ``except OperationalError`` still works."""
    assert issubclass(mngs.db.ConnectionLostError, mngs.db.OperationalError)
    assert issubclass(mngs.db.TransactionConflict, mngs.db.OperationalError)
    assert issubclass(mngs.db.ReadOnlyError, mngs.db.OperationalError)


@pytest.mark.parametrize("fault", FAULTS)
def test_read_after_a_fault_is_retried(
    handle: mngs.db.Database, faulty_cluster: servers.Cluster, fault: str
) -> None:
    """One fault while idle, outside a transaction; then a read.

    Figures checked: 1 fault injected, 0 errors seen, the read returns all 10 rows from a new
    backend; ``closed`` stays False. Property: a lost connection is reopened transparently.
    """
    before = _pid(handle)
    inject(faulty_cluster, before, fault)
    assert len(handle.select("events")) == 10
    assert handle.closed is False
    assert _pid(handle) != before


@pytest.mark.parametrize("fault", FAULTS)
def test_write_after_a_fault_is_applied_once(
    handle: mngs.db.Database, faulty_cluster: servers.Cluster, fault: str
) -> None:
    """One fault while idle, outside a transaction; then two inserts.

    The server closed the old connection before the insert was sent, so the insert is not in
    doubt and must simply work. Figures checked: 1 fault injected, 0 errors seen, each row
    present exactly once, the 10 earlier rows intact. Property: reconnect is transparent and
    a write is never applied twice.
    """
    inject(faulty_cluster, _pid(handle), fault)
    handle.insert("events", {"worker": 1, "seq": 1})
    handle.insert("events", {"worker": 1, "seq": 2})
    assert _count(faulty_cluster, "worker = 1 AND seq = 1") == 1
    assert _count(faulty_cluster, "worker = 1 AND seq = 2") == 1
    assert _count(faulty_cluster, "worker = 0") == 10
    assert handle.closed is False


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_inside_a_transaction_loses_it_whole(
    handle: mngs.db.Database, faulty_cluster: servers.Cluster, fault: str
) -> None:
    """Inside ``with db.transaction():`` insert a row, inject a fault, insert another.

    Figures checked: ConnectionLostError raised, its message says the transaction was lost
    and nothing committed; 0 of the block's 2 rows present; the handle is out of the
    transaction and its next insert works. Property: no half-committed transaction.
    """
    with pytest.raises(mngs.db.ConnectionLostError) as caught:
        with handle.transaction():
            handle.insert("events", {"worker": 2, "seq": 1})
            inject(faulty_cluster, _pid(handle), fault)
            handle.insert("events", {"worker": 2, "seq": 2})
    message = str(caught.value).lower()
    assert "transaction" in message and "commit" in message, message
    assert not handle.in_transaction
    assert _count(faulty_cluster, "worker = 2") == 0
    handle.insert("events", {"worker": 3, "seq": 1})
    assert _count(faulty_cluster, "worker = 3") == 1
    assert handle.closed is False


def test_fault_just_before_commit(handle: mngs.db.Database, faulty_cluster: servers.Cluster) -> None:
    """The backend is terminated after the block's last statement, so COMMIT meets the dead
    connection. Figures checked: ConnectionLostError from the ``with``; 0 rows of the block
    present; the next call works."""
    with pytest.raises(mngs.db.ConnectionLostError):
        with handle.transaction():
            handle.insert("events", {"worker": 4, "seq": 1})
            faulty_cluster.terminate(_pid(handle))
    assert _count(faulty_cluster, "worker = 4") == 0
    assert len(handle.select("events")) == 10


def test_stopped_server_fails_clearly_then_recovers(
    handle: mngs.db.Database, faulty_cluster: servers.Cluster
) -> None:
    """The server is stopped: a call fails with OperationalError within 15 s (not a hang) and
    ``closed`` stays False; once the server is started again the same handle's next read
    returns all 10 rows."""
    faulty_cluster.stop("fast")
    try:
        began = time.monotonic()
        with pytest.raises(mngs.db.OperationalError):
            handle.select("events")
        assert time.monotonic() - began < 15
        assert handle.closed is False
    finally:
        faulty_cluster.start()
    assert len(handle.select("events")) == 10


def _when_sleeping(cluster: servers.Cluster, pid: int, action: Callable[[], None]) -> threading.Thread:
    """Start a thread that runs ``action`` once backend ``pid`` is inside ``pg_sleep``."""

    def watch() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if cluster.scalar("SELECT wait_event FROM pg_stat_activity WHERE pid = %s", [pid]) == "PgSleep":
                action()
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_in_flight_committed_write_is_not_repeated(
    handle: mngs.db.Database, faulty_cluster: servers.Cluster
) -> None:
    """A procedure inserts a row, COMMITs, then sleeps; its backend is terminated during the
    sleep, so the client never hears that the write took effect.

    Figures checked: 1 fault injected; ConnectionLostError raised (outcome unknown); the row
    is present exactly once (not retried); the next call works. Property: no write twice.
    """
    handle.execute(
        "CREATE PROCEDURE insert_then_sleep(w integer, s integer) LANGUAGE plpgsql AS $$ "
        "BEGIN INSERT INTO events (worker, seq) VALUES (w, s); COMMIT; PERFORM pg_sleep(5); END $$"
    )
    pid = _pid(handle)
    watcher = _when_sleeping(faulty_cluster, pid, lambda: faulty_cluster.terminate(pid))
    with pytest.raises(mngs.db.ConnectionLostError):
        handle.execute("CALL insert_then_sleep(?, ?)", [5, 1])
    watcher.join(20)
    assert _count(faulty_cluster, "worker = 5") == 1
    assert len(handle.select("events")) == 11


def test_in_flight_write_is_not_retried(handle: mngs.db.Database, faulty_cluster: servers.Cluster) -> None:
    """An INSERT ... SELECT that sleeps is terminated mid-statement (so it was rolled back).

    Figures checked: ConnectionLostError raised; the row is present 0 times — the library
    did not resend a write it had sent; the next call works."""
    pid = _pid(handle)
    watcher = _when_sleeping(faulty_cluster, pid, lambda: faulty_cluster.terminate(pid))
    with pytest.raises(mngs.db.ConnectionLostError):
        handle.execute("INSERT INTO events (worker, seq) SELECT 6, 1 FROM pg_sleep(3)")
    watcher.join(20)
    assert _count(faulty_cluster, "worker = 6") == 0
    handle.insert("events", {"worker": 6, "seq": 2})
    assert _count(faulty_cluster, "worker = 6") == 1


def test_in_flight_read_is_retried(handle: mngs.db.Database, faulty_cluster: servers.Cluster) -> None:
    """A read (``SELECT ... pg_sleep``) whose backend is terminated mid-statement is rerun on a
    new connection and returns its result: 1 fault injected, 0 errors seen."""
    pid = _pid(handle)
    watcher = _when_sleeping(faulty_cluster, pid, lambda: faulty_cluster.terminate(pid))
    rows = handle.execute("SELECT count(*) AS n FROM events, pg_sleep(1)")
    watcher.join(20)
    assert rows == [{"n": 10}]
    assert _pid(handle) != pid


def test_twenty_faults_in_a_row(handle: mngs.db.Database, faulty_cluster: servers.Cluster) -> None:
    """20 terminations of the handle's idle backend, each followed by a count and an insert.

    Figures checked: 20 faults injected, 20 counts right, 20 inserts done, each row present
    once; 0 errors seen."""
    for i in range(20):
        faulty_cluster.terminate(_pid(handle))
        assert handle.count("events", where={"worker": 0}) == 10
        faulty_cluster.terminate(_pid(handle))
        handle.insert("events", {"worker": 7, "seq": i})
    rows = faulty_cluster.scalar(
        "SELECT count(DISTINCT seq) FILTER (WHERE n = 1) FROM "
        "(SELECT seq, count(*) AS n FROM events WHERE worker = 7 GROUP BY seq) d",
        dbname="mngs_faults",
    )
    assert rows == 20
    assert _count(faulty_cluster, "worker = 7") == 20


@pytest.mark.slow
def test_writers_survive_repeated_terminations(faulty_cluster: servers.Cluster, faulty_dsn: str) -> None:
    """4 processes × 300 single inserts (10 ms apart, about 3 s) while every backend of the
    database is terminated 15 times, 0.2 s apart, from the moment the first row appears.

    Figures checked: faults injected (backends terminated) > 0; every insert that returned is
    present exactly once; every insert that raised ConnectionLostError is present at most
    once; no other rows; errors other than ConnectionLostError == 0. Property: nothing
    acknowledged is lost, nothing applied twice.
    """
    with mngs.db.PostgreSQL(dsn=faulty_dsn) as db:
        db.create_table("events", {"id": "SERIAL PRIMARY KEY", "worker": "INTEGER", "seq": "INTEGER"})
    spec = {"dsn": faulty_dsn}
    terminated = []
    done = threading.Event()

    def chaos() -> None:
        while not done.is_set() and not _count(faulty_cluster):
            time.sleep(0.05)
        for _ in range(15):
            if done.is_set():
                return
            terminated.append(faulty_cluster.terminate_all("mngs_faults"))
            time.sleep(0.2)

    thread = threading.Thread(target=chaos, daemon=True)
    thread.start()
    try:
        results = workers.run_all(
            workers.single_inserts, [(spec, w, 300) for w in range(4)], timeout=240, pause=0.01
        )
    finally:
        done.set()
        thread.join(30)
    with faulty_cluster.connect("mngs_faults") as conn:
        present: dict[tuple[int, int], int] = {}
        for worker, seq, n in conn.execute("SELECT worker, seq, count(*) FROM events GROUP BY 1, 2"):
            present[(worker, seq)] = n
    crashed = [r["crashed"] for r in results if "crashed" in r]
    assert crashed == []
    other_errors = [e for r in results for e in r["errors"] if not e.startswith("ConnectionLostError")]
    assert sum(terminated) > 0
    assert other_errors == [], f"{len(other_errors)} errors: {other_errors[:3]}"
    for r in results:
        for seq in r["ok"]:
            assert present.get((r["worker"], seq)) == 1, (r["worker"], seq)
        for seq in r["lost"]:
            assert present.get((r["worker"], seq), 0) <= 1
    expected = {(r["worker"], s) for r in results for s in r["ok"] + r["lost"]}
    assert set(present) <= expected
