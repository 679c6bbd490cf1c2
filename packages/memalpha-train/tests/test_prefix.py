"""The shared-prefix forward gives TRL's log-probabilities, entropies, loss and gradient, with less compute."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from test_grpo_loss import make_trainer, sample

from memalpha_train import prefix
from memalpha_train.prefix import common_prefix_length

SHARED = list(range(100, 140))  # 40 tokens every prompt starts with (the instructions and tools)


@given(st.lists(st.lists(st.integers(0, 3), max_size=6), min_size=1, max_size=5))
def test_common_prefix_length_is_the_longest_shared_prefix(rows: list[list[int]]) -> None:
    n = common_prefix_length([torch.tensor(r, dtype=torch.long) for r in rows])
    assert all(r[:n] == rows[0][:n] for r in rows)
    assert n == min(len(r) for r in rows) or len({tuple(r[: n + 1]) for r in rows}) > 1


def chunk_samples() -> list[Any]:
    return [
        sample("a", "a#0", [*SHARED, 5, 6, 7], [8, 9, 10, 11], 2.0),
        sample("a", "a#1", [*SHARED, 5], [12, 13], 1.0),
        sample("a", "a#1", [*SHARED, 5, 6, 7, 8, 9, 10], [14], 0.0),
        sample("b", "b#0", [*SHARED[:-1], 17], [15, 16, 17], 0.5),  # differs in the prefix's last token
        sample("b", "b#1", [*SHARED, 9, 10], [18, 19], 1.5),
    ]


def loss_and_grads(trainer: Any, batch: dict[str, Any]) -> tuple[float, list[torch.Tensor]]:
    trainer.model.zero_grad()
    loss = trainer._compute_loss(trainer.model, batch)
    loss.backward()
    return loss.item(), [p.grad.clone() for p in trainer.model.parameters()]


@pytest.mark.parametrize("batch_size", [None, 2])
def test_logps_and_entropies_equal_the_plain_forward(tiny_model_dir: Path, tmp_path: Path, batch_size: Any) -> None:
    trainer = make_trainer(tiny_model_dir, tmp_path)
    samples = chunk_samples()
    batch = trainer._training_batch(samples, [1.0, 0.0, -1.0, 0.5, -0.5], rows=8)  # 3 loss-free padding rows
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
    mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
    keep = batch["completion_ids"].size(1)

    def forward(share: bool) -> tuple[torch.Tensor, torch.Tensor]:
        trainer.share_prompt_prefix = share
        with torch.no_grad():
            logps, entropy, _ = trainer._get_per_token_logps_and_entropies(
                trainer.model, ids, mask, keep, batch_size, compute_entropy=True
            )
        return logps, entropy

    plain_logps, plain_entropy = forward(False)
    shared_logps, shared_entropy = forward(True)
    loss_mask = batch["completion_mask"].bool()
    assert loss_mask[:5].sum() == 12 and torch.isfinite(shared_logps).all()
    torch.testing.assert_close(shared_logps[loss_mask], plain_logps[loss_mask], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(shared_entropy[loss_mask], plain_entropy[loss_mask], rtol=1e-4, atol=1e-5)
    assert (shared_logps[~loss_mask] == 0).all()  # like TRL's fused head: zero where no loss is taken


def test_loss_and_gradient_equal_the_plain_forward(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = make_trainer(tiny_model_dir, tmp_path, beta=0.001)
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1
    batch = trainer._training_batch(chunk_samples(), [1.0, 0.0, -1.0, 0.5, -0.5], rows=6)

    trainer.share_prompt_prefix = False
    plain_loss, plain_grads = loss_and_grads(trainer, batch)
    calls: list[int] = []
    original = prefix.shared_prefix_logps

    def counted(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        calls.append(result is not None)
        return result

    monkeypatch.setattr("memalpha_train.grpo.shared_prefix_logps", counted)
    trainer.share_prompt_prefix = True
    shared_loss, shared_grads = loss_and_grads(trainer, batch)
    assert calls == [True]  # the shared forward ran, and applied
    assert shared_loss == pytest.approx(plain_loss, rel=1e-4, abs=1e-6)
    scale = max(float(g.abs().max()) for g in plain_grads)
    assert scale > 0
    for ours, theirs in zip(shared_grads, plain_grads, strict=True):  # equal up to float rounding
        torch.testing.assert_close(ours, theirs, rtol=1e-3, atol=1e-4 * scale)


@pytest.mark.filterwarnings("ignore:`gradient_checkpointing_.*` is deprecated:FutureWarning")  # TRL's calls
def test_short_prefixes_and_checkpointing_use_the_plain_forward(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = make_trainer(tiny_model_dir, tmp_path)
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1
    # a common prefix of 31 tokens: below MIN_SHARED_PREFIX, so no sharing
    short = [s.model_copy(update={"prompt_ids": s.prompt_ids[9:]}) for s in chunk_samples()]
    batch = trainer._training_batch(short, [1.0, 0.0, -1.0, 0.5, -0.5], rows=5)
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
    mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
    assert (
        prefix.shared_prefix_logps(
            trainer.model,
            ids,
            mask,
            batch["completion_ids"].size(1),
            compute_entropy=False,
            autocast=trainer.accelerator.autocast,
        )
        is None
    )
    assert torch.isfinite(trainer._compute_loss(trainer.model, batch))

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the shared-prefix forward must not run under activation checkpointing")

    monkeypatch.setattr("memalpha_train.grpo.shared_prefix_logps", refuse)
    trainer.model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    full = trainer._training_batch(chunk_samples(), [1.0, 0.0, -1.0, 0.5, -0.5], rows=5)
    assert torch.isfinite(trainer._compute_loss(trainer.model, full))
