"""The package's exception hierarchy and the one place driver errors are translated.

The tree follows DB-API 2.0 (PEP 249), so code written against any driver reads naturally::

    Exception
    └── Error
        ├── InterfaceError
        │   └── ClosedError            the handle was closed
        └── DatabaseError
            ├── DataError              a value does not fit (NUL in text, unsupported type, ...)
            ├── OperationalError       connection lost, database locked, disk full, ...
            │   ├── ConnectionLostError  the connection died under a call (reconnects next call)
            │   ├── TransactionConflict  serialization failure or deadlock: rerun the transaction
            │   └── ReadOnlyError        a write on a read-only handle or server
            ├── IntegrityError         unique, foreign key, not null, check constraint
            ├── InternalError
            ├── NotFoundError          no row has that key (``db.get``; also a LookupError)
            ├── ProgrammingError       bad SQL, missing table or column, wrong parameters
            │   └── ArgumentError      a call's arguments are wrong (also ValueError, TypeError)
            │       └── IdentifierError  a table/column/index name we refuse
            └── NotSupportedError

Every error raised from a driver is re-raised as one of these, naming the table, column or
statement at fault. Parameter values and passwords never appear in messages, and the driver's
exception is not chained (``__cause__`` is None, so a traceback does not print the server's
DETAIL lines, which quote the failing row): code that needs it reads ``exc.driver_error`` (and
``exc.sqlstate``, the server's SQLSTATE code, where there is one).
"""

from __future__ import annotations

import re

__all__ = [
    "ArgumentError",
    "ClosedError",
    "ConnectionLostError",
    "DataError",
    "DatabaseError",
    "Error",
    "IdentifierError",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotFoundError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "ReadOnlyError",
    "TransactionConflict",
    "Warning",
    "translate",
]

_STATEMENT_PREVIEW = 200


class Warning(Exception):  # noqa: A001 - the DB-API name
    """Important warnings such as data truncation."""


class Error(Exception):
    """Base class of every error this package raises on purpose."""

    #: The driver's exception this error was translated from (None for the package's own).
    driver_error: BaseException | None = None

    @property
    def sqlstate(self) -> str | None:
        """The SQLSTATE code the server reported (PostgreSQL), or None."""
        return getattr(self.driver_error, "sqlstate", None)


class InterfaceError(Error):
    """Misuse of the interface rather than of the database."""


class ClosedError(InterfaceError):
    """An operation was attempted on a closed handle."""


class DatabaseError(Error):
    """An error reported by (or about) the database."""


class DataError(DatabaseError):
    """A value cannot be stored: wrong type, out of range, NUL in PostgreSQL text, ..."""


class OperationalError(DatabaseError):
    """The database could not carry out the operation: connection, locks, disk, ..."""


class ConnectionLostError(OperationalError):
    """The connection died under a call. Outside a transaction the next call reconnects; a
    write that was sent may or may not have taken effect (it is never sent twice). Inside a
    transaction, the transaction is gone and none of it was committed."""


class TransactionConflict(OperationalError):
    """The database aborted the transaction to keep it serializable (SQLSTATE 40001) or to
    break a deadlock (40P01); running it again may succeed (see ``db.run_transaction``)."""


class ReadOnlyError(OperationalError):
    """A write was refused because the handle or the server is read-only."""


class NotFoundError(DatabaseError, LookupError):
    """No row has the key asked for (``db.get``); the key is ``exc.key``."""

    def __init__(self, message: str, key: object = None) -> None:
        super().__init__(message)
        self.key = key


class IntegrityError(DatabaseError):
    """A constraint was violated: unique, primary key, foreign key, not null, check."""


class InternalError(DatabaseError):
    """The database reported an internal inconsistency."""


class ProgrammingError(DatabaseError):
    """Bad SQL, a missing table or column, or the wrong number of parameters."""


class ArgumentError(ProgrammingError, ValueError, TypeError):
    """A call's arguments are wrong: a missing ``where``, a record that is not a dict, ...

    Raised before any SQL runs, so the database is untouched.
    """


class IdentifierError(ArgumentError):
    """A table, column or index name that cannot be used safely."""


class NotSupportedError(DatabaseError):
    """The backend does not support the requested feature."""


_BY_DBAPI_NAME: dict[str, type[Error]] = {
    "IntegrityError": IntegrityError,
    "DataError": DataError,
    "OperationalError": OperationalError,
    "ProgrammingError": ProgrammingError,
    "NotSupportedError": NotSupportedError,
    "InternalError": InternalError,
    "InterfaceError": InterfaceError,
    "DatabaseError": DatabaseError,
    "Error": Error,
}
_ORDER = tuple(_BY_DBAPI_NAME)  # most specific first


_QUOTED_VALUE = re.compile(r'"(?:[^"]|"")*"')
_TRAILING_BYTES = re.compile(r":\s*0x[0-9a-fA-F ]+$")


def _driver_message(exc: BaseException) -> str:
    """The driver's message without the server's DETAIL and CONTEXT lines, which can quote the
    failing row's values (PostgreSQL: ``Key (email)=(...) already exists``); a HINT is kept.
    In data errors (SQLSTATE class 22) the primary line quotes the value itself
    (``invalid input syntax for type bigint: "..."``): the value is withheld."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if not primary:
        return str(exc).strip()
    primary = str(primary)
    if str(getattr(exc, "sqlstate", None) or "").startswith("22"):
        primary = _TRAILING_BYTES.sub("", _QUOTED_VALUE.sub("(value withheld)", primary))
    hint = getattr(diag, "message_hint", None)
    return f"{primary} (hint: {hint})" if hint else primary


def _our_class(exc: BaseException) -> type[Error]:
    """Map a driver exception onto our tree by its DB-API base class names."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    for name in _ORDER:
        if name in names:
            return _BY_DBAPI_NAME[name]
    return DatabaseError


def translate(
    exc: BaseException,
    *,
    sql: str | None = None,
    table: str | None = None,
    column: str | None = None,
    secrets: tuple[str, ...] = (),
    cls: type[Error] | None = None,
) -> Error:
    """Build the package error for driver exception ``exc`` (kept as its ``driver_error``); the
    caller raises it ``from None``.

    ``sql`` is shown shortened; ``secrets`` (passwords) are blanked out of the message.
    """
    message = _driver_message(exc) or type(exc).__name__
    context = []
    if table is not None:
        context.append(f"table {table!r}")
    if column is not None:
        context.append(f"column {column!r}")
    if sql is not None:
        statement = " ".join(sql.split())
        if len(statement) > _STATEMENT_PREVIEW:
            statement = statement[:_STATEMENT_PREVIEW] + " …"
        context.append(f"statement: {statement}")
    if context:
        message = f"{message} [{'; '.join(context)}]"
    for secret in secrets:
        if secret:  # whole occurrences only: masking "p" inside words would reveal it
            message = re.sub(rf"(?<!\w){re.escape(secret)}(?!\w)", "***", message)
    error = (cls or _our_class(exc))(message)
    error.driver_error = exc
    return error
