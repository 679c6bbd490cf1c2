"""The MCP server, driven by the SDK's own client: over stdio (a subprocess) and over HTTP (a live server)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from server_helpers import ALICE, BOB, contents

from memalpha_memory import tool_schemas
from memalpha_server import mcp_tools, open_tenant_store

INSERT = {"memory_type": "semantic_memory", "content": "Ana lives in Porto"}


@asynccontextmanager
async def _http_client(url: str, headers: dict[str, str]) -> AsyncIterator[Client]:
    """The SDK's client on streamable HTTP, sending these headers (the transport leaves closing httpx to us)."""
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http_client,
        Client(streamable_http_client(f"{url}/mcp", http_client=http_client)) as client,
    ):
        yield client


async def _call(client: Client, name: str, arguments: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    result = await client.call_tool(name, arguments)
    assert isinstance(result.structured_content, dict)
    return result.is_error, result.structured_content


def test_tools_are_the_paper_tools_with_a_namespace() -> None:
    tools = {tool.name: tool for tool in mcp_tools()}
    assert list(tools) == [
        "new_memory_insert",
        "memory_update",
        "memory_delete",
        "search_memory",
        "list_namespaces",
        "view_memory",
    ]
    for schema in tool_schemas(openai_format=False):
        properties = tools[schema["name"]].input_schema["properties"]
        assert properties["namespace"]["default"] == "default"
        assert {k: v for k, v in properties.items() if k != "namespace"} == schema["parameters"]["properties"]
    assert tools["search_memory"].annotations is not None and tools["search_memory"].annotations.read_only_hint


def test_stdio_transport(store_root: str) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "memalpha_server", "--mcp-stdio", "--store", store_root, "--tenant", "alice"],
    )

    async def session() -> None:
        async with Client(params) as client:
            assert len((await client.list_tools()).tools) == 6
            failed, inserted = await _call(client, "new_memory_insert", {**INSERT, "namespace": "notes"})
            assert not failed and inserted["status"] == "ok"
            failed, found = await _call(client, "search_memory", {"query": "Porto", "namespace": "notes"})
            assert not failed and found["hits"][0]["id"] == inserted["memory_id"]
            failed, view = await _call(client, "view_memory", {"namespace": "notes"})
            assert f"[{inserted['memory_id']}] Ana lives in Porto" in view["view"]
            failed, error = await _call(client, "memory_delete", {"memory_type": "semantic_memory", "memory_id": "0"})
            assert failed and error["status"] == "error" and error["error_kind"] == "unknown_id"
            failed, listed = await _call(client, "list_namespaces", {})
            assert "notes" in listed["namespaces"]

    anyio.run(session)
    # the same layout as the server and the CLI: tenant alice's database under the store root
    assert open_tenant_store(store_root, "alice").namespace("notes").entries("semantic")[0].content == INSERT["content"]


def test_http_transport_maps_each_token_to_its_tenant(live_url: str, http: httpx.Client) -> None:
    async def session() -> None:
        async with _http_client(live_url, ALICE) as alice:
            failed, inserted = await _call(alice, "new_memory_insert", {**INSERT, "namespace": "notes"})
            assert not failed and inserted["status"] == "ok"
            failed, bad = await _call(alice, "new_memory_insert", {**INSERT, "namespace": "no spaces"})
            assert failed and bad["error_kind"] == "invalid_value" and "invalid namespace" in bad["message"]
            failed, unknown = await _call(alice, "rm_rf", {})
            assert failed and unknown["error_kind"] == "unknown_tool"
        async with _http_client(live_url, BOB) as bob:
            failed, listed = await _call(bob, "list_namespaces", {})
            assert listed["namespaces"] == []
            failed, found = await _call(bob, "search_memory", {"query": "Porto", "namespace": "notes"})
            assert not failed and found["hits"] == []
            memory_id = inserted["memory_id"]
            failed, deleted = await _call(
                bob, "memory_delete", {"memory_type": "semantic_memory", "memory_id": memory_id, "namespace": "notes"}
            )
            assert failed and deleted["error_kind"] == "unknown_id"
            await _call(
                bob, "new_memory_insert", {"memory_type": "semantic_memory", "content": "bob's", "namespace": "notes"}
            )

    anyio.run(session)
    assert contents(http, "notes", ALICE) == ["Ana lives in Porto"]  # what MCP wrote, REST reads
    assert contents(http, "notes", BOB) == ["bob's"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}])
def test_http_transport_needs_a_token(http: httpx.Client, headers: dict[str, str]) -> None:
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    response = http.post("/mcp", json=request, headers={**headers, "Accept": "application/json, text/event-stream"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "bearer token" in response.json()["detail"]
