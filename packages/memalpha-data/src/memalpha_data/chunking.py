"""Cut text into chunks by token budget, on sentence or paragraph boundaries.

Budgets are either a fixed maximum or a `(low, high)` range from which a fresh target is drawn per chunk, as the
paper does for SQuAD and HotpotQA (uniform in [100, 2048] tokens). Units are packed greedily and never split
unless one alone is over the target: then it is cut at sentences, and a sentence over the target at words.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from typing import Literal

from memalpha_data.tokens import TokenCounter, count_tokens

Budget = int | tuple[int, int]
"""A chunk's maximum tokens, or a `(low, high)` range to draw each chunk's target from."""

_SENTENCE_END = re.compile(r"(?:(?<=[.!?…])|(?<=[.!?…][\"')\]]))\s+|\n+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def split_sentences(text: str) -> list[str]:
    """Sentences of `text` (a full stop, question or exclamation mark followed by space, or a line break)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs of `text`: blocks separated by blank lines."""
    return [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]


def draw_target(budget: Budget, rng: random.Random | None) -> int:
    """The token target of the next chunk: the budget itself, or a uniform draw from a `(low, high)` range (a
    two-item list, as a YAML recipe gives it, works too)."""
    if isinstance(budget, tuple | list):
        low, high = budget
        if not 0 < low <= high:
            raise ValueError(f"a budget range must satisfy 0 < low <= high, got {budget!r}")
        if rng is None:
            raise ValueError("a (low, high) budget draws a target per chunk: pass rng=random.Random(seed)")
        return rng.randint(low, high)
    if budget <= 0:
        raise ValueError(f"the token budget must be positive, got {budget!r}")
    return budget


def group_units(costs: Sequence[int], budget: Budget, rng: random.Random | None = None) -> list[list[int]]:
    """Indices of consecutive units (of the given token costs) grouped greedily into chunks of at most a target
    drawn from `budget` per chunk. Units are never split: one over its target makes a chunk of its own."""
    groups: list[list[int]] = []
    current: list[int] = []
    used = 0
    target = draw_target(budget, rng)
    for index, cost in enumerate(costs):
        if current and used + cost > target:
            groups.append(current)
            current, used = [], 0
            target = draw_target(budget, rng)
        current.append(index)
        used += cost
    if current:
        groups.append(current)
    return groups


def _cut_words(text: str, limit: int, counter: TokenCounter) -> list[str]:
    """Cut one oversized sentence into pieces of at most `limit` tokens at word boundaries."""
    pieces: list[str] = []
    words: list[str] = []
    used = 0
    for word in text.split():
        cost = counter(word)
        if words and used + cost > limit:
            pieces.append(" ".join(words))
            words, used = [], 0
        words.append(word)
        used += cost
    if words:
        pieces.append(" ".join(words))
    return pieces


def pack_chunks(
    units: Iterable[str],
    budget: Budget,
    *,
    counter: TokenCounter = count_tokens,
    rng: random.Random | None = None,
    separator: str = "\n",
) -> list[str]:
    """Pack text units (paragraphs, sentences, examples) greedily into chunks of at most the budget.

    A unit over the current target is split at sentences, then at words, so no chunk exceeds its target
    (measured as the sum of its units' token counts).
    """
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    target = draw_target(budget, rng)
    pending = [u for u in units if u.strip()]
    pending.reverse()  # a stack: oversized units are replaced by their pieces in order
    while pending:
        unit = pending.pop()
        cost = counter(unit)
        if used + cost <= target:
            current.append(unit)
            used += cost
            continue
        if current:
            chunks.append(separator.join(current))
            current, used = [], 0
            target = draw_target(budget, rng)
            pending.append(unit)
            continue
        # an empty chunk and a unit over the target: cut it smaller
        pieces = split_sentences(unit)
        if len(pieces) <= 1:
            pieces = _cut_words(unit, target, counter)
        if len(pieces) <= 1:  # a single word over the budget: it is a chunk of its own
            chunks.append(unit)
            target = draw_target(budget, rng)
            continue
        pending.extend(reversed(pieces))
    if current:
        chunks.append(separator.join(current))
    return chunks


def chunk_text(
    text: str,
    budget: Budget,
    *,
    by: Literal["sentence", "paragraph"] = "sentence",
    counter: TokenCounter = count_tokens,
    rng: random.Random | None = None,
) -> list[str]:
    """Chunks of `text` of at most `budget` tokens each, made of whole sentences or whole paragraphs."""
    if by == "paragraph":
        return pack_chunks(split_paragraphs(text), budget, counter=counter, rng=rng, separator="\n\n")
    return pack_chunks(split_sentences(text), budget, counter=counter, rng=rng, separator=" ")
