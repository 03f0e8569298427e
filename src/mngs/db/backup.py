"""Backup and restore of whole databases and single tables, as SQL dumps or SQLite file copies.

Formats. On SQLite, ``backup_database(path)`` writes a SQL text dump when ``path`` ends in
``.sql`` and a binary copy of the database file otherwise (``.db``, ``.sqlite``, ...), taken
with SQLite's online backup API. On PostgreSQL it writes a plain SQL dump of the handle's
current schema made by ``pg_dump`` (whatever the extension), which ``psql`` can run too.
``backup_table`` always writes a SQL text dump. A backup goes to a temporary file next to
``path`` (``.<name>.<pid>.<random>.tmp``) that is renamed into place once complete, so ``path``
never holds half a backup; the temporary files of a backup that was killed are removed by the
next backup to the same path (those of processes still running on this machine are left; a
temporary file without a process id, from an older version, once untouched for an hour).
Backups hold committed data only (a separate connection reads a consistent snapshot), except
for a SQLite ``":memory:"`` database, whose only connection is the handle's own.

Verification. Every backup carries what proves it whole:

- A SQL dump starts with ``-- mngs.db backup: {json facts}`` and ends with two comment lines:
  ``-- mngs.db rows: {"table": row count, ...}`` and ``-- mngs.db sha256: <hex>``, the SHA-256
  of every byte of the file before that last line (``head -n -1 dump.sql | sha256sum`` shows
  it). ``psql -f`` and ``sqlite3`` read them as comments.
- A binary SQLite copy ``backup.db`` gets a sidecar file ``backup.db.mngs.json`` with the row
  count of every table and the SHA-256 of the copy's bytes, leaving out the header fields
  SQLite rewrites when it merely opens a file in another journal mode (bytes 18-19, 24-27 and
  92-99: journal mode, change counter, writer's version), so opening the copy, even with a
  handle (WAL), keeps it valid while changing any stored byte does not. Keep the two together.

:meth:`~BackupMixin.verify_backup` checks a file without touching the database;
:meth:`~BackupMixin.restore_database` checks it the same way first and refuses a file that
does not match (:class:`~mngs.db.errors.DataError`, the database unchanged), then checks that
the restore loaded exactly the recorded number of rows into every table before it commits.
Files not written by mngs.db (``sqlite3``'s ``.dump``, a plain database file, a ``pg_dump``
file) carry no checksum: they are restored after the structural checks below, and
``verify_backup`` reports them as ``"verified": False``.

Restore. ``restore_database(path)`` tells the format from the file's content and is
all-or-nothing. A text dump must end with its checksum line (ours) or its "dump complete"
line (other tools'), so a truncated file is refused before anything changes. Then it runs in
one transaction (a savepoint inside an open one), so an error anywhere leaves the database as
it was. A ``backup_database`` dump makes the database equal to the backup: everything it does
not hold is dropped (on PostgreSQL: every table, view, sequence, routine and type of the
current schema). A ``backup_table`` dump, or a dump not written by mngs.db, replaces only the
tables it creates and leaves the others alone; foreign keys of other tables pointing at a
replaced table are kept and checked again, and no ON DELETE action of theirs fires (SQLite
restores with foreign keys off, checked with ``foreign_key_check`` before the commit, so the
tables of a dump may come in any order). A binary SQLite copy is restored with the backup
API, which replaces the database in one step and cannot run inside a transaction.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
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
#: Next-to-last line of our dumps: the row count of every table the dump holds, as JSON.
ROWS = "-- mngs.db rows: "
#: Last line of our dumps: the SHA-256 of every byte before it.
CHECKSUM = "-- mngs.db sha256: "
#: Suffix of the sidecar file that verifies a binary copy.
SIDECAR = ".mngs.json"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_TAIL_BYTES = 4096
_TEXT_SUFFIXES = (".sql",)
_BLOCK = 1 << 20
#: Age after which a temporary file without a process id in its name counts as abandoned.
_LEGACY_STALE_S = 3600.0


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR)


def _remove_stale_temporaries(target: Path) -> None:
    """Delete temporary files left next to ``target`` by backups whose process is gone."""
    prefix = f".{target.name}."
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid = name[len(prefix) :].split(".", 1)[0]
        if not pid.isdigit():  # named by an older version, without its process id
            try:
                if time.time() - entry.stat().st_mtime < _LEGACY_STALE_S:
                    continue
            except OSError:
                continue
        elif int(pid) == os.getpid() or _alive(int(pid)):
            continue
        try:
            os.unlink(entry.path)
        except OSError:
            pass  # another backup removed it first, or it is not ours to remove


def _alive(pid: int) -> bool:
    """True when process ``pid`` runs on this machine (or that cannot be told)."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


