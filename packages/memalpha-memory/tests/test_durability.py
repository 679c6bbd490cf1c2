"""Durability: what was committed survives reopening and SIGKILL, failed writes leave the last commit
readable and can be retried, ``memory://`` stores, and export/import round trips."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from memalpha_memory import (
    InvalidExportError,
    InvalidNamespaceError,
    Memory,
    MemoryConflictError,
    MemoryStore,
    NamespaceExistsError,
    NamespaceExport,
    NamespaceNotFoundError,
    StorageError,
    WorkingMemory,
)

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

import _mp_workers as workers  # noqa: E402
from _mp_workers import entry_tuple, state_of  # noqa: E402


def insert(content: str, memory_type: str = "semantic") -> dict[str, str]:
    return {"memory_type": memory_type, "content": content}


def core(text: str) -> dict[str, str]:
    return {"memory_type": "core", "new_content": text}


def versions(store: MemoryStore) -> tuple[int, int]:
    return store._table.version, store._operations.version


# ------------------------------------------------------------------ reopening
def test_everything_written_survives_reopening_and_a_fresh_process(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    store = MemoryStore.open(uri)

    # committed API
    mem = store.namespace("committed")
    porto = mem.apply_tool_call("new_memory_insert", insert("Ana lives in Porto"))
    lisbon = mem.apply_tool_call("new_memory_insert", insert("Bo moved to Lisbon", "episodic"))
    temp = mem.apply_tool_call("new_memory_insert", insert("a temporary note"))
    mem.apply_tool_call("memory_update", core("Ana is the user's friend"))
    created = mem.get(porto.memory_id).created_at
    mem.apply_tool_call(
        "memory_update", {"memory_type": "semantic", "memory_id": porto.memory_id, "new_content": "Ana lives in Braga"}
    )
    mem.apply_tool_call("memory_delete", {"memory_type": "semantic", "memory_id": temp.memory_id})
    failed = mem.apply_tool_call("memory_delete", {"memory_type": "semantic", "memory_id": "zzzz"})
    assert failed.error_kind == "unknown_id"

    # buffered API
    wm = store.buffered("buffered")
    buffered_ids = [wm.apply_tool_call("new_memory_insert", insert(f"buffered fact {i}")).memory_id for i in range(3)]
    wm.apply_tool_call("new_memory_insert", insert("buffered event", "episodic"))
    wm.apply_tool_call("memory_update", core("buffered core"))
    pending = {kind: [entry_tuple(e) for e in wm.entries(kind)] for kind in ("semantic", "episodic")}
    wm.flush()

    # batch API
    batch = store.apply_batch(
        [
            ("batch-1", "new_memory_insert", insert("batch fact")),
            ("batch-2", "memory_update", core("batch-2 core")),
            ("batch-1", "memory_update", core("batch-1 core")),
            ("committed", "new_memory_insert", insert("added by a batch")),
        ]
    )
    assert [r.status for r in batch] == ["ok"] * 4

    expected = state_of(store)
    # what was written is what is read, to the microsecond
    assert expected["namespaces"] == ["batch-1", "batch-2", "buffered", "committed"]
    c = expected["committed"]
    assert c["core"] == "Ana is the user's friend"
    assert [(e[0], e[1]) for e in c["semantic"]] == [
        (porto.memory_id, "Ana lives in Braga"),
        (batch[3].memory_id, "added by a batch"),
    ]
    assert [(e[0], e[1]) for e in c["episodic"]] == [(lisbon.memory_id, "Bo moved to Lisbon")]
    assert c["semantic"][0][2] == created < c["semantic"][0][3]  # an update keeps created_at, moves updated_at
    assert [(op[1], op[2], op[4], op[6]) for op in c["operations"]] == [
        (1, 0, "new_memory_insert", "ok"),
        (2, 0, "new_memory_insert", "ok"),
        (3, 0, "new_memory_insert", "ok"),
        (4, 0, "memory_update", "ok"),
        (5, 0, "memory_update", "ok"),
        (6, 0, "memory_delete", "ok"),
        (7, 0, "memory_delete", "error"),
        (8, 0, "new_memory_insert", "ok"),
    ]
    assert c["rev"] == 8
    b = expected["buffered"]
    assert (b["core"], b["semantic"], b["episodic"]) == ("buffered core", pending["semantic"], pending["episodic"])
    assert [e[0] for e in b["semantic"]] == buffered_ids
    assert [(op[1], op[2]) for op in b["operations"]] == [(1, i) for i in range(5)]
    assert expected["batch-1"]["core"] == "batch-1 core"
    assert [e[1] for e in expected["batch-1"]["semantic"]] == ["batch fact"]
    assert [(op[1], op[2]) for op in expected["batch-1"]["operations"]] == [(1, 0), (1, 1)]
    assert expected["batch-2"]["core"] == "batch-2 core"

    # a new handle in this process, and a fresh process, read the same
    assert state_of(MemoryStore.open(uri)) == expected
    (in_child,) = workers.run_parallel([(workers.read_state, (uri,))])
    assert in_child == expected

    # a reopened store carries on where the old one stopped
    reopened = MemoryStore.open(uri).namespace("committed")
    more = reopened.apply_tool_call("new_memory_insert", insert("after reopening"))
    assert more.ok and more.memory_id not in {e[0] for e in c["semantic"] + c["episodic"]}
    assert reopened.get(more.memory_id).seq > max(e[4] for e in c["semantic"] + c["episodic"])
    assert [op.rev for op in reopened.operations()] == list(range(1, 10))


# ----------------------------------------------------------------------- SIGKILL
@pytest.mark.parametrize("acks_before_kill", [5, 13, 29])
def test_sigkill_mid_stream_loses_no_acknowledged_write(tmp_path: Path, acks_before_kill: int) -> None:
    uri = str(tmp_path / "store")
    MemoryStore.open(uri)
    code = (
        f"import sys; sys.path.insert(0, {_TESTS!r}); import _mp_workers; "
        f"_mp_workers.killable_writer({uri!r}, 'victim')"
    )
    stderr_path = tmp_path / "child-stderr.txt"
    with (
        stderr_path.open("w") as stderr,
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=stderr, text=True) as child,
    ):
        assert child.stdout is not None
        try:
            lines = [child.stdout.readline()]
            assert lines[0] == '{"ready": true}\n', stderr_path.read_text()
            lines = []
            while len(lines) < acks_before_kill:
                line = child.stdout.readline()
                assert line.endswith("\n"), f"the writer stopped early:\n{stderr_path.read_text()}"
                lines.append(line)
            # land the kill somewhere in the following commits (or compactions), not at a call boundary
            time.sleep(random.Random(acks_before_kill).uniform(0.0, 0.03))
            os.kill(child.pid, signal.SIGKILL)
            rest = child.stdout.read()
        finally:
            if child.poll() is None:
                child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, stderr_path.read_text()
    # a line cut by the kill was never acknowledged
    acks = [json.loads(line) for line in lines + rest.splitlines(keepends=True) if line.endswith("\n")]
    assert [a["i"] for a in acks] == list(range(len(acks)))
    assert all(a["status"] == "ok" for a in acks)
    in_flight = len(acks)  # the call that may or may not have committed when the process died

    store = MemoryStore.open(uri)
    assert store.namespaces() == ["victim"]
    mem = store.namespace("victim")
    snap = mem.snapshot()
    acked_inserts = [a for a in acks if a["tool"] == "new_memory_insert"]
    for a in acked_inserts:
        entry = snap.get(a["id"])
        assert entry is not None, f"acknowledged insert {a} is lost"
        assert entry.content == a["args"]["content"]
        assert snap.memory_type_of(a["id"]) == a["args"]["memory_type"]
    in_flight_is_insert = in_flight % 4 != 3
    assert len(snap) in {len(acked_inserts), len(acked_inserts) + int(in_flight_is_insert)}
    acked_cores = [a["args"]["new_content"] for a in acks if a["tool"] == "memory_update"]
    possible_cores = {acked_cores[-1] if acked_cores else ""} | (
        set() if in_flight_is_insert else {f"core version {in_flight}"}
    )
    assert snap.core in possible_cores

    # the log holds every acknowledged call, in order, one revision each
    ops = mem.operations()
    assert len(ops) in {len(acks), len(acks) + 1}
    assert [op.rev for op in ops] == list(range(1, len(ops) + 1))
    assert [json.loads(op.arguments) for op in ops[: len(acks)]] == [a["args"] for a in acks]
    assert snap.base_rev in {len(acks), len(acks) + 1}
    keys = store._table.to_arrow().column("key").to_pylist()
    assert len(keys) == len(set(keys))

    # the store is readable and searchable in both text modes
    semantic = [a for a in acked_inserts if a["args"]["memory_type"] == "semantic"]
    for a in (semantic[0], semantic[-1]):
        for mode in ("bm25", "fts"):
            hits = mem.search(f"uniqueword{a['i']}", memory_type="semantic", k=1, mode=mode)
            assert [h.entry.id for h in hits] == [a["id"]], mode
    # ... and writable: a new commit and a compaction go through
    after = mem.apply_tool_call("new_memory_insert", insert("written after the crash about uniquewordafter"))
    assert after.ok
    store.optimize()
    reopened = MemoryStore.open(uri).namespace("victim")
    assert [h.entry.id for h in reopened.search("uniquewordafter", mode="fts")] == [after.memory_id]
    assert reopened.operations()[-1].memory_id == after.memory_id


# --------------------------------------------------------------- failed writes
def test_an_invalid_namespace_in_a_batch_writes_nothing_of_the_batch(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    store = MemoryStore.open(uri)
    store.namespace("keep").apply_tool_call("new_memory_insert", insert("kept fact"))
    before, table_versions = state_of(store), versions(store)

    calls = [
        ("keep", "new_memory_insert", insert("first call of the batch")),
        ("fresh", "memory_update", core("a new namespace")),
        ("bad name!", "new_memory_insert", insert("never applied")),
        ("keep", "memory_update", core("never applied")),
    ]
    with pytest.raises(InvalidNamespaceError, match=r"invalid namespace 'bad name!'"):
        store.apply_batch(iter(calls))
    assert versions(store) == table_versions
    assert state_of(store) == before
    assert state_of(MemoryStore.open(uri)) == before
    assert not store.exists("fresh")

    results = store.apply_batch([c for c in calls if c[0] != "bad name!"])
    assert [r.status for r in results] == ["ok"] * 3
    assert [e.content for e in store.namespace("keep").entries("semantic")] == ["kept fact", "first call of the batch"]
    assert store.namespace("fresh").core == "a new namespace"


class Fault:
    """An injected storage failure, active until switched off."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.active = True
        self.hits = 0

    def check(self) -> None:
        if self.active:
            self.hits += 1
            raise self.exc


