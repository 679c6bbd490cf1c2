"""memalpha-server: REST (FastAPI) and MCP access to memalpha memory, with bearer-token tenants.

Quick start::

    from memalpha_server import ServerSettings, serve
    serve(ServerSettings(store="./memalpha-store", tokens_file="tokens.yaml"))   # or no_auth=True on 127.0.0.1

Each tenant has its own LanceDB database at ``tenant_store_uri(store, tenant)``; ``run_mcp_stdio`` serves
one tenant's memory to an MCP client over stdio.
"""

from ._version import __version__
from .app import create_app
from .exceptions import AuthenticationError, MemalphaServerError, ServerConfigError
from .mcp_server import build_mcp_server
from .mcp_stdio import run_mcp_stdio
from .mcp_tools import mcp_tools
from .openapi import openapi_document, write_openapi
from .serve import serve
from .settings import ServerSettings, is_loopback_host
from .tenants import TenantStores, open_tenant_store, tenant_store_uri, validate_tenant
from .tokens import load_tokens

__all__ = [
    "AuthenticationError",
    "MemalphaServerError",
    "ServerConfigError",
    "ServerSettings",
    "TenantStores",
    "__version__",
    "build_mcp_server",
    "create_app",
    "is_loopback_host",
    "load_tokens",
    "mcp_tools",
    "open_tenant_store",
    "openapi_document",
    "run_mcp_stdio",
    "serve",
    "tenant_store_uri",
    "validate_tenant",
    "write_openapi",
]
