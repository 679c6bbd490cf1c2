"""A GRPO step on the tiny model: whole episodes are generated through TRL, one row per (rollout, chunk)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from train_helpers import AlternatingAnswerer, grpo_args, make_instance

from memalpha_rollout import Episode
from memalpha_train import MemalphaGRPOTrainer, RecipeError, instances_dataset


def load(model_dir: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir)


def test_one_step_learns_from_episode_rewards(tiny_model_dir: Path, tmp_path: Path) -> None:
    model, tokenizer = load(tiny_model_dir)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    seen: list[tuple[list[Episode], int]] = []
    instances = [make_instance("three", 3), make_instance("two", 2)]  # ragged: 2 x 3 + 2 x 2 = 10 rows
    trainer = MemalphaGRPOTrainer(
        model,
        grpo_args(tmp_path),
        instances_dataset(instances),
        answerer=AlternatingAnswerer(),
        processing_class=tokenizer,
        episode_hooks=[lambda episodes, step: seen.append((episodes, step))],
    )
    trainer.train()

    ((episodes, step),) = seen
    assert step == 0
    assert sorted((e.instance.id, e.rollout) for e in episodes) == [("three", 0), ("three", 1), ("two", 0), ("two", 1)]
    assert [len(e.steps) for e in episodes if e.instance.id == "three"] == [3, 3]
    log = trainer.state.log_history[0]
    assert log["chunk_samples"] == 10
    assert log["advantage_abs_mean"] > 0  # the answerer made rollouts of an instance differ
    assert math.isfinite(log["loss"]) and log["grad_norm"] > 0
    for key in ("reward", "rewards/r1_qa", "rewards/r2_tool_success", "rewards/r3_compression", "rewards/r4_content"):
        assert math.isfinite(log[key])
    changed = [n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])]
    assert changed, "no parameter moved"
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_equal_rewards_give_no_update(tiny_model_dir: Path, tmp_path: Path) -> None:
    model, tokenizer = load(tiny_model_dir)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    dataset = instances_dataset([make_instance("a", 2), make_instance("b", 2)])
    # the random model stores nothing: every rollout scores the same, every advantage is 0
    trainer = MemalphaGRPOTrainer(model, grpo_args(tmp_path, weight_decay=0.0), dataset, processing_class=tokenizer)
    trainer.train()
    assert trainer.state.log_history[0]["advantage_abs_mean"] == 0
    assert all(torch.equal(p.detach(), before[n]) for n, p in model.named_parameters())


def test_rows_are_padded_to_the_split(tiny_model_dir: Path, tmp_path: Path) -> None:
    """10 rows split over 4 micro-steps: TRL would drop 2 without the padding to 12."""
    model, tokenizer = load(tiny_model_dir)
    instances = [make_instance("three", 3), make_instance("two", 2)]
    args = grpo_args(tmp_path, per_device_train_batch_size=1, steps_per_generation=4, gradient_accumulation_steps=4)
    trainer = MemalphaGRPOTrainer(
        model, args, instances_dataset(instances), answerer=AlternatingAnswerer(), processing_class=tokenizer
    )
    model.train()  # as in the training loop
    batch = trainer._generate_and_score_completions(
        [{"prompt": i.id, "instance": i.model_dump_json()} for i in instances for _ in range(2)]
    )
    assert batch["prompt_ids"].shape[0] == 12
    assert int(batch["completion_mask"][10:].sum()) == 0
    assert int(batch["num_items_in_batch"]) == int(batch["completion_mask"].sum())


def test_unsupported_settings_are_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    model, _ = load(tiny_model_dir)
    dataset = instances_dataset([make_instance("a", 1), make_instance("b", 1)])
    with pytest.raises(RecipeError, match="eval_strategy='no'"):
        MemalphaGRPOTrainer(model, grpo_args(tmp_path, eval_strategy="steps", eval_steps=1), dataset)
    with pytest.raises(ValueError, match="instances_dataset"):
        from datasets import Dataset

        MemalphaGRPOTrainer(model, grpo_args(tmp_path), Dataset.from_dict({"prompt": ["x", "y"]}))
    with pytest.raises(ValueError, match="no training instances"):
        instances_dataset([])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_one_step_on_cuda(tiny_model_dir: Path, tmp_path: Path) -> None:
    model, tokenizer = load(tiny_model_dir)
    args = grpo_args(tmp_path, use_cpu=False, bf16=torch.cuda.is_bf16_supported())
    trainer = MemalphaGRPOTrainer(
        model,
        args,
        instances_dataset([make_instance("a", 2), make_instance("b", 1)]),
        answerer=AlternatingAnswerer(),
        processing_class=tokenizer,
    )
    trainer.train()
    assert next(trainer.model.parameters()).is_cuda
    assert math.isfinite(trainer.state.log_history[0]["loss"])
