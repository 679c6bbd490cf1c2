"""Reliability: malformed requests change nothing, concurrent writers lose nothing, a killed server loses
no acknowledged write."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from server_helpers import ALICE, TOKENS, contents, insert

from memalpha_server import ServerSettings, open_tenant_store
from memalpha_server.testing import serve_in_subprocess

NS = "/v1/namespaces"


def _state(client: Any, namespace: str) -> dict[str, Any]:
    export = client.get(f"{NS}/{namespace}/export", headers=ALICE).json()
    return {key: value for key, value in export.items() if key != "exported_at"}


def test_malformed_requests_change_nothing(client: TestClient) -> None:
    keep = insert(client, "notes", "Ana lives in Porto", ALICE)["memory_id"]
    insert(client, "notes", "On May 3 Ana went to Lisbon", ALICE, "episodic_memory")
    before = _state(client, "notes")
    document = client.get(f"{NS}/notes/export", headers=ALICE).json()
    url = f"{NS}/notes/tool-calls"
    update = {"memory_type": "semantic", "memory_id": keep}  # no new_content
    delete = {"memory_type": "episodic", "memory_id": keep}  # wrong type for that id
    answers = [
        client.post(url, content=b'{"name": "new_memory_insert", "arguments": ', headers=ALICE),  # cut JSON
        client.post(url, content=b"not json at all", headers={**ALICE, "content-type": "application/json"}),
        client.post(url, json={"name": "new_memory_insert", "arguments": 7}, headers=ALICE),
        client.post(url, json={"name": "new_memory_insert", "extra": 1}, headers=ALICE),
        client.post(url, json=["new_memory_insert"], headers=ALICE),
        client.post(url, json={"name": "memory_update", "arguments": update}, headers=ALICE),
        client.post(url, json={"name": "memory_delete", "arguments": delete}, headers=ALICE),
        client.post(url, json={"name": "drop_table", "arguments": {}}, headers=ALICE),
        client.post(f"{NS}/notes/tool-calls/batch", json={"calls": [{"name": "memory_delete"}, 5]}, headers=ALICE),
        client.post(f"{NS}/notes/tool-calls/batch", json={"calls": "all"}, headers=ALICE),
        client.put(f"{NS}/notes", params={"replace": "true"}, json={**document, "core": 3}, headers=ALICE),
        client.put(f"{NS}/notes", params={"replace": "true"}, content=b"{", headers=ALICE),
        client.put(f"{NS}/notes", params={"replace": "maybe"}, json=document, headers=ALICE),
        client.put(f"{NS}/notes", json={**document, "core": "Replaced"}, headers=ALICE),  # exists, no replace
        client.post(url, json={"name": "memory_update", "arguments": {"memory_type": "core", "new_content": "x"}}),
        client.delete(f"{NS}/notes", headers={"Authorization": "Bearer wrong"}),
    ]
    assert [a.status_code for a in answers] == [422] * 13 + [409, 401, 401]
    assert all(a.json()["detail"] for a in answers)
    assert _state(client, "notes") == before


def test_concurrent_writes_to_one_namespace_lose_nothing(http: httpx.Client) -> None:
    threads, per_thread = 32, 4

    def write(t: int) -> list[str]:
        with httpx.Client(base_url=str(http.base_url), timeout=120) as own:
            return [insert(own, "busy", f"thread {t} write {i}", ALICE)["memory_id"] for i in range(per_thread)]

    with ThreadPoolExecutor(threads) as pool:
        ids = [i for batch in pool.map(write, range(threads)) for i in batch]
    stored = contents(http, "busy", ALICE)
    assert sorted(stored) == sorted(f"thread {t} write {i}" for t in range(threads) for i in range(per_thread))
    assert len(set(ids)) == threads * per_thread
    operations = http.get(f"{NS}/busy/operations", headers=ALICE).json()["operations"]
    assert len(operations) == threads * per_thread


def test_a_killed_server_loses_no_acknowledged_write(tmp_path: Path, store_root: str) -> None:
    """Acknowledged writes (sequential, then concurrent) survive a SIGKILL in the middle of a write burst."""
    env = {"MEMALPHA_SERVER_TOKENS": ",".join(f"{token}={tenant}" for token, tenant in TOKENS.items())}
    acknowledged: list[str] = []
    lock = threading.Lock()
    with serve_in_subprocess(ServerSettings(store=store_root, mcp=False), env=env) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for i in range(20):
                insert(client, "log", f"sequential {i}", ALICE)
                acknowledged.append(f"sequential {i}")
        stop = threading.Event()
        interrupted: list[int] = []

        def burst(worker: int) -> None:
            with httpx.Client(base_url=server.url, timeout=30) as own:
                for i in range(10_000):
                    if stop.is_set():
                        return
                    content = f"burst {worker}-{i}"
                    body = {"name": "new_memory_insert", "arguments": {"memory_type": "episodic", "content": content}}
                    try:
                        response = own.post(f"{NS}/log/tool-calls", json=body, headers=ALICE)
                    except httpx.HTTPError:
                        interrupted.append(worker)  # the server died under this write: never acknowledged
                        return
                    if response.status_code == 200:
                        with lock:
                            acknowledged.append(content)

        workers = [threading.Thread(target=burst, args=(w,)) for w in range(16)]
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 60 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()  # SIGKILL while the writers are still sending
        stop.set()
        for worker in workers:
            worker.join(60)
    assert len(acknowledged) >= 60 and interrupted  # killed with writes in flight
    memory = open_tenant_store(store_root, "alice").namespace("log")
    stored = {e.content for kind in ("semantic", "episodic") for e in memory.entries(kind)}
    assert set(acknowledged) <= stored
    memory.apply_tool_call("new_memory_insert", {"memory_type": "semantic", "content": "after the crash"})
    assert memory.entries("semantic")[-1].content == "after the crash"  # the store is writable again


@pytest.mark.parametrize("calls", [1, 8])
def test_a_write_is_readable_as_soon_as_it_is_acknowledged(http: httpx.Client, calls: int) -> None:
    body = {
        "calls": [
            {"name": "new_memory_insert", "arguments": {"memory_type": "semantic", "content": f"fact {i}"}}
            for i in range(calls)
        ]
    }
    assert http.post(f"{NS}/fresh/tool-calls/batch", json=body, headers=ALICE).json()["ok"] == calls
    assert contents(http, "fresh", ALICE) == [f"fact {i}" for i in range(calls)]
