"""The public constructors: ``SQLite3``, ``PostgreSQL`` and ``connect(url)``; each only chooses
a dialect for :class:`~mngs.db.database.Database`."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote, urlsplit

from .database import Database
from .dialects.postgresql import PostgreSQLDialect
from .dialects.sqlite import SQLiteDialect
from .errors import ArgumentError

__all__ = ["PostgreSQL", "SQLite3", "connect"]


class SQLite3(Database):
    """A SQLite database file (created if missing), or ``":memory:"``.

    ``timeout`` is how many seconds a statement waits for another connection's write lock
    before failing (retried with jittered backoff meanwhile). ``journal_mode`` is ``"wal"`` by
    default (readers and writers never block each other; the file must be on a local disk),
    or ``"delete"`` etc. for a network file system, or None to leave the file's mode as it is.
    ``read_only=True`` opens the file read-only: writes raise :class:`~mngs.db.ReadOnlyError`.

    >>> db = mngs.db.SQLite3("my_data.db")
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        timeout: float = 5.0,
        *,
        journal_mode: str | None = "wal",
        read_only: bool = False,
    ) -> None:
        super().__init__(SQLiteDialect(path, timeout, journal_mode=journal_mode, read_only=read_only))

    @property
    def timeout(self) -> float:
        """Seconds a statement waits for another connection's write lock.

        >>> mngs.db.SQLite3("lab.db", timeout=30).timeout
        30.0
        """
        return self._dialect.timeout  # type: ignore[attr-defined,no-any-return]

    @property
    def path(self) -> str:
        """The database file path (or ``":memory:"``).

        >>> mngs.db.SQLite3("lab.db").path
        'lab.db'
        """
        return self._dialect.path  # type: ignore[attr-defined,no-any-return]


class PostgreSQL(Database):
    """A PostgreSQL database. Parameters follow libpq: anything not given comes from ``dsn``
    (a ``postgresql://`` URL or ``key=value`` string), then from the ``PG*`` environment
    variables; extra keyword arguments are further libpq parameters (``options``,
    ``sslmode``, ``target_session_attrs``, ...; multi-host DSNs fail over).

    Waits are bounded: ``connect_timeout`` (default 10 s) bounds each connection attempt, TCP
    keepalives notice a vanished server in about a minute, ``statement_timeout`` (seconds,
    default none) makes the server cancel a statement that runs longer. ``read_only=True``
    refuses writes with :class:`~mngs.db.ReadOnlyError`. ``prepare_threshold`` is psycopg's
    (``None``: never prepare, for a pooler in transaction mode); ``"auto"`` turns preparing
    off by itself when a pooler is seen losing prepared statements.

    >>> db = mngs.db.PostgreSQL(dbname="research_db", user="researcher", host="localhost")
    """

    def __init__(
        self,
        dbname: str | None = None,
        user: str | None = None,
        password: str | None = None,
        host: str | None = None,
        port: int | str | None = None,
        *,
        dsn: str | None = None,
        connect_timeout: float | None = None,
        statement_timeout: float | None = None,
        read_only: bool = False,
        prepare_threshold: int | None | str = "auto",
        **conninfo: Any,
    ) -> None:
        super().__init__(
            PostgreSQLDialect(
                dsn,
                statement_timeout=statement_timeout,
                read_only=read_only,
                prepare_threshold=prepare_threshold,
                dbname=dbname,
                user=user,
                password=password,
                host=host,
                port=port,
                connect_timeout=connect_timeout,
                **conninfo,
            )
        )


def connect(url: str, **options: Any) -> Database:
    """Open a handle from a URL: ``sqlite:///relative.db``, ``sqlite:////abs/path.db``,
    ``sqlite:///:memory:`` (or ``sqlite://``), or ``postgresql://user:pw@host:port/dbname``.

    >>> db = mngs.db.connect("sqlite:///experiments.db")
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("sqlite", "sqlite3"):
        path = unquote(url.split("://", 1)[1])
        if path.startswith("/"):
            path = path[1:]
        return SQLite3(path or ":memory:", **options)
    if scheme in ("postgresql", "postgres"):
        return PostgreSQL(dsn=url, **options)
    raise ArgumentError(f"unsupported database URL scheme {scheme!r}: use sqlite:// or postgresql://")
