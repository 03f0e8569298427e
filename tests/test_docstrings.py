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


@pytest.mark.parametrize("cls", [mngs.db.SQLite3, mngs.db.PostgreSQL], ids=lambda c: c.__name__)
def test_where_and_params_read_as_their_aliases_in_help(cls):
    """``help()`` shows ``where: Where`` and ``params: Params`` (the aliases, not quoted text)."""
    seen = 0
    for name in dir(cls):
        member = getattr(cls, name)
        if name.startswith("_") or not callable(member):
            continue
        for parameter in inspect.signature(member).parameters.values():
            if parameter.name in ("where", "params"):
                seen += 1
                assert not isinstance(parameter.annotation, str), f"{name}.{parameter.name}"
                assert str(parameter.annotation) in ("Where", "Params"), f"{name}.{parameter.name}"
    assert seen >= 20  # select, count, update, delete, search, exports, blobs, ...
