"""The README's ```python blocks run as written (on SQLite), so the docs and the code cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
_PRINT_WITH_OUTPUT = re.compile(r"^\s*print\(.*\)\s+#\s+(.+?)\s*$", re.MULTILINE)


def _blocks() -> list[tuple[int, str]]:
    """Each ```python block of the README as (line number of its first code line, code)."""
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in _PYTHON_BLOCK.finditer(text)]


def test_readme_has_python_blocks():
    """The README exists and shows Python code (so the test below cannot pass vacuously)."""
    assert README.is_file()
    assert _blocks()


@pytest.mark.parametrize(
    "line, code",
    [pytest.param(line, code, id=f"line{line}") for line, code in (_blocks() if README.is_file() else [])],
)
def test_readme_block_runs(line, code, tmp_path, monkeypatch, capsys):
    """One README block runs in a fresh namespace inside an empty working directory, and each
    ``print(...)  # output`` line prints the output its comment shows."""
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{README}:{line}", "exec"), {"__name__": "__readme__"})
    printed = capsys.readouterr().out.splitlines()
    for expected in _PRINT_WITH_OUTPUT.findall(code):
        assert expected in printed, f"README.md:{line}: expected a printed line {expected!r}"
