"""memalpha-memory: the three-part agent memory of Mem-alpha (core, semantic, episodic) on LanceDB.

Quick start::

    from memalpha_memory import MemoryStore
    store = MemoryStore.open("./mem")
    mem = store.namespace("user-42")
    mem.apply_tool_call("new_memory_insert", '{"memory_type": "semantic_memory", "content": "Ana lives in Porto"}')
    mem.search("where does Ana live?")
"""

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
from .memory import Memory
from .render import AnswerContext
from .search import reciprocal_rank_fusion
from .store import MemoryStore
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
)
from .working import WorkingMemory

__version__ = "0.1.0"

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
    "reciprocal_rank_fusion",
    "tool_schemas",
]
