"""The REST API's request and response bodies (pydantic, ``extra="forbid"``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from memalpha_memory import AnswerContext, Entry, Operation, SearchHit

__all__ = [
    "AnswerContextResponse",
    "BatchRequest",
    "BatchResponse",
    "DroppedResponse",
    "EntriesResponse",
    "EntryModel",
    "ErrorResponse",
    "HealthResponse",
    "HitModel",
    "ImportResponse",
    "NamespaceDetail",
    "NamespaceList",
    "OperationModel",
    "OperationsResponse",
    "SearchResponse",
    "ToolCallFailure",
    "ToolCallRequest",
    "ToolResultModel",
    "ViewResponse",
]

MAX_BATCH = 1000


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorResponse(_Model):
    """Every 4xx/5xx answer of the server (FastAPI's own 422 for malformed bodies lists the errors instead)."""

    detail: str = Field(description="What was wrong and how to fix it.")


class HealthResponse(_Model):
    status: Literal["ok"] = "ok"
    version: str
    store: str = Field(description="The store root; each tenant's database is {store}/tenants/{tenant}.")


class ToolCallRequest(_Model):
    """One memory tool call, as a model would write it."""

    name: str = Field(description="new_memory_insert, memory_update, memory_delete or search_memory.")
    arguments: dict[str, Any] | str | None = Field(
        default=None, description="The call's arguments: a JSON object, or the JSON text the model wrote."
    )


class BatchRequest(_Model):
    calls: list[ToolCallRequest] = Field(min_length=1, max_length=MAX_BATCH)


class HitModel(_Model):
    id: str
    memory_type: Literal["semantic", "episodic"]
    content: str
    score: float

    @classmethod
    def of(cls, hit: SearchHit) -> HitModel:
        return cls(id=hit.entry.id, memory_type=hit.memory_type, content=hit.entry.content, score=hit.score)


class ToolResultModel(_Model):
    """What one tool call did (`memalpha_memory.ToolResult.to_dict`); ``hits`` only for ``search_memory``."""

    tool: str
    status: Literal["ok", "skipped", "error"]
    message: str
    error_kind: Literal["invalid_json", "missing_argument", "invalid_value", "unknown_tool", "unknown_id"] | None
    memory_type: Literal["core", "semantic", "episodic"] | None
    memory_id: str | None
    truncated: bool
    hits: list[HitModel] | None = None


class ToolCallFailure(_Model):
    """A tool call that failed (status ``error``): it changed nothing."""

    detail: str
    result: ToolResultModel


class BatchResponse(_Model):
    results: list[ToolResultModel]
    ok: int
    skipped: int
    errors: int


class EntryModel(_Model):
    id: str
    content: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, entry: Entry) -> EntryModel:
        return cls(id=entry.id, content=entry.content, created_at=entry.created_at, updated_at=entry.updated_at)


class NamespaceList(_Model):
    tenant: str
    namespaces: list[str]


class NamespaceDetail(_Model):
    namespace: str
    core: str
    semantic: list[EntryModel]
    episodic: list[EntryModel]
    counts: dict[Literal["semantic", "episodic"], int]
    total_tokens: int = Field(description="Tokens of the core plus every entry (the paper's memory size).")


class EntriesResponse(_Model):
    namespace: str
    memory_type: Literal["semantic", "episodic"]
    total: int
    entries: list[EntryModel]


class SearchResponse(_Model):
    namespace: str
    query: str
    mode: Literal["bm25", "fts", "vector", "hybrid"]
    hits: list[HitModel]


class ViewResponse(_Model):
    namespace: str
    recent: int
    text: str = Field(description="The writer's view: core plus the most recent items of each type, with ids.")


class AnswerContextResponse(_Model):
    namespace: str
    question: str
    k: int = Field(description="Items kept per memory type after fitting max_tokens.")
    text: str = Field(description="What an answerer sees: core plus the BM25 top-k items, without ids.")
    semantic: list[EntryModel]
    episodic: list[EntryModel]

    @classmethod
    def of(cls, namespace: str, question: str, context: AnswerContext) -> AnswerContextResponse:
        return cls(
            namespace=namespace,
            question=question,
            k=context.k,
            text=context.text,
            semantic=[EntryModel.of(e) for e in context.semantic],
            episodic=[EntryModel.of(e) for e in context.episodic],
        )


class OperationModel(_Model):
    rev: int
    index: int
    timestamp: datetime
    tool: str
    arguments: str
    status: Literal["ok", "skipped", "error"]
    error_kind: str | None
    message: str
    memory_type: str | None
    memory_id: str | None

    @classmethod
    def of(cls, op: Operation) -> OperationModel:
        return cls(
            rev=op.rev,
            index=op.index,
            timestamp=op.timestamp,
            tool=op.tool,
            arguments=op.arguments,
            status=op.status,
            error_kind=op.error_kind,
            message=op.message,
            memory_type=op.memory_type,
            memory_id=op.memory_id,
        )


class OperationsResponse(_Model):
    namespace: str
    operations: list[OperationModel]


class DroppedResponse(_Model):
    namespace: str
    dropped: Literal[True] = True


class ImportResponse(_Model):
    namespace: str
    replaced: bool
    counts: dict[Literal["semantic", "episodic"], int]
