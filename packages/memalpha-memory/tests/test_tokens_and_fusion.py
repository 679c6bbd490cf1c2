"""Token counting and rank fusion."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from memalpha_memory import Entry, SearchHit, WorkingMemory, count_tokens, hf_token_counter, reciprocal_rank_fusion


def test_count_tokens_counts_words_and_punctuation() -> None:
    assert count_tokens("") == 0
    assert count_tokens("Ana lives in Porto.") == 5
    # It ' s 2024 - 01 - 02 , isn ' t it ?
    assert count_tokens("It's 2024-01-02, isn't it?") == 14


def test_hf_token_counter_uses_encode_without_special_tokens() -> None:
    class FakeTokenizer:
        def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
            assert add_special_tokens is False
            return list(range(len(text)))

    counter = hf_token_counter(FakeTokenizer())
    assert counter("abcd") == 4
    memory = WorkingMemory(token_counter=counter)
    memory.apply_tool_call("new_memory_insert", {"memory_type": "semantic", "content": "abc"})
    assert memory.total_tokens() == 3


def hit(memory_id: str) -> SearchHit:
    now = datetime.now(UTC)
    return SearchHit(Entry(memory_id, memory_id, now, now, 0), "semantic", 0.0)


def test_reciprocal_rank_fusion() -> None:
    fused = reciprocal_rank_fusion([[hit("a"), hit("b"), hit("c")], [hit("c"), hit("b")]], k=60)
    assert [h.entry.id for h in fused] == ["c", "b", "a"]  # 1/63 + 1/61 > 1/62 + 1/62 > 1/61
    assert fused[0].score == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2].score == pytest.approx(1 / 61)
    assert reciprocal_rank_fusion([]) == []
