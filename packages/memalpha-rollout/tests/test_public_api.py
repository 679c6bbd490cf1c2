"""The public surface: `__all__` is exact, heavy backends stay unimported, errors inherit the builtins."""

from __future__ import annotations

import subprocess
import sys

import pytest

import memalpha_rollout
from memalpha_rollout import BackendUnavailableError, PolicyError, RunFolderError, UnknownNameError, load_policy


def test_all_is_exactly_the_public_names() -> None:
    public = {name for name in vars(memalpha_rollout) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(memalpha_rollout, name)).__name__ == "module"}
    assert set(memalpha_rollout.__all__) - {"__version__"} == public - modules
    assert len(set(memalpha_rollout.__all__)) == len(memalpha_rollout.__all__)  # ruff (RUF022) keeps it sorted


def test_import_pulls_no_heavy_backend() -> None:
    code = (
        "import sys, memalpha_rollout; "
        "heavy = ('torch', 'transformers', 'vllm', 'openai', 'matplotlib', 'trl'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_exceptions_inherit_the_matching_builtins() -> None:
    assert issubclass(PolicyError, RuntimeError)
    assert issubclass(BackendUnavailableError, ImportError)
    assert issubclass(UnknownNameError, KeyError)
    assert issubclass(RunFolderError, ValueError)


def test_load_policy_names_the_specs_it_knows() -> None:
    assert type(load_policy("heuristic")).__name__ == "HeuristicPolicy"
    with pytest.raises(UnknownNameError, match="hf:PATH"):
        load_policy("gpt5")
    with pytest.raises(ValueError, match="hf:PATH"):
        load_policy("hf")
    with pytest.raises(ValueError, match="openai:URL/MODEL"):
        load_policy("openai:http://127.0.0.1:9/v1")


def test_openai_specs_split_the_server_from_the_model() -> None:
    from memalpha_rollout.policies import parse_openai_spec

    assert parse_openai_spec("http://127.0.0.1:8000/v1/Qwen/Qwen3-4B") == ("http://127.0.0.1:8000/v1", "Qwen/Qwen3-4B")
    assert parse_openai_spec("https://api.example.com/gpt-4.1-mini") == ("https://api.example.com", "gpt-4.1-mini")
    assert parse_openai_spec("Qwen/Qwen3-4B") == (None, "Qwen/Qwen3-4B")
