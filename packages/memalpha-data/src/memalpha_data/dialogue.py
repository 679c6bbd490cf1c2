"""Dialogue wrappers for chunks, with advancing dates (the chunk formats of paper §4.1, in our own wording).

Every chunk the agent reads is a short exchange: a user turn that hands over the text and, for facts, an
assistant acknowledgement. Dates advance from chunk to chunk so episodic memories can carry timestamps.

- `facts`: `[Dialogue between User and Assistant on YYYY-MM-DD HH:MM]`, a user template asking to remember
  the text, the text, an assistant acknowledgement. One day per chunk by default (the paper's SQuAD/HotpotQA).
- `classification`: the same header, a user template that introduces labelled examples.
- `reading`: `[Event on YYYY-MM-DD: the user is reading a book]`, the text, then a system line asking to keep the
  book's details and a running summary. Dates advance 1-3 days per chunk (the paper's BookSum).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from memalpha_data.chunking import Budget, pack_chunks
from memalpha_data.tokens import TokenCounter, count_tokens

ChunkStyle = Literal["facts", "classification", "reading"]

DEFAULT_START = datetime(2024, 1, 1, 9, 0)

_FACT_REQUESTS = (
    "Here is some new information. Please keep it in mind.",
    "I came across the following today; remember the details for me.",
    "Please store what follows; I may ask about it later.",
    "Some notes I want you to hold on to:",
    "Read this carefully and remember the facts in it.",
    "New material for you. Keep track of the names, dates and numbers.",
    "I'm sharing a passage. Please remember what it says.",
    "Take note of the following text.",
    "Can you remember this for me? It may come up again.",
    "Here's something worth remembering:",
    "Please file this away; the specifics matter.",
    "More reading for you. Remember the key points and details.",
)
_ACKNOWLEDGEMENTS = (
    "Got it, I'll remember this.",
    "Noted. I've kept the details.",
    "Thanks, I'll keep that in mind.",
    "Understood; I'll remember the specifics.",
    "All right, I have it stored.",
    "Okay, I'll hold on to that information.",
    "Done. Ask me about it whenever you like.",
    "I've taken note of it.",
    "Sure, remembered.",
    "Thanks for sharing; I'll keep it in memory.",
)
_EXAMPLE_REQUESTS = (
    "Here are labelled examples. Learn how sentences map to labels.",
    "Below are sentences with their labels; remember the labelling scheme.",
    "Study these classification examples; I'll ask you to label new sentences later.",
    "More examples of sentences and the label each one gets:",
    "Please learn from these labelled sentences.",
    "Each sentence below comes with its label. Keep track of what each label means.",
)
_READING_INSTRUCTION = (
    "Remember what the user read on {date}: keep the details of the book and a running summary of everything "
    "read so far."
)


def dialogue_dates(
    count: int,
    *,
    rng: random.Random,
    start: datetime = DEFAULT_START,
    step_days: tuple[int, int] = (1, 1),
) -> list[datetime]:
    """`count` increasing timestamps from `start`, `step_days` apart (a random whole number of days in the range)
    at a random minute of the working day."""
    low, high = step_days
    if not 0 <= low <= high:
        raise ValueError(f"step_days must satisfy 0 <= low <= high, got {step_days!r}")
    dates = []
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    for i in range(count):
        if i:
            day += timedelta(days=rng.randint(low, high))
        dates.append(day + timedelta(minutes=rng.randint(8 * 60, 20 * 60)))
    return dates


def wrap_chunk(text: str, when: datetime, style: ChunkStyle, *, rng: random.Random) -> str:
    """One chunk's text wrapped as a dialogue turn of `style` at time `when`."""
    stamp = when.strftime("%Y-%m-%d %H:%M")
    if style == "facts":
        return (
            f"[Dialogue between User and Assistant on {stamp}]\n"
            f"<User> {rng.choice(_FACT_REQUESTS)}\n{text}\n<Assistant> {rng.choice(_ACKNOWLEDGEMENTS)}"
        )
    if style == "classification":
        return (
            f"[Dialogue between User and Assistant on {stamp}]\n"
            f"<User> {rng.choice(_EXAMPLE_REQUESTS)}\n{text}\n<Assistant> {rng.choice(_ACKNOWLEDGEMENTS)}"
        )
    if style == "reading":
        day = when.strftime("%Y-%m-%d")
        return (
            f"[Event on {day}: the user is reading a book]\n<User> {text}\n\n"
            f"<System> {_READING_INSTRUCTION.format(date=day)}"
        )
    raise ValueError(f"unknown chunk style {style!r}; use 'facts', 'classification' or 'reading'")


def wrap_chunks(
    texts: list[str],
    style: ChunkStyle,
    *,
    rng: random.Random,
    start: datetime = DEFAULT_START,
    step_days: tuple[int, int] | None = None,
) -> tuple[list[str], list[datetime]]:
    """Wrap every chunk as a dialogue turn with advancing dates; returns the chunks and their dates.

    `step_days` defaults to one day per chunk, 1-3 days for `reading`.
    """
    steps = step_days or ((1, 3) if style == "reading" else (1, 1))
    dates = dialogue_dates(len(texts), rng=rng, start=start, step_days=steps)
    return [wrap_chunk(text, when, style, rng=rng) for text, when in zip(texts, dates, strict=True)], dates


def chunk_conversation(
    messages: Sequence[Mapping[str, Any]], budget: Budget, *, counter: TokenCounter = count_tokens
) -> list[str]:
    """A conversation log as chunks of whole turns, for a memory writer to read (``memalpha memory build``).

    Each message is ``{"role": ..., "content": ..., "timestamp": ...}`` (timestamp optional). A turn becomes a line
    ``<User> text`` (the role capitalised); a ``[Dialogue at TIMESTAMP]`` line opens each run of turns whose
    timestamp changed, so the writer can date its episodic memories. Turns are packed into chunks of at most
    ``budget`` tokens (a turn longer than that is split at sentences).
    """
    units: list[str] = []
    last_stamp: object = None
    for index, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or not role.strip() or not isinstance(content, str):
            raise ValueError(
                f"message {index} is not a chat turn: it needs a 'role' and a string 'content', "
                f"got {dict(message)!r:.200}"
            )
        if not content.strip():
            continue
        stamp = message.get("timestamp")
        line = f"<{role.strip().capitalize()}> {content.strip()}"
        if stamp is not None and stamp != last_stamp:
            line = f"[Dialogue at {stamp}]\n{line}"
            last_stamp = stamp
        units.append(line)
    return pack_chunks(units, budget, counter=counter, separator="\n")
