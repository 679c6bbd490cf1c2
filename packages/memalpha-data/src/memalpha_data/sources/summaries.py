"""Long-range-understanding instances: SQuALITY stories and QMSum meetings, scored by keyword hits.

The paper's LRU source is BookSum (§8.2): a chapter in sentence-boundary chunks of at most 2,048 tokens in the
`reading` wrapper with dates 1-3 days apart, and one question, "Summarize the content of the book I read from
{first_date} to {last_date}", whose gold is a keyword list GPT-4.1 extracted from the reference summary; the metric
is the fraction of keywords found in the answer (`keyword_hit`, §6.2). Here:

- `load_squality`: one instance per SQuALITY story, read in the `reading` wrapper. The gold keywords come from the
  plot-summary question (question 1): `keyword_extractor` is applied to its four reference summaries joined
  together, so what several writers mention ranks first. The four summaries are kept in the question's metadata.
  `include_other_questions=True` adds the story's four specific questions, with keywords from their responses.
- `load_qmsum`: one instance per QMSum meeting, its transcript (`Speaker: utterance` lines, disfluency markers
  removed) in the `facts` wrapper. The general query ("Summarize the whole meeting.") becomes a keyword question;
  so do the specific queries unless `specific_queries=False`. Their answers are free text of a few sentences, so
  substring matching would be meaningless: keyword hits score them too.

Answers store the keyword list the way the paper does: one comma-separated string, `answers=[", ".join(kws)]`.
Keywords come from a deterministic extractor by default (`memalpha_data.keywords.extract_keywords`); pass
`openai_keyword_extractor(...)` for model-extracted ones, closer to the paper. Chunks are packed from whole
paragraphs (stories) or whole turns (meetings); a unit over the budget is cut at sentences, so every chunk ends on
a sentence boundary. The default budget, 1,700 of our tokens, is the paper's 2,048 Qwen tokens scaled by our
counter's ratio.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from memalpha_data.chunking import pack_chunks
from memalpha_data.dialogue import wrap_chunks
from memalpha_data.exceptions import SourceRowError
from memalpha_data.instance import Instance, Question
from memalpha_data.keywords import extract_keywords
from memalpha_data.sources._common import Split, iter_jsonl, require, source_file, split_of
from memalpha_data.tokens import TokenCounter, count_tokens

SQUALITY_FILES = {"train": "squality/squality_v1-3_txt_train.jsonl", "eval": "squality/squality_v1-3_txt_dev.jsonl"}
QMSUM_FILE = "qmsum/qmsum_all_val.jsonl"
DEFAULT_CHUNK_TOKENS = 1700

SUMMARY_QUESTION = "Summarize the content of the book I read from {first} to {last}."
STORY_PROMPT = "The user reads a story over several days. Afterwards, answer questions about it and summarize it."
MEETING_PROMPT = "The user shares the transcript of a meeting in parts. Afterwards, answer questions about the meeting."

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_MARKER = re.compile(r"\{\w+\}")
_SPACE_BEFORE_PUNCT = re.compile(r" +([.,?!;:])")
_SPLIT_CLITIC = re.compile(r"(\w) +('(?:s|re|ve|ll|d|m)\b|n't\b)", re.IGNORECASE)


def _check_split(split: Split) -> None:
    if split not in ("train", "eval", "all"):
        raise ValueError(f"split must be 'train', 'eval' or 'all', got {split!r}")


def _keyword_answer(
    extractor: Callable[[str], list[str]], text: str, path: Path, row: int | str, what: str
) -> tuple[str, list[str]]:
    """The comma-separated gold string and the keyword list for a reference `text`."""
    keywords = [k.strip() for k in extractor(text) if k.strip() and "," not in k]
    if not keywords:
        raise SourceRowError(path, row, f"the keyword extractor found no keywords in {what}")
    return ", ".join(keywords), keywords


def _story_paragraphs(document: str) -> list[str]:
    """Paragraphs of a Gutenberg text: blocks between blank lines, hard line breaks and indentation removed."""
    return [" ".join(p.split()) for p in _BLANK_LINE.split(document) if p.strip()]


def _day(when: datetime) -> str:
    return when.strftime("%Y-%m-%d")


def _squality_instance(
    row: Any,
    path: Path,
    number: int,
    part: str,
    *,
    seed: int,
    counter: TokenCounter,
    chunk_tokens: int,
    keyword_extractor: Callable[[str], list[str]],
    include_other_questions: bool,
) -> Instance:
    metadata = require(row, "metadata", dict, path, number)
    passage_id = require(metadata, "passage_id", str, path, number)
    document = require(row, "document", str, path, number)
    raw_questions = require(row, "questions", list, path, number)
    parsed = []
    for q in raw_questions:
        text = require(q, "question_text", str, path, number)
        responses = require(q, "responses", list, path, number)
        summaries = [require(r, "response_text", str, path, number).strip() for r in responses]
        if not any(summaries):
            raise SourceRowError(path, number, f"question {text!r} has no responses")
        parsed.append((require(q, "question_number", int, path, number), text, [s for s in summaries if s]))
    plot = [p for p in parsed if p[0] == 1]
    if not plot:
        raise SourceRowError(path, number, "no question 1 (the plot summary)")
    texts = pack_chunks(_story_paragraphs(document), chunk_tokens, counter=counter, separator="\n\n")
    if not texts:
        raise SourceRowError(path, number, "the document is empty")
    rng = random.Random(f"{seed}:squality:{passage_id}")
    chunks, dates = wrap_chunks(texts, "reading", rng=rng)
    first, last = _day(dates[0]), _day(dates[-1])
    questions = []
    for question_number, text, summaries in sorted(parsed):
        if question_number != 1 and not include_other_questions:
            continue
        gold, keywords = _keyword_answer(
            keyword_extractor, "\n\n".join(summaries), path, number, f"the responses to question {question_number}"
        )
        asked = SUMMARY_QUESTION.format(first=first, last=last) if question_number == 1 else text
        questions.append(
            Question(
                question=asked,
                answers=[gold],
                metric="keyword_hit",
                metadata={
                    "question_number": question_number,
                    "original_question": text,
                    "keywords": keywords,
                    "reference_summaries": summaries,
                },
            )
        )
    return Instance(
        id=f"squality-{passage_id}",
        data_source="squality",
        capability="LRU",
        chunks=chunks,
        questions=questions,
        prompt=STORY_PROMPT,
        metadata={
            "source_file": SQUALITY_FILES[part],
            "line": number,
            "split": part,
            "passage_id": passage_id,
            "uid": metadata.get("uid"),
            "dates": [_day(d) for d in dates],
        },
    )


def load_squality(
    *,
    root: str | Path | None = None,
    split: Split = "all",
    seed: int = 0,
    limit: int | None = None,
    counter: TokenCounter = count_tokens,
    eval_fraction: float = 0.1,
    keyword_extractor: Callable[[str], list[str]] = extract_keywords,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    include_other_questions: bool = False,
) -> list[Instance]:
    """SQuALITY stories read over days, with one summary question scored by keyword hits (`squality`).

    `train` reads the train file (50 stories), `eval` the dev file (25), `all` both; `eval_fraction` is unused.
    """
    del eval_fraction
    _check_split(split)
    instances: list[Instance] = []
    for part in ("train", "eval"):
        if split not in (part, "all"):
            continue
        path = source_file(root, SQUALITY_FILES[part])
        for number, row in iter_jsonl(path):
            if limit is not None and len(instances) >= limit:
                return instances
            instances.append(
                _squality_instance(
                    row,
                    path,
                    number,
                    part,
                    seed=seed,
                    counter=counter,
                    chunk_tokens=chunk_tokens,
                    keyword_extractor=keyword_extractor,
                    include_other_questions=include_other_questions,
                )
            )
    return instances


def _clean_utterance(text: str) -> str:
    """A transcript turn without `{disfmarker}`-style markers, with tokenizer spacing undone (`it 's .` -> `it's.`)."""
    text = " ".join(_MARKER.sub(" ", text).split())
    text = _SPLIT_CLITIC.sub(r"\1\2", text)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text).strip(" ,")


def _meeting_lines(row: Any, path: Path, number: int) -> list[str]:
    turns = require(row, "meeting_transcripts", list, path, number)
    lines = []
    for turn in turns:
        speaker = require(turn, "speaker", str, path, number).strip()
        content = _clean_utterance(require(turn, "content", str, path, number))
        if content and any(c.isalnum() for c in content):
            lines.append(f"{speaker}: {content}")
    if not lines:
        raise SourceRowError(path, number, "the meeting transcript is empty")
    return lines


def _qmsum_questions(
    row: Any, path: Path, number: int, keyword_extractor: Callable[[str], list[str]], specific_queries: bool
) -> list[Question]:
    kinds = [("general", "general_query_list")] + ([("specific", "specific_query_list")] if specific_queries else [])
    questions = []
    for kind, key in kinds:
        for index, query in enumerate(require(row, key, list, path, number)):
            text = require(query, "query", str, path, number).strip()
            answer = require(query, "answer", str, path, number).strip()
            if not text or not answer:
                raise SourceRowError(path, number, f"{key}[{index}] has an empty query or answer")
            gold, keywords = _keyword_answer(keyword_extractor, answer, path, number, f"the answer of {key}[{index}]")
            extra = {"relevant_text_span": query["relevant_text_span"]} if "relevant_text_span" in query else {}
            questions.append(
                Question(
                    question=text,
                    answers=[gold],
                    metric="keyword_hit",
                    metadata={"query_type": kind, "keywords": keywords, "reference_answer": answer, **extra},
                )
            )
    if not questions:
        raise SourceRowError(path, number, "the meeting has no queries")
    return questions


def load_qmsum(
    *,
    root: str | Path | None = None,
    split: Split = "all",
    seed: int = 0,
    limit: int | None = None,
    counter: TokenCounter = count_tokens,
    eval_fraction: float = 0.1,
    keyword_extractor: Callable[[str], list[str]] = extract_keywords,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    specific_queries: bool = True,
) -> list[Instance]:
    """QMSum meetings shared in parts, with keyword-scored queries (`qmsum`).

    The 35 meetings of the validation file are split by meeting (`split_of` on the id `qmsum-<line>`).
    """
    _check_split(split)
    path = source_file(root, QMSUM_FILE)
    instances: list[Instance] = []
    for number, row in iter_jsonl(path):
        key = f"qmsum-{number}"
        part = split_of(key, eval_fraction=eval_fraction)
        if split not in (part, "all"):
            continue
        if limit is not None and len(instances) >= limit:
            break
        lines = _meeting_lines(row, path, number)
        questions = _qmsum_questions(row, path, number, keyword_extractor, specific_queries)
        texts = pack_chunks(lines, chunk_tokens, counter=counter, separator="\n")
        parts = [f"Meeting transcript, part {i + 1} of {len(texts)}:\n{text}" for i, text in enumerate(texts)]
        chunks, dates = wrap_chunks(parts, "facts", rng=random.Random(f"{seed}:{key}"))
        instances.append(
            Instance(
                id=key,
                data_source="qmsum",
                capability="LRU",
                chunks=chunks,
                questions=questions,
                prompt=MEETING_PROMPT,
                metadata={
                    "source_file": QMSUM_FILE,
                    "line": number,
                    "split": part,
                    "topics": [t.get("topic") for t in row.get("topic_list", []) if isinstance(t, dict)],
                    "dates": [d.isoformat(timespec="minutes") for d in dates],
                },
            )
        )
    return instances
