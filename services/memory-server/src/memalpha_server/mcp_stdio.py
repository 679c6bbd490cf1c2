"""MCP over stdio for one tenant's store: what an MCP client launches as a subprocess.

``python -m memalpha_server --mcp-stdio --store ./memalpha-store [--tenant local]`` (the CLI's
``memalpha memory mcp --store ...`` does the same). Logs go to stderr; stdout carries only MCP messages.
"""

from __future__ import annotations

import anyio
from mcp.server.stdio import stdio_server

from .auth import LOCAL_TENANT
from .mcp_server import build_mcp_server
from .tenants import TenantStores, validate_tenant

__all__ = ["run_mcp_stdio"]


def run_mcp_stdio(store: str, *, tenant: str = LOCAL_TENANT) -> None:
    """Serve the memory tools over stdin/stdout on ``tenant``'s store under the root ``store``; blocks until EOF."""
    validate_tenant(tenant)
    stores = TenantStores(store)
    stores.get(tenant)  # fail now, with a clear StorageError, if the store cannot be opened
    server = build_mcp_server(stores, lambda ctx: tenant)

    async def serve_stdio() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    try:
        anyio.run(serve_stdio)
    finally:
        stores.close()
