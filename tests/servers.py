"""Throwaway PostgreSQL 15 clusters, a streaming standby and pgbouncer for the reliability tests.

Loaded as a pytest plugin by ``tests/conftest.py``. Every server here is created by the tests
on its own port and removed afterwards; the main cluster on port 5432 is never touched.

- ``faulty_cluster`` (session): ``mngs_test_faulty`` on port 5443, a cluster the tests may
  restart, stop, kill backends of, or stall (SIGSTOP). Each test gets it running again.
- ``replica_pair`` (function-scoped view of a session pair): primary ``mngs_test_primary`` on
  5441 and a streaming standby ``mngs_test_standby`` on 5442, made once with
  ``pg_basebackup -R``; after a test promoted or broke it, both data directories are copied
  back from a pristine stopped copy (seconds, not a new base backup).
- ``pgbouncer`` (session): pgbouncer in transaction-pooling mode on 6441 in front of the faulty
  cluster's database ``mngs_pool`` (installed with ``apt-get`` when missing).

Cluster-level commands run as root (``pg_ctlcluster`` switches to the ``postgres`` user). A
cluster of the same name left by a killed earlier run is dropped first; so is a pgbouncer left
on 6441 by one (found by its pid file). Without the Debian PostgreSQL tools these tests skip,
or fail under ``--require-pg`` / ``MNGS_REQUIRE_PG=1``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

VERSION = "15"
PRIMARY_PORT = 5441
STANDBY_PORT = 5442
FAULTY_PORT = 5443
PGBOUNCER_PORT = 6441
MAIN_PORT = 5432  # never restarted, stopped or reconfigured here
CLUSTER_PREFIX = "mngs_test_"
POOL_DB = "mngs_pool"

_CONF = """\
# written by mngs.db tests/servers.py
listen_addresses = '127.0.0.1'
port = {port}
ssl = off
fsync = off
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
max_connections = 200
shared_buffers = 32MB
log_min_messages = warning
"""

_HBA = """\
# written by mngs.db tests/servers.py: trust on 127.0.0.1 and the local socket
local   all             all                     trust
host    all             all     127.0.0.1/32    trust
local   replication     all                     trust
host    replication     all     127.0.0.1/32    trust
"""


def _run(*argv: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output; on failure raise with that output shown."""
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def tools_missing() -> str | None:
    """Why clusters cannot be made here (a missing tool, not root), or None."""
    for tool in ("pg_createcluster", "pg_ctlcluster", "pg_dropcluster", "pg_lsclusters", "pg_basebackup"):
        if shutil.which(tool) is None:
            return f"{tool} not found (Debian's postgresql-common and postgresql-{VERSION})"
    if os.geteuid() != 0:
        return "creating PostgreSQL clusters needs root"
    return None


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def clusters() -> dict[str, str]:
    """The clusters of this PostgreSQL version: name → status ("online", "down", ...)."""
    out = _run("pg_lsclusters", "--no-header", check=False).stdout
    found = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0] == VERSION:
            found[fields[1]] = fields[3]
    return found


def drop_stale_clusters() -> list[str]:
    """Drop every ``mngs_test_*`` cluster (leftovers of a killed run); return their names."""
    stale = [name for name in clusters() if name.startswith(CLUSTER_PREFIX)]
    for name in stale:
        _run("pg_dropcluster", "--stop", VERSION, name, check=False)
    shutil.rmtree(ReplicaPair.PRISTINE, ignore_errors=True)
    return stale


def _connect(dsn: str, **kwargs: Any) -> Any:
    import psycopg

    return psycopg.connect(dsn, autocommit=True, connect_timeout=5, **kwargs)


