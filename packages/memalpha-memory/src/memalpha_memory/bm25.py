"""Exact BM25Okapi in process, scoring many queries with one sparse matrix product.

Scores equal ``rank_bm25.BM25Okapi`` (k1=1.5, b=0.75, epsilon=0.25; lower-cased ``\\b\\w+\\b`` tokens, as the
paper's answerer uses): idf = ln((N - n + 0.5) / (n + 0.5)) per term, negative idfs replaced by
epsilon x the mean idf, repeated query terms counted. The index is a documents x terms matrix of
per-term BM25 weights, so scoring a batch of questions is ``W @ Q.T``; build it once per memory and
reuse it for every question (the paper rebuilds rank_bm25 for each question).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from scipy import sparse

__all__ = ["BM25Index", "bm25_tokenize"]

_WORD = re.compile(r"\b\w+\b")


def bm25_tokenize(text: str) -> list[str]:
    """Lower-case ``\\b\\w+\\b`` tokens, the paper's retrieval tokenizer."""
    return _WORD.findall(text.lower())


class BM25Index:
    """A BM25Okapi index over a fixed list of documents."""

    def __init__(
        self,
        documents: Sequence[str],
        *,
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
        tokenizer: Callable[[str], list[str]] = bm25_tokenize,
    ) -> None:
        self.tokenizer = tokenizer
        self.size = len(documents)
        self.vocabulary: dict[str, int] = {}
        term_ids: list[int] = []
        lengths = np.zeros(self.size, dtype=np.float64)
        setdefault = self.vocabulary.setdefault
        for row, document in enumerate(documents):
            tokens = tokenizer(document)
            lengths[row] = len(tokens)
            term_ids += [setdefault(token, len(self.vocabulary)) for token in tokens]
        n_terms = len(self.vocabulary)
        # term frequencies: count each (document, term) pair once over the flattened token stream
        doc_ids = np.repeat(np.arange(self.size, dtype=np.int64), lengths.astype(np.int64))
        pairs, tf = np.unique(doc_ids * max(n_terms, 1) + np.asarray(term_ids, dtype=np.int64), return_counts=True)
        row_idx, col_idx = np.divmod(pairs, max(n_terms, 1))
        total_length = float(lengths.sum())
        if n_terms and total_length > 0:
            document_frequency = np.bincount(col_idx, minlength=n_terms).astype(np.float64)
            idf = np.log(self.size - document_frequency + 0.5) - np.log(document_frequency + 0.5)
            floor = epsilon * (math.fsum(idf) / n_terms)
            idf[idf < 0] = floor
            average_length = total_length / self.size
            norm = k1 * (1 - b + b * lengths[row_idx] / average_length)
            weights = idf[col_idx] * (tf * (k1 + 1) / (tf + norm))
        else:
            weights = np.zeros(0)
        self._weights = sparse.csr_matrix((weights, (row_idx, col_idx)), shape=(self.size, n_terms))

    def _query_matrix(self, queries: Sequence[str]) -> sparse.csr_matrix:
        rows: list[int] = []
        cols: list[int] = []
        counts: list[int] = []
        for row, query in enumerate(queries):
            for term, count in Counter(self.tokenizer(query)).items():
                col = self.vocabulary.get(term)
                if col is not None:
                    rows.append(row)
                    cols.append(col)
                    counts.append(count)
        return sparse.csr_matrix(
            (np.asarray(counts, dtype=np.float64), (rows, cols)), shape=(len(queries), len(self.vocabulary))
        )

    def batch_scores(self, queries: Sequence[str]) -> np.ndarray:
        """Scores of every document for every query: an array of shape (len(queries), size)."""
        if not queries:
            return np.zeros((0, self.size))
        scores: np.ndarray = np.asarray((self._query_matrix(queries) @ self._weights.T).todense())
        return scores

    def scores(self, query: str) -> np.ndarray:
        """Scores of every document for one query."""
        scores: np.ndarray = self.batch_scores([query])[0]
        return scores

    def top_k(self, query: str, k: int) -> list[tuple[int, float]]:
        """The best ``k`` documents as ``(index, score)``, best first; ties keep document order."""
        return self.batch_top_k([query], k)[0]

    def batch_top_k(self, queries: Sequence[str], k: int) -> list[list[tuple[int, float]]]:
        """`top_k` for many queries with one matrix product."""
        scores = self.batch_scores(queries)
        order = np.argsort(-scores, axis=1, kind="stable")[:, : max(k, 0)]
        best = np.take_along_axis(scores, order, axis=1)
        return [list(zip(o.tolist(), s.tolist(), strict=True)) for o, s in zip(order, best, strict=True)]
