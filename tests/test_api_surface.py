"""Every method, attribute and module-level name the design document uses exists on both backends.

The names are listed here, taken from the ```python blocks of the design document (calls
``db.<name>(`` and ``self.db/local/remote.<name>(``, reads ``db.<name>``, calls
``mngs.db.<name>(`` and ``inspector.<name>(``), so the tests need no file outside the
repository. When the document changes, update the lists.
"""

from __future__ import annotations

import pytest

import mngs.db

CLASSES = [mngs.db.SQLite3, mngs.db.PostgreSQL]

#: ``db.<method>(...)`` calls of the design document.
SPEC_METHODS = [
    "add_column", "analyze", "backup_database", "backup_table", "begin_transaction", "close",
    "commit", "create_index", "create_table", "delete", "drop_column", "drop_index", "drop_table",
    "execute", "export_query_to_csv", "export_to_csv", "from_dataframe", "get_blob", "get_columns",
    "get_stats", "import_from_csv", "insert", "insert_many", "list_indexes", "list_tables",
    "rename_table", "restore_database", "rollback", "select", "store_blob", "table_exists",
    "to_dataframe", "transaction", "update", "update_many", "vacuum",
]  # fmt: skip

#: ``db.<attribute>`` reads (not calls) of the design document.
SPEC_ATTRIBUTES = ["summary"]

#: ``mngs.db.<name>(...)`` calls of the design document.
SPEC_MODULE_FUNCTIONS = ["PostgreSQL", "SQLite3", "inspect"]

#: ``inspector.<method>(...)`` calls of the design document (``inspector = mngs.db.inspect(db)``).
SPEC_INSPECTOR_METHODS = [
    "generate_schema_diagram",
    "get_create_table_sql",
    "get_foreign_keys",
    "get_primary_keys",
]


def test_spec_lists_are_the_known_calls():
    """The lists hold the calls the document is known to make (so the checks cannot pass
    vacuously on an emptied list) and name each once."""
    assert {"insert", "select", "transaction", "create_index", "export_to_csv", "vacuum"} <= set(SPEC_METHODS)
    assert len(SPEC_METHODS) == len(set(SPEC_METHODS)) == 36
    assert SPEC_ATTRIBUTES == ["summary"]
    assert {"SQLite3", "PostgreSQL", "inspect"} == set(SPEC_MODULE_FUNCTIONS)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_spec_method_exists_and_is_callable(cls):
    """Each ``db.<method>(`` (and ``self.db/local/remote.<method>(``) of the spec is a method of
    both SQLite3 and PostgreSQL."""
    missing = [name for name in SPEC_METHODS if not callable(getattr(cls, name, None))]
    assert missing == [], f"{cls.__name__} lacks methods the spec calls: {missing}"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_spec_attribute_exists(cls):
    """Each ``db.<attribute>`` the spec reads without calling it (``db.summary``) exists."""
    missing = [name for name in SPEC_ATTRIBUTES if not hasattr(cls, name)]
    assert missing == [], f"{cls.__name__} lacks attributes the spec reads: {missing}"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_handle_is_callable(cls):
    """``db()`` works: the handle class defines ``__call__`` (the spec: ``print(db.summary)  #
    or simply db()``)."""
    assert any("__call__" in vars(klass) for klass in cls.__mro__ if klass is not object)


def test_every_spec_module_function_exists():
    """Each ``mngs.db.<name>(`` of the spec is a callable of the mngs.db module, in __all__."""
    missing = [name for name in SPEC_MODULE_FUNCTIONS if not callable(getattr(mngs.db, name, None))]
    assert missing == [], f"mngs.db lacks names the spec calls: {missing}"
    assert [name for name in SPEC_MODULE_FUNCTIONS if name not in mngs.db.__all__] == []


def test_every_spec_inspector_method_exists():
    """Each ``inspector.<method>(`` of the spec is a method of what ``mngs.db.inspect`` returns."""
    missing = [
        name for name in SPEC_INSPECTOR_METHODS if not callable(getattr(mngs.db.Inspector, name, None))
    ]
    assert missing == [], f"mngs.db.Inspector lacks methods the spec calls: {missing}"
