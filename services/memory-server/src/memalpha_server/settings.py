"""`ServerSettings`: the one configuration object of the server, and the checks run before it starts."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from .exceptions import ServerConfigError

__all__ = ["ServerSettings", "check_settings", "is_loopback_host"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


class ServerSettings(BaseModel):
    """How to run the memory server.

    Attributes:
        store: root LanceDB URI (a local folder, ``memory://...``, ``s3://...``); tenant ``t`` lives at
            ``{store}/tenants/t``.
        tokens_file: YAML or JSON mapping ``{token: tenant}``; without it the tokens come from the
            environment variable ``MEMALPHA_SERVER_TOKENS="tok1=tenantA,tok2=tenantB"``.
        no_auth: no tokens; every request is tenant ``"local"``. Only allowed on a loopback host.
        host: interface to listen on.
        port: TCP port (0 picks a free one).
        mcp: mount the MCP streamable-HTTP endpoint at ``/mcp``.
    """

    model_config = ConfigDict(extra="forbid")

    store: str = "./memalpha-store"
    tokens_file: Path | None = None
    no_auth: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    mcp: bool = True


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine only (``127.0.0.0/8``, ``::1``, ``localhost``)."""
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_settings(settings: ServerSettings) -> None:
    """Refuse combinations that would expose memory without authentication, or that contradict each other."""
    if settings.no_auth and not is_loopback_host(settings.host):
        raise ServerConfigError(
            f"no_auth is only allowed on a loopback host (127.0.0.1, ::1, localhost), not host={settings.host!r}: "
            "anyone who can reach the port would read and write every memory. Give the server tokens "
            "(a tokens file or MEMALPHA_SERVER_TOKENS) to listen on other interfaces"
        )
    if settings.no_auth and settings.tokens_file is not None:
        raise ServerConfigError(
            f"no_auth and tokens_file={str(settings.tokens_file)!r} exclude each other: "
            "drop no_auth to require the tokens, or drop the tokens file"
        )
    if not settings.store.strip():
        raise ServerConfigError("store is empty: give a folder or a LanceDB URI such as s3://bucket/memalpha")
