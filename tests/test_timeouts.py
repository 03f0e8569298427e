"""Bounded waits: connect timeout, statement timeout, a stalled backend, SQLite's lock timeout
(issue 7, point 3)."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import servers

import mngs.db


@pytest.fixture
def silent_server() -> Iterator[servers.Listener]:
    """A TCP port on 127.0.0.1 that accepts connections and never says a word."""
    listener = servers.Listener()
    try:
        yield listener
    finally:
        listener.close()


def _timed(
    call: Callable[[], Any], limit: float, release: Callable[[], None]
) -> tuple[float, BaseException | None, Any]:
    """Run ``call`` in a thread; return (seconds taken, exception raised, value). When it is still
    running after ``limit`` seconds, ``release`` unblocks it and the test fails: no test hangs."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        began = time.monotonic()
        try:
            outcome["value"] = call()
        except BaseException as exc:
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - began

    thread = threading.Thread(target=target, daemon=True)
    began = time.monotonic()
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        release()
        thread.join(30)
        pytest.fail(f"the call was still waiting after {limit:.0f} s (released by the test)")
    assert time.monotonic() - began < limit
    return outcome["seconds"], outcome.get("error"), outcome.get("value")


def test_connect_timeout_against_a_silent_server(silent_server: servers.Listener) -> None:
    """``connect_timeout=2`` against a server that accepts TCP and never answers: an
    OperationalError within 2 + 2 s (figure: seconds to fail)."""
    dsn = f"host=127.0.0.1 port={silent_server.port} dbname=test user=postgres"
    seconds, error, _ = _timed(
        lambda: mngs.db.PostgreSQL(dsn=dsn, connect_timeout=2), 15, silent_server.close
    )
    assert isinstance(error, mngs.db.OperationalError), error
    assert seconds < 4, f"took {seconds:.1f} s to fail"


def test_default_connect_timeout_is_about_10_s(silent_server: servers.Listener) -> None:
    """Without ``connect_timeout`` the wait is bounded by the default (about 10 s), not
    psycopg's 130 s: an OperationalError within 10 + 3 s."""
    dsn = f"host=127.0.0.1 port={silent_server.port} dbname=test user=postgres"
    seconds, error, _ = _timed(lambda: mngs.db.PostgreSQL(dsn=dsn), 20, silent_server.close)
    assert isinstance(error, mngs.db.OperationalError), error
    assert 5 < seconds < 13, f"took {seconds:.1f} s to fail"


def test_connect_timeout_error_names_no_password(silent_server: servers.Listener) -> None:
    """The timeout error is clear and never shows the password."""
    dsn = f"host=127.0.0.1 port={silent_server.port} dbname=test user=postgres password=s3cr3t-pw"
    _, error, _ = _timed(lambda: mngs.db.PostgreSQL(dsn=dsn, connect_timeout=1), 15, silent_server.close)
    assert isinstance(error, mngs.db.OperationalError), error
    assert "s3cr3t-pw" not in str(error)


@pytest.mark.postgresql
def test_statement_timeout_bounds_a_long_query(pg_dsn: str) -> None:
    """``statement_timeout=1`` (seconds): ``SELECT pg_sleep(30)`` fails with OperationalError
    within 1 + 2 s; the handle then works, and outside its bound a short query is fine."""
    db = mngs.db.PostgreSQL(dsn=pg_dsn, statement_timeout=1)
    try:
        began = time.monotonic()
        with pytest.raises(mngs.db.OperationalError):
            db.execute("SELECT pg_sleep(30)")
        assert time.monotonic() - began < 3
        assert db.execute("SELECT pg_sleep(0.2), 1 AS one")[0]["one"] == 1
    finally:
        db.close()


@pytest.mark.postgresql
def test_statement_timeout_inside_a_transaction_keeps_it_usable(pg_db: mngs.db.Database, pg_dsn: str) -> None:
    """A statement that times out inside ``with db.transaction():`` undoes only itself: the
    transaction goes on and commits the rest (the transaction policy)."""
    schema = pg_db.execute("SELECT current_schema() AS s")[0]["s"]
    db = mngs.db.PostgreSQL(dsn=pg_dsn, statement_timeout=1, options=f"-c search_path={schema}")
    try:
        db.create_table("t", {"id": "INTEGER PRIMARY KEY"})
        with db.transaction():
            db.insert("t", {"id": 1})
            with pytest.raises(mngs.db.OperationalError):
                db.execute("SELECT pg_sleep(30)")
            db.insert("t", {"id": 2})
        assert db.select("t", order_by="id") == [{"id": 1}, {"id": 2}]
    finally:
        db.close()