@contextmanager
def _replacing(target: Path) -> Iterator[Path]:
    """Yield a temporary file next to ``target``; rename it over ``target`` when the block
    succeeds (after flushing it to disk), delete it when the block fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
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


def _sha256(path: Path, end: int | None = None) -> str:
    """SHA-256 of the file's first ``end`` bytes (all of them by default), read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        left = end
        while left is None or left > 0:
            block = source.read(_BLOCK if left is None else min(_BLOCK, left))
            if not block:
                break
            digest.update(block)
            if left is not None:
                left -= len(block)
    return digest.hexdigest()


def _last_lines(path: Path, count: int) -> list[tuple[int, bytes]]:
    """The file's last ``count`` lines (split on LF only) with their offsets, last one last."""
    with open(path, "rb") as source:
        size = source.seek(0, os.SEEK_END)
        want = _TAIL_BYTES
        while True:
            start = max(0, size - want)
            source.seek(start)
            data = source.read()
            body = data[:-1] if data.endswith(b"\n") else data
            if body.count(b"\n") >= count or start == 0:
                break
            want *= 4
    lines: list[tuple[int, bytes]] = []
    end = len(body)
    for _ in range(count):
        cut = body.rfind(b"\n", 0, end)
        if cut < 0 and start > 0:
            break
        lines.append((start + cut + 1, body[cut + 1 : end]))
        if cut < 0:
            break
        end = cut
    return lines[::-1]


def _read_header(path: Path) -> str:
    with open(path, "rb") as source:
        return source.readline(64 * 1024).decode("utf-8", "replace").rstrip("\n")


def _check_dump(path: Path) -> tuple[dict[str, Any], dict[str, int] | None]:
    """The facts of a SQL dump's mngs.db header line and its recorded row counts, after its
    checksum matched; ``({}, None)`` for a dump written by another tool (no checksum)."""
    first = _read_header(path)
    tail = _last_lines(path, 2)
    last = tail[-1][1].decode("utf-8", "replace") if tail else ""
    ours = first.startswith(HEADER)
    if not ours and not last.startswith(CHECKSUM):
        return {}, None
    facts: Any = None
    if ours:
        try:
            facts = json.loads(first[len(HEADER) :])
        except ValueError:
            facts = None
    if not isinstance(facts, dict) or "backend" not in facts:
        raise DataError(f"{path} has a damaged mngs.db header line; nothing was restored")
    recorded = last[len(CHECKSUM) :].strip()
    if not last.startswith(CHECKSUM) or len(tail) < 2 or not re.fullmatch(r"[0-9a-f]{64}", recorded):
        raise DataError(
            f"{path} is not a complete mngs.db backup: it does not end with its checksum line "
            f"({CHECKSUM.strip()} …), so it is truncated or was cut short; nothing was restored"
        )
    actual = _sha256(path, tail[-1][0])
    if actual != recorded:
        raise DataError(
            f"{path} does not match its checksum (sha256 {actual[:16]}… instead of "
            f"{recorded[:16]}…): the file was changed or damaged after it was written; "
            "nothing was restored"
        )
    rows_line = tail[0][1].decode("utf-8", "replace")
    rows: Any = None
    if rows_line.startswith(ROWS):
        try:
            rows = json.loads(rows_line[len(ROWS) :])
        except ValueError:
            rows = None
    if not isinstance(rows, dict) or not all(isinstance(n, int) for n in rows.values()):
        raise DataError(f"{path} has a damaged row-count line; nothing was restored")
    return facts, rows


