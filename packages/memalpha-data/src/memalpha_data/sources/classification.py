"""Test-time-learning instances from labelled sentences: TREC question classification and NLU intents.

Follows paper §8.2 ("TREC-Coarse and NLU"): each instance shuffles the labelled examples, takes about 2,000 tokens
of them and spreads them over 10 chunks as `Sentence: …\\nLabel: …` lines in the classification dialogue wrapper;
one example of every label the draw missed is added to chunk 0, so every label is shown. Labels are numeric
(0..K-1 over the sorted label names; the mapping is kept in `metadata["label_names"]`), as in the paper, so the
agent must learn them from the examples. Each instance asks 100 questions, scored with `boxed_label_em`.

Where it deviates from the paper, and why:
- The paper reuses MemoryAgentBench's test questions as training QAs, so its training and evaluation questions
  overlap. Here the questions of `eval` instances come from a held-out pool that `train` instances never touch:
  TREC's test file `TREC_10.label` (500 questions), and one cross-validation fold of NLU (`eval_fold`). `train`
  instances draw their questions from the training pool, from lines not used as examples in that instance.
  Examples always come from the training pool. `eval_fraction` is therefore unused.
- Within one instance no example repeats a question's sentence (compared case- and space-insensitively; TREC has
  duplicate lines and 11 test questions that also occur in the training file), and no example sentence repeats.
- TREC-fine (50 labels) is offered besides TREC-coarse (6); NLU has 64 `scenario_intent` labels in this copy.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from memalpha_data.dialogue import wrap_chunks
from memalpha_data.exceptions import SourceRowError
from memalpha_data.instance import Instance, Question
from memalpha_data.sources._common import Split, source_file
from memalpha_data.tokens import TokenCounter, count_tokens

TREC_TRAIN = "trec/train_5500.label"
TREC_TEST = "trec/TREC_10.label"
NLU_FILE = "nlu/nlu_evaluation_data_10fold.csv"

QUESTION_TEMPLATE = (
    "Sentence: {sentence}\nWhat is the label of the sentence above? Put your final answer as \\boxed{{label}}."
)
TASK_PROMPT = (
    "The conversation shows example sentences, each with a numeric label. Learn which label goes with which kind of "
    "sentence; afterwards you will be asked to label new sentences."
)
DEFAULT_INSTANCES: dict[str, int] = {"train": 180, "eval": 20}
"""Instances per split when `instances` is not given (paper Table 6: 180 training and 20 validation per source)."""

_NLU_COLUMNS = ("fold", "scenario", "intent", "answer_from_anno")


@dataclass(frozen=True)
class _Example:
    text: str
    label: str
    row: int


def _key(text: str) -> str:
    """Sentence identity for the no-overlap rule: case and whitespace do not count."""
    return " ".join(text.lower().split())


def _read_trec(path: Path, granularity: Literal["coarse", "fine"]) -> list[_Example]:
    """`COARSE:fine sentence` lines (latin-1: one training line is not UTF-8)."""
    examples = []
    with path.open(encoding="latin-1") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            label, _, text = line.strip().partition(" ")
            coarse, colon, fine = label.partition(":")
            if not colon or not coarse or not fine:
                raise SourceRowError(path, number, f"expected 'COARSE:fine sentence', got label {label!r}")
            if not text.strip():
                raise SourceRowError(path, number, "the line has a label but no sentence")
            examples.append(_Example(text.strip(), coarse if granularity == "coarse" else label, number))
    return examples


def _read_nlu(path: Path) -> list[tuple[int, _Example]]:
    """(fold, example) per CSV row; the label is `scenario_intent`, the text `answer_from_anno`."""
    rows = []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in _NLU_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise SourceRowError(path, 1, f"the header lacks column(s) {missing!r}")
        for row in reader:
            number = reader.line_num
            for column in _NLU_COLUMNS:
                if not (row.get(column) or "").strip():
                    raise SourceRowError(path, number, f"column {column!r} is empty")
            try:
                fold = int(row["fold"])
            except ValueError:
                raise SourceRowError(path, number, f"fold should be an integer, got {row['fold']!r}") from None
            label = f"{row['scenario'].strip()}_{row['intent'].strip()}"
            rows.append((fold, _Example(row["answer_from_anno"].strip(), label, number)))
    return rows


def _spread(items: list[_Example], parts: int) -> list[list[_Example]]:
    """`items` cut into `parts` contiguous groups whose sizes differ by at most one (empty groups dropped)."""
    size, extra = divmod(len(items), parts)
    groups, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        groups.append(items[start:end])
        start = end
    return [g for g in groups if g]


@dataclass(frozen=True)
class _Recipe:
    """Everything one source's instances are built from, apart from the split, seed and instance number."""

    data_source: str
    train_pool: tuple[_Example, ...]
    test_pool: tuple[_Example, ...]
    label_ids: dict[str, int]
    counter: TokenCounter
    examples_tokens: int
    chunks_per_instance: int
    questions_per_instance: int
    metadata: dict[str, object]


