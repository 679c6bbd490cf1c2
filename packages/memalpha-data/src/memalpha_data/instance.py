"""The instance: a stream of chunks a memory agent reads one at a time, and the questions asked afterwards."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from memalpha_data.tokens import TokenCounter, count_tokens

Capability = Literal["AR", "TTL", "LRU", "CR"]
"""MemoryAgentBench's four capabilities: accurate retrieval, test-time learning, long-range understanding,
conflict resolution."""

MetricName = Literal[
    "sub_em",
    "sub_em_normalized",
    "boxed_label_em",
    "multipart_match",
    "keyword_hit",
    "exact_match",
    "conflict_aware",
    "llm_judge",
]
"""Names of the per-question metrics in `memalpha_data.metrics` (paper §6.2 plus MemoryAgentBench's)."""

DEFAULT_PROMPT = (
    "You will read a long stream of text in chunks. Afterwards, answer questions about it from what you remember."
)

CAPABILITIES: tuple[Capability, ...] = ("AR", "TTL", "LRU", "CR")


class Question(BaseModel):
    """One question about an instance, its accepted answers and how an answer is scored.

    `superseded` lists values that were true earlier in the stream and are no longer (conflict resolution):
    `conflict_aware` scores an answer that still states one of them as wrong.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str = Field(min_length=1)
    answers: list[str] = Field(min_length=1)
    metric: MetricName = "sub_em"
    query_prefix: str | None = None
    superseded: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("answers")
    @classmethod
    def _answers_not_blank(cls, answers: list[str]) -> list[str]:
        if any(not a.strip() for a in answers):
            raise ValueError(f"answers must not be blank, got {answers!r}")
        return answers


class Instance(BaseModel):
    """A stream of chunks with questions: the unit of one rollout episode and of one evaluation item."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    data_source: str = Field(min_length=1)
    capability: Capability
    chunks: list[str] = Field(min_length=1)
    questions: list[Question] = Field(min_length=1)
    prompt: str = DEFAULT_PROMPT
    """A generic task description (the paper's `prompt` column, read by long-context baselines)."""
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("chunks")
    @classmethod
    def _chunks_not_blank(cls, chunks: list[str]) -> list[str]:
        for i, chunk in enumerate(chunks):
            if not chunk.strip():
                raise ValueError(f"chunk {i} is blank")
        return chunks

    @property
    def num_chunks(self) -> int:
        return len(self.chunks)

    @property
    def num_questions(self) -> int:
        return len(self.questions)

    def chunk_tokens(self, counter: TokenCounter = count_tokens) -> list[int]:
        """Tokens per chunk under `counter`."""
        return [counter(chunk) for chunk in self.chunks]

    def total_tokens(self, counter: TokenCounter = count_tokens) -> int:
        """Tokens in the whole stream under `counter`."""
        return sum(self.chunk_tokens(counter))
