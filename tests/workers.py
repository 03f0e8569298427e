"""Worker functions for the multi-process reliability tests (imported by spawned children).

Each worker opens its own handle, does a bounded amount of work, and returns what it saw —
counts and error messages — instead of raising, so the parent can report every figure.
"""

from __future__ import annotations

import multiprocessing
import queue
import random
import time
from collections.abc import Callable, Iterable
from typing import Any

import mngs.db

#: Context for worker processes: forkserver (never fork with open connections). The server
#: process is started clean, imports this module once, and forks each worker from there:
#: 64 workers start in about a second instead of the 20 s that 64 spawned interpreters take.
CONTEXT = multiprocessing.get_context("forkserver")
CONTEXT.set_forkserver_preload(["workers", "mngs.db", "psycopg"])


def open_handle(spec: dict[str, Any]) -> mngs.db.Database:
    """Open the handle ``spec`` describes: {"sqlite": path} or {"dsn": ..., **options}."""
    if "sqlite" in spec:
        return mngs.db.SQLite3(spec["sqlite"], **spec.get("options", {}))
    options = dict(spec)
    return mngs.db.PostgreSQL(dsn=options.pop("dsn"), **options)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"


def _call(results: Any, index: int, target: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    try:
        results.put((index, target(*args, **kwargs)))
    except BaseException as exc:  # reported, not lost: the parent fails the test with it
        args[-1].abort()  # release the others from the start barrier
        results.put((index, {"crashed": _describe(exc)}))


def run_all(
    target: Callable[..., Any], arguments: Iterable[tuple], timeout: float, **kwargs: Any
) -> list[Any]:
    """Run ``target(*args, ready)`` for each argument tuple, each in its own spawned process;
    ``ready`` is a barrier the workers wait at so they really run at once; ``kwargs`` go to
    every worker. Return their results
    in order. A worker not done after ``timeout`` seconds fails the run (all are terminated)."""
    arguments = list(arguments)
    ready = CONTEXT.Barrier(len(arguments))
    results = CONTEXT.Queue()
    processes = [
        CONTEXT.Process(target=_call, args=(results, i, target, (*args, ready), kwargs), daemon=True)
        for i, args in enumerate(arguments)
    ]
    for process in processes:
        process.start()
    deadline = time.monotonic() + timeout
    collected: dict[int, Any] = {}
    try:
        while len(collected) < len(processes):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"{len(processes) - len(collected)} of {len(processes)} workers still running "
                    f"after {timeout} s"
                )
            try:
                index, result = results.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                if not any(p.is_alive() for p in processes) and results.empty():
                    raise RuntimeError("a worker died without reporting") from None
                continue
            collected[index] = result
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join(10)
    return [collected[i] for i in range(len(processes))]


def _start_barrier(ready: Any) -> None:
    """Wait until every worker has opened its handle, so they really run at once."""
    ready.wait(120)


# -- SQLite / PostgreSQL writers -------------------------------------------------------------
def single_inserts(
    spec: dict[str, Any], worker: int, count: int, ready: Any, pause: float = 0.0
) -> dict[str, Any]:
    """``count`` single ``insert`` calls of rows (worker, seq), ``pause`` seconds apart; return
    the seqs acknowledged, the seqs in doubt (ConnectionLostError) and the errors."""
    db = open_handle(spec)
    ok: list[int] = []
    lost: list[int] = []
    errors: list[str] = []
    _start_barrier(ready)
    try:
        for seq in range(count):
            try:
                db.insert("events", {"worker": worker, "seq": seq})
                ok.append(seq)
            except getattr(mngs.db, "ConnectionLostError", ()) as exc:  # outcome unknown
                lost.append(seq)
                errors.append(_describe(exc))
            except Exception as exc:
                errors.append(_describe(exc))
            if pause:
                time.sleep(pause)
    finally:
        db.close()
    return {"worker": worker, "ok": ok, "lost": lost, "errors": errors}


def inserts_until(spec: dict[str, Any], worker: int, finished: Any, ready: Any) -> dict[str, Any]:
    """Single inserts, 20 a second, until ``finished`` is set (at most 10,000)."""
    db = open_handle(spec)
    ok: list[int] = []
    errors: list[str] = []
    _start_barrier(ready)
    try:
        for seq in range(10_000):
            if finished.is_set() and seq >= 20:
                break
            try:
                db.insert("events", {"worker": worker, "seq": seq})
                ok.append(seq)
            except Exception as exc:
                errors.append(_describe(exc))
            time.sleep(0.05)
    finally:
        db.close()
    return {"worker": worker, "ok": ok, "errors": errors}


