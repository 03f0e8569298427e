"""The harness: the workload registry, warm-up, timing, medians, memory, subprocess runs, facts."""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import gc
import importlib
import io
import json
import os
import platform
import re
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fixtures import Env

HERE = Path(__file__).resolve().parent
ENTRY = HERE / "run.py"  # the one entry point; streaming children are started through it too

NOT_IMPLEMENTED = "n/a (not implemented)"
BOTH = ("sqlite", "postgresql")


# -- versions ----------------------------------------------------------------------------
def lib_version(name: str) -> str | None:
    """The installed version of a distribution, or None when it is not installed."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


# -- memory ------------------------------------------------------------------------------
def _status_kb(field_name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def reset_rss_peak() -> int:
    """Reset VmHWM to the current RSS (Linux >= 4.0) and return the current RSS in kB."""
    with contextlib.suppress(OSError):
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    return _status_kb("VmRSS")


def rss_growth_mb(base_kb: int) -> float:
    return max(0, _status_kb("VmHWM") - base_kb) / 1024


def run_external(argv: list[str], stdout: Any = subprocess.DEVNULL) -> float | None:
    """Run a command, raise on failure, and return its peak RSS in MB when it can be told.

    The peak comes from ``/usr/bin/time -f %M`` (a forked child's own rusage would include the
    memory of this Python process it was forked from)."""
    timer = Path("/usr/bin/time")
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        prefix = [str(timer), "-q", "-f", "%M", "-o", rss_file.name] if timer.exists() else []
        proc = subprocess.run([*prefix, *argv], stdout=stdout, stderr=subprocess.PIPE)
        err = proc.stderr.decode(errors="replace")
        if proc.returncode != 0 or "Error" in err or "ERROR" in err:
            raise RuntimeError(f"{argv[0]} failed ({proc.returncode}): {err.strip()[:300]}")
        text = rss_file.read().strip()
    return int(text.splitlines()[-1]) / 1024 if prefix and text else None


# -- model -------------------------------------------------------------------------------
@dataclass
class Contender:
    """One way of doing a workload: ``run`` is timed and returns the rows it processed (an
    int, or the list of rows it produced); ``prepare`` runs untimed before every run."""

    impl: str
    run: Callable[[], Any] | None
    prepare: Callable[[], None] | None = None
    rows: int | None = None  # rows per run when fewer than the workload's (rows/s is scaled)
    external: bool = False  # the work happens in another process: RSS is that process's peak
    # Measure in a fresh subprocess: ``child["opener"]`` ("module.function") is called there with
    # the spec and returns the run to time (see ``open_child``).
    child: dict | None = None
    unavailable: str | None = None
    note: str = ""


@dataclass
class Target:
    """The issue's target for the mngs rows of a workload."""

    ratio: float | None = None  # rows/s of mngs / rows/s of the reference contender
    versus: str | None = None  # another contender mngs must beat ...
    factor: float = 1.0  # ... by this factor in rows/s
    rss_mb: float | None = None  # peak RSS growth ceiling (streaming)

    def text(self, reference: str) -> str:
        parts = []
        if self.ratio is not None:
            parts.append(f">= {self.ratio:.2f}" + ("" if reference == "raw" else f" x {reference}"))
        if self.versus:
            parts.append(f">= {self.factor:g}x {self.versus}")
        if self.rss_mb is not None:
            parts.append(f"RSS <= {self.rss_mb:g} MB")
        return "; ".join(parts)


@dataclass
class Workload:
    name: str
    backend: str  # "sqlite", "postgresql", or "source->destination"
    rows: int
    build: Callable[[Env, Workload], list[Contender]]
    target: Target
    big: bool = False  # a 1M-row workload: fewer repeats
    reference: str = "raw"
    description: str = ""

    @property
    def key(self) -> str:
        return f"{self.name}/{self.backend}"

    @property
    def backends(self) -> tuple[str, ...]:
        return tuple(self.backend.split("->"))


@dataclass
class Result:
    workload: Workload
    contender: Contender
    rows: int = 0
    seconds: float | None = None
    py_peak_mb: float | None = None
    rss_mb: float | None = None
    status: str = ""  # "" when measured, else why not
    ratio: float | None = None
    verdict: str = ""
    times: list[float] = field(default_factory=list)

    @property
    def rows_per_s(self) -> float | None:
        if self.seconds is None or self.seconds <= 0:
            return None
        return self.rows / self.seconds


