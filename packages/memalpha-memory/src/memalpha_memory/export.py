"""The JSON export format of one namespace (``memalpha.memory/v1``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EXPORT_FORMAT", "ExportedEntry", "NamespaceExport"]

EXPORT_FORMAT: Literal["memalpha.memory/v1"] = "memalpha.memory/v1"


class ExportedEntry(BaseModel):
    """One semantic or episodic entry, in memory order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    content: str
    created_at: datetime
    updated_at: datetime


class NamespaceExport(BaseModel):
    """A whole namespace: core paragraph and both entry lists."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["memalpha.memory/v1"] = EXPORT_FORMAT
    namespace: str
    exported_at: datetime
    core: str = ""
    semantic: list[ExportedEntry] = Field(default_factory=list)
    episodic: list[ExportedEntry] = Field(default_factory=list)