def inject(monkeypatch: pytest.MonkeyPatch, store: MemoryStore, target: str, fault: Fault) -> None:
    """Make the memory table's merge_insert, or the operations log's add, fail while ``fault`` is active."""
    if target == "merge":
        table = store._table
        original = table.merge_insert

        def merge_insert(on: Any) -> Any:
            builder = original(on)
            execute = builder.execute

            def failing_execute(*args: Any, **kwargs: Any) -> Any:
                fault.check()
                return execute(*args, **kwargs)

            builder.execute = failing_execute
            return builder

        monkeypatch.setattr(table, "merge_insert", merge_insert)
    else:
        log = store._operations
        add = log.add

        def failing_add(*args: Any, **kwargs: Any) -> Any:
            fault.check()
            return add(*args, **kwargs)

        monkeypatch.setattr(log, "add", failing_add)


SEEDED = ("Ana lives in Porto", "Bo plays chess", "Cy moved to Lisbon", "Di writes poems")


def seeded(uri: str) -> tuple[MemoryStore, Memory, list[str]]:
    store = MemoryStore.open(uri, optimize_every=None)
    mem = store.namespace("ns")
    ids = [mem.apply_tool_call("new_memory_insert", insert(c)).memory_id for c in SEEDED]
    mem.apply_tool_call("memory_update", core("core v1"))
    return store, mem, ids


