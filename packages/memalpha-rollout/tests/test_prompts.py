"""The per-chunk prompt and its budget: recent items are halved until the prompt fits."""

from __future__ import annotations

import pytest

from memalpha_memory import WorkingMemory, count_tokens
from memalpha_rollout.prompts import build_messages, fit_prompt, recent_schedule


def _memory(items: int, words: int = 30) -> WorkingMemory:
    memory = WorkingMemory(seed=0)
    for n in range(items):
        memory.apply_tool_call(
            "new_memory_insert", {"memory_type": "semantic", "content": f"fact {n} " + "word " * words}
        )
    return memory


def test_recent_schedule_halves_down_to_zero() -> None:
    assert recent_schedule(5) == [5, 2, 1, 0]
    assert recent_schedule(8) == [8, 4, 2, 1, 0]
    assert recent_schedule(0) == [0]


def test_messages_hold_the_view_the_tools_and_the_chunk() -> None:
    system, user = build_messages("<core_memory>\nX\n</core_memory>", "the chunk", "TOOLS HERE", max_new_tokens=77)
    assert system["role"] == "system" and user["role"] == "user"
    assert "<core_memory>\nX\n</core_memory>" in system["content"]
    assert "<new_chunk>\nthe chunk\n</new_chunk>" in user["content"]
    assert "at most 77 tokens" in user["content"]
    # tools before the memory: prompts of one step share a long prefix (vLLM caches it)
    assert system["content"].index("TOOLS HERE") < system["content"].index("<core_memory>")
    (paper_layout, _) = build_messages(
        "<core_memory>\nX\n</core_memory>", "c", "TOOLS HERE", max_new_tokens=7, tools_first=False
    )
    assert paper_layout["content"].endswith("TOOLS HERE")


def test_prompts_of_different_memories_share_the_instructions_and_tools() -> None:
    empty, full = WorkingMemory(), _memory(3)
    first = build_messages(empty.render_view(), "chunk one", "TOOLS", max_new_tokens=8)[0]["content"]
    second = build_messages(full.render_view(), "chunk two", "TOOLS", max_new_tokens=8)[0]["content"]
    head = first[: first.index("CURRENT MEMORY:")]
    assert second.startswith(head) and "TOOLS" in head  # everything before the memory view is shared


def test_a_prompt_that_fits_shows_five_recent_items() -> None:
    build = fit_prompt(_memory(7), "chunk", "", max_prompt_tokens=10_000, max_new_tokens=64, count=count_tokens)
    assert build.recent_shown == 5 and not build.over_budget
    assert "fact 6" in build.messages[0]["content"] and "fact 1 " not in build.messages[0]["content"]


def test_over_budget_halves_the_recent_items_until_it_fits() -> None:
    memory = _memory(7)
    sizes = {
        shown: fit_prompt(
            memory, "chunk", "", max_prompt_tokens=10**6, max_new_tokens=64, recent=shown, count=count_tokens
        ).num_tokens
        for shown in (5, 2, 1, 0)
    }
    assert sizes[5] > sizes[2] > sizes[1] > sizes[0]
    build = fit_prompt(memory, "chunk", "", max_prompt_tokens=sizes[1], max_new_tokens=64, count=count_tokens)
    assert (build.recent_shown, build.num_tokens, build.over_budget) == (1, sizes[1], False)
    build = fit_prompt(memory, "chunk", "", max_prompt_tokens=sizes[0] - 1, max_new_tokens=64, count=count_tokens)
    assert (build.recent_shown, build.over_budget) == (0, True)


def test_token_policies_are_budgeted_on_exact_prompt_ids() -> None:
    seen = []

    def encode(messages: object) -> list[int]:
        seen.append(messages)
        return list(range(sum(len(m["content"]) for m in messages)))  # type: ignore[attr-defined]

    build = fit_prompt(_memory(3), "chunk", "", max_prompt_tokens=10**6, max_new_tokens=8, encode=encode)
    assert build.prompt_ids is not None and build.num_tokens == len(build.prompt_ids) and len(seen) == 1
    with pytest.raises(ValueError, match="encode"):
        fit_prompt(_memory(1), "chunk", "", max_prompt_tokens=10, max_new_tokens=8)
