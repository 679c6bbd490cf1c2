"""`serve`: run the app with uvicorn until stopped (Ctrl-C or SIGTERM)."""

from __future__ import annotations

import logging

import uvicorn

from .app import create_app
from .settings import ServerSettings

__all__ = ["serve"]

logger = logging.getLogger(__name__)


def serve(settings: ServerSettings, *, log_level: str = "info", access_log: bool = True) -> None:
    """Serve the REST API (and MCP at ``/mcp``) on ``settings.host:settings.port``; blocks until stopped.

    Raises `ServerConfigError` before binding anything if the settings cannot run.
    """
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=10,
    )
    logger.info("memalpha memory server: store %s, auth %s", settings.store, "off" if settings.no_auth else "on")
    uvicorn.Server(config).run()
