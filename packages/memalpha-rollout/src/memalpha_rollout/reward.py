"""The paper's reward (§6.1), per chunk sample t of a rollout:

    r_t = r1 + r2_t + compression_weight * r3 + content_weight * r4_t

- r1: QA correctness, the mean question score of the rollout (shared by all its chunks);
- r2_t: the share of the chunk's tool calls that took effect (``status == "ok"``; a skipped duplicate insert is not
  a success, as in the paper);
- r3: compression, ``1 - memory tokens / chunk tokens`` over the final memory and the raw chunks (can be negative);
- r4_t: content validity, the mean judge score over the chunk's calls.

Where we differ from the paper by default, ``paper_compat=True`` restores the paper: a chunk with no calls scores
r2 = 0 and r4 = 0 there, and 1 here (nothing was attempted, nothing failed: storing nothing from a chunk of
chit-chat is right, and the rollout's r1 and r3 already price what was left out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memalpha_memory import ToolResult

__all__ = ["RewardComponents", "RewardConfig", "compression_score", "content_score", "tool_success"]


@dataclass(frozen=True, slots=True)
class RewardConfig:
    """Reward weights (the paper's beta and gamma; its main model uses 0.05 and 0.1) and the paper-quirks switch."""

    compression_weight: float = 0.05
    content_weight: float = 0.1
    paper_compat: bool = False

    def combine(self, r1: float, r2: float, r3: float, r4: float) -> float:
        """``r1 + r2 + compression_weight * r3 + content_weight * r4``."""
        return r1 + r2 + self.compression_weight * r3 + self.content_weight * r4


@dataclass(frozen=True, slots=True)
class RewardComponents:
    """The reward of one chunk sample and its parts."""

    r1: float
    r2: float
    r3: float
    r4: float
    total: float


def tool_success(results: Sequence[ToolResult], *, paper_compat: bool = False) -> float:
    """r2: the share of calls that took effect; a chunk with no calls scores 1 (0 with ``paper_compat``)."""
    if not results:
        return 0.0 if paper_compat else 1.0
    return sum(r.ok for r in results) / len(results)


def content_score(call_scores: Sequence[float], *, paper_compat: bool = False) -> float:
    """r4: the mean judge score of the chunk's calls; no calls scores 1 (0 with ``paper_compat``)."""
    if not call_scores:
        return 0.0 if paper_compat else 1.0
    return sum(call_scores) / len(call_scores)


def compression_score(memory_tokens: int, chunk_tokens: int) -> float:
    """r3: ``1 - memory_tokens / chunk_tokens`` (0 for an empty stream)."""
    if chunk_tokens <= 0:
        return 0.0
    return 1.0 - memory_tokens / chunk_tokens
