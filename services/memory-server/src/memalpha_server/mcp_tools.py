"""The memory tools as MCP tools: the paper's schemas (`memalpha_memory.tool_schemas`) plus a ``namespace``.

Tools: ``new_memory_insert``, ``memory_update``, ``memory_delete``, ``search_memory`` (each takes
``namespace``, default ``"default"``), ``list_namespaces`` and ``view_memory``. A call's result is the
`ToolResult` dict (``tool``, ``status``, ``message``, ``error_kind``, ...); bad calls come back as results
with ``status="error"``, never as exceptions, so a model can read the message and correct itself.
"""

from __future__ import annotations

import copy
from typing import Any

import mcp_types as types

from memalpha_memory import MemalphaMemoryError, tool_schemas

from .group_commit import GroupCommitter

__all__ = ["DEFAULT_NAMESPACE", "call_memory_tool", "error_result", "mcp_tools"]

DEFAULT_NAMESPACE = "default"

_NAMESPACE = {
    "type": "string",
    "description": "Which memory to use (1 to 128 characters from letters, digits and '_.:-').",
    "default": DEFAULT_NAMESPACE,
}
_ANNOTATIONS = {
    "new_memory_insert": types.ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True),
    "memory_update": types.ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True),
    "memory_delete": types.ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False),
    "search_memory": types.ToolAnnotations(read_only_hint=True),
}
_EXTRA_TOOLS = [
    types.Tool(
        name="list_namespaces",
        description="List the namespaces (separate memories) that hold data.",
        input_schema={"type": "object", "properties": {}},
        annotations=types.ToolAnnotations(read_only_hint=True),
    ),
    types.Tool(
        name="view_memory",
        description=(
            "Show a memory as the writer sees it: the core paragraph plus the most recent semantic and "
            "episodic items with their ids (use the ids with memory_update and memory_delete)."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "namespace": _NAMESPACE,
                "recent": {"type": "integer", "description": "How many recent items of each type (default 5)."},
            },
        },
        annotations=types.ToolAnnotations(read_only_hint=True),
    ),
]


def mcp_tools() -> list[types.Tool]:
    """The MCP tool list: the four memory tools with a ``namespace`` argument, then the two helpers."""
    tools = []
    for function in tool_schemas(openai_format=False):
        schema = copy.deepcopy(function["parameters"])
        schema["properties"] = {"namespace": _NAMESPACE, **schema["properties"]}
        tools.append(
            types.Tool(
                name=function["name"],
                description=function["description"],
                input_schema=schema,
                annotations=_ANNOTATIONS.get(function["name"]),
            )
        )
    return tools + _EXTRA_TOOLS


_TOOL_NAMES = ("new_memory_insert", "memory_update", "memory_delete", "search_memory")


def call_memory_tool(writer: GroupCommitter, name: str, arguments: dict[str, Any] | None) -> dict[str, Any]:
    """Run one MCP tool call on a tenant's store and return the result dict (errors included, never raised).

    Writes go through the tenant's ``writer`` (group commit) and return after their commit.
    """
    store = writer.store
    args = dict(arguments or {})
    namespace = args.pop("namespace", DEFAULT_NAMESPACE)
    try:
        if name == "list_namespaces":
            names = store.namespaces()
            return _result(name, "ok", f"{len(names)} namespace(s)", namespaces=names)
        memory = store.namespace(namespace)
        if name == "view_memory":
            recent = args.get("recent", 5)
            if isinstance(recent, bool) or not isinstance(recent, int) or recent < 0:
                return error_result(name, "invalid_value", f"'recent' must be a non-negative integer, got {recent!r}")
            return _result(
                name, "ok", f"the view of {namespace!r}", namespace=namespace, view=memory.render_view(recent)
            )
        if name == "search_memory":
            result = memory.apply_tool_call(name, args).to_dict()
            if result["status"] == "ok":
                result.setdefault("hits", [])  # to_dict leaves out an empty hit list
            return result
        if name in _TOOL_NAMES:
            return writer.apply(memory.namespace, [(name, args)])[0].to_dict()
    except MemalphaMemoryError as exc:  # an invalid namespace name, or the store failed
        kind = "invalid_value" if isinstance(exc, ValueError) else None
        return error_result(name, kind, str(exc))
    available = ", ".join([*_TOOL_NAMES, "list_namespaces", "view_memory"])
    return error_result(name, "unknown_tool", f"unknown tool {name!r}; available tools: {available}")


def _result(tool: str, status: str, message: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "tool": tool,
        "status": status,
        "message": message,
        "error_kind": None,
        "memory_type": None,
        "memory_id": None,
        "truncated": False,
    }
    return {**base, **extra}


def error_result(tool: str, kind: str | None, message: str) -> dict[str, Any]:
    """A failed call's result dict (``status="error"``)."""
    return {**_result(tool, "error", message), "error_kind": kind}
