"""Fixtures: a CLI runner with a wide, isolated environment, and a tenant store with one namespace in it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from memalpha_cli import cli
from memalpha_memory import MemoryStore
from memalpha_server import open_tenant_store

Invoke = Callable[..., Result]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("MEMALPHA_STORE", "MEMALPHA_RECIPES_DIR", "MEMALPHA_SERVER_TOKENS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # the default ./memalpha-store and ./datasets land in the test's folder


@pytest.fixture
def invoke() -> Invoke:
    """Run `memalpha ARGS...` in process; stdout and stderr are kept apart (result.stdout, result.stderr)."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(cli, list(args), input=input, env={"COLUMNS": "200", **(env or {})})

    return run


@pytest.fixture
def store_root(tmp_path: Path) -> str:
    return str(tmp_path / "store")


@pytest.fixture
def seeded(store_root: str) -> MemoryStore:
    """Tenant 'local' of `store_root` with namespace 'user-42': a core, four semantic entries and one episodic."""
    store = open_tenant_store(store_root, "local")
    results = store.namespace("user-42").apply_tool_calls(
        [
            ("memory_update", {"memory_type": "core_memory", "new_content": "The user is Ana, a chemist."}),
            ("new_memory_insert", {"memory_type": "semantic_memory", "content": "Ana lives in Porto"}),
            ("new_memory_insert", {"memory_type": "semantic_memory", "content": "Ana's cat is called [bold]Miso"}),
            ("new_memory_insert", {"memory_type": "semantic_memory", "content": "Ana works in a lab"}),
            ("new_memory_insert", {"memory_type": "semantic_memory", "content": "Ana likes jazz"}),
            ("new_memory_insert", {"memory_type": "episodic_memory", "content": "2024-03-02: Ana moved to Porto"}),
        ]
    )
    assert all(r.ok for r in results)
    return store
