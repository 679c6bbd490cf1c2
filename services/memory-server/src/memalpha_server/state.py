"""What the request handlers share: the settings, the tenants' stores and the authenticator."""

from __future__ import annotations

from dataclasses import dataclass

from .auth import Authenticator
from .settings import ServerSettings
from .tenants import TenantStores

__all__ = ["ServerState"]


@dataclass(frozen=True)
class ServerState:
    """Held by the app (``app.state.memalpha``) for the handlers of REST and MCP requests."""

    settings: ServerSettings
    stores: TenantStores
    auth: Authenticator
