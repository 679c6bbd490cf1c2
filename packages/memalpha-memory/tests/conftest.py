"""Shared fixtures: stores on a temporary folder, a deterministic embedder, hypothesis profiles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from memalpha_memory import HashingEmbedder, MemoryStore

settings.register_profile("ci", deadline=None, max_examples=300, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def store(tmp_path: Path) -> MemoryStore:
    return MemoryStore.open(tmp_path / "mem")


@pytest.fixture
def vector_store(tmp_path: Path) -> MemoryStore:
    return MemoryStore.open(tmp_path / "mem", embedder=HashingEmbedder())
