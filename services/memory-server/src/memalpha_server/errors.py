"""How exceptions become HTTP answers: every user mistake or storage problem gets a status and a reason.

| exception                                | status                                  |
|------------------------------------------|-----------------------------------------|
| AuthenticationError (memalpha_server)    | 401 with ``WWW-Authenticate: Bearer``   |
| InvalidNamespaceError (memalpha_memory)  | 400                                     |
| SearchUnavailableError                   | 400                                     |
| NamespaceNotFoundError                   | 404                                     |
| NamespaceExistsError                     | 409                                     |
| MemoryConflictError                      | 409                                     |
| InvalidExportError                       | 422                                     |
| StorageError                             | 503                                     |
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from memalpha_memory import (
    InvalidExportError,
    InvalidNamespaceError,
    MemalphaMemoryError,
    MemoryConflictError,
    NamespaceExistsError,
    NamespaceNotFoundError,
    SearchUnavailableError,
    StorageError,
)

from .exceptions import AuthenticationError

__all__ = ["install_error_handlers", "status_of"]

logger = logging.getLogger(__name__)

_STATUS: tuple[tuple[type[MemalphaMemoryError], int], ...] = (
    (InvalidNamespaceError, 400),
    (SearchUnavailableError, 400),
    (NamespaceNotFoundError, 404),
    (NamespaceExistsError, 409),
    (MemoryConflictError, 409),
    (InvalidExportError, 422),
    (StorageError, 503),
)


def status_of(error: MemalphaMemoryError) -> int:
    """The HTTP status that answers a memalpha-memory error (500 for one this table does not know)."""
    return next((status for kind, status in _STATUS if isinstance(error, kind)), 500)


def install_error_handlers(app: FastAPI) -> None:
    """Answer memalpha-memory errors and `AuthenticationError` with ``{"detail": reason}``."""

    async def memory_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MemalphaMemoryError)
        status = status_of(exc)
        if status >= 500:
            logger.warning("%s %s failed: %s", request.method, request.url.path, exc)
        detail = f"storage unavailable: {exc}" if isinstance(exc, StorageError) else str(exc)
        return JSONResponse({"detail": detail}, status_code=status)

    async def unauthorized(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AuthenticationError)
        return JSONResponse({"detail": exc.message}, status_code=401, headers={"WWW-Authenticate": exc.challenge})

    app.add_exception_handler(MemalphaMemoryError, memory_error)
    app.add_exception_handler(AuthenticationError, unauthorized)
