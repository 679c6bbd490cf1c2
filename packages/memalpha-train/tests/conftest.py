"""Shared fixtures: the tiny model, small instances, an answerer whose scores differ between episodes, and
TRL configs for CPU. The tests folder is on ``sys.path`` so tests import ``train_helpers``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

settings.register_profile("ci", deadline=None, max_examples=300, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2-architecture model and its tokenizer, built from a config (no download), once per session."""
    from memalpha_rollout.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))
