"""The episode engine: batching, ragged episodes, independent rollouts, garbage, lockstep padding, rewards."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rollout_helpers import ToolJudge, hermes, insert, make_instance

from memalpha_rollout import (
    Completion,
    RewardConfig,
    RolloutConfig,
    SamplingParams,
    ScriptedPolicy,
    ToolCall,
    read_traces,
    run_episodes,
    write_traces,
)

# ---------------------------------------------------------------- rewards on a hand-computed episode


def _hand_episode(paper_compat: bool) -> Any:
    instance = make_instance(
        "ana",
        ["Ana lives in Porto.", "The weather was nice."],  # 5 + 5 tokens
        [("Where does Ana live?", "Porto"), ("What is Bob's job?", "baker")],
    )
    replies = [
        hermes(
            insert("Ana lives in Porto"),  # 4 tokens, ok
            (
                "memory_update",
                {"memory_type": "semantic_memory", "memory_id": "zzzz", "new_content": "x"},
            ),  # unknown id
        ),
        "Done",  # no calls
    ]
    config = RolloutConfig(reward=RewardConfig(compression_weight=0.05, content_weight=0.1, paper_compat=paper_compat))
    judge = ToolJudge({"new_memory_insert": 1.0, "memory_update": 0.0})
    (episode,) = run_episodes(ScriptedPolicy(replies), [instance], config=config, judge=judge)
    return episode


def test_reward_components_match_the_papers_formula_by_hand() -> None:
    episode = _hand_episode(paper_compat=False)
    assert episode.memory_tokens == 4 and episode.chunk_tokens == 10
    assert episode.r3 == pytest.approx(0.6)  # 1 - 4/10
    assert [q.score for q in episode.qa] == [1.0, 0.0]
    assert episode.r1 == pytest.approx(0.5)
    first, second = episode.steps
    assert (first.r2, first.r4) == (0.5, 0.5)
    assert first.reward.total == pytest.approx(0.5 + 0.5 + 0.05 * 0.6 + 0.1 * 0.5)  # 1.08
    # a chunk with no calls: nothing attempted, nothing failed
    assert (second.r2, second.r4) == (1.0, 1.0)
    assert second.reward.total == pytest.approx(0.5 + 1.0 + 0.03 + 0.1)


def test_paper_compat_scores_a_chunk_without_calls_zero() -> None:
    first, second = _hand_episode(paper_compat=True).steps
    assert first.reward.total == pytest.approx(1.08)
    assert (second.r2, second.r4) == (0.0, 0.0)
    assert second.reward.total == pytest.approx(0.5 + 0.0 + 0.03 + 0.0)


def test_a_skipped_duplicate_insert_is_not_a_success() -> None:
    instance = make_instance("dup", ["Ana lives in Porto."])
    reply = hermes(insert("Ana lives in Porto"), insert("Ana lives in Porto"))
    (episode,) = run_episodes(ScriptedPolicy([reply]), [instance])
    assert [r.status for r in episode.steps[0].results] == ["ok", "skipped"]
    assert episode.steps[0].r2 == 0.5


@pytest.mark.parametrize("finish_reason", ["length", "stop"])
def test_a_call_cut_off_by_the_reply_limit_is_not_applied_and_fails(finish_reason: str) -> None:
    text = hermes(insert("Ana lives in Porto")) + '\n<tool_call>\n{"name": "new_memory_insert", "arguments": {"memo'
    policy = ScriptedPolicy([Completion(text=text, finish_reason=finish_reason)])
    (episode,) = run_episodes(policy, [make_instance("cut", ["Ana lives in Porto. Bo bakes."])])
    step = episode.steps[0]
    if finish_reason == "length":  # the budget ended the reply inside the second block
        assert [r.status for r in step.results] == ["ok", "error"]
        assert "cut off by the 512-token reply limit" in step.results[1].message
        assert step.r2 == 0.5
        assert [e.content for e in episode.memory.entries("semantic")] == ["Ana lives in Porto"]
    else:  # the model stopped there itself: the broken call goes to the memory, which repairs or rejects it
        assert len(step.results) == 2 and step.results[0].ok
        assert "cut off" not in step.results[1].message


# ---------------------------------------------------------------- batching


def test_one_generate_call_per_step_and_ragged_episodes_drop_out() -> None:
    instances = [make_instance("a", ["x."]), make_instance("b", ["x.", "y.", "z."]), make_instance("c", ["x.", "y."])]
    policy = ScriptedPolicy(["Done"])
    episodes = run_episodes(policy, instances, config=RolloutConfig(group_size=2))
    assert policy.batch_sizes == [6, 4, 2]
    assert [e.episode_id for e in episodes] == ["a#0", "a#1", "b#0", "b#1", "c#0", "c#1"]
    assert [len(e.steps) for e in episodes] == [1, 1, 3, 3, 2, 2]
    assert {e.group_id for e in episodes[2:4]} == {"b"}


def test_rollouts_of_one_instance_have_independent_memories() -> None:
    counter = itertools.count()
    policy = ScriptedPolicy(lambda conversation: hermes(insert(f"fact number {next(counter)}")))
    episodes = run_episodes(policy, [make_instance("a", ["x.", "y."])], config=RolloutConfig(group_size=3))
    contents = [[e.content for e in ep.memory.entries("semantic")] for ep in episodes]
    assert all(len(c) == 2 for c in contents)
    assert len({item for c in contents for item in c}) == 6  # nothing shared between rollouts
    # the second prompt of each rollout shows that rollout's own first item, and only it
    for episode, items in zip(episodes, contents, strict=True):
        view = episode.steps[1].prompt.messages[0]["content"]
        assert items[0] in view
        assert not any(other[0] in view for other in contents if other is not items)


def test_the_prompt_carries_the_chunk_and_the_current_memory() -> None:
    policy = ScriptedPolicy([hermes(insert("Ana lives in Porto")), "Done"])
    run_episodes(policy, [make_instance("a", ["First chunk text.", "Second chunk text."])])
    first, second = policy.conversations
    assert [m["role"] for m in first] == ["system", "user"]
    assert "<new_chunk>\nFirst chunk text.\n</new_chunk>" in first[1]["content"]
    assert "Ana lives in Porto" not in first[0]["content"]
    assert "Ana lives in Porto" in second[0]["content"]
    assert "<tool_call>" in first[0]["content"]  # the hermes tool section


def test_native_tool_calls_are_applied_without_parsing_the_text() -> None:
    calls = (ToolCall("new_memory_insert", {"memory_type": "episodic", "content": "On Monday Ana moved."}),)
    policy = ScriptedPolicy([Completion(text="<tool_call>not json</tool_call>", tool_calls=calls)])
    (episode,) = run_episodes(policy, [make_instance("a", ["x."])])
    assert [r.status for r in episode.steps[0].results] == ["ok"]
    assert [e.content for e in episode.memory.entries("episodic")] == ["On Monday Ana moved."]


def test_judge_is_called_once_per_step_for_all_episodes() -> None:
    judge = ToolJudge({"new_memory_insert": 1.0})
    policy = ScriptedPolicy([hermes(insert("a fact about Ana"), insert("another fact about Bo"))])
    instances = [make_instance("a", ["x.", "y."]), make_instance("b", ["x."])]
    run_episodes(policy, instances, judge=judge, config=RolloutConfig(group_size=2))
    # step 0: 4 episodes x 2 calls; step 1: 2 episodes x 2 calls (the second insert repeats: skipped, still judged)
    assert judge.batches == [8, 4]


# ---------------------------------------------------------------- garbage never crashes an episode


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.text(alphabet=st.sampled_from(list('<>/{}":,[]✿ abcFUNCTIONARGStool_call\n')), max_size=80),
        min_size=1,
        max_size=3,
    )
)
def test_garbage_completions_become_zero_calls_or_error_results(replies: list[str]) -> None:
    instance = make_instance("g", ["Ana lives in Porto.", "Bob is a baker."])
    for fmt in ("hermes", "qwen-agent"):
        (episode,) = run_episodes(ScriptedPolicy(replies), [instance], config=RolloutConfig(tool_format=fmt))
        for step in episode.steps:
            assert 0.0 <= step.r2 <= 1.0 and 0.0 <= step.r4 <= 1.0
            assert step.reward is not None and math.isfinite(step.reward.total)


def test_a_random_weight_model_runs_whole_episodes(tiny_policy: Any) -> None:
    instances = [make_instance("a", ["Ana lives in Porto.", "Bob is a baker."]), make_instance("b", ["Cy is 3."])]
    config = RolloutConfig(group_size=2, sampling=SamplingParams(max_tokens=24, temperature=1.0, seed=1, logprobs=True))
    episodes = run_episodes(tiny_policy, instances, config=config)
    assert [len(e.steps) for e in episodes] == [2, 2, 1, 1]
    for step in (s for e in episodes for s in e.steps):
        assert 1 <= len(step.completion.ids) <= 24
        assert step.completion.logprobs is not None and len(step.completion.logprobs) == len(step.completion.ids)
        assert step.prompt.prompt_ids and step.prompt.num_tokens == len(step.prompt.prompt_ids)


class _CountingPolicy:
    """Wraps a token policy and counts its generate calls."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[int] = []

    @property
    def tokenizer(self) -> Any:
        return self.inner.tokenizer

    def generate(self, prompt_ids: Sequence[Sequence[int]], sampling: SamplingParams) -> list[Completion]:
        self.calls.append(len(prompt_ids))
        result: list[Completion] = self.inner.generate(prompt_ids, sampling)
        return result


