"""The ``hf`` token policy on the tiny random Qwen2 model: batching, cutting, logprobs, seeds, stop strings."""

from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from memalpha_rollout.chat import complete_messages, render_prompt_ids, render_prompt_text
from memalpha_rollout.exceptions import BackendUnavailableError
from memalpha_rollout.policies.hf import HFPolicy
from memalpha_rollout.testing import build_tiny_model
from memalpha_rollout.types import Completion, Policy, SamplingParams

GREEDY = SamplingParams(max_tokens=12, temperature=0)
TEXTS = [
    "hello",
    "What is the capital of France? The capital",
    "x",
    "Maria lives in Lisbon and Tom lives in Porto.",
    "memory",
    "a b c",
    '{"name": "new_memory_insert", "arguments": {"content": "Maria"}}',
]


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def policy(tiny_dir: Path) -> HFPolicy:
    return HFPolicy.from_pretrained(tiny_dir, batch_size=3, device="cpu")


@pytest.fixture(scope="session")
def prompts(policy: HFPolicy) -> list[list[int]]:
    return [policy.tokenizer.encode(text) for text in TEXTS]


def one_by_one(policy: HFPolicy, prompts: list[list[int]], sampling: SamplingParams) -> list[Completion]:
    return [policy.generate([prompt], sampling)[0] for prompt in prompts]


def recomputed_logprobs(policy: HFPolicy, prompt: list[int], ids: tuple[int, ...], temperature: float) -> Any:
    """log_softmax(logits / T) of ``ids`` from one forward pass over prompt + completion."""
    full = torch.tensor([prompt + list(ids)])
    with torch.no_grad():
        logits = policy.model(input_ids=full).logits[0, len(prompt) - 1 : -1]
    return torch.log_softmax(logits / temperature, dim=-1).gather(1, torch.tensor(ids)[:, None]).squeeze(1)


def test_it_is_a_token_policy(policy: HFPolicy) -> None:
    assert isinstance(policy, Policy)
    assert policy.device == torch.device("cpu")


def test_a_ragged_batch_comes_back_in_input_order(policy: HFPolicy, prompts: list[list[int]]) -> None:
    batched = policy.generate(prompts, GREEDY)  # 7 prompts of mixed lengths in micro-batches of 3
    assert [c.ids for c in batched] == [c.ids for c in one_by_one(policy, prompts, GREEDY)]
    assert len({c.ids for c in batched}) == len(prompts)  # the prompts lead to different completions


def test_greedy_output_does_not_depend_on_the_other_prompts(policy: HFPolicy, prompts: list[list[int]]) -> None:
    target = prompts[0]  # the shortest prompt: the most left padding next to long ones
    alone = policy.generate([target], GREEDY)[0]
    with_long = policy.generate([prompts[3], target, prompts[6]], GREEDY)[1]
    with_itself = policy.generate([target, target, target], GREEDY)
    assert with_long.ids == alone.ids
    assert {c.ids for c in with_itself} == {alone.ids}
    assert with_long.text == alone.text


def test_max_tokens_bounds_the_completion(policy: HFPolicy, prompts: list[list[int]]) -> None:
    short = policy.generate(prompts[:2], SamplingParams(max_tokens=4, temperature=0))
    long = policy.generate(prompts[:2], GREEDY)
    for s, g in zip(short, long, strict=True):
        assert len(s.ids) == 4
        assert s.finish_reason == "length"
        assert s.ids == g.ids[:4]
        assert s.text == policy.tokenizer.decode(list(s.ids), skip_special_tokens=True)


def test_completions_are_cut_after_the_first_eos(tiny_dir: Path, policy: HFPolicy, prompts: list[list[int]]) -> None:
    full = policy.generate([prompts[1]], GREEDY)[0].ids
    position = next(i for i in range(1, len(full)) if full[i] not in full[:i])  # first time this id appears
    tokenizer: Any = copy.deepcopy(policy.tokenizer)
    tokenizer.eos_token = tokenizer.convert_ids_to_tokens(full[position])
    eos_policy = HFPolicy(policy.model, tokenizer, batch_size=4)
    other = next(p for p in prompts if full[position] not in policy.generate([p], GREEDY)[0].ids)
    stopped, unstopped = eos_policy.generate([prompts[1], other], GREEDY)
    assert stopped.ids == full[: position + 1]  # the eos id is kept
    assert stopped.finish_reason == "stop"
    assert unstopped.finish_reason == "length"
    assert len(unstopped.ids) == GREEDY.max_tokens


def test_logprobs_equal_a_forward_pass_recomputation(policy: HFPolicy, prompts: list[list[int]]) -> None:
    for sampling, temperature in [(GREEDY, 1.0), (SamplingParams(max_tokens=10, temperature=0.7, seed=5), 0.7)]:
        completions = policy.generate(prompts[:4], dataclasses.replace(sampling, logprobs=True))
        for prompt, completion in zip(prompts[:4], completions, strict=True):
            assert completion.logprobs is not None
            assert len(completion.logprobs) == len(completion.ids)
            assert all(lp <= 0 for lp in completion.logprobs)
            expected = recomputed_logprobs(policy, prompt, completion.ids, temperature)
            assert torch.allclose(torch.tensor(completion.logprobs), expected, atol=1e-4)


