"""`create_app`: the FastAPI application (REST under ``/v1``, ``/health``, MCP at ``/mcp``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from ._version import __version__
from .auth import Authenticator
from .errors import install_error_handlers
from .mcp_http import MCPHTTPEndpoint, tenant_from_http_request
from .mcp_server import build_mcp_server
from .rest import health_router, v1_router
from .security import LoopbackOnly
from .settings import ServerSettings, check_settings
from .state import ServerState
from .tenants import TenantStores
from .tokens import TokenTable, load_tokens

__all__ = ["create_app"]

DESCRIPTION = """\
REST and MCP access to memalpha memory: a core paragraph plus semantic and episodic entries per namespace,
changed through the Mem-alpha tool calls.

Authenticate with `Authorization: Bearer <token>`; the token selects the tenant, and a tenant reaches only
its own namespaces. A write answers only after it is committed; a failed tool call answers 422 and changes
no memory.
"""


def create_app(settings: ServerSettings) -> FastAPI:
    """Build the app. Raises `ServerConfigError` for settings that cannot run (no tokens, no_auth off loopback)."""
    check_settings(settings)
    tokens = None if settings.no_auth else TokenTable(load_tokens(settings))
    auth = Authenticator(tokens)
    stores = TenantStores(settings.store)
    state = ServerState(settings=settings, stores=stores, auth=auth)
    mcp = MCPHTTPEndpoint(build_mcp_server(stores, tenant_from_http_request), auth) if settings.mcp else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            stack.callback(stores.close)
            if mcp is not None:
                await stack.enter_async_context(mcp.running())
            yield

    app = FastAPI(title="memalpha memory server", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.memalpha = state
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(v1_router, prefix="/v1")
    if mcp is not None:
        # an ASGI app as the endpoint: Starlette routes every method of /mcp to it unchanged
        app.router.add_route("/mcp", mcp, include_in_schema=False)  # type: ignore[arg-type]  # typed for functions only
    if settings.no_auth:
        app.add_middleware(LoopbackOnly)
    return app
