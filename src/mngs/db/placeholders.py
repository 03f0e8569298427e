"""Translate ``?``/``:name`` SQL placeholders to psycopg's ``%s``/``%(name)s`` outside quotes."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

__all__ = ["code_only", "count_placeholders", "is_stacked", "to_pyformat"]

# PostgreSQL treats every byte >= 0x80 as an identifier character; in a decoded ``str`` that is
# every code point >= U+0080.
_IDENT_START = r"A-Za-z_\x80-\U0010ffff"
_IDENT_CONT = r"A-Za-z0-9_\x80-\U0010ffff"
# An ``E'`` or ``$tag$`` that follows one of these is part of an identifier, not a quote start.
_NOT_AFTER = rf"(?<![{_IDENT_CONT}$])"

# One alternative per token that matters; everything between matches is copied through as is.
# Quoted regions end at their closing delimiter or, when unterminated, at the end of the input.
_TOKEN = re.compile(
    rf"""
      (?P<line>--[^\n\r]*)                                   # -- comment to end of line
    | (?P<block>/\*)                                         # /* comment */, nested: scanned below
    | (?P<estr>{_NOT_AFTER}[Ee]'(?:[^'\\]+|\\.?|'')*'?)      # E'...' with backslash escapes
    | (?P<str>'[^']*(?:''[^']*)*'?)                          # '...' with '' escapes
    | (?P<ident>"[^"]*(?:""[^"]*)*"?)                        # "..." with "" escapes
    | (?P<dollar>{_NOT_AFTER}\$(?P<tag>(?:[{_IDENT_START}][{_IDENT_CONT}]*)?)\$
                 .*?(?:\$(?P=tag)\$|\Z))                     # $$...$$ or $tag$...$tag$
    | (?P<qq>\?\?)                                           # ?? -> literal ?
    | (?P<q>\?)                                              # ? -> %s
    | (?P<cast>::+)                                          # x::int is a cast, never a name
    | (?P<named>:(?P<name>[A-Za-z_][A-Za-z0-9_]*))           # :name -> %(name)s
    | (?P<pct>%+)                                            # % -> %%
    """,
    re.VERBOSE | re.DOTALL,
)
_COMMENT_DELIM = re.compile(r"/\*|\*/")
_QUOTED = frozenset(("line", "estr", "str", "ident", "dollar"))


def _block_comment_end(sql: str, pos: int) -> int:
    """Return the index just past the (nested) block comment whose body starts at ``pos``."""
    depth = 1
    for m in _COMMENT_DELIM.finditer(sql, pos):
        depth += 1 if m.group() == "/*" else -1
        if depth == 0:
            return m.end()
    return len(sql)  # unterminated: the rest is comment


def _tokens(sql: str) -> Iterator[tuple[str, str | None, re.Match[str] | None]]:
    """Split ``sql`` into ``(text, kind, match)`` pieces: plain SQL between tokens has kind
    None; a (nested) block comment is one piece of kind ``"block"``."""
    pos = 0
    end = len(sql)
    while pos < end:
        m = _TOKEN.search(sql, pos)
        if m is None:
            break
        if m.start() > pos:
            yield sql[pos : m.start()], None, None
        kind = m.lastgroup  # the outermost group for nested ones (<named>, <dollar>)
        if kind == "block":
            stop = _block_comment_end(sql, m.end())
            yield sql[m.start() : stop], kind, m
            pos = stop
            continue
        yield m.group(), kind, m
        pos = m.end()
    if pos < end:
        yield sql[pos:], None, None


def _scan(sql: str) -> tuple[str, str | None, int, frozenset[str]]:
    """Translate ``sql``; return (translated, style, number of ``?``, set of ``:names``)."""
    if not isinstance(sql, str):
        raise TypeError(f"SQL must be a str, not {type(sql).__name__}")
    out: list[str] = []
    n_qmark = 0
    names: set[str] = set()
    for text, kind, m in _tokens(sql):
        if kind is None or kind == "cast":
            out.append(text)
        elif kind == "block" or kind in _QUOTED:
            out.append(text.replace("%", "%%"))
        elif kind == "pct":
            out.append(text + text)
        elif kind == "q":
            n_qmark += 1
            out.append("%s")
        elif kind == "qq":
            out.append("?")
        else:  # named
            assert m is not None
            name = m.group("name")
            names.add(name)
            out.append(f"%({name})s")
    if n_qmark and names:
        raise ValueError(
            "SQL mixes positional ('?') and named (':name') placeholders; "
            "use one style per statement"
        )
    style = "qmark" if n_qmark else "named" if names else None
    return "".join(out), style, n_qmark, frozenset(names)


@functools.lru_cache(maxsize=2048)
def to_pyformat(sql: str) -> tuple[str, str | None]:
    """Translate `?`/`:name` placeholders to psycopg's `%s`/`%(name)s`.

    Returns (translated_sql, style) where style is "qmark", "named" or None (no placeholders).

    Outside quoted strings, identifiers, comments and dollar-quoted bodies, ``?`` becomes ``%s``,
    ``:name`` becomes ``%(name)s`` and ``??`` becomes a literal ``?`` (for PostgreSQL's JSONB
    ``?``, ``?|`` and ``?&`` operators); ``::`` casts and ``:`` not followed by a name are left
    alone. Every ``%`` anywhere is doubled, so the result must be executed with parameters
    (pass ``()`` when there are none): psycopg only undoubles ``%%`` when parameters are given.
    Unterminated quotes and comments run to the end of the statement. Raises ``ValueError``
    when positional and named placeholders are mixed, ``TypeError`` when ``sql`` is not a str.
    """
    translated, style, _, _ = _scan(sql)
    return translated, style


@functools.lru_cache(maxsize=2048)
def count_placeholders(sql: str) -> tuple[int, frozenset[str]]:
    """Return (number of ``?`` placeholders, distinct ``:name`` names) in ``sql``.

    Uses the same rules as :func:`to_pyformat`, including the ``ValueError`` for mixed styles.
    """
    _, _, n_qmark, names = _scan(sql)
    return n_qmark, names


@functools.lru_cache(maxsize=2048)
def code_only(sql: str) -> str:
    """``sql`` with comments blanked (spaces) and quoted strings, names and dollar-quoted
    bodies masked (``x``), same length: what is left is the SQL the server parses as code."""
    out: list[str] = []
    for text, kind, _ in _tokens(sql):
        if kind == "block" or kind == "line":
            out.append(" " * len(text))
        elif kind in _QUOTED:
            out.append("x" * len(text))
        else:
            out.append(text)
    return "".join(out)


_SECOND_STATEMENT = re.compile(r";[\s;]*[^\s;]")


def is_stacked(sql: str) -> bool:
    """True when ``sql`` holds a second statement after a ``;`` (outside quotes and comments);
    a trailing ``;`` alone is one statement."""
    return ";" in sql and _SECOND_STATEMENT.search(code_only(sql)) is not None
