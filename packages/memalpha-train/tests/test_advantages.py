"""Group advantages as the paper computes them (verl's GRPO outcome advantage over per-instance groups)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memalpha_train import group_advantages, group_stats

EPS = 1e-6


def test_hand_computed_groups() -> None:
    # group "a": rewards 1, 2, 3 -> mean 2, unbiased std 1; group "b": 5, 5 -> std 0
    rewards = [1.0, 5.0, 2.0, 5.0, 3.0]
    groups = ["a", "b", "a", "b", "a"]
    advantages = group_advantages(rewards, groups)
    assert advantages == pytest.approx([-1 / (1 + EPS), 0.0, 0.0, 0.0, 1 / (1 + EPS)], abs=1e-12)
    stats = group_stats(rewards, groups)
    assert (stats["a"].mean, stats["a"].std, stats["a"].size) == (2.0, 1.0, 3)
    assert (stats["b"].mean, stats["b"].std, stats["b"].size) == (5.0, 0.0, 2)


def test_chunks_of_one_rollout_get_different_advantages() -> None:
    # one instance, G = 2 rollouts of 2 chunks: r1 shared by a rollout's chunks, r2 per chunk
    # rollout 0: r1 = 1, chunk r2 = 1, 0.5; rollout 1: r1 = 0, chunk r2 = 1, 1
    rewards = [1 + 1, 1 + 0.5, 0 + 1, 0 + 1]
    advantages = group_advantages(rewards, ["i0"] * 4)
    mean = sum(rewards) / 4  # 1.375
    std = math.sqrt(sum((r - mean) ** 2 for r in rewards) / 3)
    assert advantages == pytest.approx([(r - mean) / (std + EPS) for r in rewards])
    assert advantages[0] != advantages[1]


def test_a_single_sample_group_has_zero_advantage() -> None:
    assert group_advantages([3.0], ["only"]) == [0.0]


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="2 rewards for 1 group ids"):
        group_advantages([1.0, 2.0], ["a"])


@given(
    st.lists(st.tuples(st.sampled_from("abc"), st.floats(-10, 10, allow_nan=False, width=32)), min_size=1, max_size=40)
)
def test_advantages_are_standardised_within_each_group(rows: list[tuple[str, float]]) -> None:
    groups = [g for g, _ in rows]
    rewards = [r for _, r in rows]
    advantages = group_advantages(rewards, groups)
    for group in set(groups):
        values = [a for a, g in zip(advantages, groups, strict=True) if g == group]
        assert sum(values) == pytest.approx(0.0, abs=1e-6 * max(1.0, len(values)))
        spread = group_stats(rewards, groups)[group].std
        if len(values) > 1 and spread > 1e-3:
            unbiased = math.sqrt(sum(v * v for v in values) / (len(values) - 1))
            assert unbiased == pytest.approx(spread / (spread + EPS), rel=1e-6)
