"""Several processes writing one local store: nothing lost, revisions serialised, stale flushes refused.

Writers run in separate processes (``spawn``) started together through a barrier; the workers live in
``_mp_workers.py`` (see there why).
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from memalpha_memory import MemoryConflictError, MemoryStore, StorageError

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

import _mp_workers as workers  # noqa: E402


def core(text: str) -> dict[str, str]:
    return {"memory_type": "core", "new_content": text}


def insert(content: str, memory_type: str = "semantic") -> dict[str, str]:
    return {"memory_type": memory_type, "content": content}


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return str(tmp_path / "store")


def assert_log_is_serial(ops: list, expected_calls: int) -> None:
    """One commit per call: revisions 1..n, each once, in order, all at index 0."""
    assert len(ops) == expected_calls
    assert [op.rev for op in ops] == list(range(1, expected_calls + 1))
    assert {op.index for op in ops} == {0}


# ------------------------------------------------------------- different namespaces
def test_writers_on_different_namespaces_lose_nothing(uri: str) -> None:
    MemoryStore.open(uri)  # create the tables before the race; creation races are tested below
    n = 40
    alpha, beta = workers.run_parallel(
        [(workers.insert_many, (uri, "alpha", "A", n)), (workers.insert_many, (uri, "beta", "B", n))]
    )
    # the two streams of commits really overlapped in time
    assert alpha["start"] < beta["end"] and beta["start"] < alpha["end"]

    store = MemoryStore.open(uri)
    assert store.namespaces() == ["alpha", "beta"]
    for name, tag, out in (("alpha", "A", alpha), ("beta", "B", beta)):
        results = out["results"]
        assert [r["status"] for r in results] == ["ok"] * n
        ids = [r["memory_id"] for r in results]
        assert len(set(ids)) == n
        mem = store.namespace(name)
        entries = mem.entries("semantic")
        assert [e.content for e in entries] == [f"{tag} fact {i}" for i in range(n)]
        assert [e.id for e in entries] == ids
        assert [e.seq for e in entries] == list(range(n))
        assert mem.entries("episodic") == []
        ops = mem.operations()
        assert_log_is_serial(ops, n)
        assert {op.namespace for op in ops} == {name}
        assert [op.memory_id for op in ops] == ids
        assert [json.loads(op.arguments)["content"] for op in ops] == [f"{tag} fact {i}" for i in range(n)]
        assert [op.status for op in ops] == ["ok"] * n
        assert mem.snapshot().base_rev == n


def test_processes_creating_a_fresh_store_together(uri: str) -> None:
    names = ["p0", "p1"]
    outs = workers.run_parallel([(workers.open_and_insert, (uri, ns, 5)) for ns in names])
    for out in outs:
        assert [r["status"] for r in out] == ["ok"] * 5
    store = MemoryStore.open(uri)
    assert store.namespaces() == names
    for ns in names:
        assert [e.content for e in store.namespace(ns).entries("semantic")] == [f"{ns} item {i}" for i in range(5)]
        assert_log_is_serial(store.namespace(ns).operations(), 5)
    # the tables and indexes were created once, not once per racing process
    assert sorted(store._db.list_tables().tables) == ["memory", "operations"]
    columns = sorted(tuple(index.columns) for index in store._table.list_indices())
    assert columns == [("content",), ("key",), ("kind",), ("namespace",)]
    assert [tuple(index.columns) for index in store._operations.list_indices()] == [("namespace",)]


# ---------------------------------------------------------------- same namespace
@pytest.mark.parametrize("optimize_every", [None, 7], ids=["no-compaction", "compact-every-7"])
def test_writers_on_one_namespace_lose_no_update(uri: str, optimize_every: int | None) -> None:
    MemoryStore.open(uri)
    n = 20
    shared = [f"shared content {i}" for i in range(12)]
    a, b = workers.run_parallel(
        [
            (workers.same_namespace_writer, (uri, "shared", "A", n, shared, optimize_every)),
            (workers.same_namespace_writer, (uri, "shared", "B", n, shared, optimize_every)),
        ]
    )
    assert a["start"] < b["end"] and b["start"] < a["end"]
    calls_per_writer = 2 * n + len(shared)

    store = MemoryStore.open(uri)
    mem = store.namespace("shared")
    snap = mem.snapshot()
    by_content = {e.content: e for e in snap.entries("semantic")}
    for tag, out in (("A", a), ("B", b)):
        results = out["results"]
        assert len(results) == calls_per_writer
        private = [
            r for r, (_, args) in zip(results, out["calls"], strict=True) if args.get("content", "").startswith(tag)
        ]
        assert [r["status"] for r in private] == ["ok"] * n
        # every private insert is there, with the id its writer was given, in the writer's order
        stored = [by_content[f"{tag} item {i}"] for i in range(n)]
        assert [e.id for e in stored] == [r["memory_id"] for r in private]
        assert [e.seq for e in stored] == sorted(e.seq for e in stored)
        cores = [r for r, (name, _) in zip(results, out["calls"], strict=True) if name == "memory_update"]
        assert [r["status"] for r in cores] == ["ok"] * n
    assert len(by_content) == 2 * n

    # the contents both writers inserted: exactly one insert of each took effect, the other saw it
    statuses: Counter[tuple[str, str]] = Counter()
    for out in (a, b):
        for r, (_, args) in zip(out["results"], out["calls"], strict=True):
            if args.get("memory_type") == "episodic":
                statuses[args["content"], r["status"]] += 1
    for content in shared:
        assert (statuses[content, "ok"], statuses[content, "skipped"]) == (1, 1), content
    assert sorted(e.content for e in snap.entries("episodic")) == sorted(shared)

    # one commit per call, revisions strictly increasing with no duplicate
    ops = mem.operations()
    assert_log_is_serial(ops, 2 * calls_per_writer)
    assert snap.base_rev == 2 * calls_per_writer
    ids = [e.id for e in snap.entries("semantic") + snap.entries("episodic")]
    assert len(set(ids)) == len(ids) == 2 * n + len(shared)
    # each writer's calls are in the log in its own order
    for tag, out in (("A", a), ("B", b)):
        mine = [
            op
            for op in ops
            if json.loads(op.arguments).get("content", json.loads(op.arguments).get("new_content", "")).startswith(tag)
        ]
        assert [json.loads(op.arguments) for op in mine] == [
            args for _, args in out["calls"] if args.get("content", args.get("new_content", "")).startswith(tag)
        ]
    # the core is the last write of one of the writers, namely the last logged core rewrite
    assert snap.core in {f"A core {n - 1}", f"B core {n - 1}"}
    last_core_op = [op for op in ops if op.tool == "memory_update"][-1]
    assert json.loads(last_core_op.arguments)["new_content"] == snap.core


# --------------------------------------------------------------- buffered conflicts
def test_buffered_flush_after_another_process_committed_raises_conflict(uri: str) -> None:
    store = MemoryStore.open(uri)
    mem = store.namespace("ns")
    mem.apply_tool_call("memory_update", core("initial core"))
    wm = store.buffered("ns")
    assert wm.base_rev == 1
    a_result = wm.apply_tool_call("new_memory_insert", insert("A's buffered fact"))
    wm.apply_tool_call("memory_update", core("A's core"))
    assert a_result.ok

    (b_results,) = workers.run_parallel(
        [
            (
                workers.commit_calls,
                (uri, "ns", [("new_memory_insert", insert("B's fact")), ("memory_update", core("B's core"))]),
            )
        ]
    )
    assert [r["status"] for r in b_results] == ["ok", "ok"]

    with pytest.raises(MemoryConflictError, match=r"namespace\(s\) 'ns' changed in the store.*nothing was written"):
        wm.flush()
    assert wm.dirty  # A keeps its calls; nothing of them reached the store
    assert mem.core == "B's core"
    assert [e.content for e in mem.entries("semantic")] == ["B's fact"]
    assert all("A's" not in e.content for e in mem.entries("semantic") + mem.entries("episodic"))
    assert [op.rev for op in mem.operations()] == [1, 2, 3]
    assert all("A's" not in op.arguments for op in mem.operations())
    with pytest.raises(MemoryConflictError):  # still stale: a second try is refused too
        wm.flush()

    # reload, re-apply, flush: now it commits on top of B's writes
    wm = store.buffered("ns")
    assert wm.base_rev == 3
    retry = wm.apply_tool_call("new_memory_insert", insert("A's buffered fact"))
    wm.apply_tool_call("memory_update", core("A's core"))
    wm.flush()
    assert not wm.dirty and wm.base_rev == 4
    reopened = MemoryStore.open(uri).namespace("ns")
    assert reopened.core == "A's core"
    assert [e.content for e in reopened.entries("semantic")] == ["B's fact", "A's buffered fact"]
    assert reopened.get(retry.memory_id).content == "A's buffered fact"
    assert [(op.rev, op.index) for op in reopened.operations()] == [(1, 0), (2, 0), (3, 0), (4, 0), (4, 1)]


def test_conflict_when_the_namespace_was_created_after_loading(tmp_path: Path) -> None:
    a_store, b_store = MemoryStore.open(tmp_path / "s"), MemoryStore.open(tmp_path / "s")
    wm = a_store.buffered("new")
    assert wm.base_rev == 0 and wm.is_empty()
    wm.apply_tool_call("memory_update", core("A"))
    b_store.namespace("new").apply_tool_call("memory_update", core("B"))
    with pytest.raises(MemoryConflictError, match="'new'"):
        wm.flush()
    assert a_store.namespace("new").core == "B"
    assert len(a_store.namespace("new").operations()) == 1


def test_a_stale_namespace_blocks_the_whole_multi_namespace_flush(tmp_path: Path) -> None:
    a_store, b_store = MemoryStore.open(tmp_path / "s"), MemoryStore.open(tmp_path / "s")
    for ns in ("x", "y"):
        a_store.namespace(ns).apply_tool_call("memory_update", core(f"{ns} v1"))
    memories = a_store.buffered_many(["x", "y"])
    for ns, wm in memories.items():
        wm.apply_tool_call("memory_update", core(f"{ns} by A"))
    b_store.namespace("y").apply_tool_call("memory_update", core("y by B"))
    with pytest.raises(MemoryConflictError) as info:
        a_store.flush(memories.values())
    assert "'y'" in str(info.value) and "'x'" not in str(info.value)
    # nothing was written, not even the namespace that was not stale
    assert b_store.namespace("x").core == "x v1"
    assert b_store.namespace("y").core == "y by B"
    assert [op.rev for op in b_store.namespace("x").operations()] == [1]


def test_conflict_after_the_namespace_was_dropped_and_rewritten(uri: str) -> None:
    """A drop restarts the namespace's revisions at 1; a memory loaded before the drop must still be stale."""
    store = MemoryStore.open(uri)
    mem = store.namespace("ns")
    mem.apply_tool_call("memory_update", core("before the drop"))
    wm = store.buffered("ns")
    assert wm.base_rev == 1
    wm.apply_tool_call("new_memory_insert", insert("A's fact, from before the drop"))

    (b_results,) = workers.run_parallel(
        [(workers.drop_and_commit, (uri, "ns", [("memory_update", core("B's core after the drop"))]))]
    )
    assert [r["status"] for r in b_results] == ["ok"]
    assert mem.core == "B's core after the drop"

    # B committed after A loaded: A's flush must not overwrite B's core with A's stale one
    with pytest.raises(MemoryConflictError):
        wm.flush()
    assert mem.core == "B's core after the drop"
    assert mem.entries("semantic") == []


