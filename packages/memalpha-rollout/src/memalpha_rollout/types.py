"""The seam between the episode engine and the models that write memory: sampling, completions, policies.

Two kinds of policy exist, and the engine drives both:

- a **token policy** (`Policy`: ``hf``, ``vllm``, the trainer's own) turns prompt token ids into completions.
  It exposes its ``tokenizer``; the engine renders chat messages with the tokenizer's chat template and owns
  the tool-call text format (rendering the tool section, parsing the calls out of the completion);
- a **chat policy** (`ChatPolicy`: ``openai``, ``heuristic``, the scripted test double) takes chat messages and
  the tool schemas and returns text, optionally with structured (native) tool calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias, runtime_checkable

__all__ = [
    "ChatPolicy",
    "Completion",
    "Message",
    "Policy",
    "SamplingParams",
    "Tokenizer",
    "ToolCall",
]

Message: TypeAlias = Mapping[str, Any]
"""A chat message: ``{"role": "system" | "user" | "assistant", "content": str}``."""


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """How to sample one completion per prompt.

    ``temperature=0`` is greedy decoding. ``top_k=0`` and ``top_p=1`` switch those filters off.
    ``logprobs`` asks token policies for the log-probability of every sampled token.
    """

    max_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logprobs: bool = False

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens!r}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 is greedy), got {self.temperature!r}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0 is off), got {self.top_k!r}")

    @property
    def greedy(self) -> bool:
        """Whether this is greedy decoding (temperature 0)."""
        return self.temperature == 0


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call as the model emitted it.

    ``arguments`` is kept as emitted (usually a JSON string, possibly broken): the memory parses and repairs
    it, so a malformed call becomes an error result that the reward counts, never an exception.
    """

    name: str
    arguments: str | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Completion:
    """One generated completion.

    Token policies fill ``ids`` (the sampled token ids, without the prompt) and, when asked, ``logprobs`` (one
    per id). ``tool_calls`` holds native, structured calls (an OpenAI-compatible server's ``tool_calls``, the
    heuristic teacher); ``None`` means the calls are to be parsed out of ``text``.
    """

    text: str
    ids: tuple[int, ...] = ()
    logprobs: tuple[float, ...] | None = None
    tool_calls: tuple[ToolCall, ...] | None = None
    finish_reason: str | None = None


@runtime_checkable
class Tokenizer(Protocol):
    """The part of a Hugging Face tokenizer the engine uses."""

    eos_token_id: int | None

    def apply_chat_template(self, conversation: Any, **kwargs: Any) -> Any: ...

    def encode(self, text: str, **kwargs: Any) -> list[int]: ...

    def decode(self, token_ids: Any, **kwargs: Any) -> str: ...


@runtime_checkable
class Policy(Protocol):
    """A token-level policy: prompt ids in, one completion per prompt out, in order."""

    @property
    def tokenizer(self) -> Tokenizer: ...

    def generate(self, prompt_ids: Sequence[Sequence[int]], sampling: SamplingParams) -> list[Completion]: ...


@runtime_checkable
class ChatPolicy(Protocol):
    """A message-level policy: one conversation in, one completion out, in order.

    ``tools`` are OpenAI function-tool dicts; a policy that cannot call tools natively may ignore them (the
    engine has already described the tools and their call format in the system message).
    """

    def chat(
        self,
        conversations: Sequence[Sequence[Message]],
        sampling: SamplingParams,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[Completion]: ...
