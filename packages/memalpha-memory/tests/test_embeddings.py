"""Embedders: the deterministic hashing embedder and the offline all-MiniLM-L6-v2 (extra [embeddings])."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from memalpha_memory import HashingEmbedder, MemoryStore, MiniLMEmbedder


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_hashing_embedder_is_deterministic_across_processes() -> None:
    vectors = HashingEmbedder(64).embed(["Ana lives in Porto", ""])
    assert vectors.shape == (2, 64) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    code = (
        "import json, memalpha_memory as m; "
        "print(json.dumps(m.HashingEmbedder(64).embed(['Ana lives in Porto']).tolist()))"
    )
    other = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    np.testing.assert_allclose(np.array(json.loads(other))[0], vectors[0])


def test_hashing_embedder_puts_texts_with_shared_words_closer() -> None:
    a, b, c = HashingEmbedder().embed(["Ana lives in Porto", "Does Ana live in Porto?", "chess club on Sunday"])
    assert cosine(a, b) > cosine(a, c)


def test_bad_embedders_fail_when_the_store_opens(tmp_path: Path) -> None:
    class NoName:
        name = "bad name!"
        dim = 3

        def embed(self, texts):  # type: ignore[no-untyped-def]
            return np.zeros((len(texts), 3))

    with pytest.raises(ValueError, match="embedder name"):
        MemoryStore.open(tmp_path / "m", embedder=NoName())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="embed"):
        MemoryStore.open(tmp_path / "m", embedder=object())  # type: ignore[arg-type]


def test_minilm_embeds_offline_and_ranks_by_meaning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sentence_transformers", reason="extra [embeddings] not installed")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = MiniLMEmbedder()
    vectors = embedder.embed(["user lives in Paris", "where does the user live?", "the stock market fell"])
    assert vectors.shape == (3, 384)
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[1], vectors[2]) + 0.3
    store = MemoryStore.open(tmp_path / "m", embedder=embedder)
    mem = store.namespace("u")
    for text in ["Ana's home is in Porto", "Bo enjoys playing chess", "The meeting moved to Friday"]:
        mem.apply_tool_call("new_memory_insert", {"memory_type": "semantic", "content": text})
    assert mem.search("Where does Ana reside?", mode="vector", k=1)[0].entry.content == "Ana's home is in Porto"
