"""The ``mngs-db`` command line: inspect, query, load, export, back up and maintain a database.

Every command takes the command name first, then the database: a SQLite file path or a
``postgresql://`` URL (libpq's ``PG*`` environment variables fill what the URL leaves out).
Errors print one line to standard error and exit with status 1 (2 for bad usage); ``--debug``
adds the traceback. A password in the URL is never printed.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn, TextIO
from urllib.parse import parse_qs, unquote, urlsplit

import click

import mngs.db

from .csvformat import CsvFile, CsvWriter, csv_text, parse_column, parser_for
from .inference import INT64, infer_columns, infer_csv_columns

__all__ = ["cli", "main"]

FORMATS = ("table", "csv", "json", "jsonl")
_URL_SCHEMES = ("postgresql://", "postgres://", "sqlite://", "sqlite3://")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_ROW_STATEMENT = re.compile(r"\s*\(*\s*(SELECT|WITH|VALUES|TABLE|SHOW|EXPLAIN|PRAGMA)\b", re.IGNORECASE)
_BATCH_ROWS = 10_000
_CELL_WIDTH = 60


class CliError(Exception):
    """An error the command line reports as one line (exit status 1)."""


class _State:
    """What the error handler needs to know: --debug, and the secrets to blank out."""

    debug = False
    secrets: set[str] = set()


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        _State.debug = True


_debug_option = click.option(
    "--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
    help="Show the full traceback of an error.",
)  # fmt: skip


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with passwords blanked out: the given ones, and any in a URL or ``password=``."""
    for secret in sorted(set(secrets) | _State.secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return _KEYWORD_PASSWORD.sub(r"\1***", text)


def _remember_secrets(target: str) -> None:
    """Note the password of a URL (and $PGPASSWORD) so no message can show it."""
    if os.environ.get("PGPASSWORD"):
        _State.secrets.add(os.environ["PGPASSWORD"])
    if "://" in target:
        try:
            parts = urlsplit(target)
            passwords = [parts.password or "", *parse_qs(parts.query).get("password", [])]
        except ValueError:
            passwords = []
        _State.secrets.update(p for password in passwords if password for p in (password, unquote(password)))


def _is_url(target: str) -> bool:
    return target.lower().startswith(_URL_SCHEMES)


def open_database(target: str, *, create: bool = False) -> mngs.db.Database:
    """A handle to ``target``: a ``postgresql://``/``sqlite://`` URL or a SQLite file path.

    A SQLite file that does not exist is created only when ``create`` is true (the commands
    that write); the others refuse, so a typo never leaves an empty database behind."""
    _remember_secrets(target)
    if _is_url(target):
        if target.lower().startswith(("sqlite://", "sqlite3://")):
            return mngs.db.connect(target)
        return mngs.db.PostgreSQL(dsn=target)
    path = Path(target)
    if path.is_dir():
        raise CliError(f"{target!r} is a folder, not a SQLite database file")
    if not path.exists():
        if not create:
            raise CliError(f"no such database file: {target!r}")
        if not path.parent.is_dir():
            raise CliError(
                f"cannot create database file {target!r}: folder {str(path.parent)!r} does not exist"
            )
    return mngs.db.SQLite3(path)


@contextlib.contextmanager
def _database(target: str, *, create: bool = False) -> Iterator[mngs.db.Database]:
    db = open_database(target, create=create)
    try:
        yield db
    finally:
        db.close()


def _on_terminal(stream: TextIO | None) -> bool:
    return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())


def _bar(total: int | None, what: str, unit: str = "rows", **options: Any) -> Any:
    """A tqdm progress bar on stderr, shown only on a terminal and only for slow work."""
    from tqdm import tqdm

    return tqdm(
        total=total, desc=what, unit=unit, unit_scale=True, disable=not _on_terminal(sys.stderr),
        delay=0.5, leave=False, file=sys.stderr, **options,
    )  # fmt: skip