# ------------------------------------------------------------------ apply_batch
def test_apply_batch_from_two_processes_on_overlapping_namespaces(uri: str) -> None:
    MemoryStore.open(uri)
    n_batches = 15
    a, b = workers.run_parallel(
        [
            (workers.batch_writer, (uri, ["ns0", "ns1"], "A", n_batches)),
            (workers.batch_writer, (uri, ["ns1", "ns2"], "B", n_batches)),
        ]
    )
    store = MemoryStore.open(uri)
    assert store.namespaces() == ["ns0", "ns1", "ns2"]

    shared_status: Counter[tuple[str, str]] = Counter()
    for out in (a, b):
        for batch, results in zip(out["batches"], out["results"], strict=True):
            assert len(results) == len(batch)
            for (ns, tool, args), r in zip(batch, results, strict=True):
                if args.get("memory_type") == "episodic":
                    shared_status[args["content"], r["status"]] += 1
                else:
                    assert r["status"] == "ok", (ns, tool, args, r)
    for bi in range(n_batches):
        assert (shared_status[f"shared batch {bi}", "ok"], shared_status[f"shared batch {bi}", "skipped"]) == (1, 1)

    expected_batches = {"ns0": n_batches, "ns1": 2 * n_batches, "ns2": n_batches}
    for ns, writers in (("ns0", ["A"]), ("ns1", ["A", "B"]), ("ns2", ["B"])):
        mem = store.namespace(ns)
        contents = [e.content for e in mem.entries("semantic")]
        expected = {f"{tag} {ns} batch {bi}" for tag in writers for bi in range(n_batches)}
        assert sorted(contents) == sorted(expected)
        for tag in writers:  # each writer's inserts keep its order
            assert [c for c in contents if c.startswith(tag)] == [f"{tag} {ns} batch {bi}" for bi in range(n_batches)]
        ops = mem.operations()
        calls_per_batch = 3 if ns == "ns1" else 2
        assert len(ops) == expected_batches[ns] * calls_per_batch
        # one revision per batch that touched the namespace, the batch's calls at indexes 0..k-1
        assert [(op.rev, op.index) for op in ops] == [
            (rev, i) for rev in range(1, expected_batches[ns] + 1) for i in range(calls_per_batch)
        ]
        assert mem.snapshot().base_rev == expected_batches[ns]
        assert mem.core in {f"{tag} {ns} core {n_batches - 1}" for tag in writers}
        assert [e.content for e in mem.entries("episodic")] == (
            [f"shared batch {bi}" for bi in range(n_batches)] if ns == "ns1" else []
        )


