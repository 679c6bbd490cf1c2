"""Chat templating: turning chat messages into prompt ids for token policies, and completing conversations
with either kind of policy (the answerers and judges use this; the engine uses `render_prompt_ids`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .types import ChatPolicy, Completion, Message, Policy, SamplingParams, Tokenizer

__all__ = ["complete_messages", "is_token_policy", "render_prompt_ids", "render_prompt_text"]


def render_prompt_text(tokenizer: Tokenizer, messages: Sequence[Message], **template_kwargs: Any) -> str:
    """The prompt text of ``messages`` under the tokenizer's chat template, ending with the assistant turn's opening.

    Qwen3 thinking is switched off (``enable_thinking=False``, as the paper does); templates without that
    variable ignore it.
    """
    kwargs: dict[str, Any] = {"enable_thinking": False, **template_kwargs}
    text = tokenizer.apply_chat_template(
        [dict(m) for m in messages], tokenize=False, add_generation_prompt=True, **kwargs
    )
    if not isinstance(text, str):
        raise TypeError(f"the tokenizer's chat template returned {type(text).__name__}, expected the prompt text")
    return text


def render_prompt_ids(tokenizer: Tokenizer, messages: Sequence[Message], **template_kwargs: Any) -> list[int]:
    """Token ids of `render_prompt_text` (no extra special tokens: the template already has them)."""
    return list(tokenizer.encode(render_prompt_text(tokenizer, messages, **template_kwargs), add_special_tokens=False))


def is_token_policy(policy: object) -> bool:
    """Whether ``policy`` is a token-level `Policy` (it has a tokenizer and ``generate``)."""
    return isinstance(policy, Policy)


def complete_messages(
    policy: Policy | ChatPolicy,
    conversations: Sequence[Sequence[Message]],
    sampling: SamplingParams,
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> list[Completion]:
    """One completion per conversation from either kind of policy, in order.

    A token policy gets the conversations rendered with its tokenizer's chat template; a chat policy gets the
    messages (and the tool schemas) as they are.
    """
    if not conversations:
        return []
    if isinstance(policy, Policy):
        prompts = [render_prompt_ids(policy.tokenizer, messages) for messages in conversations]
        return policy.generate(prompts, sampling)
    if isinstance(policy, ChatPolicy):
        return policy.chat(conversations, sampling, tools)
    raise TypeError(
        f"{type(policy).__name__} is not a policy: it needs generate(prompt_ids, sampling) and a tokenizer, "
        "or chat(conversations, sampling, tools)"
    )