@pytest.mark.parametrize(
    "exc", [OSError(28, "No space left on device"), RuntimeError("LanceError(IO): object store failed")]
)
@pytest.mark.parametrize("target", ["merge", "log"], ids=["memory-table-merge-fails", "operations-log-add-fails"])
def test_a_failed_flush_keeps_the_last_commit_and_can_be_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, exc: BaseException
) -> None:
    uri = str(tmp_path / "store")
    store, mem, (porto, chess, lisbon, poems) = seeded(uri)
    before = state_of(store)
    assert before["ns"]["rev"] == 5

    wm = store.buffered("ns")
    tea = wm.apply_tool_call("new_memory_insert", insert("Cy likes tea"))
    wm.apply_tool_call("memory_update", core("core v2"))
    wm.apply_tool_call("memory_delete", {"memory_type": "semantic", "memory_id": chess})
    pending = [entry_tuple(e) for e in wm.entries("semantic")]

    fault = Fault(exc)
    inject(monkeypatch, store, target, fault)
    with pytest.raises(StorageError, match=r"LanceDB operation on '.*' failed: ") as info:
        wm.flush()
    assert info.value.__cause__ is exc
    assert fault.hits == 1

    # the last committed state is intact and readable, from this handle and from new ones
    assert MemoryStore.open(uri).namespace("ns").snapshot().base_rev == 5, (
        "a failed flush committed part of its changes"
    )
    assert state_of(store) == before
    assert state_of(MemoryStore.open(uri)) == before
    for mode in ("bm25", "fts"):
        assert [h.entry.id for h in mem.search("chess", k=1, mode=mode)] == [chess]

    # the working memory kept its changes, so the flush can be retried once the fault is gone
    assert wm.dirty and wm.base_rev == 5
    assert wm.core == "core v2" and [entry_tuple(e) for e in wm.entries("semantic")] == pending
    fault.active = False
    wm.flush()
    assert not wm.dirty and wm.base_rev == 6
    after = state_of(MemoryStore.open(uri))["ns"]
    assert after["rev"] == 6
    assert after["core"] == "core v2"
    assert after["semantic"] == pending
    assert [e[0] for e in after["semantic"]] == [porto, lisbon, poems, tea.memory_id]
    assert [(op[1], op[2], op[4]) for op in after["operations"]] == [
        (1, 0, "new_memory_insert"),
        (2, 0, "new_memory_insert"),
        (3, 0, "new_memory_insert"),
        (4, 0, "new_memory_insert"),
        (5, 0, "memory_update"),
        (6, 0, "new_memory_insert"),
        (6, 1, "memory_update"),
        (6, 2, "memory_delete"),
    ]


