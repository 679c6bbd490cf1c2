"""Settings, tokens and the tenant layout: where tokens come from, and what is refused before starting."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from memalpha_memory import MemoryStore
from memalpha_server import (
    ServerConfigError,
    ServerSettings,
    create_app,
    is_loopback_host,
    load_tokens,
    open_tenant_store,
    serve,
    tenant_store_uri,
)
from memalpha_server.__main__ import main


def test_tokens_come_from_a_yaml_file(tokens_file: Path) -> None:
    assert load_tokens(ServerSettings(tokens_file=tokens_file)) == {
        "tok-alice-7f3a9c": "alice",
        "tok-bob-52e1d8": "bob",
    }


def test_tokens_come_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"json-token": "team_1"}), encoding="utf-8")
    assert load_tokens(ServerSettings(tokens_file=path)) == {"json-token": "team_1"}


def test_tokens_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMALPHA_SERVER_TOKENS", " tok1=teamA , base64ish==/x=teamB,")
    assert load_tokens(ServerSettings()) == {"tok1": "teamA", "base64ish==/x": "teamB"}


def test_the_tokens_file_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch, tokens_file: Path) -> None:
    monkeypatch.setenv("MEMALPHA_SERVER_TOKENS", "env-token=envteam")
    assert "env-token" not in load_tokens(ServerSettings(tokens_file=tokens_file))


def test_no_tokens_and_no_no_auth_is_refused_with_the_ways_out(store_root: str) -> None:
    with pytest.raises(ServerConfigError, match="no API tokens") as error:
        load_tokens(ServerSettings(store=store_root))
    assert "MEMALPHA_SERVER_TOKENS" in str(error.value) and "--no-auth" in str(error.value)
    with pytest.raises(ServerConfigError, match="no API tokens"):
        create_app(ServerSettings(store=store_root))


def test_no_auth_needs_no_tokens(store_root: str) -> None:
    assert load_tokens(ServerSettings(store=store_root, no_auth=True)) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just\n- a list\n", "must hold a mapping"),
        ("token: 'bad/tenant'\n", "entry 1 of the tokens file .*invalid tenant 'bad/tenant'"),
        ("123456: team\n", "is a int; quote it"),
        ("'with space': team\n", "empty or contains whitespace"),
        ("{}\n", "holds no tokens"),
        ("a: [unclosed\n", "not valid YAML/JSON"),
    ],
)
def test_a_malformed_tokens_file_is_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ServerConfigError, match=message):
        load_tokens(ServerSettings(tokens_file=path))


def test_a_missing_tokens_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ServerConfigError, match=r"cannot read the tokens file '.*nope\.yaml'"):
        load_tokens(ServerSettings(tokens_file=tmp_path / "nope.yaml"))


def test_a_malformed_environment_variable_is_refused_without_echoing_the_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEMALPHA_SERVER_TOKENS", "good=teamA,s3cr3t-no-tenant")
    with pytest.raises(ServerConfigError, match="item 2 of MEMALPHA_SERVER_TOKENS is not of the form") as error:
        load_tokens(ServerSettings())
    assert "s3cr3t" not in str(error.value)
    monkeypatch.setenv("MEMALPHA_SERVER_TOKENS", "s3cr3t=../escape")
    with pytest.raises(ServerConfigError, match=re.escape("invalid tenant '../escape'")) as error:
        load_tokens(ServerSettings())
    assert "s3cr3t" not in str(error.value)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "example.com", "::"])
def test_no_auth_is_refused_off_loopback(store_root: str, host: str) -> None:
    settings = ServerSettings(store=store_root, no_auth=True, host=host, port=0)
    with pytest.raises(ServerConfigError, match="only allowed on a loopback host"):
        create_app(settings)
    with pytest.raises(ServerConfigError, match="only allowed on a loopback host"):
        serve(settings)  # refused before binding anything


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


def test_no_auth_and_a_tokens_file_exclude_each_other(store_root: str, tokens_file: Path) -> None:
    with pytest.raises(ServerConfigError, match="exclude each other"):
        create_app(ServerSettings(store=store_root, no_auth=True, tokens_file=tokens_file))


def test_settings_forbid_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="workers"):
        ServerSettings.model_validate({"workers": 4})


def test_tenant_store_uri_is_the_contract_layout() -> None:
    assert tenant_store_uri("./memalpha-store/", "alice") == "./memalpha-store/tenants/alice"
    assert tenant_store_uri("s3://bucket/memalpha", "team-1") == "s3://bucket/memalpha/tenants/team-1"
    with pytest.raises(ServerConfigError, match=re.escape("invalid tenant '../x'")):
        tenant_store_uri("./store", "../x")


def test_open_tenant_store_opens_that_database(store_root: str) -> None:
    open_tenant_store(store_root, "alice").namespace("notes").apply_tool_call(
        "memory_update", {"memory_type": "core", "new_content": "Ana"}
    )
    assert MemoryStore.open(Path(store_root) / "tenants" / "alice").namespace("notes").core == "Ana"
    assert open_tenant_store(store_root, "bob").namespaces() == []


def test_module_main_reports_a_config_error_and_exits_1(store_root: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--store", store_root, "--port", "0"]) == 1
    assert "error: the server has no API tokens" in capsys.readouterr().err
