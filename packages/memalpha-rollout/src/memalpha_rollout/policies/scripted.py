"""A scripted chat policy: the test double that replies what it is told to and records what it was sent."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import cycle
from typing import Any

from ..types import Completion, Message, SamplingParams

__all__ = ["ScriptedPolicy"]

Reply = str | Completion


class ScriptedPolicy:
    """A `ChatPolicy` whose replies come from a function of the conversation, or from a list taken in turn.

    Every call is recorded: ``conversations`` holds each conversation it was sent and ``batch_sizes`` the size of
    each ``chat`` call (one call per chunk step when the engine batches correctly).

    Example::

        policy = ScriptedPolicy(['<tool_call>{"name": "memory_update", "arguments": '
                                 '{"memory_type": "core_memory", "new_content": "Ana lives in Porto."}}</tool_call>'])
    """

    def __init__(self, replies: Callable[[Sequence[Message]], Reply] | Sequence[Reply]) -> None:
        if callable(replies):
            self._reply = replies
        else:
            if not replies:
                raise ValueError("ScriptedPolicy needs at least one reply")
            turns = cycle(list(replies))
            self._reply = lambda conversation: next(turns)
        self.conversations: list[list[Message]] = []
        self.batch_sizes: list[int] = []
        self.tools: Sequence[Mapping[str, Any]] | None = None

    def __repr__(self) -> str:
        return f"ScriptedPolicy(calls={len(self.batch_sizes)})"

    def chat(
        self,
        conversations: Sequence[Sequence[Message]],
        sampling: SamplingParams,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[Completion]:
        self.batch_sizes.append(len(conversations))
        self.tools = tools
        completions = []
        for conversation in conversations:
            self.conversations.append(list(conversation))
            reply = self._reply(conversation)
            completions.append(reply if isinstance(reply, Completion) else Completion(text=reply))
        return completions
