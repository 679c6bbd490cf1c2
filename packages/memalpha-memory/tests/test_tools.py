"""Tool-call semantics on a working memory: every tool, every error kind, the paper's quirks."""

from __future__ import annotations

import json

import pytest

from memalpha_memory import WorkingMemory, tool_schemas


def insert(memory: WorkingMemory, content: str, memory_type: str = "semantic_memory"):
    return memory.apply_tool_call("new_memory_insert", {"memory_type": memory_type, "content": content})


def test_insert_gives_short_unique_ids_in_insertion_order() -> None:
    memory = WorkingMemory(seed=0)
    results = [insert(memory, f"fact {i}") for i in range(50)]
    assert all(r.status == "ok" and r.memory_type == "semantic" for r in results)
    ids = [r.memory_id for r in results]
    assert len(set(ids)) == 50
    assert all(i is not None and len(i) == 4 for i in ids)
    assert [e.id for e in memory.entries("semantic")] == ids
    assert [e.content for e in memory.entries("semantic")] == [f"fact {i}" for i in range(50)]


def test_ids_are_reproducible_with_a_seed() -> None:
    first, second = WorkingMemory(seed=7), WorkingMemory(seed=7)
    assert [insert(first, str(i)).memory_id for i in range(5)] == [insert(second, str(i)).memory_id for i in range(5)]


def test_exact_duplicate_insert_is_skipped_and_not_a_success() -> None:
    memory = WorkingMemory()
    assert insert(memory, "Ana lives in Porto").ok
    again = insert(memory, "Ana lives in Porto")
    assert again.status == "skipped" and not again.ok and again.error_kind is None
    assert len(memory.entries("semantic")) == 1
    # the same text in the other memory type is not a duplicate
    assert insert(memory, "Ana lives in Porto", "episodic_memory").ok


def test_both_enum_spellings_and_case_are_accepted() -> None:
    memory = WorkingMemory()
    for spelling in ("semantic", "semantic_memory", " Semantic_Memory "):
        assert insert(memory, f"via {spelling}", spelling).memory_type == "semantic"


def test_update_keeps_place_and_created_at() -> None:
    memory = WorkingMemory()
    ids = [insert(memory, f"item {i}").memory_id for i in range(3)]
    before = memory.get(ids[1])
    result = memory.apply_tool_call(
        "memory_update", {"memory_type": "semantic_memory", "memory_id": ids[1], "new_content": "changed"}
    )
    assert result.ok and result.memory_id == ids[1]
    assert [e.content for e in memory.entries("semantic")] == ["item 0", "changed", "item 2"]
    after = memory.get(ids[1])
    assert before is not None and after is not None
    assert after.created_at == before.created_at and after.updated_at >= before.updated_at


def test_update_accepts_the_id_as_rendered_in_the_view() -> None:
    memory = WorkingMemory()
    memory_id = insert(memory, "x").memory_id
    result = memory.apply_tool_call(
        "memory_update", {"memory_type": "semantic", "memory_id": f"[{memory_id}]", "new_content": "y"}
    )
    assert result.ok and memory.entries("semantic")[0].content == "y"


def test_core_is_updated_by_rewrite_and_cleared_by_delete() -> None:
    memory = WorkingMemory()
    assert memory.apply_tool_call("memory_update", {"memory_type": "core_memory", "new_content": "User: Ana."}).ok
    assert memory.core == "User: Ana."
    assert memory.apply_tool_call("memory_update", '{"memory_type": "core_memory", "new_content": "User: Bo."}').ok
    assert memory.core == "User: Bo."
    assert memory.apply_tool_call("memory_delete", {"memory_type": "core_memory"}).ok
    assert memory.core == ""


def test_core_overflow_is_truncated_as_the_paper_does_and_reported() -> None:
    memory = WorkingMemory(core_token_limit=20)
    text = " ".join(f"word{i}" for i in range(50))
    result = memory.apply_tool_call("memory_update", {"memory_type": "core_memory", "new_content": text})
    assert result.ok and result.truncated and "20-token limit" in result.message
    assert memory.core.endswith(" [content exceeds 20 tokens, truncated]")
    assert memory.token_counter(memory.core) <= 20
    assert memory.core.startswith("word0 word1 ")
    short = memory.apply_tool_call("memory_update", {"memory_type": "core_memory", "new_content": "short"})
    assert not short.truncated and memory.core == "short"


def test_custom_token_counter_drives_the_core_limit() -> None:
    memory = WorkingMemory(core_token_limit=10, token_counter=len)  # characters as tokens
    memory.apply_tool_call("memory_update", {"memory_type": "core", "new_content": "abcdefghijklmnop"})
    assert memory.core == " [content exceeds 10 tokens, truncated]"  # not even one word fits next to the marker


def test_delete_removes_the_entry() -> None:
    memory = WorkingMemory()
    keep, drop = insert(memory, "keep").memory_id, insert(memory, "drop").memory_id
    assert memory.apply_tool_call("memory_delete", {"memory_type": "semantic_memory", "memory_id": drop}).ok
    assert [e.id for e in memory.entries("semantic")] == [keep]
    assert insert(memory, "drop").ok  # its content may be stored again