def test_a_failed_committed_call_and_batch_raise_storage_error_and_write_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = str(tmp_path / "store")
    store, mem, _ = seeded(uri)
    before, table_versions = state_of(store), versions(store)
    fault = Fault(OSError(5, "Input/output error"))
    inject(monkeypatch, store, "merge", fault)

    with pytest.raises(StorageError, match="Input/output error"):
        mem.apply_tool_call("new_memory_insert", insert("Cy likes tea"))
    with pytest.raises(StorageError, match="Input/output error"):
        store.apply_batch([("ns", "memory_update", core("core v2")), ("other", "new_memory_insert", insert("x"))])
    assert fault.hits == 2
    assert versions(store) == table_versions
    assert state_of(store) == before
    assert state_of(MemoryStore.open(uri)) == before

    fault.active = False
    assert mem.apply_tool_call("new_memory_insert", insert("Cy likes tea")).ok
    assert [
        r.status
        for r in store.apply_batch(
            [("ns", "memory_update", core("core v2")), ("other", "new_memory_insert", insert("x"))]
        )
    ] == ["ok", "ok"]
    after = state_of(MemoryStore.open(uri))
    assert after["namespaces"] == ["ns", "other"]
    assert after["ns"]["core"] == "core v2"
    assert [e[1] for e in after["ns"]["semantic"]] == [*SEEDED, "Cy likes tea"]
    assert [op[1] for op in after["ns"]["operations"]] == [1, 2, 3, 4, 5, 6, 7]


