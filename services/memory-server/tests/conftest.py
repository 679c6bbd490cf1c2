"""Shared fixtures: a store on a temporary folder, two tenants with tokens, the app, a live server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from memalpha_server import ServerSettings, create_app
from memalpha_server.testing import serve_in_thread

# test modules import their helpers by a plain name (pytest runs with --import-mode=importlib)
_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from server_helpers import TOKENS  # noqa: E402


@pytest.fixture(autouse=True)
def _no_tokens_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMALPHA_SERVER_TOKENS", raising=False)


@pytest.fixture
def store_root(tmp_path: Path) -> str:
    return str(tmp_path / "store")


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.yaml"
    path.write_text(yaml.safe_dump(TOKENS), encoding="utf-8")
    return path


@pytest.fixture
def settings(store_root: str, tokens_file: Path) -> ServerSettings:
    return ServerSettings(store=store_root, tokens_file=tokens_file)


@pytest.fixture
def client(settings: ServerSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def live_url(settings: ServerSettings) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 (in a thread), stopped after the test."""
    with serve_in_thread(create_app(settings)) as url:
        yield url


@pytest.fixture
def http(live_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_url, timeout=60) as http_client:
        yield http_client
