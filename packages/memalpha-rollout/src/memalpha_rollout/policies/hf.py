"""The ``hf`` token policy: Hugging Face ``transformers`` generation, batched, on CPU or one GPU.

`HFPolicy` turns prompt token ids into completions with ``model.generate``. Prompts are sorted by length and
left-padded into micro-batches of ``batch_size`` (results come back in input order); padding is masked, so a
prompt's greedy completion does not depend on the other prompts it is batched with.

What a `Completion` holds:

- ``ids``: the generated ids, cut after the first end-of-sequence token (kept, ``finish_reason="stop"``), or
  after the token that completes a stop string (``"stop"``), or at ``max_tokens`` (``"length"``);
- ``text``: ``ids`` decoded without special tokens; a stop string and what follows it are left out of the text
  (but not out of ``ids``), as vLLM does;
- ``logprobs`` (when ``sampling.logprobs``): ``log_softmax(raw_logits / temperature)`` at each sampled id (the
  temperature is 1 for greedy decoding), before top-k/top-p filtering: the quantity TRL computes as the old
  policy's log-probabilities. They come from ``output_logits``, which keeps ``steps x batch x vocab`` floats for
  a micro-batch: lower ``batch_size`` for long completions with large vocabularies.

torch and transformers are imported when a policy is built, not when this module is imported.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..exceptions import BackendUnavailableError
from ..types import Completion, SamplingParams, Tokenizer

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["HFPolicy"]

logger = logging.getLogger(__name__)

_INSTALL_HINT = 'pip install "memalpha-rollout[hf]"'
_DTYPES = ("auto", "float32", "bfloat16", "float16")


def _require_torch() -> None:
    """Fail with `BackendUnavailableError` naming the extra when torch or transformers is missing."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailableError(
            f"the 'hf' policy needs torch and transformers ({exc}); install them with: {_INSTALL_HINT}"
        ) from exc