def test_a_committed_call_that_raises_has_written_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compaction that follows every N-th commit fails: the call either succeeds (compaction is
    maintenance) or, if it raises, must not have written anything (a caller retries what raised)."""
    uri = str(tmp_path / "store")
    store = MemoryStore.open(uri, optimize_every=1)
    mem = store.namespace("ns")
    assert mem.apply_tool_call("memory_update", core("core v1")).ok
    fault = Fault(OSError(28, "No space left on device"))
    table_optimize = store._table.optimize

    def failing_optimize(*args: Any, **kwargs: Any) -> Any:
        fault.check()
        return table_optimize(*args, **kwargs)

    monkeypatch.setattr(store._table, "optimize", failing_optimize)
    try:
        result = mem.apply_tool_call("new_memory_insert", insert("Ana lives in Porto"))
    except StorageError:
        raised = True
    else:
        raised = False
        assert result.ok
    assert fault.hits == 1
    stored = [e.content for e in MemoryStore.open(uri).namespace("ns").entries("semantic")]
    if raised:
        assert stored == [], "the call raised StorageError but its insert was committed"
    else:
        assert stored == ["Ana lives in Porto"]


# ------------------------------------------------------------------- memory://
def test_memory_uri_store_writes_and_reads_back() -> None:
    store = MemoryStore.open("memory://")
    assert store.uri == "memory://"
    mem = store.namespace("m")
    porto = mem.apply_tool_call("new_memory_insert", insert("Ana lives in Porto"))
    mem.apply_tool_call("memory_update", core("the user is Ana"))
    wm = store.buffered("m")
    chess = wm.apply_tool_call("new_memory_insert", insert("Bo plays chess on Sundays"))
    event = wm.apply_tool_call("new_memory_insert", insert("Ana met Bo at the market", "episodic"))
    wm.flush()
    batch = store.apply_batch(
        [("m", "new_memory_insert", insert("Porto is famous for port wine")), ("n", "memory_update", core("n core"))]
    )
    assert [r.status for r in batch] == ["ok", "ok"]

    assert store.namespaces() == ["m", "n"]
    assert mem.core == "the user is Ana"
    assert [(e.id, e.content) for e in mem.entries("semantic")] == [
        (porto.memory_id, "Ana lives in Porto"),
        (chess.memory_id, "Bo plays chess on Sundays"),
        (batch[0].memory_id, "Porto is famous for port wine"),
    ]
    assert [e.id for e in mem.entries("episodic")] == [event.memory_id]
    assert [(op.rev, op.index, op.tool) for op in mem.operations()] == [
        (1, 0, "new_memory_insert"),
        (2, 0, "memory_update"),
        (3, 0, "new_memory_insert"),
        (3, 1, "new_memory_insert"),
        (4, 0, "new_memory_insert"),
    ]
    for mode in ("bm25", "fts"):
        assert [h.entry.id for h in mem.search("chess", k=1, mode=mode)] == [chess.memory_id]
    assert store.namespace("n").core == "n core"

    # stale buffered memories are still refused within the process
    first, second = store.buffered("m"), store.buffered("m")
    first.apply_tool_call("memory_update", core("first"))
    second.apply_tool_call("memory_update", core("second"))
    first.flush()
    with pytest.raises(MemoryConflictError, match="'m'"):
        second.flush()
    assert mem.core == "first"


def test_each_memory_uri_store_is_independent() -> None:
    one, two = MemoryStore.open("memory://"), MemoryStore.open("memory://")
    one.namespace("a").apply_tool_call("memory_update", core("one's core"))
    assert two.namespaces() == []
    assert not two.namespace("a").exists()
    two.namespace("a").apply_tool_call("new_memory_insert", insert("two's fact"))
    two.namespace("b").apply_tool_call("memory_update", core("b"))
    assert one.namespaces() == ["a"]
    assert one.namespace("a").core == "one's core" and one.namespace("a").entries("semantic") == []
    assert two.namespace("a").core == "" and [e.content for e in two.namespace("a").entries("semantic")] == [
        "two's fact"
    ]
    assert [op.rev for op in one.namespace("a").operations()] == [1]
    assert [op.rev for op in two.namespace("a").operations()] == [1]
    assert MemoryStore.open("memory://").namespaces() == []


def test_memory_uri_store_serialises_writer_threads() -> None:
    store = MemoryStore.open("memory://")
    n_threads, n_calls = 4, 12
    barrier = threading.Barrier(n_threads)

    def writer(t: int) -> list[str | None]:
        mem = store.namespace("shared")
        barrier.wait(timeout=30)
        return [
            mem.apply_tool_call("new_memory_insert", insert(f"thread {t} fact {i}")).memory_id for i in range(n_calls)
        ]

    with ThreadPoolExecutor(n_threads) as pool:
        ids = list(pool.map(writer, range(n_threads)))
    mem = store.namespace("shared")
    entries = mem.entries("semantic")
    assert len(entries) == n_threads * n_calls
    assert sorted(e.id for e in entries) == sorted(i for per in ids for i in per)  # type: ignore[type-var]
    for t in range(n_threads):
        assert [e.content for e in entries if e.content.startswith(f"thread {t} ")] == [
            f"thread {t} fact {i}" for i in range(n_calls)
        ]
    assert [op.rev for op in mem.operations()] == list(range(1, n_threads * n_calls + 1))


# -------------------------------------------------------------- export / import
def populate(store: MemoryStore, name: str) -> Memory:
    mem = store.namespace(name)
    ids = [mem.apply_tool_call("new_memory_insert", insert(f"semantic fact {i}")).memory_id for i in range(4)]
    for i in range(2):
        mem.apply_tool_call("new_memory_insert", insert(f"episode {i}", "episodic"))
    mem.apply_tool_call("memory_update", core(f"core of {name}"))
    mem.apply_tool_call(
        "memory_update", {"memory_type": "semantic", "memory_id": ids[0], "new_content": "semantic fact 0, revised"}
    )
    mem.apply_tool_call("memory_delete", {"memory_type": "semantic", "memory_id": ids[2]})
    return mem


def content_of(mem: Memory) -> tuple[str, list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Core and entries (id, content, created_at, updated_at) in order; ``seq`` is renumbered on import."""
    snap = mem.snapshot()
    return (
        snap.core,
        [entry_tuple(e)[:4] for e in snap.entries("semantic")],
        [entry_tuple(e)[:4] for e in snap.entries("episodic")],
    )


