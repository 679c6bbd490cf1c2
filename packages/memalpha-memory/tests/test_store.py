"""MemoryStore and Memory: namespaces, isolation, fork, batching, operation log, search modes."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest

from memalpha_memory import (
    InvalidNamespaceError,
    MemoryStore,
    NamespaceExistsError,
    NamespaceNotFoundError,
    SearchUnavailableError,
    StorageError,
)

FACTS = [
    "Ana lives in Porto and works as a nurse",
    "Bo moved to Lisbon in 2021",
    "The capital of Portugal is Lisbon",
    "Ana's brother Bo plays chess every Sunday",
    "Porto is famous for port wine",
]


def add(memory, content: str, memory_type: str = "semantic_memory"):
    return memory.apply_tool_call("new_memory_insert", {"memory_type": memory_type, "content": content})


def test_readme_quick_start(store: MemoryStore) -> None:
    mem = store.namespace("user-42")
    r = mem.apply_tool_call("new_memory_insert", '{"memory_type": "semantic_memory", "content": "Ana lives in Porto"}')
    assert (r.status, r.error_kind) == ("ok", None)
    assert [e.content for e in mem.entries("semantic")] == ["Ana lives in Porto"]
    assert mem.search("where does Ana live?", memory_type="semantic", k=20, mode="bm25")[0].entry.id == r.memory_id
    assert store.namespaces() == ["user-42"]


def test_namespaces_are_isolated(store: MemoryStore) -> None:
    a, b = store.namespace("a"), store.namespace("b")
    add(a, "secret of a")
    add(b, "secret of b")
    a.apply_tool_call("memory_update", {"memory_type": "core_memory", "new_content": "core of a"})
    assert [e.content for e in b.entries("semantic")] == ["secret of b"]
    assert b.core == ""
    for mode in ("bm25", "fts"):
        assert [h.entry.content for h in b.search("secret", mode=mode)] == ["secret of b"]
    # an id of one namespace means nothing in the other
    a_id = a.entries("semantic")[0].id
    assert b.apply_tool_call("memory_delete", {"memory_type": "semantic", "memory_id": a_id}).error_kind == "unknown_id"
    assert len(a.entries("semantic")) == 1


@pytest.mark.parametrize("name", ["", "a b", "x/y", "o'b", "é", "a" * 129, 5])
def test_invalid_namespace_names_are_refused(store: MemoryStore, name: object) -> None:
    with pytest.raises(InvalidNamespaceError, match="invalid namespace"):
        store.namespace(name)  # type: ignore[arg-type]


def test_namespace_names_with_every_allowed_character(store: MemoryStore) -> None:
    name = "User_42.rollout-3:a"
    add(store.namespace(name), "x")
    assert store.namespaces() == [name] and store.exists(name)


def test_drop_deletes_memory_and_log(store: MemoryStore) -> None:
    add(store.namespace("gone"), "x")
    add(store.namespace("kept"), "y")
    store.drop("gone")
    assert store.namespaces() == ["kept"]
    assert store.namespace("gone").entries("semantic") == [] and store.namespace("gone").operations() == []
    with pytest.raises(NamespaceNotFoundError, match="'gone' does not exist"):
        store.drop("gone")
    store.drop("gone", missing_ok=True)


def test_fork_copies_and_then_diverges(store: MemoryStore) -> None:
    parent = store.namespace("user-42")
    parent.apply_tool_call("memory_update", {"memory_type": "core", "new_content": "User is Ana."})
    ids = [add(parent, fact).memory_id for fact in FACTS]
    child = parent.fork("user-42.rollout-3")
    assert child.core == "User is Ana." and [e.id for e in child.entries("semantic")] == ids
    child.apply_tool_call("memory_delete", {"memory_type": "semantic", "memory_id": ids[0]})
    add(parent, "new in parent")
    assert len(parent.entries("semantic")) == 6 and len(child.entries("semantic")) == 4
    with pytest.raises(NamespaceExistsError, match="already holds data"):
        parent.fork("user-42.rollout-3")
    with pytest.raises(NamespaceNotFoundError):
        store.namespace("nobody").fork("x")


def test_group_commit_and_operation_log(store: MemoryStore) -> None:
    mem = store.namespace("u")
    results = mem.apply_tool_calls(
        [
            ("new_memory_insert", {"memory_type": "semantic", "content": "one"}),
            ("new_memory_insert", '{"memory_type": "episodic", "content": "two"}'),
            ("memory_delete", {"memory_type": "semantic", "memory_id": "nope"}),
        ]
    )
    assert [r.status for r in results] == ["ok", "ok", "error"]
    add(mem, "three")
    ops = mem.operations()
    assert [(op.rev, op.index) for op in ops] == [(1, 0), (1, 1), (1, 2), (2, 0)]
    assert [op.tool for op in ops] == ["new_memory_insert", "new_memory_insert", "memory_delete", "new_memory_insert"]
    assert ops[1].arguments == '{"memory_type": "episodic", "content": "two"}'  # as received
    assert ops[2].status == "error" and ops[2].error_kind == "unknown_id"
    assert ops[0].memory_id == results[0].memory_id and ops[0].namespace == "u"


def test_search_calls_do_not_commit(store: MemoryStore) -> None:
    mem = store.namespace("u")
    add(mem, "Ana lives in Porto")
    version = store._table.version
    result = mem.apply_tool_call("search_memory", {"query": "Porto", "search_method": "bm25"})
    assert result.ok and result.hits[0].entry.content == "Ana lives in Porto"
    assert store._table.version == version and len(mem.operations()) == 1


def test_apply_batch_across_namespaces_in_one_commit(store: MemoryStore) -> None:
    version = store._table.version
    results = store.apply_batch(
        [
            ("a", "new_memory_insert", {"memory_type": "semantic", "content": "a1"}),
            ("b", "new_memory_insert", {"memory_type": "semantic", "content": "b1"}),
            ("a", "memory_update", {"memory_type": "core", "new_content": "core a"}),
            ("b", "bogus", {}),
        ]
    )
    assert [r.status for r in results] == ["ok", "ok", "ok", "error"]
    assert store._table.version == version + 1  # one commit for the whole batch
    assert store.namespace("a").core == "core a" and store.namespace("b").entries("semantic")[0].content == "b1"
    assert store.apply_batch([]) == []


def test_buffered_memory_flushes_only_when_asked(store: MemoryStore) -> None:
    working = store.buffered("u")
    for i in range(20):
        working.apply_tool_call("new_memory_insert", {"memory_type": "semantic", "content": f"fact {i}"})
    assert store.namespace("u").entries("semantic") == []
    working.flush()
    assert len(store.namespace("u").entries("semantic")) == 20
    working.apply_tool_call(
        "memory_delete", {"memory_type": "semantic", "memory_id": working.entries("semantic")[0].id}
    )
    working.flush()
    assert len(store.namespace("u").entries("semantic")) == 19
    assert len(store.namespace("u").operations()) == 21
    assert not working.dirty


def test_flush_many_memories_in_one_commit(store: MemoryStore) -> None:
    memories = store.buffered_many([f"ns{i}" for i in range(10)])
    for name, memory in memories.items():
        memory.apply_tool_call("new_memory_insert", {"memory_type": "semantic", "content": f"in {name}"})
    version = store._table.version
    store.flush(memories.values())
    assert store._table.version == version + 1
    assert store.namespaces() == sorted(memories)
    with pytest.raises(ValueError, match="same namespace"):
        one, two = store.buffered("ns0"), store.buffered("ns0")
        add(one, "x")
        add(two, "y")
        store.flush([one, two])


def test_delete_then_insert_reusing_an_id_in_one_flush(store: MemoryStore) -> None:
    working = store.buffered("u")
    first = add(working, "first").memory_id
    working.flush()
    working.apply_tool_call("memory_delete", {"memory_type": "semantic", "memory_id": first})
    working._rng.seed(0)  # force the next id
    reused = working._new_id()
    working._rng.seed(0)
    assert add(working, "second").memory_id == reused
    working.flush()
    assert [e.content for e in store.namespace("u").entries("semantic")] == ["second"]


def test_store_memory_views(store: MemoryStore) -> None:
    mem = store.namespace("u")
    mem.apply_tool_call("memory_update", {"memory_type": "core", "new_content": "User is Ana."})
    for fact in FACTS:
        add(mem, fact)
    assert mem.render_view(recent=2).count("\n[") == 2
    assert "1. Ana lives in Porto" in mem.render_for_answer("Is Ana a nurse?", k=1)
    assert mem.total_tokens() > 0 and mem.get(mem.entries("semantic")[0].id) is not None


def test_fts_search_ranks_and_respects_memory_type(store: MemoryStore) -> None:
    mem = store.namespace("u")
    for fact in FACTS:
        add(mem, fact)
    add(mem, "On Monday Ana visited Lisbon", "episodic_memory")
    hits = mem.search("Lisbon capital", mode="fts", k=3)
    assert hits[0].entry.content == "The capital of Portugal is Lisbon"
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    assert [h.memory_type for h in mem.search("Lisbon", memory_type="episodic", mode="fts")] == ["episodic"]
    assert mem.search('"quoted phrase" OR (xyzzy)', mode="fts") == []  # no query syntax, no error
    assert mem.search("   ", mode="fts") == []


def test_vector_and_hybrid_need_an_embedder(store: MemoryStore) -> None:
    add(store.namespace("u"), "x")
    with pytest.raises(SearchUnavailableError, match="embedder="):
        store.namespace("u").search("x", mode="vector")
    result = store.namespace("u").apply_tool_call("search_memory", {"query": "x", "search_method": "text-embedding"})
    assert result.error_kind == "invalid_value" and "embedder" in result.message


def test_vector_search_follows_updates_and_deletes(vector_store: MemoryStore) -> None:
    mem = vector_store.namespace("u")
    ids = [add(mem, fact).memory_id for fact in FACTS]
    assert mem.search("chess Sunday brother", mode="vector", k=1)[0].entry.id == ids[3]
    mem.apply_tool_call("memory_update", {"memory_type": "semantic", "memory_id": ids[3], "new_content": "Bo sings"})
    assert mem.search("chess Sunday brother", mode="vector", k=5)[0].entry.id != ids[3]
    mem.apply_tool_call("memory_delete", {"memory_type": "semantic", "memory_id": ids[0]})
    assert ids[0] not in {h.entry.id for h in mem.search("Ana nurse Porto", mode="vector", k=10)}
    other = vector_store.namespace("other")
    add(other, "Ana nurse Porto")
    assert all(h.entry.id in ids for h in mem.search("Ana nurse Porto", mode="vector", k=10))


def test_hybrid_fuses_fts_and_vector(vector_store: MemoryStore) -> None:
    mem = vector_store.namespace("u")
    for fact in FACTS:
        add(mem, fact)
    hits = mem.search("capital Portugal", mode="hybrid", k=2)
    assert hits[0].entry.content == "The capital of Portugal is Lisbon"
    assert len(hits) == 2 and hits[0].score > hits[1].score


def test_unknown_search_mode(store: MemoryStore) -> None:
    with pytest.raises(ValueError, match="unknown search mode"):
        store.namespace("u").search("x", mode="psychic")  # type: ignore[arg-type]


def test_store_refuses_a_folder_it_cannot_create(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="cannot create the store folder"):
        MemoryStore.open(blocker / "mem")


def test_paper_compat_store(tmp_path: Path) -> None:
    store = MemoryStore.open(tmp_path / "p", paper_compat=True)
    assert store.namespace("u").apply_tool_call("memory_delete", {"memory_type": "semantic", "memory_id": "x"}).ok


def test_optimize_keeps_data_and_search_working(store: MemoryStore) -> None:
    mem = store.namespace("u")
    for fact in FACTS:
        add(mem, fact)
    store.optimize()
    assert len(mem.entries("semantic")) == len(FACTS)
    assert mem.search("Porto wine", mode="fts")[0].entry.content == "Porto is famous for port wine"


def test_threads_reading_more_namespaces_than_the_cache_holds(store: MemoryStore) -> None:
    names = [f"ns{i}" for i in range(300)]  # more than the store's state cache keeps
    store.apply_batch([(name, "new_memory_insert", {"memory_type": "semantic", "content": name}) for name in names])
    errors: list[str] = []

    def read(offset: int) -> None:
        try:
            for i in range(len(names)):
                name = names[(i + offset) % len(names)]
                assert [e.content for e in store.namespace(name).entries("semantic")] == [name]
        except Exception as exc:  # collected: an assertion in a thread would not fail the test
            errors.append(repr(exc))

    threads = [threading.Thread(target=read, args=(k * 97,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for j in range(5):
        add(store.namespace("writer"), f"w{j}")
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.namespace("writer").entries("semantic")) == 5
