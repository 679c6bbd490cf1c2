"""The REST API (``/v1``): tool calls, reads, search, views, export/import and namespaces of one tenant.

Every route but ``/health`` needs ``Authorization: Bearer <token>``; the token picks the tenant, and a
tenant sees only its own namespaces. Handlers are plain functions run on FastAPI's thread pool. Writes go
through the tenant's `GroupCommitter` (concurrent writes share commits) and answer only after their commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from memalpha_memory import (
    Memory,
    MemoryStore,
    NamespaceExistsError,
    NamespaceExport,
    NamespaceNotFoundError,
    SearchMode,
    SearchUnavailableError,
    ToolResult,
    WorkingMemory,
)

from ._version import __version__
from .group_commit import GroupCommitter
from .models import (
    AnswerContextResponse,
    BatchRequest,
    BatchResponse,
    DroppedResponse,
    EntriesResponse,
    EntryModel,
    ErrorResponse,
    HealthResponse,
    HitModel,
    ImportResponse,
    NamespaceDetail,
    NamespaceList,
    OperationModel,
    OperationsResponse,
    SearchResponse,
    ToolCallFailure,
    ToolCallRequest,
    ToolResultModel,
    ViewResponse,
)
from .state import ServerState

__all__ = ["health_router", "v1_router"]

bearer = HTTPBearer(
    auto_error=False,
    description="A token from the server's tokens file or MEMALPHA_SERVER_TOKENS; it selects the tenant.",
)


@dataclass(frozen=True)
class Tenant:
    """The authenticated tenant of a request, its store, and the committer its writes share."""

    name: str
    store: MemoryStore
    writer: GroupCommitter


def server_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.memalpha
    return state


def current_tenant(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
) -> Tenant:
    """The request's tenant (401 without a valid token) with its store (503 if it cannot be opened)."""
    state = server_state(request)
    name = state.auth.tenant(request.headers.get("authorization"))
    writer = state.stores.writer(name)
    return Tenant(name, writer.store, writer)


TenantDep = Annotated[Tenant, Depends(current_tenant)]
NamespacePath = Annotated[
    str, Path(description="The namespace: 1 to 128 characters from letters, digits and '_.:-'.", examples=["user-42"])
]
EntryTypeName = Literal["semantic", "episodic", "semantic_memory", "episodic_memory"]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    reasons = {
        400: "Invalid namespace name or unusable search mode.",
        401: "Missing or unknown bearer token.",
        404: "The namespace (or entry) does not exist for this tenant.",
        409: "The namespace already holds data.",
        503: "The store could not be read or written.",
    }
    return {code: {"model": ErrorResponse, "description": reasons[code]} for code in codes}


def _memory(tenant: Tenant, namespace: str) -> Memory:
    """The namespace's `Memory`; 400 for an invalid name."""
    return tenant.store.namespace(namespace)  # InvalidNamespaceError -> 400


def _snapshot(tenant: Tenant, namespace: str) -> WorkingMemory:
    """The namespace's latest committed state (one consistent read); 400 for an invalid name, 404 if it holds no data.

    Each read endpoint answers from this one state (it comes from the store's cache when nothing was committed
    since; ``exists()`` would be a query of its own).
    """
    snapshot = _memory(tenant, namespace).snapshot()  # InvalidNamespaceError -> 400
    if snapshot.base_rev == 0:
        raise NamespaceNotFoundError(f"namespace {namespace!r} does not exist")
    return snapshot


def _entry_type(name: EntryTypeName) -> Literal["semantic", "episodic"]:
    return "semantic" if name.startswith("semantic") else "episodic"


def _result_model(result: ToolResult) -> ToolResultModel:
    data = result.to_dict()
    if result.tool == "search_memory" and result.status == "ok":
        data.setdefault("hits", [])
    return ToolResultModel.model_validate(data)


health_router = APIRouter(tags=["health"])
v1_router = APIRouter(tags=["memory"])


@health_router.get("/health", response_model=HealthResponse)
def health(request: Request) -> HealthResponse:
    """Liveness: no authentication, touches no store."""
    return HealthResponse(version=__version__, store=server_state(request).settings.store)


@v1_router.get("/namespaces", response_model=NamespaceList, responses=_errors(401, 503))
def list_namespaces(tenant: TenantDep) -> NamespaceList:
    """The tenant's namespaces that hold data, sorted."""
    return NamespaceList(tenant=tenant.name, namespaces=tenant.store.namespaces())


@v1_router.delete("/namespaces/{namespace}", response_model=DroppedResponse, responses=_errors(400, 401, 404, 503))
def drop_namespace(namespace: NamespacePath, tenant: TenantDep) -> DroppedResponse:
    """Delete a namespace: its memory and its operation log."""
    tenant.store.drop(namespace)
    return DroppedResponse(namespace=namespace)