@contextlib.contextmanager
def _ticking(what: str) -> Iterator[None]:
    """An elapsed-time bar for work that reports no progress of its own (backup, restore)."""
    if not _on_terminal(sys.stderr):
        yield
        return
    done = threading.Event()
    with _bar(None, what, unit="s", bar_format="{desc}: {elapsed} elapsed") as bar:

        def tick() -> None:
            while not done.wait(0.5):
                bar.update(0.5)

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            yield
        finally:
            done.set()
            ticker.join()


# -- values as text ------------------------------------------------------------------------
def json_value(value: Any) -> Any:
    """A value JSON cannot hold as it is: bytes as ``\\x`` hex (as in CSV), dates and times
    as ISO 8601, Decimals as numbers when whole, else as text (never rounded)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, _dt.datetime):
        return value.isoformat(" ")
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value.is_finite() and value == value.to_integral_value() else str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"a {type(value).__name__} value cannot be written as JSON")


def _dumps(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, default=json_value, indent=indent)


def _cell(value: Any) -> str:
    """One value as short text for a terminal table."""
    if value is None:
        return "NULL"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        text = _dumps(value)
    elif isinstance(value, _dt.datetime):
        text = value.isoformat(" ")
    else:
        text = str(value)
    text = " ".join(text.split()) if ("\n" in text or "\t" in text) else text
    return text if len(text) <= _CELL_WIDTH else text[: _CELL_WIDTH - 1] + "…"


def print_rows(rows: Sequence[Mapping[str, Any]], fmt: str, out: TextIO | None = None) -> None:
    """Write rows as a terminal table, CSV (the export format), a JSON array or JSON lines."""
    out = out or sys.stdout
    if fmt == "json":
        out.write(_dumps(list(rows), indent=2) + "\n")
    elif fmt == "jsonl":
        for row in rows:
            out.write(_dumps(row) + "\n")
    elif fmt == "csv":
        if rows:
            names = list(rows[0])
            writer = CsvWriter(names, ",")
            out.write(writer.header)
            out.write(writer.rows([[csv_text(row.get(n)) for n in names] for row in rows]))
    elif rows:
        from tabulate import tabulate

        names = list(rows[0])
        cells = [[_cell(row.get(n)) for n in names] for row in rows]
        numeric = [
            all(isinstance(row.get(n), (int, float, Decimal)) and not isinstance(row.get(n), bool)
                for row in rows if row.get(n) is not None)
            for n in names
        ]  # fmt: skip
        aligns = ["right" if right else "left" for right in numeric]
        out.write(
            tabulate(cells, headers=names, tablefmt="psql", disable_numparse=True, colalign=aligns) + "\n"
        )
        out.write(f"({len(rows)} row{'s' * (len(rows) != 1)})\n")
    else:
        out.write("(0 rows)\n")


# -- reading records -----------------------------------------------------------------------
def _format_of(
    path: str, flags: Mapping[str, bool], allowed: Sequence[str] = ("csv", "json", "jsonl")
) -> str:
    chosen = [name for name, on in flags.items() if on]
    if len(chosen) > 1:
        raise click.UsageError(f"choose one of {', '.join('--' + c for c in chosen)}")
    if chosen:
        return chosen[0]
    suffix = Path(path).suffix.lower().lstrip(".")
    kind = {"ndjson": "jsonl", "tsv": None}.get(suffix, suffix)
    if kind in allowed:
        return kind
    if path == "-":
        raise click.UsageError("standard input/output needs --csv, --json or --jsonl")
    raise click.UsageError(
        f"cannot tell the format of {path!r} from its extension: name it .csv, .json or .jsonl, "
        "or pass --csv, --json or --jsonl"
    )


def _open_text(path: str) -> TextIO:
    if path == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig")
    try:
        return open(path, encoding="utf-8-sig")
    except OSError as exc:
        raise CliError(f"cannot read {path!r}: {exc.strerror or exc}") from exc


def _checked(record: Any, where: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise CliError(f"{where}: expected a JSON object (one row), found {type(record).__name__}")
    return record


def read_json_records(path: str, lines: bool) -> Iterator[dict[str, Any]]:
    """The records of a JSON array or JSON-lines file (``-``: standard input), checked to be
    objects; errors name the file and line."""
    name = "<stdin>" if path == "-" else path
    with _open_text(path) as f:
        if not lines:
            text = f.read()
            start = text.lstrip()[:1]
            if start == "{":  # a .json file holding JSON lines (or one object)
                yield from _json_lines(io.StringIO(text), name)
                return
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise CliError(
                    f"{name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
                ) from exc
            if not isinstance(data, list):
                raise CliError(f"{name}: expected a JSON array of objects, found {type(data).__name__}")
            for index, record in enumerate(data):
                yield _checked(record, f"{name}, item {index + 1}")
            return
        yield from _json_lines(f, name)


def _json_lines(f: TextIO, name: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(f, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CliError(f"{name}, line {number}: not valid JSON ({exc.msg}, column {exc.colno})") from exc
        yield _checked(record, f"{name}, line {number}")


_CONVERTED_TYPES = re.compile(r"^\s*(BLOB|BYTEA|TIMESTAMP|DATETIME|DATE|TIME|DECIMAL|NUMERIC)\b", re.I)


def _converters(declared: Mapping[str, str]) -> dict[str, Callable[[str], Any]]:
    """For columns whose values JSON carries as text (bytes, dates and times, decimals): how
    that text becomes the column's value."""
    out: dict[str, Callable[[str], Any]] = {}
    for name, sqltype in declared.items():
        if _CONVERTED_TYPES.match(sqltype or ""):
            parse = parser_for(sqltype)
            if parse is not None:
                out[name] = parse
    return out