class Cluster:
    """One throwaway cluster ``NAME`` on ``port``, owned by the test run."""

    def __init__(self, name: str, port: int) -> None:
        if not name.startswith(CLUSTER_PREFIX) or port == MAIN_PORT:
            raise ValueError(f"refusing to manage cluster {name!r} on port {port}")
        self.name = name
        self.port = port
        self.confdir = Path(f"/etc/postgresql/{VERSION}/{name}")
        self.datadir = Path(f"/var/lib/postgresql/{VERSION}/{name}")

    def __repr__(self) -> str:
        return f"<Cluster {self.name} :{self.port}>"

    # -- life cycle --------------------------------------------------------------------
    def create(self) -> Cluster:
        """Create the cluster afresh (dropping a leftover of the same name) and configure it;
        it is not started."""
        if self.name in clusters():
            _run("pg_dropcluster", "--stop", VERSION, self.name)
        _run(
            "pg_createcluster",
            VERSION,
            self.name,
            "--port",
            str(self.port),
            "--start-conf",
            "manual",
            "--",
            "--auth=trust",
            "--no-sync",
        )
        (self.confdir / "conf.d" / "mngs_test.conf").write_text(_CONF.format(port=self.port))
        (self.confdir / "pg_hba.conf").write_text(_HBA)
        return self

    def ctl(self, action: str, *options: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run(
            "pg_ctlcluster", "--skip-systemctl-redirect", VERSION, self.name, action, *options, check=check
        )

    def start(self) -> None:
        if not self.running():
            self.ctl("start")
        self.wait_ready()

    def stop(self, mode: str = "fast") -> None:
        """Stop the cluster (``fast``: clients are disconnected; ``immediate``: no checkpoint)."""
        if self.running():
            self.ctl("stop", "-m", mode)

    def restart(self, mode: str = "immediate") -> None:
        """Restart; ``immediate`` is the closest to a crash that still leaves the data intact."""
        self.ctl("restart", "-m", mode)
        self.wait_ready()

    def drop(self) -> None:
        _run("pg_dropcluster", "--stop", VERSION, self.name, check=False)

    def running(self) -> bool:
        return clusters().get(self.name, "").startswith("online")

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with _connect(self.dsn()) as conn:
                    conn.execute("SELECT 1")
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    # -- connections -------------------------------------------------------------------
    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user=postgres"

    def connect(self, dbname: str = "postgres") -> Any:
        """A plain psycopg connection in autocommit mode, for the test's own checks."""
        return _connect(self.dsn(dbname))

    def scalar(self, sql: str, params: Any = None, dbname: str = "postgres") -> Any:
        with self.connect(dbname) as conn:
            row = conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def in_recovery(self) -> bool:
        return bool(self.scalar("SELECT pg_is_in_recovery()"))

    def create_database(self, dbname: str) -> str:
        """(Re)create database ``dbname``; return its DSN."""
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        return self.dsn(dbname)

    # -- faults ------------------------------------------------------------------------
    def terminate(self, pid: int) -> None:
        """Kill one backend the way an operator does: ``pg_terminate_backend`` (SIGTERM)."""
        if not self.scalar("SELECT pg_terminate_backend(%s, 5000)", [pid]):
            raise RuntimeError(f"backend {pid} of {self} was not terminated")

    def terminate_all(self, dbname: str) -> int:
        """Terminate every other client backend of ``dbname``; return how many."""
        return int(
            self.scalar(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
                [dbname],
            )
        )

    def kill(self, pid: int) -> None:
        """SIGKILL one backend: the postmaster then resets every connection (a crash)."""
        os.kill(pid, signal.SIGKILL)

    @contextlib.contextmanager
    def stalled(self, pid: int) -> Iterator[None]:
        """SIGSTOP a backend for the block: the server accepts bytes but never answers."""
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)

    def promote(self) -> None:
        """Promote a standby and wait until it accepts writes."""
        self.ctl("promote")
        deadline = time.monotonic() + 30
        while self.in_recovery():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self} still in recovery 30 s after promote")
            time.sleep(0.1)


def make_standby(primary: Cluster, standby: Cluster) -> None:
    """Turn ``standby`` (created, stopped) into a streaming standby of ``primary``: its data
    directory is replaced by ``pg_basebackup -R`` of the primary, then it is started."""
    standby.stop()
    shutil.rmtree(standby.datadir)
    standby.datadir.mkdir(mode=0o700)
    shutil.chown(standby.datadir, "postgres", "postgres")
    _run(
        "runuser",
        "-u",
        "postgres",
        "--",
        "pg_basebackup",
        "-h",
        "127.0.0.1",
        "-p",
        str(primary.port),
        "-U",
        "postgres",
        "-D",
        str(standby.datadir),
        "-R",
        "-X",
        "stream",
        "-c",
        "fast",
    )
    standby.start()
    deadline = time.monotonic() + 30
    while not primary.scalar("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{standby} is not streaming from {primary} after 30 s")
        time.sleep(0.1)


def wait_replayed(primary: Cluster, standby: Cluster, timeout: float = 30) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    lsn = primary.scalar("SELECT pg_current_wal_lsn()::text")
    deadline = time.monotonic() + timeout
    while not standby.scalar("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn]):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{standby} has not replayed {lsn} after {timeout} s")
        time.sleep(0.05)