@pytest.mark.postgresql
def test_no_statement_timeout_by_default(pg_db: mngs.db.Database) -> None:
    """Without ``statement_timeout`` the server's own setting applies (0: none)."""
    assert pg_db.execute("SHOW statement_timeout")[0]["statement_timeout"] == "0"


@pytest.mark.postgresql
def test_stalled_backend_does_not_hang_a_read(faulty_cluster: servers.Cluster, faulty_dsn: str) -> None:
    """The handle's backend is frozen with SIGSTOP (the server accepts bytes, never answers).
    With ``statement_timeout=2`` a read returns within 2 + 10 s: its rows (rerun on a new
    connection) or an OperationalError — never a hang. Figures: 1 stall, seconds to return."""
    db = mngs.db.PostgreSQL(dsn=faulty_dsn, statement_timeout=2)
    try:
        pid = int(db.execute("SELECT pg_backend_pid() AS pid")[0]["pid"])
        with faulty_cluster.stalled(pid):
            seconds, error, value = _timed(
                lambda: db.execute("SELECT 1 AS one"), 20, lambda: os.kill(pid, signal.SIGCONT)
            )
        assert error is None and value == [{"one": 1}] or isinstance(error, mngs.db.OperationalError), error
        assert seconds < 12, f"took {seconds:.1f} s"
        assert db.execute("SELECT 2 AS two") == [{"two": 2}]
    finally:
        db.close()


@pytest.mark.postgresql
def test_stalled_backend_write_fails_in_doubt(faulty_cluster: servers.Cluster, faulty_dsn: str) -> None:
    """An insert sent to a frozen backend: with ``statement_timeout=2`` it raises
    ConnectionLostError (its outcome is unknown) within 2 + 10 s. Once the backend runs again
    the row is present at most once — the library did not resend it — and the handle works."""
    db = mngs.db.PostgreSQL(dsn=faulty_dsn, statement_timeout=2)
    try:
        db.create_table("t", {"id": "SERIAL PRIMARY KEY", "v": "INTEGER"})
        db.insert("t", {"v": 0})  # warm: the next insert sends nothing but the INSERT itself
        pid = int(db.execute("SELECT pg_backend_pid() AS pid")[0]["pid"])
        with faulty_cluster.stalled(pid):
            seconds, error, _ = _timed(
                lambda: db.insert("t", {"v": 1}), 20, lambda: os.kill(pid, signal.SIGCONT)
            )
        assert isinstance(error, mngs.db.ConnectionLostError), error
        assert seconds < 12, f"took {seconds:.1f} s"
        time.sleep(1.0)  # the thawed backend may still run what it had received
        db.insert("t", {"v": 2})
        assert db.count("t", where={"v": 1}) <= 1
        assert db.count("t", where={"v": 2}) == 1
    finally:
        db.close()


def test_sqlite_lock_wait_is_bounded_by_timeout(tmp_path: Path) -> None:
    """Another connection holds the write lock: ``SQLite3(path, timeout=0.5)``'s insert fails
    with OperationalError after about 0.5 s (under 3 s), and works once the lock is gone."""
    path = tmp_path / "locked.db"
    with mngs.db.SQLite3(path) as setup:
        setup.create_table("t", {"id": "INTEGER PRIMARY KEY"})
    db = mngs.db.SQLite3(path, timeout=0.5)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        began = time.monotonic()
        with pytest.raises(mngs.db.OperationalError, match="locked"):
            db.insert("t", {"id": 1})
        seconds = time.monotonic() - began
        assert 0.3 < seconds < 3, f"took {seconds:.2f} s"
        holder.execute("ROLLBACK")
        db.insert("t", {"id": 1})
        assert db.select("t") == [{"id": 1}]
    finally:
        holder.close()
        db.close()
