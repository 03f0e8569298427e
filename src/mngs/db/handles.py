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

    ``timeout`` is how many seconds to wait for another connection's lock before failing.

    >>> db = mngs.db.SQLite3("my_data.db")
    """

    def __init__(self, path: str | os.PathLike[str] = ":memory:", timeout: float = 5.0) -> None:
        super().__init__(SQLiteDialect(path, timeout))

    @property
    def path(self) -> str:
        """The database file path (or ``":memory:"``)."""
        return self._dialect.path  # type: ignore[attr-defined,no-any-return]


class PostgreSQL(Database):
    """A PostgreSQL database. Parameters follow libpq: anything not given comes from ``dsn``
    (a ``postgresql://`` URL or ``key=value`` string), then from the ``PG*`` environment
    variables; extra keyword arguments are further libpq parameters (``options``,
    ``sslmode``, ``connect_timeout``, ...).

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
        **conninfo: Any,
    ) -> None:
        super().__init__(
            PostgreSQLDialect(
                dsn, dbname=dbname, user=user, password=password, host=host, port=port, **conninfo
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
