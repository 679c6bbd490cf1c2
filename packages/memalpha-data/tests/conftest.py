"""Shared fixtures: the real source data folder, hypothesis profiles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", deadline=None, max_examples=300, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

SHARED_DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real source data: `$MEMALPHA_DATA_DIR`, else `../shared/data` beside the repository."""
    folder = Path(os.environ.get("MEMALPHA_DATA_DIR") or SHARED_DATA)
    if not (folder / "squad").is_dir():
        pytest.skip(f"the real source data is not at {folder} (set MEMALPHA_DATA_DIR)")
    return folder
