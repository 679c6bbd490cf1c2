"""Key-value retrieval (Lost in the Middle) as precise accurate-retrieval instances: UUID key-value pairs streamed
in dated "facts" dialogue chunks, then questions asking for the values of some keys.

Not in the Mem-alpha paper; it extends the AR sources with exact, unguessable answers. Each record of
`kv_retrieval/kv-retrieval-75_keys.jsonl.gz` holds 75 `[key, value]` pairs (both UUIDs) and one queried `key`.
An instance concatenates `records_per_instance` consecutive records (of its split); its pairs become lines
`"key": "value"`, packed `pairs_per_chunk` to a chunk (or, with `chunk_tokens`, by a token budget). Questions ask
for the value of `questions_per_instance` keys: every record's own queried key plus keys sampled from the
rest of the stream, in a seeded random order. Metric `sub_em`: a UUID appears in an answer only if it was retrieved.

Train/eval is a stable hash split by record (its queried key), so no pair lies in both.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from memalpha_data.chunking import Budget, group_units
from memalpha_data.dialogue import wrap_chunks
from memalpha_data.exceptions import SourceRowError
from memalpha_data.instance import Instance, Question
from memalpha_data.sources._common import Split, in_split, iter_jsonl, require, source_file
from memalpha_data.tokens import TokenCounter, count_tokens

KV_FILE = "kv_retrieval/kv-retrieval-75_keys.jsonl.gz"
KV_PROMPT = (
    "You will receive lists of key-value pairs over several conversations. Remember every pair exactly. "
    "Afterwards you will be asked for the values of some keys."
)


@dataclass(frozen=True)
class _Record:
    line: int
    key: str
    value: str
    pairs: tuple[tuple[str, str], ...]


def _read_records(path: Path) -> list[_Record]:
    records = []
    for line, row in iter_jsonl(path):
        key = require(row, "key", str, path, line)
        value = require(row, "value", str, path, line)
        pairs: list[tuple[str, str]] = []
        for pair in require(row, "ordered_kv_records", list, path, line):
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) and p.strip() for p in pair)):
                raise SourceRowError(path, line, f"a key-value record should be [key, value] strings, got {pair!r:.80}")
            pairs.append((pair[0], pair[1]))
        if dict(pairs).get(key) != value:
            raise SourceRowError(path, line, f"the queried key {key!r} does not map to the record's value {value!r}")
        records.append(_Record(line, key, value, tuple(pairs)))
    return records


def _chunk_pairs(
    lines: Sequence[str], pairs_per_chunk: int, chunk_tokens: Budget | None, counter: TokenCounter, rng: random.Random
) -> list[list[int]]:
    if chunk_tokens is not None:
        return group_units([counter(line) for line in lines], chunk_tokens, rng)
    return [list(range(i, min(i + pairs_per_chunk, len(lines)))) for i in range(0, len(lines), pairs_per_chunk)]


def load_kv_retrieval(
    *,
    root: str | Path | None = None,
    split: Split = "all",
    seed: int = 0,
    limit: int | None = None,
    counter: TokenCounter = count_tokens,
    eval_fraction: float = 0.1,
    records_per_instance: int = 1,
    pairs_per_chunk: int = 15,
    chunk_tokens: Budget | None = None,
    questions_per_instance: int = 10,
) -> list[Instance]:
    """Key-value pairs of `records_per_instance` records per instance, `pairs_per_chunk` to a chunk (or packed by
    `chunk_tokens` when given), with `questions_per_instance` value look-ups (see the module docstring)."""
    if records_per_instance < 1 or pairs_per_chunk < 1 or questions_per_instance < 1:
        raise ValueError(
            "records_per_instance, pairs_per_chunk and questions_per_instance must be >= 1, got "
            f"{records_per_instance!r}, {pairs_per_chunk!r}, {questions_per_instance!r}"
        )
    path = source_file(root, KV_FILE)
    records = [r for r in _read_records(path) if in_split(f"kv:{r.key}", split, eval_fraction=eval_fraction)]
    instances: list[Instance] = []
    for start in range(0, len(records), records_per_instance):
        if limit is not None and len(instances) >= limit:
            break
        group = records[start : start + records_per_instance]
        rng = random.Random(f"{seed}:kv_retrieval:{split}:{group[0].key}")
        values: dict[str, str] = {}
        ambiguous: set[str] = set()
        for key, value in (pair for r in group for pair in r.pairs):
            if values.setdefault(key, value) != value:
                ambiguous.add(key)
        lines = [f'"{k}": "{v}"' for r in group for k, v in r.pairs]
        keys = [k for r in group for k, _ in r.pairs]
        chunk_groups = _chunk_pairs(lines, pairs_per_chunk, chunk_tokens, counter, rng)
        chunk_of = {keys[i]: c for c, indices in enumerate(chunk_groups) for i in indices}
        asked = list(dict.fromkeys(r.key for r in group if r.key not in ambiguous))[:questions_per_instance]
        rest = [k for k in dict.fromkeys(keys) if k not in ambiguous and k not in asked]
        asked += rng.sample(rest, min(questions_per_instance - len(asked), len(rest)))
        rng.shuffle(asked)
        own = {r.key for r in group}
        questions = [
            Question(
                question=f'What is the value associated with the key "{key}"?',
                answers=[values[key]],
                metric="sub_em",
                metadata={"key": key, "evidence_idx": [chunk_of[key]], "queried_key": key in own},
            )
            for key in asked
        ]
        chunks, dates = wrap_chunks(
            ["\n".join(lines[i] for i in indices) for indices in chunk_groups], "facts", rng=rng
        )
        instances.append(
            Instance(
                id=f"kv-{split}-{len(instances)}",
                data_source="kv_retrieval",
                capability="AR",
                chunks=chunks,
                questions=questions,
                prompt=KV_PROMPT,
                metadata={
                    "source_file": KV_FILE,
                    "split": split,
                    "seed": seed,
                    "lines": [r.line for r in group],
                    "dates": [d.isoformat() for d in dates],
                },
            )
        )
    return instances
