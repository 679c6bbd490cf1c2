"""Training records: one `ChunkSample` per (rollout, chunk), the unit the GRPO trainer learns from.

A sample carries the prompt and completion token ids, the completion mask, the sampling log-probs (when the
policy returned them), the reward and its components, and the ids that group samples: ``group_id`` is the
instance (the paper's GRPO group: every chunk sample of the G rollouts of an instance), ``episode_id`` the rollout.
Samples round-trip through parquet (`write_samples` / `read_samples`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from ._files import atomic_path
from .engine import Episode

__all__ = ["ChunkSample", "episode_samples", "read_samples", "write_samples"]


class ChunkSample(BaseModel):
    """One chunk step of one rollout, ready for a policy-gradient update."""

    model_config = ConfigDict(extra="forbid")

    group_id: str
    episode_id: str
    instance_id: str
    rollout: int
    chunk_index: int
    prompt_ids: list[int]
    completion_ids: list[int]
    completion_mask: list[int]
    logprobs: list[float] | None
    r1: float
    r2: float
    r3: float
    r4: float
    reward: float
    num_calls: int
    ok_calls: int
    finish_reason: str | None = None


def episode_samples(episodes: Iterable[Episode]) -> list[ChunkSample]:
    """Every chunk step of every episode as a `ChunkSample` (episodes must have been scored by `run_episodes`)."""
    samples = []
    for episode in episodes:
        for step in episode.steps:
            if step.reward is None:
                raise ValueError(f"episode {episode.episode_id!r} has no rewards yet: run it through run_episodes")
            ids = list(step.completion.ids)
            samples.append(
                ChunkSample(
                    group_id=episode.group_id,
                    episode_id=episode.episode_id,
                    instance_id=episode.instance.id,
                    rollout=episode.rollout,
                    chunk_index=step.chunk_index,
                    prompt_ids=list(step.prompt.prompt_ids or []),
                    completion_ids=ids,
                    completion_mask=[1] * len(ids),
                    logprobs=list(step.completion.logprobs) if step.completion.logprobs is not None else None,
                    r1=step.reward.r1,
                    r2=step.reward.r2,
                    r3=step.reward.r3,
                    r4=step.reward.r4,
                    reward=step.reward.total,
                    num_calls=len(step.results),
                    ok_calls=sum(r.ok for r in step.results),
                    finish_reason=step.completion.finish_reason,
                )
            )
    return samples


_SCHEMA = pa.schema(
    [
        ("group_id", pa.string()),
        ("episode_id", pa.string()),
        ("instance_id", pa.string()),
        ("rollout", pa.int32()),
        ("chunk_index", pa.int32()),
        ("prompt_ids", pa.list_(pa.int32())),
        ("completion_ids", pa.list_(pa.int32())),
        ("completion_mask", pa.list_(pa.int8())),
        ("logprobs", pa.list_(pa.float64())),
        ("r1", pa.float64()),
        ("r2", pa.float64()),
        ("r3", pa.float64()),
        ("r4", pa.float64()),
        ("reward", pa.float64()),
        ("num_calls", pa.int32()),
        ("ok_calls", pa.int32()),
        ("finish_reason", pa.string()),
    ]
)


def write_samples(samples: Sequence[ChunkSample], path: str | Path) -> Path:
    """Write samples to a parquet file, atomically (a failed write keeps the old file)."""
    path = Path(path)
    columns = {name: [getattr(s, name) for s in samples] for name in _SCHEMA.names}
    table = pa.table(columns, schema=_SCHEMA)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


def read_samples(path: str | Path) -> list[ChunkSample]:
    """Samples written by `write_samples`."""
    rows = pq.read_table(path, schema=_SCHEMA).to_pylist()
    return [ChunkSample.model_validate(row) for row in rows]
