"""WorkingMemory beyond single calls: fork, views, answer retrieval, sizes, search."""

from __future__ import annotations

import pytest

from memalpha_memory import SearchUnavailableError, WorkingMemory, count_tokens


def filled(seed: int = 0) -> WorkingMemory:
    memory = WorkingMemory(seed=seed)
    memory.apply_tool_call("memory_update", {"memory_type": "core_memory", "new_content": "The user is Ana, a nurse."})
    for i in range(8):
        memory.apply_tool_call("new_memory_insert", {"memory_type": "semantic_memory", "content": f"fact {i}"})
    for i in range(3):
        memory.apply_tool_call(
            "new_memory_insert", {"memory_type": "episodic_memory", "content": f"On day {i} Ana went to work"}
        )
    return memory


def test_fork_is_independent_both_ways() -> None:
    parent = filled()
    child = parent.fork()
    child.apply_tool_call("new_memory_insert", {"memory_type": "semantic", "content": "only in child"})
    parent.apply_tool_call("memory_delete", {"memory_type": "semantic", "memory_id": parent.entries("semantic")[0].id})
    assert len(child.entries("semantic")) == 9 and len(parent.entries("semantic")) == 7
    assert "only in child" not in [e.content for e in parent.entries("semantic")]
    # duplicate detection is per copy
    assert (
        child.apply_tool_call("new_memory_insert", {"memory_type": "semantic", "content": "fact 0"}).status == "skipped"
    )
    assert parent.apply_tool_call("new_memory_insert", {"memory_type": "semantic", "content": "fact 0"}).ok


def test_render_view_shows_core_and_most_recent_items_with_ids() -> None:
    memory = filled()
    view = memory.render_view(recent=5)
    semantic = memory.entries("semantic")
    assert "<core_memory>\nThe user is Ana, a nurse.\n</core_memory>" in view
    assert "(the 5 most recent of 8 items)" in view
    for entry in semantic[-5:]:
        assert f"[{entry.id}] {entry.content}" in view
    for entry in semantic[:3]:
        assert entry.content not in view
    assert "<episodic_memory>\n" in view and "(the" not in view.split("<episodic_memory>")[1]
    assert view.index("<core_memory>") < view.index("<semantic_memory>") < view.index("<episodic_memory>")


def test_render_view_of_an_empty_memory() -> None:
    assert WorkingMemory().render_view() == (
        "<core_memory>\n\n</core_memory>\n\n<semantic_memory>\nEmpty.\n</semantic_memory>"
        "\n\n<episodic_memory>\nEmpty.\n</episodic_memory>"
    )


def test_answer_view_is_numbered_without_ids_and_ranked() -> None:
    memory = WorkingMemory()
    for text in ["Bo plays chess", "Ana lives in Porto", "Porto has a bridge"]:
        memory.apply_tool_call("new_memory_insert", {"memory_type": "semantic", "content": text})
    context = memory.retrieve_for_answer("Is Ana in Porto?", k=2)
    assert context.k == 2
    assert [e.content for e in context.semantic] == ["Ana lives in Porto", "Porto has a bridge"]
    assert "1. Ana lives in Porto\n2. Porto has a bridge" in context.text
    assert "<core_memory>" not in context.text  # empty core is left out
    assert "<episodic_memory>\n(No memories stored)\n</episodic_memory>" in context.text
    assert memory.render_for_answer("Is Ana in Porto?", k=2) == context.text


def test_answer_view_shrinks_k_to_fit_the_token_budget() -> None:
    memory = filled()
    full = memory.retrieve_for_answer("Ana work", k=20)
    assert full.k == 8  # k never exceeds the larger pool
    budget = count_tokens(full.text) - 1
    shrunk = memory.retrieve_for_answer("Ana work", k=20, max_tokens=budget)
    assert shrunk.k < 8 and count_tokens(shrunk.text) <= budget
    tiny = memory.retrieve_for_answer("Ana work", k=20, max_tokens=1)
    assert tiny.k == 0 and tiny.semantic == () and "The user is Ana" in tiny.text


def test_total_tokens_counts_core_and_contents_not_ids() -> None:
    memory = filled()
    expected = count_tokens(memory.core) + sum(
        count_tokens(e.content) for kind in ("semantic", "episodic") for e in memory.entries(kind)
    )
    assert memory.total_tokens() == expected
    assert WorkingMemory().total_tokens() == 0


def test_search_both_types_and_bm25_cache_follows_changes() -> None:
    memory = WorkingMemory()
    memory.apply_tool_call("new_memory_insert", {"memory_type": "semantic", "content": "Ana lives in Porto"})
    assert [h.memory_type for h in memory.search("Ana")] == ["semantic"]
    memory.apply_tool_call("new_memory_insert", {"memory_type": "episodic", "content": "Ana flew to Rome on Monday"})
    memory.apply_tool_call("new_memory_insert", {"memory_type": "episodic", "content": "Bo stayed home"})
    assert memory.search("Rome", memory_type="episodic", k=1)[0].entry.content == "Ana flew to Rome on Monday"
    assert {h.memory_type for h in memory.search("Ana", k=5)} == {"semantic", "episodic"}
    with pytest.raises(SearchUnavailableError, match="mode='bm25' only"):
        memory.search("Ana", mode="fts")
    with pytest.raises(ValueError, match="'semantic' or 'episodic'"):
        memory.entries("core")


def test_flush_of_an_unbound_memory_explains_how_to_bind_it() -> None:
    with pytest.raises(ValueError, match="buffered"):
        WorkingMemory().flush()