def test_min_steps_pads_generate_calls_for_lockstep(tiny_policy: Any) -> None:
    policy = _CountingPolicy(tiny_policy)
    config = RolloutConfig(sampling=SamplingParams(max_tokens=2, temperature=0.0))
    episodes = run_episodes(
        policy, [make_instance("a", ["x."]), make_instance("b", ["x.", "y."])], config=config, min_steps=4
    )
    assert policy.calls == [2, 1, 1, 1]  # two real steps, then two throw-away calls
    assert [len(e.steps) for e in episodes] == [1, 2]


# ---------------------------------------------------------------- traces


def test_traces_round_trip_and_hold_the_memory_after_each_chunk(tmp_path: Any) -> None:
    policy = ScriptedPolicy([hermes(insert("Ana lives in Porto")), hermes(insert("Bob is a baker"))])
    (episode,) = run_episodes(policy, [make_instance("a", ["Ana lives in Porto.", "Bob is a baker."])])
    trace = episode.to_trace(policy="scripted", tool_format="hermes")
    path = write_traces(tmp_path / "t.jsonl", [trace])
    (back,) = read_traces(path)
    assert back == trace
    assert [len(s.memory.semantic) for s in back.steps if s.memory] == [1, 2]
    assert back.steps[0].calls[0].status == "ok" and back.steps[0].calls[0].name == "new_memory_insert"
    assert back.qa[0].prediction and back.qa[0].score == 1.0
    assert back.qa[0].retrieved_semantic  # ids of what was retrieved
    assert back.r1 == episode.r1 and back.final_memory.semantic[1][1] == "Bob is a baker"


