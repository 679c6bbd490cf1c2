"""memalpha-memory: the three-part agent memory of Mem-alpha (core, semantic, episodic) on LanceDB.

Quick start::

    from memalpha_memory import MemoryStore
    store = MemoryStore.open("./mem")
    mem = store.namespace("user-42")
    mem.apply_tool_call("new_memory_insert", '{"memory_type": "semantic_memory", "content": "Ana lives in Porto"}')
    mem.search("where does Ana live?")

`MemoryStore` and `Memory` (LanceDB) are imported on first use, so the in-process parts (`WorkingMemory`, the
tools, BM25) load fast and work where LanceDB is not installed.
"""

import importlib
from typing import TYPE_CHECKING, Any

from .bm25 import BM25Index, bm25_tokenize
from .embeddings import Embedder, HashingEmbedder, MiniLMEmbedder
from .exceptions import (
    InvalidExportError,
    InvalidNamespaceError,
    MemalphaMemoryError,
    MemoryConflictError,
    NamespaceExistsError,
    NamespaceNotFoundError,
    SearchUnavailableError,
    StorageError,
)
from .export import ExportedEntry, NamespaceExport
from .render import AnswerContext
from .search import reciprocal_rank_fusion
from .tokens import TokenCounter, count_tokens, hf_token_counter
from .tools import tool_schemas
from .types import (
    Entry,
    EntryType,
    ErrorKind,
    MemoryType,
    Operation,
    SearchHit,
    SearchMode,
    Status,
    ToolResult,
    normalize_memory_type,
)
from .working import WorkingMemory

if TYPE_CHECKING:
    from .memory import Memory
    from .store import MemoryStore

__version__ = "0.1.0"

_LAZY = {"Memory": ".memory", "MemoryStore": ".store"}


def __getattr__(name: str) -> Any:
    """Import the LanceDB-backed classes on first access."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AnswerContext",
    "BM25Index",
    "Embedder",
    "Entry",
    "EntryType",
    "ErrorKind",
    "ExportedEntry",
    "HashingEmbedder",
    "InvalidExportError",
    "InvalidNamespaceError",
    "MemalphaMemoryError",
    "Memory",
    "MemoryConflictError",
    "MemoryStore",
    "MemoryType",
    "MiniLMEmbedder",
    "NamespaceExistsError",
    "NamespaceExport",
    "NamespaceNotFoundError",
    "Operation",
    "SearchHit",
    "SearchMode",
    "SearchUnavailableError",
    "Status",
    "StorageError",
    "TokenCounter",
    "ToolResult",
    "WorkingMemory",
    "__version__",
    "bm25_tokenize",
    "count_tokens",
    "hf_token_counter",
    "normalize_memory_type",
    "reciprocal_rank_fusion",
    "tool_schemas",
]
