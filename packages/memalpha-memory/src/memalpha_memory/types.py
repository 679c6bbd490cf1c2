"""The value types of the memory: entries, tool results, search hits, logged operations."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from .exceptions import InvalidNamespaceError

__all__ = [
    "Entry",
    "EntryType",
    "ErrorKind",
    "MemoryType",
    "Operation",
    "SearchHit",
    "SearchMode",
    "Status",
    "ToolResult",
    "normalize_memory_type",
    "validate_namespace",
]

MemoryType = Literal["core", "semantic", "episodic"]
EntryType = Literal["semantic", "episodic"]
Status = Literal["ok", "skipped", "error"]
ErrorKind = Literal["invalid_json", "missing_argument", "invalid_value", "unknown_tool", "unknown_id"]
SearchMode = Literal["bm25", "fts", "vector", "hybrid"]

_MEMORY_TYPES: dict[str, MemoryType] = {
    "core": "core",
    "semantic": "semantic",
    "episodic": "episodic",
    "core_memory": "core",
    "semantic_memory": "semantic",
    "episodic_memory": "episodic",
}
_NAMESPACE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


def normalize_memory_type(value: object) -> MemoryType | None:
    """Map ``"semantic"`` / ``"semantic_memory"`` (any case, padded) to ``"semantic"``; ``None`` if unknown."""
    if not isinstance(value, str):
        return None
    return _MEMORY_TYPES.get(value.strip().lower())


def validate_namespace(name: object) -> str:
    """Return ``name`` if it is a valid namespace name, else raise `InvalidNamespaceError`."""
    if not isinstance(name, str) or not _NAMESPACE.fullmatch(name):
        raise InvalidNamespaceError(
            f"invalid namespace {name!r}: use 1 to 128 characters from letters, digits and '_.:-'"
        )
    return name


@dataclass(frozen=True, slots=True)
class Entry:
    """One semantic or episodic memory item.

    ``id`` is short and unique within its namespace; ``seq`` orders entries by insertion (an update
    keeps the entry's place).
    """

    id: str
    content: str
    created_at: datetime
    updated_at: datetime
    seq: int


@dataclass(frozen=True, slots=True)
class SearchHit:
    """An entry found by `search`, with its memory type and the score of the search mode."""

    entry: Entry
    memory_type: EntryType
    score: float


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What applying one tool call did. Bad calls give ``status="error"``; they never raise.

    ``error_kind`` names the failure class (``invalid_json``, ``missing_argument``, ``invalid_value``,
    ``unknown_tool``, ``unknown_id``); ``message`` says what happened and, for errors, what to do.
    ``skipped`` is an exact-duplicate insert (it changes nothing and, as in the paper, is not a
    success). ``truncated`` is set when a core update was cut to the core token limit.
    """

    tool: str
    status: Status
    message: str
    error_kind: ErrorKind | None = None
    memory_type: MemoryType | None = None
    memory_id: str | None = None
    truncated: bool = False
    hits: tuple[SearchHit, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when the call took effect (``status == "ok"``); the paper's success test for r2."""
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (hits as ``{id, memory_type, content, score}``)."""
        out: dict[str, Any] = {
            "tool": self.tool,
            "status": self.status,
            "message": self.message,
            "error_kind": self.error_kind,
            "memory_type": self.memory_type,
            "memory_id": self.memory_id,
            "truncated": self.truncated,
        }
        if self.hits:
            out["hits"] = [
                {"id": h.entry.id, "memory_type": h.memory_type, "content": h.entry.content, "score": h.score}
                for h in self.hits
            ]
        return out


@dataclass(frozen=True, slots=True)
class Operation:
    """One applied tool call as recorded in a namespace's operation log.

    ``rev`` is the namespace revision the call was committed in, ``index`` its place within that
    commit; ``arguments`` is the call's arguments as received (a JSON string, or a dict dumped to JSON).
    """

    namespace: str
    rev: int
    index: int
    timestamp: datetime
    tool: str
    arguments: str
    status: Status
    error_kind: ErrorKind | None
    message: str
    memory_type: MemoryType | None
    memory_id: str | None
