"""flush(wait=False): the commit runs on a background thread while calls keep being applied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from memalpha_memory import MemoryConflictError, MemoryStore, StorageError, WorkingMemory


def insert(memory: WorkingMemory, content: str) -> str:
    result = memory.apply_tool_call("new_memory_insert", {"memory_type": "semantic", "content": content})
    assert result.ok and result.memory_id is not None
    return result.memory_id


def contents(store: MemoryStore, name: str) -> list[str]:
    return [e.content for e in MemoryStore.open(store.uri).namespace(name).entries("semantic")]


def test_background_flushes_commit_every_step(store: MemoryStore) -> None:
    memories = store.buffered_many(["a", "b"])
    for step in range(5):
        for name, memory in memories.items():
            insert(memory, f"{name} step {step}")
        store.flush(memories.values(), wait=False)
    store.wait()
    for name in memories:
        assert contents(store, name) == [f"{name} step {s}" for s in range(5)]
        assert [op.rev for op in store.namespace(name).operations()] == [1, 2, 3, 4, 5]
    assert all(m.base_rev == 5 and not m.dirty for m in memories.values())
    store.close()
    store.close()  # idempotent


def test_calls_applied_during_a_background_flush_go_to_the_next_one(store: MemoryStore) -> None:
    memory = store.buffered("u")
    first = insert(memory, "first")
    store.flush([memory], wait=False)
    memory.apply_tool_call("memory_delete", {"memory_type": "semantic", "memory_id": first})
    insert(memory, "second")
    store.flush([memory])  # waits for the first, then commits the rest
    assert contents(store, "u") == ["second"]


def test_a_failed_background_flush_gives_its_changes_back(store: MemoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = store.buffered("u")
    insert(memory, "committed")
    store.flush([memory])
    add = store._operations.add
    failing = {"on": True}

    def flaky_add(*args: Any, **kwargs: Any) -> Any:
        if failing["on"]:
            raise OSError(28, "No space left on device")
        return add(*args, **kwargs)

    monkeypatch.setattr(store._operations, "add", flaky_add)
    lost = insert(memory, "in the failed flush")
    store.flush([memory], wait=False)
    later = insert(memory, "applied while it ran")
    memory.apply_tool_call("memory_delete", {"memory_type": "semantic", "memory_id": lost})
    with pytest.raises(StorageError, match="No space left"):
        store.wait()
    assert contents(store, "u") == ["committed"]  # the memory table was put back: nothing half-written
    assert memory.dirty and memory.base_rev == 1
    failing["on"] = False
    store.flush([memory])
    assert contents(store, "u") == ["committed", "applied while it ran"]
    assert memory.get(later) is not None and memory.get(lost) is None
    ops = store.namespace("u").operations()
    assert [(op.rev, op.tool) for op in ops][-3:] == [(2, "new_memory_insert")] * 2 + [(2, "memory_delete")]


def test_a_background_flush_detects_conflicts(tmp_path: Path) -> None:
    store = MemoryStore.open(tmp_path / "m")
    memory = store.buffered("u")
    insert(memory, "mine")
    store.flush([memory])
    insert(memory, "stale")
    MemoryStore.open(tmp_path / "m").namespace("u").apply_tool_call(
        "memory_update", {"memory_type": "core", "new_content": "someone else"}
    )
    store.flush([memory], wait=False)
    with pytest.raises(MemoryConflictError, match="'u'"):
        store.wait()
    assert contents(store, "u") == ["mine"] and memory.dirty


def test_memories_can_leave_their_calls_out_of_the_log(store: MemoryStore) -> None:
    quiet = store.buffered("quiet", record_operations=False)
    fresh = store.working_memory("fresh", record_operations=False)
    for memory in (quiet, fresh):
        insert(memory, "not logged")
    store.flush([quiet, fresh])
    for name in ("quiet", "fresh"):
        assert contents(store, name) == ["not logged"] and store.namespace(name).operations() == []
