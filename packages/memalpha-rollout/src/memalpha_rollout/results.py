"""The results schema of an evaluation: one `EvalResult` per method (a policy or a baseline) over instances.

Scores aggregate the paper's way (questions → instance → data source), then as plain means per capability
and over sources (`memalpha_data.aggregate`). Memory sizes are final memory tokens (for baselines: the context
they keep). Everything is JSON-serialisable (pydantic) so runs can be resumed and compared.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from statistics import fmean

from pydantic import BaseModel, ConfigDict, Field

from memalpha_data import QuestionScore, aggregate

__all__ = ["EvalResult", "InstanceResult", "summarize"]


class InstanceResult(BaseModel):
    """One method on one instance."""

    model_config = ConfigDict(extra="forbid")

    instance_id: str
    data_source: str
    capability: str
    score: float
    """Mean over the instance's questions."""
    question_scores: list[float]
    memory_tokens: int
    chunk_tokens: int
    num_chunks: int
    tool_calls: int = 0
    ok_calls: int = 0
    generated_tokens: int = 0
    wall_s: float = 0.0


class EvalResult(BaseModel):
    """One method's results over a set of instances, with the aggregates a report shows."""

    model_config = ConfigDict(extra="forbid")

    method: str
    """What was evaluated: ``policy:<name>``, or a baseline such as ``rag-top2`` or ``long-context@budget``."""
    answerer: str
    instances: list[InstanceResult]
    per_source: dict[str, float] = Field(default_factory=dict)
    per_capability: dict[str, float] = Field(default_factory=dict)
    mean_over_sources: float = 0.0
    memory_tokens_per_source: dict[str, float] = Field(default_factory=dict)
    mean_memory_tokens: float = 0.0
    tool_call_success: float | None = None
    """Share of tool calls that succeeded (``None`` for methods that make none)."""
    wall_s: float = 0.0
    generated_tokens: int = 0
    config: dict[str, object] = Field(default_factory=dict)


def summarize(
    method: str,
    answerer: str,
    instances: Sequence[InstanceResult],
    *,
    wall_s: float | None = None,
    config: dict[str, object] | None = None,
) -> EvalResult:
    """Aggregate per-instance results into an `EvalResult` (wall time defaults to the sum over instances)."""
    scores = [
        QuestionScore(r.instance_id, r.data_source, r.capability, s)  # type: ignore[arg-type]
        for r in instances
        for s in r.question_scores
    ]
    summary = aggregate(scores)
    memory_by_source: dict[str, list[int]] = defaultdict(list)
    for r in instances:
        memory_by_source[r.data_source].append(r.memory_tokens)
    memory_per_source = {s: fmean(v) for s, v in sorted(memory_by_source.items())}
    calls = sum(r.tool_calls for r in instances)
    return EvalResult(
        method=method,
        answerer=answerer,
        instances=list(instances),
        per_source=summary.per_source,
        per_capability=summary.per_capability,
        mean_over_sources=summary.mean_over_sources,
        memory_tokens_per_source=memory_per_source,
        mean_memory_tokens=fmean(memory_per_source.values()) if memory_per_source else 0.0,
        tool_call_success=(sum(r.ok_calls for r in instances) / calls) if calls else None,
        wall_s=sum(r.wall_s for r in instances) if wall_s is None else wall_s,
        generated_tokens=sum(r.generated_tokens for r in instances),
        config=config or {},
    )
