"""A primary with a streaming standby: failover through a multi-host DSN, read-only handles
(issue 7, point 6)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import servers

import mngs.db

pytestmark = pytest.mark.postgresql


def _port(db: mngs.db.Database) -> int:
    return int(db.execute("SELECT inet_server_port() AS port")[0]["port"])


@pytest.fixture
def writer(replica_pair: servers.ReplicaPair) -> Iterator[mngs.db.Database]:
    """A handle through ``host=p,s port=5441,5442 target_session_attrs=read-write`` with table
    ``events`` holding 100 committed rows, replayed on the standby."""
    db = mngs.db.PostgreSQL(dsn=replica_pair.multi_host_dsn())
    db.drop_table("events")
    db.create_table("events", {"id": "SERIAL PRIMARY KEY", "seq": "INTEGER"})
    db.insert_many("events", [{"seq": i} for i in range(100)])
    servers.wait_replayed(replica_pair.primary, replica_pair.standby)
    try:
        yield db
    finally:
        db.close()


def _fail_over(pair: servers.ReplicaPair) -> None:
    pair.primary.stop("fast")
    pair.standby.promote()


def test_failover_next_read_runs_on_the_new_primary(
    writer: mngs.db.Database, replica_pair: servers.ReplicaPair
) -> None:
    """Stop the primary, promote the standby; the same handle's next call (a read) succeeds.

    Figures checked: 1 failover; the read returns all 100 committed rows from port 5442; a
    write then lands there too (101 rows, the server out of recovery); 0 errors seen.
    Property: no committed row lost, the handle follows the primary.
    """
    assert _port(writer) == servers.PRIMARY_PORT
    _fail_over(replica_pair)
    assert writer.count("events") == 100
    assert _port(writer) == servers.STANDBY_PORT
    writer.insert("events", {"seq": 100})
    assert replica_pair.standby.scalar("SELECT count(*) FROM events") == 101
    assert replica_pair.standby.in_recovery() is False
    assert writer.closed is False


def test_failover_next_write_runs_on_the_new_primary(
    writer: mngs.db.Database, replica_pair: servers.ReplicaPair
) -> None:
    """Same failover; the next call is an insert. The old connection was closed by the
    server before the insert was sent, so the insert is not in doubt: it succeeds.

    Figures checked: the row is on the new primary exactly once, next to the 100 earlier ones.
    """
    _fail_over(replica_pair)
    writer.insert("events", {"seq": 100})
    assert replica_pair.standby.scalar("SELECT count(*) FROM events WHERE seq = 100") == 1
    assert replica_pair.standby.scalar("SELECT count(*) FROM events") == 101


def test_failover_inside_a_transaction(writer: mngs.db.Database, replica_pair: servers.ReplicaPair) -> None:
    """A failover in the middle of ``with db.transaction():``: ConnectionLostError, none of the
    block committed anywhere; the handle's next call runs on the new primary."""
    with pytest.raises(mngs.db.ConnectionLostError):
        with writer.transaction():
            writer.insert("events", {"seq": -1})
            _fail_over(replica_pair)
            writer.insert("events", {"seq": -2})
    assert writer.count("events", where="seq < 0") == 0
    assert writer.count("events") == 100
    assert _port(writer) == servers.STANDBY_PORT


