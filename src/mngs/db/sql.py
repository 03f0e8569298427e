"""SQL building: identifier quoting and the WHERE / ORDER BY / LIMIT clauses.

Every table, column and index name that reaches SQL goes through :func:`quote`. Values never
do: they are always bound parameters. Statements are built with ``?`` and ``:name``
placeholders; a dialect translates them once per distinct statement where its driver needs it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from typing_extensions import TypeAliasType

from .errors import ArgumentError, IdentifierError
from .placeholders import code_only

__all__ = [
    "Params",
    "Where",
    "check_fragment",
    "conflict_clause",
    "limit_clause",
    "order_clause",
    "quote",
    "quote_all",
    "where_clause",
]

#: Values bound to a statement's placeholders: a list or tuple for ``?``, a dict for ``:name``.
Params = TypeAliasType("Params", Sequence[Any] | Mapping[str, Any] | None)
#: A condition: SQL text with placeholders, or a dict of column → value (``None`` is ``IS NULL``,
#: a tuple ``IN``).
Where = TypeAliasType("Where", str | Mapping[str, Any] | None)

_SIMPLE_ORDER = re.compile(
    r"""^\s*(?P<name>[^\W\d][\w$]*|"(?:[^"]|"")+")
        (?:\s+(?P<dir>asc|desc))?(?:\s+nulls\s+(?P<nulls>first|last))?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


def quote(name: str, max_length: int | None = None) -> str:
    """Return ``name`` as a double-quoted SQL identifier, or raise :class:`IdentifierError`.

    Any character is allowed except NUL; embedded double quotes are doubled.
    ``max_length`` is the backend's limit in UTF-8 bytes (PostgreSQL silently truncates at 63,
    so longer names are refused rather than truncated).
    """
    if not isinstance(name, str):
        raise IdentifierError(f"identifier must be a str, not {type(name).__name__}: {name!r}")
    if not name:
        raise IdentifierError("identifier must not be empty")
    if "\x00" in name:
        raise IdentifierError(f"identifier must not contain NUL: {name!r}")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise IdentifierError(
            f"identifier is not valid Unicode text (a lone surrogate): {name!r}"
        ) from None
    if max_length is not None and size > max_length:
        raise IdentifierError(
            f"identifier longer than {max_length} bytes (the backend would truncate it): {name!r}"
        )
    return '"' + name.replace('"', '""') + '"'


def quote_all(names: Iterable[str], max_length: int | None = None) -> str:
    """Quote each name and join them with ``", "``."""
    return ", ".join(quote(n, max_length) for n in names)


def _unquote(token: str) -> str:
    if token.startswith('"'):
        return token[1:-1].replace('""', '"')
    return token


def where_clause(where: Where, params: Params, max_length: int | None = None) -> tuple[str, Params]:
    """Return ``(" WHERE …", params)`` for SQL text with params, or for a dict of column → value.

    In the dict form each entry is an equality on a bound value; ``None`` means ``IS NULL`` and
    a tuple, set or frozenset means ``IN (…)`` (an empty one matches nothing).
    """
    if where is None:
        if params:
            raise ArgumentError("params were given without a where clause")
        return "", params
    if isinstance(where, str):
        if not where.strip():
            raise ArgumentError("where must not be empty; pass None for no condition")
        check_fragment("where", where)
        return f" WHERE ({where})", params
    if not isinstance(where, Mapping):
        raise ArgumentError(f"where must be SQL text or a dict, not {type(where).__name__}")
    if params:
        raise ArgumentError("params cannot be combined with a dict where (put the values in it)")
    shape: list[tuple[str, int]] = []
    values: list[Any] = []
    for column, value in where.items():
        if value is None:
            shape.append((column, -1))
        elif isinstance(value, (tuple, set, frozenset)):
            shape.append((column, len(value) or -2))
            values.extend(value)
        else:
            shape.append((column, 0))
            values.append(value)
    if not shape:
        return "", None
    return _dict_where(tuple(shape), max_length), values


@lru_cache(maxsize=1024)
def _dict_where(shape: tuple[tuple[str, int], ...], max_length: int | None) -> str:
    """WHERE text for a dict condition: (column, kind) with kind -1 = IS NULL, 0 = equality,
    n = IN of n values, -2 = an empty IN (matches nothing)."""
    parts = []
    for column, kind in shape:
        name = quote(column, max_length)
        if kind == -2:
            parts.append("1 = 0")
        elif kind < 0:
            parts.append(f"{name} IS NULL")
        elif kind == 0:
            parts.append(f"{name} = ?")
        else:
            parts.append(f"{name} IN ({', '.join('?' * kind)})")
    return " WHERE " + " AND ".join(parts)


