"""Test helpers shipped with the library: a tiny tokenizer and a tiny causal LM, built offline in well under a second.

They let the policies, the engine and the trainer be tested on CPU without any hub download:

- `build_tiny_tokenizer` trains a byte-level BPE tokenizer on a small built-in corpus that holds the memory tool
  names, JSON and both tool-call syntaxes (Qwen-Agent's ``✿FUNCTION✿``/``✿ARGS✿`` and hermes' ``<tool_call>``),
  with ChatML special tokens and a ChatML chat template;
- `build_tiny_model` saves a randomly initialised two-layer Qwen2 model (about 0.1 M parameters) with that
  tokenizer to a folder that ``transformers``, `memalpha_rollout.policies.hf.HFPolicy` and vLLM all load.

Both are deterministic: the same seed gives the same files. They need the ``hf`` extra
(``pip install "memalpha-rollout[hf]"``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memalpha_memory import tool_schemas

from .exceptions import BackendUnavailableError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

__all__ = ["CHATML_TEMPLATE", "build_tiny_model", "build_tiny_tokenizer"]

logger = logging.getLogger(__name__)

_MAX_VOCAB_SIZE = 1024  # the corpus runs out of merges first (about 760 tokens)

CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + (message['content'] or '') + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
"""A plain ChatML template: one ``<|im_start|>role\\ncontent<|im_end|>`` block per message, any role."""

_PAD, _IM_START, _IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
_SPECIAL_TOKENS = [_PAD, _IM_START, _IM_END]


def _corpus() -> list[str]:
    """The built-in training text: chat turns, the memory tools' schemas and calls in both syntaxes, prose, digits."""
    schemas = tool_schemas(include_search=True)
    calls = []
    for name in (schema["function"]["name"] for schema in schemas):
        arguments = json.dumps({"memory_type": "semantic_memory", "content": "Maria lives in Lisbon.", "id": "a1b2"})
        calls.append(f"✿FUNCTION✿: {name}\n✿ARGS✿: {arguments}\n✿RESULT✿: ok\n✿RETURN✿: done")
        calls.append(f'<tool_call>\n{{"name": "{name}", "arguments": {arguments}}}\n</tool_call>')
    prose = [
        "The user shares a chunk of text. Read it and decide what to remember.",
        "Core memory holds a short summary; semantic memory holds facts; episodic memory holds timestamped events.",
        "What is the capital of France? The capital of France is Paris.",
        "On Monday at 9:30 Maria met Tom at the station, then they took the train to Porto.",
        "Question: where does Maria live? Answer: Lisbon.",
        "0 1 2 3 4 5 6 7 8 9 10 42 100 2024-05-17 12:00 {} [] : , \" ' ( ) - _ . ! ?",
    ]
    chat = [
        f"{_IM_START}system\nYou are a memory agent.{_IM_END}\n{_IM_START}user\n{line}{_IM_END}\n"
        f"{_IM_START}assistant\n{call}{_IM_END}\n"
        for line, call in zip(prose * 2, calls, strict=False)
    ]
    return [json.dumps(schema) for schema in schemas] + calls + prose + chat


def build_tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A small byte-level BPE tokenizer with ChatML special tokens, trained in a fraction of a second.

    ``<|endoftext|>`` is the pad token, ``<|im_end|>`` the end-of-sequence token, padding is on the left (as
    generation needs) and the chat template is `CHATML_TEMPLATE`. Any text round-trips (byte-level).

    Returns:
        A ``transformers`` fast tokenizer; save it with ``save_pretrained``.

    Raises:
        BackendUnavailableError: ``tokenizers`` or ``transformers`` is not installed.
    """
    try:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
        from transformers import PreTrainedTokenizerFast
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise BackendUnavailableError(
            f"the tiny test tokenizer needs transformers and tokenizers ({exc}); "
            'install them with: pip install "memalpha-rollout[hf]"'
        ) from exc
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=_MAX_VOCAB_SIZE,
        special_tokens=_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_corpus(), trainer=trainer)
    tokenizer_class: Any = PreTrainedTokenizerFast  # untyped constructor
    tokenizer: PreTrainedTokenizerFast = tokenizer_class(
        tokenizer_object=bpe,
        pad_token=_PAD,
        eos_token=_IM_END,
        additional_special_tokens=[_IM_START],
        padding_side="left",
        chat_template=CHATML_TEMPLATE,
        model_max_length=4096,
    )
    return tokenizer


def build_tiny_model(path: str | Path, *, seed: int = 0) -> Path:
    """Save a tiny random Qwen2 causal LM and `build_tiny_tokenizer`'s tokenizer to ``path``.

    The architecture: hidden size 64, 2 attention heads (head_dim 32, the smallest vLLM's CPU attention
    supports), 1 key/value head, 2 layers, MLP size 128, tied embeddings, float32, 4096 positions. The weights
    are drawn at a large scale (``initializer_range=0.5``) so that greedy completions vary with the prompt.

    Args:
        path: the folder to write (created if needed; existing files of the same names are overwritten).
        seed: the weights' seed; the global torch RNG is left as it was.

    Returns:
        ``path`` as a `Path`, ready for ``from_pretrained``.

    Raises:
        BackendUnavailableError: torch or transformers is not installed.
    """
    try:
        import torch
        from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise BackendUnavailableError(
            f"the tiny test model needs torch and transformers ({exc}); "
            'install them with: pip install "memalpha-rollout[hf]"'
        ) from exc
    folder = Path(path)
    tokenizer = build_tiny_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        # weights 25x the usual scale: with 0.02, greedy decoding only repeats the last prompt token and the
        # next-token distribution is nearly flat; at 0.5 completions vary and the top logits stand well apart
        initializer_range=0.5,
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        dtype="float32",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    generation_config: Any = GenerationConfig  # untyped constructor
    model.generation_config = generation_config(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.pad_token_id
    )
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    logger.debug("tiny model (%d parameters, seed %d) saved to %s", model.num_parameters(), seed, folder)
    return folder
