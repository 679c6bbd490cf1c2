"""Tenant isolation on a real server: a tenant reaches only its own namespaces, both ways round."""

from __future__ import annotations

import httpx
import pytest
from server_helpers import ALICE, BOB, contents, insert

from memalpha_server import open_tenant_store

NS = "/v1/namespaces"
PAIRS = [
    pytest.param(ALICE, BOB, "alice", "bob", id="bob-vs-alice"),
    pytest.param(BOB, ALICE, "bob", "alice", id="alice-vs-bob"),
]


def test_the_same_namespace_name_is_separate_per_tenant(http: httpx.Client, store_root: str) -> None:
    insert(http, "shared", "alice's secret", ALICE)
    insert(http, "shared", "bob's secret", BOB)
    assert contents(http, "shared", ALICE) == ["alice's secret"]
    assert contents(http, "shared", BOB) == ["bob's secret"]
    assert open_tenant_store(store_root, "alice").namespace("shared").entries("semantic")[0].content == "alice's secret"
    assert open_tenant_store(store_root, "bob").namespace("shared").entries("semantic")[0].content == "bob's secret"


@pytest.mark.parametrize(("owner", "intruder", "owner_name", "intruder_name"), PAIRS)
def test_a_tenant_cannot_reach_anothers_namespace(
    http: httpx.Client, owner: dict[str, str], intruder: dict[str, str], owner_name: str, intruder_name: str
) -> None:
    memory_id = insert(http, "private", f"{owner_name} only", owner)["memory_id"]
    before = http.get(f"{NS}/private/export", headers=owner).json()

    listed = http.get(NS, headers=intruder).json()
    assert listed == {"tenant": intruder_name, "namespaces": []}
    for path in [
        "",
        "/export",
        "/view",
        "/operations",
        "/entries/semantic",
        f"/entries/semantic/{memory_id}",
        "/search?q=only",
        "/answer-context?q=only",
    ]:
        assert http.get(f"{NS}/private{path}", headers=intruder).status_code == 404, path
    assert http.delete(f"{NS}/private", headers=intruder).status_code == 404

    found = http.post(
        f"{NS}/private/tool-calls", json={"name": "search_memory", "arguments": {"query": "only"}}, headers=intruder
    ).json()
    assert found["hits"] == []
    deleted = http.post(
        f"{NS}/private/tool-calls",
        json={"name": "memory_delete", "arguments": {"memory_type": "semantic_memory", "memory_id": memory_id}},
        headers=intruder,
    )
    assert deleted.status_code == 422 and deleted.json()["result"]["error_kind"] == "unknown_id"

    # the intruder's writes and imports land in the intruder's own namespace of that name
    insert(http, "private", f"{intruder_name} was here", intruder)
    assert http.put(f"{NS}/private", params={"replace": "true"}, json=before, headers=intruder).status_code == 200
    batch = {"calls": [{"name": "memory_update", "arguments": {"memory_type": "core", "new_content": "taken over"}}]}
    assert http.post(f"{NS}/private/tool-calls/batch", json=batch, headers=intruder).status_code == 200

    after = http.get(f"{NS}/private/export", headers=owner).json()
    assert {k: v for k, v in after.items() if k != "exported_at"} == {
        k: v for k, v in before.items() if k != "exported_at"
    }
    assert http.get(NS, headers=owner).json() == {"tenant": owner_name, "namespaces": ["private"]}
    assert http.get(f"{NS}/private", headers=intruder).json()["core"] == "taken over"
