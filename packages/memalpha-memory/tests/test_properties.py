"""Property tests: random garbage as tool calls never raises and never corrupts stored data."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memalpha_memory import MemoryStore, WorkingMemory

TOOLS = ["new_memory_insert", "memory_update", "memory_delete", "search_memory"]
KEYS = ["memory_type", "content", "new_content", "memory_id", "query", "k", "search_method", "top_k"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
plausible = st.dictionaries(
    st.sampled_from(KEYS),
    st.sampled_from(["semantic_memory", "episodic", "core_memory", "CORE", "bm25", "text-embedding", "abcd", ""])
    | st.text(max_size=40)
    | json_values,
    max_size=5,
)
arguments = (
    plausible
    | plausible.map(json.dumps)
    | plausible.map(lambda d: json.dumps(d)[: max(0, len(json.dumps(d)) - 3)])  # truncated JSON
    | st.text(max_size=200)
    | st.binary(max_size=50)
    | json_values
)
names = st.sampled_from(TOOLS) | st.text(max_size=20) | st.none() | st.integers()
calls = st.lists(st.tuples(names, arguments), max_size=25)


def snapshot(memory: WorkingMemory) -> tuple[str, list[tuple[str, str]], list[tuple[str, str]]]:
    return (
        memory.core,
        [(e.id, e.content) for e in memory.entries("semantic")],
        [(e.id, e.content) for e in memory.entries("episodic")],
    )


@given(calls)
def test_garbage_calls_never_raise_on_a_working_memory(batch: list[tuple[object, object]]) -> None:
    memory = WorkingMemory(record_operations=True)
    memory.apply_tool_call("new_memory_insert", {"memory_type": "semantic", "content": "anchor"})
    for name, args in batch:
        result = memory.apply_tool_call(name, args)  # type: ignore[arg-type]
        assert result.status in ("ok", "skipped", "error")
        assert (result.status == "error") == (result.error_kind is not None)
        assert result.message
    # the invariants of the memory still hold
    semantic = memory.entries("semantic")
    assert len({e.id for e in semantic + memory.entries("episodic")}) == len(memory)
    assert all(isinstance(e.content, str) and e.content.strip() for e in semantic)
    assert len(memory._operations) == 1 + sum(
        1 for n, _ in batch if not (isinstance(n, str) and n.strip() == "search_memory")
    )
    memory.render_view()
    memory.render_for_answer("anchor", max_tokens=50)


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(calls)
def test_garbage_batches_commit_exactly_what_a_working_memory_would_do(batch: list[tuple[object, object]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = MemoryStore.open(Path(folder) / "mem")
        mem = store.namespace("u")
        mem.apply_tool_call("new_memory_insert", {"memory_type": "semantic", "content": "anchor"})
        expected = mem.snapshot()
        results = store.apply_batch([("u", name, args) for name, args in batch])  # type: ignore[misc]
        replay = [expected.apply_tool_call(name, args) for name, args in batch]  # type: ignore[arg-type]
        assert [(r.status, r.error_kind) for r in results] == [(r.status, r.error_kind) for r in replay]
        reopened = MemoryStore.open(Path(folder) / "mem").namespace("u").snapshot()
        assert reopened.core == expected.core
        for kind in ("semantic", "episodic"):
            assert [e.content for e in reopened.entries(kind)] == [e.content for e in expected.entries(kind)]
