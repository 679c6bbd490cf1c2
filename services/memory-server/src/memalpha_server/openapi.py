"""The committed OpenAPI document (``services/memory-server/openapi.json``) and how to regenerate it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .app import create_app
from .settings import ServerSettings

__all__ = ["openapi_document", "write_openapi"]


def openapi_document() -> dict[str, Any]:
    """The server's OpenAPI schema (it does not depend on the store, tokens or host)."""
    return create_app(ServerSettings(store="memory://openapi", no_auth=True)).openapi()


def write_openapi(path: str | Path) -> Path:
    """Write `openapi_document` as indented JSON: ``python -m memalpha_server --write-openapi openapi.json``."""
    target = Path(path)
    target.write_text(json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return target
