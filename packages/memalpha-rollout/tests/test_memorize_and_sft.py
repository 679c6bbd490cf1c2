"""memorize() (a writer building a memory from a user's text) and traces as SFT data."""

from __future__ import annotations

from pathlib import Path

import pytest
from rollout_helpers import hermes, insert, make_instance

from memalpha_memory import MemoryStore
from memalpha_rollout import RolloutConfig, ScriptedPolicy, get_format, load_policy, run_episodes
from memalpha_rollout.engine import memorize
from memalpha_rollout.sft import sft_examples


def test_memorize_writes_into_a_store_namespace(tmp_path: Path) -> None:
    store = MemoryStore.open(tmp_path / "store")
    memory = store.buffered("notes")
    steps = memorize(
        ScriptedPolicy([hermes(insert("Ana lives in Porto")), "Done"]), ["Ana lives in Porto.", "ok"], memory=memory
    )
    memory.flush()
    assert len(steps) == 2 and steps[0].results[0].ok
    assert [e.content for e in store.namespace("notes").entries("semantic")] == ["Ana lives in Porto"]
    again = store.buffered("notes")  # a second build extends the namespace and sees what is there
    policy = ScriptedPolicy(["Done"])
    memorize(policy, ["more"], memory=again)
    assert "Ana lives in Porto" in policy.conversations[0][0]["content"]


def test_memorize_refuses_an_empty_input() -> None:
    with pytest.raises(ValueError, match="nothing to memorize"):
        memorize(ScriptedPolicy(["Done"]), ["  ", ""])


@pytest.mark.parametrize("fmt", ["hermes", "qwen-agent"])
def test_heuristic_traces_become_sft_examples_that_parse_back_to_the_same_calls(fmt: str) -> None:
    instance = make_instance(
        "a", ["<User> My sister Ana Lopes moved to Porto in 2021.", "<User> Bob Reyes is a baker."]
    )
    (episode,) = run_episodes(load_policy("heuristic"), [instance], config=RolloutConfig(tool_format=fmt))
    trace = episode.to_trace(policy="heuristic", tool_format=fmt)
    examples = sft_examples([trace])
    assert len(examples) == 2
    for example, step in zip(examples, episode.steps, strict=True):
        assert example["prompt"] == step.prompt.messages
        (turn,) = example["completion"]
        parsed = get_format(fmt).parse(turn["content"])
        assert [c.name for c in parsed.calls] == [c.name for c in step.calls]
    assert sft_examples([trace], min_score=1.1) == []


def test_sft_needs_recorded_prompts() -> None:
    config = RolloutConfig(record_traces=False)
    (episode,) = run_episodes(
        ScriptedPolicy([hermes(insert("a fact about Ana"))]), [make_instance("a", ["x."])], config=config
    )
    with pytest.raises(ValueError, match="record_traces=False"):
        sft_examples([episode.to_trace()])
