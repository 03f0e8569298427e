"""Binary values: BLOBs, and numpy arrays stored without pickle.

Any ``numpy.ndarray`` given to ``insert``, ``insert_many`` or ``update`` is stored as ``.npy``
bytes (see :mod:`mngs.db.codecs`): dtype, shape and memory order are kept, and reading it back
with :func:`mngs.db.decode_array` or :meth:`BlobMixin.load_array` never unpickles anything.
``store_blob`` and ``save_array`` create their table when it does not exist yet, with a column
type inferred from each value and an ``id`` primary key.
"""


from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .codecs import decode_array, encode_array
from .dialects.base import Dialect
from .errors import ArgumentError, DataError
from .executor import Executor, Record
from .inference import value_kind
from .sql import Params, Where

__all__ = ["BlobMixin", "infer_type"]

# Types are written once; create_table rewrites them for the backend (BLOB -> BYTEA,
# REAL -> DOUBLE PRECISION and the autoincrement key -> BIGSERIAL on PostgreSQL).
_AUTO_ID = "INTEGER PRIMARY KEY AUTOINCREMENT"
#: Column type per value kind (:func:`mngs.db.inference.value_kind`); ints of any size are
#: BIGINT and datetimes TIMESTAMP here, and JSON is JSONB, as store_blob has always made them.
_TYPES = {
    "boolean": "BOOLEAN", "integer": "BIGINT", "bigint": "BIGINT", "float": "REAL",
    "decimal": "DECIMAL", "text": "TEXT", "bytes": "BLOB", "json": "JSONB", "date": "DATE",
    "time": "TIME", "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMP",
}  # fmt: skip


def infer_type(value: Any, column: str = "?") -> str:
    """The column type for a value: bytes → BLOB, str → TEXT, int → BIGINT, float → REAL,
    bool → BOOLEAN, dict/list → JSONB, dates and times, Decimal, numpy scalars and arrays."""
    try:
        kind = value_kind(value)
    except ArgumentError:
        kind = "unknown"
    if kind is None:
        raise ArgumentError(
            f"cannot infer the type of column {column!r} from None; create the table first"
        )
    if kind not in _TYPES:
        raise ArgumentError(f"cannot infer a column type for column {column!r} from {type(value).__name__}")
    return _TYPES[kind]


class BlobMixin:
    """Methods of :class:`~mngs.db.database.Database`; see the module docstring."""

    _dialect: Dialect
    _ex: Executor

    if TYPE_CHECKING:
        def transaction(self) -> Any: ...
        def table_exists(self, table: str) -> bool: ...
        def create_table(self, table: str, columns: Mapping[str, str]) -> None: ...
        def insert(self, table: str, data: Mapping[str, Any]) -> Any: ...
        def select(self, table: str, *args: Any, **kwargs: Any) -> list[Record]: ...

    def store_blob(self, table: str, data: Mapping[str, Any]) -> Any:
        """Insert one row holding binary data (and any other values) and return its id.

        When ``table`` does not exist it is created first: an ``id`` key that numbers rows
        (unless ``data`` has an ``id``) and one column per key, its type inferred from the
        value (bytes → BLOB/BYTEA, str → TEXT, int → BIGINT, float → REAL/DOUBLE PRECISION,
        numpy array → BLOB, ...). An existing table is used as it is.

        >>> db.store_blob("arrays", {"name": "random_matrix", "data": pickle.dumps(data)})
        1
        """
        if not isinstance(data, Mapping) or not data:
            raise ArgumentError(f"store_blob into {table!r} needs a non-empty dict of column values")
        with self._ex.lock, self._ex.transaction():
            if not self.table_exists(table):
                columns = {} if "id" in data else {"id": _AUTO_ID}
                columns.update({name: infer_type(value, name) for name, value in data.items()})
                if "id" in data and columns["id"] in ("BIGINT", "TEXT"):
                    columns["id"] += " PRIMARY KEY"
                self.create_table(table, columns)
            return self.insert(table, data)

    def get_blob(
        self,
        table: str,
        column: str,
        where: Where = None,
        params: Params = None,
        *,
        order_by: str | Sequence[str] | None = None,
    ) -> bytes | None:
        """Return the binary value of ``column`` in the first row matching ``where``, or None
        when no row matches (or the value is NULL).

        "First" follows ``order_by``, by default the primary key.

        >>> pickle.loads(db.get_blob("arrays", "data", where="name = 'random_matrix'"))
        """
        if not isinstance(column, str):
            raise ArgumentError(f"get_blob takes one column name, not {type(column).__name__}")
        if order_by is None:
            with self._ex.lock:
                order_by = list(self._ex.primary_key(table)) or None
        rows = self.select(table, [column], where, params, order_by=order_by, limit=1)
        if not rows:
            return None
        value = rows[0][column]
        if value is None or isinstance(value, bytes):
            return value
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        raise DataError(
            f"column {column!r} of table {table!r} holds {type(value).__name__}, not binary data"
        )

    def save_array(self, table: str, array: Any, *, column: str = "data", **values: Any) -> Any:
        """Store a numpy array — dtype, shape and memory order kept, no pickle — in a new row of
        ``table`` along with ``values``, and return the row's id.

        The table is created when missing, as in :meth:`store_blob`.

        >>> db.save_array("arrays", np.eye(3), name="identity")
        1
        """
        if column in values:
            raise ArgumentError(f"save_array: {column!r} is the array's column; rename the value")
        return self.store_blob(table, {**values, column: encode_array(array)})

    def load_array(
        self,
        table: str,
        column: str = "data",
        where: Where = None,
        params: Params = None,
        *,
        order_by: str | Sequence[str] | None = None,
    ) -> Any:
        """Return the numpy array stored in ``column`` of the first row matching ``where``
        (by primary key unless ``order_by``), or None when no row matches.

        >>> db.load_array("arrays", where="name = ?", params=["identity"]).shape
        (3, 3)
        """
        return decode_array(self.get_blob(table, column, where, params, order_by=order_by))
