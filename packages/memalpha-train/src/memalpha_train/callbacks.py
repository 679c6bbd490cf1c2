"""Trainer callbacks: metrics into the run folder, and validation that keeps the best checkpoint.

TRL's ``eval_strategy`` scores single completions, which says nothing about memory construction, so validation
runs whole episodes instead (paper §7.2: greedy decoding on held-out instances) through
`memalpha_rollout.evaluate` and saves the model whenever the validation score improves.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from memalpha_data import Instance
from memalpha_rollout import EvalResult, RolloutConfig, RunFolder, evaluate
from memalpha_rollout.policies.hf import HFPolicy

__all__ = ["RunMetricsCallback", "ValidationCallback"]

logger = logging.getLogger(__name__)


class RunMetricsCallback(TrainerCallback):
    """Appends every log record of the trainer to the run folder's ``metrics.jsonl`` (main process only)."""

    def __init__(self, run: RunFolder, *, phase: str) -> None:
        self.run = run
        self.phase = phase

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if state.is_world_process_zero and logs:
            numbers = {k: v for k, v in logs.items() if isinstance(v, int | float) and math.isfinite(v)}
            self.run.log_metrics({"phase": self.phase, "step": state.global_step, **numbers})


class ValidationCallback(TrainerCallback):
    """Every ``every`` optimizer steps, evaluate the policy on ``instances``; save it to ``best_dir`` when it improves.

    The score is the mean over sources of the QA score (r1), as the paper's validation reports.
    """

    def __init__(
        self,
        instances: Sequence[Instance],
        *,
        every: int,
        best_dir: str | Path,
        rollout: RolloutConfig,
        run: RunFolder | None = None,
        batch_size: int = 8,
    ) -> None:
        if every < 1:
            raise ValueError(f"validation every must be at least 1 step, got {every!r}")
        self.instances = list(instances)
        self.every = every
        self.best_dir = Path(best_dir)
        self.rollout = rollout
        self.run = run
        self.batch_size = batch_size
        self.best_score = -math.inf
        self.best_step: int | None = None
        self.history: list[tuple[int, float]] = []

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step % self.every or not state.is_world_process_zero:
            return
        model, tokenizer = kwargs["model"], kwargs["processing_class"]
        result = self.validate(model, tokenizer)
        score = result.mean_over_sources
        self.history.append((state.global_step, score))
        if self.run is not None:
            self.run.log_metrics({"phase": "validation", "step": state.global_step, "val/score": score})
        if score > self.best_score:
            self.best_score, self.best_step = score, state.global_step
            model.save_pretrained(str(self.best_dir))
            tokenizer.save_pretrained(str(self.best_dir))
            logger.info(
                "step %d: validation %.3f, the best so far, saved to %s", state.global_step, score, self.best_dir
            )

    def validate(self, model: Any, tokenizer: Any) -> EvalResult:
        """The greedy evaluation of ``model`` (its training mode is restored afterwards)."""
        policy = HFPolicy(model, tokenizer, batch_size=self.batch_size)
        return evaluate(policy, self.instances, config=self.rollout, method="validation", batch_size=self.batch_size)
