"""The installed `memalpha` script end to end: a server it starts, and MCP over stdio, then read back locally.

These start real processes on 127.0.0.1 (no internet) and stop them; they check that `memory serve` and
`memory mcp` write where the local commands read (the same tenant layout) and that stdio carries only MCP.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest
from click.testing import Result
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

Invoke = Callable[..., Result]
SCRIPT = Path(sys.executable).with_name("memalpha")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def server(store_root: str) -> Iterator[str]:
    """`memalpha memory serve --no-auth` on a free port of 127.0.0.1; yields its base URL, stops it after."""
    port = free_port()
    process = subprocess.Popen(
        [str(SCRIPT), "memory", "serve", "--no-auth", "--store", store_root, "--port", str(port), "--no-mcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # a readiness wait, not a timing assertion
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health") as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    _, err = process.communicate(timeout=10)
                    pytest.fail(f"the server did not start (exit {process.returncode}): {err}")
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def test_what_a_no_auth_server_writes_the_local_commands_read(invoke: Invoke, server: str, store_root: str) -> None:
    arguments = {"memory_type": "semantic_memory", "content": "Ana lives in Porto"}
    call = {"name": "new_memory_insert", "arguments": arguments}
    request = urllib.request.Request(
        f"{server}/v1/namespaces/user-42/tool-calls",
        data=json.dumps(call).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        written = json.load(response)
    assert written["status"] == "ok"
    result = invoke("memory", "inspect", "user-42", "--store", store_root, "--json")
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)["semantic"]
    assert (entry["id"], entry["content"]) == (written["memory_id"], "Ana lives in Porto")


def test_mcp_over_stdio_writes_the_tenant_store(invoke: Invoke, store_root: str) -> None:
    params = StdioServerParameters(
        command=str(SCRIPT), args=["memory", "mcp", "--store", store_root, "--tenant", "alice"]
    )

    async def session() -> tuple[list[str], bool]:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            tools = [tool.name for tool in (await client.list_tools()).tools]
            result = await client.call_tool(
                "new_memory_insert",
                {"namespace": "notes", "memory_type": "episodic_memory", "content": "2024-05-01: met Bo"},
            )
            return tools, bool(result.is_error)

    tools, failed = anyio.run(session)
    assert {"new_memory_insert", "memory_update", "memory_delete", "search_memory"} <= set(tools)
    assert not failed
    result = invoke("memory", "search", "notes", "Bo", "--store", store_root, "--tenant", "alice", "--json")
    assert result.exit_code == 0, result.output
    assert [hit["content"] for hit in json.loads(result.stdout)["hits"]] == ["2024-05-01: met Bo"]