def _prepared(
    records: Iterable[dict[str, Any]], converters: Mapping[str, Callable[[str], Any]]
) -> Iterator[dict[str, Any]]:
    """Records ready to bind: text converted for typed columns, integers beyond 64 bits as
    text (no database stores them as integers, and they must never become floats)."""
    for number, record in enumerate(records, start=1):
        for key, value in record.items():
            if type(value) is int and not INT64[0] <= value <= INT64[1]:
                record[key] = str(value)
            elif type(value) is str and key in converters:
                try:
                    record[key] = converters[key](value)
                except (ValueError, TypeError, ArithmeticError) as exc:
                    raise CliError(
                        f"record {number}, column {key!r}: {value!r} is not a valid value"
                    ) from exc
        yield record


#: Column types that differ from the portable ones, by backend: JSONB, as import_from_csv uses.
_BACKEND_TYPES: dict[str, dict[str, str]] = {"postgresql": {"json": "JSONB"}}


def _create(db: mngs.db.Database, table: str, columns: dict[str, str], pk: Sequence[str]) -> None:
    missing = [name for name in pk if name not in columns]
    if missing:
        raise CliError(f"--pk names column(s) {missing} that the data does not have (it has {list(columns)})")
    if len(pk) == 1:
        columns[pk[0]] += " PRIMARY KEY"
    db.create_table(table, columns, primary_key=list(pk) if len(pk) > 1 else None)


# -- the commands --------------------------------------------------------------------------
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mngs-db", prog_name="mngs-db")
@_debug_option
def cli() -> None:
    """Work with a SQLite file or a PostgreSQL database from the terminal.

    DB is a SQLite file path or a postgresql://user@host:port/dbname URL; libpq's PG*
    environment variables (PGPASSWORD, PGHOST, ...) fill in what the URL leaves out.
    """


def _command(*args: Any, **kwargs: Any) -> Callable[[Callable], click.Command]:
    def decorate(f: Callable) -> click.Command:
        return cli.command(*args, **kwargs)(_debug_option(f))

    return decorate


_db_argument = click.argument("db", metavar="DB")


