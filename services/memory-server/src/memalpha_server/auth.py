"""Request authentication: the ``Authorization: Bearer <token>`` header → the tenant it belongs to."""

from __future__ import annotations

from .exceptions import AuthenticationError
from .tokens import TokenTable

__all__ = ["LOCAL_TENANT", "Authenticator"]

LOCAL_TENANT = "local"


class Authenticator:
    """Maps a request's ``Authorization`` header to a tenant; with no token table every request is ``"local"``."""

    def __init__(self, tokens: TokenTable | None) -> None:
        self.tokens = tokens

    @property
    def enabled(self) -> bool:
        return self.tokens is not None

    def tenant(self, authorization: str | None) -> str:
        """The tenant of a request with this ``Authorization`` header, or raise `AuthenticationError`."""
        if self.tokens is None:
            return LOCAL_TENANT
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError(
                "missing bearer token: send the header 'Authorization: Bearer <token>' with a token from the "
                "server's tokens file or MEMALPHA_SERVER_TOKENS",
                'Bearer realm="memalpha"',
            )
        tenant = self.tokens.tenant_of(token.strip())
        if tenant is None:
            raise AuthenticationError(
                "unknown bearer token: the server has no tenant for this token",
                'Bearer realm="memalpha", error="invalid_token"',
            )
        return tenant
