"""Fusing ranked lists of search hits."""

from __future__ import annotations

from collections.abc import Sequence

from .types import SearchHit

__all__ = ["reciprocal_rank_fusion"]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[SearchHit]], *, k: int = 60) -> list[SearchHit]:
    """Merge rankings by reciprocal rank fusion: score = sum over lists of 1 / (k + rank), rank from 1.

    Entries are matched by id; the fused hit carries the fused score. Ties keep first-seen order.
    """
    scores: dict[str, float] = {}
    first: dict[str, SearchHit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, 1):
            scores[hit.entry.id] = scores.get(hit.entry.id, 0.0) + 1.0 / (k + rank)
            first.setdefault(hit.entry.id, hit)
    order = sorted(first, key=lambda i: -scores[i])
    return [SearchHit(first[i].entry, first[i].memory_type, scores[i]) for i in order]
