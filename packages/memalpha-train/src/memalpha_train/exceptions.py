"""Errors raised by memalpha-train.

MemalphaTrainError
├── RecipeError(ValueError)          a training recipe is missing, malformed or inconsistent (names the field)
└── CheckpointError(FileNotFoundError) a checkpoint or run to resume from is missing or not ours
"""

from __future__ import annotations

__all__ = ["CheckpointError", "MemalphaTrainError", "RecipeError"]


class MemalphaTrainError(Exception):
    """Base class of every error memalpha-train raises."""


class RecipeError(MemalphaTrainError, ValueError):
    """A recipe cannot be used as written; the message names the recipe, the field and how to fix it."""


class CheckpointError(MemalphaTrainError, FileNotFoundError):
    """A checkpoint, or a run folder to resume, does not exist or does not hold what training wrote."""
