"""MCP over streamable HTTP at ``/mcp``: bearer token → tenant, then the SDK's session manager.

The endpoint runs the SDK's `StreamableHTTPSessionManager` stateless with JSON responses: every POST is
answered on its own, so replicas behind a load balancer need no sticky sessions. The tenant is taken from
each request's own token (it is put into the ASGI scope and read back by the tool handler), so one
tenant can never act on another's memory, whatever session id a client sends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server import Server, ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from .auth import Authenticator
from .exceptions import AuthenticationError

__all__ = ["TENANT_SCOPE_KEY", "MCPHTTPEndpoint", "tenant_from_http_request"]

TENANT_SCOPE_KEY = "memalpha.tenant"


class MCPHTTPEndpoint:
    """The ASGI app mounted at ``/mcp``. Enter `running` (the app's lifespan does) before serving requests."""

    def __init__(self, server: Server[Any], auth: Authenticator) -> None:
        self.server = server
        self.auth = auth
        self._manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run a fresh session manager (a manager runs once, so each app start gets its own)."""
        manager = StreamableHTTPSessionManager(app=self.server, stateless=True, json_response=True)
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            tenant = self.auth.tenant(Headers(scope=scope).get("authorization"))
        except AuthenticationError as exc:
            response = JSONResponse({"detail": exc.message}, 401, headers={"WWW-Authenticate": exc.challenge})
            await response(scope, receive, send)
            return
        manager = self._manager
        if manager is None:
            response = JSONResponse({"detail": "the MCP endpoint is not running: start the app's lifespan"}, 503)
            await response(scope, receive, send)
            return
        await manager.handle_request({**scope, TENANT_SCOPE_KEY: tenant}, receive, send)


def tenant_from_http_request(ctx: ServerRequestContext[Any, Any]) -> str:
    """The tenant `MCPHTTPEndpoint` authenticated for the HTTP request that carries this MCP message."""
    request = ctx.request
    tenant = request.scope.get(TENANT_SCOPE_KEY) if isinstance(request, Request) else None
    if not isinstance(tenant, str):
        raise MCPError(code=INTERNAL_ERROR, message="no authenticated tenant on this request")
    return tenant
