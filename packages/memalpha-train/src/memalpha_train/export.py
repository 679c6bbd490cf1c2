"""Export a checkpoint for serving: a plain Hugging Face model folder, LoRA adapters merged into the base.

`export_model` reads a trainer checkpoint or saved model (full weights, or a PEFT adapter folder whose
``adapter_config.json`` names its base model) and writes a folder that ``transformers``, vLLM and
``memalpha memory build --writer`` load directly. The destination is written beside itself and renamed into
place, so a failed export never leaves a half-written model (``source`` may equal ``destination``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .exceptions import CheckpointError

__all__ = ["export_model"]


def export_model(source: str | Path, destination: str | Path, *, dtype: str = "float32") -> Path:
    """Write ``source`` (a checkpoint or model folder, LoRA or full) as a merged model folder at ``destination``.

    Raises:
        CheckpointError: ``source`` holds neither a model nor an adapter.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source, destination = Path(source), Path(destination)
    adapter = source / "adapter_config.json"
    if not adapter.is_file() and not (source / "config.json").is_file():
        raise CheckpointError(f"{str(source)!r} holds no model (config.json) and no LoRA adapter (adapter_config.json)")
    torch_dtype = getattr(torch, dtype)
    if adapter.is_file():
        try:
            from peft import PeftModel
        except ImportError as exc:
            raise CheckpointError(f"{str(source)!r} is a LoRA adapter; merging it needs peft") from exc
        base_path = json.loads(adapter.read_text(encoding="utf-8"))["base_model_name_or_path"]
        base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch_dtype)
        model = PeftModel.from_pretrained(base, str(source)).merge_and_unload()
    else:
        model = AutoModelForCausalLM.from_pretrained(str(source), dtype=torch_dtype)
    tokenizer_dir = source if (source / "tokenizer_config.json").is_file() else None
    staging = destination.with_name(destination.name + ".export")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(str(staging))
    if tokenizer_dir is not None:
        AutoTokenizer.from_pretrained(str(tokenizer_dir)).save_pretrained(str(staging))
    if destination.exists():
        shutil.rmtree(destination)
    staging.rename(destination)
    return destination
