"""Packing generated units into dated, wrapped chunks with exact token accounting.

A capability's generator proposes one unit at a time (a dialogue exchange, a labelled example, a sentence of a
story) for the chunk being filled, knowing its date. `fill` places it if it fits the chunk's budget, or closes
the chunk and asks again for the next one; the unit's `commit` then records what the stream now states. Tokens
are counted once per unit: the default counter's tokens never span whitespace, so a chunk's count is the sum of
its wrapper's and its units' counts. `fill` stops when one more unit would take the stream further from the
length target than it is, unless the unit is `required` (a label not yet shown, an update still owed).

Chunks are wrapped by `dialogue.wrap_chunk` (the styles of paper §4.1) with dates from `dialogue.dialogue_dates`:
one day per chunk for dialogues, 1-3 days for reading, as `dialogue.wrap_chunks` does.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from memalpha_data.dialogue import DEFAULT_START, ChunkStyle, dialogue_dates, wrap_chunk
from memalpha_data.tokens import count_tokens

_MARK = "\x00"  # stands for the body while the wrapper is counted; one token under the default counter


@dataclass(frozen=True, slots=True)
class Unit:
    """A piece of text for the open chunk: `text` already starts with what joins it to the previous unit."""

    text: str
    tokens: int
    commit: Callable[[int], None] | None = None
    """Called with the chunk index once the unit is placed (records the facts it states)."""
    required: bool = False
    """Placed even past the length target (the stream would be wrong without it)."""


class NewChunk:
    """A proposal to close the open chunk first (a fact must not share a chunk with its previous value)."""


NEW_CHUNK: Final = NewChunk()

Proposal = Unit | NewChunk | None
"""What a generator proposes: a unit, a request for a new chunk, or `None` when it has nothing more to say."""


def unit(text: str, commit: Callable[[int], None] | None = None, *, required: bool = False) -> Unit:
    """A unit of `text`, counted once."""
    return Unit(text, count_tokens(text), commit, required)


class ChunkWriter:
    """The stream being built: closed chunks, their dates and token counts, and the chunk being filled."""

    def __init__(self, style: ChunkStyle, budget: int | tuple[int, int], *, rng: random.Random) -> None:
        self.style: ChunkStyle = style
        self.chunks: list[str] = []
        self.dates: list[datetime] = []
        self.token_counts: list[int] = []
        self._budget = budget
        self._rng = rng
        self._steps = (1, 3) if style == "reading" else (1, 1)
        self._day = DEFAULT_START.replace(hour=0, minute=0)
        self._closed_tokens = 0
        self._body: list[str] = []
        self._used = 0
        self._open = False
        self._shell = ""
        self._when = DEFAULT_START
        self._overhead = 0
        self._limit = 0
        self._overhead_seen = [0, 0]  # sum, count

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def index(self) -> int:
        """Index the open chunk will have."""
        return len(self.chunks)

    @property
    def date(self) -> datetime:
        """Date of the open chunk."""
        return self._when

    @property
    def is_first(self) -> bool:
        """Whether the open chunk is still empty."""
        return not self._body

    @property
    def room(self) -> int:
        """Tokens the open chunk can still take."""
        return self._limit - self._overhead - self._used

    @property
    def total_tokens(self) -> int:
        """Tokens in the stream so far, the open chunk included once it holds something."""
        return self._closed_tokens + (self._overhead + self._used if self._body else 0)

    @property
    def overhead(self) -> int:
        """Wrapper tokens of the open chunk."""
        return self._overhead

    @property
    def mean_overhead(self) -> float:
        total, count = self._overhead_seen
        return total / count if count else 0.0

    def open(self) -> None:
        """Start a chunk: draw its date and wrapper, measure the wrapper."""
        if self._overhead_seen[1]:  # every chunk after the first starts some days later
            self._day += timedelta(days=self._rng.randint(*self._steps))
        self._when = dialogue_dates(1, rng=self._rng, start=self._day)[0]
        self._shell = wrap_chunk(_MARK, self._when, self.style, rng=self._rng)
        self._overhead = count_tokens(self._shell) - 1
        budget = self._budget
        self._limit = self._rng.randint(*budget) if isinstance(budget, tuple) else budget
        self._overhead_seen[0] += self._overhead
        self._overhead_seen[1] += 1
        self._open = True

    def add(self, piece: Unit) -> None:
        self._body.append(piece.text)
        self._used += piece.tokens

    def close(self) -> None:
        """Finish the open chunk (an empty one is dropped)."""
        if self._body:
            self.chunks.append(self._shell.replace(_MARK, "".join(self._body), 1))
            self.dates.append(self._when)
            self.token_counts.append(self._overhead + self._used)
            self._closed_tokens += self._overhead + self._used
        self._body = []
        self._used = 0
        self._open = False


def _overshoots(total: int, cost: float, target: int) -> bool:
    """Whether adding `cost` tokens leaves the stream further from `target` than it is now."""
    after = total + cost
    return after > target and after - target > target - total


def fill(writer: ChunkWriter, propose: Callable[[ChunkWriter], Proposal], target: int) -> None:
    """Place proposed units until the stream holds about `target` tokens or the generator has nothing more."""
    while True:
        if not writer.is_open:
            writer.open()
        proposal = propose(writer)
        if proposal is None:
            return
        if isinstance(proposal, NewChunk):
            if writer.is_first:
                raise RuntimeError("the generator asked for a new chunk while the open one is empty")
            writer.close()
            continue
        if proposal.tokens > writer.room:
            if writer.is_first:
                raise RuntimeError(
                    f"a unit of {proposal.tokens} tokens does not fit an empty chunk ({writer.room} tokens left "
                    f"after the wrapper); raise chunk_tokens"
                )
            if not proposal.required and _overshoots(
                writer.total_tokens, writer.mean_overhead + proposal.tokens, target
            ):
                return
            writer.close()
            continue
        cost = proposal.tokens + (writer.overhead if writer.is_first else 0)
        if not proposal.required and _overshoots(writer.total_tokens, cost, target):
            return
        writer.add(proposal)
        if proposal.commit is not None:
            proposal.commit(writer.index)


def finish(writer: ChunkWriter) -> tuple[list[str], list[datetime], list[int]]:
    """Close the open chunk; the chunks, their dates and their token counts."""
    writer.close()
    return writer.chunks, writer.dates, writer.token_counts