@v1_router.post(
    "/namespaces/{namespace}/tool-calls",
    response_model=ToolResultModel,
    responses={
        **_errors(400, 401, 503),
        422: {
            "model": ToolCallFailure,
            "description": "The tool call failed and changed nothing (status 'error', with the reason); "
            "a malformed body gets FastAPI's validation error instead.",
        },
    },
)
def apply_tool_call(namespace: NamespacePath, call: ToolCallRequest, tenant: TenantDep) -> Any:
    """Apply one tool call and commit it before answering; the namespace is created by its first write.

    ``ok`` and ``skipped`` (an exact duplicate insert) answer 200; a failed call (``error``) answers 422
    and changed no memory (it is still recorded in the operation log). ``search_memory`` works too.
    """
    memory = _memory(tenant, namespace)
    if call.name.strip() == "search_memory":  # a read: no commit to wait for
        result = memory.apply_tool_call(call.name, call.arguments)
    else:
        result = tenant.writer.apply(memory.namespace, [(call.name, call.arguments)])[0]
    model = _result_model(result)
    if result.status == "error":
        failure = ToolCallFailure(detail=result.message, result=model)
        return JSONResponse(failure.model_dump(mode="json"), status_code=422)
    return model


@v1_router.post(
    "/namespaces/{namespace}/tool-calls/batch", response_model=BatchResponse, responses=_errors(400, 401, 503)
)
def apply_tool_calls(namespace: NamespacePath, batch: BatchRequest, tenant: TenantDep) -> BatchResponse:
    """Apply the calls in order and commit them together (one group commit), then answer 200.

    Each call gets its own result. Calls that fail change nothing; the others are committed together,
    all or none (a storage failure answers 503 and commits none). A ``search_memory`` in a batch sees the
    batch's earlier calls and ranks with BM25.
    """
    memory = _memory(tenant, namespace)
    results = tenant.writer.apply(memory.namespace, [(call.name, call.arguments) for call in batch.calls])
    statuses = [r.status for r in results]
    return BatchResponse(
        results=[_result_model(r) for r in results],
        ok=statuses.count("ok"),
        skipped=statuses.count("skipped"),
        errors=statuses.count("error"),
    )


@v1_router.get("/namespaces/{namespace}", response_model=NamespaceDetail, responses=_errors(400, 401, 404, 503))
def get_namespace(namespace: NamespacePath, tenant: TenantDep) -> NamespaceDetail:
    """The whole memory of a namespace (one consistent snapshot): core, entries of both types, sizes."""
    snapshot = _snapshot(tenant, namespace)
    semantic, episodic = snapshot.entries("semantic"), snapshot.entries("episodic")
    return NamespaceDetail(
        namespace=namespace,
        core=snapshot.core,
        semantic=[EntryModel.of(e) for e in semantic],
        episodic=[EntryModel.of(e) for e in episodic],
        counts={"semantic": len(semantic), "episodic": len(episodic)},
        total_tokens=snapshot.total_tokens(),
    )


