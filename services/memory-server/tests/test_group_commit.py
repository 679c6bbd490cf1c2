"""`GroupCommitter`: concurrent requests share commits, each gets its own results, a failed commit fails all."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

import pytest

from memalpha_memory import MemoryStore, StorageError, ToolResult
from memalpha_server.group_commit import GroupCommitter


class GatedStore:
    """A store double whose first commit waits for a signal, so that later requests queue up behind it."""

    def __init__(self, fail: bool = False) -> None:
        self.commits: list[list[tuple[str, str, object]]] = []
        self.first_started = threading.Event()
        self.release = threading.Event()
        self.fail = fail

    def namespace(self, name: str) -> str:
        return name

    def apply_batch(self, calls: Iterable[tuple[str, str, object]]) -> list[ToolResult]:
        batch = list(calls)
        self.commits.append(batch)
        if len(self.commits) == 1:
            self.first_started.set()
            self.release.wait(30)
        if self.fail and len(self.commits) > 1:
            raise StorageError("disk full")
        return [ToolResult(tool=tool, status="ok", message=f"{ns}:{args}") for ns, tool, args in batch]


def _run(writer: GroupCommitter, requests: list[tuple[str, list[tuple[str, object]]]]) -> list[object]:
    out: list[object] = [None] * len(requests)

    def work(i: int) -> None:
        try:
            out[i] = [r.message for r in writer.apply(*requests[i])]
        except StorageError as exc:
            out[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(requests))]
    threads[0].start()
    store = writer.store
    assert isinstance(store, GatedStore)
    store.first_started.wait(30)
    for thread in threads[1:]:
        thread.start()
    while len(writer._queue) < len(requests) - 1:  # every later request is queued behind the first commit
        threading.Event().wait(0.005)
    store.release.set()
    for thread in threads:
        thread.join(30)
    return out


def test_queued_requests_share_one_commit_and_get_their_own_results() -> None:
    store = GatedStore()
    writer = GroupCommitter(store)  # type: ignore[arg-type]
    requests: list[tuple[str, list[tuple[str, object]]]] = [
        ("a", [("t", 0)]),
        ("b", [("t", 1), ("t", 2)]),
        ("a", [("t", 3)]),
        ("c", [("t", 4)]),
    ]
    out = _run(writer, requests)
    assert len(store.commits) == 2  # the first request alone, then the three that queued behind it
    assert sorted(len(c) for c in store.commits) == [1, 4]
    assert out == [["a:0"], ["b:1", "b:2"], ["a:3"], ["c:4"]]


def test_a_failed_commit_fails_every_request_in_it() -> None:
    store = GatedStore(fail=True)
    writer = GroupCommitter(store)  # type: ignore[arg-type]
    out = _run(writer, [("a", [("t", 0)]), ("b", [("t", 1)]), ("c", [("t", 2)])])
    assert out[0] == ["a:0"]
    assert all(isinstance(o, StorageError) for o in out[1:])


def test_results_match_the_real_store(tmp_path: Path) -> None:
    store = MemoryStore.open(tmp_path / "mem")
    writer = GroupCommitter(store)
    results = writer.apply(
        "notes",
        [
            ("new_memory_insert", {"memory_type": "semantic", "content": "x"}),
            ("memory_delete", {"memory_type": "semantic", "memory_id": "nope"}),
        ],
    )
    assert [r.status for r in results] == ["ok", "error"]
    assert [e.content for e in store.namespace("notes").entries("semantic")] == ["x"]
    with pytest.raises(ValueError, match="invalid namespace"):
        writer.apply("bad name", [("new_memory_insert", {"memory_type": "semantic", "content": "x"})])
    assert writer.apply("notes", [("search_memory", {"query": "x"})])[0].hits[0].entry.content == "x"
