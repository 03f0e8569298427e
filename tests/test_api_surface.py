"""Every method, attribute and module-level name the design document uses exists on both backends.

The document is ``shared/spec/mngs-db.md`` beside the repository (``MNGS_SPEC_PATH`` overrides).
A missing document fails these tests rather than skipping them: CI checks it out beside the clone.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

import pytest

import mngs.db

CLASSES = [mngs.db.SQLite3, mngs.db.PostgreSQL]

_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
_HANDLE = r"(?:(?<![\w.])db|self\.db|self\.local|self\.remote)"
_METHOD_CALL = re.compile(_HANDLE + r"\.(\w+)\s*\(")
_ATTRIBUTE = re.compile(_HANDLE + r"\.(\w+)\b(?!\s*\()")
_MODULE_CALL = re.compile(r"\bmngs\.db\.(\w+)\s*\(")
_HANDLE_CALL = re.compile(r"(?<![\w.])db\(\)")


def spec_path() -> Path:
    """Where the design document is: $MNGS_SPEC_PATH, else shared/ beside the repository."""
    override = os.environ.get("MNGS_SPEC_PATH")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "shared/spec/mngs-db.md"


@cache
def spec_code() -> str:
    """The text of every ```python block of the design document (fails the test if missing)."""
    path = spec_path()
    if not path.is_file():
        pytest.fail(f"design document not found at {path} (set MNGS_SPEC_PATH)", pytrace=False)
    blocks = _PYTHON_BLOCK.findall(path.read_text(encoding="utf-8"))
    if not blocks:
        pytest.fail(f"no ```python blocks found in {path}", pytrace=False)
    return "\n".join(blocks)


def _found(pattern: re.Pattern[str]) -> list[str]:
    return sorted(set(pattern.findall(spec_code())))


def test_spec_document_is_parsed():
    """The parser finds the calls the document is known to make (so it cannot pass vacuously)."""
    methods = _found(_METHOD_CALL)
    assert {"insert", "select", "transaction", "create_index", "export_to_csv", "vacuum"} <= set(methods)
    assert {"SQLite3", "PostgreSQL", "inspect"} <= set(_found(_MODULE_CALL))
    assert "summary" in _found(_ATTRIBUTE)
    assert _HANDLE_CALL.search(spec_code())


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_spec_method_exists_and_is_callable(cls):
    """Each ``db.<method>(`` (and ``self.db/local/remote.<method>(``) of the spec is a method of
    both SQLite3 and PostgreSQL."""
    missing = [name for name in _found(_METHOD_CALL) if not callable(getattr(cls, name, None))]
    assert missing == [], f"{cls.__name__} lacks methods the spec calls: {missing}"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_spec_attribute_exists(cls):
    """Each ``db.<attribute>`` the spec reads without calling it (``db.summary``) exists."""
    missing = [name for name in _found(_ATTRIBUTE) if not hasattr(cls, name)]
    assert missing == [], f"{cls.__name__} lacks attributes the spec reads: {missing}"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_handle_is_callable(cls):
    """``db()`` works: the handle class defines ``__call__`` (the spec: ``print(db.summary)  #
    or simply db()``)."""
    assert any("__call__" in vars(klass) for klass in cls.__mro__ if klass is not object)


def test_every_spec_module_function_exists():
    """Each ``mngs.db.<name>(`` of the spec is a callable of the mngs.db module, in __all__."""
    names = _found(_MODULE_CALL)
    missing = [name for name in names if not callable(getattr(mngs.db, name, None))]
    assert missing == [], f"mngs.db lacks names the spec calls: {missing}"
    assert [name for name in names if name not in mngs.db.__all__] == []
