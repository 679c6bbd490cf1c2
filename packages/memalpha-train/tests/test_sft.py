"""SFT warm start: a model that writes no tool calls learns the teacher's calls from its traces."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_helpers import make_instance, sft_args

from memalpha_rollout import HeuristicPolicy, RolloutConfig, SamplingParams, run_episodes
from memalpha_rollout.policies.hf import HFPolicy
from memalpha_train import sft_dataset, teacher_traces, warm_start

CONFIG = RolloutConfig(prompt_style="compact", sampling=SamplingParams(max_tokens=64, temperature=0.0))
INSTANCES = [make_instance(f"i{k}", 1, answer=city) for k, city in enumerate(["Porto", "Lima", "Oslo", "Quito"])]


def test_teacher_traces_render_the_students_prompts() -> None:
    traces = teacher_traces(INSTANCES, rollout=CONFIG)
    assert [t.instance_id for t in traces] == ["i0", "i1", "i2", "i3"]
    examples = sft_dataset(traces)
    assert len(examples) == 4
    prompt, completion = examples[0]["prompt"], examples[0]["completion"]
    assert [m["role"] for m in prompt] == ["system", "user"] and "<new_chunk>" in prompt[1]["content"]
    assert completion[0]["role"] == "assistant"
    assert '"name": "new_memory_insert"' in completion[0]["content"]
    assert len(sft_dataset(traces, max_examples=2)) == 2


def test_traces_without_a_successful_step_are_refused() -> None:
    class Failing(HeuristicPolicy):
        def chat(self, conversations, sampling, tools=None):  # type: ignore[no-untyped-def]
            from memalpha_rollout import Completion

            return [Completion(text='<tool_call>{"name": "memory_delete", "arguments": {}}</tool_call>')] * len(
                conversations
            )

    traces = teacher_traces(INSTANCES[:1], teacher=Failing(), rollout=CONFIG)
    with pytest.raises(ValueError, match="no successful chunk step"):
        sft_dataset(traces)


def test_sft_makes_a_tiny_model_emit_valid_calls(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = run_episodes(HFPolicy.from_pretrained(tiny_model_dir), INSTANCES, config=CONFIG)
    assert sum(e.ok_calls for e in base) == 0  # the random model writes nothing usable

    dataset = sft_dataset(teacher_traces(INSTANCES, rollout=CONFIG))
    args = sft_args(tmp_path / "sft", epochs=60, learning_rate=3e-3)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    output = warm_start(model, dataset, args, processing_class=AutoTokenizer.from_pretrained(tiny_model_dir))
    assert (output / "config.json").is_file() and (output / "tokenizer_config.json").is_file()

    episodes = run_episodes(HFPolicy.from_pretrained(output), INSTANCES, config=CONFIG)
    calls = sum(e.num_calls for e in episodes)
    assert calls >= 3
    assert sum(e.ok_calls for e in episodes) / calls >= 0.75
    assert sum(bool(e.memory.entries("semantic")) for e in episodes) >= 3  # the student now stores facts
