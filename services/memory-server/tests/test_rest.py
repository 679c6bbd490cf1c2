"""Every REST endpoint: its happy path and its errors (400/401/404/409/422/503), each with a reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_helpers import ALICE, insert

from memalpha_server import ServerSettings, __version__, create_app

NS = "/v1/namespaces"


def _call(client: TestClient, namespace: str, name: str, arguments: Any = None) -> Any:
    return client.post(f"{NS}/{namespace}/tool-calls", json={"name": name, "arguments": arguments}, headers=ALICE)


@pytest.fixture
def filled(client: TestClient) -> dict[str, str]:
    """Namespace 'notes' with a core, two semantic and one episodic entry; returns their ids."""
    _call(client, "notes", "memory_update", {"memory_type": "core_memory", "new_content": "The user is Ana."})
    ids = {
        "porto": insert(client, "notes", "Ana lives in Porto", ALICE)["memory_id"],
        "coffee": insert(client, "notes", "Ana drinks black coffee", ALICE)["memory_id"],
        "trip": insert(client, "notes", "On May 3 Ana took the train to Lisbon", ALICE, "episodic_memory")["memory_id"],
    }
    return ids


def test_health_needs_no_token(client: TestClient, store_root: str) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__, "store": store_root}


@pytest.mark.parametrize(
    ("headers", "reason", "challenge"),
    [
        ({}, "missing bearer token", 'Bearer realm="memalpha"'),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing bearer token", 'Bearer realm="memalpha"'),
        ({"Authorization": "Bearer not-a-token"}, "unknown bearer token", 'error="invalid_token"'),
    ],
)
def test_requests_without_a_valid_token_get_401(
    client: TestClient, headers: dict[str, str], reason: str, challenge: str
) -> None:
    for method, path in [("GET", NS), ("POST", f"{NS}/x/tool-calls"), ("GET", f"{NS}/x/export"), ("DELETE", f"{NS}/x")]:
        response = client.request(method, path, headers=headers, json={"name": "search_memory"})
        assert response.status_code == 401
        assert reason in response.json()["detail"]
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert challenge in response.headers["www-authenticate"]


def test_insert_is_acknowledged_with_its_result(client: TestClient) -> None:
    response = _call(client, "notes", "new_memory_insert", {"memory_type": "semantic_memory", "content": "Ana"})
    assert response.status_code == 200
    result = response.json()
    assert result["status"] == "ok" and result["memory_type"] == "semantic" and len(result["memory_id"]) == 4
    assert result["error_kind"] is None and result["hits"] is None


def test_a_duplicate_insert_is_skipped_with_200(client: TestClient) -> None:
    insert(client, "notes", "Ana lives in Porto", ALICE)
    response = _call(client, "notes", "new_memory_insert", {"memory_type": "semantic", "content": "Ana lives in Porto"})
    assert response.status_code == 200
    assert response.json()["status"] == "skipped"


@pytest.mark.parametrize(
    ("name", "arguments", "kind", "reason"),
    [
        ("memory_delete", {"memory_type": "semantic_memory", "memory_id": "zzzz"}, "unknown_id", "no semantic item"),
        ("new_memory_insert", {"memory_type": "core_memory", "content": "x"}, "invalid_value", "cannot be inserted"),
        ("new_memory_insert", {"memory_type": "semantic_memory"}, "missing_argument", "missing 'content'"),
        ("forget_everything", {}, "unknown_tool", "unknown tool 'forget_everything'"),
        ("new_memory_insert", "[1, 2]", "invalid_json", "must be a JSON object"),
        ("search_memory", {}, "missing_argument", "missing 'query'"),
    ],
)
def test_a_failed_tool_call_gets_422_with_the_result(
    client: TestClient, filled: dict[str, str], name: str, arguments: Any, kind: str, reason: str
) -> None:
    before = client.get(f"{NS}/notes", headers=ALICE).json()
    response = _call(client, "notes", name, arguments)
    assert response.status_code == 422
    body = response.json()
    assert reason in body["detail"]
    assert body["result"]["status"] == "error" and body["result"]["error_kind"] == kind
    assert client.get(f"{NS}/notes", headers=ALICE).json() == before


def test_arguments_may_be_the_json_text_a_model_wrote(client: TestClient) -> None:
    response = _call(client, "notes", "new_memory_insert", '{"memory_type": "semantic_memory", "content": "Ana"')
    assert response.status_code == 200
    assert "repaired" in response.json()["message"]


def test_search_memory_is_a_tool_call_too(client: TestClient, filled: dict[str, str]) -> None:
    response = _call(client, "notes", "search_memory", {"query": "where does Ana live Porto", "k": 1})
    assert response.status_code == 200
    assert [h["id"] for h in response.json()["hits"]] == [filled["porto"]]


@pytest.mark.parametrize("namespace", ["bad name", "x" * 129, "semi;colon"])
def test_an_invalid_namespace_gets_400_with_the_rule(client: TestClient, namespace: str) -> None:
    for response in (
        _call(client, namespace, "new_memory_insert", {"memory_type": "semantic", "content": "x"}),
        client.get(f"{NS}/{namespace}", headers=ALICE),
        client.get(f"{NS}/{namespace}/search", params={"q": "x"}, headers=ALICE),
        client.delete(f"{NS}/{namespace}", headers=ALICE),
    ):
        assert response.status_code == 400
        assert "invalid namespace" in response.json()["detail"]
        assert "letters, digits and '_.:-'" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"arguments": {"memory_type": "semantic", "content": "x"}},  # no name
        {"name": "new_memory_insert", "arguments": [1, 2]},  # arguments neither object nor string
        {"name": "new_memory_insert", "arguments": {}, "namespace": "other"},  # unknown field
        {"name": 42},
    ],
)
def test_a_malformed_body_gets_422_with_the_field(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post(f"{NS}/notes/tool-calls", json=body, headers=ALICE)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"
    assert client.get(f"{NS}/notes", headers=ALICE).status_code == 404  # nothing was created


def test_batch_commits_the_good_calls_and_reports_each(client: TestClient) -> None:
    calls = [
        {"name": "new_memory_insert", "arguments": {"memory_type": "semantic_memory", "content": "one"}},
        {"name": "memory_delete", "arguments": {"memory_type": "semantic_memory", "memory_id": "nope"}},
        {"name": "new_memory_insert", "arguments": {"memory_type": "episodic_memory", "content": "two"}},
        {"name": "new_memory_insert", "arguments": {"memory_type": "semantic_memory", "content": "one"}},
        {"name": "search_memory", "arguments": {"query": "one"}},
    ]
    response = client.post(f"{NS}/notes/tool-calls/batch", json={"calls": calls}, headers=ALICE)
    assert response.status_code == 200
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["ok", "error", "ok", "skipped", "ok"]
    assert (body["ok"], body["skipped"], body["errors"]) == (3, 1, 1)
    assert "one" in [h["content"] for h in body["results"][4]["hits"]]  # a search sees the batch's earlier calls
    detail = client.get(f"{NS}/notes", headers=ALICE).json()
    assert [e["content"] for e in detail["semantic"]] == ["one"]
    assert [e["content"] for e in detail["episodic"]] == ["two"]


def test_an_empty_or_malformed_batch_gets_422_and_applies_nothing(client: TestClient) -> None:
    assert client.post(f"{NS}/notes/tool-calls/batch", json={"calls": []}, headers=ALICE).status_code == 422
    good = {"name": "new_memory_insert", "arguments": {"memory_type": "semantic", "content": "x"}}
    response = client.post(f"{NS}/notes/tool-calls/batch", json={"calls": [good, {"nom": "x"}]}, headers=ALICE)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:3] == ["body", "calls", 1]
    assert client.get(f"{NS}/notes", headers=ALICE).status_code == 404


def test_get_namespace_returns_everything(client: TestClient, filled: dict[str, str]) -> None:
    body = client.get(f"{NS}/notes", headers=ALICE).json()
    assert body["namespace"] == "notes" and body["core"] == "The user is Ana."
    assert [e["id"] for e in body["semantic"]] == [filled["porto"], filled["coffee"]]
    assert [e["id"] for e in body["episodic"]] == [filled["trip"]]
    assert body["counts"] == {"semantic": 2, "episodic": 1}
    assert body["total_tokens"] > 10


def test_reads_of_an_unknown_namespace_get_404(client: TestClient) -> None:
    for path in ["", "/entries/semantic", "/search?q=x", "/view", "/answer-context?q=x", "/operations", "/export"]:
        response = client.get(f"{NS}/ghost{path}", headers=ALICE)
        assert response.status_code == 404, path
        assert response.json()["detail"] == "namespace 'ghost' does not exist"
    response = client.get(f"{NS}/ghost/entries/semantic/ab12", headers=ALICE)
    assert response.status_code == 404


def test_list_entries_pages_and_accepts_both_spellings(client: TestClient, filled: dict[str, str]) -> None:
    body = client.get(f"{NS}/notes/entries/semantic_memory", headers=ALICE).json()
    assert body["memory_type"] == "semantic" and body["total"] == 2
    assert [e["content"] for e in body["entries"]] == ["Ana lives in Porto", "Ana drinks black coffee"]
    page = client.get(f"{NS}/notes/entries/semantic", params={"offset": 1, "limit": 1}, headers=ALICE).json()
    assert [e["id"] for e in page["entries"]] == [filled["coffee"]] and page["total"] == 2
    response = client.get(f"{NS}/notes/entries/core", headers=ALICE)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "memory_type"]


def test_get_entry_by_id(client: TestClient, filled: dict[str, str]) -> None:
    response = client.get(f"{NS}/notes/entries/episodic/{filled['trip']}", headers=ALICE)
    assert response.status_code == 200
    assert response.json()["content"] == "On May 3 Ana took the train to Lisbon"
    wrong_type = client.get(f"{NS}/notes/entries/semantic/{filled['trip']}", headers=ALICE)
    assert wrong_type.status_code == 404
    assert wrong_type.json()["detail"] == f"namespace 'notes' has no semantic entry with id {filled['trip']!r}"
    assert client.get(f"{NS}/notes/entries/semantic/0000", headers=ALICE).status_code == 404


@pytest.mark.parametrize("mode", ["bm25", "fts"])
def test_search(client: TestClient, filled: dict[str, str], mode: str) -> None:
    for filler in ("Bruno plays piano", "The garden has roses", "Invoices are due on Fridays"):
        insert(client, "notes", filler, ALICE)  # BM25 needs a few documents for a term to stand out
    response = client.get(f"{NS}/notes/search", params={"q": "coffee", "mode": mode, "k": 5}, headers=ALICE)
    assert response.status_code == 200
    body = response.json()
    assert body["mode"] == mode and body["hits"][0]["id"] == filled["coffee"]
    only_episodic = client.get(
        f"{NS}/notes/search", params={"q": "Lisbon coffee", "memory_type": "episodic"}, headers=ALICE
    ).json()
    assert {h["memory_type"] for h in only_episodic["hits"]} == {"episodic"}


def test_search_errors(client: TestClient, filled: dict[str, str]) -> None:
    vector = client.get(f"{NS}/notes/search", params={"q": "x", "mode": "vector"}, headers=ALICE)
    assert vector.status_code == 400
    assert "no embedder; use mode=bm25 or mode=fts" in vector.json()["detail"]
    assert client.get(f"{NS}/notes/search", headers=ALICE).status_code == 422  # no q
    assert client.get(f"{NS}/notes/search", params={"q": "x", "k": 0}, headers=ALICE).status_code == 422
    assert client.get(f"{NS}/notes/search", params={"q": "x", "mode": "magic"}, headers=ALICE).status_code == 422


def test_view_is_the_writers_view(client: TestClient, filled: dict[str, str]) -> None:
    body = client.get(f"{NS}/notes/view", params={"recent": 1}, headers=ALICE).json()
    assert body["recent"] == 1
    assert "<core_memory>\nThe user is Ana.\n</core_memory>" in body["text"]
    assert f"[{filled['coffee']}] Ana drinks black coffee" in body["text"]
    assert "Ana lives in Porto" not in body["text"]  # only the most recent one


def test_answer_context_is_what_an_answerer_sees(client: TestClient, filled: dict[str, str]) -> None:
    body = client.get(f"{NS}/notes/answer-context", params={"q": "Where does Ana live?", "k": 1}, headers=ALICE).json()
    assert body["k"] == 1 and [e["id"] for e in body["semantic"]] == [filled["porto"]]
    assert "1. Ana lives in Porto" in body["text"] and filled["porto"] not in body["text"]
    small = client.get(f"{NS}/notes/answer-context", params={"q": "Ana", "max_tokens": 12}, headers=ALICE).json()
    assert small["k"] == 0 and small["semantic"] == []


def test_operations_list_every_write_call_failed_ones_included(client: TestClient, filled: dict[str, str]) -> None:
    _call(client, "notes", "memory_delete", {"memory_type": "semantic_memory", "memory_id": "nope"})
    operations = client.get(f"{NS}/notes/operations", headers=ALICE).json()["operations"]
    assert [(o["tool"], o["status"]) for o in operations] == [
        ("memory_update", "ok"),
        ("new_memory_insert", "ok"),
        ("new_memory_insert", "ok"),
        ("new_memory_insert", "ok"),
        ("memory_delete", "error"),
    ]
    assert operations[-1]["error_kind"] == "unknown_id"


def test_export_then_import_elsewhere(client: TestClient, filled: dict[str, str]) -> None:
    document = client.get(f"{NS}/notes/export", headers=ALICE).json()
    assert document["format"] == "memalpha.memory/v1" and document["namespace"] == "notes"
    response = client.put(f"{NS}/copy", json=document, headers=ALICE)
    assert response.status_code == 200
    assert response.json() == {"namespace": "copy", "replaced": False, "counts": {"semantic": 2, "episodic": 1}}
    original, copy = (client.get(f"{NS}/{n}", headers=ALICE).json() for n in ("notes", "copy"))
    assert {k: v for k, v in copy.items() if k != "namespace"} == {
        k: v for k, v in original.items() if k != "namespace"
    }


def test_import_onto_data_needs_replace(client: TestClient, filled: dict[str, str]) -> None:
    other = client.get(f"{NS}/notes/export", headers=ALICE).json() | {"core": "Replaced.", "episodic": []}
    conflict = client.put(f"{NS}/notes", json=other, headers=ALICE)
    assert conflict.status_code == 409
    assert "already holds data; PUT with ?replace=true" in conflict.json()["detail"]
    assert client.get(f"{NS}/notes", headers=ALICE).json()["core"] == "The user is Ana."
    replaced = client.put(f"{NS}/notes", params={"replace": "true"}, json=other, headers=ALICE)
    assert replaced.status_code == 200 and replaced.json()["replaced"] is True
    detail = client.get(f"{NS}/notes", headers=ALICE).json()
    assert detail["core"] == "Replaced." and detail["episodic"] == []


def test_a_malformed_import_gets_422(client: TestClient, filled: dict[str, str]) -> None:
    document = client.get(f"{NS}/notes/export", headers=ALICE).json()
    bad_shape = client.put(f"{NS}/other", json={**document, "format": "v0"}, headers=ALICE)
    assert bad_shape.status_code == 422
    repeated = {**document, "semantic": document["semantic"] * 2}
    response = client.put(f"{NS}/other", json=repeated, headers=ALICE)
    assert response.status_code == 422
    assert "repeats an entry id" in response.json()["detail"]
    assert client.get(f"{NS}/other", headers=ALICE).status_code == 404


def test_drop_then_404(client: TestClient, filled: dict[str, str]) -> None:
    assert client.get(NS, headers=ALICE).json() == {"tenant": "alice", "namespaces": ["notes"]}
    response = client.delete(f"{NS}/notes", headers=ALICE)
    assert response.status_code == 200 and response.json() == {"namespace": "notes", "dropped": True}
    again = client.delete(f"{NS}/notes", headers=ALICE)
    assert again.status_code == 404 and "does not exist" in again.json()["detail"]
    assert client.get(NS, headers=ALICE).json()["namespaces"] == []


def test_a_store_that_cannot_be_opened_gets_503(tmp_path: Path, tokens_file: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store folder should be", encoding="utf-8")
    with TestClient(create_app(ServerSettings(store=str(blocker), tokens_file=tokens_file))) as client:
        response = client.get(NS, headers=ALICE)
    assert response.status_code == 503
    assert response.json()["detail"].startswith("storage unavailable: cannot create the store folder")
