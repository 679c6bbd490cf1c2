"""Checkpoints on generation-window boundaries resume identically."""

from __future__ import annotations

from pathlib import Path

import torch
from train_helpers import AlternatingAnswerer, grpo_args, make_instance

from memalpha_train import MemalphaGRPOTrainer, instances_dataset

INSTANCES = [make_instance("a", 2), make_instance("b", 1), make_instance("c", 2), make_instance("d", 1)]


def train(model_dir: Path, output: Path, *, resume: Path | None = None) -> dict[str, torch.Tensor]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    args = grpo_args(output, max_steps=3, save_strategy="steps", save_steps=1)
    trainer = MemalphaGRPOTrainer(
        AutoModelForCausalLM.from_pretrained(model_dir),
        args,
        instances_dataset(INSTANCES),
        answerer=AlternatingAnswerer(),  # 4 questions a step: its alternation restarts in phase after a resume
        processing_class=AutoTokenizer.from_pretrained(model_dir),
    )
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    return {name: p.detach().clone() for name, p in trainer.model.named_parameters()}


def test_resume_continues_identically(tiny_model_dir: Path, tmp_path: Path) -> None:
    straight = train(tiny_model_dir, tmp_path / "straight")
    assert (tmp_path / "straight" / "checkpoint-1").is_dir()
    resumed = train(tiny_model_dir, tmp_path / "resumed-run", resume=tmp_path / "straight" / "checkpoint-1")
    start = {name: p for name, p in straight.items()}
    assert start.keys() == resumed.keys()
    for name in straight:
        assert torch.allclose(straight[name], resumed[name], atol=1e-7), name
