"""Training records: chunk samples from token-policy episodes, and their parquet round trip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rollout_helpers import hermes, insert, make_instance

from memalpha_rollout import (
    RolloutConfig,
    SamplingParams,
    ScriptedPolicy,
    episode_samples,
    read_samples,
    render_prompt_ids,
    run_episodes,
    write_samples,
)


def test_samples_carry_ids_logprobs_rewards_and_group_ids(tiny_policy: Any, tmp_path: Path) -> None:
    instances = [make_instance("a", ["Ana lives in Porto.", "Bob is a baker."]), make_instance("b", ["Cy."])]
    config = RolloutConfig(group_size=2, sampling=SamplingParams(max_tokens=12, seed=3, logprobs=True))
    episodes = run_episodes(tiny_policy, instances, config=config)
    samples = episode_samples(episodes)
    assert len(samples) == 2 * 2 + 2 * 1
    assert {s.group_id for s in samples} == {"a", "b"}
    assert [s.episode_id for s in samples[:4]] == ["a#0", "a#0", "a#1", "a#1"]
    step = episodes[0].steps[1]
    assert samples[1].prompt_ids == render_prompt_ids(tiny_policy.tokenizer, step.prompt.messages)
    for sample in samples:
        assert len(sample.completion_ids) == len(sample.completion_mask) == len(sample.logprobs or [])
        assert sample.reward == pytest.approx(sample.r1 + sample.r2 + 0.05 * sample.r3 + 0.1 * sample.r4)
    path = write_samples(samples, tmp_path / "samples.parquet")
    assert read_samples(path) == samples


def test_chat_policy_samples_have_no_token_ids() -> None:
    (episode,) = run_episodes(ScriptedPolicy([hermes(insert("Ana lives in Porto"))]), [make_instance("a", ["x."])])
    (sample,) = episode_samples([episode])
    assert sample.prompt_ids == [] and sample.completion_ids == [] and sample.logprobs is None
    assert sample.num_calls == sample.ok_calls == 1
