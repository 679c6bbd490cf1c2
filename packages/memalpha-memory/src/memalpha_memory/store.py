"""`MemoryStore`: many isolated memories (namespaces) in one LanceDB database.

Layout: one ``memory`` table for every namespace (columns ``key = namespace/id``, ``namespace``, ``kind``,
``id``, ``content``, ``seq``, ``rev`` and timestamps; the core is the row with ``kind = 'core'`` and an
empty id, and its ``rev`` is the namespace's revision), one ``operations`` table (the log of applied
calls), and one ``vectors_<embedder>`` table per embedder. Indexes: BITMAP on ``namespace``, BTREE on
``key``, full text on ``content`` (no stemming or stop words, so ranking stays close to the paper's BM25).

Every write is one ``merge_insert`` on ``key`` plus one ``add`` to the log, however many calls and
namespaces it carries: LanceDB commits cost milliseconds and each makes a table version, so calls are
applied in process (`WorkingMemory`) and committed in groups (see ``../shared/spec/lancedb-notes.md``).
A deleted entry is written as a tombstone row (``kind = 'deleted'``), so upserts and deletes land in
one atomic commit without the full-table join that ``when_not_matched_by_source_delete`` costs (2x on
the per-step flush); tombstones are purged when the tables are compacted.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import lancedb
import pyarrow as pa
from lancedb.index import FTS, Bitmap, BTree
from pydantic import ValidationError

from ._locking import WriteLock
from ._tables import (
    MEMORY_SCHEMA,
    MEMORY_TABLE,
    OPERATIONS_SCHEMA,
    OPERATIONS_TABLE,
    Commit,
    sql_in,
    sql_quote,
    to_arrow,
)
from .embeddings import Embedder, validate_embedder
from .exceptions import (
    InvalidExportError,
    MemoryConflictError,
    NamespaceExistsError,
    NamespaceNotFoundError,
    StorageError,
)
from .export import ExportedEntry, NamespaceExport
from .memory import Memory
from .tokens import TokenCounter
from .types import Entry, EntryType, Operation, ToolResult, validate_namespace
from .working import WorkingMemory

__all__ = ["MemoryStore"]

logger = logging.getLogger(__name__)

_CACHE_SIZE = 256
_STATE_COLUMNS = ["namespace", "kind", "id", "content", "seq", "rev", "created_at", "updated_at"]


class MemoryStore:
    """A LanceDB-backed store of isolated memories, one per namespace.

    Open it with `MemoryStore.open`. The committed API (`namespace` → `Memory`) commits each call before
    returning; the buffered API (`buffered`, `flush`, `apply_batch`) applies calls in process and
    commits many calls and namespaces at once.
    """

    def __init__(
        self,
        db: Any,
        uri: str,
        *,
        lock_path: Path | None,
        paper_compat: bool,
        token_counter: TokenCounter | None,
        core_token_limit: int,
        embedder: Embedder | None,
        optimize_every: int | None,
    ) -> None:
        self._db = db
        self.uri = uri
        self.paper_compat = paper_compat
        self.token_counter = token_counter
        self.core_token_limit = core_token_limit
        self.embedder = embedder
        self.optimize_every = optimize_every
        self._lock = WriteLock(lock_path)
        self._commits = 0
        self._executor: ThreadPoolExecutor | None = None
        self._in_flight: tuple[Commit, Future[BaseException | None]] | None = None
        # namespace -> its latest state, valid while the memory table is at that state's `_table_version`.
        # Published states are never mutated (writers work on clones), so readers may use them directly.
        self._cache: OrderedDict[str, WorkingMemory] = OrderedDict()
        self._cache_lock = threading.Lock()  # readers on several threads update the LRU order
        with self._lock.hold():
            self._table = self._open_or_create(MEMORY_TABLE, MEMORY_SCHEMA)
            self._operations = self._open_or_create(OPERATIONS_TABLE, OPERATIONS_SCHEMA)
            self._ensure_indexes(self._table, {"namespace": Bitmap(), "key": BTree(), "kind": Bitmap()}, fts="content")
            self._ensure_indexes(self._operations, {"namespace": Bitmap()})
        self._vectors: Any = None

    @classmethod
    def open(
        cls,
        uri: str | Path,
        *,
        paper_compat: bool = False,
        token_counter: TokenCounter | None = None,
        core_token_limit: int = 512,
        embedder: Embedder | None = None,
        optimize_every: int | None = 50,
        storage_options: dict[str, str] | None = None,
    ) -> MemoryStore:
        """Open (or create) a store at a LanceDB URI: a local folder, ``"memory://"``, or object storage.

        Args:
            paper_compat: reproduce the paper's tool quirks (deleting an unknown id counts as success).
            token_counter: counts tokens for the core limit and memory sizes (default `count_tokens`).
            core_token_limit: the core paragraph is cut to this many tokens (paper: 512).
            embedder: enables ``vector`` and ``hybrid`` search (e.g. `HashingEmbedder`, `MiniLMEmbedder`).
            optimize_every: compact tables and fold new rows into the indexes every N commits (None: never).
            storage_options: passed to LanceDB for object storage (credentials, region, ...).
        """
        text = str(uri)
        scheme = text.split("://", 1)[0] if "://" in text else "file"
        lock_path: Path | None = None
        if scheme == "file":
            folder = Path(text.removeprefix("file://")).expanduser()
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create the store folder {str(folder)!r}: {exc}") from exc
            lock_path = folder / ".memalpha-write.lock"
            text = str(folder)
        if embedder is not None:
            validate_embedder(embedder)
        try:
            db = lancedb.connect(text, read_consistency_interval=timedelta(0), storage_options=storage_options)
        except Exception as exc:
            raise StorageError(f"cannot open the LanceDB store {text!r}: {exc}") from exc
        return cls(
            db,
            text,
            lock_path=lock_path,
            paper_compat=paper_compat,
            token_counter=token_counter,
            core_token_limit=core_token_limit,
            embedder=embedder,
            optimize_every=optimize_every,
        )

    def __repr__(self) -> str:
        return f"MemoryStore.open({self.uri!r})"

    # ------------------------------------------------------------ namespaces
    def namespace(self, name: str) -> Memory:
        """The memory of one namespace (created by its first write)."""
        return Memory(self, validate_namespace(name))

    def namespaces(self) -> list[str]:
        """Names of the namespaces that hold data, sorted."""
        rows = self._table.search().where("kind = 'core'").select(["namespace"]).to_arrow()
        return sorted(rows.column("namespace").to_pylist())

    def exists(self, name: str) -> bool:
        """Whether the namespace holds data."""
        return validate_namespace(name) in self._revisions([name])

    def drop(self, name: str, *, missing_ok: bool = False) -> None:
        """Delete a namespace: its memory, its operation log and its vectors."""
        validate_namespace(name)
        with self._lock.hold():
            if not self.exists(name):
                if missing_ok:
                    return
                raise NamespaceNotFoundError(f"namespace {name!r} does not exist in {self.uri!r}")
            where = f"namespace = {sql_quote(name)}"
            self._guard(self._table.delete, where)
            self._guard(self._operations.delete, where)
            if self.embedder is not None:
                self._guard(self._vector_table().delete, where)

    def fork(self, source: str, target: str) -> Memory:
        """Copy namespace ``source`` into the new namespace ``target`` (one commit)."""
        validate_namespace(target)
        with self._lock.hold():
            memory = self._state([validate_namespace(source)])[source]
            if memory.base_rev == 0:
                raise NamespaceNotFoundError(f"cannot fork {source!r}: the namespace does not exist")
            if target in self._revisions([target]):
                raise NamespaceExistsError(f"cannot fork into {target!r}: it already holds data; drop it first")
            child = memory.fork(target)
            child._store = self
            self._commit([child])
        return Memory(self, target)

    # ---------------------------------------------------------- buffered path
    def buffered(self, name: str, *, record_operations: bool = True) -> WorkingMemory:
        """Load a namespace into a `WorkingMemory` bound to this store: calls apply in process, `flush` commits.

        ``record_operations=False`` leaves this memory's calls out of the operation log (a rollout that
        keeps its own traces saves the log's time and space).
        """
        return self.buffered_many([name], record_operations=record_operations)[name]

    def buffered_many(self, names: Sequence[str], *, record_operations: bool = True) -> dict[str, WorkingMemory]:
        """`buffered` for many namespaces with one read."""
        memories = self._state([validate_namespace(n) for n in names])
        return {name: self._bound_copy(memory, record_operations) for name, memory in memories.items()}

    def working_memory(
        self, name: str | None = None, *, seed: int | None = None, record_operations: bool = True
    ) -> WorkingMemory:
        """An empty working memory with this store's settings; bound to the store when ``name`` is given.

        Flushing it into a namespace that already holds data raises `MemoryConflictError`.
        """
        memory = WorkingMemory(
            name,
            paper_compat=self.paper_compat,
            token_counter=self.token_counter,
            core_token_limit=self.core_token_limit,
            seed=seed,
            record_operations=record_operations and name is not None,
        )
        if name is not None:
            memory._store = self
        return memory

    def flush(self, memories: Iterable[WorkingMemory], *, wait: bool = True) -> None:
        """Commit what these working memories changed, all in one commit per table.

        Raises `MemoryConflictError` (and writes nothing) if another writer committed to one of the
        namespaces since it was loaded or last flushed; reload it with `buffered` and apply again.
        If the commit fails, the memories keep their changes, so the flush can be retried.

        With ``wait=False`` the commit runs on a background thread while you go on applying calls (to the
        same memories, too); the next `flush` or `wait` waits for it and raises its error, if any, after
        putting its changes back into the memories. Call `wait` before reading what was flushed.
        """
        self.wait()
        dirty = [m for m in memories if m.dirty]
        names = [m.namespace for m in dirty]
        for memory in dirty:
            if memory.namespace is None or memory._store is not self:
                raise ValueError("flush takes working memories from this store's buffered() or working_memory(name)")
        if len(set(names)) != len(names):
            raise ValueError("two working memories of the same namespace cannot be flushed together")
        if not dirty:
            return
        commit = Commit.take(dirty)
        if wait:
            self._settle(commit, self._run(self._write, commit, check=True))
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memalpha-flush")
        self._in_flight = (commit, self._executor.submit(self._run, self._write, commit, check=True))

    def wait(self) -> None:
        """Wait for a ``flush(wait=False)`` still running; raise its error (its changes are back in place)."""
        if self._in_flight is None:
            return
        commit, future = self._in_flight
        self._in_flight = None
        self._settle(commit, future.result())

    def close(self) -> None:
        """Wait for a background flush and stop its thread. The store stays readable."""
        try:
            self.wait()
        finally:
            if self._executor is not None:
                self._executor.shutdown()
                self._executor = None

    def apply_batch(self, calls: Iterable[tuple[str, str, object]]) -> list[ToolResult]:
        """Apply ``(namespace, tool_name, arguments)`` calls in order, committed together.

        Namespaces are validated before anything is applied; bad calls become error results.
        """
        batch = [(validate_namespace(ns), tool, args) for ns, tool, args in calls]
        if not batch:
            return []
        with self._lock.hold(), self._updating(list(dict.fromkeys(ns for ns, _, _ in batch))) as memories:
            return [memories[ns].apply_tool_call(tool, args) for ns, tool, args in batch]

    # ------------------------------------------------------------- maintenance
    def optimize(self, *, cleanup_older_than: timedelta | None = None) -> None:
        """Purge tombstones, compact the tables and fold new rows into the indexes; optionally prune old versions."""
        with self._lock.hold():
            self._guard(self._compact, cleanup_older_than)

    def _compact(self, cleanup_older_than: timedelta | None = None) -> None:
        self._table.delete("kind = 'deleted'")
        tables = [self._table, self._operations] + ([self._vector_table()] if self.embedder else [])
        for table in tables:
            table.optimize(cleanup_older_than=cleanup_older_than)

    # --------------------------------------------------------------- internals
    def _open_or_create(self, name: str, schema: pa.Schema) -> Any:
        try:
            table = self._db.create_table(name, schema=schema, exist_ok=True)
        except Exception as exc:
            raise StorageError(f"cannot open table {name!r} in {self.uri!r}: {exc}") from exc
        if table.schema != schema:
            raise StorageError(
                f"table {name!r} in {self.uri!r} has another schema than memalpha-memory writes; "
                "is this folder another program's LanceDB database?"
            )
        return table

    def _ensure_indexes(self, table: Any, scalar: dict[str, Any], fts: str | None = None) -> None:
        existing = {tuple(index.columns) for index in table.list_indices()}
        for column, config in scalar.items():
            if (column,) not in existing:
                table.create_index(column, config=config)
        if fts is not None and (fts,) not in existing:
            table.create_index(fts, config=FTS(stem=False, remove_stop_words=False, ascii_folding=False))

    def _guard(self, action: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return action(*args, **kwargs)
        except (OSError, RuntimeError, ValueError) as exc:
            raise StorageError(f"LanceDB operation on {self.uri!r} failed: {exc}") from exc

    def _revisions(self, names: Sequence[str]) -> dict[str, tuple[int, datetime]]:
        """Each existing namespace's revision and creation time (a dropped and rewritten namespace
        starts again at revision 1, so the pair tells its incarnations apart)."""
        if not names:
            return {}
        rows = (
            self._table.search()
            .where(f"kind = 'core' AND {sql_in('namespace', names)}")
            .select(["namespace", "rev", "created_at"])
            .to_arrow()
            .to_pylist()
        )
        return {row["namespace"]: (row["rev"], row["created_at"]) for row in rows}

    def _load(self, names: Sequence[str]) -> dict[str, WorkingMemory]:
        memories = {name: self.working_memory(name) for name in names}
        if not names:
            return memories
        where = f"{sql_in('namespace', names)} AND kind != 'deleted'"
        rows = self._table.search().where(where).select(_STATE_COLUMNS).to_arrow().to_pylist()
        cores: dict[str, tuple[str, datetime, datetime]] = {}
        entries: dict[str, list[tuple[EntryType, Entry]]] = {name: [] for name in names}
        for row in rows:
            ns = row["namespace"]
            if row["kind"] == "core":
                cores[ns] = (row["content"], row["created_at"], row["updated_at"])
                memories[ns].base_rev = row["rev"]
            else:
                entry = Entry(row["id"], row["content"], row["created_at"], row["updated_at"], row["seq"])
                entries[ns].append((row["kind"], entry))
        for name, memory in memories.items():
            memory._load(cores.get(name), entries[name])
        return memories

    def _commit(self, memories: Sequence[WorkingMemory]) -> None:
        """Commit the memories' changes now (hold the write lock)."""
        if memories:
            commit = Commit.take(memories)
            self._settle(commit, self._run(self._write, commit, check=False))

    @staticmethod
    def _run(action: Any, *args: Any, **kwargs: Any) -> BaseException | None:
        """Run ``action``; return its error instead of raising it (settled by `_settle`)."""
        try:
            action(*args, **kwargs)
        except Exception as exc:
            return exc
        return None

    def _settle(self, commit: Commit, error: BaseException | None) -> None:
        """After `_write`: mark the memories flushed, or give them their changes back and raise."""
        if error is not None:
            for memory, changes in zip(commit.memories, commit.changes, strict=True):
                memory._restore_changes(changes)
            raise error
        assert commit.version is not None
        for memory in commit.memories:
            memory._mark_flushed(memory.base_rev + 1, commit.version)

    def _write(self, commit: Commit, *, check: bool) -> None:
        """Write a commit: one merge_insert (upserts + deletes) and one log append.

        If the log append fails, the memory table is restored to its version before the merge, so a
        failed commit changes nothing. (A crash between the two writes keeps the data and loses that
        commit's log lines.) With ``check``, first make sure no one else wrote to these namespaces.
        """
        with self._lock.hold():
            version = self._table.version
            if check and any(m._table_version != version for m in commit.memories):
                current = self._revisions([m.namespace for m in commit.memories])  # type: ignore[misc]
                stale = [m.namespace for m in commit.memories if current.get(m.namespace) != m._revision()]  # type: ignore[arg-type]
                if stale:
                    raise MemoryConflictError(
                        f"namespace(s) {', '.join(map(repr, stale))} changed in the store since they were loaded; "
                        "nothing was written. Load them again with buffered() and re-apply the calls"
                    )
            merge = self._table.merge_insert("key").when_matched_update_all().when_not_matched_insert_all()
            self._guard(merge.execute, to_arrow(commit.rows, MEMORY_SCHEMA))
            if commit.operations:
                try:
                    self._guard(self._operations.add, to_arrow(commit.operations, OPERATIONS_SCHEMA))
                except StorageError:
                    # keep memory and log consistent: we hold the write lock, so nobody committed since
                    self._guard(self._table.restore, version)
                    raise
            self._commits += 1
            if self.optimize_every and self._commits % self.optimize_every == 0:
                try:  # maintenance: the commit above stands whether or not it works
                    self._compact()
                except Exception as exc:
                    logger.warning("compacting %s failed (%s); will try again after more commits", self.uri, exc)
            commit.version = self._table.version

    # ------------------------------------------------------- reads for Memory
    def _operations_of(self, name: str) -> list[Operation]:
        rows = self._operations.search().where(f"namespace = {sql_quote(name)}").to_arrow().to_pylist()
        rows.sort(key=lambda r: (r["rev"], r["index"]))
        return [Operation(**row) for row in rows]

    def _apply(self, name: str, calls: Sequence[tuple[str, object]]) -> list[ToolResult]:
        with self._lock.hold(), self._updating([name]) as memories:
            return memories[name].apply_tool_calls(calls)

    @contextmanager
    def _updating(self, names: Sequence[str]) -> Iterator[dict[str, WorkingMemory]]:
        """Copies of the latest state of ``names`` to apply calls to, committed when the block ends.

        Hold the write lock. On success the copies become the cached states.
        """
        memories = {name: self._bound_copy(memory) for name, memory in self._state(names).items()}
        yield memories
        self._commit([m for m in memories.values() if m.dirty])
        version = self._table.version
        for memory in memories.values():
            memory._table_version = version  # the commit moved the table on: every copy is current again
            self._remember(memory)

    def _state(self, names: Sequence[str]) -> dict[str, WorkingMemory]:
        """The latest committed state of each namespace, from the cache where it is still current.

        These are the cached objects: read them, or copy them (`_bound_copy`) to change them.
        """
        version = self._table.version
        with self._cache_lock:
            cached = {name: self._cache.get(name) for name in names}
        found = {name: m for name, m in cached.items() if m is not None and m._table_version == version}
        missing = [name for name in names if name not in found]
        for name, memory in self._load(missing).items():
            memory._table_version = version
            found[name] = self._remember(memory)
        return {name: found[name] for name in names}

    def _remember(self, memory: WorkingMemory) -> WorkingMemory:
        assert memory.namespace is not None
        with self._cache_lock:
            self._cache[memory.namespace] = memory
            self._cache.move_to_end(memory.namespace)
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return memory

    def _bound_copy(self, memory: WorkingMemory, record_operations: bool = True) -> WorkingMemory:
        copy = memory._clone(memory.namespace)
        copy.record_operations = record_operations
        copy.base_rev, copy._table_version = memory.base_rev, memory._table_version
        copy._store = self
        return copy

    def import_namespace(
        self, document: NamespaceExport | dict[str, Any] | str, *, namespace: str | None = None, replace: bool = False
    ) -> Memory:
        """Load an export (model, dict or JSON text) into ``namespace`` (default: the exported name).

        The target must be empty unless ``replace=True``, which swaps its contents in one commit.
        """
        try:
            if isinstance(document, NamespaceExport):
                export = document
            elif isinstance(document, str):
                export = NamespaceExport.model_validate_json(document)
            else:
                export = NamespaceExport.model_validate(document)
        except ValidationError as exc:
            raise InvalidExportError(f"not a memalpha memory export: {exc}") from exc
        name = validate_namespace(namespace or export.namespace)
        exported: list[tuple[EntryType, ExportedEntry]] = [("semantic", e) for e in export.semantic]
        exported += [("episodic", e) for e in export.episodic]
        ids = [e.id for _, e in exported]
        if len(set(ids)) != len(ids):
            raise InvalidExportError("the export repeats an entry id; ids must be unique within a namespace")
        with self._lock.hold():
            current = self._state([name])[name]
            if current.base_rev and not replace:
                raise NamespaceExistsError(f"namespace {name!r} already holds data; pass replace=True to overwrite it")
            memory = self.working_memory(name)
            now = datetime.now(UTC)
            memory._load(
                (export.core, now, now),
                [
                    (kind, Entry(e.id, e.content, e.created_at, e.updated_at, seq))
                    for seq, (kind, e) in enumerate(exported)
                ],
            )
            memory.base_rev = current.base_rev
            memory._upserts = set(ids) | {""}
            memory._deletes = set(current._type_of) - memory._upserts
            self._commit([memory])
        return Memory(self, name)

    def _vector_table(self) -> Any:
        assert self.embedder is not None
        if self._vectors is None:
            schema = pa.schema(
                [
                    pa.field("key", pa.string(), nullable=False),
                    pa.field("namespace", pa.string(), nullable=False),
                    pa.field("kind", pa.string(), nullable=False),
                    pa.field("content", pa.string(), nullable=False),
                    pa.field("vector", pa.list_(pa.float32(), self.embedder.dim), nullable=False),
                ]
            )
            with self._lock.hold():
                self._vectors = self._open_or_create(f"vectors_{self.embedder.name}", schema)
                self._ensure_indexes(self._vectors, {"namespace": Bitmap(), "key": BTree()})
        return self._vectors
