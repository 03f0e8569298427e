"""The README's code blocks run as written (on SQLite), twice in the same folder, so the docs and
the code cannot drift: ```python blocks in a fresh namespace, ```console sessions through the shell
with each command's output compared with the lines shown under it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
_CONSOLE_BLOCK = re.compile(r"^```console\n(.*?)^```", re.DOTALL | re.MULTILINE)
_PRINT_WITH_OUTPUT = re.compile(r"^\s*print\(.*\)\s+#\s+(.+?)\s*$", re.MULTILINE)


def _blocks(pattern: re.Pattern[str] = _PYTHON_BLOCK) -> list[tuple[int, str]]:
    """Each block of the README as (line number of its first code line, code)."""
    if not README.is_file():
        return []
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in pattern.finditer(text)]


def _session(block: str) -> list[tuple[str, list[str]]]:
    """A console block as (command, the output lines shown after it) pairs."""
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
    return steps


def _point_libpq_at_the_test_server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Set PGHOST, PGPORT, PGDATABASE, PGUSER (and PGOPTIONS for a fresh schema, dropped after
    the test) from the test server's DSN."""
    import uuid

    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict

    dsn: str = request.getfixturevalue("pg_dsn")
    names = {"host": "PGHOST", "port": "PGPORT", "dbname": "PGDATABASE", "user": "PGUSER",
             "password": "PGPASSWORD"}  # fmt: skip
    for key, value in conninfo_to_dict(dsn).items():
        if key in names:
            monkeypatch.setenv(names[key], str(value))
    schema = f"readme_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))

    def drop() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))

    request.addfinalizer(drop)
    monkeypatch.setenv("PGOPTIONS", f"-c search_path={schema}")


def test_readme_has_code_blocks():
    """The README exists and shows Python code and a console session (so the tests below cannot
    pass vacuously)."""
    assert README.is_file()
    assert _blocks()
    assert _blocks(_CONSOLE_BLOCK)


@pytest.mark.parametrize(
    "line, code", [pytest.param(line, code, id=f"line{line}") for line, code in _blocks()]
)
def test_readme_block_runs(line, code, tmp_path, monkeypatch, capsys, request):
    """One README block runs in a fresh namespace inside an empty working directory, and again
    in the same directory; each time every ``print(...)  # output`` line prints its output.
    A PostgreSQL block runs against the test server, named by libpq's PG* variables, in a
    schema of its own."""
    monkeypatch.chdir(tmp_path)
    if "mngs.db.PostgreSQL(" in code:
        _point_libpq_at_the_test_server(request, monkeypatch)
    for attempt in ("first", "second"):
        exec(compile(code, f"{README}:{line}", "exec"), {"__name__": "__readme__"})
        printed = capsys.readouterr().out.splitlines()
        for expected in _PRINT_WITH_OUTPUT.findall(code):
            assert expected in printed, (
                f"README.md:{line} ({attempt} run): expected a printed line {expected!r}"
            )


@pytest.mark.parametrize(
    "line, block", [pytest.param(line, block, id=f"line{line}") for line, block in _blocks(_CONSOLE_BLOCK)]
)
def test_readme_console_session_runs(line, block, tmp_path):
    """Each ``$ command`` of a console session prints (stdout and stderr together) exactly the
    lines shown under it, in an empty directory and again in the same directory."""
    if shutil.which("bash") is None:
        pytest.skip("the console sessions need bash")
    scripts = str(Path(sys.executable).parent)
    if not (Path(scripts) / "mngs-db").exists():
        pytest.skip("mngs-db is not installed next to this Python (pip install -e .)")
    env = {**os.environ, "PATH": scripts + os.pathsep + os.environ.get("PATH", "")}
    env.pop("PGPASSWORD", None)
    steps = _session(block)
    assert steps, f"README.md:{line}: a console block without $ commands"
    for attempt in ("first", "second"):
        for command, expected in steps:
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=120,
            )
            assert done.stdout.splitlines() == expected, f"README.md:{line} ({attempt} run): $ {command}"
