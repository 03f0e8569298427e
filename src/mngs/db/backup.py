"""Backup and restore of whole databases and single tables, as SQL dumps or SQLite file copies.

Formats. On SQLite, ``backup_database(path)`` writes a SQL text dump when ``path`` ends in
``.sql`` and a binary copy of the database file otherwise (``.db``, ``.sqlite``, ...), taken
with SQLite's online backup API. On PostgreSQL it writes a plain SQL dump of the handle's
current schema made by ``pg_dump`` (whatever the extension), which ``psql`` can run too.
``backup_table`` always writes a SQL text dump. A backup goes to a temporary file next to
``path`` that is renamed into place once complete, so ``path`` never holds half a backup.
Backups hold committed data only (a separate connection reads a consistent snapshot), except
for a SQLite ``":memory:"`` database, whose only connection is the handle's own.

Restore. ``restore_database(path)`` tells the format from the file's content and is
all-or-nothing. The file is checked first: it must exist, and a text dump must end with its
"dump complete" line, so a truncated file is refused before anything changes. Then it runs in
one transaction (a savepoint inside an open one), so an error anywhere leaves the database as
it was. A ``backup_database`` dump makes the database equal to the backup: everything it does
not hold is dropped (on PostgreSQL: every table, view, sequence, routine and type of the
current schema). A ``backup_table`` dump, or a dump not written by mngs.db, replaces only the
tables it creates and leaves the others alone; foreign keys of other tables pointing at a
replaced table are kept and checked again. A binary SQLite copy is restored with the backup
API, which replaces the database in one step and cannot run inside a transaction.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ArgumentError, DataError, ProgrammingError

if TYPE_CHECKING:
    from .dialects.base import Dialect
    from .executor import Executor

__all__ = ["BackupMixin"]

#: First line of every SQL dump mngs.db writes, followed by a JSON object (backend, scope, ...).
HEADER = "-- mngs.db backup: "
_SQLITE_MAGIC = b"SQLite format 3\x00"
_TAIL_BYTES = 4096
_TEXT_SUFFIXES = (".sql",)


@contextmanager
def _replacing(target: Path) -> Iterator[Path]:
    """Yield a temporary file next to ``target``; rename it over ``target`` when the block
    succeeds (after flushing it to disk), delete it when the block fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        dir_fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _dump_facts(path: Path, dialect: Dialect) -> dict[str, Any]:
    """Check that ``path`` is a complete SQL dump for ``dialect`` and return the facts of its
    mngs.db header line (empty for dumps written by other tools)."""
    with open(path, "rb") as source:
        first = source.readline(64 * 1024).decode("utf-8", "replace").strip()
        source.seek(max(0, source.seek(0, os.SEEK_END) - _TAIL_BYTES))
        tail = source.read().decode("utf-8", "replace").splitlines()
    facts: dict[str, Any] = {}
    if first.startswith(HEADER):
        try:
            facts = json.loads(first[len(HEADER) :])
        except ValueError:
            facts = {}
        if not isinstance(facts, dict) or "backend" not in facts:
            raise DataError(f"{path} has a damaged mngs.db header line; nothing was restored")
        if facts["backend"] != dialect.name:
            raise ArgumentError(
                f"{path} is a backup of a {facts['backend']} database; "
                f"it cannot be restored into {dialect.name}"
            )
    # Our own dumps must end with our trailer; dumps of other tools with any the backend knows.
    trailers = dialect.dump_trailers[:1] if facts else dialect.dump_trailers
    while tail and (not tail[-1].strip() or tail[-1].strip() == "--" or tail[-1].startswith("\\unrestrict")):
        tail.pop()
    if not tail or tail[-1].strip() not in trailers:
        raise DataError(
            f"{path} is not a complete {dialect.name} backup: it does not end with the line "
            f"{trailers[0]!r}, so it is truncated, corrupt or of another kind; "
            "nothing was restored"
        )
    return facts


class BackupMixin:
    """Methods of :class:`~mngs.db.database.Database`; see the module docstring."""

    _dialect: Dialect
    _ex: Executor

    if TYPE_CHECKING:

        def transaction(self) -> Any: ...
        def table_exists(self, table: str) -> bool: ...

    def backup_database(self, path: str | os.PathLike[str]) -> Path:
        """Write a backup of the whole database to ``path`` and return ``path``.

        SQLite: a SQL text dump for ``.sql``, a binary copy of the file otherwise. PostgreSQL:
        a plain SQL dump of the current schema by ``pg_dump`` (``psql -f`` runs it too).

        >>> db.backup_database("backup_20250530.sql")
        PosixPath('backup_20250530.sql')
        """
        target = Path(path)
        text = target.suffix.lower() in _TEXT_SUFFIXES or not self._dialect.binary_backups
        with _replacing(target) as tmp:
            self._write_dump_header(tmp, "database", text)
            self._dialect.backup(self._ex, tmp, table=None, text=text)
        return target

    def backup_table(self, table: str, path: str | os.PathLike[str]) -> Path:
        """Write a SQL text dump of one table (rows, indexes, sequence position) to ``path``
        and return ``path``; :meth:`restore_database` brings that table back from it.

        >>> db.backup_table("experiments", "experiments_backup.sql")
        PosixPath('experiments_backup.sql')
        """
        target = Path(path)
        if not self.table_exists(table):
            raise ProgrammingError(f"no such table: {table!r}")
        with _replacing(target) as tmp:
            self._write_dump_header(tmp, "table", True, table=table)
            self._dialect.backup(self._ex, tmp, table=table, text=True)
        return target

    def restore_database(self, path: str | os.PathLike[str]) -> None:
        """Make the database equal to the backup at ``path``, all-or-nothing: a missing,
        truncated or corrupt file raises and leaves the database exactly as it was.

        A :meth:`backup_table` file brings back that table only. Inside an open transaction a
        SQL dump is restored as a savepoint; a binary SQLite copy cannot be restored in one.

        >>> db.restore_database("backup_20250530.sql")
        """
        source = Path(path)
        if not source.is_file():
            raise ArgumentError(f"backup file {str(source)!r} does not exist (or is not a file)")
        with open(source, "rb") as head:
            binary = head.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
        with self._ex.lock:
            try:
                if binary:
                    self._dialect.restore_copy(self._ex, source)
                    return
                facts = _dump_facts(source, self._dialect)
                with self._ex.transaction():
                    try:
                        self._dialect.restore_dump(self._ex, source, facts)
                    except UnicodeDecodeError as exc:
                        raise DataError(
                            f"{source} is not valid UTF-8 text (corrupt?); nothing was restored"
                        ) from exc
            finally:
                self._ex.invalidate()

    def _write_dump_header(self, tmp: Path, scope: str, text: bool, **facts: Any) -> None:
        if not text:
            return
        facts = {"backend": self._dialect.name, "scope": scope, **facts}
        facts.update(self._dialect.dump_facts(self._ex))
        with open(tmp, "w", encoding="utf-8", newline="") as out:
            out.write(HEADER + json.dumps(facts, ensure_ascii=False) + "\n")
