"""Errors raised by memalpha-memory.

Bad *tool calls* never raise: they come back as error results (see `ToolResult`). Exceptions are for
misuse of the Python API and for storage problems::

    MemalphaMemoryError
    ├── InvalidNamespaceError      (ValueError)  a namespace name outside [A-Za-z0-9_.:-]{1,128}
    ├── NamespaceNotFoundError     (KeyError)    dropping, forking or exporting a namespace that does not exist
    ├── NamespaceExistsError       (ValueError)  forking or importing onto a namespace that already holds data
    ├── MemoryConflictError        (RuntimeError) a buffered memory is flushed after another writer committed
    ├── InvalidExportError         (ValueError)  an export document that does not match the export schema
    ├── SearchUnavailableError     (ValueError)  a search mode that this memory cannot serve (no embedder, ...)
    └── StorageError               (OSError)     LanceDB could not be opened or written
"""

from __future__ import annotations

__all__ = [
    "InvalidExportError",
    "InvalidNamespaceError",
    "MemalphaMemoryError",
    "MemoryConflictError",
    "NamespaceExistsError",
    "NamespaceNotFoundError",
    "SearchUnavailableError",
    "StorageError",
]


class MemalphaMemoryError(Exception):
    """Base class of every error raised by memalpha-memory."""


class InvalidNamespaceError(MemalphaMemoryError, ValueError):
    """A namespace name does not match ``[A-Za-z0-9_.:-]{1,128}``."""


class NamespaceNotFoundError(MemalphaMemoryError, KeyError):
    """The namespace holds no data in this store."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NamespaceExistsError(MemalphaMemoryError, ValueError):
    """The target namespace already holds data."""


class MemoryConflictError(MemalphaMemoryError, RuntimeError):
    """Another writer committed to a namespace after this buffered memory was loaded."""


class InvalidExportError(MemalphaMemoryError, ValueError):
    """An export document does not match the export schema."""


class SearchUnavailableError(MemalphaMemoryError, ValueError):
    """The requested search mode cannot be served here."""


class StorageError(MemalphaMemoryError, OSError):
    """The LanceDB store could not be opened, read or written."""
