"""SFT warm start: imitate a teacher's memory-writing trajectories before GRPO.

A base model that never emits tool calls gets no learning signal from GRPO (every rollout scores the same). The
warm start runs a teacher (the rule-based ``heuristic`` policy, or any policy spec such as an OpenAI-compatible
server) through the same episodes the student will see, keeps every chunk step whose calls all succeeded, and
trains the student on them with TRL's ``SFTTrainer``: the prompt is the teacher's context-reset prompt, the target
its tool calls in the student's tool-call format, rendered in the student's chat template; the loss covers the
completion only (TRL's default for prompt/completion data).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from trl import SFTConfig, SFTTrainer

from datasets import Dataset
from memalpha_data import Instance
from memalpha_rollout import EpisodeTrace, RolloutConfig, load_policy, run_episodes, sft_examples
from memalpha_rollout.evaluate import policy_name

__all__ = ["sft_dataset", "teacher_traces", "warm_start"]

logger = logging.getLogger(__name__)


def teacher_traces(
    instances: Sequence[Instance], *, teacher: str | Any = "heuristic", rollout: RolloutConfig | None = None
) -> list[EpisodeTrace]:
    """One episode of ``teacher`` per instance, recorded with prompts (the student's format and prompt style)."""
    rollout = replace(rollout or RolloutConfig(), group_size=1, record_traces=True, snapshot_memory=False)
    policy = load_policy(teacher) if isinstance(teacher, str) else teacher
    episodes = run_episodes(policy, instances, config=rollout)
    name = policy_name(policy)
    return [e.to_trace(policy=name, tool_format=rollout.tool_format) for e in episodes]


def sft_dataset(traces: Sequence[EpisodeTrace], *, max_examples: int | None = None) -> Dataset:
    """The traces' successful chunk steps as prompt/completion conversations.

    Raises:
        ValueError: no step qualifies (every step of every trace had a failed call).
    """
    examples = sft_examples(traces)
    if max_examples is not None:
        examples = examples[:max_examples]
    if not examples:
        raise ValueError("the teacher's traces hold no successful chunk step to imitate")
    return Dataset.from_list(examples)


def warm_start(
    model: Any,
    dataset: Dataset,
    args: SFTConfig,
    *,
    processing_class: Any = None,
    peft_config: Any = None,
    callbacks: list[Any] | None = None,
) -> Path:
    """Train ``model`` on ``dataset`` with TRL's SFTTrainer and save it (and its tokenizer) to ``args.output_dir``."""
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=processing_class,
        peft_config=peft_config,
        callbacks=callbacks,
    )
    trainer.train()
    output = Path(args.output_dir)
    trainer.save_model(str(output))
    if processing_class is not None:
        processing_class.save_pretrained(str(output))
    logger.info("SFT warm start saved to %s (%d examples)", output, len(dataset))
    return output