def _build_instance(
    recipe: _Recipe, instance_id: str, rng: random.Random, questions: list[_Example], split: str
) -> Instance:
    """One instance: examples up to the token budget spread over chunks, missing labels added to chunk 0."""
    label_ids = recipe.label_ids
    forbidden = {_key(q.text) for q in questions}
    seen: set[str] = set()
    candidates = []
    for example in rng.sample(recipe.train_pool, len(recipe.train_pool)):
        key = _key(example.text)
        if key not in forbidden and key not in seen:
            seen.add(key)
            candidates.append(example)

    def line(example: _Example) -> str:
        return f"Sentence: {example.text}\nLabel: {label_ids[example.label]}"

    chosen: list[_Example] = []
    used = 0
    for example in candidates:
        cost = recipe.counter(line(example))
        if chosen and used + cost > recipe.examples_tokens:
            break
        chosen.append(example)
        used += cost
    present = {e.label for e in chosen}
    added = []
    for example in candidates[len(chosen) :]:
        if example.label not in present:
            present.add(example.label)
            added.append(example)
    groups = _spread(chosen, recipe.chunks_per_instance)
    groups[0] = added + groups[0]
    chunks, dates = wrap_chunks(["\n".join(line(e) for e in group) for group in groups], "classification", rng=rng)
    return Instance(
        id=instance_id,
        data_source=recipe.data_source,
        capability="TTL",
        chunks=chunks,
        questions=[
            Question(
                question=QUESTION_TEMPLATE.format(sentence=q.text),
                answers=[str(label_ids[q.label])],
                metric="boxed_label_em",
                metadata={"label_name": q.label, "source_row": q.row},
            )
            for q in questions
        ],
        prompt=TASK_PROMPT,
        metadata={
            **recipe.metadata,
            "split": split,
            "label_names": sorted(label_ids, key=label_ids.__getitem__),
            "num_examples": len(chosen) + len(added),
            "added_for_missing_labels": len(added),
            "missing_labels": sorted(set(label_ids) - present),
            "example_rows": [e.row for group in groups for e in group],
            "dates": [d.isoformat(timespec="minutes") for d in dates],
        },
    )


def _build_split(recipe: _Recipe, split: Literal["train", "eval"], count: int, seed: int) -> list[Instance]:
    """`count` instances of one split; instance n depends only on (seed, source, split, n)."""
    test_keys = {_key(e.text) for e in recipe.test_pool}
    # training questions never repeat a held-out test sentence
    if split == "eval":
        question_pool = list(recipe.test_pool)
    else:
        question_pool = [e for e in recipe.train_pool if _key(e.text) not in test_keys]
    instances = []
    for n in range(count):
        rng = random.Random(f"{seed}:{recipe.data_source}:{split}:{n}")
        questions = rng.sample(question_pool, min(recipe.questions_per_instance, len(question_pool)))
        instances.append(_build_instance(recipe, f"{recipe.data_source}-{split}-{n}", rng, questions, split))
    return instances


def _build(recipe: _Recipe, split: Split, seed: int, limit: int | None, instances: int | None) -> list[Instance]:
    """The instances of `split` (train then eval for `all`), at most `limit` of them."""
    if split not in ("train", "eval", "all"):
        raise ValueError(f"split must be 'train', 'eval' or 'all', got {split!r}")
    if instances is not None and instances < 0:
        raise ValueError(f"instances must be non-negative, got {instances!r}")
    out: list[Instance] = []
    for part in ("train", "eval"):
        if split in (part, "all"):
            count = DEFAULT_INSTANCES[part] if instances is None else instances
            if limit is not None:
                count = min(count, max(limit - len(out), 0))
            out.extend(_build_split(recipe, part, count, seed))
    return out


