"""Shared fixtures: one contract suite run against SQLite and a real PostgreSQL server.

Every test that takes ``db`` (or ``backend``) runs twice, with ids ``test_x[sqlite]`` and
``test_x[postgresql]``. Each PostgreSQL test gets its own fresh schema, dropped afterwards.

Which PostgreSQL server (first one given wins):

- ``--pg-dsn "host=... dbname=..."``
- environment variable ``MNGS_TEST_PG_DSN``
- default ``host=127.0.0.1 port=5432 dbname=test user=postgres``

When the server cannot be reached the PostgreSQL tests are skipped, with the reason shown by
``-ra``, unless ``--require-pg`` is given or ``MNGS_REQUIRE_PG=1`` is set: then they fail, so CI
can never pass by silently skipping half of the suite. Deselect them with ``-m "not postgresql"``.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

# Throwaway clusters, a standby and pgbouncer for the reliability tests (tests/servers.py).
pytest_plugins = ("servers",)

DEFAULT_PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"
CONNECT_TIMEOUT_S = 5
BACKENDS = ["sqlite", "postgresql"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mngs.db", "mngs.db test databases")
    group.addoption(
        "--pg-dsn",
        default=None,
        metavar="DSN",
        help="libpq connection string of the PostgreSQL server to test against "
        f"(default: $MNGS_TEST_PG_DSN, else {DEFAULT_PG_DSN!r})",
    )
    group.addoption(
        "--require-pg",
        action="store_true",
        default=False,
        help="fail, instead of skip, the PostgreSQL tests when the server is unreachable "
        "(also enabled by MNGS_REQUIRE_PG=1)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql: the test needs a PostgreSQL server")
    config.addinivalue_line(
        "markers", "slow: a long reliability test (tens of seconds); still run by default and in CI"
    )


def _pg_required(config: pytest.Config) -> bool:
    env = os.environ.get("MNGS_REQUIRE_PG", "").strip().lower()
    return bool(config.getoption("--require-pg")) or env not in ("", "0", "false", "no", "off")


def _configured_dsn(config: pytest.Config) -> str:
    return config.getoption("--pg-dsn") or os.environ.get("MNGS_TEST_PG_DSN") or DEFAULT_PG_DSN


def _redacted(dsn: str) -> str:
    """The DSN with any password masked, fit for a skip or failure message."""
    dsn = re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", dsn)
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", dsn)  # postgresql://user:secret@host


def _pg_connect(dsn: str) -> Any:
    """Open a plain psycopg connection in autocommit mode (psycopg imported lazily)."""
    import psycopg

    return psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)


@pytest.fixture(scope="session")
def pg_dsn(request: pytest.FixtureRequest) -> str:
    """The test server's DSN, once it has answered a query; otherwise skip (or fail)."""
    dsn = _configured_dsn(request.config)
    try:
        with _pg_connect(dsn) as conn:
            conn.execute("SELECT 1")
        return dsn
    except Exception as exc:  # ImportError, OperationalError, bad DSN: all mean "no server"
        detail = " ".join(str(exc).split())  # psycopg messages span several lines
        reason = f"PostgreSQL not reachable at {_redacted(dsn)!r} ({type(exc).__name__}: {detail})"
    if _pg_required(request.config):
        pytest.fail(f"{reason}; required by --require-pg / MNGS_REQUIRE_PG", pytrace=False)
    pytest.skip(f"{reason}; set MNGS_TEST_PG_DSN or --pg-dsn, or start the server")


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend name; for "postgresql" the server is checked first (skip or fail)."""
    if request.param == "postgresql":
        request.getfixturevalue("pg_dsn")
    return request.param


@pytest.fixture
def _open_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable]:
    """An opener of handles to this test's own database (keyword arguments go to the
    constructor: ``read_only=True``, ``statement_timeout=...``).

    SQLite: the file ``tmp_path / "test.db"``. PostgreSQL: a fresh schema ``t_<12 hex>`` on the
    test server, reached through ``search_path``, dropped with CASCADE after the test (by which
    time the ``db`` and ``make_db`` handles have been closed).
    """
    import mngs.db

    if backend == "sqlite":
        path = str(tmp_path / "test.db")
        yield lambda **options: mngs.db.SQLite3(path, **options)
        return

    from psycopg import sql

    dsn: str = request.getfixturevalue("pg_dsn")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with _pg_connect(dsn) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield lambda **options: mngs.db.PostgreSQL(
            dsn=dsn, options=f"-c search_path={schema}", **options
        )
    finally:
        with _pg_connect(dsn) as conn:
            # A handle left open inside a transaction would block DROP forever; fail instead.
            conn.execute("SET lock_timeout = '10s'")
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def db(_open_db: Callable) -> Iterator[Any]:
    """A handle to an empty database of the parametrized backend, closed after the test."""
    handle = _open_db()
    try:
        yield handle
    finally:
        handle.close()  # the test may have closed it already: closing twice must be harmless


@pytest.fixture
def make_db(db: Any, _open_db: Callable) -> Iterator[Callable[..., Any]]:
    """A factory of extra handles to the same database as ``db`` (same file or schema).

    For concurrency and visibility tests: ``other = make_db()`` (or ``make_db(read_only=True)``).
    Every handle it made is closed after the test, before ``db`` is.
    """
    with ExitStack() as closers:  # closes every handle, newest first, even if one close fails

        def make(**options: Any) -> Any:
            handle = _open_db(**options)
            closers.callback(handle.close)
            return handle

        yield make


@pytest.fixture
def pg_db(db: Any) -> Any:
    """The `db` handle, for behaviour that exists on PostgreSQL only (skipped on SQLite)."""
    if db.backend != "postgresql":
        pytest.skip("PostgreSQL-only behaviour")
    return db


@pytest.fixture
def sqlite_db(db: Any) -> Any:
    """The `db` handle, for behaviour that exists on SQLite only (skipped on PostgreSQL)."""
    if db.backend != "sqlite":
        pytest.skip("SQLite-only behaviour")
    return db



@pytest.fixture
def db_target(_open_db: Callable, backend: str, request: pytest.FixtureRequest) -> str:
    """This test's own database as the command line names it: the SQLite file's path, or a
    ``postgresql://`` URL to the test server whose ``search_path`` is the test's schema."""
    from urllib.parse import quote, urlencode

    handle = _open_db()
    try:
        if backend == "sqlite":
            return handle.path
        schema = handle.execute("SELECT current_schema() AS s")[0]["s"]
    finally:
        handle.close()
    from psycopg.conninfo import conninfo_to_dict

    params = {k: str(v) for k, v in conninfo_to_dict(request.getfixturevalue("pg_dsn")).items()}
    user, password = params.pop("user", ""), params.pop("password", "")
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    host = params.get("host", "")
    netloc = ""
    if host and "/" not in host and "," not in host:  # a socket folder or host list stays a parameter
        netloc = params.pop("host") + (":" + params.pop("port") if "port" in params else "")
    dbname = quote(params.pop("dbname", ""), safe="")
    params["options"] = f"-csearch_path={schema}"
    return f"postgresql://{auth + '@' if auth else ''}{netloc}/{dbname}?{urlencode(params)}"