@pytest.mark.slow
def test_writer_across_a_failover_loses_no_acknowledged_row(
    writer: mngs.db.Database, replica_pair: servers.ReplicaPair
) -> None:
    """A thread inserts rows one by one, before, during and after a failover (primary stopped,
    1 s with no primary, standby promoted), for about 5 s.

    Figures checked: every acknowledged insert is on the new primary exactly once; only
    OperationalErrors were seen, and only while there was no primary; inserts were
    acknowledged after the promotion. Property: nothing acknowledged lost, nothing twice.
    """
    acked: list[int] = []
    failed: list[tuple[int, float, str]] = []
    stop = threading.Event()

    def write() -> None:
        seq = 1000
        while not stop.is_set():
            seq += 1
            try:
                writer.insert("events", {"seq": seq})
                acked.append(seq)
            except mngs.db.OperationalError as exc:
                failed.append((seq, time.monotonic(), type(exc).__name__))
                time.sleep(0.05)
            time.sleep(0.01)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    time.sleep(1.0)
    outage_began = time.monotonic()
    replica_pair.primary.stop("fast")
    time.sleep(1.0)
    replica_pair.standby.promote()
    outage_ended = time.monotonic()
    acked_before_promotion = len(acked)
    time.sleep(3.0)
    stop.set()
    thread.join(30)
    assert not thread.is_alive()
    with replica_pair.standby.connect() as conn:
        present = dict(
            conn.execute("SELECT seq, count(*) FROM events WHERE seq > 1000 GROUP BY seq").fetchall()
        )
    assert all(present.get(seq) == 1 for seq in acked), "an acknowledged row is missing or twice"
    assert all(n == 1 for n in present.values())
    assert set(present) <= set(acked) | {seq for seq, _, _ in failed}
    assert all(outage_began - 0.5 <= t <= outage_ended + 5 for _, t, _ in failed), failed
    assert len(acked) > acked_before_promotion, "no insert succeeded after the promotion"


def test_read_only_handle_on_the_standby_refuses_writes(replica_pair: servers.ReplicaPair) -> None:
    """``read_only=True`` with ``target_session_attrs=prefer-standby`` reads from the standby
    and refuses every kind of write with ReadOnlyError (an OperationalError); the primary is
    unchanged and the handle still reads afterwards."""
    with mngs.db.PostgreSQL(dsn=replica_pair.primary.dsn()) as primary:
        primary.drop_table("events")
        primary.create_table("events", {"id": "SERIAL PRIMARY KEY", "seq": "INTEGER"})
        primary.insert_many("events", [{"seq": i} for i in range(10)])
    servers.wait_replayed(replica_pair.primary, replica_pair.standby)
    reader = mngs.db.PostgreSQL(dsn=replica_pair.multi_host_dsn(attrs="prefer-standby"), read_only=True)
    try:
        assert _port(reader) == servers.STANDBY_PORT
        assert len(reader.select("events")) == 10
        attempts = [
            lambda: reader.insert("events", {"seq": 99}),
            lambda: reader.insert_many("events", [{"seq": 99}]),
            lambda: reader.update("events", {"seq": 0}, where={"seq": 1}),
            lambda: reader.delete("events", where={"seq": 1}),
            lambda: reader.execute("INSERT INTO events (seq) VALUES (99)"),
            lambda: reader.create_table("other", {"id": "INTEGER"}),
        ]
        for attempt in attempts:
            with pytest.raises(mngs.db.ReadOnlyError):
                attempt()
        assert reader.count("events") == 10
    finally:
        reader.close()
    assert replica_pair.primary.scalar("SELECT count(*) FROM events") == 10


def test_read_only_handle_on_a_primary_refuses_writes(pg_db: mngs.db.Database, pg_dsn: str) -> None:
    """``read_only=True`` on a writable server: reads work, writes (also inside a transaction)
    raise ReadOnlyError naming the problem, and the table is unchanged."""
    pg_db.create_table("t", {"id": "INTEGER PRIMARY KEY"})
    pg_db.insert("t", {"id": 1})
    schema = pg_db.execute("SELECT current_schema() AS s")[0]["s"]
    reader = mngs.db.PostgreSQL(dsn=pg_dsn, read_only=True, options=f"-c search_path={schema}")
    try:
        assert reader.select("t") == [{"id": 1}]
        with pytest.raises(mngs.db.ReadOnlyError, match="read-only|read only"):
            reader.insert("t", {"id": 2})
        with pytest.raises(mngs.db.ReadOnlyError):
            with reader.transaction():
                reader.update("t", {"id": 3}, where={"id": 1})
        assert not reader.in_transaction
        assert reader.count("t") == 1
    finally:
        reader.close()
    assert pg_db.select("t") == [{"id": 1}]
