"""`LoopbackOnly`: with no_auth, answer only requests addressed to this machine (a DNS-rebinding guard).

A server without tokens trusts whoever reaches it, so `check_settings` keeps it on a loopback interface.
A web page could still reach it through DNS rebinding (its own host name resolving to 127.0.0.1); such
requests carry that foreign name in ``Host`` (and ``Origin``), so this middleware refuses them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .settings import is_loopback_host

__all__ = ["LoopbackOnly"]


class LoopbackOnly:
    """ASGI middleware: 403 unless ``Host`` (and ``Origin``, when sent) name a loopback address."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = Headers(scope=scope)
            host, origin = headers.get("host", ""), headers.get("origin")
            problem = None
            if not _loopback(urlsplit(f"//{host}").hostname):
                problem = f"Host {host!r}"
            elif origin is not None and origin != "null" and not _loopback(urlsplit(origin).hostname):
                problem = f"Origin {origin!r}"
            if problem is not None:
                detail = (
                    f"this server runs without authentication (no_auth) and answers only requests addressed to "
                    f"127.0.0.1, localhost or [::1]; refused {problem}"
                )
                await JSONResponse({"detail": detail}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _loopback(hostname: str | None) -> bool:
    return hostname is not None and is_loopback_host(hostname)
