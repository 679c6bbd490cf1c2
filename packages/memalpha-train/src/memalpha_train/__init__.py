"""memalpha-train: chunk-level GRPO on TRL, an SFT warm start from teacher traces, recipes and checkpoints.

The modules that need torch or TRL (`grpo`, `sft`, `pipeline`, `callbacks`, `export`) load on first use of
their names, so ``import memalpha_train`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .advantages import GroupStats, group_advantages, group_stats
from .exceptions import CheckpointError, MemalphaTrainError, RecipeError
from .recipes import Recipe, list_recipes, load_recipe

if TYPE_CHECKING:
    from .callbacks import RunMetricsCallback, ValidationCallback
    from .export import export_model
    from .grpo import MemalphaGRPOTrainer, TRLGenerationPolicy, instances_dataset
    from .pipeline import TrainingResult, bootstrap_difference, rollout_config, run_training
    from .sft import sft_dataset, teacher_traces, warm_start

__all__ = [
    "CheckpointError",
    "GroupStats",
    "MemalphaGRPOTrainer",
    "MemalphaTrainError",
    "Recipe",
    "RecipeError",
    "RunMetricsCallback",
    "TRLGenerationPolicy",
    "TrainingResult",
    "ValidationCallback",
    "bootstrap_difference",
    "export_model",
    "group_advantages",
    "group_stats",
    "instances_dataset",
    "list_recipes",
    "load_recipe",
    "rollout_config",
    "run_training",
    "sft_dataset",
    "teacher_traces",
    "warm_start",
]

_LAZY = {
    "RunMetricsCallback": "callbacks",
    "ValidationCallback": "callbacks",
    "export_model": "export",
    "MemalphaGRPOTrainer": "grpo",
    "TRLGenerationPolicy": "grpo",
    "instances_dataset": "grpo",
    "TrainingResult": "pipeline",
    "bootstrap_difference": "pipeline",
    "rollout_config": "pipeline",
    "run_training": "pipeline",
    "sft_dataset": "sft",
    "teacher_traces": "sft",
    "warm_start": "sft",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'memalpha_train' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
