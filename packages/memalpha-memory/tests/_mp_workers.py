"""Worker functions for the multi-process tests (test_concurrency.py, test_durability.py).

With ``--import-mode=importlib`` a test module cannot be imported by name in a spawned child, so the
workers live here: the tests put this folder on ``sys.path`` before starting children (``spawn``
copies the parent's ``sys.path``), and children import this module by its plain name.

Every worker takes a `multiprocessing.Barrier` first, so the children of one test start their writes
together. Results come back through a queue as plain, picklable values.
"""

from __future__ import annotations

import json
import multiprocessing
import queue as queue_module
import sys
import time
import traceback
import types
from collections.abc import Callable, Sequence
from typing import Any

from memalpha_memory import MemoryStore

BARRIER_TIMEOUT_S = 60.0


# ----------------------------------------------------------------- running children
def _entry(index: int, fn: Callable[..., Any], barrier: Any, results: Any, args: tuple[Any, ...]) -> None:
    try:
        value = fn(barrier, *args)
    except BaseException:  # report every failure to the parent, and free the other children
        barrier.abort()
        results.put((index, False, traceback.format_exc()))
    else:
        results.put((index, True, value))


def run_parallel(jobs: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]], *, timeout: float = 90.0) -> list[Any]:
    """Run ``fn(barrier, *args)`` for every job in its own spawned process; return their values in order.

    A child that raises or dies makes this raise AssertionError with the child's traceback.
    """
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(jobs))
    results = ctx.Queue()
    processes = [
        ctx.Process(target=_entry, args=(i, fn, barrier, results, args), daemon=True)
        for i, (fn, args) in enumerate(jobs)
    ]
    # children import only what they unpickle, not the parent's __main__ (pytest's, a REPL's, an xdist worker's)
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        for process in processes:
            process.start()
    finally:
        sys.modules["__main__"] = main
    values: dict[int, Any] = {}
    errors: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while len(values) + len(errors) < len(jobs):
            try:
                index, ok, value = results.get(timeout=0.5)
            except queue_module.Empty:
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if dead:
                    # give a dying child's queued report a last chance, then fail
                    try:
                        index, ok, value = results.get(timeout=2.0)
                    except queue_module.Empty:
                        raise AssertionError(
                            f"child process(es) died without a result: {[(p.pid, p.exitcode) for p in dead]}"
                        ) from None
                elif time.monotonic() > deadline:
                    raise AssertionError(f"child processes did not finish within {timeout} s") from None
                else:
                    continue
            if ok:
                values[index] = value
            else:
                errors.append(f"child {index} failed:\n{value}")
        for process in processes:
            process.join(timeout=30)
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join(timeout=10)
        results.close()
        results.join_thread()
    if errors:
        raise AssertionError("\n".join(errors))
    assert [p.exitcode for p in processes] == [0] * len(processes)
    return [values[i] for i in range(len(jobs))]


# ------------------------------------------------------------------- reading state
def entry_tuple(entry: Any) -> tuple[Any, ...]:
    return (entry.id, entry.content, entry.created_at, entry.updated_at, entry.seq)


def operation_tuple(op: Any) -> tuple[Any, ...]:
    return (
        op.namespace,
        op.rev,
        op.index,
        op.timestamp,
        op.tool,
        op.arguments,
        op.status,
        op.error_kind,
        op.message,
        op.memory_type,
        op.memory_id,
    )


def state_of(store: MemoryStore) -> dict[str, Any]:
    """Everything a store holds, as plain values: namespaces, and per namespace core, entries, log, revision."""
    state: dict[str, Any] = {"namespaces": store.namespaces()}
    for name in state["namespaces"]:
        mem = store.namespace(name)
        snap = mem.snapshot()
        state[name] = {
            "rev": snap.base_rev,
            "core": snap.core,
            "semantic": [entry_tuple(e) for e in snap.entries("semantic")],
            "episodic": [entry_tuple(e) for e in snap.entries("episodic")],
            "operations": [operation_tuple(op) for op in mem.operations()],
        }
    return state


def read_state(barrier: Any, uri: str) -> dict[str, Any]:
    barrier.wait(BARRIER_TIMEOUT_S)
    return state_of(MemoryStore.open(uri))


# ------------------------------------------------------------------------- writers
def _insert(content: str, memory_type: str = "semantic") -> dict[str, str]:
    return {"memory_type": memory_type, "content": content}


def _core(text: str) -> dict[str, str]:
    return {"memory_type": "core", "new_content": text}


