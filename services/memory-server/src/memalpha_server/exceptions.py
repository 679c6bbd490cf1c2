"""Errors raised by memalpha-server.

Request errors never raise out of the server: they become HTTP 4xx answers (REST) or error results
(MCP). Exceptions are for configuration mistakes found before the server starts::

    MemalphaServerError
    ├── ServerConfigError     (ValueError)  no tokens and no no_auth, a bad tokens file, no_auth on a public host
    └── AuthenticationError                 a request without a valid bearer token (answered with 401)
"""

from __future__ import annotations

__all__ = ["AuthenticationError", "MemalphaServerError", "ServerConfigError"]


class MemalphaServerError(Exception):
    """Base class of every error raised by memalpha-server."""


class ServerConfigError(MemalphaServerError, ValueError):
    """The server settings, the tokens file or the tokens environment variable are invalid."""


class AuthenticationError(MemalphaServerError):
    """A request without a valid bearer token; answered with 401 and the ``WWW-Authenticate`` challenge."""

    def __init__(self, message: str, challenge: str) -> None:
        super().__init__(message)
        self.message = message
        self.challenge = challenge
