"""The working memory: one namespace's core, semantic and episodic memory held in process.

Tool calls are applied here, with no I/O: this is the hot path of RL rollouts (hundreds of thousands
of calls per second). A working memory bound to a `MemoryStore` remembers what changed since it was
loaded and writes exactly that on `flush`; the store's committed API (`Memory`) uses the same code for
each call and flushes before returning.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import tools
from .bm25 import BM25Index
from .exceptions import SearchUnavailableError
from .export import ExportedEntry, NamespaceExport
from .render import AnswerContext, render_answer_context, render_memory_view
from .tokens import TokenCounter, count_tokens
from .tools import CallError
from .types import (
    Entry,
    EntryType,
    MemoryType,
    SearchHit,
    SearchMode,
    Status,
    ToolResult,
    normalize_memory_type,
    validate_namespace,
)

if TYPE_CHECKING:
    from .store import MemoryStore

__all__ = ["CORE_TRUNCATION_MARKER", "WorkingMemory"]

CORE_TRUNCATION_MARKER = " [content exceeds {limit} tokens, truncated]"
_ENTRY_TYPES: tuple[EntryType, ...] = ("semantic", "episodic")
_EPOCH = datetime.fromtimestamp(0, UTC)
_ARGUMENTS_ENCODER = json.JSONEncoder(ensure_ascii=False, default=repr)  # built once: json.dumps rebuilds it

PendingOperation = tuple[datetime, str, str, Status, str | None, str, str | None, str | None]


class WorkingMemory:
    """A three-part memory in process: ``core`` text plus ordered semantic and episodic entries.

    Args:
        namespace: the store namespace this memory belongs to (``None`` for a memory that is never stored).
        paper_compat: reproduce the paper's quirks (deleting an unknown id counts as success).
        token_counter: counts tokens for the core limit and `total_tokens`; defaults to `count_tokens`.
        core_token_limit: core memory is cut to this many tokens, as in the paper (512).
        seed: seeds id generation, for reproducible rollouts.
        record_operations: keep a log of applied write calls until `flush` (default: when ``namespace`` is set).
    """

    def __init__(
        self,
        namespace: str | None = None,
        *,
        paper_compat: bool = False,
        token_counter: TokenCounter | None = None,
        core_token_limit: int = 512,
        seed: int | None = None,
        record_operations: bool | None = None,
    ) -> None:
        self.namespace = validate_namespace(namespace) if namespace is not None else None
        self.paper_compat = paper_compat
        self.token_counter: TokenCounter = token_counter or count_tokens
        self.core_token_limit = core_token_limit
        self.record_operations = namespace is not None if record_operations is None else record_operations
        self._rng = random.Random(seed)
        self._core = ""
        self._core_created_at = _EPOCH
        self._core_updated_at = _EPOCH
        self._entries: dict[EntryType, dict[str, Entry]] = {"semantic": {}, "episodic": {}}
        self._contents: dict[EntryType, Counter[str]] = {"semantic": Counter(), "episodic": Counter()}
        self._type_of: dict[str, EntryType] = {}
        self._next_seq = 0
        self._version = 0
        self._bm25: dict[EntryType, tuple[int, BM25Index]] = {}
        # what a flush must write: upserted ids ("" is the core), deleted ids, logged calls
        self._upserts: set[str] = set()
        self._deletes: set[str] = set()
        self._operations: list[PendingOperation] = []
        self.base_rev = 0
        self._table_version: int | None = None  # the store's table version this state was current at
        self._store: MemoryStore | None = None

    # ----------------------------------------------------------------- reading
    @property
    def core(self) -> str:
        """The core memory paragraph ("" when empty)."""
        return self._core

    def entries(self, memory_type: str) -> list[Entry]:
        """Entries of ``"semantic"`` or ``"episodic"`` memory, oldest first."""
        return list(self._entries[_entry_type(memory_type)].values())

    def get(self, memory_id: str) -> Entry | None:
        """The entry with this id, in either memory type, or ``None``."""
        memory_type = self._type_of.get(memory_id)
        return None if memory_type is None else self._entries[memory_type][memory_id]

    def memory_type_of(self, memory_id: str) -> EntryType | None:
        """Which memory holds this id, or ``None``."""
        return self._type_of.get(memory_id)

    def __len__(self) -> int:
        """Number of semantic and episodic entries."""
        return len(self._type_of)

    def is_empty(self) -> bool:
        """No core text and no entries."""
        return not self._core and not self._type_of

    def total_tokens(self) -> int:
        """Tokens of the core plus every entry's content (ids not counted), as the paper's r3 uses."""
        count = self.token_counter
        return count(self._core) + sum(count(e.content) for d in self._entries.values() for e in d.values())

    # ------------------------------------------------------------- tool calls
    def apply_tool_call(self, name: str, arguments: object = None) -> ToolResult:
        """Apply one tool call; never raises on bad input (errors come back as results)."""
        tool = name.strip() if isinstance(name, str) else repr(name)
        if tool == "search_memory":
            return tools.apply_search(arguments, self.search)
        try:
            args, repaired = tools.parse_arguments(arguments)
            if tool == "new_memory_insert":
                result = self._insert(args)
            elif tool == "memory_update":
                result = self._update(args)
            elif tool == "memory_delete":
                result = self._delete(args)
            else:
                available = ", ".join(tools.WRITE_TOOLS + tools.READ_TOOLS)
                raise CallError("unknown_tool", f"unknown tool {tool!r}; available tools: {available}")
            if repaired:
                result = replace(result, message=result.message + " (arguments were repaired from broken JSON)")
        except CallError as error:
            result = ToolResult(tool=tool, status="error", error_kind=error.kind, message=error.message)
        if self.record_operations:
            self._record(tool, arguments, result)
        return result

    def apply_tool_calls(self, calls: Iterable[tuple[str, object]]) -> list[ToolResult]:
        """Apply ``(name, arguments)`` calls in order."""
        return [self.apply_tool_call(name, arguments) for name, arguments in calls]

    def _insert(self, args: dict[str, Any]) -> ToolResult:
        memory_type: EntryType = tools.require_memory_type(args, _ENTRY_TYPES)  # type: ignore[assignment]
        content = tools.require_text(args, "content")
        if self._contents[memory_type][content]:
            return ToolResult(
                tool="new_memory_insert",
                status="skipped",
                memory_type=memory_type,
                message=f"the same content is already in {memory_type} memory; insertion skipped",
            )
        memory_id = self._new_id()
        now = datetime.now(UTC)
        self._put(memory_type, Entry(memory_id, content, now, now, self._next_seq))
        self._next_seq += 1
        return ToolResult(
            tool="new_memory_insert",
            status="ok",
            memory_type=memory_type,
            memory_id=memory_id,
            message=f"inserted {memory_type} item [{memory_id}]",
        )

    def _update(self, args: dict[str, Any]) -> ToolResult:
        memory_type = tools.require_memory_type(args, ("core", "semantic", "episodic"))
        if memory_type == "core":
            text = tools.require_text(args, "new_content", allow_empty=True)
            truncated = self._set_core(text)
            message = "rewrote core memory"
            if truncated:
                message += f"; it was cut to the {self.core_token_limit}-token limit, keep the core brief"
            return ToolResult(
                tool="memory_update", status="ok", memory_type="core", truncated=truncated, message=message
            )
        content = tools.require_text(args, "new_content")
        memory_id = tools.require_memory_id(args)
        old = self._find(memory_type, memory_id)
        self._put(memory_type, Entry(memory_id, content, old.created_at, datetime.now(UTC), old.seq))
        return ToolResult(
            tool="memory_update",
            status="ok",
            memory_type=memory_type,
            memory_id=memory_id,
            message=f"updated {memory_type} item [{memory_id}]",
        )

    def _delete(self, args: dict[str, Any]) -> ToolResult:
        memory_type = tools.require_memory_type(args, ("core", "semantic", "episodic"))
        if memory_type == "core":
            self._set_core("")
            return ToolResult(tool="memory_delete", status="ok", memory_type="core", message="cleared core memory")
        memory_id = tools.require_memory_id(args)
        try:
            self._find(memory_type, memory_id)
        except CallError:
            if not self.paper_compat:
                raise
            return ToolResult(
                tool="memory_delete",
                status="ok",
                memory_type=memory_type,
                memory_id=memory_id,
                message=f"no {memory_type} item [{memory_id}]; nothing deleted (counted as success: paper_compat)",
            )
        self._remove(memory_type, memory_id)
        return ToolResult(
            tool="memory_delete",
            status="ok",
            memory_type=memory_type,
            memory_id=memory_id,
            message=f"deleted {memory_type} item [{memory_id}]",
        )

    # ------------------------------------------------------------- mutations
    def _find(self, memory_type: EntryType, memory_id: str) -> Entry:
        entry = self._entries[memory_type].get(memory_id)
        if entry is None:
            other = self._type_of.get(memory_id)
            where = f"; [{memory_id}] is a {other} item, pass memory_type='{other}_memory'" if other else ""
            raise CallError(
                "unknown_id",
                f"no {memory_type} item with id {memory_id!r}{where or '; use an id shown in the memory view'}",
            )
        return entry

    def _put(self, memory_type: EntryType, entry: Entry) -> None:
        old = self._entries[memory_type].get(entry.id)
        if old is not None:
            self._contents[memory_type][old.content] -= 1
        self._entries[memory_type][entry.id] = entry
        self._contents[memory_type][entry.content] += 1
        self._type_of[entry.id] = memory_type
        self._upserts.add(entry.id)
        self._deletes.discard(entry.id)
        self._version += 1

    def _remove(self, memory_type: EntryType, memory_id: str) -> None:
        entry = self._entries[memory_type].pop(memory_id)
        self._contents[memory_type][entry.content] -= 1
        del self._type_of[memory_id]
        self._upserts.discard(memory_id)
        self._deletes.add(memory_id)
        self._version += 1

    def _set_core(self, text: str) -> bool:
        truncated = False
        limit = self.core_token_limit
        if text and self.token_counter(text) > limit:
            text, truncated = self._truncate_core(text), True
        now = datetime.now(UTC)
        if self._core_created_at == _EPOCH:
            self._core_created_at = now
        self._core, self._core_updated_at = text, now
        self._upserts.add("")
        return truncated

    def _truncate_core(self, text: str) -> str:
        """Drop words from the end until the text plus the marker fits the limit (paper §2.1)."""
        marker = CORE_TRUNCATION_MARKER.format(limit=self.core_token_limit)
        budget = self.core_token_limit - self.token_counter(marker)
        words = text.split(" ")
        low, high = 0, len(words)  # largest prefix of words that fits, by bisection
        while low < high:
            mid = (low + high + 1) // 2
            if self.token_counter(" ".join(words[:mid])) <= budget:
                low = mid
            else:
                high = mid - 1
        return " ".join(words[:low]) + marker

    def _new_id(self) -> str:
        width = 4
        for attempt in range(64):
            if attempt and attempt % 8 == 0:
                width += 2
            memory_id = f"{self._rng.getrandbits(4 * width):0{width}x}"
            if memory_id not in self._type_of:
                return memory_id
        raise RuntimeError("could not find a free memory id")  # unreachable in practice

    def _record(self, tool: str, arguments: object, result: ToolResult) -> None:
        if isinstance(arguments, str):
            text = arguments
        else:
            try:
                text = _ARGUMENTS_ENCODER.encode(arguments)
            except (TypeError, ValueError, RecursionError):
                text = repr(arguments)
        self._operations.append(
            (
                datetime.now(UTC),
                tool,
                text,
                result.status,
                result.error_kind,
                result.message,
                result.memory_type,
                result.memory_id,
            )
        )

    # ----------------------------------------------------------------- search
    def _index(self, memory_type: EntryType) -> BM25Index:
        cached = self._bm25.get(memory_type)
        if cached is not None and cached[0] == self._version:
            return cached[1]
        index = BM25Index([e.content for e in self._entries[memory_type].values()])
        self._bm25[memory_type] = (self._version, index)
        return index

    def search(
        self, query: str, *, memory_type: str | None = None, k: int = 20, mode: SearchMode = "bm25"
    ) -> list[SearchHit]:
        """The ``k`` best entries for ``query`` (both memory types when ``memory_type`` is None).

        A working memory searches with exact BM25 only; the other modes need a `MemoryStore`.
        The BM25 index is built once per memory state and reused for every query.
        """
        if mode != "bm25":
            raise SearchUnavailableError(
                f"a working memory searches with mode='bm25' only, got {mode!r}; flush it to a MemoryStore "
                "and search its Memory for 'fts', 'vector' or 'hybrid'"
            )
        kinds = _ENTRY_TYPES if memory_type is None else (_entry_type(memory_type),)
        hits: list[SearchHit] = []
        for kind in kinds:
            entries = list(self._entries[kind].values())
            if entries:
                hits += [SearchHit(entries[i], kind, s) for i, s in self._index(kind).top_k(query, k)]
        hits.sort(key=lambda h: -h.score)
        return hits[:k]

    # --------------------------------------------------------------- rendering
    def render_view(self, recent: int = 5) -> str:
        """The writer's view: core plus the ``recent`` newest semantic and episodic items with ids."""
        return render_memory_view(
            self._core,
            list(self._entries["semantic"].values()),
            list(self._entries["episodic"].values()),
            recent=recent,
        )

    def retrieve_for_answer(self, question: str, *, k: int = 20, max_tokens: int | None = None) -> AnswerContext:
        """Core plus the BM25 top-``k`` semantic and episodic items for ``question`` (paper §5).

        When ``max_tokens`` is given, ``k`` shrinks one step at a time until the text fits (down to 0).
        """
        ranked: dict[EntryType, list[Entry]] = {}
        for kind in _ENTRY_TYPES:
            entries = list(self._entries[kind].values())
            top = self._index(kind).top_k(question, k) if entries else []
            ranked[kind] = [entries[i] for i, _ in top]
        k = min(k, max((len(v) for v in ranked.values()), default=0))
        while True:
            semantic, episodic = tuple(ranked["semantic"][:k]), tuple(ranked["episodic"][:k])
            text = render_answer_context(self._core, semantic, episodic)
            if max_tokens is None or k == 0 or self.token_counter(text) <= max_tokens:
                return AnswerContext(text, semantic, episodic, k)
            k -= 1

    def render_for_answer(self, question: str, *, k: int = 20, max_tokens: int | None = None) -> str:
        """The answerer's view as text; see `retrieve_for_answer`."""
        return self.retrieve_for_answer(question, k=k, max_tokens=max_tokens).text

    # ------------------------------------------------------------ persistence
    def export(self, namespace: str | None = None) -> NamespaceExport:
        """The whole memory as an export document, named ``namespace`` (default: this memory's namespace).

        `MemoryStore.import_namespace` loads it, replacing a namespace in one commit with ``replace=True``.
        """
        name = namespace or self.namespace
        if name is None:
            raise ValueError("this working memory has no namespace: pass export(namespace=...)")
        return NamespaceExport(
            namespace=validate_namespace(name),
            exported_at=datetime.now(UTC),
            core=self._core,
            semantic=[_exported(e) for e in self._entries["semantic"].values()],
            episodic=[_exported(e) for e in self._entries["episodic"].values()],
        )

    def fork(self, namespace: str | None = None, *, seed: int | None = None) -> WorkingMemory:
        """An independent copy; flushed under ``namespace``, all of it is new data there."""
        child = self._clone(namespace, seed=seed)
        child.record_operations = self.record_operations if namespace is None else True
        child._upserts = set(self._type_of) | {""}
        return child

    def _clone(self, namespace: str | None, *, seed: int | None = None) -> WorkingMemory:
        """The same state, with no pending changes (entries are immutable: copying the dicts is enough)."""
        child = WorkingMemory(
            namespace,
            paper_compat=self.paper_compat,
            token_counter=self.token_counter,
            core_token_limit=self.core_token_limit,
            seed=seed,
            record_operations=False,
        )
        child._core, child._core_created_at, child._core_updated_at = (
            self._core,
            self._core_created_at,
            self._core_updated_at,
        )
        for kind in _ENTRY_TYPES:
            child._entries[kind] = dict(self._entries[kind])
            child._contents[kind] = Counter(self._contents[kind])
        child._type_of = dict(self._type_of)
        child._next_seq = self._next_seq
        child._version, child._bm25 = self._version, dict(self._bm25)  # BM25 indexes are immutable
        return child

    @property
    def dirty(self) -> bool:
        """Whether anything changed (or was logged) since the last load or flush."""
        return bool(self._upserts or self._deletes or self._operations)

    def flush(self) -> None:
        """Commit the changes to the store this memory was loaded from (see `MemoryStore.flush`)."""
        if self._store is None:
            raise ValueError("this working memory is not bound to a store; use MemoryStore.buffered(namespace)")
        self._store.flush([self])

    def _load(self, core: tuple[str, datetime, datetime] | None, entries: Sequence[tuple[EntryType, Entry]]) -> None:
        """Fill an empty memory with stored state (nothing is marked dirty)."""
        if core is not None:
            self._core, self._core_created_at, self._core_updated_at = core
        for kind, entry in sorted(entries, key=lambda item: item[1].seq):
            self._entries[kind][entry.id] = entry
            self._contents[kind][entry.content] += 1
            self._type_of[entry.id] = kind
            self._next_seq = max(self._next_seq, entry.seq + 1)
        self._version += 1

    def _mark_flushed(self, rev: int, table_version: int) -> None:
        """A commit of this memory's changes succeeded: the namespace is at ``rev``, the table at ``table_version``."""
        self.base_rev, self._table_version = rev, table_version

    def _take_changes(self) -> Changes:
        """Hand the pending changes to a commit; `_restore_changes` gives them back if it fails."""
        changes = Changes(self._upserts, self._deletes, self._operations)
        self._upserts, self._deletes, self._operations = set(), set(), []
        return changes

    def _restore_changes(self, changes: Changes) -> None:
        """Put back the changes of a commit that failed, before any made since."""
        self._upserts |= changes.upserts
        self._deletes |= {i for i in changes.deletes if i not in self._type_of} - self._upserts
        self._operations = changes.operations + self._operations

    def _rows(self, upserts: set[str]) -> list[tuple[str, str, str, int, datetime, datetime]]:
        """``(kind, id, content, seq, created_at, updated_at)`` of the core and of the upserted entries.

        The core row is always written: it carries the namespace revision. A core never written is
        stamped now.
        """
        if self._core_created_at == _EPOCH:
            self._core_created_at = self._core_updated_at = datetime.now(UTC)
        rows = [("core", "", self._core, -1, self._core_created_at, self._core_updated_at)]
        for memory_id in upserts:
            kind = self._type_of.get(memory_id)
            if kind is not None:
                e = self._entries[kind][memory_id]
                rows.append((kind, memory_id, e.content, e.seq, e.created_at, e.updated_at))
        return rows

    def _revision(self) -> tuple[int, datetime] | None:
        """What the store must still hold for a flush to be safe: revision and creation time, or
        ``None`` for a namespace that did not exist when this memory was loaded."""
        return (self.base_rev, self._core_created_at) if self.base_rev else None


@dataclass(slots=True)
class Changes:
    """What a working memory changed since its last flush: upserted ids ("" is the core), deleted ids,
    and the log lines of the calls."""

    upserts: set[str]
    deletes: set[str]
    operations: list[PendingOperation]


def _exported(entry: Entry) -> ExportedEntry:
    return ExportedEntry(id=entry.id, content=entry.content, created_at=entry.created_at, updated_at=entry.updated_at)


def _entry_type(memory_type: str) -> EntryType:
    kind: MemoryType | None = normalize_memory_type(memory_type)
    if kind == "semantic":
        return "semantic"
    if kind == "episodic":
        return "episodic"
    raise ValueError(f"memory_type must be 'semantic' or 'episodic', got {memory_type!r}")