@v1_router.get(
    "/namespaces/{namespace}/entries/{memory_type}",
    response_model=EntriesResponse,
    responses=_errors(400, 401, 404, 503),
)
def list_entries(
    namespace: NamespacePath,
    memory_type: EntryTypeName,
    tenant: TenantDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> EntriesResponse:
    """Entries of one memory type, oldest first (``offset``/``limit`` page through them)."""
    kind = _entry_type(memory_type)
    entries = _snapshot(tenant, namespace).entries(kind)
    page = entries[offset : None if limit is None else offset + limit]
    return EntriesResponse(
        namespace=namespace, memory_type=kind, total=len(entries), entries=[EntryModel.of(e) for e in page]
    )


@v1_router.get(
    "/namespaces/{namespace}/entries/{memory_type}/{memory_id}",
    response_model=EntryModel,
    responses=_errors(400, 401, 404, 503),
)
def get_entry(namespace: NamespacePath, memory_type: EntryTypeName, memory_id: str, tenant: TenantDep) -> EntryModel:
    """One entry by id (404 if the namespace has no entry of that type with that id)."""
    kind = _entry_type(memory_type)
    snapshot = _snapshot(tenant, namespace)
    entry = snapshot.get(memory_id)
    if entry is None or snapshot.memory_type_of(memory_id) != kind:
        raise HTTPException(404, f"namespace {namespace!r} has no {kind} entry with id {memory_id!r}")
    return EntryModel.of(entry)


@v1_router.get("/namespaces/{namespace}/search", response_model=SearchResponse, responses=_errors(400, 401, 404, 503))
def search(
    *,
    namespace: NamespacePath,
    tenant: TenantDep,
    q: Annotated[str, Query(min_length=1, description="What to look for.")],
    memory_type: Annotated[EntryTypeName | None, Query(description="Both types when left out.")] = None,
    k: Annotated[int, Query(ge=1, le=100)] = 20,
    mode: Annotated[SearchMode, Query(description="vector and hybrid need a store with an embedder.")] = "bm25",
) -> SearchResponse:
    """The ``k`` best entries for ``q``, best first (``bm25``: exact BM25Okapi; ``fts``: LanceDB full text)."""
    kind = None if memory_type is None else _entry_type(memory_type)
    snapshot = _snapshot(tenant, namespace)
    try:
        if mode == "bm25":  # ranks the state just read, as `Memory.search` ranks the store's latest state
            hits = snapshot.search(q, memory_type=kind, k=k)
        else:
            hits = _memory(tenant, namespace).search(q, memory_type=kind, k=k, mode=mode)
    except SearchUnavailableError:
        raise HTTPException(
            400, f"mode={mode!r} needs embeddings, and this server's store has no embedder; use mode=bm25 or mode=fts"
        ) from None
    return SearchResponse(namespace=namespace, query=q, mode=mode, hits=[HitModel.of(h) for h in hits])


@v1_router.get("/namespaces/{namespace}/view", response_model=ViewResponse, responses=_errors(400, 401, 404, 503))
def view(
    namespace: NamespacePath, tenant: TenantDep, recent: Annotated[int, Query(ge=0, le=10_000)] = 5
) -> ViewResponse:
    """The writer's view (paper §2.2): core plus the ``recent`` newest semantic and episodic items, with ids."""
    return ViewResponse(namespace=namespace, recent=recent, text=_snapshot(tenant, namespace).render_view(recent))


@v1_router.get(
    "/namespaces/{namespace}/answer-context",
    response_model=AnswerContextResponse,
    responses=_errors(400, 401, 404, 503),
)
def answer_context(
    namespace: NamespacePath,
    tenant: TenantDep,
    q: Annotated[str, Query(min_length=1, description="The question.")],
    k: Annotated[int, Query(ge=1, le=1000)] = 20,
    max_tokens: Annotated[int | None, Query(ge=1, description="Shrink k until the text fits.")] = None,
) -> AnswerContextResponse:
    """What an answerer sees for ``q`` (paper §2.3, §5): core plus BM25 top-``k`` items of each type."""
    context = _snapshot(tenant, namespace).retrieve_for_answer(q, k=k, max_tokens=max_tokens)
    return AnswerContextResponse.of(namespace, q, context)


@v1_router.get(
    "/namespaces/{namespace}/operations", response_model=OperationsResponse, responses=_errors(400, 401, 404, 503)
)
def operations(namespace: NamespacePath, tenant: TenantDep) -> OperationsResponse:
    """Every write call applied to the namespace, in commit order, failed ones included."""
    _snapshot(tenant, namespace)  # 404 if it holds no data
    ops = _memory(tenant, namespace).operations()
    return OperationsResponse(namespace=namespace, operations=[OperationModel.of(op) for op in ops])


@v1_router.get("/namespaces/{namespace}/export", response_model=NamespaceExport, responses=_errors(400, 401, 404, 503))
def export_namespace(namespace: NamespacePath, tenant: TenantDep) -> NamespaceExport:
    """The namespace as an export document (``memalpha.memory/v1``), ready for ``PUT`` here or elsewhere."""
    _snapshot(tenant, namespace)  # 404 if it holds no data
    return _memory(tenant, namespace).export()


@v1_router.put(
    "/namespaces/{namespace}",
    response_model=ImportResponse,
    responses={**_errors(400, 401, 409, 503), 422: {"description": "Not a valid export document."}},
)
def import_namespace(
    namespace: NamespacePath,
    document: NamespaceExport,
    tenant: TenantDep,
    replace: Annotated[bool, Query(description="Swap the contents of a namespace that holds data.")] = False,
) -> ImportResponse:
    """Load an export document into ``namespace`` (the path wins over the document's own name) in one commit.

    409 if the namespace already holds data and ``replace`` is false.
    """
    existed = _memory(tenant, namespace).exists()
    try:
        tenant.store.import_namespace(document, namespace=namespace, replace=replace)
    except NamespaceExistsError:
        raise HTTPException(
            409, f"namespace {namespace!r} already holds data; PUT with ?replace=true to overwrite it"
        ) from None
    return ImportResponse(
        namespace=namespace,
        replaced=existed and replace,
        counts={"semantic": len(document.semantic), "episodic": len(document.episodic)},
    )