def _check_knobs(examples_tokens: int, chunks_per_instance: int, questions_per_instance: int) -> None:
    for name, value in (
        ("examples_tokens", examples_tokens),
        ("chunks_per_instance", chunks_per_instance),
        ("questions_per_instance", questions_per_instance),
    ):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value!r}")


def load_trec(
    *,
    root: str | Path | None = None,
    split: Split = "all",
    seed: int = 0,
    limit: int | None = None,
    counter: TokenCounter = count_tokens,
    eval_fraction: float = 0.1,
    granularity: Literal["coarse", "fine"] = "coarse",
    instances: int | None = None,
    examples_tokens: int = 2000,
    chunks_per_instance: int = 10,
    questions_per_instance: int = 100,
) -> list[Instance]:
    """TREC question-classification instances (`trec_coarse`: 6 labels, `trec_fine`: 50 labels).

    Examples come from `train_5500.label`; `eval` questions from `TREC_10.label`, `train` questions from training
    lines not shown in that instance. `instances` is per split (default 180 train, 20 eval); `split="all"` returns
    the train instances then the eval ones. `eval_fraction` is unused: the files fix the split.
    """
    del eval_fraction
    if granularity not in ("coarse", "fine"):
        raise ValueError(f"granularity must be 'coarse' or 'fine', got {granularity!r}")
    _check_knobs(examples_tokens, chunks_per_instance, questions_per_instance)
    train_path, test_path = source_file(root, TREC_TRAIN), source_file(root, TREC_TEST)
    train_pool = _read_trec(train_path, granularity)
    test_pool = _read_trec(test_path, granularity)
    label_ids = {name: i for i, name in enumerate(sorted({e.label for e in train_pool}))}
    for example in test_pool:
        if example.label not in label_ids:
            raise SourceRowError(test_path, example.row, f"label {example.label!r} never occurs in {TREC_TRAIN}")
    recipe = _Recipe(
        data_source=f"trec_{granularity}",
        train_pool=tuple(train_pool),
        test_pool=tuple(test_pool),
        label_ids=label_ids,
        counter=counter,
        examples_tokens=examples_tokens,
        chunks_per_instance=chunks_per_instance,
        questions_per_instance=questions_per_instance,
        metadata={"source_files": [TREC_TRAIN, TREC_TEST], "granularity": granularity},
    )
    return _build(recipe, split, seed, limit, instances)


def load_nlu(
    *,
    root: str | Path | None = None,
    split: Split = "all",
    seed: int = 0,
    limit: int | None = None,
    counter: TokenCounter = count_tokens,
    eval_fraction: float = 0.1,
    eval_fold: int = 1,
    instances: int | None = None,
    examples_tokens: int = 2000,
    chunks_per_instance: int = 10,
    questions_per_instance: int = 100,
) -> list[Instance]:
    """NLU-Evaluation-Data intent instances (`nlu`, 64 `scenario_intent` labels).

    Rows of cross-validation fold `eval_fold` are the `eval` question pool and never appear in `train` instances;
    the other folds give every instance's examples and the `train` questions. `instances` is per split (default
    180 train, 20 eval). `eval_fraction` is unused: the fold fixes the split.
    """
    del eval_fraction
    _check_knobs(examples_tokens, chunks_per_instance, questions_per_instance)
    path = source_file(root, NLU_FILE)
    rows = _read_nlu(path)
    folds = sorted({fold for fold, _ in rows})
    if eval_fold not in folds:
        raise ValueError(f"eval_fold {eval_fold!r} is not a fold of {NLU_FILE}; folds are {folds!r}")
    label_ids = {name: i for i, name in enumerate(sorted({e.label for _, e in rows}))}
    recipe = _Recipe(
        data_source="nlu",
        train_pool=tuple(e for fold, e in rows if fold != eval_fold),
        test_pool=tuple(e for fold, e in rows if fold == eval_fold),
        label_ids=label_ids,
        counter=counter,
        examples_tokens=examples_tokens,
        chunks_per_instance=chunks_per_instance,
        questions_per_instance=questions_per_instance,
        metadata={"source_files": [NLU_FILE], "eval_fold": eval_fold},
    )
    return _build(recipe, split, seed, limit, instances)
