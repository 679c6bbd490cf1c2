"""The memory tools: the paper's function schemas and the parsing of call arguments.

Three write tools follow the paper (§3): ``new_memory_insert``, ``memory_update`` and ``memory_delete``,
whose ``memory_type`` enums carry a ``_memory`` suffix (both ``semantic`` and ``semantic_memory`` are
accepted). ``search_memory`` is the read tool. Arguments may be a dict or a JSON string; a string that is
not valid JSON is repaired with json-repair before it is given up on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import json_repair

from .exceptions import SearchUnavailableError
from .types import EntryType, ErrorKind, MemoryType, SearchHit, SearchMode, ToolResult, normalize_memory_type

__all__ = ["READ_TOOLS", "WRITE_TOOLS", "tool_schemas"]

WRITE_TOOLS = ("new_memory_insert", "memory_update", "memory_delete")
READ_TOOLS = ("search_memory",)

_SEARCH_METHODS: dict[str, SearchMode] = {
    "bm25": "bm25",
    "fts": "fts",
    "vector": "vector",
    "text-embedding": "vector",
    "embedding": "vector",
    "hybrid": "hybrid",
}
MAX_SEARCH_K = 100


def tool_schemas(*, include_search: bool = True, openai_format: bool = True) -> list[dict[str, Any]]:
    """The tools as OpenAI function-tool dicts (``{"type": "function", "function": {...}}``).

    ``openai_format=False`` returns the bare function dicts (the form Qwen-Agent takes);
    ``include_search=False`` leaves out the read tool, as in the paper's training setup.
    """
    functions = [_INSERT, _UPDATE, _DELETE] + ([_SEARCH] if include_search else [])
    if not openai_format:
        return [json.loads(json.dumps(f)) for f in functions]
    return [{"type": "function", "function": json.loads(json.dumps(f))} for f in functions]


_INSERT: dict[str, Any] = {
    "name": "new_memory_insert",
    "description": (
        "Add a new item to semantic or episodic memory; it gets a short unique id. "
        "Core memory cannot be inserted into: rewrite it with memory_update."
    ),
    "parameters": {
        "type": "object",
        "properties": {
            "memory_type": {
                "type": "string",
                "enum": ["semantic_memory", "episodic_memory"],
                "description": "semantic_memory for facts and knowledge, episodic_memory for timestamped events.",
            },
            "content": {"type": "string", "description": "The text of the new memory item."},
        },
        "required": ["memory_type", "content"],
    },
}
_UPDATE: dict[str, Any] = {
    "name": "memory_update",
    "description": (
        "Rewrite a memory. For core memory the new content replaces the whole paragraph (write it directly "
        "if the core is empty); for semantic or episodic memory it replaces the item with the given id."
    ),
    "parameters": {
        "type": "object",
        "properties": {
            "memory_type": {
                "type": "string",
                "enum": ["core_memory", "semantic_memory", "episodic_memory"],
                "description": "Which memory to rewrite.",
            },
            "new_content": {
                "type": "string",
                "description": "The complete new content: the whole paragraph for core, the whole item otherwise.",
            },
            "memory_id": {
                "type": "string",
                "description": "Id of the item to rewrite; required for semantic and episodic, ignored for core.",
            },
        },
        "required": ["memory_type", "new_content"],
    },
}
_DELETE: dict[str, Any] = {
    "name": "memory_delete",
    "description": (
        "Delete a memory. For core memory this clears the paragraph; for semantic or episodic memory it "
        "removes the item with the given id."
    ),
    "parameters": {
        "type": "object",
        "properties": {
            "memory_type": {
                "type": "string",
                "enum": ["core_memory", "semantic_memory", "episodic_memory"],
                "description": "Which memory to delete from.",
            },
            "memory_id": {
                "type": "string",
                "description": "Id of the item to delete; required for semantic and episodic memory, ignored for core.",
            },
        },
        "required": ["memory_type"],
    },
}
_SEARCH: dict[str, Any] = {
    "name": "search_memory",
    "description": "Search semantic or episodic memory and return the best matching items with their ids.",
    "parameters": {
        "type": "object",
        "properties": {
            "memory_type": {
                "type": "string",
                "enum": ["semantic_memory", "episodic_memory"],
                "description": "Which memory to search; both when left out.",
            },
            "query": {"type": "string", "description": "What to look for."},
            "search_method": {
                "type": "string",
                "enum": ["bm25", "text-embedding"],
                "description": "bm25 (default) for keyword match, text-embedding for meaning.",
            },
            "k": {"type": "integer", "description": "How many items to return (default 20)."},
        },
        "required": ["query"],
    },
}


class CallError(Exception):
    """A tool call that cannot be applied; becomes an error `ToolResult`. Internal."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message


