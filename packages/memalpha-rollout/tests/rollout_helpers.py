"""Small builders shared by the engine tests: instances, hermes replies, judges with fixed scores."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from memalpha_data import Instance, Question


def make_instance(
    instance_id: str, chunks: Sequence[str], questions: Sequence[tuple[str, str]] = (("Where does Ana live?", "Porto"),)
) -> Instance:
    return Instance(
        id=instance_id,
        data_source="test",
        capability="AR",
        chunks=list(chunks),
        questions=[Question(question=q, answers=[a]) for q, a in questions],
    )


def hermes(*calls: tuple[str, dict[str, Any]], reasoning: str = "") -> str:
    """A completion in the hermes format with these calls."""
    blocks = [f"<tool_call>\n{json.dumps({'name': n, 'arguments': a})}\n</tool_call>" for n, a in calls]
    return "\n".join([reasoning, *blocks]).strip()


def insert(content: str, memory_type: str = "semantic_memory") -> tuple[str, dict[str, Any]]:
    return ("new_memory_insert", {"memory_type": memory_type, "content": content})


class ToolJudge:
    """Scores each call by its tool name (a judge whose scores a test can compute by hand)."""

    name = "by-tool"

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores
        self.batches: list[int] = []

    def score(self, items: Sequence[Any]) -> list[float]:
        self.batches.append(len(items))
        return [self.scores.get(item.tool, 0.0) for item in items]