# ------------------------------------------------------- threads of one process
def test_readers_never_see_a_call_whose_commit_is_in_flight(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While one thread's committed call is inside its commit, other threads read the last commit only;
    if that commit then fails, nothing of the call may surface anywhere (reads, buffered copies, flushes)."""
    store = MemoryStore.open(tmp_path / "store")
    mem = store.namespace("ns")
    mem.apply_tool_call("memory_update", core("committed core"))
    kept = mem.apply_tool_call("new_memory_insert", insert("committed fact"))
    assert mem.core == "committed core"  # a read before the race, as a long-running reader would have done

    in_commit, release = threading.Event(), threading.Event()
    original = store._table.merge_insert

    def merge_insert(on: Any) -> Any:
        builder = original(on)

        def execute(*args: Any, **kwargs: Any) -> Any:
            in_commit.set()
            assert release.wait(30)
            raise OSError(5, "injected failure of the in-flight commit")

        builder.execute = execute
        return builder

    monkeypatch.setattr(store._table, "merge_insert", merge_insert)
    with ThreadPoolExecutor(1) as pool:
        writer = pool.submit(
            mem.apply_tool_calls,
            [("memory_update", core("uncommitted core")), ("new_memory_insert", insert("uncommitted fact"))],
        )
        assert in_commit.wait(30)
        seen_core = mem.core
        seen_entries = [e.content for e in mem.entries("semantic")]
        reader_copy = store.buffered("ns")
        release.set()
        with pytest.raises(StorageError, match="injected failure"):
            writer.result(timeout=30)
    monkeypatch.undo()

    assert seen_core == "committed core"
    assert seen_entries == ["committed fact"]
    assert (reader_copy.core, [e.content for e in reader_copy.entries("semantic")]) == (
        "committed core",
        ["committed fact"],
    )
    # the copy taken during the failed commit is flushed later: the failed call must not come back with it
    reader_copy.apply_tool_call("new_memory_insert", insert("reader's fact"))
    reader_copy.flush()
    fresh = MemoryStore.open(tmp_path / "store").namespace("ns")
    assert fresh.core == "committed core"
    assert [e.content for e in fresh.entries("semantic")] == ["committed fact", "reader's fact"]
    assert fresh.get(kept.memory_id).content == "committed fact"
    assert all("uncommitted" not in op.arguments for op in fresh.operations())
