"""Evaluation: a memory-writing policy over instances, in the results schema every report reads.

`evaluate` runs one greedy episode per instance (in batches, all episodes of a batch advancing together),
answers the questions with the given answerer and returns an `EvalResult`: per-instance, per-source and
per-capability scores, final memory tokens, wall time and generated tokens. With ``checkpoint`` it appends each
finished instance to a JSONL file and skips instances already there, so an interrupted evaluation resumes.
Baselines that read the raw chunks live in `memalpha_rollout.baselines` and return the same schema.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from pydantic import ValidationError

from memalpha_data import Instance

from ._files import append_lines
from ._progress import progress_bar
from .answerers import Answerer, RetrievalRecallAnswerer
from .engine import Episode, RolloutConfig, run_episodes
from .exceptions import RunFolderError
from .judges import Judge
from .results import EvalResult, InstanceResult, summarize
from .trace import write_traces
from .types import ChatPolicy, Policy, SamplingParams

__all__ = ["evaluate", "instance_result", "policy_name", "read_checkpoint"]

logger = logging.getLogger(__name__)

EVAL_SAMPLING = SamplingParams(max_tokens=512, temperature=0.0)


def policy_name(policy: object) -> str:
    """A short label for a policy in reports: its ``name`` attribute, else its class name."""
    name = getattr(policy, "name", None)
    return str(name) if isinstance(name, str) and name else type(policy).__name__


def evaluate(
    policy: Policy | ChatPolicy,
    instances: Sequence[Instance],
    answerer: Answerer | None = None,
    *,
    config: RolloutConfig | None = None,
    judge: Judge | None = None,
    method: str | None = None,
    batch_size: int = 8,
    traces: str | Path | None = None,
    checkpoint: str | Path | None = None,
    progress: bool = False,
) -> EvalResult:
    """Evaluate ``policy`` as a memory writer on ``instances``.

    Args:
        answerer: answers from the memory (default ``retrieval-recall``, no model).
        config: episode settings; one rollout per instance, greedy decoding by default.
        method: the label in reports (default ``policy:<name>``).
        batch_size: instances whose episodes run together (one generate call per chunk step).
        traces: append each episode's trace to this JSONL file.
        checkpoint: a JSONL file of finished instances: existing ones are not run again, new ones are appended.
        progress: a progress bar over instances.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size!r}")
    config = config or RolloutConfig(sampling=EVAL_SAMPLING)
    if config.group_size != 1:
        config = replace(config, group_size=1)
    answerer = answerer or RetrievalRecallAnswerer()
    method = method or f"policy:{policy_name(policy)}"
    done = read_checkpoint(checkpoint) if checkpoint is not None else {}
    todo = [i for i in instances if i.id not in done]
    if done:
        logger.info(
            "resuming %s: %d of %d instances already evaluated", method, len(instances) - len(todo), len(instances)
        )
    start = time.perf_counter()
    with progress_bar(progress, total=len(instances), description=method) as advance:
        advance(len(instances) - len(todo))
        for first in range(0, len(todo), batch_size):
            batch = todo[first : first + batch_size]
            began = time.perf_counter()
            episodes = run_episodes(policy, batch, answerer=answerer, config=config, judge=judge)
            wall = time.perf_counter() - began
            results = _batch_results(episodes, wall)
            for result in results:
                done[result.instance_id] = result
            if checkpoint is not None:
                _append_checkpoint(checkpoint, results)
            if traces is not None:
                write_traces(
                    traces, (e.to_trace(policy=method, tool_format=config.tool_format) for e in episodes), append=True
                )
            advance(len(batch))
    ordered = [done[i.id] for i in instances if i.id in done]
    return summarize(
        method,
        answerer.name,
        ordered,
        wall_s=time.perf_counter() - start if not checkpoint else None,
        config={"tool_format": config.tool_format, "sampling": repr(config.sampling), "batch_size": batch_size},
    )


def instance_result(episode: Episode, *, wall_s: float = 0.0) -> InstanceResult:
    """One scored episode as an `InstanceResult`."""
    return InstanceResult(
        instance_id=episode.instance.id,
        data_source=episode.instance.data_source,
        capability=episode.instance.capability,
        score=episode.r1,
        question_scores=[q.score for q in episode.qa],
        memory_tokens=episode.memory_tokens,
        chunk_tokens=episode.chunk_tokens,
        num_chunks=episode.instance.num_chunks,
        tool_calls=episode.num_calls,
        ok_calls=episode.ok_calls,
        generated_tokens=episode.generated_tokens,
        wall_s=wall_s,
    )


def _batch_results(episodes: Sequence[Episode], wall: float) -> list[InstanceResult]:
    """Per-instance results; the batch's wall time is shared out in proportion to each instance's chunk tokens."""
    total = sum(e.chunk_tokens for e in episodes) or 1
    return [instance_result(e, wall_s=wall * e.chunk_tokens / total) for e in episodes]


def read_checkpoint(path: str | Path) -> dict[str, InstanceResult]:
    """Finished instances of an evaluation checkpoint (a missing file is an empty checkpoint).

    A line that does not parse (a run killed mid-write) is skipped with a warning: its instance runs again.
    """
    path = Path(path)
    if not path.exists():
        return {}
    if not path.is_file():
        raise RunFolderError(f"checkpoint {str(path)!r} is not a file")
    done: dict[str, InstanceResult] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            result = InstanceResult.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError):
            logger.warning(
                "%s: line %d is not a complete instance result (interrupted write?); it will be redone", path, number
            )
            continue
        done[result.instance_id] = result
    return done


def _append_checkpoint(path: str | Path, results: Sequence[InstanceResult]) -> None:
    append_lines(path, [result.model_dump_json() for result in results])