def parse_arguments(arguments: object) -> tuple[dict[str, Any], bool]:
    """Turn a call's arguments into a dict; return it and whether json-repair had to fix the text."""
    if isinstance(arguments, dict):
        return arguments, False
    if arguments is None:
        return {}, False
    if isinstance(arguments, bytes | bytearray):
        arguments = arguments.decode("utf-8", errors="replace")
    if not isinstance(arguments, str):
        raise CallError("invalid_json", f"arguments must be a JSON object or a dict, got {type(arguments).__name__}")
    if not arguments.strip():
        return {}, False
    repaired = False
    try:
        value = json.loads(arguments)
    except (ValueError, RecursionError):
        try:
            value = json_repair.loads(arguments)
        except Exception as exc:  # json-repair's own failures are the caller's bad JSON
            raise CallError("invalid_json", f"arguments are not valid JSON and could not be repaired ({exc})") from None
        repaired = True
    if not isinstance(value, dict):
        shown = arguments if len(arguments) <= 80 else arguments[:77] + "..."
        raise CallError("invalid_json", f'arguments must be a JSON object like {{"memory_type": ...}}, got {shown!r}')
    return value, repaired


def require_memory_type(args: dict[str, Any], allowed: tuple[MemoryType, ...]) -> MemoryType:
    """The call's ``memory_type``, normalised, or a `CallError` that lists the allowed values."""
    if "memory_type" not in args or args["memory_type"] is None:
        raise CallError("missing_argument", f"missing 'memory_type'; use one of {_enum(allowed)}")
    memory_type = normalize_memory_type(args["memory_type"])
    if memory_type is None or memory_type not in allowed:
        hint = ""
        if memory_type == "core":
            hint = "; core memory cannot be inserted into, rewrite it with memory_update(memory_type='core_memory')"
        raise CallError(
            "invalid_value",
            f"memory_type {args['memory_type']!r} is not allowed here{hint}; use one of {_enum(allowed)}",
        )
    return memory_type


def require_text(args: dict[str, Any], name: str, *, allow_empty: bool = False) -> str:
    """A string argument, or a `CallError` naming it."""
    if name not in args or args[name] is None:
        alias = {"content": "new_content", "new_content": "content"}.get(name)
        hint = f" (this tool takes '{name}', not '{alias}')" if alias and alias in args else ""
        raise CallError("missing_argument", f"missing '{name}'{hint}")
    value = args[name]
    if not isinstance(value, str):
        raise CallError("invalid_value", f"'{name}' must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise CallError("invalid_value", f"'{name}' is empty; give the text to store")
    return value


def require_memory_id(args: dict[str, Any]) -> str:
    """The ``memory_id`` argument as a string (``"[ab12]"`` and ``ab12`` both give ``"ab12"``)."""
    value = args.get("memory_id")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise CallError(
            "missing_argument", "missing 'memory_id'; semantic and episodic items are addressed by id, e.g. 'ab12'"
        )
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise CallError("invalid_value", f"'memory_id' must be a string, got {type(value).__name__}")
    return str(value).strip().strip("[]").strip()


def parse_search(args: dict[str, Any]) -> tuple[EntryType | None, str, int, SearchMode]:
    """The arguments of ``search_memory``: memory type (None = both), query, k and mode."""
    query = require_text(args, "query")
    memory_type: EntryType | None = None
    if args.get("memory_type") is not None:
        memory_type = require_memory_type(args, ("semantic", "episodic"))  # type: ignore[assignment]
    k = args.get("k", args.get("top_k", 20))
    if isinstance(k, bool) or not isinstance(k, int | float) or int(k) < 1:
        raise CallError("invalid_value", f"'k' must be a positive integer, got {k!r}")
    method = args.get("search_method", "bm25")
    mode = _SEARCH_METHODS.get(method.strip().lower()) if isinstance(method, str) else None
    if mode is None:
        raise CallError("invalid_value", f"search_method {method!r} is not supported; use 'bm25' or 'text-embedding'")
    return memory_type, query, min(int(k), MAX_SEARCH_K), mode


def apply_search(arguments: object, search: Callable[..., list[SearchHit]]) -> ToolResult:
    """Run ``search_memory`` with a memory's ``search`` method; bad calls become error results."""
    try:
        args, _ = parse_arguments(arguments)
        memory_type, query, k, mode = parse_search(args)
        hits = search(query, memory_type=memory_type, k=k, mode=mode)
    except CallError as error:
        return ToolResult(tool="search_memory", status="error", error_kind=error.kind, message=error.message)
    except SearchUnavailableError as error:
        return ToolResult(tool="search_memory", status="error", error_kind="invalid_value", message=str(error))
    return ToolResult(
        tool="search_memory",
        status="ok",
        memory_type=memory_type,
        hits=tuple(hits),
        message=f"found {len(hits)} item(s)",
    )


def _enum(allowed: tuple[MemoryType, ...]) -> str:
    return ", ".join(f"'{m}_memory'" for m in allowed)
