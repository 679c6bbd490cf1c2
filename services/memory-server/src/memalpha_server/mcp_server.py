"""The MCP server (the SDK's low-level `Server`): lists the memory tools and runs calls for the caller's tenant.

The same server object serves stdio (one fixed tenant) and streamable HTTP (the tenant of the request's
bearer token, set by `memalpha_server.mcp_http.MCPHTTPEndpoint`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server, ServerRequestContext

from memalpha_memory import MemalphaMemoryError

from ._version import __version__
from .mcp_tools import call_memory_tool, error_result, mcp_tools
from .tenants import TenantStores

__all__ = ["TenantResolver", "build_mcp_server"]

logger = logging.getLogger(__name__)

TenantResolver = Callable[[ServerRequestContext[Any, Any]], str]
"""Returns the tenant a tool call runs for (raises if the request carries none)."""

INSTRUCTIONS = (
    "memalpha memory: a core paragraph plus semantic facts and episodic events, kept per namespace. "
    "Insert new facts with new_memory_insert, rewrite with memory_update (the core paragraph, or an item by id), "
    "remove with memory_delete, find items with search_memory; view_memory shows the core and recent items "
    "with their ids. Every tool takes a namespace (default 'default')."
)


def build_mcp_server(stores: TenantStores, tenant_of: TenantResolver) -> Server[Any]:
    """An MCP server whose tool calls run on ``stores.get(tenant_of(ctx))``."""

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=mcp_tools())

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tenant = tenant_of(ctx)
        result = await anyio.to_thread.run_sync(_call, stores, tenant, params.name, params.arguments)
        return types.CallToolResult(
            content=[types.TextContent(text=json.dumps(result, ensure_ascii=False))],
            structured_content=result,
            is_error=result["status"] == "error",
        )

    return Server(
        "memalpha-memory",
        version=__version__,
        title="memalpha memory",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _call(stores: TenantStores, tenant: str, name: str, arguments: dict[str, Any] | None) -> dict[str, Any]:
    try:
        writer = stores.writer(tenant)
    except MemalphaMemoryError as exc:
        logger.warning("cannot open the store of tenant %r: %s", tenant, exc)
        return error_result(name, None, f"storage unavailable: {exc}")
    return call_memory_tool(writer, name, arguments)