def test_export_drop_import_round_trip(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    store = MemoryStore.open(uri)
    mem = populate(store, "src")
    original = content_of(mem)
    assert original[0] == "core of src"
    assert [e[1] for e in original[1]] == ["semantic fact 0, revised", "semantic fact 1", "semantic fact 3"]
    assert original[1][0][2] < original[1][0][3]  # the revised entry keeps its own timestamps

    export = mem.export()
    path = tmp_path / "src.json"
    text = mem.export_json(path)
    assert path.read_text(encoding="utf-8") == text
    assert json.loads(text)["format"] == "memalpha.memory/v1"
    assert NamespaceExport.model_validate_json(text).model_dump(exclude={"exported_at"}) == export.model_dump(
        exclude={"exported_at"}
    )
    assert (export.namespace, export.core) == ("src", original[0])
    assert [(e.id, e.content, e.created_at, e.updated_at) for e in export.semantic] == original[1]
    assert [(e.id, e.content, e.created_at, e.updated_at) for e in export.episodic] == original[2]

    store.drop("src")
    assert not mem.exists() and store.namespaces() == []
    assert mem.operations() == [] and mem.core == "" and mem.entries("semantic") == []
    with pytest.raises(NamespaceNotFoundError, match="'src'"):
        mem.export()

    imported = store.import_namespace(path.read_text(encoding="utf-8"))
    assert imported.namespace == "src"
    assert content_of(imported) == original
    assert imported.snapshot().base_rev == 1
    assert imported.export().model_dump(exclude={"exported_at"}) == export.model_dump(exclude={"exported_at"})
    assert content_of(MemoryStore.open(uri).namespace("src")) == original

    # the dict and model forms, into other namespaces
    assert content_of(store.import_namespace(json.loads(text), namespace="from-dict")) == original
    assert content_of(store.import_namespace(export, namespace="from-model")) == original
    assert store.namespaces() == ["from-dict", "from-model", "src"]

    # an imported memory carries on: a new entry gets a fresh id and goes last
    new = imported.apply_tool_call("new_memory_insert", insert("after the import"))
    assert new.ok and new.memory_id not in {e[0] for e in original[1] + original[2]}
    assert [e.content for e in imported.entries("semantic")][-1] == "after the import"
    ids_by_type = [e[0] for e in original[1]] + [new.memory_id]
    assert [e.id for e in imported.entries("semantic")] == ids_by_type


def test_import_with_replace_swaps_contents_in_one_commit(tmp_path: Path) -> None:
    store = MemoryStore.open(tmp_path / "store", optimize_every=None)
    export = populate(store, "src").export()
    target = store.namespace("target")
    old = [target.apply_tool_call("new_memory_insert", insert(f"old fact {i}")).memory_id for i in range(3)]
    target.apply_tool_call("memory_update", core("old core"))
    stale = store.buffered("target")
    stale.apply_tool_call("memory_update", core("a stale write"))
    rev, (table_version, log_version) = target.snapshot().base_rev, versions(store)

    with pytest.raises(NamespaceExistsError, match=r"namespace 'target' already holds data; pass replace=True"):
        store.import_namespace(export, namespace="target")
    with pytest.raises(NamespaceExistsError, match="'src'"):
        store.import_namespace(export)
    assert versions(store) == (table_version, log_version)
    assert target.core == "old core"

    store.import_namespace(export, namespace="target", replace=True)
    assert store._table.version == table_version + 1  # old rows deleted and new rows written in one commit
    assert target.snapshot().base_rev == rev + 1
    assert target.core == "core of src"
    assert [(e.id, e.content, e.created_at, e.updated_at) for e in target.entries("semantic")] == [
        (e.id, e.content, e.created_at, e.updated_at) for e in export.semantic
    ]
    assert [e.content for e in target.entries("episodic")] == ["episode 0", "episode 1"]
    assert all(target.get(i) is None or target.get(i).content.startswith(("semantic", "episode")) for i in old)
    assert "old" not in " ".join(e.content for e in target.entries("semantic"))
    assert content_of(store.namespace("src")) == content_of(target)  # the source is untouched
    with pytest.raises(MemoryConflictError, match="'target'"):
        stale.flush()
    assert target.core == "core of src"


_TS = "2024-01-01T00:00:00Z"
_BASE = {"namespace": "incoming", "exported_at": _TS}
_ENTRY = {"id": "abcd", "content": "x", "created_at": _TS, "updated_at": _TS}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json at all", "not a memalpha memory export"),
        ({}, "not a memalpha memory export"),
        ([], "not a memalpha memory export"),
        ({**_BASE, "format": "memalpha.memory/v2"}, "not a memalpha memory export"),
        ({**_BASE, "bogus": 1}, "not a memalpha memory export"),
        ({**_BASE, "semantic": "not a list"}, "not a memalpha memory export"),
        ({**_BASE, "semantic": [{**_ENTRY, "id": "a b"}]}, "not a memalpha memory export"),
        (
            {**_BASE, "semantic": [{k: v for k, v in _ENTRY.items() if k != "updated_at"}]},
            "not a memalpha memory export",
        ),
        ({**_BASE, "exported_at": "yesterday"}, "not a memalpha memory export"),
        ({**_BASE, "semantic": [_ENTRY], "episodic": [{**_ENTRY, "content": "y"}]}, "repeats an entry id"),
    ],
    ids=[
        "not-json",
        "empty",
        "a-list",
        "wrong-format",
        "extra-field",
        "semantic-not-list",
        "bad-id",
        "missing-updated_at",
        "bad-date",
        "repeated-id",
    ],
)
def test_a_malformed_export_is_refused_and_writes_nothing(tmp_path: Path, document: Any, message: str) -> None:
    store = MemoryStore.open(tmp_path / "store")
    store.namespace("existing").apply_tool_call("memory_update", core("untouched"))
    before, table_versions = state_of(store), versions(store)
    with pytest.raises(InvalidExportError, match=message):
        store.import_namespace(document, namespace="incoming")
    with pytest.raises(InvalidExportError, match=message):  # the same document as JSON text
        store.import_namespace(document if isinstance(document, str) else json.dumps(document), namespace="incoming")
    assert versions(store) == table_versions
    assert state_of(store) == before
    assert not store.exists("incoming")


