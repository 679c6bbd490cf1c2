"""Conflict-resolution instances from SituatedQA's temporal questions: an old fact, a later update, then a question.

The paper leaves conflict resolution out (§8.1: no realistic benchmark, MemoryAgentBench's FactConsolidation is
synthetic). SituatedQA (`temp_raw.*.jsonl`) gives real questions whose answer changed over time: `prev_answers`
(true from `prev_start`) were replaced by `cur_answers` (true from `cur_start`). Each instance takes
`questions_per_instance` such questions. For each, the old fact goes into an earlier chunk and the update into a
later one (two distinct chunks drawn at random), interleaved with the other questions' facts and with
`distractors_per_instance` facts of time-independent SituatedQA questions that are never asked. Facts are stated
in our own words with their dates ("Since April 2015, the answer to "…?" is …"; undated updates say "Update: … is
now …"); chunks are `facts` dialogues with dates advancing one day per chunk, so the stream is chronological.

Questions ask for the current value ("As of now, …?"), `answers` are the current answers and `superseded` the
previous answers that no current answer contains (case-insensitively); the metric is `conflict_aware`.
Rows are skipped when the current answers are missing, or every previous answer survives in a current one (the
same value); rows without previous answers only serve as distractors. A row of the wrong shape raises
`SourceRowError`. `train` reads the train file, `eval` the dev file, `all` both; the files fix
the split, so `eval_fraction` is unused.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memalpha_data.dialogue import wrap_chunks
from memalpha_data.exceptions import SourceRowError
from memalpha_data.instance import Instance, Question
from memalpha_data.sources._common import Split, iter_jsonl, require, source_file
from memalpha_data.tokens import TokenCounter, count_tokens

SITUATEDQA_FILES = {"train": "situatedqa/temp_raw.train.jsonl", "eval": "situatedqa/temp_raw.dev.jsonl"}
TASK_PROMPT = (
    "The user tells you facts over several days; some later facts update earlier ones. Afterwards, answer questions "
    "with the most recent information."
)
QUESTION_TEMPLATE = "As of now, {question}?"
_ARTICLES = ("a", "an", "the")

Day = tuple[int, int | None, int | None]
"""A (year, month, day) date of SituatedQA; month and day may be unknown."""


@dataclass(frozen=True)
class _Row:
    line: int
    question: str
    current: list[str]
    previous: list[str]
    superseded: list[str]
    previous_since: Day | None
    current_since: Day | None


def _answers(row: dict[str, Any], key: str, path: Path, number: int) -> list[str]:
    """A list of answer strings (None counts as empty), stripped, blanks and repeats dropped."""
    value = row.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise SourceRowError(path, number, f"field {key!r} should be a list of strings, got {value!r}")
    out: list[str] = []
    for answer in value:
        if answer.strip() and answer.strip() not in out:
            out.append(answer.strip())
    return out


def _day(value: Any, path: Path, number: int) -> Day | None:
    """A `{year, month, date}` object as a date tuple; None when absent or without a year."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise SourceRowError(path, number, f"a timeline date should be an object, got {value!r}")
    parts = [value.get(k) for k in ("year", "month", "date")]
    if not all(p is None or (isinstance(p, int) and not isinstance(p, bool)) for p in parts):
        raise SourceRowError(path, number, f"a timeline date should hold integers, got {value!r}")
    year, month, day = parts
    if year is None:
        return None
    return (year, month, day if month is not None else None)


def _timeline_days(row: dict[str, Any], path: Path, number: int) -> tuple[Day | None, Day | None]:
    """The first known start of the previous and of the current answer; both dropped if not in order."""
    timelines = row.get("timelines")
    if timelines is None:
        return None, None
    if not isinstance(timelines, list):
        raise SourceRowError(path, number, f"field 'timelines' should be a list, got {type(timelines).__name__}")
    previous = current = None
    for timeline in timelines:
        if not isinstance(timeline, dict):
            raise SourceRowError(path, number, f"a timeline should be an object, got {timeline!r}")
        previous = previous or _day(timeline.get("prev_start"), path, number)
        current = current or _day(timeline.get("cur_start"), path, number)
    if previous and current and tuple(p or 0 for p in previous) >= tuple(c or 0 for c in current):
        return None, None
    return previous, current


def _read(path: Path) -> tuple[list[_Row], list[_Row]]:
    """Updates (rows with a previous and a different current answer) and static facts (rows with only a current one);
    rows with no current answer, or whose previous answers all survive in the current ones, are skipped."""
    updates: list[_Row] = []
    static: list[_Row] = []
    seen: set[str] = set()
    for number, row in iter_jsonl(path):
        question = require(row, "question", str, path, number).strip().rstrip("?").strip()
        if not question:
            raise SourceRowError(path, number, "the question is empty")
        # an answer that is only an article ("the": train row 272) vanishes under answer normalisation: unscorable
        current = [a for a in _answers(row, "cur_answers", path, number) if a.lower() not in _ARTICLES]
        previous = _answers(row, "prev_answers", path, number)
        previous_since, current_since = _timeline_days(row, path, number)
        if question.lower() in seen or not current:
            continue
        seen.add(question.lower())
        lowered = [c.lower() for c in current]
        superseded = [p for p in previous if not any(p.lower() in c for c in lowered)]
        if previous and not superseded:
            continue  # the previous answer is still current: no conflict, and not a fact that holds throughout
        target = updates if superseded else static
        target.append(_Row(number, question, current, previous, superseded, previous_since, current_since))
    return updates, static