def insert_many(barrier: Any, uri: str, namespace: str, tag: str, n: int) -> dict[str, Any]:
    """``n`` committed inserts ``f"{tag} fact {i}"`` into one namespace."""
    mem = MemoryStore.open(uri).namespace(namespace)
    barrier.wait(BARRIER_TIMEOUT_S)
    start = time.monotonic()
    results = [mem.apply_tool_call("new_memory_insert", _insert(f"{tag} fact {i}")).to_dict() for i in range(n)]
    return {"start": start, "end": time.monotonic(), "results": results}


def open_and_insert(barrier: Any, uri: str, namespace: str, n: int) -> list[dict[str, Any]]:
    """Open the (maybe not yet created) store only once every child is ready, then insert."""
    barrier.wait(BARRIER_TIMEOUT_S)
    mem = MemoryStore.open(uri).namespace(namespace)
    return [mem.apply_tool_call("new_memory_insert", _insert(f"{namespace} item {i}")).to_dict() for i in range(n)]


def same_namespace_writer(
    barrier: Any, uri: str, namespace: str, tag: str, n: int, shared: Sequence[str], optimize_every: int | None
) -> dict[str, Any]:
    """Per round: insert a private item, rewrite the core, try to insert a content the other writer also inserts."""
    mem = MemoryStore.open(uri, optimize_every=optimize_every).namespace(namespace)
    barrier.wait(BARRIER_TIMEOUT_S)
    calls: list[tuple[str, dict[str, str]]] = []
    for i in range(n):
        calls.append(("new_memory_insert", _insert(f"{tag} item {i}")))
        calls.append(("memory_update", _core(f"{tag} core {i}")))
        if i < len(shared):
            calls.append(("new_memory_insert", _insert(shared[i], "episodic")))
    start = time.monotonic()
    results = [mem.apply_tool_call(name, args).to_dict() for name, args in calls]
    return {"start": start, "end": time.monotonic(), "calls": calls, "results": results}


def batch_writer(barrier: Any, uri: str, namespaces: Sequence[str], tag: str, n_batches: int) -> dict[str, Any]:
    """``n_batches`` apply_batch calls over ``namespaces``; namespace ``ns1`` also gets a content both writers send."""
    store = MemoryStore.open(uri)
    barrier.wait(BARRIER_TIMEOUT_S)
    batches: list[list[tuple[str, str, dict[str, str]]]] = []
    results: list[list[dict[str, Any]]] = []
    for b in range(n_batches):
        batch: list[tuple[str, str, dict[str, str]]] = []
        for ns in namespaces:
            batch.append((ns, "new_memory_insert", _insert(f"{tag} {ns} batch {b}")))
            batch.append((ns, "memory_update", _core(f"{tag} {ns} core {b}")))
            if ns == "ns1":
                batch.append((ns, "new_memory_insert", _insert(f"shared batch {b}", "episodic")))
        batches.append(batch)
        results.append([r.to_dict() for r in store.apply_batch(batch)])
    return {"batches": batches, "results": results}


def commit_calls(barrier: Any, uri: str, namespace: str, calls: Sequence[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Apply committed calls to one namespace."""
    mem = MemoryStore.open(uri).namespace(namespace)
    barrier.wait(BARRIER_TIMEOUT_S)
    return [mem.apply_tool_call(name, args).to_dict() for name, args in calls]


def drop_and_commit(barrier: Any, uri: str, namespace: str, calls: Sequence[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Drop a namespace, then write it anew with committed calls."""
    store = MemoryStore.open(uri)
    barrier.wait(BARRIER_TIMEOUT_S)
    store.drop(namespace)
    mem = store.namespace(namespace)
    return [mem.apply_tool_call(name, args).to_dict() for name, args in calls]


# ------------------------------------------------------------- the SIGKILL victim
def killable_writer(uri: str, namespace: str) -> None:
    """Write committed calls forever; after each call returns, print one JSON line acknowledging it.

    Compacts every 3 commits, so a kill also lands in the middle of an ``optimize``.
    """
    mem = MemoryStore.open(uri, optimize_every=3).namespace(namespace)
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    i = 0
    while True:
        if i % 4 == 3:
            name, args = "memory_update", _core(f"core version {i}")
        else:
            memory_type = "episodic" if i % 4 == 2 else "semantic"
            name, args = "new_memory_insert", _insert(f"fact number {i} mentions uniqueword{i}", memory_type)
        result = mem.apply_tool_call(name, args)
        ack = {"i": i, "tool": name, "args": args, "status": result.status, "id": result.memory_id}
        out.write(json.dumps(ack) + "\n")
        out.flush()
        i += 1