# -- the registry of workloads -------------------------------------------------------------
Builder = Callable[["Env", Workload], list[Contender]]
PerBackend = Any  # a value, or a dict of backend -> value


@dataclass
class Definition:
    """A workload as a suite module declares it, before sizes are known."""

    name: str
    backends: tuple[str, ...]
    size: str  # "base", "big" (10x), "singles" (base/100) or "points" (base/10)
    build: Builder
    target: PerBackend
    big: bool
    reference: str
    description: PerBackend


REGISTRY: list[Definition] = []


def workload(
    name: str,
    *,
    target: PerBackend,
    description: PerBackend,
    backends: tuple[str, ...] = BOTH,
    size: str = "base",
    big: bool = False,
    reference: str = "raw",
) -> Callable[[Builder], Builder]:
    """Register the decorated builder as workload ``name`` on each of ``backends``.

    ``target`` and ``description`` are one value for every backend or a dict by backend. The
    builder receives the environment and the sized workload and returns its contenders."""

    def register(build: Builder) -> Builder:
        REGISTRY.append(Definition(name, backends, size, build, target, big, reference, description))
        return build

    return register


def workloads(args: argparse.Namespace, order: tuple[str, ...] = ()) -> list[Workload]:
    """Every registered workload, sized for ``args``, in ``order`` of names (others last)."""
    base = args.base
    sizes = {"base": base, "big": base * 10, "singles": max(base // 100, 10), "points": max(base // 10, 10)}

    def rank(d: Definition) -> int:
        return order.index(d.name) if d.name in order else len(order)

    def pick(value: PerBackend, backend: str) -> Any:
        return value[backend] if isinstance(value, dict) else value

    return [
        Workload(d.name, b, sizes[d.size], d.build, pick(d.target, b), big=d.big,
                 reference=d.reference, description=pick(d.description, b))
        for d in sorted(REGISTRY, key=rank)
        for b in d.backends
    ]


def selected(w: Workload, patterns: list[str]) -> bool:
    if not patterns:
        return True
    for p in patterns:
        if any(ch in p for ch in "*?[") and fnmatch.fnmatch(w.key, p):
            return True
        if p in w.key:
            return True
    return False


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- measuring ---------------------------------------------------------------------------
def count_of(output: Any, contender: Contender, default: int) -> int:
    if isinstance(output, list):
        return len(output)
    return contender.rows or default


def open_child(spec: dict) -> Callable[[], int]:
    """Call the spec's opener ("module.function" of a suite module): it opens the connections
    the contender needs and returns the run to time (rows processed)."""
    module, _, name = spec["opener"].rpartition(".")
    return getattr(importlib.import_module(module), name)(spec)


def run_child(spec: dict, trace: bool) -> dict:
    argv = [sys.executable, str(ENTRY), "--child", json.dumps({**spec, "trace": trace})]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "child failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child_main(spec: dict) -> None:
    """Measure one run in this fresh process; print the result as JSON."""
    from mngs.db import codecs  # every child imports the same modules before the baseline

    codecs.register_sqlite()  # raw connections read timestamps with the same converters
    run = open_child(spec)
    gc.collect()
    base = reset_rss_peak()
    if spec["trace"]:
        tracemalloc.start()
    start = perf_counter()
    rows = run()
    seconds = perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if spec["trace"] else None
    print(json.dumps({"rows": rows, "seconds": seconds, "rss_mb": rss_growth_mb(base), "py_peak_mb": peak}))


class Skip(Exception):
    """The contender cannot run (feature not implemented)."""


def once(c: Contender, w: Workload, *, trace: bool = False) -> tuple[int, float, float | None, float | None]:
    """One run of a contender: (rows, seconds, tracemalloc peak MB, RSS growth MB)."""
    if c.prepare:
        c.prepare()
    if c.child is not None:
        r = run_child(c.child, trace)
        return r["rows"], r["seconds"], r["py_peak_mb"], r["rss_mb"]
    gc.collect()
    base = reset_rss_peak()
    if trace:
        tracemalloc.start()
    try:
        start = perf_counter()
        output = c.run()
        seconds = perf_counter() - start
    except NotImplementedError as exc:
        raise Skip(NOT_IMPLEMENTED) from exc
    finally:
        peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
        if trace:
            tracemalloc.stop()
    if c.external:
        rss: float | None = float(output) if isinstance(output, (int, float)) else None
        peak = None
    else:
        rss = rss_growth_mb(base)
    rows = count_of(output, c, w.rows)
    del output
    return rows, seconds, peak, rss


def measure(w: Workload, contenders: list[Contender], repeats: int) -> list[Result]:
    """Warm up each contender, trace one run (py peak), then time ``repeats`` interleaved runs
    (median time, peak RSS growth)."""
    results = [Result(w, c) for c in contenders]
    live = []
    for r in results:
        if r.contender.unavailable:
            r.status = r.contender.unavailable
            continue
        try:
            r.rows, _, _, _ = once(r.contender, w)  # warm-up
            # RSS is taken from the timed runs only: tracemalloc's own bookkeeping inflates the
            # traced run's (a 100k-row copy: 123 MB traced, 45 MB not).
            _, _, r.py_peak_mb, _ = once(r.contender, w, trace=not r.contender.external)
            live.append(r)
        except Skip as exc:
            r.status = str(exc)
        except Exception as exc:
            r.status = f"error: {type(exc).__name__}: {exc}"[:70]
            log(f"  {w.key} {r.contender.impl}: {traceback.format_exc()}")
    for _ in range(repeats):  # interleaved: load spikes elsewhere hit every contender alike
        for r in list(live):
            try:
                rows, seconds, _, rss = once(r.contender, w)
            except Exception as exc:
                r.status = f"error: {type(exc).__name__}: {exc}"[:70]
                live.remove(r)
                continue
            r.rows = rows
            r.times.append(seconds)
            if rss is not None:
                r.rss_mb = max(r.rss_mb or 0.0, rss)
    for r in results:
        if r.times and not r.status:
            r.seconds = statistics.median(r.times)
    return results


def profile(w: Workload, contenders: list[Contender], tool: str, top: int = 30) -> str:
    """Profile one run of each mngs contender of ``w``; return where the time goes, as text."""
    sections = []
    for c in contenders:
        if not c.impl.startswith("mngs") or c.unavailable:
            continue
        if c.prepare:
            c.prepare()
        run = open_child(c.child) if c.child is not None else c.run
        title = f"== profile: {w.key} {c.impl}, {w.rows:,} rows ({tool}) =="
        if tool == "pyinstrument":
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
            run()
            profiler.stop()
            sections.append(f"{title}\n{profiler.output_text(unicode=False, color=False)}")
            continue
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        run()
        prof.disable()
        stream = io.StringIO()
        pstats.Stats(prof, stream=stream).sort_stats("tottime").print_stats(top)
        text = re.sub(r"/\S*/(site-packages|src|lib/python3\.\d+)/", "", stream.getvalue())
        sections.append(title + "\n" + "\n".join(line for line in text.splitlines() if line.strip()))
    return "\n\n".join(sections)


# -- environment facts -------------------------------------------------------------------
def environment(env: Env, args: argparse.Namespace) -> list[str]:
    """The lines that head the report: command, date, host, versions, repeats."""
    import psycopg

    command = re.sub(r"(password\s*=\s*)\S+|(://[^:/@]*:)[^@]*@", r"\1\2***", shlex.join(sys.argv[1:]))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    libs = ", ".join(
        f"{name} {lib_version(name) or 'not installed'}"
        for name in ("psycopg", "pandas", "sqlalchemy", "sqlite-utils", "dataset")
    )
    return [
        f"command: python benchmarks/run.py {command}".rstrip(),
        f"date: {time.strftime('%Y-%m-%d %H:%M')}; host: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average before the run {load}",
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"PostgreSQL {env.pg_version if not env.pg_error else 'unreachable'} (psycopg {psycopg.__version__})",
        f"libraries: {libs}",
        f"repeats: median of {args.repeats} (1M-row workloads: {args.big_repeats}) after one warm-up; "
        f"SQLite file in {env.tmp}",
    ]