def test_logprobs_are_left_out_unless_asked(policy: HFPolicy, prompts: list[list[int]]) -> None:
    assert policy.generate(prompts[:1], GREEDY)[0].logprobs is None


def test_a_seed_makes_sampling_reproducible_and_leaves_the_global_rng_alone(
    policy: HFPolicy, prompts: list[list[int]]
) -> None:
    sampling = SamplingParams(max_tokens=12, temperature=1.0, seed=7)
    state = torch.random.get_rng_state()
    first = policy.generate(prompts, sampling)
    assert torch.equal(torch.random.get_rng_state(), state)
    again = policy.generate(prompts, sampling)
    other_seed = policy.generate(prompts, SamplingParams(max_tokens=12, temperature=1.0, seed=8))
    assert [c.ids for c in first] == [c.ids for c in again]
    assert [c.ids for c in first] != [c.ids for c in other_seed]
    same_prompt = policy.generate([prompts[0]] * 4, sampling)
    assert len({c.ids for c in same_prompt}) > 1  # a group of identical prompts gets different samples


def test_top_k_one_is_greedy(policy: HFPolicy, prompts: list[list[int]]) -> None:
    sampled = policy.generate(prompts, SamplingParams(max_tokens=12, temperature=1.5, top_k=1, seed=1))
    assert [c.ids for c in sampled] == [c.ids for c in policy.generate(prompts, GREEDY)]


def test_a_stop_string_ends_the_completion_and_is_left_out_of_the_text(
    policy: HFPolicy, prompts: list[list[int]]
) -> None:
    full = policy.generate([prompts[3]], GREEDY)[0]
    decoded = policy.tokenizer.decode(list(full.ids[:6]), skip_special_tokens=True)
    stop = decoded[-3:].strip()
    assert stop and stop in full.text
    stopped = policy.generate([prompts[3], prompts[0]], SamplingParams(max_tokens=12, temperature=0, stop=(stop,)))[0]
    assert stopped.finish_reason == "stop"
    assert stopped.text == full.text[: full.text.index(stop)]
    assert stopped.ids == full.ids[: len(stopped.ids)]
    assert stop in policy.tokenizer.decode(list(stopped.ids))
    assert stop not in policy.tokenizer.decode(list(stopped.ids[:-1]))


def test_chat_prompt_ids_round_trip(policy: HFPolicy) -> None:
    messages = [
        {"role": "system", "content": "You are a memory agent."},
        {"role": "user", "content": "Maria lives in Lisbon. ✿FUNCTION✿: new_memory_insert"},
    ]
    ids = render_prompt_ids(policy.tokenizer, messages)
    text = render_prompt_text(policy.tokenizer, messages)
    assert text.endswith("<|im_start|>assistant\n")
    assert policy.tokenizer.decode(ids) == text
    assert complete_messages(policy, [messages], GREEDY) == policy.generate([ids], GREEDY)


def test_generation_restores_the_training_flag(policy: HFPolicy, prompts: list[list[int]]) -> None:
    policy.model.train()
    try:
        policy.generate(prompts[:1], GREEDY)
        assert policy.model.training
    finally:
        policy.model.train(False)


def test_bad_prompts_are_rejected_with_their_index(policy: HFPolicy, prompts: list[list[int]]) -> None:
    assert policy.generate([], GREEDY) == []
    with pytest.raises(ValueError, match="prompt 1 is empty"):
        policy.generate([prompts[0], []], GREEDY)
    with pytest.raises(ValueError, match=r"prompt 0 holds token id 99999, outside the model's vocabulary"):
        policy.generate([[1, 99999]], GREEDY)


def test_bad_settings_are_rejected(tiny_dir: Path, policy: HFPolicy) -> None:
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        HFPolicy(policy.model, policy.tokenizer, batch_size=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"dtype must be one of .* got 'fp8'"):
        HFPolicy.from_pretrained(tiny_dir, dtype="fp8")
    tokenizer: Any = copy.deepcopy(policy.tokenizer)
    tokenizer.eos_token = None
    with pytest.raises(ValueError, match="has no end-of-sequence token"):
        HFPolicy(policy.model, tokenizer)


@pytest.fixture
def no_torch(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    yield


@pytest.mark.usefixtures("no_torch")
def test_missing_torch_names_the_extra() -> None:
    with pytest.raises(BackendUnavailableError, match=r'pip install "memalpha-rollout\[hf\]"'):
        HFPolicy(object(), object())  # type: ignore[arg-type]


def test_backend_modules_import_without_torch_or_vllm() -> None:
    code = (
        "import sys, memalpha_rollout.policies.hf, memalpha_rollout.policies.vllm, memalpha_rollout.models, "
        "memalpha_rollout.testing; print(sorted(m for m in ('torch', 'transformers', 'vllm') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
