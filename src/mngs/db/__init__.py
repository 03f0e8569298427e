"""mngs.db: dictionaries in, dictionaries out, over SQLite and PostgreSQL with one API."""

import logging as _logging

from .codecs import decode_array, encode_array
from .copy import copy
from .database import Database, Record, Rows
from .duplicates import delete_duplicates
from .errors import (
    ArgumentError,
    ClosedError,
    ConnectionLostError,
    DatabaseError,
    DataError,
    Error,
    IdentifierError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotFoundError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    ReadOnlyError,
    TransactionConflict,
    Warning,
)
from .handles import PostgreSQL, SQLite3, connect
from .inspection import Inspector, inspect
from .reflection import ColumnInfo, ForeignKeyInfo, IndexInfo

__all__ = [
    "ArgumentError",
    "ClosedError",
    "ColumnInfo",
    "ConnectionLostError",
    "DataError",
    "Database",
    "DatabaseError",
    "Error",
    "ForeignKeyInfo",
    "IdentifierError",
    "IndexInfo",
    "Inspector",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotFoundError",
    "NotSupportedError",
    "OperationalError",
    "PostgreSQL",
    "ProgrammingError",
    "ReadOnlyError",
    "Record",
    "Rows",
    "SQLite3",
    "TransactionConflict",
    "Warning",
    "connect",
    "copy",
    "decode_array",
    "delete_duplicates",
    "encode_array",
    "inspect",
]

_logging.getLogger("mngs.db").addHandler(_logging.NullHandler())  # the application decides