def test_traces_can_be_switched_off_for_long_streams() -> None:
    config = RolloutConfig(record_traces=False)
    (episode,) = run_episodes(
        ScriptedPolicy([hermes(insert("a fact about Ana"))]), [make_instance("a", ["x."])], config=config
    )
    assert episode.steps[0].prompt.messages == [] and episode.steps[0].memory is None
    assert episode.steps[0].reward is not None


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="group_size"):
        RolloutConfig(group_size=0)
    with pytest.raises(KeyError, match="unknown"):
        RolloutConfig(tool_format="xml")


@pytest.mark.slow
def test_smollm2_runs_a_real_episode_and_its_samples_are_trainable(smollm2_policy: Any) -> None:
    from memalpha_rollout import episode_samples

    instance = make_instance(
        "smol",
        ["<User> My sister Ana lives in Porto.", "<User> Bob is a baker in Lyon."],
        [("Where does Ana live?", "Porto")],
    )
    config = RolloutConfig(group_size=2, sampling=SamplingParams(max_tokens=48, temperature=1.0, seed=0, logprobs=True))
    episodes = run_episodes(smollm2_policy, [instance], config=config)
    samples = episode_samples(episodes)
    assert len(samples) == 4 and {s.group_id for s in samples} == {"smol"}
    for sample, step in zip(samples, [s for e in episodes for s in e.steps], strict=True):
        assert step.completion.text.strip()  # a real model says something
        assert 0 < len(sample.completion_ids) <= 48 and len(sample.logprobs or []) == len(sample.completion_ids)
        assert all(lp <= 0 for lp in sample.logprobs or [])
        assert "<new_chunk>" in smollm2_policy.tokenizer.decode(sample.prompt_ids)
