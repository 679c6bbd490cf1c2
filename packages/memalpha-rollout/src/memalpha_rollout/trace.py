"""Episode traces: what the writer saw and did at every chunk, the memory after it, and the QA stage.

One `EpisodeTrace` per line of a JSONL file (`write_traces` / `read_traces`). Traces feed the HTML pages
(`memalpha_rollout.reporting`) and are SFT data: each step keeps the chat messages the policy was given and
the tool calls it made, so a trainer can render them in any chat template and tool-call format.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._files import append_lines, atomic_path
from .exceptions import RunFolderError

__all__ = [
    "CallTrace",
    "EpisodeTrace",
    "MemorySnapshot",
    "QATrace",
    "StepTrace",
    "iter_traces",
    "read_traces",
    "write_traces",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemorySnapshot(_Model):
    """The whole memory at one moment: core text and ``[id, content]`` pairs, oldest first."""

    core: str = ""
    semantic: list[tuple[str, str]] = Field(default_factory=list)
    episodic: list[tuple[str, str]] = Field(default_factory=list)


class CallTrace(_Model):
    """One tool call and what applying it did (``status``: ok, skipped or error)."""

    name: str
    arguments: str
    status: str
    message: str
    memory_type: str | None = None
    memory_id: str | None = None
    judge_score: float | None = None
    """The content judge's score for this call (r4), when the call was judged."""


class StepTrace(_Model):
    """One chunk: the prompt's messages, the completion, the calls, the memory after them, the step's rewards."""

    chunk_index: int
    messages: list[dict[str, Any]]
    """The chat messages the policy was given (system, user), before any chat template."""
    prompt_tokens: int
    recent_shown: int
    """How many recent semantic / episodic items the memory view showed (5, halved while over budget)."""
    completion: str
    completion_tokens: int
    reasoning: str = ""
    calls: list[CallTrace] = Field(default_factory=list)
    memory: MemorySnapshot | None = None
    r2: float = 0.0
    r4: float = 0.0
    reward: float = 0.0


class QATrace(_Model):
    """One question at the end of the episode: what was retrieved, the prediction and its score."""

    question: str
    answers: list[str]
    metric: str
    query: str
    """The retrieval query: the question with its source's query prefix, if any."""
    retrieved_semantic: list[str] = Field(default_factory=list)
    retrieved_episodic: list[str] = Field(default_factory=list)
    k: int = 0
    prediction: str = ""
    score: float = 0.0


class EpisodeTrace(_Model):
    """A whole episode: one rollout of one instance by one policy."""

    episode_id: str
    instance_id: str
    data_source: str
    capability: str
    rollout: int = 0
    policy: str = ""
    tool_format: str = ""
    steps: list[StepTrace] = Field(default_factory=list)
    qa: list[QATrace] = Field(default_factory=list)
    final_memory: MemorySnapshot = Field(default_factory=MemorySnapshot)
    memory_tokens: int = 0
    chunk_tokens: int = 0
    r1: float = 0.0
    r3: float = 0.0


def write_traces(path: str | Path, traces: Iterable[EpisodeTrace], *, append: bool = False) -> Path:
    """Write traces as JSONL, one episode per line. Without ``append`` the file is replaced atomically."""
    path = Path(path)
    if append:
        append_lines(path, (trace.model_dump_json() for trace in traces))
        return path
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        for trace in traces:
            handle.write(trace.model_dump_json() + "\n")
    return path


def iter_traces(path: str | Path) -> Iterator[EpisodeTrace]:
    """Read a JSONL trace file lazily; a malformed line raises `RunFolderError` naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise RunFolderError(f"no trace file at {str(path)!r}")
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield EpisodeTrace.model_validate(json.loads(line))
            except (json.JSONDecodeError, ValidationError) as error:
                reason = str(error).splitlines()[0]
                raise RunFolderError(f"{path}: line {number} is not an episode trace: {reason}") from error


def read_traces(path: str | Path) -> list[EpisodeTrace]:
    """All traces of a JSONL file."""
    return list(iter_traces(path))