class ReplicaPair:
    """A primary and its streaming standby. After the first build both data directories are
    kept (stopped, consistent) in ``PRISTINE``; ``reset()`` copies them back in a second or
    two, instead of a new ``pg_basebackup``, after a test promoted the standby."""

    PRISTINE = Path(tempfile.gettempdir()) / "mngs_test_pristine"

    def __init__(self) -> None:
        self.primary = Cluster(f"{CLUSTER_PREFIX}primary", PRIMARY_PORT)
        self.standby = Cluster(f"{CLUSTER_PREFIX}standby", STANDBY_PORT)
        self.fresh = False

    def build(self) -> None:
        shutil.rmtree(self.PRISTINE, ignore_errors=True)
        self.primary.create().start()
        self.standby.create()
        make_standby(self.primary, self.standby)
        self.primary.stop("fast")  # the standby receives everything up to the shutdown checkpoint
        self.standby.stop("fast")
        self.PRISTINE.mkdir(parents=True)
        for cluster in (self.primary, self.standby):
            _run("cp", "-a", str(cluster.datadir), str(self.PRISTINE / cluster.name))
        self._start()

    def reset(self) -> None:
        """Back to the pristine pair: primary writable, standby streaming from it."""
        if not (self.PRISTINE / self.primary.name).exists():
            self.build()
            return
        for cluster in (self.standby, self.primary):
            cluster.stop("immediate")
            shutil.rmtree(cluster.datadir)
            _run("cp", "-a", str(self.PRISTINE / cluster.name), str(cluster.datadir))
        self._start()

    def _start(self) -> None:
        self.primary.start()
        self.standby.start()
        deadline = time.monotonic() + 30
        while not self.primary.scalar("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.standby} is not streaming from {self.primary} after 30 s")
            time.sleep(0.1)
        self.fresh = True

    def healthy(self) -> bool:
        try:
            return (
                self.primary.running()
                and self.standby.running()
                and not self.primary.in_recovery()
                and self.standby.in_recovery()
            )
        except Exception:
            return False

    def multi_host_dsn(self, dbname: str = "postgres", attrs: str = "read-write") -> str:
        return (
            f"host=127.0.0.1,127.0.0.1 port={self.primary.port},{self.standby.port} "
            f"dbname={dbname} user=postgres target_session_attrs={attrs}"
        )

    def drop(self) -> None:
        self.standby.drop()
        self.primary.drop()
        shutil.rmtree(self.PRISTINE, ignore_errors=True)


class Listener:
    """A TCP socket on 127.0.0.1 that accepts connections and never answers (a hung server)."""

    def __init__(self) -> None:
        import threading

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._closing = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._sock.settimeout(0.1)  # so close() is noticed at once
        while not self._closing:
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(conn)  # held open, never read, never written

    def close(self) -> None:
        """Close every accepted connection (a client still waiting then sees EOF) and stop."""
        self._closing = True
        self._thread.join(5)
        for conn in self.accepted:
            conn.close()
        self._sock.close()


# -- pgbouncer ---------------------------------------------------------------------------
_PGBOUNCER_INI = """\
[databases]
{dbname} = host=127.0.0.1 port={server_port} dbname={dbname} user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {dir}/userlist.txt
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 400
max_db_connections = {pool_size}
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile = {dir}/pgbouncer.log
pidfile = {dir}/pgbouncer.pid
admin_users = postgres
"""


def ensure_pgbouncer_installed() -> str | None:
    """The pgbouncer binary, installing the Debian package when missing; None if impossible."""
    found = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for argv in (
            ["apt-get", "install", "-y", "-qq", "pgbouncer"],
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "pgbouncer"],
        ):
            result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
            if argv[1] == "install" and result.returncode == 0:
                break
    return shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )


class PgBouncer:
    """pgbouncer in transaction-pooling mode, run as a subprocess (as user postgres: it refuses
    root) with its own ini, userlist and log in a directory of its own."""

    RUN_DIR = Path(tempfile.gettempdir()) / "mngs_test_pgbouncer"

    def __init__(
        self, binary: str, server: Cluster, dbname: str, port: int = PGBOUNCER_PORT, pool_size: int = 8
    ) -> None:
        self.binary = binary
        self.server = server
        self.dbname = dbname
        self.port = port
        self.pool_size = pool_size
        self.dir = self.RUN_DIR
        self.process: subprocess.Popen[bytes] | None = None

    def _kill_leftover(self) -> None:
        pidfile = self.dir / "pgbouncer.pid"
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            pid = int(pidfile.read_text().strip())
            if "pgbouncer" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                os.kill(pid, signal.SIGTERM)
                for _ in range(50):
                    if not Path(f"/proc/{pid}").exists():
                        break
                    time.sleep(0.1)

    def start(self) -> None:
        self._kill_leftover()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        (self.dir / "userlist.txt").write_text('"postgres" ""\n')
        ini = self.dir / "pgbouncer.ini"
        ini.write_text(
            _PGBOUNCER_INI.format(
                dbname=self.dbname,
                server_port=self.server.port,
                port=self.port,
                dir=self.dir,
                pool_size=self.pool_size,
            )
        )
        shutil.chown(self.dir, "postgres", "postgres")
        for path in self.dir.iterdir():
            shutil.chown(path, "postgres", "postgres")
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is taken: cannot start pgbouncer there")
        self.process = subprocess.Popen(
            ["runuser", "-u", "postgres", "--", self.binary, str(ini)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with _connect(self.dsn(), prepare_threshold=None) as conn:
                    conn.execute("SELECT 1")
                return
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (
                        (self.dir / "pgbouncer.log").read_text()
                        if (self.dir / "pgbouncer.log").exists()
                        else ""
                    )
                    self.stop()
                    raise RuntimeError(f"pgbouncer did not start on {self.port}:\n{log[-2000:]}") from None
                time.sleep(0.2)

    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} dbname={self.dbname} user=postgres"

    def reconnect_servers(self) -> None:
        """Close every server connection once released (admin ``RECONNECT``), so one test's
        session state (prepared statements) cannot leak into the next through the pool."""
        admin = f"host=127.0.0.1 port={self.port} dbname=pgbouncer user=postgres"
        with _connect(admin, prepare_threshold=None) as conn:
            conn.execute(f"RECONNECT {self.dbname}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # runuser passes SIGTERM on to pgbouncer
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._kill_leftover()
        shutil.rmtree(self.dir, ignore_errors=True)


# -- fixtures ----------------------------------------------------------------------------
def _unavailable(request: pytest.FixtureRequest, reason: str) -> None:
    from conftest import _pg_required

    if _pg_required(request.config):
        pytest.fail(f"{reason}; required by --require-pg / MNGS_REQUIRE_PG", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def _cluster_tools(request: pytest.FixtureRequest) -> None:
    """Skip (or fail under --require-pg) without the tools; drop leftovers of earlier runs."""
    missing = tools_missing()
    if missing:
        _unavailable(request, f"throwaway PostgreSQL clusters unavailable: {missing}")
    drop_stale_clusters()


@pytest.fixture(scope="session")
def _faulty_cluster_session(_cluster_tools: None) -> Iterator[Cluster]:
    cluster = Cluster(f"{CLUSTER_PREFIX}faulty", FAULTY_PORT)
    cluster.create().start()
    try:
        yield cluster
    finally:
        cluster.drop()


@pytest.fixture
def faulty_cluster(_faulty_cluster_session: Cluster) -> Cluster:
    """The restartable cluster, running (an earlier test may have stopped it)."""
    _faulty_cluster_session.start()
    return _faulty_cluster_session


@pytest.fixture
def faulty_dsn(faulty_cluster: Cluster) -> str:
    """DSN of a fresh database ``mngs_faults`` on the restartable cluster, for one test."""
    return faulty_cluster.create_database("mngs_faults")


@pytest.fixture(scope="session")
def _replica_pair_session(_cluster_tools: None) -> Iterator[ReplicaPair]:
    pair = ReplicaPair()
    pair.build()
    try:
        yield pair
    finally:
        pair.drop()


@pytest.fixture
def replica_pair(_replica_pair_session: ReplicaPair) -> ReplicaPair:
    """A primary with a streaming standby; rebuilt when an earlier test promoted or broke it."""
    pair = _replica_pair_session
    if not pair.fresh and not pair.healthy():
        pair.reset()
    pair.fresh = False
    return pair


@pytest.fixture(scope="session")
def pgbouncer(request: pytest.FixtureRequest, _faulty_cluster_session: Cluster) -> Iterator[PgBouncer]:
    """pgbouncer (transaction pooling, 8 server connections) on 6441 in front of the
    restartable cluster's database ``mngs_pool``."""
    binary = ensure_pgbouncer_installed()
    if binary is None:
        _unavailable(
            request, "pgbouncer not installed and could not be installed (apt-get install pgbouncer)"
        )
    _faulty_cluster_session.start()
    _faulty_cluster_session.create_database(POOL_DB)
    bouncer = PgBouncer(binary, _faulty_cluster_session, POOL_DB)  # type: ignore[arg-type]
    bouncer.start()
    try:
        yield bouncer
    finally:
        bouncer.stop()


@pytest.fixture
def worker_spec(db: Any, request: pytest.FixtureRequest) -> dict[str, Any]:
    """How a worker process opens its own handle to ``db``'s database (same file or schema)."""
    if db.backend == "sqlite":
        return {"sqlite": db.path}
    schema = db.execute("SELECT current_schema() AS s")[0]["s"]
    return {"dsn": request.getfixturevalue("pg_dsn"), "options": f"-c search_path={schema}"}
