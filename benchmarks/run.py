"""Benchmark suite of mngs.db against the raw drivers (the limit) and other libraries.

Usage::

    python benchmarks/run.py [--quick] [--only PATTERN] [--rows N] [--repeats N]
                             [--pg-dsn DSN] [--markdown] [--profile [cprofile|pyinstrument]]

Every workload runs each contender on the same data in the same process run: one warm-up, one
run under tracemalloc (peak of Python allocations), then ``--repeats`` timed runs interleaved
across contenders (so a burst of load elsewhere on the machine hits them all alike), reporting
the median. Write workloads get a freshly created table before every run (untimed). Streaming
and copy workloads run each measurement in a fresh subprocess so its peak RSS growth is clean.
See benchmarks/README.md for what each workload compares and how the modules are laid out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
from pathlib import Path
from time import perf_counter

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # benchmark this checkout, installed or not
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # the suite modules import each other by name, from any folder

import copy_db  # noqa: E402  (each suite module registers its workloads on import)
import csv_io  # noqa: E402
import frames  # noqa: E402
import harness  # noqa: E402
import reads  # noqa: E402
import report  # noqa: E402
import writes  # noqa: E402
from fixtures import DEFAULT_PG_DSN, SCHEMA, Env  # noqa: E402
from harness import Result, log  # noqa: E402

SUITES = (writes, reads, csv_io, frames, copy_db)
ORDER = ("insert_many", "upsert", "select", "stream", "single_insert", "point_select",
         "import_csv", "export_csv", "from_dataframe", "to_dataframe", "copy")  # as the table shows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10x fewer rows and 3 repeats (smoke test)")
    parser.add_argument("--only", action="append", default=[], metavar="PATTERN",
                        help="run workloads whose 'name/backend' contains PATTERN (or matches a glob); "
                        "repeatable, comma-separated")
    parser.add_argument("--rows", type=int, default=None, metavar="N",
                        help="rows of the bulk workloads (default 100000; the 1M-row workloads use 10x, "
                        "single inserts N/100, point selects N/10)")
    parser.add_argument("--repeats", type=int, default=None, metavar="N",
                        help="timed runs per contender (default 5, 1M-row workloads 3; --quick 3)")
    parser.add_argument("--pg-dsn", default=os.environ.get("MNGS_BENCH_PG_DSN")
                        or os.environ.get("MNGS_TEST_PG_DSN") or DEFAULT_PG_DSN, metavar="DSN",
                        help="libpq connection string (default $MNGS_BENCH_PG_DSN, $MNGS_TEST_PG_DSN, "
                        f"else {DEFAULT_PG_DSN!r}); the schema {SCHEMA!r} is created and dropped")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--profile", nargs="?", const="cprofile", choices=("cprofile", "pyinstrument"),
                        help="after measuring, profile one run of each mngs contender")
    parser.add_argument("--tmpdir", default=None, help="where the SQLite file and CSVs go")
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.base = args.rows or (10_000 if args.quick else 100_000)
    args.repeats_given = args.repeats
    args.repeats = args.repeats or (3 if args.quick else 5)
    args.big_repeats = args.repeats_given or 3
    args.only = [p.strip() for item in args.only for p in item.split(",") if p.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        harness.child_main(json.loads(args.child))
        return 0
    chosen = [w for w in harness.workloads(args, ORDER) if harness.selected(w, args.only)]
    if args.list:
        for w in chosen:
            print(f"{w.key:28} {w.rows:>9,} rows  {w.description}")
        return 0
    if not chosen:
        log(f"no workload matches {args.only}; see --list")
        return 2
    env = Env(args)
    results: list[Result] = []
    profiles: list[str] = []
    try:
        header = harness.environment(env, args)
        if env.pg_error:
            log(f"PostgreSQL workloads skipped: {env.pg_error}")
        for w in chosen:
            if "postgresql" in w.backends and env.pg_error:
                continue
            log(f"{w.key}: {w.rows:,} rows ...")
            start = perf_counter()
            try:
                contenders = w.build(env, w)
                repeats = args.big_repeats if w.big else args.repeats
                results += report.judge(w, harness.measure(w, contenders, repeats))
                if args.profile:
                    profiles.append(harness.profile(w, contenders, args.profile))
            except Exception:
                log(f"  {w.key} failed to set up:\n{traceback.format_exc()}")
            finally:
                env.stack.close()
                env.stack = contextlib.ExitStack()
            log(f"  done in {perf_counter() - start:.1f} s")
    finally:
        env.close()
    print(report.render(header, results, profiles, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
