"""The writer's per-chunk prompt (paper §4.2), in our own wording with the paper's structure.

A fresh prompt for every chunk (context reset): a system message with the memorizing instructions, the tool
section of the chosen tool-call format and the current memory view (core in full plus the most recent semantic
and episodic items, with ids); and a user message with the chunk between ``<new_chunk>`` tags. When
the prompt is over budget, the number of recent items shown is halved (5 → 2 → 1 → 0) until it fits, as the
paper's trainer does.

Two prompt styles: ``full`` (the above, about a thousand tokens with the hermes tool schemas) and ``compact`` (a
few sentences of instructions, one line per tool, and a one-line instruction before the chunk), for small models
trained on CPU. Both keep the memory view and the ``<new_chunk>`` tags, so `chunk_text` reads either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from memalpha_memory import WorkingMemory

__all__ = [
    "PROMPT_STYLES",
    "PromptBuild",
    "PromptStyle",
    "build_messages",
    "chunk_text",
    "fit_prompt",
    "message_text",
    "recent_schedule",
]

PromptStyle = Literal["full", "compact"]
PROMPT_STYLES: tuple[PromptStyle, ...] = get_args(PromptStyle)

SYSTEM_INSTRUCTIONS = """\
You are an assistant with a structured long-term memory. Your job right now is to read what the user shares, \
understand it, and store what matters in memory, so that questions about it can be answered later from the \
memory alone.

How to memorize:
1. Read the new content and pick out the key facts, entities, events, dates and relationships.
2. Store each piece in the right memory:
   - core_memory: one short paragraph summarising what you know so far (who the user is, what they are reading, \
or the labelling rules behind the examples). Rewrite it with memory_update; it cannot be inserted into.
   - semantic_memory: facts and general knowledge, one fact per item.
   - episodic_memory: events with their time (always), place and context, one event per item.
3. Update or delete an item (by its [id]) when new content changes or contradicts it; do not store duplicates.

Make every tool call you need in this one reply: you see this content only once. Reply "Done" if nothing \
needs storing."""

MEMORY_BLOCK = """\
CURRENT MEMORY:
{memory_view}"""


USER_TEMPLATE = """\
Memorize the content below:
1. Core memory: keep a brief overview (a few sentences at most): who the user is, a summary of what is being \
read, or the rules behind the labelled examples ("label 1: meaning; label 2: meaning").
2. Semantic and episodic memory: store key facts ("Ana is the user's sister; she lives in Porto", \
"Sentence: ...; Label: 3") and timestamped events ("On 2024-03-02, the user visited Porto with Ana").

<new_chunk>
{chunk}
</new_chunk>

Your reply may be at most {max_new_tokens} tokens: keep every memory item concise."""

COMPACT_SYSTEM_INSTRUCTIONS = """\
Store the key facts and events of the new chunk in memory with tool calls. core_memory: one short summary \
paragraph, rewritten with memory_update. semantic_memory: facts; episodic_memory: dated events; one per item. \
Reply "Done" if nothing needs storing."""

COMPACT_USER_TEMPLATE = """\
Memorize this chunk (reply in at most {max_new_tokens} tokens):
<new_chunk>
{chunk}
</new_chunk>"""


def build_messages(
    memory_view: str,
    chunk: str,
    tools_section: str,
    *,
    max_new_tokens: int,
    tools_first: bool = True,
    style: PromptStyle = "full",
) -> list[dict[str, str]]:
    """The ``[system, user]`` messages of one chunk step.

    With ``tools_first`` the system message is instructions, tools, then the memory: every prompt of a step then
    shares its first several hundred tokens, which vLLM's prefix cache computes once. ``tools_first=False`` keeps
    the paper's layout (Qwen-Agent appends the tools after the memory), for the ``qwen-agent`` format. ``style``
    picks the instructions (``full`` or ``compact``); pass the tool section rendered in the same style.
    """
    if style not in PROMPT_STYLES:
        raise ValueError(f"unknown prompt style {style!r}; use one of: {', '.join(PROMPT_STYLES)}")
    instructions, user = (
        (SYSTEM_INSTRUCTIONS, USER_TEMPLATE)
        if style == "full"
        else (COMPACT_SYSTEM_INSTRUCTIONS, COMPACT_USER_TEMPLATE)
    )
    memory = MEMORY_BLOCK.format(memory_view=memory_view)
    parts = [instructions, tools_section, memory] if tools_first else [instructions, memory, tools_section]
    return [
        {"role": "system", "content": "\n\n".join(p for p in parts if p)},
        {"role": "user", "content": user.format(chunk=chunk, max_new_tokens=max_new_tokens)},
    ]


def recent_schedule(recent: int) -> list[int]:
    """How many recent items to try showing, largest first: ``5 → [5, 2, 1, 0]`` (halving, as the paper)."""
    schedule = []
    while recent > 0:
        schedule.append(recent)
        recent //= 2
    return [*schedule, 0]


@dataclass(frozen=True, slots=True)
class PromptBuild:
    """One step's prompt: messages, token ids (token policies), its length and the recent items shown."""

    messages: list[dict[str, str]]
    prompt_ids: list[int] | None
    num_tokens: int
    recent_shown: int
    over_budget: bool


def fit_prompt(
    memory: WorkingMemory,
    chunk: str,
    tools_section: str,
    *,
    max_prompt_tokens: int,
    max_new_tokens: int,
    recent: int = 5,
    encode: Callable[[Sequence[Mapping[str, Any]]], list[int]] | None = None,
    count: Callable[[str], int] | None = None,
    tools_first: bool = True,
    style: PromptStyle = "full",
) -> PromptBuild:
    """Build the step prompt, showing fewer recent items until it fits ``max_prompt_tokens``.

    Token policies pass ``encode`` (messages → prompt ids under their chat template) and the length is exact;
    chat policies pass ``count`` (a text token counter) and the length is estimated on the message texts. A
    prompt still over budget with no recent items shown is returned with ``over_budget=True``. ``tools_first`` and
    ``style`` are passed to `build_messages`.
    """
    if encode is None and count is None:
        raise ValueError("fit_prompt needs encode (token policies) or count (chat policies)")
    build: PromptBuild | None = None
    for shown in recent_schedule(recent):
        view = memory.render_view(shown)
        messages = build_messages(
            view, chunk, tools_section, max_new_tokens=max_new_tokens, tools_first=tools_first, style=style
        )
        if encode is not None:
            ids: list[int] | None = encode(messages)
            size = len(ids) if ids is not None else 0
        else:
            ids = None
            assert count is not None
            size = sum(count(m["content"]) for m in messages)
        build = PromptBuild(messages, ids, size, shown, size > max_prompt_tokens)
        if size <= max_prompt_tokens:
            return build
    assert build is not None
    return build


def message_text(content: object) -> str:
    """A message's content as text (OpenAI-style content parts are joined)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI-style content parts
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return "" if content is None else str(content)


def chunk_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The chunk shown to the policy: the last user message between ``<new_chunk>`` and ``</new_chunk>``.

    Without those tags the whole last user message; without a user message, an empty string.
    """
    users = [m for m in messages if m.get("role") == "user"]
    if not users:
        return ""
    text = message_text(users[-1].get("content"))
    start = text.find("<new_chunk>")
    end = text.rfind("</new_chunk>")
    if start == -1 or end < start:
        return text
    return text[start + len("<new_chunk>") : end].strip("\n")