def readers(spec: dict[str, Any], worker: int, stop_after: float, ready: Any) -> dict[str, Any]:
    """Read (count and select) in a loop for ``stop_after`` seconds; return reads and errors."""
    db = open_handle(spec)
    reads = 0
    errors: list[str] = []
    last = 0
    went_back = 0
    _start_barrier(ready)
    deadline = time.monotonic() + stop_after
    try:
        while time.monotonic() < deadline:
            try:
                n = db.count("events")
                db.select("events", where="worker = ?", params=[worker % 4], limit=20)
                if n < last:
                    went_back += 1
                last = n
                reads += 1
            except Exception as exc:
                errors.append(_describe(exc))
    finally:
        db.close()
    return {"worker": worker, "reads": reads, "errors": errors, "went_back": went_back}


def upserts(spec: dict[str, Any], worker: int, keys: int, rounds: int, ready: Any) -> dict[str, Any]:
    """``rounds`` calls of insert_many(on_conflict="update") over keys 0..keys-1, each in this
    worker's own shuffled order; return errors and seconds taken."""
    db = open_handle(spec)
    rng = random.Random(worker)
    errors: list[str] = []
    _start_barrier(ready)
    began = time.monotonic()
    try:
        for r in range(rounds):
            order = list(range(keys))
            rng.shuffle(order)
            records = [{"id": k, "writer": worker, "round": r} for k in order]
            try:
                db.insert_many("items", records, on_conflict="update")
            except Exception as exc:
                errors.append(_describe(exc))
    finally:
        db.close()
    return {"worker": worker, "errors": errors, "seconds": time.monotonic() - began}


def _increment(db: mngs.db.Database) -> int:
    row = db.select("counter", where={"id": 1})[0]
    db.update("counter", {"n": row["n"] + 1}, where={"id": 1})
    return int(row["n"]) + 1


def _increments(
    spec: dict[str, Any], worker: int, count: int, ready: Any, step: Callable[[mngs.db.Database], Any]
) -> dict[str, Any]:
    """Run ``step(db)`` ``count`` times after the start barrier; count the steps done and keep
    every error."""
    db = open_handle(spec)
    done = 0
    errors: list[str] = []
    _start_barrier(ready)
    try:
        for _ in range(count):
            try:
                step(db)
                done += 1
            except Exception as exc:
                errors.append(_describe(exc))
    finally:
        db.close()
    return {"worker": worker, "done": done, "errors": errors}


def run_transaction_increments(
    spec: dict[str, Any], worker: int, count: int, isolation: str | None, ready: Any
) -> dict[str, Any]:
    """``count`` read-modify-write increments, each through ``db.run_transaction``."""
    if isolation is None:
        return _increments(spec, worker, count, ready, lambda db: db.run_transaction(_increment))
    return _increments(
        spec, worker, count, ready, lambda db: db.run_transaction(_increment, isolation=isolation)
    )


def _locked_increment(db: mngs.db.Database) -> None:
    with db.transaction():
        row = db.select("counter", where={"id": 1}, for_update=True)[0]
        db.update("counter", {"n": row["n"] + 1}, where={"id": 1})


def for_update_increments(spec: dict[str, Any], worker: int, count: int, ready: Any) -> dict[str, Any]:
    """``count`` increments as ``with db.transaction():`` + ``select(..., for_update=True)``."""
    return _increments(spec, worker, count, ready, _locked_increment)


def _plain_increment(db: mngs.db.Database) -> None:
    with db.transaction():
        _increment(db)


def plain_transaction_increments(spec: dict[str, Any], worker: int, count: int, ready: Any) -> dict[str, Any]:
    """The unsafe pattern, for the baseline only: select then update in a plain transaction."""
    return _increments(spec, worker, count, ready, _plain_increment)


# -- through a pooler ------------------------------------------------------------------------
def pooled_writer(spec: dict[str, Any], worker: int, count: int, ready: Any) -> dict[str, Any]:
    """Through pgbouncer: ``count`` single inserts, a repeated select after each (so the driver
    would prepare it), and one insert_many; return ok seqs and errors."""
    db = open_handle(spec)
    ok: list[int] = []
    errors: list[str] = []
    _start_barrier(ready)
    try:
        for seq in range(count):
            try:
                db.insert("events", {"worker": worker, "seq": seq})
                ok.append(seq)
                db.select("events", where="worker = ? AND seq = ?", params=[worker, seq])
            except Exception as exc:
                errors.append(_describe(exc))
        try:
            db.insert_many("events", [{"worker": worker, "seq": count + i} for i in range(10)])
            ok.extend(range(count, count + 10))
        except Exception as exc:
            errors.append(_describe(exc))
    finally:
        db.close()
    return {"worker": worker, "ok": ok, "errors": errors}
