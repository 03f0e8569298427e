"""Every public method and property of a handle has a docstring with an example."""

from __future__ import annotations

import inspect

import pytest

import mngs.db


@pytest.mark.parametrize("cls", [mngs.db.SQLite3, mngs.db.PostgreSQL], ids=lambda c: c.__name__)
def test_every_public_method_has_an_example(cls):
    """``help(db.method)`` shows what it does and a ``>>>`` example of calling it."""
    missing = []
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        doc = inspect.getdoc(getattr(cls, name)) or ""
        if ">>>" not in doc:
            missing.append(name)
    assert missing == []
