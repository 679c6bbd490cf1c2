"""Traces as supervised fine-tuning data: one conversation per chunk step, the teacher's calls as the target.

A step's conversation is the prompt the teacher saw (system + user) and, as the assistant turn, its tool calls
rendered in a tool-call format (`ToolCallFormat.render_calls`). Record the teacher's episodes with the format and
prompt style the student will use (``RolloutConfig(tool_format=..., prompt_style=...)``), so the tool section in the
system prompt matches the target and the student learns on the prompts it will see.
This is the conversational layout TRL's ``SFTTrainer`` takes (``{"messages": [...]}``); it trains on the assistant
turn only when told to (``assistant_only_loss``) or when given ``prompt`` / ``completion`` columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .formats import get_format
from .trace import EpisodeTrace
from .types import ToolCall

__all__ = ["sft_examples"]


def sft_examples(
    traces: Iterable[EpisodeTrace],
    *,
    tool_format: str | None = None,
    only_successful: bool = True,
    min_score: float | None = None,
) -> list[dict[str, Any]]:
    """``{"prompt": [system, user], "completion": [assistant]}`` per chunk step of the traces.

    Args:
        tool_format: the format of the targets (default: the format each trace was recorded with).
        only_successful: leave out steps with a failed call (a teacher's errors are not worth imitating).
        min_score: leave out episodes whose QA score (r1) is below this.
    """
    examples: list[dict[str, Any]] = []
    for trace in traces:
        if min_score is not None and trace.r1 < min_score:
            continue
        fmt = get_format(tool_format or trace.tool_format or "hermes")
        for step in trace.steps:
            if not step.messages:
                raise ValueError(
                    f"episode {trace.episode_id!r} was recorded without prompts (record_traces=False): "
                    "it cannot be used as SFT data"
                )
            if only_successful and any(c.status == "error" for c in step.calls):
                continue
            calls = [ToolCall(c.name, c.arguments) for c in step.calls]
            target = fmt.render_calls(calls, step.reasoning) if calls else (step.reasoning or "Done")
            examples.append(
                {
                    "prompt": [dict(m) for m in step.messages],
                    "completion": [{"role": "assistant", "content": target}],
                }
            )
    return examples