def _check_foreign_dump(path: Path, dialect: Dialect) -> None:
    """A dump of another tool must end with a line that tool writes last."""
    lines = [line.decode("utf-8", "replace").strip() for _, line in _last_lines(path, 8)]
    while lines and (not lines[-1] or lines[-1] == "--" or lines[-1].startswith("\\unrestrict")):
        lines.pop()
    if not lines or lines[-1] not in dialect.dump_trailers:
        raise DataError(
            f"{path} is not a complete {dialect.name} backup: it does not end with the line "
            f"{dialect.dump_trailers[-1]!r}, so it is truncated, corrupt or of another kind; "
            "nothing was restored"
        )


def _read_sidecar(path: Path) -> dict[str, Any] | None:
    """The verification facts written beside a binary copy, or None when there are none."""
    side = _sidecar(path)
    if not side.is_file():
        return None
    try:
        facts = json.loads(side.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        facts = None
    if (
        not isinstance(facts, dict)
        or not isinstance(facts.get("rows"), dict)
        or not isinstance(facts.get("sha256"), str)
    ):
        raise DataError(f"{side} (the checksum file of {path.name}) is damaged; nothing was restored")
    return facts


def _nonzero(rows: dict[str, int]) -> dict[str, int]:
    return {name: n for name, n in rows.items() if n}


class BackupMixin:
    """Methods of :class:`~mngs.db.database.Database`; see the module docstring."""

    _dialect: Dialect
    _ex: Executor

    if TYPE_CHECKING:

        def transaction(self) -> Any: ...
        def table_exists(self, table: str) -> bool: ...

    def backup_database(self, path: str | os.PathLike[str]) -> Path:
        """Write a backup of the whole database to ``path`` and return ``path``.

        SQLite: a SQL text dump for ``.sql``, a binary copy of the file otherwise (with its
        checksum file ``<path>.mngs.json``). PostgreSQL: a plain SQL dump of the current
        schema by ``pg_dump`` (``psql -f`` runs it too).

        >>> db.backup_database("backup_20250530.sql")
        PosixPath('backup_20250530.sql')
        """
        target = Path(path)
        text = target.suffix.lower() in _TEXT_SUFFIXES or not self._dialect.binary_backups
        if text:
            with _replacing(target) as tmp:
                self._write_dump(tmp, "database", None)
            return target
        from .dialects.sqlite import copy_digest

        with _replacing(_sidecar(target)) as side, _replacing(target) as tmp:
            self._dialect.backup(self._ex, tmp, table=None, text=False)
            rows, digest = copy_digest(tmp)
            facts = {"backend": self._dialect.name, "format": "sqlite copy", "file": target.name,
                     "rows": rows, "sha256": digest}  # fmt: skip
            side.write_text(json.dumps(facts, ensure_ascii=True, indent=1) + "\n", encoding="utf-8")
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
            self._write_dump(tmp, "table", table)
        return target

    def verify_backup(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Check a backup file without restoring it and describe it; nothing is changed.

        Returns ``{"ok", "verified", "format", "backend", "scope", "tables", "sha256"}``:
        ``tables`` maps each table to its row count. A file that does not match its checksum
        or row counts, or is truncated, raises :class:`~mngs.db.errors.DataError` naming what
        is wrong. A file written by another tool has nothing to check against: ``ok`` and
        ``verified`` are False and ``reason`` says so.

        >>> db.verify_backup("backup_20250530.sql")["ok"]
        True
        """
        source = self._existing(path)
        if self._is_copy(source):
            from .dialects.sqlite import check_copy

            facts = _read_sidecar(source)
            rows, digest = check_copy(source, facts)
            report: dict[str, Any] = {"format": "sqlite copy", "backend": "sqlite", "scope": "database",
                                      "tables": rows, "sha256": digest}  # fmt: skip
            if facts is None:
                reason = f"no checksum file {_sidecar(source).name}: not written by mngs.db"
                return {**report, "ok": False, "verified": False, "reason": reason}
            return {**report, "ok": True, "verified": True}
        facts, rows = _check_dump(source)
        if rows is None:
            return {"ok": False, "verified": False, "format": "sql", "backend": None, "scope": None,
                    "tables": None, "sha256": None,
                    "reason": "no mngs.db checksum: a dump written by another tool"}  # fmt: skip
        return {"ok": True, "verified": True, "format": "sql", "backend": facts["backend"],
                "scope": facts.get("scope"), "tables": rows,
                "sha256": _last_lines(source, 1)[0][1].decode()[len(CHECKSUM):].strip()}  # fmt: skip

    def restore_database(self, path: str | os.PathLike[str]) -> None:
        """Make the database equal to the backup at ``path``, all-or-nothing: a missing,
        truncated, corrupt or changed file (see :meth:`verify_backup`) raises and leaves the
        database exactly as it was.

        A :meth:`backup_table` file brings back that table only. Inside an open transaction a
        SQL dump is restored as a savepoint; a binary SQLite copy cannot be restored in one.

        >>> db.restore_database("backup_20250530.sql")
        """
        source = self._existing(path)
        binary = self._is_copy(source)
        with self._ex.lock:
            try:
                if binary:
                    self._dialect.restore_copy(self._ex, source, _read_sidecar(source))
                    return
                facts, recorded = _check_dump(source)
                if recorded is None:
                    _check_foreign_dump(source, self._dialect)
                elif facts["backend"] != self._dialect.name:
                    raise ArgumentError(
                        f"{source} is a backup of a {facts['backend']} database; "
                        f"it cannot be restored into {self._dialect.name}"
                    )
                with self._dialect.schema_change(self._ex):
                    try:
                        loaded = self._dialect.restore_dump(self._ex, source, facts)
                    except UnicodeDecodeError as exc:
                        raise DataError(
                            f"{source} is not valid UTF-8 text (corrupt?); nothing was restored"
                        ) from exc
                    if recorded is not None and _nonzero(loaded) != _nonzero(recorded):
                        wrong = sorted(
                            t for t in set(loaded) | set(recorded) if loaded.get(t, 0) != recorded.get(t, 0)
                        )
                        raise DataError(
                            f"restoring {source} loaded other row counts than the backup records "
                            f"(table {wrong[0]!r}: {loaded.get(wrong[0], 0)} instead of "
                            f"{recorded.get(wrong[0], 0)}); nothing was restored"
                        )
            finally:
                self._ex.invalidate()

    @staticmethod
    def _existing(path: str | os.PathLike[str]) -> Path:
        source = Path(path)
        if not source.is_file():
            raise ArgumentError(f"backup file {str(source)!r} does not exist (or is not a file)")
        return source

    @staticmethod
    def _is_copy(source: Path) -> bool:
        with open(source, "rb") as head:
            return head.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC

    def _write_dump(self, tmp: Path, scope: str, table: str | None) -> None:
        """Header line, the dialect's dump, then the row counts and the checksum lines."""
        facts: dict[str, Any] = {"backend": self._dialect.name, "scope": scope}
        if table is not None:
            facts["table"] = table
        facts.update(self._dialect.dump_facts(self._ex))
        with open(tmp, "w", encoding="utf-8", newline="") as out:
            out.write(HEADER + json.dumps(facts, ensure_ascii=True) + "\n")
        rows = self._dialect.backup(self._ex, tmp, table=table, text=True)
        with open(tmp, "a", encoding="utf-8", newline="") as out:
            out.write(ROWS + json.dumps(rows, ensure_ascii=True, sort_keys=True) + "\n")
        digest = _sha256(tmp)
        with open(tmp, "a", encoding="utf-8", newline="") as out:
            out.write(CHECKSUM + digest + "\n")
