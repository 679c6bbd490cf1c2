"""Completion log-probabilities with the prompt prefix that every row shares computed once.

Every chunk prompt of an episode starts with the same instructions and tool schemas (about 60 % of a SmolLM2
prompt with the compact style), so a training batch of chunk rows repeats the same prefix in every row. The
forward here runs that prefix once, as one row whose key/value cache is broadcast to the batch, then runs each
row's remainder (the rest of its prompt and its completion) on top of it. Gradients flow through the shared cache
into the prefix's computation, so the loss and its gradient equal those of the plain forward (up to float
rounding): only the repeated work is gone.

Rows without a single loss token (TRL's padding rows, masked truncated completions) are not run at all: TRL's
fused head returns zeros at every masked position, and so does this forward.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["MIN_SHARED_PREFIX", "common_prefix_length", "shared_prefix_logps"]

MIN_SHARED_PREFIX = 32
"""Shorter shared prefixes are not worth the second forward call: the plain forward is used instead."""


def common_prefix_length(rows: list[torch.Tensor]) -> int:
    """The length of the longest token prefix that all ``rows`` (1-D tensors) share."""
    if not rows:
        return 0
    shortest = min(len(r) for r in rows)
    first = rows[0][:shortest]
    same = torch.ones(shortest, dtype=torch.bool, device=first.device)
    for row in rows[1:]:
        same &= row[:shortest] == first
    differs = (~same).nonzero()
    return int(differs[0]) if len(differs) else shortest


def shared_prefix_logps(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    logits_to_keep: int,
    *,
    compute_entropy: bool,
    autocast: Any,
    min_prefix: int = MIN_SHARED_PREFIX,
) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """Per-token completion log-probabilities (and entropies) as TRL's fused head computes them, or ``None``.

    ``input_ids`` / ``attention_mask`` are TRL's training rows: a left-padded prompt followed by a right-padded
    completion of ``logits_to_keep`` tokens. ``model`` must carry TRL's fused LM head (``fused_lm_head=True``).
    Returns ``None`` when sharing does not apply (fewer than two rows with loss tokens, or a common prefix shorter
    than ``min_prefix``); the caller then runs the plain forward.
    """
    prompt_width = input_ids.size(1) - logits_to_keep
    active = attention_mask[:, prompt_width:].any(dim=1).nonzero().flatten().tolist()
    if len(active) < 2:
        return None
    starts = {i: int(attention_mask[i, :prompt_width].argmax()) for i in active}
    prompts = [input_ids[i, starts[i] : prompt_width] for i in active]
    # keep at least one prompt token per row: it predicts the first completion token
    shared = min(common_prefix_length(prompts), min(len(p) for p in prompts) - 1)
    if shared < min_prefix:
        return None

    width = input_ids.size(1) - min(starts.values()) - shared
    rest_ids = input_ids.new_zeros(len(active), width)
    rest_mask = attention_mask.new_zeros(len(active), width)
    for row, i in enumerate(active):
        tail = slice(starts[i] + shared, None)
        length = input_ids.size(1) - starts[i] - shared
        rest_ids[row, width - length :] = input_ids[i, tail]
        rest_mask[row, width - length :] = attention_mask[i, tail]
    positions = shared + (rest_mask.cumsum(dim=1) - 1).clamp(min=0)
    labels = rest_ids.masked_fill(rest_mask == 0, -100)
    labels[:, :-logits_to_keep] = -100

    with autocast():
        prefix = model(input_ids=prompts[0][:shared].unsqueeze(0), use_cache=True, logits_to_keep=1)
        cache = prefix.cache if hasattr(prefix, "cache") else prefix.past_key_values
        cache.batch_repeat_interleave(len(active))
        outputs = model(
            input_ids=rest_ids,
            attention_mask=torch.cat([rest_mask.new_ones(len(active), shared), rest_mask], dim=1),
            position_ids=positions,
            cache=cache,
            labels=labels,
            fused_lm_head=True,
        )
    index = torch.tensor(active, device=input_ids.device)
    logps = outputs.log_probs[:, -logits_to_keep:]
    full = logps.new_zeros(input_ids.size(0), logits_to_keep).index_copy(0, index, logps)
    entropy = None
    if compute_entropy:
        kept = outputs.entropy[:, -logits_to_keep:]
        entropy = kept.new_zeros(input_ids.size(0), logits_to_keep).index_copy(0, index, kept)
    return full, entropy
