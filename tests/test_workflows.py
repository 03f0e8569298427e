"""The design document's "Common Workflows" and "Integration with Other MNGS Modules" examples.

Each class is copied from shared/spec/mngs-db.md as written; the tests only supply what the
examples presuppose (imports, a PostgreSQL handle for ``mngs.db.PostgreSQL(...)``, the tables
the synchronisation example expects on both sides) and check the outcome.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

import mngs.db
import mngs.gen


@pytest.fixture
def pg_schema_dsn(pg_dsn):
    """libpq parameters of a fresh schema on the test server, dropped afterwards."""
    import psycopg
    from psycopg import sql

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    yield {"dsn": pg_dsn, "options": f"-c search_path={schema}"}
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


# -- 1. Experiment Tracking (SQLite) -----------------------------------------------------------


class ExperimentTracker:
    def __init__(self, db_path="experiments.db"):
        self.db = mngs.db.SQLite3(db_path)
        self._setup_tables()

    def _setup_tables(self):
        self.db.create_table("runs", {
            "run_id": "TEXT PRIMARY KEY",
            "experiment_name": "TEXT",
            "start_time": "DATETIME",
            "end_time": "DATETIME",
            "status": "TEXT",
            "config": "TEXT",
            "metrics": "TEXT"
        })

    def log_run(self, run_id, config, metrics):
        self.db.insert("runs", {
            "run_id": run_id,
            "experiment_name": config.get("name"),
            "start_time": config.get("start_time"),
            "end_time": mngs.gen.gen_timestamp(),
            "status": "completed",
            "config": json.dumps(config),
            "metrics": json.dumps(metrics)
        })

    def get_best_runs(self, metric="accuracy", n=5):
        # Query and parse JSON
        runs = self.db.select("runs")

        # Parse metrics and sort
        for run in runs:
            run['metrics'] = json.loads(run['metrics'])

        sorted_runs = sorted(
            runs,
            key=lambda x: x['metrics'].get(metric, 0),
            reverse=True
        )

        return sorted_runs[:n]


def test_experiment_tracking_workflow(tmp_path, monkeypatch):
    """Common Workflows 1: the tracker logs runs (re-opening the file is fine) and ranks them."""
    monkeypatch.chdir(tmp_path)
    tracker = ExperimentTracker()
    start = "2025-05-30 09:00:00"
    for i, accuracy in enumerate([0.81, 0.93, 0.88, 0.97, 0.75, 0.91]):
        tracker.log_run(f"run-{i}", {"name": "sweep", "start_time": start, "lr": 10**-i},
                        {"accuracy": accuracy})
    tracker.db.close()

    again = ExperimentTracker()  # create_table runs again on an existing file
    best = again.get_best_runs(n=3)
    assert [r["run_id"] for r in best] == ["run-3", "run-1", "run-5"]
    assert best[0]["metrics"] == {"accuracy": 0.97}
    assert best[0]["start_time"] == dt.datetime(2025, 5, 30, 9, 0)  # a DATETIME column
    assert best[0]["status"] == "completed"
    assert again.db.count("runs") == 6
    again.db.close()


# -- 2. Time Series Data Storage (PostgreSQL) ----------------------------------------------------


def make_timeseries_db(conninfo):
    """The spec's class; ``mngs.db.PostgreSQL(...)`` gets the test server's parameters."""

    class TimeSeriesDB:
        def __init__(self):
            self.db = mngs.db.PostgreSQL(**conninfo)
            self._setup_tables()

        def _setup_tables(self):
            self.db.create_table("timeseries", {
                "id": "SERIAL PRIMARY KEY",
                "sensor_id": "VARCHAR(50)",
                "timestamp": "TIMESTAMP",
                "value": "REAL",
                "metadata": "JSONB"
            })

            # Create time-based index
            self.db.create_index(
                "timeseries",
                ["sensor_id", "timestamp"]
            )

        def insert_readings(self, sensor_id, readings):
            records = [
                {
                    "sensor_id": sensor_id,
                    "timestamp": r["timestamp"],
                    "value": r["value"],
                    "metadata": r.get("metadata", {})
                }
                for r in readings
            ]
            self.db.insert_many("timeseries", records)

        def get_time_range(self, sensor_id, start, end):
            return self.db.select(
                "timeseries",
                where=f"""
                    sensor_id = '{sensor_id}'
                    AND timestamp BETWEEN '{start}' AND '{end}'
                """,
                order_by="timestamp"
            )

    return TimeSeriesDB()


def test_time_series_workflow(pg_schema_dsn):
    """Common Workflows 2: readings with JSONB metadata go in; a time range comes back in order."""
    ts = make_timeseries_db(pg_schema_dsn)
    t0 = dt.datetime(2025, 5, 30, 12, 0)
    readings = [
        {"timestamp": t0 + dt.timedelta(minutes=m), "value": 20.0 + m / 4,
         **({"metadata": {"unit": "C", "ok": True}} if m % 2 else {})}
        for m in range(10)
    ]
    ts.insert_readings("probe-1", readings)
    ts.insert_readings("probe-2", readings[:3])

    rows = ts.get_time_range("probe-1", t0 + dt.timedelta(minutes=2), t0 + dt.timedelta(minutes=5))
    assert [r["timestamp"].minute for r in rows] == [2, 3, 4, 5]
    assert [r["value"] for r in rows] == [20.5, 20.75, 21.0, 21.25]
    assert rows[1]["metadata"] == {"unit": "C", "ok": True}
    assert rows[0]["metadata"] == {}
    assert "idx_timeseries_sensor_id_timestamp" in [i["name"] for i in ts.db.list_indexes("timeseries")]
    ts.db.close()


# -- 3. Multi-Database Synchronization (SQLite <-> PostgreSQL) ------------------------------------


class DatabaseSync:
    def __init__(self, local_db, remote_db):
        self.local = local_db
        self.remote = remote_db

    def sync_table(self, table_name, direction="both"):
        if direction in ["up", "both"]:
            # Local to remote
            local_data = self.local.select(table_name)
            self.remote.insert_many(
                table_name,
                local_data,
                on_conflict="update"
            )

        if direction in ["down", "both"]:
            # Remote to local
            remote_data = self.remote.select(table_name)
            self.local.insert_many(
                table_name,
                remote_data,
                on_conflict="update"
            )


SAMPLES = {
    "id": "INTEGER PRIMARY KEY",
    "name": "TEXT NOT NULL",
    "taken_at": "TIMESTAMP",
    "weight": "REAL",
    "count": "BIGINT",
    "raw": "BLOB",
    "meta": "JSON",
    "ok": "BOOLEAN",
}


def test_database_sync_workflow_loses_nothing(tmp_path, pg_schema_dsn):
    """Common Workflows 3: rows upserted SQLite → PostgreSQL → SQLite arrive unchanged (types,
    NULLs, unicode, BLOBs, JSON, 64-bit ints), updates win, and new ids stay fresh."""
    local = mngs.db.SQLite3(tmp_path / "local.db")
    remote = mngs.db.PostgreSQL(**pg_schema_dsn)
    for handle in (local, remote):
        handle.create_table("samples", SAMPLES)
    local.insert_many("samples", [
        {"id": 1, "name": "α-sample", "taken_at": dt.datetime(2025, 5, 30, 8, 0, 1, 250000),
         "weight": 0.1 + 0.2, "count": 2**62, "raw": b"\x00\xffdata", "meta": {"tags": ["a", "ü"]},
         "ok": True},
        {"id": 2, "name": "plain", "taken_at": None, "weight": None, "count": None, "raw": None,
         "meta": None, "ok": None},
    ])
    remote.insert("samples", {"id": 3, "name": "from the server", "weight": -1.5, "ok": False})
    remote.insert("samples", {"id": 1, "name": "stale remote copy"})

    sync = DatabaseSync(local, remote)
    sync.sync_table("samples")

    local_rows = local.select("samples", order_by="id")
    remote_rows = remote.select("samples", order_by="id")
    assert [r["id"] for r in local_rows] == [1, 2, 3]
    assert local_rows == remote_rows
    assert local_rows[0] == {
        "id": 1, "name": "α-sample", "taken_at": dt.datetime(2025, 5, 30, 8, 0, 1, 250000),
        "weight": 0.1 + 0.2, "count": 2**62, "raw": b"\x00\xffdata", "meta": {"tags": ["a", "ü"]},
        "ok": True,
    }
    assert local_rows[1]["meta"] is None and local_rows[1]["raw"] is None
    # Explicit ids moved PostgreSQL's sequence on: the next generated id does not collide.
    assert remote.insert("samples", {"name": "new"}) == 4
    local.close()
    remote.close()


# -- Integration with Other MNGS Modules (the mngs.db calls) --------------------------------------


def test_integration_examples_mngs_db_calls(db, tmp_path):
    """Integration: select results are plain lists of dicts (pickle/JSON-able, as mngs.io needs),
    insert_many takes loaded JSON records, and to_dataframe/select feed pandas like mngs.plt's."""
    import pickle

    pd = pytest.importorskip("pandas")
    db.create_table("experiments", {"id": "INTEGER PRIMARY KEY", "name": "TEXT",
                                    "timestamp": "TIMESTAMP", "accuracy": "REAL"})
    path = tmp_path / "new_experiments.json"
    path.write_text(json.dumps([{"name": f"e{i}", "timestamp": f"2025-05-3{i % 2} 12:00:00",
                                 "accuracy": 0.85 + i / 100} for i in range(10)]))

    # Load and insert data
    data = json.loads(path.read_text())
    db.insert_many("experiments", data)

    # Save query results
    results = db.select("experiments", where="accuracy > 0.9")
    assert pickle.loads(pickle.dumps(results)) == results
    assert [r["name"] for r in results] == ["e6", "e7", "e8", "e9"]

    # Convert to pandas DataFrame
    df = db.to_dataframe("experiments")
    summary = df.describe()
    assert summary.loc["count", "accuracy"] == 10

    # Visualize database metrics
    data = db.select("experiments", columns=["timestamp", "accuracy"])
    df = pd.DataFrame(data)
    assert list(df.columns) == ["timestamp", "accuracy"] and len(df) == 10