@_command()
@_db_argument
@click.option("--counts", is_flag=True, help="Show each table's row count.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def tables(db: str, counts: bool, as_json: bool) -> None:
    """List the tables, one name per line."""
    with _database(db) as handle:
        names = handle.list_tables()
        if counts:
            rows = [{"table": name, "count": handle.count(name)} for name in names]
            if as_json:
                click.echo(_dumps(rows, indent=2))
            else:
                width = max((len(n) for n in names), default=0)
                for row in rows:
                    click.echo(f"{row['table']:<{width}}  {row['count']}")
        elif as_json:
            click.echo(_dumps(names))
        else:
            for name in names:
                click.echo(name)


@_command()
@_db_argument
@click.argument("table", required=False)
def schema(db: str, table: str | None) -> None:
    """Print the CREATE TABLE statements (of one TABLE, or of all)."""
    with _database(db) as handle:
        inspector = mngs.db.inspect(handle)
        names = [table] if table else handle.list_tables()
        if table and not handle.table_exists(table):
            raise CliError(f"no such table: {table!r}")
        for name in names:
            click.echo(inspector.get_create_table_sql(name).rstrip().rstrip(";") + ";")


@_command()
@_db_argument
@click.argument("table")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def indexes(db: str, table: str, as_json: bool) -> None:
    """List the indexes of TABLE."""
    with _database(db) as handle:
        if not handle.table_exists(table):
            raise CliError(f"no such table: {table!r}")
        rows = [
            {"name": i["name"], "columns": list(i["columns"]), "unique": i["unique"], "primary": i["primary"]}
            for i in handle.list_indexes(table)
        ]
        if as_json:
            click.echo(_dumps(rows, indent=2))
        else:
            print_rows([{**r, "columns": ", ".join(r["columns"])} for r in rows], "table")


@_command()
@_db_argument
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def stats(db: str, as_json: bool) -> None:
    """Print facts about the database: size, tables, indexes, rows."""
    with _database(db) as handle:
        facts = handle.get_stats()
    if as_json:
        click.echo(redact(_dumps(facts, indent=2)))
        return
    for key, value in facts.items():
        if key == "rows":
            value = ", ".join(f"{t}={n}" for t, n in value.items()) or "-"
        elif key == "tables":
            value = ", ".join(value) or "-"
        click.echo(redact(f"{key}: {value}"))


@_command()
@_db_argument
def summary(db: str) -> None:
    """Print each table with its columns and first rows."""
    with _database(db) as handle:
        click.echo(redact(handle.summary))


@_command()
@_db_argument
@click.argument("sql")
@click.option(
    "-p",
    "--param",
    "params",
    type=(str, str),
    multiple=True,
    metavar="NAME VALUE",
    help="Bind :NAME in the SQL to VALUE (text; cast in SQL where needed). Repeatable.",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Output format (default: table on a terminal, json otherwise).",
)
def query(db: str, sql: str, params: Sequence[tuple[str, str]], fmt: str | None) -> None:
    """Run one SQL statement and print the rows it returns.

    \b
    mngs-db query lab.db "SELECT * FROM runs WHERE name = :name" -p name baseline
    """
    fmt = fmt or ("table" if _on_terminal(sys.stdout) else "json")
    bound = dict(params) if params else None
    with _database(db) as handle:
        rows = handle.execute(sql, bound)
    if not rows and not _ROW_STATEMENT.match(sql):  # INSERT, UPDATE, DDL, ...: no rows to show
        if rows.rowcount >= 0:
            click.echo(f"{rows.rowcount} row{'s' * (rows.rowcount != 1)} affected", err=True)
        return
    print_rows(rows, fmt)


_format_flags = [
    click.option("--csv", "as_csv", is_flag=True, help="The file is CSV (header row first)."),
    click.option("--json", "as_json", is_flag=True, help="The file is a JSON array of objects."),
    click.option("--jsonl", "as_jsonl", is_flag=True, help="The file has one JSON object per line."),
]


def _with_format_flags(f: Callable) -> Callable:
    for option in reversed(_format_flags):
        f = option(f)
    return f


@_command()
@_db_argument
@click.argument("table")
@click.argument("file", metavar="FILE")
@_with_format_flags
@click.option(
    "--pk",
    "pk",
    multiple=True,
    metavar="COL",
    help="Primary key of a table created from the data (repeat for a composite key).",
)
@click.option("--upsert", is_flag=True, help="Update rows whose primary key (or --pk) exists already.")
def insert(
    db: str,
    table: str,
    file: str,
    as_csv: bool,
    as_json: bool,
    as_jsonl: bool,
    pk: Sequence[str],
    upsert: bool,
) -> None:
    """Insert the rows of FILE into TABLE, creating it if needed.

    FILE is CSV, a JSON array or JSON lines, by its extension or --csv/--json/--jsonl; - reads
    standard input. A missing TABLE is created with column types inferred from the data."""
    kind = _format_of(file, {"csv": as_csv, "json": as_json, "jsonl": as_jsonl})
    with _database(db, create=True) as handle:
        if kind == "csv":
            count = _insert_csv(handle, table, file, list(pk), upsert)
        else:
            count = _insert_json(handle, table, file, kind == "jsonl", list(pk), upsert)
    click.echo(
        f"{count} row{'s' * (count != 1)} {'upserted' if upsert else 'inserted'} into {table}", err=True
    )


def _insert_json(
    db: mngs.db.Database, table: str, file: str, lines: bool, pk: list[str], upsert: bool
) -> int:
    records = read_json_records(file, lines)
    with db.transaction():
        if db.table_exists(table):
            _check_upsert_key(db, table, pk, upsert)
        else:
            records = list(records)  # twice: once to infer the columns, once to insert
            if not records:
                raise CliError(f"{file!r} holds no rows to create table {table!r} from")
            _create(db, table, infer_columns(records, _BACKEND_TYPES.get(db.backend)), pk)
        declared = {c["name"]: c["type"] for c in db.get_columns(table)}
        bar = _bar(len(records) if isinstance(records, list) else None, "insert")
        with bar:
            counted = _counting(_prepared(records, _converters(declared)), bar)
            return db.insert_many(
                table,
                counted,
                on_conflict="update" if upsert else None,
                conflict_columns=pk or None if upsert else None,
            )


def _check_upsert_key(db: mngs.db.Database, table: str, pk: Sequence[str], upsert: bool) -> None:
    """--upsert into an existing table needs a key: --pk, or the table's primary key."""
    if upsert and not pk and not any(c["primary_key"] for c in db.get_columns(table)):
        raise CliError(
            f"--upsert needs a key: table {table!r} has no primary key; name its key column(s) with --pk"
        )


def _counting(records: Iterable[Any], bar: Any) -> Iterator[Any]:
    for record in records:
        yield record
        bar.update(1)


@contextlib.contextmanager
def _csv_path(file: str) -> Iterator[str]:
    """A path for CSV read from ``file`` (standard input copied to a temporary file)."""
    if file != "-":
        if not os.path.isfile(file):
            raise CliError(f"cannot read {file!r}: no such file")
        yield file
        return
    with tempfile.TemporaryDirectory(prefix="mngs-db-") as folder:
        path = os.path.join(folder, "stdin.csv")
        with open(path, "wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out)
        yield path


def _insert_csv(db: mngs.db.Database, table: str, file: str, pk: list[str], upsert: bool) -> int:
    with _csv_path(file) as path, db.transaction():
        if db.table_exists(table):
            _check_upsert_key(db, table, pk, upsert)
        else:
            _create(db, table, infer_csv_columns(path, _BACKEND_TYPES.get(db.backend)), pk)
        if not upsert:
            return db.import_from_csv(table, path, create=False)
        return db.insert_many(
            table, _csv_records(db, table, path), on_conflict="update", conflict_columns=pk or None
        )


def _csv_records(db: mngs.db.Database, table: str, path: str) -> Iterator[dict[str, Any]]:
    """The records of a CSV file, each value parsed for its column's declared type."""
    source = CsvFile(path, ",", "utf-8")
    declared = {c["name"]: c["type"] for c in db.get_columns(table)}
    unknown = [name for name in source.header if name not in declared]
    if unknown:
        raise CliError(f"{path}: the header names column(s) {unknown} that table {table!r} does not have")
    header = source.header
    parsers = [(i, parser_for(declared[name]), declared[name]) for i, name in enumerate(header)]
    with _bar(os.path.getsize(path), "insert", unit="B") as bar:
        for first, columns in source.batches(_BATCH_ROWS):
            for i, parse, sqltype in parsers:
                if parse is not None:
                    columns[i] = parse_column(source, columns[i], parse, sqltype, first, i)
            yield from (dict(zip(header, row)) for row in zip(*columns))
            bar.update(source.consumed - bar.n)


@_command()
@_db_argument
@click.argument("table")
@click.argument("file", metavar="FILE")
@_with_format_flags
def export(db: str, table: str, file: str, as_csv: bool, as_json: bool, as_jsonl: bool) -> None:
    """Write the rows of TABLE to FILE.

    CSV, JSON array or JSON lines, by FILE's extension or --csv/--json/--jsonl; - writes to
    standard output."""
    kind = _format_of(file, {"csv": as_csv, "json": as_json, "jsonl": as_jsonl})
    with _database(db) as handle:
        if not handle.table_exists(table):
            raise CliError(f"no such table: {table!r}")
        if kind == "csv" and file != "-":
            count = handle.export_to_csv(table, file)  # streamed (COPY on PostgreSQL)
        else:
            count = _export_stream(handle, table, file, kind)
    click.echo(f"{count} row{'s' * (count != 1)} exported from {table}", err=True)


@contextlib.contextmanager
def _output(file: str) -> Iterator[TextIO]:
    """Standard output, or ``file`` written through a temporary file moved into place."""
    if file == "-":
        yield sys.stdout
        return
    part = file + ".part"
    try:
        out = open(part, "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise CliError(f"cannot write {file!r}: {exc.strerror or exc}") from exc
    try:
        with out:
            yield out
        os.replace(part, file)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(part)
        raise


def _export_stream(db: mngs.db.Database, table: str, file: str, kind: str) -> int:
    total = db.count(table)
    count = 0
    with _output(file) as out, _bar(total, "export") as bar:
        rows = db.select_iter(table)
        if kind == "json":
            out.write("[")
        writer: CsvWriter | None = None
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == _BATCH_ROWS:
                writer = _write_batch(out, kind, batch, count, writer)
                count += len(batch)
                bar.update(len(batch))
                batch = []
        if batch:
            writer = _write_batch(out, kind, batch, count, writer)
            count += len(batch)
            bar.update(len(batch))
        if kind == "json":
            out.write("\n]\n" if count else "]\n")
        if kind == "csv" and writer is None:
            out.write(CsvWriter([c["name"] for c in db.get_columns(table)], ",").header)
    return count


def _write_batch(
    out: TextIO, kind: str, batch: list[dict[str, Any]], before: int, writer: CsvWriter | None
) -> CsvWriter | None:
    if kind == "jsonl":
        out.write("".join(_dumps(row) + "\n" for row in batch))
    elif kind == "json":
        out.write(("," if before else "") + ",".join("\n" + _dumps(row) for row in batch))
    else:
        if writer is None:
            writer = CsvWriter(list(batch[0]), ",")
            out.write(writer.header)
        out.write(writer.rows([[csv_text(v) for v in row.values()] for row in batch]))
    return writer


@_command()
@_db_argument
@click.argument("file", metavar="FILE")
def backup(db: str, file: str) -> None:
    """Back the database up to FILE.

    SQL text for a .sql FILE; on SQLite any other name gets a binary copy of the file."""
    with _database(db) as handle, _ticking("backup"):
        path = handle.backup_database(file)
    click.echo(f"backed up to {path}", err=True)


@_command()
@_db_argument
@click.argument("file", metavar="FILE")
def restore(db: str, file: str) -> None:
    """Make the database equal to the backup FILE (all or nothing)."""
    if not os.path.isfile(file):
        raise CliError(f"no such backup file: {file!r}")
    with _database(db, create=True) as handle, _ticking("restore"):
        handle.restore_database(file)
    click.echo(f"restored from {file}", err=True)


@_command()
@_db_argument
@click.argument("table", required=False)
def vacuum(db: str, table: str | None) -> None:
    """Reclaim the space of deleted rows (VACUUM)."""
    with _database(db) as handle:
        handle.vacuum(table)


@_command()
@_db_argument
@click.argument("table", required=False)
def analyze(db: str, table: str | None) -> None:
    """Refresh the query planner's statistics (ANALYZE)."""
    with _database(db) as handle:
        handle.analyze(table)


@_command()
@_db_argument
@click.argument("out", metavar="OUT.png|OUT.svg|OUT.dot|OUT.mmd")
def diagram(db: str, out: str) -> None:
    """Draw the schema as an image or diagram source.

    PNG or SVG (needs Graphviz), Graphviz DOT (.dot) or Mermaid (.mmd) source, by OUT's
    extension."""
    suffix = Path(out).suffix.lower()
    if suffix not in (".png", ".svg", ".pdf", ".dot", ".gv", ".mmd"):
        raise click.UsageError(f"{out!r}: name the diagram .png, .svg, .dot or .mmd")
    with _database(db) as handle:
        inspector = mngs.db.inspect(handle)
        if suffix in (".dot", ".gv", ".mmd"):
            source = inspector.schema_mermaid() if suffix == ".mmd" else inspector.schema_dot()
            with _output(out) as f:
                f.write(source.rstrip("\n") + "\n")
        else:
            inspector.generate_schema_diagram(out)
    click.echo(f"wrote {out}", err=True)


@_command()
@_db_argument
@click.argument("table")
@click.option("--columns", default=None, metavar="A,B", help="Compare only these columns (default: all).")
@click.option("--dry-run", is_flag=True, help="Only count the duplicates; delete nothing.")
def dedupe(db: str, table: str, columns: str | None, dry_run: bool) -> None:
    """Delete all but the first of each group of equal rows of TABLE."""
    names = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    with _database(db) as handle:
        count = handle.delete_duplicates(table, names, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {count} duplicate row{'s' * (count != 1)} of {table}")


@_command()
@_db_argument
@click.argument("table")
@click.argument("text", metavar="QUERY")
@click.option("--limit", type=int, default=20, show_default=True, help="At most this many rows (0: all).")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Output format (default: table on a terminal, json otherwise).",
)
def search(db: str, table: str, text: str, limit: int, fmt: str | None) -> None:
    """Full-text search of TABLE, best match first.

    TABLE must have been made searchable with enable_search()."""
    fmt = fmt or ("table" if _on_terminal(sys.stdout) else "json")
    with _database(db) as handle:
        rows = handle.search(table, text, limit=limit or None)
    print_rows(rows, fmt)


# -- entry point ---------------------------------------------------------------------------
def _fail(message: str, status: int = 1) -> NoReturn:
    line = " ".join(redact(message).split())
    click.echo(f"Error: {line}", err=True)
    sys.exit(status)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line; errors become one line on stderr and a non-zero exit status."""
    _State.debug, _State.secrets = False, set()
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="mngs-db", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        _fail("interrupted", 130)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        _fail(exc.format_message() + hint, exc.exit_code)
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - no flush error at exit
        sys.exit(1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # anything: one redacted line, the traceback only with --debug
        if _State.debug:
            click.echo(redact("".join(traceback.format_exception(exc))), err=True, nl=False)
        if isinstance(exc, (CliError, mngs.db.Error)):
            _fail(str(exc))
        if isinstance(exc, OSError) and exc.filename is not None:
            _fail(f"{exc.filename}: {exc.strerror or exc}")
        _fail(f"{type(exc).__name__}: {exc}")
