"""`GeneratorConfig`: every knob of the procedural generator, validated up front.

The config is data (recipes write it in YAML), so it is a frozen pydantic model that rejects unknown fields;
a bad value raises a `pydantic.ValidationError` (a `ValueError`) that names the field.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from memalpha_data.instance import Capability

QuestionType = Literal["semantic", "episodic", "multi_hop", "current", "label", "summary", "chapter", "detail"]

QUESTION_TYPES: dict[Capability, tuple[QuestionType, ...]] = {
    "AR": ("semantic", "episodic", "multi_hop"),
    "CR": ("current", "multi_hop"),
    "TTL": ("label",),
    "LRU": ("summary", "chapter", "detail"),
}
"""The question types each capability can ask."""

DEFAULT_QUESTION_TYPES: dict[Capability, tuple[QuestionType, ...]] = {
    "AR": ("semantic", "episodic", "multi_hop"),
    "CR": ("current",),
    "TTL": ("label",),
    "LRU": ("summary",),
}

MIN_CHUNK_TOKENS = 160
"""The smallest chunk budget: a chunk's wrapper takes up to about 60 tokens and one dialogue exchange up to 90."""

TOKENS_PER_LABEL = 40
"""TTL shows every label at least once, so the stream needs about this many tokens per label."""

_DATA_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


class GeneratorConfig(BaseModel):
    """Knobs of one generated data source (all instances drawn from it share them; each has its own seed).

    - `target_tokens`: tokens in the whole stream under the default counter, chunk wrappers included
      (hit within about 5 %; structural needs such as showing every TTL label can add a little).
    - `chunk_tokens`: each chunk's budget, wrapper included: a fixed maximum or a `(low, high)` range drawn per
      chunk, as the paper does for SQuAD.
    - `num_questions`: AR, CR, LRU: the most questions per instance (`None`: no cap); TTL: exactly this many.
    - `asked_fraction` (AR, CR): the share of the stream's facts that some question asks about; the rest are
      stated but never asked, so a writer that stores selectively loses nothing on them.
    - `distractor_ratio`: AR, CR: the share of exchanges that are small talk with no fact; TTL: the chance
      that a content word of a sentence comes from a vocabulary shared by all labels; LRU: the share of
      sentences that are scenery with no keyword.
    - `num_updates` (CR): how many times each tracked attribute changes after it is first stated.
    - `question_types`: which kinds of question to ask (see `QUESTION_TYPES`); `None` picks the capability's
      default. For AR they also decide which facts the stream states (only what can be asked).
    - `num_labels` (TTL): how many classes the synthetic label rule has (labels `0 .. num_labels-1`).
    - `data_source`: the instances' `data_source` (default `gen_<capability>`), e.g. `gen_perltqa` for a
      stand-in; it also prefixes the instance ids.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    capability: Capability
    target_tokens: int = Field(default=16_000, ge=500, le=10_000_000)
    chunk_tokens: int | tuple[int, int] = 512
    num_questions: int | None = Field(default=100, ge=1)
    asked_fraction: float = Field(default=1.0, gt=0.0, le=1.0)
    distractor_ratio: float = Field(default=0.3, ge=0.0, le=0.9)
    num_updates: int = Field(default=2, ge=1, le=20)
    question_types: tuple[QuestionType, ...] | None = None
    num_labels: int = Field(default=6, ge=2, le=500)
    seed: int = 0
    data_source: str | None = None

    @field_validator("chunk_tokens")
    @classmethod
    def _check_chunk_tokens(cls, value: int | tuple[int, int]) -> int | tuple[int, int]:
        low, high = value if isinstance(value, tuple) else (value, value)
        if low < MIN_CHUNK_TOKENS or low > high:
            raise ValueError(
                f"chunk_tokens must be an int >= {MIN_CHUNK_TOKENS} or a (low, high) range with "
                f"{MIN_CHUNK_TOKENS} <= low <= high, got {value!r}"
            )
        return value

    @field_validator("data_source")
    @classmethod
    def _check_data_source(cls, value: str | None) -> str | None:
        if value is not None and not _DATA_SOURCE.match(value):
            raise ValueError(f"data_source must be lowercase letters, digits, '_' or '-', got {value!r}")
        return value

    @model_validator(mode="after")
    def _check_combination(self) -> GeneratorConfig:
        allowed = QUESTION_TYPES[self.capability]
        if self.question_types is not None:
            wrong = [t for t in self.question_types if t not in allowed]
            if wrong or not self.question_types or len(set(self.question_types)) != len(self.question_types):
                raise ValueError(
                    f"question_types for {self.capability} must be distinct values from {allowed!r}, "
                    f"got {self.question_types!r}"
                )
        high = self.chunk_tokens[1] if isinstance(self.chunk_tokens, tuple) else self.chunk_tokens
        if self.capability == "CR" and self.target_tokens < (self.num_updates + 1) * high:
            raise ValueError(
                f"CR states each value in its own chunk, so target_tokens ({self.target_tokens}) must be at least "
                f"(num_updates + 1) * chunk_tokens = {(self.num_updates + 1) * high}: lower num_updates or "
                f"chunk_tokens, or raise target_tokens"
            )
        if self.capability == "TTL":
            if self.num_questions is None:
                raise ValueError("num_questions must be a number for TTL (it is the exact count of questions)")
            if self.target_tokens < TOKENS_PER_LABEL * self.num_labels:
                raise ValueError(
                    f"TTL shows every label in the stream: target_tokens ({self.target_tokens}) must be at least "
                    f"{TOKENS_PER_LABEL} * num_labels = {TOKENS_PER_LABEL * self.num_labels}"
                )
        return self

    @property
    def types(self) -> tuple[QuestionType, ...]:
        """The question types to ask: `question_types`, or the capability's default."""
        return self.question_types or DEFAULT_QUESTION_TYPES[self.capability]

    @property
    def source_name(self) -> str:
        """The instances' `data_source`: the override, or `gen_<capability>`."""
        return self.data_source or f"gen_{self.capability.lower()}"