class HFPolicy:
    """A token-level `memalpha_rollout.types.Policy` over a ``transformers`` causal LM.

    Args:
        model: a causal LM (``AutoModelForCausalLM``); generation runs in eval mode under ``torch.inference_mode``
            and the model's training flag is restored afterwards, so a model being trained can be shared.
        tokenizer: its tokenizer; it must define an end-of-sequence token. Its pad token pads the batches (the
            end-of-sequence token when it has none).
        batch_size: how many prompts go through ``generate`` together.
        device: where to run; the model is moved there. ``None`` keeps the model where it is.

    Raises:
        BackendUnavailableError: torch or transformers is not installed.
        ValueError: ``batch_size`` is below 1, or the tokenizer has no end-of-sequence token.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        batch_size: int = 16,
        device: str | torch.device | None = None,
    ) -> None:
        _require_torch()
        import torch

        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size!r}")
        eos = tokenizer.eos_token_id
        if not isinstance(eos, int):
            raise ValueError(
                f"the tokenizer {type(tokenizer).__name__} has no end-of-sequence token (eos_token_id={eos!r}); "
                "set tokenizer.eos_token before building the policy"
            )
        pad = tokenizer.pad_token_id
        self._eos: int = eos
        self._pad: int = pad if isinstance(pad, int) else eos
        self._model: Any = cast(Any, model)  # transformers' own annotations are partial
        self._tokenizer: Any = cast(Any, tokenizer)
        if device is not None:
            self._model.to(torch.device(device))
        self._device: torch.device = next(self._model.parameters()).device
        self._batch_size = batch_size
        self._vocab_size = int(self._model.get_input_embeddings().weight.shape[0])

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        *,
        dtype: str = "float32",
        device: str | torch.device | None = None,
        batch_size: int = 16,
        **model_kwargs: Any,
    ) -> HFPolicy:
        """Load a model folder (model and tokenizer, as ``save_pretrained`` writes them) into a policy.

        Args:
            path: the model folder.
            dtype: ``"float32"`` (the default: exact on CPU), ``"bfloat16"``, ``"float16"`` or ``"auto"`` (the
                dtype the checkpoint was saved in).
            device: where to run; ``None`` picks CUDA when available, else the CPU.
            batch_size: see `HFPolicy`.
            **model_kwargs: passed to ``AutoModelForCausalLM.from_pretrained`` (``attn_implementation=...``).

        Returns:
            The policy, its model in eval mode.

        Raises:
            BackendUnavailableError: torch or transformers is not installed.
            ValueError: ``dtype`` is not one of the names above.
        """
        _require_torch()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {_DTYPES!r}, got {dtype!r}")
        torch_dtype: str | torch.dtype = dtype if dtype == "auto" else getattr(torch, dtype)
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        model: Any = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch_dtype, **model_kwargs)
        logger.info("loaded %s (%s, %s) for the hf policy", path, dtype, device)
        return cls(model.eval(), tokenizer, batch_size=batch_size, device=device)

    @property
    def tokenizer(self) -> Tokenizer:
        """The model's tokenizer (a ``transformers`` tokenizer)."""
        return cast(Tokenizer, self._tokenizer)

    @property
    def model(self) -> PreTrainedModel:
        """The wrapped ``transformers`` model."""
        return cast("PreTrainedModel", self._model)

    @property
    def device(self) -> torch.device:
        """The device generation runs on."""
        return self._device

    def generate(self, prompt_ids: Sequence[Sequence[int]], sampling: SamplingParams) -> list[Completion]:
        """One completion per prompt, in input order.

        Args:
            prompt_ids: the prompts as token ids (each non-empty).
            sampling: how to sample. A ``seed`` makes sampling reproducible for the same prompts and
                ``batch_size``: the global torch RNG is seeded inside ``torch.random.fork_rng``, so the
                caller's RNG state is left as it was. Without a seed the global torch RNG is used (and advanced).

        Returns:
            The completions (see the module docstring for what they hold).

        Raises:
            ValueError: a prompt is empty or holds an id outside the vocabulary.
        """
        import torch

        prompts = [list(map(int, prompt)) for prompt in prompt_ids]
        for index, prompt in enumerate(prompts):
            if not prompt:
                raise ValueError(f"prompt {index} is empty: every prompt needs at least one token id")
            if min(prompt) < 0 or max(prompt) >= self._vocab_size:
                bad = next(i for i in prompt if not 0 <= i < self._vocab_size)
                raise ValueError(
                    f"prompt {index} holds token id {bad!r}, outside the model's vocabulary of {self._vocab_size}"
                )
        if not prompts:
            return []
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        results: list[Completion | None] = [None] * len(prompts)
        was_training = self._model.training
        self._model.eval()
        try:
            with torch.inference_mode(), self._seeded(sampling.seed):
                for start in range(0, len(order), self._batch_size):
                    batch = order[start : start + self._batch_size]
                    for index, completion in zip(
                        batch, self._generate_batch([prompts[i] for i in batch], sampling), strict=True
                    ):
                        results[index] = completion
        finally:
            self._model.train(was_training)
        return [completion for completion in results if completion is not None]

    @contextlib.contextmanager
    def _seeded(self, seed: int | None) -> Iterator[None]:
        """Seed the global torch RNG for the block and restore its state afterwards (no-op without a seed)."""
        import torch

        if seed is None:
            yield
            return
        devices = [self._device.index or 0] if self._device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    def _generation_config(self, sampling: SamplingParams) -> Any:
        """A ``GenerationConfig`` that sets every sampling knob (the model's own defaults would fill the rest)."""
        from transformers import GenerationConfig

        config_class: Any = GenerationConfig  # untyped constructor
        # greedy: the filters are left unset (transformers warns about sampling flags set without sampling)
        filters = {} if sampling.greedy else {"temperature": sampling.temperature, "top_p": sampling.top_p}
        return config_class(
            max_new_tokens=sampling.max_tokens,
            do_sample=not sampling.greedy,
            top_k=None if sampling.greedy else sampling.top_k,  # 0 is off; unset, transformers would use 50
            **filters,
            typical_p=1.0,
            repetition_penalty=1.0,
            no_repeat_ngram_size=0,
            num_beams=1,
            num_return_sequences=1,
            eos_token_id=self._eos,
            pad_token_id=self._pad,
            stop_strings=list(sampling.stop) or None,
            return_dict_in_generate=True,
            output_logits=sampling.logprobs,
        )

    def _generate_batch(self, prompts: list[list[int]], sampling: SamplingParams) -> list[Completion]:
        """Generate for one micro-batch: left-pad, ``model.generate``, then cut and decode each row."""
        import torch

        width = max(len(prompt) for prompt in prompts)
        input_ids = torch.full((len(prompts), width), self._pad, dtype=torch.long)
        attention_mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            input_ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            attention_mask[row, width - len(prompt) :] = 1
        output = self._model.generate(
            input_ids=input_ids.to(self._device),
            attention_mask=attention_mask.to(self._device),
            generation_config=self._generation_config(sampling),
            tokenizer=self._tokenizer if sampling.stop else None,
        )
        generated = output.sequences[:, width:]
        logprobs: torch.Tensor | None = None
        if sampling.logprobs:
            temperature = 1.0 if sampling.greedy else sampling.temperature
            steps = [
                torch.log_softmax(step_logits.float() / temperature, dim=-1)
                .gather(1, generated[:, t : t + 1])
                .squeeze(1)
                for t, step_logits in enumerate(output.logits)
            ]
            logprobs = torch.stack(steps, dim=1).cpu()
        rows = generated.cpu().tolist()
        completions = []
        for row, ids in enumerate(rows):
            length, finish_reason = self._cut(ids, sampling)
            kept = ids[:length]
            text = str(self._tokenizer.decode(kept, skip_special_tokens=True))
            if finish_reason == "stop" and sampling.stop:
                text = _before_stop(text, sampling.stop)
            completions.append(
                Completion(
                    text=text,
                    ids=tuple(kept),
                    logprobs=None if logprobs is None else tuple(float(x) for x in logprobs[row, :length]),
                    finish_reason=finish_reason,
                )
            )
        return completions

    def _cut(self, ids: list[int], sampling: SamplingParams) -> tuple[int, str]:
        """How many generated ids to keep and why generation ended (``"stop"`` or ``"length"``)."""
        eos_at = ids.index(self._eos) if self._eos in ids else None
        limit = len(ids) if eos_at is None else eos_at + 1
        if sampling.stop:
            stop_length = self._shortest_prefix_with_stop(ids[:limit], sampling.stop)
            if stop_length is not None:
                return stop_length, "stop"
        if eos_at is not None:
            return eos_at + 1, "stop"
        if len(ids) < sampling.max_tokens:  # the batch ran on after this row stopped (pad filled the rest)
            logger.debug(
                "a row ended after %d of %d tokens without eos or a stop string", len(ids), sampling.max_tokens
            )
        return len(ids), "length"

    def _shortest_prefix_with_stop(self, ids: list[int], stop: Sequence[str]) -> int | None:
        """The length of the shortest prefix of ``ids`` whose text holds a stop string (binary search), or None."""

        def holds_stop(length: int) -> bool:
            text = str(self._tokenizer.decode(ids[:length], skip_special_tokens=False))
            return any(s in text for s in stop)

        if not ids or not holds_stop(len(ids)):
            return None
        low, high = 1, len(ids)
        while low < high:
            middle = (low + high) // 2
            if holds_stop(middle):
                high = middle
            else:
                low = middle + 1
        return low


def _before_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the first occurrence of any stop string (all of it when none occurs)."""
    positions = [position for position in (text.find(s) for s in stop) if position >= 0]
    return text[: min(positions)] if positions else text
