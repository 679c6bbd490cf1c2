"""The committed OpenAPI document is the one the app serves."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from memalpha_server import openapi_document

COMMITTED = Path(__file__).resolve().parents[1] / "openapi.json"


def test_committed_openapi_is_current() -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == openapi_document(), (
        "services/memory-server/openapi.json is stale; regenerate it with "
        "`python -m memalpha_server --write-openapi services/memory-server/openapi.json`"
    )


def test_the_app_serves_it(client: TestClient) -> None:
    served = client.get("/openapi.json").json()
    assert served == openapi_document()
    assert "/v1/namespaces/{namespace}/tool-calls/batch" in served["paths"]
    assert served["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
