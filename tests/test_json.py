"""Tests for JSON values: dict/list in and out on both backends, the spec's JSONB example on
PostgreSQL and JSON functions on SQLite's stored JSON text."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import numpy as np
import pytest

import mngs.db

PG_ONLY = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True
)
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
HAS_ARROW_OPERATORS = sqlite3.sqlite_version_info >= (3, 38, 0)

SPEC_CONFIG = {
    "model": "resnet50",
    "optimizer": {"type": "adam", "lr": 0.001, "betas": [0.9, 0.999]},
}

NESTED = {
    "name": "Ünïcödé ✓ 日本語 🧠",
    "empty_dict": {},
    "empty_list": [],
    "flags": [True, False, None],
    "big": 2**62,
    "negative": -17,
    "float": 1.5e-300,
    "deep": {"a": {"b": {"c": [1, [2, [3, {"d": "e"}]]]}}},
    "quote'and\"double": "back\\slash\nnewline\ttab",
}


def _experiments(db) -> None:
    db.create_table(
        "experiments", {"id": "SERIAL PRIMARY KEY", "name": "TEXT", "config": "JSONB"}
    )


def _spec_insert(db) -> None:
    """The spec's "Store complex data as JSON" call, as written."""
    db.insert("experiments", {
        "name": "exp_001",
        "config": {
            "model": "resnet50",
            "optimizer": {
                "type": "adam",
                "lr": 0.001,
                "betas": [0.9, 0.999]
            }
        }
    })


# -- the spec's example -------------------------------------------------------------------------


@pytest.mark.skipif(not HAS_ARROW_OPERATORS, reason="SQLite < 3.38 has no ->> operator")
def test_spec_json_insert_and_query_run_as_written(db):
    """Spec "JSON/JSONB Support": the insert and the config->>'model' select run on both backends."""
    _experiments(db)
    _spec_insert(db)
    db.insert("experiments", {"name": "exp_002", "config": {"model": "vit"}})
    results = db.select(
        "experiments",
        where="config->>'model' = 'resnet50'"
    )
    assert [r["name"] for r in results] == ["exp_001"]
    assert results[0]["config"] == SPEC_CONFIG


@PG_ONLY
def test_spec_jsonb_set_update_runs_as_written(db):
    """Spec "Update JSON fields": the jsonb_set UPDATE through execute changes the nested value."""
    _experiments(db)
    _spec_insert(db)
    db.execute("""
        UPDATE experiments
        SET config = jsonb_set(config, '{optimizer,lr}', '0.0001')
        WHERE name = 'exp_001'
    """)
    config = db.select("experiments", where="name = ?", params=["exp_001"])[0]["config"]
    assert config["optimizer"] == {"type": "adam", "lr": 0.0001, "betas": [0.9, 0.999]}
    assert config["model"] == "resnet50"


@PG_ONLY
def test_jsonb_containment_and_path_operators(db):
    """JSONB @> containment and #>> path queries work with bound values."""
    _experiments(db)
    _spec_insert(db)
    db.insert("experiments", {"name": "exp_002", "config": {"model": "vit", "optimizer": {"type": "sgd"}}})
    rows = db.select("experiments", ["name"], where="config @> ?::jsonb", params=['{"model": "vit"}'])
    assert rows == [{"name": "exp_002"}]
    rows = db.select("experiments", ["name"], where="config #>> '{optimizer,type}' = ?", params=["adam"])
    assert rows == [{"name": "exp_001"}]


@PG_ONLY
def test_jsonb_question_operator_as_double_question_mark_with_params(db):
    """PostgreSQL's JSONB ? operator is written ?? when params are bound, and as is without."""
    _experiments(db)
    _spec_insert(db)
    db.insert("experiments", {"name": "plain", "config": {"other": 1}})
    with_params = db.select("experiments", ["name"], where="config ?? ? AND name <> ?", params=["model", "x"])
    assert with_params == [{"name": "exp_001"}]
    without_params = db.execute("SELECT name FROM experiments WHERE config ? 'other'")
    assert without_params == [{"name": "plain"}]
    either = db.execute(
        "SELECT name FROM experiments WHERE config ??| ARRAY[?, ?] ORDER BY name", ["model", "other"]
    )
    assert [r["name"] for r in either] == ["exp_001", "plain"]


@SQLITE_ONLY
def test_json_extract_works_on_sqlite_stored_json(db):
    """SQLite stores JSON text, so json_extract/json_set query and update it in place."""
    _experiments(db)
    _spec_insert(db)
    where = "json_extract(config, '$.model') = ?"
    rows = db.select("experiments", ["name"], where=where, params=["resnet50"])
    assert rows == [{"name": "exp_001"}]
    assert db.execute("SELECT json_extract(config, '$.optimizer.betas[1]') AS b FROM experiments") == [
        {"b": 0.999}
    ]
    db.execute("UPDATE experiments SET config = json_set(config, '$.optimizer.lr', 0.0001)")
    config = db.select("experiments")[0]["config"]
    assert config["optimizer"]["lr"] == 0.0001
    stored = db.execute("SELECT typeof(config) AS t, json_valid(config) AS ok FROM experiments")
    assert stored == [{"t": "text", "ok": 1}]