@pytest.mark.parametrize(
    ("name", "arguments", "kind", "phrase"),
    [
        ("new_memory_insert", "{not json at all", "invalid_json", "JSON object"),
        ("new_memory_insert", "[1, 2]", "invalid_json", "JSON object"),
        ("new_memory_insert", 42, "invalid_json", "got int"),
        ("new_memory_insert", {"content": "x"}, "missing_argument", "memory_type"),
        ("new_memory_insert", {"memory_type": "semantic_memory"}, "missing_argument", "'content'"),
        ("new_memory_insert", {"memory_type": "semantic_memory", "new_content": "x"}, "missing_argument", "not 'new"),
        ("new_memory_insert", {"memory_type": "core_memory", "content": "x"}, "invalid_value", "cannot be inserted"),
        ("new_memory_insert", {"memory_type": "working_memory", "content": "x"}, "invalid_value", "use one of"),
        ("new_memory_insert", {"memory_type": "semantic_memory", "content": "  "}, "invalid_value", "empty"),
        ("new_memory_insert", {"memory_type": "semantic_memory", "content": 5}, "invalid_value", "must be a string"),
        ("memory_update", {"memory_type": "semantic_memory", "new_content": "x"}, "missing_argument", "memory_id"),
        ("memory_update", {"memory_type": "semantic", "memory_id": "zz", "new_content": "x"}, "unknown_id", "'zz'"),
        ("memory_update", {"memory_type": "core_memory"}, "missing_argument", "new_content"),
        ("memory_update", {"memory_type": "episodic", "memory_id": [1], "new_content": "x"}, "invalid_value", "id"),
        ("memory_delete", {"memory_type": "semantic_memory"}, "missing_argument", "memory_id"),
        ("memory_delete", {"memory_type": "episodic_memory", "memory_id": "zz"}, "unknown_id", "'zz'"),
        ("memory_delete", {}, "missing_argument", "memory_type"),
        ("forget_everything", {}, "unknown_tool", "available tools"),
        ("search_memory", {"memory_type": "semantic"}, "missing_argument", "query"),
        ("search_memory", {"query": "x", "k": 0}, "invalid_value", "positive"),
        ("search_memory", {"query": "x", "search_method": "magic"}, "invalid_value", "not supported"),
        ("search_memory", {"query": "x", "search_method": "text-embedding"}, "invalid_value", "mode='bm25' only"),
        ("search_memory", "{broken", "invalid_json", "JSON object"),
    ],
)
def test_bad_calls_become_error_results_with_a_kind(name: str, arguments: object, kind: str, phrase: str) -> None:
    memory = WorkingMemory()
    result = memory.apply_tool_call(name, arguments)
    assert result.status == "error" and not result.ok
    assert result.error_kind == kind
    assert phrase in result.message
    assert memory.is_empty()


def test_wrong_memory_type_for_an_id_says_where_the_id_lives() -> None:
    memory = WorkingMemory()
    memory_id = insert(memory, "an event", "episodic_memory").memory_id
    result = memory.apply_tool_call("memory_delete", {"memory_type": "semantic_memory", "memory_id": memory_id})
    assert result.error_kind == "unknown_id" and "episodic_memory" in result.message
    assert len(memory) == 1


def test_paper_compat_counts_deleting_an_unknown_id_as_success() -> None:
    paper = WorkingMemory(paper_compat=True)
    result = paper.apply_tool_call("memory_delete", {"memory_type": "semantic_memory", "memory_id": "beef"})
    assert result.ok and "paper_compat" in result.message
    strict = WorkingMemory().apply_tool_call("memory_delete", {"memory_type": "semantic_memory", "memory_id": "beef"})
    assert strict.error_kind == "unknown_id"


def test_broken_json_is_repaired_and_says_so() -> None:
    memory = WorkingMemory()
    result = memory.apply_tool_call("new_memory_insert", "{'memory_type': 'semantic_memory', content: 'Bo is 30'")
    assert result.ok and "repaired" in result.message
    assert memory.entries("semantic")[0].content == "Bo is 30"


def test_search_tool_returns_hits() -> None:
    memory = WorkingMemory()
    insert(memory, "Ana lives in Porto")
    insert(memory, "Bo plays chess")
    result = memory.apply_tool_call("search_memory", {"query": "where does Ana live", "k": 1})
    assert result.ok and len(result.hits) == 1
    assert result.hits[0].entry.content == "Ana lives in Porto"
    assert result.to_dict()["hits"][0]["content"] == "Ana lives in Porto"


def test_operations_are_recorded_only_for_writes_and_only_when_asked() -> None:
    memory = WorkingMemory(record_operations=True)
    insert(memory, "a")
    memory.apply_tool_call("nope", "{}")
    memory.apply_tool_call("search_memory", {"query": "a"})
    assert [op[1] for op in memory._operations] == ["new_memory_insert", "nope"]
    assert not WorkingMemory()._operations  # unbound memories keep no log by default


def test_schemas_match_the_paper() -> None:
    schemas = tool_schemas()
    names = [s["function"]["name"] for s in schemas]
    assert names == ["new_memory_insert", "memory_update", "memory_delete", "search_memory"]
    insert_params = schemas[0]["function"]["parameters"]
    assert insert_params["properties"]["memory_type"]["enum"] == ["semantic_memory", "episodic_memory"]
    assert insert_params["required"] == ["memory_type", "content"]
    update_params = schemas[1]["function"]["parameters"]
    assert update_params["properties"]["memory_type"]["enum"] == ["core_memory", "semantic_memory", "episodic_memory"]
    assert update_params["required"] == ["memory_type", "new_content"]
    assert schemas[2]["function"]["parameters"]["required"] == ["memory_type"]
    assert all(s["type"] == "function" for s in schemas)
    bare = tool_schemas(include_search=False, openai_format=False)
    assert [f["name"] for f in bare] == names[:3]
    json.dumps(schemas)  # JSON-serialisable
    schemas[0]["function"]["name"] = "mutated"
    assert tool_schemas()[0]["function"]["name"] == "new_memory_insert"  # callers get copies
