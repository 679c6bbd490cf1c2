"""What every source adapter shares: the data root, file reading with row-level errors, stable splits."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from memalpha_data.exceptions import SourceNotFoundError, SourceRowError

Split = Literal["train", "eval", "all"]
"""Which part of a source an adapter returns: a stable hash of a grouping key (article, story, meeting)
sends about `eval_fraction` of the keys to `eval`, so the two never share a document."""

DATA_DIR_ENV = "MEMALPHA_DATA_DIR"


def data_root(root: str | Path | None = None) -> Path:
    """The folder holding the real source files: `root` if given, else `$MEMALPHA_DATA_DIR`, else `../shared/data`."""
    chosen = Path(root) if root is not None else Path(os.environ.get(DATA_DIR_ENV, "../shared/data"))
    if not chosen.is_dir():
        hint = f"set {DATA_DIR_ENV} or pass root=" if root is None else "check the path"
        raise SourceNotFoundError(f"data root {str(chosen)!r} is not a folder; {hint}")
    return chosen


def source_file(root: str | Path | None, relative: str) -> Path:
    """The path of one source file under the data root; a clear error when it is missing."""
    path = data_root(root) / relative
    if not path.is_file():
        raise SourceNotFoundError(
            f"source file {str(path)!r} does not exist (expected {relative!r} under the data root)"
        )
    return path


def read_json(path: Path) -> Any:
    """A whole JSON file; a syntax error becomes a `SourceRowError` naming the file and line."""
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise SourceRowError(path, f"line {exc.lineno}", f"invalid JSON: {exc.msg}") from exc


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object) for each non-blank line of a JSON-lines file, plain or gzip-compressed."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise SourceRowError(path, number, f"invalid JSON: {exc.msg}") from exc


def require(row: Any, key: str, kind: type | tuple[type, ...], path: Path, number: int | str) -> Any:
    """`row[key]` checked to be of `kind`; otherwise a `SourceRowError` naming file, row and field."""
    if not isinstance(row, dict):
        raise SourceRowError(path, number, f"expected an object, got {type(row).__name__}")
    if key not in row:
        raise SourceRowError(path, number, f"missing field {key!r}")
    value = row[key]
    if not isinstance(value, kind):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise SourceRowError(path, number, f"field {key!r} should be {expected}, got {type(value).__name__}")
    return value


def split_of(key: str, *, eval_fraction: float = 0.1, salt: str = "memalpha") -> Literal["train", "eval"]:
    """A stable train/eval assignment of a grouping key, independent of order and of the other keys."""
    if not 0.0 <= eval_fraction <= 1.0:
        raise ValueError(f"eval_fraction must lie in [0, 1], got {eval_fraction!r}")
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return "eval" if int.from_bytes(digest[:8], "big") / 2**64 < eval_fraction else "train"


def in_split(key: str, split: Split, *, eval_fraction: float = 0.1) -> bool:
    """Whether the group `key` belongs to `split`."""
    if split == "all":
        return True
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train', 'eval' or 'all', got {split!r}")
    return split_of(key, eval_fraction=eval_fraction) == split
