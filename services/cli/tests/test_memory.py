"""`memalpha memory ...` against a temporary store written with memalpha-memory."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import memalpha_server
from memalpha_memory import MemoryStore

Invoke = Callable[..., Result]


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# ------------------------------------------------------------------ list
def test_list_json_gives_each_namespace_with_its_sizes(invoke: Invoke, store_root: str, seeded: MemoryStore) -> None:
    seeded.namespace("empty-core").apply_tool_call("memory_update", {"memory_type": "core", "new_content": "x"})
    result = invoke("memory", "list", "--store", store_root, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tenant"] == "local"
    assert data["store"] == f"{store_root}/tenants/local"
    rows = {row["namespace"]: row for row in data["namespaces"]}
    assert list(rows) == ["empty-core", "user-42"]
    assert rows["user-42"]["semantic"] == 4
    assert rows["user-42"]["episodic"] == 1
    assert rows["user-42"]["tokens"] == seeded.namespace("user-42").total_tokens()


def test_list_table_and_env_store(invoke: Invoke, store_root: str, seeded: MemoryStore) -> None:
    result = invoke("memory", "list", env={"MEMALPHA_STORE": store_root})
    assert result.exit_code == 0, result.output
    assert "user-42" in result.stdout
    assert f"{store_root}/tenants/local: 1 namespace(s)" in result.stdout


def test_list_of_a_missing_store_is_empty_and_creates_nothing(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke("memory", "list", "--json")  # default ./memalpha-store, in the test's folder
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["namespaces"] == []
    assert not (tmp_path / "memalpha-store").exists()
    text = invoke("memory", "list")
    assert text.exit_code == 0
    assert "no namespaces" in text.stderr


def test_tenants_are_separate(invoke: Invoke, store_root: str, seeded: MemoryStore) -> None:
    result = invoke("memory", "list", "--store", store_root, "--tenant", "other", "--json")
    assert json.loads(result.stdout)["namespaces"] == []
    result = invoke("memory", "inspect", "user-42", "--store", store_root, "--tenant", "other")
    assert result.exit_code == 1
    assert "does not exist" in one_error_line(result.stderr)


def test_invalid_tenant_is_a_user_error(invoke: Invoke, store_root: str) -> None:
    result = invoke("memory", "list", "--store", store_root, "--tenant", "../etc")
    assert result.exit_code == 1
    assert "invalid tenant '../etc'" in one_error_line(result.stderr)


# --------------------------------------------------------------- inspect
def test_inspect_json_holds_core_entries_and_tokens(invoke: Invoke, store_root: str, seeded: MemoryStore) -> None:
    result = invoke("memory", "inspect", "user-42", "--store", store_root, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    memory = seeded.namespace("user-42")
    assert data["namespace"] == "user-42"
    assert data["core"] == "The user is Ana, a chemist."
    assert [e["id"] for e in data["semantic"]] == [e.id for e in memory.entries("semantic")]
    assert [e["content"] for e in data["episodic"]] == ["2024-03-02: Ana moved to Porto"]
    assert data["total_tokens"] == memory.total_tokens()
    assert set(data["semantic"][0]) == {"id", "content", "created_at", "updated_at"}


def test_inspect_table_shows_ids_and_content_verbatim(invoke: Invoke, store_root: str, seeded: MemoryStore) -> None:
    result = invoke("memory", "inspect", "user-42", "--store", store_root)
    assert result.exit_code == 0, result.output
    for entry in seeded.namespace("user-42").entries("semantic"):
        assert entry.id in result.stdout
    assert "Ana's cat is called [bold]Miso" in result.stdout  # markup in content is shown, not interpreted
    assert "The user is Ana, a chemist." in result.stdout
    assert "4 semantic, 1 episodic entries" in result.stdout


@pytest.mark.parametrize(
    ("namespace", "message"),
    [("nobody", "namespace 'nobody' does not exist"), ("bad name!", "invalid namespace 'bad name!'")],
)
def test_inspect_unknown_or_invalid_namespace(
    invoke: Invoke, store_root: str, seeded: MemoryStore, namespace: str, message: str
) -> None:
    result = invoke("memory", "inspect", namespace, "--store", store_root)
    assert result.exit_code == 1
    assert message in one_error_line(result.stderr)
    assert result.stdout == ""


def test_inspect_in_a_missing_store(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke("memory", "inspect", "user-42", "--store", str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    assert "namespace 'user-42' does not exist" in one_error_line(result.stderr)
    assert not (tmp_path / "nowhere").exists()


# ---------------------------------------------------------------- search
def test_search_json_ranks_the_matching_entry_first(invoke: Invoke, store_root: str, seeded: MemoryStore) -> None:
    result = invoke("memory", "search", "user-42", "cat Miso", "--store", store_root, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["mode"] == "bm25"
    assert data["hits"][0]["content"] == "Ana's cat is called [bold]Miso"
    assert data["hits"][0]["memory_type"] == "semantic"


def test_search_type_and_k(invoke: Invoke, store_root: str, seeded: MemoryStore) -> None:
    result = invoke("memory", "search", "user-42", "Porto", "--type", "episodic", "--store", store_root, "--json")
    hits = json.loads(result.stdout)["hits"]
    assert [h["memory_type"] for h in hits] == ["episodic"]
    result = invoke("memory", "search", "user-42", "Ana Porto", "-k", "1", "--store", store_root, "--json")
    assert len(json.loads(result.stdout)["hits"]) == 1


def test_search_core_returns_the_paragraph_when_it_shares_a_word(
    invoke: Invoke, store_root: str, seeded: MemoryStore
) -> None:
    result = invoke("memory", "search", "user-42", "chemist job", "--type", "core", "--store", store_root, "--json")
    hits = json.loads(result.stdout)["hits"]
    assert hits == [{"id": None, "memory_type": "core", "score": 0.5, "content": "The user is Ana, a chemist."}]
    result = invoke("memory", "search", "user-42", "zebra", "--type", "core", "--store", store_root, "--json")
    assert json.loads(result.stdout)["hits"] == []


def test_search_fts_and_vector_modes(invoke: Invoke, store_root: str, seeded: MemoryStore) -> None:
    result = invoke("memory", "search", "user-42", "Miso", "--mode", "fts", "--store", store_root, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["hits"][0]["content"] == "Ana's cat is called [bold]Miso"
    args = ("memory", "search", "user-42", "Porto", "--mode", "vector", "--embedder", "hashing", "--store", store_root)
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["hits"]) == 5


def test_search_vector_without_embedder_is_a_user_error(invoke: Invoke, store_root: str, seeded: MemoryStore) -> None:
    result = invoke("memory", "search", "user-42", "Porto", "--mode", "hybrid", "--store", store_root)
    assert result.exit_code == 1
    assert "--mode hybrid needs embeddings" in one_error_line(result.stderr)


def test_search_table_and_no_hits(invoke: Invoke, store_root: str, seeded: MemoryStore) -> None:
    result = invoke("memory", "search", "user-42", "Porto", "--store", store_root)
    assert result.exit_code == 0, result.output
    assert "Ana lives in Porto" in result.stdout
    result = invoke("memory", "search", "user-42", "zebra", "--type", "core", "--store", store_root)
    assert result.exit_code == 0
    assert "no hits" in result.stderr


def test_search_bad_mode_is_a_usage_error(invoke: Invoke, store_root: str, seeded: MemoryStore) -> None:
    result = invoke("memory", "search", "user-42", "x", "--mode", "magic", "--store", store_root)
    assert result.exit_code == 2
    assert "'magic' is not one of" in result.stderr


# ----------------------------------------------------------- export/import
def test_export_to_stdout_and_file(invoke: Invoke, store_root: str, seeded: MemoryStore, tmp_path: Path) -> None:
    result = invoke("memory", "export", "user-42", "--store", store_root)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["format"] == "memalpha.memory/v1"
    assert document["core"] == "The user is Ana, a chemist."
    assert len(document["semantic"]) == 4
    out = tmp_path / "user-42.json"
    result = invoke("memory", "export", "user-42", "-o", str(out), "--store", store_root)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert json.loads(out.read_text())["semantic"] == document["semantic"]


def test_export_unknown_namespace(invoke: Invoke, store_root: str, seeded: MemoryStore) -> None:
    result = invoke("memory", "export", "nobody", "--store", store_root)
    assert result.exit_code == 1
    assert "namespace 'nobody' does not exist" in one_error_line(result.stderr)


def test_import_round_trip_under_a_new_name(invoke: Invoke, store_root: str, seeded: MemoryStore) -> None:
    exported = invoke("memory", "export", "user-42", "--store", store_root).stdout
    result = invoke("memory", "import", "-", "--namespace", "copy", "--store", store_root, input=exported)
    assert result.exit_code == 0, result.output
    assert "imported copy: 4 semantic, 1 episodic entries" in result.stderr
    original, copy = seeded.namespace("user-42"), seeded.namespace("copy")
    assert copy.core == original.core
    assert copy.entries("semantic") == original.entries("semantic")


def test_import_onto_existing_data_needs_replace(
    invoke: Invoke, store_root: str, seeded: MemoryStore, tmp_path: Path
) -> None:
    file = tmp_path / "export.json"
    document = json.loads(seeded.namespace("user-42").export_json())
    document["core"] = "Replaced core."
    file.write_text(json.dumps(document))
    result = invoke("memory", "import", str(file), "--store", store_root)
    assert result.exit_code == 1
    assert "already holds data" in one_error_line(result.stderr)
    assert "--replace" in result.stderr
    assert seeded.namespace("user-42").core == "The user is Ana, a chemist."
    result = invoke("memory", "import", str(file), "--replace", "--store", store_root)
    assert result.exit_code == 0, result.output
    assert seeded.namespace("user-42").core == "Replaced core."


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json at all", "not a memalpha memory export"),
        ('{"format": "memalpha.memory/v1", "namespace": "user-42"}', "exported_at"),
        (json.dumps({"hello": 1}), "not a memalpha memory export"),
    ],
)
def test_import_of_a_bad_file_changes_nothing(
    invoke: Invoke, store_root: str, seeded: MemoryStore, tmp_path: Path, content: str, message: str
) -> None:
    before = seeded.namespace("user-42").export().model_dump(exclude={"exported_at"})
    file = tmp_path / "bad.json"
    file.write_text(content)
    result = invoke("memory", "import", str(file), "--replace", "--store", store_root)
    assert result.exit_code == 1
    assert message in one_error_line(result.stderr)
    assert seeded.namespaces() == ["user-42"]
    assert seeded.namespace("user-42").export().model_dump(exclude={"exported_at"}) == before


def test_import_with_repeated_ids_is_refused(invoke: Invoke, store_root: str, seeded: MemoryStore) -> None:
    document: dict[str, Any] = json.loads(seeded.namespace("user-42").export_json())
    document["episodic"][0]["id"] = document["semantic"][0]["id"]
    result = invoke("memory", "import", "-", "--namespace", "dup", "--store", store_root, input=json.dumps(document))
    assert result.exit_code == 1
    assert "repeats an entry id" in one_error_line(result.stderr)
    assert seeded.namespaces() == ["user-42"]


def test_import_missing_file_is_a_usage_error(invoke: Invoke, store_root: str) -> None:
    result = invoke("memory", "import", "no-such.json", "--store", store_root)
    assert result.exit_code == 2


# ------------------------------------------------------------------ drop
def test_drop_with_yes(invoke: Invoke, store_root: str, seeded: MemoryStore) -> None:
    result = invoke("memory", "drop", "user-42", "--yes", "--store", store_root)
    assert result.exit_code == 0, result.output
    assert "dropped user-42" in result.stderr
    assert seeded.namespaces() == []


def test_drop_asks_first(invoke: Invoke, store_root: str, seeded: MemoryStore) -> None:
    result = invoke("memory", "drop", "user-42", "--store", store_root, input="n\n")
    assert result.exit_code == 1
    assert "Drop namespace 'user-42' (5 entries)" in result.stderr
    assert "error: namespace 'user-42' was not dropped" in result.stderr
    assert seeded.namespaces() == ["user-42"]
    result = invoke("memory", "drop", "user-42", "--store", store_root, input="y\n")
    assert result.exit_code == 0, result.output
    assert seeded.namespaces() == []


def test_drop_unknown_namespace(invoke: Invoke, store_root: str, seeded: MemoryStore) -> None:
    result = invoke("memory", "drop", "nobody", "--yes", "--store", store_root)
    assert result.exit_code == 1
    assert "namespace 'nobody' does not exist" in one_error_line(result.stderr)
    assert "it holds: user-42" in result.stderr


# ------------------------------------------------------------ serve, mcp
def test_serve_builds_the_settings(invoke: Invoke, store_root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(memalpha_server, "serve", seen.append)
    result = invoke("memory", "serve", "--store", store_root, "--port", "9000", "--no-mcp")
    assert result.exit_code == 0, result.output
    (settings,) = seen
    assert isinstance(settings, memalpha_server.ServerSettings)
    assert (settings.store, settings.host, settings.port, settings.mcp) == (store_root, "127.0.0.1", 9000, False)
    assert settings.no_auth is False
    assert settings.tokens_file is None


def test_serve_passes_a_tokens_file(invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(memalpha_server, "serve", seen.append)
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("tok-a: alice\n")
    result = invoke("memory", "serve", "--tokens", str(tokens), "--host", "0.0.0.0")
    assert result.exit_code == 0, result.output
    assert seen[0].tokens_file == tokens
    assert seen[0].store == "./memalpha-store"


def test_serve_no_auth_on_a_public_host_is_refused(invoke: Invoke, store_root: str) -> None:
    result = invoke("memory", "serve", "--no-auth", "--host", "0.0.0.0", "--store", store_root, "--port", "0")
    assert result.exit_code == 1
    assert "loopback" in one_error_line(result.stderr)


def test_serve_bad_port_is_a_usage_error(invoke: Invoke) -> None:
    result = invoke("memory", "serve", "--port", "70000")
    assert result.exit_code == 2


def test_mcp_runs_stdio_for_the_tenant(invoke: Invoke, store_root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(memalpha_server, "run_mcp_stdio", lambda store, *, tenant: calls.append((store, tenant)))
    result = invoke("memory", "mcp", "--store", store_root, "--tenant", "alice")
    assert result.exit_code == 0, result.output
    assert calls == [(store_root, "alice")]
    assert result.stdout == ""  # stdout belongs to the MCP protocol


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ((), {}, "the server has no API tokens"),
        ((), {"MEMALPHA_SERVER_TOKENS": "garbage"}, "not of the form token=tenant"),
        (("--no-auth", "--tokens", "tokens.yaml"), {}, "exclude each other"),
    ],
)
def test_serve_configuration_errors_start_nothing(
    invoke: Invoke, tmp_path: Path, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    (tmp_path / "tokens.yaml").write_text("tok-a: alice\n")  # the test runs in tmp_path
    result = invoke("memory", "serve", "--port", "0", *args, env=env)
    assert result.exit_code == 1
    assert message in one_error_line(result.stderr)


def test_mcp_refuses_an_invalid_tenant(invoke: Invoke, store_root: str) -> None:
    result = invoke("memory", "mcp", "--store", store_root, "--tenant", "../x")
    assert result.exit_code == 1
    assert "invalid tenant '../x'" in one_error_line(result.stderr)
    assert result.stdout == ""
