"""LoRA: GRPO trains adapters (the KL reference is the base model, adapters off); export merges them for serving."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from train_helpers import AlternatingAnswerer, grpo_args, make_instance

from memalpha_train import CheckpointError, MemalphaGRPOTrainer, export_model, instances_dataset


def test_lora_grpo_with_kl_then_export(tiny_model_dir: Path, tmp_path: Path) -> None:
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    trainer = MemalphaGRPOTrainer(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        grpo_args(tmp_path / "grpo", beta=0.001, use_bias_correction_kl=False, learning_rate=5e-2),
        instances_dataset([make_instance("a", 2), make_instance("b", 1)]),
        answerer=AlternatingAnswerer(),
        processing_class=tokenizer,
        peft_config=LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    trainer.train()
    log = trainer.state.log_history[0]
    assert math.isfinite(log["loss"]) and "kl" in log
    adapter = tmp_path / "adapter"
    trainer.save_model(str(adapter))
    tokenizer.save_pretrained(str(adapter))
    assert (adapter / "adapter_config.json").is_file()

    merged = export_model(adapter, tmp_path / "merged")
    assert (merged / "config.json").is_file() and not (merged / "adapter_config.json").exists()
    assert (merged / "tokenizer_config.json").is_file()
    model = AutoModelForCausalLM.from_pretrained(merged)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    moved = [
        name
        for (name, p), (_, q) in zip(model.named_parameters(), base.named_parameters(), strict=True)
        if not torch.allclose(p, q)
    ]
    assert moved, "the merged model equals the base: the adapters were not merged"


def test_export_refuses_a_folder_without_a_model(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="holds no model"):
        export_model(tmp_path, tmp_path / "out")


def test_export_of_a_full_model_is_a_copy(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    out = export_model(tiny_model_dir, tmp_path / "copy")
    a = AutoModelForCausalLM.from_pretrained(out)
    b = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
