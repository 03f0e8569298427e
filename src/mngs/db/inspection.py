"""Inspection: keys, indexes, CREATE TABLE text and schema diagrams (DOT, Mermaid, PNG/SVG)."""

from __future__ import annotations

import html
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ArgumentError, NotSupportedError, ProgrammingError
from .reflection import ColumnInfo, ForeignKeyInfo, IndexInfo

if TYPE_CHECKING:
    from .database import Database

__all__ = ["Inspector", "inspect"]

_DIAGRAM_FORMATS = ("png", "svg", "pdf")
_MERMAID_WORD = re.compile(r"[^A-Za-z0-9_]")


def inspect(db: Database) -> Inspector:
    """Return an :class:`Inspector` for ``db``.

    >>> inspector = mngs.db.inspect(db)
    >>> inspector.get_primary_keys("users")
    ['id']
    """
    from .database import ensure_open

    ensure_open(db)
    return Inspector(db)


def _dot_id(name: str) -> str:
    """A DOT quoted ID."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mermaid_name(name: str) -> str:
    """Mermaid entity/attribute names allow only letters, digits and ``_``."""
    word = _MERMAID_WORD.sub("_", name)
    return word if word and not word[0].isdigit() else "_" + word


def _key_marks(column: ColumnInfo, fk_columns: set[str]) -> list[str]:
    """``PK`` and/or ``FK`` for a column of a diagram."""
    marks = ["PK"] if column["primary_key"] else []
    return marks + ["FK"] if column["name"] in fk_columns else marks


class Inspector:
    """Describes the schema of one database: tables, columns, keys, indexes, CREATE text and
    diagrams. Obtain one with :func:`mngs.db.inspect`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __repr__(self) -> str:
        return f"<Inspector of {self.db!r}>"

    def _check(self, table: str) -> None:
        if table not in self.db.list_tables():
            raise ProgrammingError(f"no such table: {table!r}")

    # -- tables and keys ---------------------------------------------------------------
    def get_tables(self) -> list[str]:
        """Names of the tables, sorted (the current schema's on PostgreSQL)."""
        return self.db.list_tables()

    def get_columns(self, table: str) -> list[ColumnInfo]:
        """Each column of ``table``: name, type, nullable, default, primary_key."""
        return self.db.get_columns(table)

    def get_primary_keys(self, table: str) -> list[str]:
        """The primary key columns of ``table`` in key order (empty when it has none); a
        PostgreSQL key's ``INCLUDE`` columns are not among them.

        >>> inspector.get_primary_keys("users")
        ['id']
        """
        with self.db._ex.lock:
            self._check(table)
            return list(self.db._dialect.primary_key(self.db._ex, table))

    def get_foreign_keys(self, table: str) -> list[ForeignKeyInfo]:
        """The foreign keys of ``table``: columns, referred_table, referred_columns,
        on_update, on_delete and name (None on SQLite).

        >>> inspector.get_foreign_keys("orders")[0]["referred_table"]
        'users'
        """
        with self.db._ex.lock:
            self._check(table)
            return self.db._dialect.get_foreign_keys(self.db._ex, table)

    def get_indexes(self, table: str) -> list[IndexInfo]:
        """Each index of ``table``: name, columns, unique, primary."""
        with self.db._ex.lock:
            self._check(table)
            return self.db.list_indexes(table)

    def get_create_table_sql(self, table: str) -> str:
        """A ``CREATE TABLE`` statement that recreates ``table`` (indexes not included).

        SQLite returns the stored statement; PostgreSQL, which keeps none, rebuilds it from
        the catalogs (columns, defaults, NOT NULL, serial/identity, PRIMARY KEY, UNIQUE, CHECK
        and FOREIGN KEY constraints). The statement runs on its own on its backend: a column
        drawing from a sequence (``nextval(…)``) is written as ``serial``, which creates its
        sequence. To recreate a table on the other backend, use :func:`mngs.db.copy`.

        >>> print(inspector.get_create_table_sql("experiments"))
        CREATE TABLE "experiments" (...)
        """
        with self.db._ex.lock:
            self._check(table)
            return self.db._dialect.create_table_sql(self.db._ex, table)

    def get_schema(self) -> dict[str, dict[str, Any]]:
        """Everything at once: table → {columns, primary_key, foreign_keys, indexes}."""
        with self.db._ex.lock:
            dialect = self.db._dialect
            return {
                table: {
                    "columns": dialect.get_columns(self.db._ex, table),
                    "primary_key": list(dialect.primary_key(self.db._ex, table)),
                    "foreign_keys": dialect.get_foreign_keys(self.db._ex, table),
                    "indexes": dialect.list_indexes(self.db._ex, table),
                }
                for table in self.db.list_tables()
            }

    # -- diagrams ----------------------------------------------------------------------
    def schema_dot(self) -> str:
        """The schema as Graphviz DOT source: one box per table listing its columns (primary
        key columns marked PK, foreign key columns FK), one arrow per foreign key.

        >>> print(inspector.schema_dot())
        digraph schema { ...
        """
        schema = self.get_schema()
        lines = [
            "digraph schema {",
            "  graph [rankdir=LR];",
            '  node [shape=plaintext, fontname="Helvetica"];',
            '  edge [arrowhead=normal, fontname="Helvetica"];',
        ]
        ports: dict[tuple[str, str], str] = {}
        for table, info in schema.items():
            fk_columns = {c for fk in info["foreign_keys"] for c in fk["columns"]}
            rows = [
                f'<tr><td bgcolor="lightgrey" colspan="2"><b>{html.escape(table)}</b></td></tr>'
            ]
            for i, column in enumerate(info["columns"]):
                port = f"c{i}"
                ports[(table, column["name"])] = port
                marks = _key_marks(column, fk_columns)
                name = html.escape(column["name"])
                if marks:
                    name = f"<b>{name}</b> {html.escape(' '.join(marks))}"
                rows.append(
                    f'<tr><td port="{port}" align="left">{name}</td>'
                    f'<td align="left">{html.escape(column["type"] or "")}</td></tr>'
                )
            label = '<table border="0" cellborder="1" cellspacing="0">' + "".join(rows) + "</table>"
            lines.append(f"  {_dot_id(table)} [label=<{label}>];")
        for table, info in schema.items():
            for fk in info["foreign_keys"]:
                source = ports.get((table, fk["columns"][0]))
                target = ports.get((fk["referred_table"], (fk["referred_columns"] or [""])[0]))
                child = _dot_id(table) + (f":{source}" if source else "")
                parent = _dot_id(fk["referred_table"]) + (f":{target}" if target else "")
                label = _dot_id(", ".join(fk["columns"]))
                lines.append(f"  {child} -> {parent} [label={label}];")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def schema_mermaid(self) -> str:
        """The schema as a Mermaid ``erDiagram`` (renders in GitHub/GitLab Markdown).

        Names are reduced to letters, digits and ``_`` as Mermaid requires.

        >>> print(inspector.schema_mermaid())
        erDiagram
            users { ... }
        """
        schema = self.get_schema()
        lines = ["erDiagram"]
        for table, info in schema.items():
            fk_columns = {c for fk in info["foreign_keys"] for c in fk["columns"]}
            lines.append(f"    {_mermaid_name(table)} {{")
            for column in info["columns"]:
                kind = _MERMAID_WORD.sub("_", (column["type"] or "ANY").replace(" ", "_")) or "ANY"
                keys = _key_marks(column, fk_columns)
                key_text = f" {', '.join(keys)}" if keys else ""
                original = column["name"].replace('"', "'")
                comment = f' "{original}"' if _mermaid_name(column["name"]) != column["name"] else ""
                lines.append(f"        {kind} {_mermaid_name(column['name'])}{key_text}{comment}".rstrip())
            lines.append("    }")
        for table, info in schema.items():
            nullable = {c["name"]: c["nullable"] for c in info["columns"]}
            for fk in info["foreign_keys"]:
                optional = any(nullable.get(c, True) for c in fk["columns"])
                parent = "|o" if optional else "||"
                label = ", ".join(fk["columns"]).replace('"', "'")
                lines.append(
                    f"    {_mermaid_name(fk['referred_table'])} {parent}--o{{ "
                    f'{_mermaid_name(table)} : "{label}"'
                )
        return "\n".join(lines) + "\n"

    def generate_schema_diagram(self, path: str | os.PathLike[str]) -> Path:
        """Draw the schema (see :meth:`schema_dot`) to ``path``: PNG, SVG or PDF by its
        extension. Needs the ``graphviz`` package (``pip install 'mngs-db[graphviz]'``) and
        Graphviz's ``dot`` program; without them it raises
        :class:`~mngs.db.NotSupportedError` saying which is missing. Returns the path.

        >>> inspector.generate_schema_diagram("schema.png")
        PosixPath('schema.png')
        """
        target = Path(path)
        fmt = target.suffix.lower().lstrip(".")
        if fmt not in _DIAGRAM_FORMATS:
            raise ArgumentError(
                f"schema diagram path must end in {', '.join('.' + f for f in _DIAGRAM_FORMATS)}, "
                f"not {target.name!r}"
            )
        try:
            import graphviz
        except ImportError as exc:
            raise NotSupportedError(
                "schema diagrams need the graphviz package: pip install 'mngs-db[graphviz]' "
                "(schema_dot() and schema_mermaid() work without it)"
            ) from exc
        missing_dot = NotSupportedError(
            "schema diagrams need Graphviz's 'dot' program, which is not on PATH: install it "
            "(apt-get install graphviz, brew install graphviz, conda install graphviz) "
            "— schema_dot() and schema_mermaid() work without it"
        )
        if shutil.which("dot") is None:
            raise missing_dot
        source = self.schema_dot()
        try:
            image = graphviz.Source(source).pipe(format=fmt)
        except graphviz.ExecutableNotFound as exc:
            raise missing_dot from exc
        except graphviz.CalledProcessError as exc:
            raise NotSupportedError(f"Graphviz 'dot' failed to draw the schema: {exc}") from exc
        target.write_bytes(image)
        return target
