"""no_auth: one tenant ("local"), the CLI's layout, and only requests addressed to this machine."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from memalpha_server import ServerSettings, create_app, open_tenant_store


@pytest.fixture
def local(store_root: str) -> TestClient:
    return TestClient(create_app(ServerSettings(store=store_root, no_auth=True)), base_url="http://127.0.0.1:8765")


def test_every_request_is_tenant_local(local: TestClient, store_root: str) -> None:
    body = {"name": "new_memory_insert", "arguments": {"memory_type": "semantic", "content": "Ana"}}
    assert local.post("/v1/namespaces/notes/tool-calls", json=body).status_code == 200
    assert local.get("/v1/namespaces").json() == {"tenant": "local", "namespaces": ["notes"]}
    assert open_tenant_store(store_root, "local").namespace("notes").entries("semantic")[0].content == "Ana"


@pytest.mark.parametrize("host", ["localhost:8765", "[::1]:8765", "127.0.0.1"])
def test_loopback_host_names_are_served(local: TestClient, host: str) -> None:
    assert local.get("/v1/namespaces", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({"Host": "evil.example:8765"}, "Host 'evil.example:8765'"),
        ({"Origin": "http://evil.example"}, "Origin 'http://evil.example'"),
    ],
)
def test_foreign_host_or_origin_is_refused(local: TestClient, headers: dict[str, str], refused: str) -> None:
    response = local.get("/v1/namespaces", headers=headers)
    assert response.status_code == 403
    assert response.json()["detail"].endswith(f"refused {refused}")
