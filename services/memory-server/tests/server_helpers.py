"""Helpers shared by the server tests: the two tenants' tokens, inserting and reading over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient

TOKENS = {"tok-alice-7f3a9c": "alice", "tok-bob-52e1d8": "bob"}
ALICE = {"Authorization": "Bearer tok-alice-7f3a9c"}
BOB = {"Authorization": "Bearer tok-bob-52e1d8"}

Client = httpx.Client | TestClient  # a live server's client, or the in-process TestClient (httpx2)


def insert(
    client: Client, namespace: str, content: str, headers: dict[str, str], kind: str = "semantic_memory"
) -> dict[str, Any]:
    """Insert one entry (asserting it was acknowledged) and return the tool result."""
    body = {"name": "new_memory_insert", "arguments": {"memory_type": kind, "content": content}}
    response = client.post(f"/v1/namespaces/{namespace}/tool-calls", json=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert result["status"] == "ok"
    return result


def contents(client: Client, namespace: str, headers: dict[str, str]) -> list[str]:
    """Every entry's content in a namespace (semantic then episodic)."""
    response = client.get(f"/v1/namespaces/{namespace}", headers=headers)
    assert response.status_code == 200, response.text
    detail = response.json()
    return [e["content"] for kind in ("semantic", "episodic") for e in detail[kind]]