def check_fragment(what: str, text: str) -> None:
    """Refuse a SQL fragment (``where``, an ``order_by`` expression) that would end the
    statement: it is one expression, never a second statement."""
    if ";" in code_only(text):
        raise ArgumentError(
            f"{what} must be one SQL expression, but {text!r} has a ';' outside quotes "
            "(it would end the statement)"
        )


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside parentheses, quotes and comments."""
    code = code_only(text)
    pieces, depth, start = [], 0, 0
    for i, char in enumerate(code):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            pieces.append(text[start:i])
            start = i + 1
    pieces.append(text[start:])
    return pieces


def order_clause(
    order_by: str | Sequence[str] | None,
    max_length: int | None = None,
    known: Collection[str] | None = None,
) -> tuple[str, list[str]]:
    """Return ``(" ORDER BY …", names)``: the clause and the column names it quotes.

    An item that is exactly a column name in ``known`` is quoted as that column, whatever the
    name (spaces, quotes, commas, ``;``). A text of several items is split at top-level commas.
    ``"col"``, ``"col DESC"``, ``"col ASC NULLS LAST"`` have their column quoted (the caller
    checks the name exists); any other item is an expression, used as SQL text like ``where``,
    and refused if it would end the statement.
    """
    if order_by is None:
        return "", []
    if isinstance(order_by, str):
        items = [order_by] if known and order_by in known else _split_top_level(order_by)
    else:
        items = list(order_by)
    parts: list[str] = []
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ArgumentError(f"order_by items must be str, not {type(item).__name__}: {item!r}")
        if known and item in known:
            parts.append(quote(item, max_length))
            names.append(item)
            continue
        match = _SIMPLE_ORDER.match(item)
        if match is None:
            if not item.strip():
                raise ArgumentError(f"invalid order_by: {order_by!r}")
            check_fragment("order_by", item)
            parts.append(item.strip())
            continue
        name = _unquote(match["name"])
        text = quote(name, max_length)
        names.append(name)
        if match["dir"]:
            text += " " + match["dir"].upper()
        if match["nulls"]:
            text += " NULLS " + match["nulls"].upper()
        parts.append(text)
    if not parts:
        raise ArgumentError(f"invalid order_by: {order_by!r}")
    return " ORDER BY " + ", ".join(parts), names


def limit_clause(limit: int | None, offset: int | None = None, unlimited: str = "ALL") -> str:
    """Return ``" LIMIT n OFFSET m"`` from validated non-negative integers.

    ``unlimited`` is the backend's spelling of "no limit", needed when only an offset is given.
    """
    for word, value in (("limit", limit), ("offset", offset)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ArgumentError(f"{word} must be a non-negative int, not {value!r}")
    if limit is None and offset is None:
        return ""
    text = f" LIMIT {unlimited if limit is None else limit}"
    return text + (f" OFFSET {offset}" if offset else "")


def conflict_clause(
    columns: Sequence[str], on_conflict: str | None, target: Sequence[str], max_length: int | None = None
) -> str:
    """Return the ``" ON CONFLICT …"`` tail of an upsert (empty for a plain insert).

    ``"ignore"`` skips conflicting rows; ``"update"`` overwrites the columns outside ``target``.
    """
    if on_conflict is None:
        return ""
    on = f" ON CONFLICT ({quote_all(target, max_length)})" if target else " ON CONFLICT"
    updates = [c for c in columns if c not in target]
    if on_conflict == "ignore" or not updates:
        return on + " DO NOTHING"
    sets = ", ".join(f"{quote(c, max_length)} = excluded.{quote(c, max_length)}" for c in updates)
    return on + " DO UPDATE SET " + sets


def index_name(table: str, columns: Sequence[str], limit: int | None = None) -> str:
    """The default index name ``idx_<table>_<col>…``, shortened with a digest past ``limit``
    bytes."""
    name = "_".join(["idx", table, *columns])
    if limit is not None and len(name.encode()) > limit:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        name = name.encode()[: limit - 9].decode("utf-8", "ignore") + "_" + digest
    return name
