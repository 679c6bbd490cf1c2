"""SQuAD as accurate-retrieval instances: Wikipedia paragraphs packed into dated "facts" dialogue chunks, followed by
the questions about those paragraphs.

Follows paper §8.2 (SQuAD): the unique contexts (paragraphs), in file order, are packed whole into chunks whose
target size is drawn per chunk from `chunk_tokens`; every `chunks_per_instance` consecutive chunks make an instance;
its questions are all the questions about its paragraphs, capped at `max_questions` by a seeded random sample,
and instances left with fewer than `min_questions` are dropped. Chunks use the `facts` dialogue wrapper (§4.1),
scored by `sub_em` (§6.2).

Where it deviates:
- Our copy is the *dev* set (48 articles, 2,067 paragraphs, 10,570 questions in v1.1), not the train set.
  Train/eval is a stable hash split **by article title**, so no article lies in both.
- The budget defaults to (85, 1700) of our word-and-punctuation tokens, the paper's [100, 2048] Qwen tokens
  scaled by the counter's ~1.2 ratio. A paragraph over the drawn target makes a chunk of its own (never split).
- The closed-book filter needs an LLM (answer shorter than 5 tokens *and* answered wrongly without context):
  pass `question_filter` to apply it (or any other rule); by default every question is kept. The paper's
  thresholds were ≥50 raw and ≥30 filtered questions; with no filter nearly every instance reaches the
  cap of 100, so `min_questions=30` only drops the short remainder at the end of a split.
- SQuAD 2.0's unanswerable questions are skipped; answers are the question's unique gold texts.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from memalpha_data.chunking import Budget, group_units
from memalpha_data.dialogue import wrap_chunks
from memalpha_data.exceptions import SourceRowError
from memalpha_data.instance import Instance, Question
from memalpha_data.sources._common import Split, in_split, read_json, require, source_file
from memalpha_data.tokens import TokenCounter, count_tokens

logger = logging.getLogger(__name__)

SquadVersion = Literal["1.1", "2.0"]
QuestionFilter = Callable[[Question], bool]
"""Keeps a question when it returns True (e.g. the paper's closed-book filter with a model of your choice)."""

SQUAD_FILES: dict[str, str] = {"1.1": "squad/squad_dev_v1.1.json", "2.0": "squad/squad_dev_v2.0.json"}
DEFAULT_CHUNK_TOKENS: tuple[int, int] = (85, 1700)
"""The paper's [100, 2048] Qwen3 tokens in our counter's units (about 1.2 times fewer)."""

SQUAD_PROMPT = (
    "You will receive Wikipedia paragraphs over several conversations. Remember their facts: names, dates, "
    "numbers and places. Afterwards you will answer questions about them."
)


@dataclass(frozen=True)
class _QA:
    qid: str
    question: str
    answers: tuple[str, ...]


@dataclass
class _Paragraph:
    title: str
    context: str
    position: str  # "data[a].paragraphs[p]", for provenance
    qas: list[_QA]


def _read_qa(qa: object, path: Path, where: str) -> _QA | None:
    """One question of the file, or None for an unanswerable (SQuAD 2.0) one."""
    question = require(qa, "question", str, path, where).strip()
    answers = require(qa, "answers", list, path, where)
    impossible = cast(dict[str, Any], qa).get("is_impossible", False)
    if not isinstance(impossible, bool):
        raise SourceRowError(path, where, f"field 'is_impossible' should be bool, got {type(impossible).__name__}")
    if impossible:
        return None
    if not question:
        raise SourceRowError(path, where, "blank question")
    texts: list[str] = []
    for i, answer in enumerate(answers):
        text = require(answer, "text", str, path, f"{where}.answers[{i}]").strip()
        if text and text not in texts:
            texts.append(text)
    if not texts:
        raise SourceRowError(path, where, "an answerable question without any gold answer text")
    qid = cast(dict[str, Any], qa).get("id", where)
    return _QA(qid=str(qid), question=question, answers=tuple(texts))


def _read_paragraphs(path: Path) -> list[_Paragraph]:
    """The unique paragraphs of a SQuAD JSON file in file order, each with its answerable questions (a context
    repeated within an article keeps one entry holding the questions of both)."""
    data = require(read_json(path), "data", list, path, "top level")
    paragraphs: list[_Paragraph] = []
    seen: dict[tuple[str, str], _Paragraph] = {}
    for a, article in enumerate(data):
        title = require(article, "title", str, path, f"data[{a}]")
        for p, raw in enumerate(require(article, "paragraphs", list, path, f"data[{a}]")):
            where = f"data[{a}].paragraphs[{p}]"
            context = require(raw, "context", str, path, where).strip()
            if not context:
                raise SourceRowError(path, where, "blank context")
            qas = [
                _read_qa(qa, path, f"{where}.qas[{q}]") for q, qa in enumerate(require(raw, "qas", list, path, where))
            ]
            kept = [qa for qa in qas if qa is not None]
            if (title, context) in seen:
                seen[(title, context)].qas.extend(kept)
                continue
            paragraph = _Paragraph(title=title, context=context, position=where, qas=kept)
            seen[(title, context)] = paragraph
            paragraphs.append(paragraph)
    return paragraphs


def load_squad(
    *,
    root: str | Path | None = None,
    split: Split = "all",
    seed: int = 0,
    limit: int | None = None,
    counter: TokenCounter = count_tokens,
    eval_fraction: float = 0.1,
    version: SquadVersion = "1.1",
    chunks_per_instance: int = 10,
    chunk_tokens: Budget = DEFAULT_CHUNK_TOKENS,
    max_questions: int = 100,
    min_questions: int = 30,
    question_filter: QuestionFilter | None = None,
) -> list[Instance]:
    """SQuAD paragraphs in `chunks_per_instance` dated chunks per instance, with up to `max_questions` questions
    about them (see the module docstring)."""
    if version not in SQUAD_FILES:
        raise ValueError(f"version must be '1.1' or '2.0', got {version!r}")
    if chunks_per_instance < 1 or max_questions < 1 or not 1 <= min_questions <= max_questions:
        raise ValueError(
            "need chunks_per_instance >= 1 and 1 <= min_questions <= max_questions, got "
            f"{chunks_per_instance!r}, {min_questions!r}, {max_questions!r}"
        )
    relative = SQUAD_FILES[version]
    path = source_file(root, relative)
    paragraphs = [p for p in _read_paragraphs(path) if in_split(p.title, split, eval_fraction=eval_fraction)]
    groups = group_units([counter(p.context) for p in paragraphs], chunk_tokens, random.Random(f"{seed}:squad:chunks"))
    prefix = "squad" if version == "1.1" else "squad2"
    instances: list[Instance] = []
    for start in range(0, len(groups), chunks_per_instance):
        if limit is not None and len(instances) >= limit:
            break
        chunk_groups = [[paragraphs[i] for i in group] for group in groups[start : start + chunks_per_instance]]
        rng = random.Random(f"{seed}:{prefix}:{split}:{start}")
        questions = [
            Question(
                question=qa.question,
                answers=list(qa.answers),
                metric="sub_em",
                metadata={"id": qa.qid, "title": p.title, "evidence_idx": [c]},
            )
            for c, group in enumerate(chunk_groups)
            for p in group
            for qa in p.qas
        ]
        if question_filter is not None:
            questions = [q for q in questions if question_filter(q)]
        if len(questions) > max_questions:
            questions = [questions[i] for i in sorted(rng.sample(range(len(questions)), max_questions))]
        if len(questions) < min_questions:
            logger.debug("squad: dropped the instance at chunk %d with %d questions", start, len(questions))
            continue
        chunks, dates = wrap_chunks(["\n\n".join(p.context for p in group) for group in chunk_groups], "facts", rng=rng)
        titles = list(dict.fromkeys(p.title for group in chunk_groups for p in group))
        instances.append(
            Instance(
                id=f"{prefix}-{split}-{len(instances)}",
                data_source="squad",
                capability="AR",
                chunks=chunks,
                questions=questions,
                prompt=SQUAD_PROMPT,
                metadata={
                    "source_file": relative,
                    "version": version,
                    "split": split,
                    "seed": seed,
                    "titles": titles,
                    "paragraphs": [p.position for group in chunk_groups for p in group],
                    "dates": [d.isoformat() for d in dates],
                },
            )
        )
    return instances