# -- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("column_type", ["JSONB", "JSON"])
def test_nested_json_round_trips_through_insert_and_select(db, column_type):
    """Nested dicts and lists, unicode, big ints, booleans and NULLs come back equal."""
    db.create_table("docs", {"id": "INTEGER PRIMARY KEY", "body": column_type})
    db.insert("docs", {"id": 1, "body": NESTED})
    db.insert("docs", {"id": 2, "body": [1, "two", [3.5], {"four": None}]})
    db.insert("docs", {"id": 3, "body": []})
    rows = db.select("docs", order_by="id")
    assert [r["body"] for r in rows] == [NESTED, [1, "two", [3.5], {"four": None}], []]


def test_json_values_round_trip_through_insert_many_update_and_update_many(db):
    """Bulk inserts (COPY on PostgreSQL), update and update_many accept dict/list values."""
    db.create_table("docs", {"id": "INTEGER PRIMARY KEY", "body": "JSONB"})
    records = [{"id": i, "body": {"i": i, "tags": ["t"] * (i % 3), "name": f"döc {i}"}} for i in range(500)]
    assert db.insert_many("docs", records, batch_size=128) == 500
    assert [r["body"] for r in db.select("docs", order_by="id")] == [r["body"] for r in records]
    db.update("docs", {"body": {"changed": True}}, where="id = ?", params=[0])
    db.update_many("docs", [{"id": 1, "body": [1, 2]}, {"id": 2, "body": {"x": {"y": "z"}}}])
    bodies = {r["id"]: r["body"] for r in db.select("docs", where="id < 3")}
    assert bodies == {0: {"changed": True}, 1: [1, 2], 2: {"x": {"y": "z"}}}


def test_json_upsert_replaces_the_document(db):
    """insert_many(on_conflict="update") overwrites a JSON value with the new one."""
    db.create_table("docs", {"id": "INTEGER PRIMARY KEY", "body": "JSONB"})
    db.insert("docs", {"id": 1, "body": {"v": 1}})
    db.insert_many("docs", [{"id": 1, "body": {"v": 2, "new": [True]}}], on_conflict="update")
    assert db.select("docs") == [{"id": 1, "body": {"v": 2, "new": [True]}}]


def test_json_into_text_column_is_stored_as_json_text(db):
    """A dict stored in a TEXT column is kept as compact JSON text and read back as a str."""
    db.create_table("notes", {"id": "INTEGER PRIMARY KEY", "note": "TEXT"})
    db.insert("notes", {"id": 1, "note": {"lr": 0.001, "name": "ß✓"}})
    db.insert("notes", {"id": 2, "note": ["a", 1]})
    notes = [r["note"] for r in db.select("notes", order_by="id")]
    assert all(isinstance(n, str) for n in notes)
    assert [json.loads(n) for n in notes] == [{"lr": 0.001, "name": "ß✓"}, ["a", 1]]
    assert "ß✓" in notes[0]  # non-ASCII kept as is, not \u-escaped


def test_spec_experiment_tracker_style_json_text_round_trips(db):
    """Workflow 1 stores json.dumps() text in TEXT columns; json.loads of it gives the dict back."""
    db.create_table("runs", {"run_id": "TEXT PRIMARY KEY", "config": "TEXT", "metrics": "TEXT"})
    metrics = {"accuracy": 0.93, "loss": [0.5, 0.25]}
    db.insert("runs", {"run_id": "r1", "config": json.dumps({"name": "e"}), "metrics": json.dumps(metrics)})
    run = db.select("runs")[0]
    assert json.loads(run["metrics"]) == metrics


def test_numpy_values_and_dates_inside_json_become_numbers_lists_and_iso_text(db):
    """numpy scalars/arrays inside a dict are stored as JSON numbers/lists, dates as ISO text."""
    db.create_table("cfg", {"id": "INTEGER PRIMARY KEY", "body": "JSONB"})
    body = {
        "epochs": np.int64(10),
        "lr": np.float32(0.5),
        "ok": np.bool_(True),
        "weights": np.array([[1, 2], [3, 4]], dtype=np.int16),
        "when": dt.datetime(2024, 5, 17, 12, 30),
        "day": dt.date(2024, 5, 17),
    }
    db.insert("cfg", {"id": 1, "body": body})
    assert db.select("cfg")[0]["body"] == {
        "epochs": 10,
        "lr": 0.5,
        "ok": True,
        "weights": [[1, 2], [3, 4]],
        "when": "2024-05-17T12:30:00",
        "day": "2024-05-17",
    }


@pytest.mark.parametrize(
    "bad",
    [{"x": float("nan")}, {"x": float("inf")}, {"s": {1, 2}}, [object()]],
    ids=["nan", "inf", "set", "obj"],
)
def test_values_json_cannot_hold_are_refused_with_data_error(db, bad):
    """NaN, infinity, sets and arbitrary objects raise DataError and nothing is written."""
    db.create_table("docs", {"id": "INTEGER PRIMARY KEY", "body": "JSONB"})
    with pytest.raises(mngs.db.DataError, match="JSON"):
        db.insert("docs", {"id": 1, "body": bad})
    with pytest.raises(mngs.db.DataError, match="JSON"):
        db.insert_many("docs", [{"id": 2, "body": {"fine": 1}}, {"id": 3, "body": bad}])
    assert db.count("docs") == 0


def test_json_null_and_sql_null_are_distinct(db):
    """Python None is SQL NULL; a JSON document holding null stays a document."""
    db.create_table("docs", {"id": "INTEGER PRIMARY KEY", "body": "JSONB"})
    db.insert_many("docs", [{"id": 1, "body": None}, {"id": 2, "body": {"k": None}}])
    assert [r["body"] for r in db.select("docs", order_by="id")] == [None, {"k": None}]
    assert db.count("docs", where="body IS NULL") == 1
