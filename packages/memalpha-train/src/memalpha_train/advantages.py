"""GRPO advantages over the paper's groups (paper §7.1).

A group is every chunk sample of the G rollouts of one instance (verl's ``uid`` is set per instance before the
G-fold repeat and copied to every chunk sample). Each sample's advantage is its reward standardised within its
group, ``A = (r - mean) / (std + eps)`` with the unbiased standard deviation (``torch.std``) and ``eps = 1e-6``;
the trainer broadcasts it to every completion token. There is no critic and no discounting: r1 and r3 are shared
by the chunks of a rollout, r2 and r4 differ per chunk, so chunks of one rollout get different advantages.

A group of one sample has no spread to learn from: its advantage is 0 (verl would give it ``r / (1 + eps)``;
training never forms such groups, since G >= 2).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

import numpy as np

__all__ = ["GroupStats", "group_advantages", "group_stats"]

EPSILON = 1e-6


class GroupStats(tuple[float, float, int]):
    """``(mean, std, size)`` of one group's rewards (std unbiased; 0 for a single sample)."""

    __slots__ = ()

    @property
    def mean(self) -> float:
        return self[0]

    @property
    def std(self) -> float:
        return self[1]

    @property
    def size(self) -> int:
        return self[2]


def group_stats(rewards: Sequence[float], group_ids: Sequence[Hashable]) -> dict[Hashable, GroupStats]:
    """Mean, unbiased std and size of the rewards of each group."""
    if len(rewards) != len(group_ids):
        raise ValueError(f"got {len(rewards)} rewards for {len(group_ids)} group ids")
    members: dict[Hashable, list[float]] = defaultdict(list)
    for reward, group in zip(rewards, group_ids, strict=True):
        members[group].append(float(reward))
    stats = {}
    for group, values in members.items():
        array = np.asarray(values, dtype=np.float64)
        std = float(array.std(ddof=1)) if array.size > 1 else 0.0
        stats[group] = GroupStats((float(array.mean()), std, int(array.size)))
    return stats


def group_advantages(
    rewards: Sequence[float], group_ids: Sequence[Hashable], *, epsilon: float = EPSILON
) -> list[float]:
    """``(r - mean_g) / (std_g + epsilon)`` for each sample, over the samples sharing its group id."""
    stats = group_stats(rewards, group_ids)
    advantages = []
    for reward, group in zip(rewards, group_ids, strict=True):
        mean, std, size = stats[group]
        advantages.append(0.0 if size < 2 else (float(reward) - mean) / (std + epsilon))
    return advantages
