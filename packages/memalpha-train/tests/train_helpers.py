"""Builders shared by the trainer tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memalpha_data import Instance, Question
from memalpha_rollout import AnswerRequest


def make_instance(instance_id: str, num_chunks: int, answer: str = "Porto") -> Instance:
    return Instance(
        id=instance_id,
        data_source="test",
        capability="AR",
        chunks=[f"Ana lives in {answer}. Note {k} of {instance_id}." for k in range(num_chunks)],
        questions=[Question(question="Where does Ana live?", answers=[answer])],
    )


class AlternatingAnswerer:
    """Answers every other request correctly, so rollouts of one instance score differently (r1 = 0 or 1)
    whatever the model wrote: the trainer then has advantages to learn from, even with a random model."""

    name = "alternating"
    max_context_tokens = None

    def __init__(self) -> None:
        self.calls = 0

    def answer(self, requests: Sequence[AnswerRequest]) -> list[str]:
        answers = []
        for request in requests:
            answers.append(request.question.answers[0] if self.calls % 2 == 0 else "no idea")
            self.calls += 1
        return answers


def grpo_args(output_dir: Path, **overrides: Any) -> Any:
    """A GRPOConfig for the tiny model on CPU (no checkpoints, no reports)."""
    from trl import GRPOConfig

    values: dict[str, Any] = {
        "output_dir": str(output_dir),
        "max_steps": 1,
        "per_device_train_batch_size": 4,
        "num_generations": 2,
        "max_completion_length": 8,
        "learning_rate": 1e-2,
        "use_cpu": True,
        "bf16": False,
        "activation_checkpointing": False,
        "report_to": "none",
        "save_strategy": "no",
        "logging_steps": 1,
        "seed": 0,
        "disable_tqdm": True,
    }
    values.update(overrides)
    return GRPOConfig(**values)


def sft_args(output_dir: Path, *, epochs: int, learning_rate: float) -> Any:
    """An SFTConfig for CPU: constant learning rate, batches of 4, no checkpoints, no reports."""
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(output_dir),
        num_train_epochs=epochs,
        learning_rate=learning_rate,
        lr_scheduler_type="constant",
        per_device_train_batch_size=4,
        max_length=1024,
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        seed=0,
    )
