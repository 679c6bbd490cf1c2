"""`Memory`: one namespace of a `MemoryStore`, with every call committed before it returns."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
from lancedb.query import MatchQuery

from . import tools
from ._tables import sql_in, sql_quote
from .exceptions import NamespaceNotFoundError, SearchUnavailableError
from .export import NamespaceExport
from .render import AnswerContext
from .search import reciprocal_rank_fusion
from .types import Entry, EntryType, Operation, SearchHit, SearchMode, ToolResult
from .working import WorkingMemory, _entry_type

if TYPE_CHECKING:
    from .store import MemoryStore

__all__ = ["Memory"]

_KINDS: tuple[EntryType, ...] = ("semantic", "episodic")


class Memory:
    """A namespace's memory. Writes commit before returning; reads see the latest commit.

    Get one with `MemoryStore.namespace`. For many calls at RL speed use `buffered` (or
    `MemoryStore.apply_batch`), which apply calls in process and commit them together.
    """

    def __init__(self, store: MemoryStore, namespace: str) -> None:
        self.store = store
        self.namespace = namespace

    def __repr__(self) -> str:
        return f"Memory({self.namespace!r} in {self.store.uri!r})"

    # --------------------------------------------------------------- writing
    def apply_tool_call(self, name: str, arguments: object = None) -> ToolResult:
        """Apply one tool call and commit it. Never raises on a bad call: see `ToolResult`."""
        if isinstance(name, str) and name.strip() == "search_memory":
            return tools.apply_search(arguments, self.search)
        return self.store._apply(self.namespace, [(name, arguments)])[0]

    def apply_tool_calls(self, calls: Iterable[tuple[str, object]]) -> list[ToolResult]:
        """Apply ``(name, arguments)`` calls in order and commit them together (a group commit)."""
        return self.store._apply(self.namespace, list(calls))

    def buffered(self) -> WorkingMemory:
        """This namespace loaded into a `WorkingMemory`; call its ``flush()`` to commit."""
        return self.store.buffered(self.namespace)

    def fork(self, target: str) -> Memory:
        """Copy this memory into the new namespace ``target``; the two evolve independently."""
        return self.store.fork(self.namespace, target)

    def drop(self, *, missing_ok: bool = False) -> None:
        """Delete this namespace from the store."""
        self.store.drop(self.namespace, missing_ok=missing_ok)

    # --------------------------------------------------------------- reading
    def snapshot(self) -> WorkingMemory:
        """The latest committed state as an unbound working memory (read it all with one query)."""
        memory = self._latest()
        copy = memory._clone(None)
        copy.namespace, copy.base_rev = self.namespace, memory.base_rev
        return copy

    def exists(self) -> bool:
        """Whether the namespace holds data."""
        return self.store.exists(self.namespace)

    def _latest(self) -> WorkingMemory:
        """The store's cached latest state: read it, never change it."""
        return self.store._state([self.namespace])[self.namespace]

    @property
    def core(self) -> str:
        """The core memory paragraph."""
        return self._latest().core

    def entries(self, memory_type: str) -> list[Entry]:
        """Entries of ``"semantic"`` or ``"episodic"`` memory, oldest first."""
        return self._latest().entries(memory_type)

    def get(self, memory_id: str) -> Entry | None:
        """The entry with this id, or ``None``."""
        return self._latest().get(memory_id)

    def total_tokens(self) -> int:
        """Tokens of core plus all entries (the paper's memory size)."""
        return self._latest().total_tokens()

    def operations(self) -> list[Operation]:
        """Every write call applied to this namespace, in order, with its result."""
        return self.store._operations_of(self.namespace)

    def render_view(self, recent: int = 5) -> str:
        """The writer's view (paper §2.2): core plus the ``recent`` newest items of each type, with ids."""
        return self._latest().render_view(recent)

    def retrieve_for_answer(self, question: str, *, k: int = 20, max_tokens: int | None = None) -> AnswerContext:
        """Core plus BM25 top-``k`` semantic and episodic items, shrunk to ``max_tokens`` (paper §5)."""
        return self._latest().retrieve_for_answer(question, k=k, max_tokens=max_tokens)

    def render_for_answer(self, question: str, *, k: int = 20, max_tokens: int | None = None) -> str:
        """The answerer's view as text (paper §2.3)."""
        return self.retrieve_for_answer(question, k=k, max_tokens=max_tokens).text

    # ---------------------------------------------------------------- search
    def search(
        self, query: str, *, memory_type: str | None = None, k: int = 20, mode: SearchMode = "bm25"
    ) -> list[SearchHit]:
        """The ``k`` best entries for ``query``, best first.

        Modes: ``bm25`` (exact BM25Okapi over this namespace, the paper's ranking), ``fts`` (LanceDB's
        full-text index), ``vector`` (needs a store opened with an ``embedder``) and ``hybrid``
        (reciprocal rank fusion of ``fts`` and ``vector``).
        """
        kinds = _KINDS if memory_type is None else (_entry_type(memory_type),)
        if mode == "bm25":
            return self._latest().search(query, memory_type=memory_type, k=k)
        if mode == "fts":
            return self._fts(query, kinds, k)
        if mode in ("vector", "hybrid"):
            if self.store.embedder is None:
                raise SearchUnavailableError(
                    f"mode={mode!r} needs embeddings: open the store with MemoryStore.open(uri, "
                    "embedder=HashingEmbedder()) or MiniLMEmbedder() (extra [embeddings])"
                )
            if mode == "vector":
                return self._vector(query, kinds, k)
            pool = max(k, 20)
            fused = reciprocal_rank_fusion([self._fts(query, kinds, pool), self._vector(query, kinds, pool)])
            return fused[:k]
        raise ValueError(f"unknown search mode {mode!r}; use 'bm25', 'fts', 'vector' or 'hybrid'")

    def _kind_filter(self, kinds: Sequence[EntryType]) -> str:
        return f"namespace = {sql_quote(self.namespace)} AND {sql_in('kind', kinds)}"

    def _fts(self, query: str, kinds: Sequence[EntryType], k: int) -> list[SearchHit]:
        if not query.strip() or k < 1:
            return []
        match = MatchQuery(query, "content")  # type: ignore[call-arg]  # lancedb's stubs mark its defaults required
        rows = (
            self.store._table.search(match, query_type="fts")
            .where(self._kind_filter(kinds), prefilter=True)
            .select(["kind", "id", "content", "seq", "created_at", "updated_at", "_score"])
            .limit(k)
            .to_arrow()
            .to_pylist()
        )
        return [
            SearchHit(
                Entry(r["id"], r["content"], r["created_at"], r["updated_at"], r["seq"]), r["kind"], float(r["_score"])
            )
            for r in rows
        ]

    def _vector(self, query: str, kinds: Sequence[EntryType], k: int) -> list[SearchHit]:
        memory = self._sync_vectors()
        if k < 1 or not any(memory.entries(kind) for kind in kinds):
            return []
        embedder = self.store.embedder
        assert embedder is not None
        vector = np.asarray(embedder.embed([query]), dtype=np.float32)[0]
        rows = (
            self.store._vector_table()
            .search(vector, vector_column_name="vector")
            .distance_type("cosine")
            .where(self._kind_filter(kinds), prefilter=True)
            .select(["key", "kind", "_distance"])
            .limit(k)
            .to_arrow()
            .to_pylist()
        )
        hits = []
        for row in rows:
            entry = memory.get(row["key"].split("/", 1)[1])
            if entry is not None:
                hits.append(SearchHit(entry, row["kind"], 1.0 - float(row["_distance"])))
        return hits

    def _sync_vectors(self) -> WorkingMemory:
        """Embed entries whose vectors are missing or stale, drop vectors of deleted entries."""
        store = self.store
        embedder = store.embedder
        assert embedder is not None
        table = store._vector_table()
        with store._lock.hold():
            memory = self._latest()
            where = f"namespace = {sql_quote(self.namespace)}"
            stored = table.search().where(where).select(["key", "content"]).to_arrow()
            have = dict(zip(stored.column("key").to_pylist(), stored.column("content").to_pylist(), strict=True))
            want = {f"{self.namespace}/{e.id}": (kind, e.content) for kind in _KINDS for e in memory.entries(kind)}
            missing = [key for key, (_, content) in want.items() if have.get(key) != content]
            stale = [key for key in have if key not in want]
            if missing or stale:
                vectors = np.asarray(embedder.embed([want[key][1] for key in missing]), dtype=np.float32)
                data = pa.table(
                    {
                        "key": missing,
                        "namespace": [self.namespace] * len(missing),
                        "kind": [want[key][0] for key in missing],
                        "content": [want[key][1] for key in missing],
                        "vector": pa.FixedSizeListArray.from_arrays(
                            pa.array(vectors.reshape(-1), type=pa.float32()), embedder.dim
                        ),
                    },
                    schema=table.schema,
                )
                merge = table.merge_insert("key").when_matched_update_all().when_not_matched_insert_all()
                if stale:
                    merge = merge.when_not_matched_by_source_delete(sql_in("key", stale))
                store._guard(merge.execute, data)
        return memory

    # --------------------------------------------------------- export/import
    def export(self) -> NamespaceExport:
        """The whole namespace as an export document."""
        memory = self._latest()
        if memory.base_rev == 0:
            raise NamespaceNotFoundError(f"cannot export {self.namespace!r}: the namespace does not exist")
        return memory.export(self.namespace)

    def export_json(self, path: str | Path | None = None) -> str:
        """The export as JSON text; also written to ``path`` when given."""
        text = self.export().model_dump_json(indent=2)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text
