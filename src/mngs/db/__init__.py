"""mngs.db: dictionaries in, dictionaries out, over SQLite and PostgreSQL with one API."""

from .codecs import decode_array, encode_array
from .database import Database, Record, Rows
from .duplicates import delete_duplicates
from .errors import (
    ArgumentError,
    ClosedError,
    DatabaseError,
    DataError,
    Error,
    IdentifierError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
)
from .handles import PostgreSQL, SQLite3, connect
from .inspection import Inspector, inspect
from .reflection import ColumnInfo, ForeignKeyInfo, IndexInfo

__all__ = [
    "ArgumentError",
    "ClosedError",
    "ColumnInfo",
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
    "NotSupportedError",
    "OperationalError",
    "PostgreSQL",
    "ProgrammingError",
    "Record",
    "Rows",
    "SQLite3",
    "Warning",
    "connect",
    "decode_array",
    "delete_duplicates",
    "encode_array",
    "inspect",
]
