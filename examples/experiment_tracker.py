"""Log simulated training runs to SQLite and report the best ones: the README's main job.

Usage::

    python examples/experiment_tracker.py [DB_PATH]     # DB_PATH defaults to ./experiments.db

Safe to run again and again on the same file: the table is created only if missing, and every
invocation gets its own batch id, so each run appends 20 new runs and the total grows.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import uuid
from types import TracebackType
from typing import Any

import mngs.db
import mngs.gen

RUNS_COLUMNS = {
    "run_id": "TEXT PRIMARY KEY",
    "experiment_name": "TEXT NOT NULL",
    "start_time": "TEXT",
    "end_time": "TEXT",
    "status": "TEXT NOT NULL",
    "config": "TEXT NOT NULL",  # JSON object
    "metrics": "TEXT NOT NULL",  # JSON object
}


class ExperimentTracker:
    """Records runs (config and metrics as JSON) in one SQLite file and finds the best ones."""

    def __init__(self, db_path: str = "experiments.db") -> None:
        self.db = mngs.db.SQLite3(db_path)
        self.db.create_table("runs", RUNS_COLUMNS)  # no-op when the table already exists

    def log_run(self, run_id: str, config: dict[str, Any], metrics: dict[str, float]) -> None:
        """Store one finished run; ``config["name"]`` names the experiment."""
        self.db.insert(
            "runs",
            {
                "run_id": run_id,
                "experiment_name": config["name"],
                "start_time": config.get("start_time"),
                "end_time": mngs.gen.gen_timestamp(),
                "status": "completed",
                "config": json.dumps(config, sort_keys=True),
                "metrics": json.dumps(metrics, sort_keys=True),
            },
        )

    def get_best_runs(
        self, metric: str = "accuracy", n: int = 5, *, higher_is_better: bool = True
    ) -> list[dict[str, Any]]:
        """The ``n`` best completed runs by ``metric``, config and metrics decoded to dicts.

        Runs that lack the metric rank last.
        """
        runs = self.db.select("runs", where="status = ?", params=["completed"])
        for run in runs:
            run["config"] = json.loads(run["config"])
            run["metrics"] = json.loads(run["metrics"])
        worst = -math.inf if higher_is_better else math.inf
        runs.sort(key=lambda run: run["metrics"].get(metric, worst), reverse=higher_is_better)
        return runs[:n]

    def count_runs(self) -> int:
        """How many runs the file holds, from every invocation so far."""
        return self.db.count("runs")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ExperimentTracker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def simulate_run(rng: random.Random) -> tuple[dict[str, Any], dict[str, float]]:
    """A made-up hyper-parameter sweep: accuracy peaks near lr=1e-3 and batch size 64."""
    config: dict[str, Any] = {
        "name": "cifar10-sweep",
        "start_time": mngs.gen.gen_timestamp(),
        "model": rng.choice(["resnet18", "resnet50", "vit-small"]),
        "optimizer": rng.choice(["adam", "sgd"]),
        "lr": rng.choice([1e-4, 3e-4, 1e-3, 3e-3, 1e-2]),
        "batch_size": rng.choice([32, 64, 128, 256]),
        "epochs": rng.randint(10, 50),
    }
    penalty = 0.04 * abs(math.log10(config["lr"]) + 3) + 0.03 * abs(
        math.log2(config["batch_size"] / 64)
    )
    bonus = {"resnet18": 0.0, "resnet50": 0.02, "vit-small": 0.01}[config["model"]]
    accuracy = min(0.99, max(0.1, 0.9 + bonus - penalty + rng.gauss(0, 0.01)))
    metrics = {"accuracy": round(accuracy, 4), "loss": round(-math.log(accuracy), 4)}
    return config, metrics


def print_runs(runs: list[dict[str, Any]], metric: str) -> None:
    """Print runs as a small aligned table."""
    print(f"{'run_id':<31} {'model':<10} {'optim':<5} {'lr':>7} {'batch':>5} {metric:>9}")
    for run in runs:
        config = run["config"]
        print(
            f"{run['run_id']:<31} {config['model']:<10} {config['optimizer']:<5} "
            f"{config['lr']:>7.0e} {config['batch_size']:>5} {run['metrics'][metric]:>9.4f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db_path", nargs="?", default="experiments.db", help="SQLite file")
    parser.add_argument("--runs", type=int, default=20, help="runs to simulate (default 20)")
    args = parser.parse_args(argv)

    rng = random.Random()
    batch = f"{mngs.gen.gen_timestamp()}-{uuid.uuid4().hex[:8]}"  # unique per invocation
    with ExperimentTracker(args.db_path) as tracker:
        for i in range(args.runs):
            config, metrics = simulate_run(rng)
            tracker.log_run(f"{batch}-{i:02d}", config, metrics)
        print(f"Logged {args.runs} runs to {args.db_path} (batch {batch})\n")

        print("Best 5 runs by accuracy:")
        print_runs(tracker.get_best_runs("accuracy", n=5), "accuracy")
        print(f"\nTotal runs in {args.db_path}: {tracker.count_runs()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