_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _when(day: Day) -> str:
    year, month, dom = day
    if month is None or not 1 <= month <= 12:
        return str(year)
    return f"{dom} {_MONTHS[month - 1]} {year}" if dom else f"{_MONTHS[month - 1]} {year}"


def _statement(question: str, answer: str, since: Day | None, *, update: bool) -> str:
    if since is not None:
        return f'Since {_when(since)}, the answer to "{question}?" is {answer}.'
    if update:
        return f'Update: the answer to "{question}?" is now {answer}.'
    return f'The answer to "{question}?" is {answer}.'


def _instance(
    rows: list[_Row],
    static: list[_Row],
    *,
    instance_id: str,
    part: str,
    rng: random.Random,
    chunks_per_instance: int,
    distractors_per_instance: int,
) -> Instance:
    slots: list[list[str]] = [[] for _ in range(chunks_per_instance)]
    placement = []
    for row in rows:
        old, new = sorted(rng.sample(range(chunks_per_instance), 2))
        slots[old].append(_statement(row.question, row.superseded[0], row.previous_since, update=False))
        slots[new].append(_statement(row.question, row.current[0], row.current_since, update=True))
        placement.append((old, new))
    asked = {r.question.lower() for r in rows}
    pool = [r for r in static if r.question.lower() not in asked]
    for row in rng.sample(pool, min(distractors_per_instance, len(pool))):
        slots[rng.randrange(chunks_per_instance)].append(
            _statement(row.question, row.current[0], row.current_since, update=False)
        )
    kept = [i for i, slot in enumerate(slots) if slot]
    index = {old: new for new, old in enumerate(kept)}
    texts = []
    for i in kept:
        rng.shuffle(slots[i])
        texts.append("\n".join(slots[i]))
    chunks, dates = wrap_chunks(texts, "facts", rng=rng)
    questions = [
        Question(
            question=QUESTION_TEMPLATE.format(question=row.question),
            answers=row.current,
            metric="conflict_aware",
            superseded=row.superseded,
            metadata={
                "source_row": row.line,
                "previous_answers": row.previous,
                "old_fact_chunk": index[old],
                "update_chunk": index[new],
            },
        )
        for row, (old, new) in zip(rows, placement, strict=True)
    ]
    return Instance(
        id=instance_id,
        data_source="situatedqa",
        capability="CR",
        chunks=chunks,
        questions=questions,
        prompt=TASK_PROMPT,
        metadata={
            "source_file": SITUATEDQA_FILES[part],
            "split": part,
            "rows": [r.line for r in rows],
            "dates": [d.isoformat(timespec="minutes") for d in dates],
        },
    )


def load_situatedqa(
    *,
    root: str | Path | None = None,
    split: Split = "all",
    seed: int = 0,
    limit: int | None = None,
    counter: TokenCounter = count_tokens,
    eval_fraction: float = 0.1,
    questions_per_instance: int = 10,
    distractors_per_instance: int = 30,
    chunks_per_instance: int = 10,
) -> list[Instance]:
    """SituatedQA conflict-resolution instances (`situatedqa`): old facts, later updates, questions on current values.

    Questions are grouped in a seeded order of the file's usable rows, `questions_per_instance` at a time; a
    remainder under half a group joins the last group. `counter` is unused: chunks hold whole facts, not a token
    budget.
    """
    del counter, eval_fraction
    if split not in ("train", "eval", "all"):
        raise ValueError(f"split must be 'train', 'eval' or 'all', got {split!r}")
    if questions_per_instance < 1 or distractors_per_instance < 0 or chunks_per_instance < 2:
        raise ValueError(
            "need questions_per_instance >= 1, distractors_per_instance >= 0 and chunks_per_instance >= 2 (an old fact "
            f"and its update go to different chunks), got {questions_per_instance!r}, {distractors_per_instance!r}, "
            f"{chunks_per_instance!r}"
        )
    instances: list[Instance] = []
    for part in ("train", "eval"):
        if split not in (part, "all"):
            continue
        updates, static = _read(source_file(root, SITUATEDQA_FILES[part]))
        random.Random(f"{seed}:situatedqa:{part}").shuffle(updates)
        groups = [updates[i : i + questions_per_instance] for i in range(0, len(updates), questions_per_instance)]
        if len(groups) > 1 and 2 * len(groups[-1]) < questions_per_instance:
            groups[-2].extend(groups.pop())  # a short remainder joins the last full group
        for n, group in enumerate(groups):
            if limit is not None and len(instances) >= limit:
                return instances
            instances.append(
                _instance(
                    group,
                    static,
                    instance_id=f"situatedqa-{part}-{n}",
                    part=part,
                    rng=random.Random(f"{seed}:situatedqa:{part}:{n}"),
                    chunks_per_instance=chunks_per_instance,
                    distractors_per_instance=distractors_per_instance,
                )
            )
    return instances