def test_an_export_with_an_invalid_namespace_needs_a_target_name(tmp_path: Path) -> None:
    store = MemoryStore.open(tmp_path / "store")
    document = {"namespace": "no spaces allowed", "exported_at": "2024-01-01T00:00:00Z", "core": "c"}
    with pytest.raises(InvalidNamespaceError, match="invalid namespace 'no spaces allowed'"):
        store.import_namespace(document)
    assert store.namespaces() == []
    assert store.import_namespace(document, namespace="fine").core == "c"


def test_a_detached_working_memory_replaces_a_namespace_through_its_export(tmp_path: Path) -> None:
    store = MemoryStore.open(str(tmp_path / "store"))
    populate(store, "n")
    draft = WorkingMemory(seed=1)
    draft.apply_tool_call("new_memory_insert", {"memory_type": "episodic", "content": "On Monday Ana moved."})
    draft.apply_tool_call("memory_update", {"memory_type": "core", "new_content": "Ana's notes."})
    with pytest.raises(ValueError, match="no namespace"):
        draft.export()
    export = draft.export("n")
    assert [e.content for e in export.episodic] == ["On Monday Ana moved."] and export.semantic == []
    replaced = store.import_namespace(export, replace=True)
    assert content_of(replaced)[0] == "Ana's notes."
    assert [e[1] for e in content_of(replaced)[2]] == ["On Monday Ana moved."] and content_of(replaced)[1] == []
