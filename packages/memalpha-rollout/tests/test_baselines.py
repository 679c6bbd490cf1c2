"""Baselines over raw chunks: long-context, RAG top-k, MemAgent-style; each at an equal-memory budget."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rollout_helpers import make_instance

from memalpha_memory import BM25Index, count_tokens
from memalpha_rollout import ScriptedPolicy, UnknownNameError, evaluate_baseline
from memalpha_rollout.baselines import _rag_retriever, extractive_rewrite, first_tokens, last_tokens

CHUNKS = ["Ana lives in Porto.", "The weather was mild all week.", "Bob works as a baker in Lyon."]
QUESTIONS = [("Where does Ana live?", "Porto"), ("What is Bob's job?", "baker")]


@given(st.text(max_size=200), st.integers(min_value=0, max_value=60))
def test_last_and_first_tokens_keep_the_longest_fitting_suffix_and_prefix(text: str, budget: int) -> None:
    tail, head = last_tokens(text, budget), first_tokens(text, budget)
    assert text.endswith(tail) and text.startswith(head)
    assert count_tokens(tail) <= budget and count_tokens(head) <= budget
    if len(tail) < len(text):  # one more character would not fit (or adds no token)
        assert count_tokens(text[len(text) - len(tail) - 1 :]) > budget or not text[len(text) - len(tail) - 1].strip()


def test_long_context_keeps_the_last_tokens_of_the_stream() -> None:
    instance = make_instance("a", CHUNKS, QUESTIONS)
    full = evaluate_baseline("long-context", [instance])
    assert full.method == "long-context"
    assert full.instances[0].question_scores == [1.0, 1.0]
    assert full.instances[0].memory_tokens == instance.total_tokens()
    short = evaluate_baseline("long-context", [instance], budgets={"a": 8})
    assert short.method == "long-context@memory"
    assert short.instances[0].memory_tokens <= 8
    assert short.instances[0].question_scores == [0.0, 1.0]  # only the end of the stream is kept


def test_rag_retrieves_the_chunks_that_match_the_question() -> None:
    instance = make_instance("a", CHUNKS, QUESTIONS)
    result = evaluate_baseline("rag", [instance], top_k=1)
    assert result.method == "rag-top1" and result.instances[0].question_scores == [1.0, 1.0]
    assert result.instances[0].memory_tokens == instance.total_tokens()  # RAG stores every chunk
    budgeted = evaluate_baseline("rag", [instance], top_k=1, budgets={"a": 3})
    assert budgeted.instances[0].memory_tokens == 3 and budgeted.instances[0].question_scores == [0.0, 0.0]


@given(st.lists(st.sampled_from(["Ana", "lives", "in", "Porto", "Bob", "bakes", "bread", "."]), max_size=30))
def test_budgeted_rag_reads_the_best_ranked_chunks_up_to_the_budget(words: list[str]) -> None:
    chunks = [" ".join(words[i : i + 4]) or "." for i in range(0, max(len(words), 1), 4)]
    index = BM25Index(chunks)
    for budget in (0, 1, 3, 7, 200):
        retrieve = _rag_retriever(chunks, index, 2, budget, count_tokens)
        ranked = "\n\n".join(chunks[i] for i, _ in index.top_k("where does Ana live", len(chunks)))
        got, expected = retrieve("where does Ana live"), first_tokens(ranked, budget)
        assert got.rstrip() == expected.rstrip()  # the same text (up to trailing blanks), from the chunks needed


def test_extractive_memagent_keeps_fact_like_sentences_within_budget() -> None:
    memory = extractive_rewrite("", "hello there. Ana lives in Porto. it rained. Bob is 31 years old.", 100)
    assert memory == "Ana lives in Porto. Bob is 31 years old."
    assert extractive_rewrite(memory, "Cy moved to Rome.", 6) == "Cy moved to Rome."
    result = evaluate_baseline("memagent", [make_instance("a", CHUNKS, QUESTIONS)])
    assert result.method == "memagent-extractive" and result.instances[0].question_scores == [1.0, 1.0]


def test_memagent_with_a_policy_rewrites_the_memory_once_per_step_for_all_instances() -> None:
    policy = ScriptedPolicy(lambda conversation: "Ana lives in Porto. Bob is a baker.")
    instances = [make_instance("a", CHUNKS, QUESTIONS), make_instance("b", CHUNKS[:1], QUESTIONS)]
    result = evaluate_baseline("memagent", instances, policy=policy, memagent_tokens=5)
    assert policy.batch_sizes == [2, 1, 1]
    assert result.method == "memagent"
    assert all(r.memory_tokens <= 5 for r in result.instances)
    assert "Current memory:\nAna lives in Porto" in policy.conversations[-1][0]["content"]


def test_unknown_baselines_are_refused() -> None:
    with pytest.raises(UnknownNameError, match="long-context"):
        evaluate_baseline("oracle", [make_instance("a", CHUNKS)])
