"""BM25Index against rank_bm25 (the paper's retriever): same scores, same top-k."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rank_bm25 import BM25Okapi

from memalpha_memory import BM25Index, bm25_tokenize

CORPUS = [
    "Ana lives in Porto and works as a nurse.",
    "Bo moved to Lisbon in 2021.",
    "The capital of Portugal is Lisbon.",
    "Ana's brother Bo plays chess every Sunday.",
    "Porto is famous for port wine.",
    "",
    "Lisbon Lisbon Lisbon",
]
QUESTIONS = ["Where does Ana live?", "Which city is the capital of Portugal?", "lisbon lisbon", "zebra", ""]


def reference_scores(corpus: list[str], query: str) -> np.ndarray:
    return BM25Okapi([bm25_tokenize(d) for d in corpus]).get_scores(bm25_tokenize(query))


@pytest.mark.parametrize("question", QUESTIONS)
def test_scores_equal_rank_bm25(question: str) -> None:
    np.testing.assert_allclose(BM25Index(CORPUS).scores(question), reference_scores(CORPUS, question), atol=1e-12)


def test_batch_scores_equal_single_scores() -> None:
    index = BM25Index(CORPUS)
    batch = index.batch_scores(QUESTIONS)
    assert batch.shape == (len(QUESTIONS), len(CORPUS))
    for row, question in zip(batch, QUESTIONS, strict=True):
        np.testing.assert_allclose(row, index.scores(question))


def test_top_k_is_sorted_and_ties_keep_document_order() -> None:
    index = BM25Index(["alpha beta", "gamma", "alpha beta", "delta", "epsilon", "zeta"])
    top = index.top_k("alpha", 4)
    assert [i for i, _ in top] == [0, 2, 1, 3]
    assert top[0][1] == top[1][1] > 0 == top[2][1] == top[3][1]
    assert index.top_k("alpha", 0) == []
    assert len(index.top_k("alpha", 10)) == 6  # a pool smaller than k is returned whole, as in the paper


def test_empty_index_scores_nothing() -> None:
    index = BM25Index([])
    assert index.scores("anything").shape == (0,)
    assert index.top_k("anything", 5) == []
    assert BM25Index(["", ""]).top_k("x", 5) == [(0, 0.0), (1, 0.0)]


words = st.sampled_from(["ana", "bo", "porto", "lisbon", "chess", "wine", "nurse", "city", "the", "a"])
documents = st.lists(st.lists(words, min_size=0, max_size=12).map(" ".join), min_size=1, max_size=25)


@given(documents, st.lists(words, min_size=0, max_size=6).map(" ".join))
def test_scores_equal_rank_bm25_on_random_corpora(corpus: list[str], query: str) -> None:
    if not any(bm25_tokenize(d) for d in corpus):
        return  # rank_bm25 divides by zero on a corpus without a single token
    np.testing.assert_allclose(BM25Index(corpus).scores(query), reference_scores(corpus, query), atol=1e-9)
