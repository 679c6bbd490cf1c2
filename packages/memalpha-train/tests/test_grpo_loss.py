"""The training batch and TRL's loss on it equal the paper's formulas, computed by hand on a tiny model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from train_helpers import grpo_args, make_instance

from memalpha_rollout import ChunkSample
from memalpha_train import MemalphaGRPOTrainer, group_advantages, instances_dataset


def sample(group: str, episode: str, prompt: list[int], completion: list[int], reward: float) -> ChunkSample:
    return ChunkSample(
        group_id=group,
        episode_id=episode,
        instance_id=group,
        rollout=0,
        chunk_index=0,
        prompt_ids=prompt,
        completion_ids=completion,
        completion_mask=[1] * len(completion),
        logprobs=None,
        r1=reward,
        r2=0.0,
        r3=0.0,
        r4=0.0,
        reward=reward,
        num_calls=0,
        ok_calls=0,
        finish_reason="stop",
    )


def make_trainer(model_dir: Path, tmp_path: Path, **overrides: Any) -> MemalphaGRPOTrainer:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    dataset = instances_dataset([make_instance(f"i{k}", 2) for k in range(2)])
    return MemalphaGRPOTrainer(model, grpo_args(tmp_path, **overrides), dataset, processing_class=tokenizer)


SAMPLES = [  # two groups; rollouts of different lengths, so the token mean weights long completions more
    sample("a", "a#0", [5, 6, 7], [8, 9, 10, 11], 2.0),
    sample("a", "a#1", [5, 6], [12, 13], 1.0),
    sample("a", "a#1", [5, 6, 7, 8], [14], 0.0),
    sample("b", "b#0", [9], [15, 16, 17], 0.5),
    sample("b", "b#1", [9, 10], [18, 19], 1.5),
]


def completion_logps(model: Any, batch: dict[str, Any]) -> torch.Tensor:
    """log p(token) of each completion token, by hand: logits at position t predict token t + 1."""
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
    mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
    logits = model(input_ids=ids, attention_mask=mask).logits
    width = batch["completion_ids"].size(1)
    logps = torch.log_softmax(logits[:, -width - 1 : -1].float(), dim=-1)
    return logps.gather(-1, batch["completion_ids"].unsqueeze(-1)).squeeze(-1)


def test_batch_layout_and_padding(tiny_model_dir: Path, tmp_path: Path) -> None:
    trainer = make_trainer(tiny_model_dir, tmp_path, steps_per_generation=4, per_device_train_batch_size=2)
    advantages = group_advantages([s.reward for s in SAMPLES], [s.group_id for s in SAMPLES])
    batch = trainer._training_batch(SAMPLES, advantages, rows=8)  # 5 rows padded to a multiple of 4
    pad = trainer.processing_class.pad_token_id
    assert batch["prompt_ids"].shape == (8, 4) and batch["completion_ids"].shape == (8, 4)
    assert batch["prompt_ids"][1].tolist() == [pad, pad, 5, 6]  # left-padded prompt
    assert batch["prompt_mask"][1].tolist() == [0, 0, 1, 1]
    assert batch["completion_ids"][1].tolist() == [12, 13, pad, pad]  # right-padded completion
    assert batch["completion_mask"][1].tolist() == [1, 1, 0, 0]
    assert batch["completion_mask"][5:].sum() == 0  # dummy rows carry no loss tokens
    assert batch["advantages"][5:].tolist() == [0.0, 0.0, 0.0]
    assert batch["advantages"][:5].tolist() == pytest.approx(advantages, rel=1e-6)
    assert batch["num_items_in_batch"].ndim == 0 and int(batch["num_items_in_batch"]) == 4 + 2 + 1 + 3 + 2
    assert "old_per_token_logps" in batch  # steps_per_generation (4) > gradient accumulation (1): off-policy


def test_loss_and_gradient_equal_the_token_mean_surrogate(tiny_model_dir: Path, tmp_path: Path) -> None:
    trainer = make_trainer(tiny_model_dir, tmp_path)
    model = trainer.model
    model.train()
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop; one micro-step per update here
    rewards = [s.reward for s in SAMPLES]
    # group a: 2, 1, 0 -> mean 1, std 1; group b: 0.5, 1.5 -> mean 1, std sqrt(0.5)
    expected = [1 / (1 + 1e-6), 0.0, -1 / (1 + 1e-6), -0.5 / (0.5**0.5 + 1e-6), 0.5 / (0.5**0.5 + 1e-6)]
    advantages = group_advantages(rewards, [s.group_id for s in SAMPLES])
    assert advantages == pytest.approx(expected)
    batch = trainer._training_batch(SAMPLES, advantages, rows=5)
    assert "old_per_token_logps" not in batch and "ref_per_token_logps" not in batch  # on-policy, no KL

    loss = trainer._compute_loss(model, batch)
    loss.backward()
    trl_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()

    # the paper: L = -1/|tokens| * sum_i sum_t A_i * ratio_it, ratio = 1 on-policy (its gradient is grad log p)
    logps = completion_logps(model, batch)
    mask = batch["completion_mask"].float()
    ratio = torch.exp(logps - logps.detach())
    by_hand = -(torch.tensor(advantages).unsqueeze(1) * ratio * mask).sum() / mask.sum()
    by_hand.backward()
    assert loss.item() == pytest.approx(by_hand.item(), abs=1e-6)
    tokens = [len(s.completion_ids) for s in SAMPLES]
    assert loss.item() == pytest.approx(-sum(a * n for a, n in zip(advantages, tokens, strict=True)) / 12, abs=1e-6)
    for ours, theirs in zip(trl_grads, (p.grad for p in model.parameters()), strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-6)


def test_kl_to_the_reference_is_added_when_beta_is_set(tiny_model_dir: Path, tmp_path: Path) -> None:
    trainer = make_trainer(tiny_model_dir, tmp_path, beta=0.001, use_bias_correction_kl=False)
    advantages = group_advantages([s.reward for s in SAMPLES], [s.group_id for s in SAMPLES])
    batch = trainer._training_batch(SAMPLES, advantages, rows=5)
    mask = batch["completion_mask"].bool()
    with torch.no_grad():
        current = completion_logps(trainer.model, batch)
    # the reference is a frozen copy of the starting model: equal log-probs before any update
    assert torch.allclose(batch["ref_per_token_logps"][mask], current[mask], atol=1e-5)


def test_truncated_completions_are_masked_when_asked(tiny_model_dir: Path, tmp_path: Path) -> None:
    trainer = make_trainer(tiny_model_dir, tmp_path, mask_truncated_completions=True)
    cut = SAMPLES[0].model_copy(update={"finish_reason": "length"})
    batch = trainer._training_batch([cut, SAMPLES[1]], [1.0, -1.0], rows=2)
    assert batch["completion_mask"][0].sum() == 0 and batch["completion_mask"][1].sum() == 2


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        # per sequence: exp(sum of masked differences) = exp(0.5 + 0.5) = e, above 2 -> masked to 0 / clamped to 2
        ("sequence_mask", [0.0]),
        ("sequence_truncate", [2.0]),
        # per token: exp(0.5) each, the padded position exp(0) = 1
        ("token_truncate", [1.6487, 1.6487, 1.0]),
        ("token_mask", [1.6487, 1.6487, 1.0]),
    ],
)
def test_vllm_importance_sampling_ratio(tiny_model_dir: Path, tmp_path: Path, mode: str, expected: list[float]) -> None:
    """vLLM's sampling log-probs differ from the trainer's: TRL's correction, built by the trainer (NaN = unknown)."""
    trainer = make_trainer(tiny_model_dir, tmp_path)
    trainer.vllm_importance_sampling_mode = mode
    trainer.vllm_importance_sampling_clip_min, trainer.vllm_importance_sampling_clip_max = 0.5, 2.0
    old = torch.tensor([[-1.0, -1.0, -1.0]])
    sampling = torch.tensor([[-1.5, -1.5, float("nan")]])
    mask = torch.tensor([[1, 1, 0]])
    ratio = trainer._importance_ratio(old, sampling, mask)
    assert ratio[0].tolist() == pytest.approx(expected, abs=1e-4)
