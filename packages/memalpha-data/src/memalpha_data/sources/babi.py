"""bAbI stories as accurate-retrieval (`babi`) or conflict-resolution (`babi_cr`) instances.

Not in the Mem-alpha paper. Each instance holds `stories_per_instance` stories of one task, numbered within the
instance; each story opens with a `Story k:` line, its statements follow, and chunks of at most `chunk_tokens`
tokens are wrapped as dated "facts" dialogues (a story longer than a chunk continues under `Story k (continued):`).
Every question names its story ("In story 3, where is John?"): bAbI reuses the same few names in every story,
so a question without its story would be ambiguous.

- **AR** (`capability="AR"`, any of tasks 1-20): bAbI questions are asked in the middle of a story and answered
  from the statements *before* them, but the agent reads whole stories first. So only a story's closing questions
  (those after its last statement) are kept: their answers still hold at the end. Metric `sub_em_normalized`
  (whole-word match: the raw substring `sub_em` would count "no" inside "not" and "one" inside "none", and
  yes/no and counting answers are common here); task 8's list answers `a,b` become `a; b` scored by
  `multipart_match`; task 19's paths `s,e` are also accepted spelt out ("south, east").
- **CR** (`capability="CR"`, tasks 1-3, where people move around): after each story, for every person who has
  been in more than one place, the question "In story k, where is X now?"; the answer is their last location,
  `superseded` every earlier location that differs from it (in order of first mention). Metric `conflict_aware`.
  The moves are read with a pattern for bAbI's five movement verbs, checked against every task-1 gold answer
  ("Where is X?"): a disagreement is a `SourceRowError`.

Splits: bAbI's own train files exist only for tasks 1-5, so `files` picks which files are read (default the test
files, present for all 20 tasks; a task without a requested train file just uses the others) and train/eval is a
stable hash split over each story's statements, so identical stories (task 4 repeats some) never straddle the
split; repeated stories are kept once.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from memalpha_data.chunking import Budget, draw_target
from memalpha_data.dialogue import wrap_chunks
from memalpha_data.exceptions import SourceNotFoundError, SourceRowError
from memalpha_data.instance import Capability, Instance, MetricName, Question
from memalpha_data.sources._common import Split, data_root, in_split
from memalpha_data.tokens import TokenCounter, count_tokens

logger = logging.getLogger(__name__)

BabiFile = Literal["train", "test"]
ALL_TASKS: tuple[int, ...] = tuple(range(1, 21))
CR_TASKS: tuple[int, ...] = (1, 2, 3)
DEFAULT_CHUNK_TOKENS = 512

BABI_PROMPT = (
    "You will receive short numbered stories over several conversations. Remember who did what, where and when "
    "in each story. Afterwards you will answer questions that name the story they are about."
)
BABI_CR_PROMPT = (
    "You will receive short numbered stories over several conversations. People move from place to place: keep "
    "track of where each person is now in each story, replacing outdated locations."
)

_QUESTION_SPLIT = re.compile(r"\t|\|")  # the standard files use tabs; our task-1 copy uses '|'
_MOVE = re.compile(r"^(?P<who>[A-Z]\w*) (?:moved|went back|went|journeyed|travelled|traveled) to the (?P<where>\w+)\.$")
_WHERE_IS_PERSON = re.compile(r"^Where is (?P<who>[A-Z]\w*)\?$")
_DIRECTIONS = {"n": "north", "s": "south", "e": "east", "w": "west"}
_INTERROGATIVES = {"where", "what", "who", "whom", "which", "how", "why", "is", "does", "do", "was", "will"}


@dataclass(frozen=True)
class BabiLine:
    """One line of a bAbI story: a statement, or a question with its answer and supporting statement ids."""

    line: int  # line number in the file
    id: int  # id within the story
    text: str
    answer: str | None = None
    support: tuple[int, ...] = ()

    @property
    def is_question(self) -> bool:
        return self.answer is not None


@dataclass(frozen=True)
class _Story:
    task: int
    file: str
    lines: tuple[BabiLine, ...]

    @property
    def statements(self) -> list[str]:
        return [line.text for line in self.lines if not line.is_question]


def parse_babi(path: Path) -> list[list[BabiLine]]:
    """The stories of a bAbI file (`ID sentence` or `ID question<TAB>answer<TAB>supporting ids`; ids restart at 1
    for each story). A malformed line raises `SourceRowError` naming the file and line."""
    stories: list[list[BabiLine]] = []
    with path.open(encoding="utf-8") as f:
        for number, raw in enumerate(f, start=1):
            text = raw.rstrip("\r\n")
            if not text.strip():
                continue
            head, _, rest = text.partition(" ")
            if not head.isdigit() or not rest.strip():
                raise SourceRowError(path, number, f"expected 'ID sentence', got {text!r:.80}")
            ident = int(head)
            if ident == 1:
                stories.append([])
            elif not stories or ident != stories[-1][-1].id + 1:
                previous = stories[-1][-1].id if stories else None
                raise SourceRowError(
                    path, number, f"line id {ident} does not follow id {previous} (nor starts a story)"
                )
            if not _QUESTION_SPLIT.search(rest):
                stories[-1].append(BabiLine(number, ident, rest.strip()))
                continue
            parts = [p.strip() for p in _QUESTION_SPLIT.split(rest)]
            if len(parts) < 2 or not parts[0] or not parts[1]:
                raise SourceRowError(path, number, f"a question line needs 'question<TAB>answer', got {text!r:.80}")
            support = parts[2].split() if len(parts) > 2 else []
            if not all(s.isdigit() and 1 <= int(s) < ident for s in support):
                raise SourceRowError(path, number, f"supporting ids {parts[2]!r} should be earlier line ids")
            stories[-1].append(BabiLine(number, ident, parts[0], parts[1], tuple(int(s) for s in support)))
    return stories


def _task_files(root: str | Path | None, task: int, files: Sequence[BabiFile]) -> list[Path]:
    folder = data_root(root) / "babi" / "en"
    found = [p for kind in files for p in sorted(folder.glob(f"qa{task}_*_{kind}.txt"))]
    if not found:
        raise SourceNotFoundError(f"no bAbI file for task {task} ({' or '.join(files)}) under {str(folder)!r}")
    return found


def _scoped(question: str, story: int) -> str:
    """The question with its story named: 'Where is John?' -> 'In story 3, where is John?'."""
    first, _, rest = question.partition(" ")
    if first.lower() in _INTERROGATIVES:
        return f"In story {story}, {first.lower()} {rest}"
    return f"In story {story}: {question}"


def _ar_questions(story: _Story, number: int) -> list[Question]:
    """The story's closing questions (no statement after them), scoped to story `number`."""
    last_statement = max((i for i, line in enumerate(story.lines) if not line.is_question), default=-1)
    by_id = {line.id: line.text for line in story.lines}
    questions = []
    for line in story.lines[last_statement + 1 :]:
        if line.answer is None:  # only questions follow the last statement
            continue
        answers = [line.answer]
        metric: MetricName = "sub_em_normalized"
        if story.task == 8 and "," in line.answer:
            answers, metric = ["; ".join(line.answer.split(","))], "multipart_match"
        elif story.task == 19:
            answers = [", ".join(_DIRECTIONS.get(d, d) for d in line.answer.split(",")), line.answer]
        questions.append(
            Question(
                question=_scoped(line.text, number),
                answers=answers,
                metric=metric,
                metadata={
                    "task": story.task,
                    "story": number,
                    "file": story.file,
                    "line": line.line,
                    "supporting": [by_id[i] for i in line.support],
                },
            )
        )
    return questions


def _cr_questions(story: _Story, number: int, path: Path) -> list[Question]:
    """Where each person who moved between places is at the end of the story, with their earlier locations."""
    history: dict[str, list[str]] = {}
    for line in story.lines:
        if not line.is_question:
            move = _MOVE.match(line.text)
            if move:
                history.setdefault(move["who"], []).append(move["where"])
            continue
        asked = _WHERE_IS_PERSON.match(line.text)
        if story.task == 1 and asked:
            read = history.get(asked["who"], [])
            if not read or read[-1] != line.answer:
                raise SourceRowError(
                    path, line.line, f"the gold answer {line.answer!r} disagrees with the moves read from the story"
                )
    questions = []
    for person, places in history.items():
        current = places[-1]
        superseded = list(dict.fromkeys(p for p in places[:-1] if p != current))
        if not superseded:
            continue
        questions.append(
            Question(
                question=f"In story {number}, where is {person} now?",
                answers=[current],
                metric="conflict_aware",
                superseded=superseded,
                metadata={"task": story.task, "story": number, "file": story.file, "history": places},
            )
        )
    return questions


def _story_chunks(stories: Sequence[_Story], budget: Budget, counter: TokenCounter, rng: random.Random) -> list[str]:
    """Stories numbered from 1 packed into chunks of at most a target drawn from `budget`; a story that fits in one
    chunk is never split, a longer one continues in the next chunks under a `(continued)` header."""
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    target = draw_target(budget, rng)

    def flush() -> None:
        nonlocal current, used, target
        if current:
            chunks.append("\n".join(current))
        current, used, target = [], 0, draw_target(budget, rng)

    for number, story in enumerate(stories, start=1):
        lines = [f"Story {number}:", *story.statements]
        cost = sum(counter(line) for line in lines)
        if current and used + cost > target:
            flush()
        if cost <= target:
            current.extend(lines)
            used += cost
            continue
        current.append(lines[0])
        used += counter(lines[0])
        fresh = True  # no statement of this story in the current chunk yet
        for statement in lines[1:]:
            if not fresh and used + counter(statement) > target:
                flush()
                current.append(f"Story {number} (continued):")
                used += counter(current[0])
            current.append(statement)
            used += counter(statement)
            fresh = False
    flush()
    return chunks


def _read_task(root: str | Path | None, task: int, files: Sequence[BabiFile]) -> list[tuple[_Story, Path]]:
    stories: list[tuple[_Story, Path]] = []
    seen: set[tuple[tuple[str, str | None], ...]] = set()
    base = data_root(root)
    for path in _task_files(root, task, files):
        rel = path.relative_to(base).as_posix()
        for lines in parse_babi(path):
            signature = tuple((line.text, line.answer) for line in lines)
            if signature not in seen:
                seen.add(signature)
                stories.append((_Story(task, rel, tuple(lines)), path))
    return stories


def load_babi(
    *,
    root: str | Path | None = None,
    split: Split = "all",
    seed: int = 0,
    limit: int | None = None,
    counter: TokenCounter = count_tokens,
    eval_fraction: float = 0.1,
    tasks: Sequence[int] | None = None,
    capability: Literal["AR", "CR"] = "AR",
    files: Sequence[BabiFile] = ("test",),
    stories_per_instance: int = 20,
    chunk_tokens: Budget = DEFAULT_CHUNK_TOKENS,
) -> list[Instance]:
    """bAbI stories, `stories_per_instance` of one task per instance, as AR or CR instances (see the module
    docstring). `tasks` defaults to 1-20 for AR and 1-3 for CR; instances of the tasks are interleaved."""
    if capability not in ("AR", "CR"):
        raise ValueError(f"capability must be 'AR' or 'CR', got {capability!r}")
    allowed = ALL_TASKS if capability == "AR" else CR_TASKS
    chosen = tuple(tasks) if tasks is not None else allowed
    if not chosen or any(t not in allowed for t in chosen):
        raise ValueError(f"tasks for capability {capability!r} must be among {allowed}, got {tasks!r}")
    if stories_per_instance < 1 or not files or any(f not in ("train", "test") for f in files):
        raise ValueError(
            f"need stories_per_instance >= 1 and files among 'train'/'test', got {stories_per_instance!r}, {files!r}"
        )
    source = "babi" if capability == "AR" else "babi_cr"
    cap: Capability = capability
    per_task: list[list[Instance]] = []
    for task in dict.fromkeys(chosen):
        stories = [
            (story, path)
            for story, path in _read_task(root, task, files)
            if in_split(f"babi:qa{task}:" + "\n".join(story.statements), split, eval_fraction=eval_fraction)
        ]
        random.Random(f"{seed}:babi:qa{task}").shuffle(stories)
        built: list[Instance] = []
        for start in range(0, len(stories), stories_per_instance):
            if limit is not None and len(built) >= limit:  # enough for the first `limit` of the interleaving
                break
            group = stories[start : start + stories_per_instance]
            questions = [
                q
                for number, (story, path) in enumerate(group, start=1)
                for q in (_ar_questions(story, number) if capability == "AR" else _cr_questions(story, number, path))
            ]
            if not questions:
                logger.debug("%s: no questions in the stories of task %d from %d", source, task, start)
                continue
            rng = random.Random(f"{seed}:{source}:qa{task}:{split}:{start}")
            chunks, dates = wrap_chunks(
                _story_chunks([s for s, _ in group], chunk_tokens, counter, rng), "facts", rng=rng
            )
            built.append(
                Instance(
                    id=f"{source}-qa{task}-{split}-{len(built)}",
                    data_source=source,
                    capability=cap,
                    chunks=chunks,
                    questions=questions,
                    prompt=BABI_PROMPT if capability == "AR" else BABI_CR_PROMPT,
                    metadata={
                        "task": task,
                        "split": split,
                        "seed": seed,
                        "stories": [{"file": s.file, "first_line": s.lines[0].line} for s, _ in group],
                        "dates": [d.isoformat() for d in dates],
                    },
                )
            )
        per_task.append(built)
    interleaved = [inst for round_ in _round_robin(per_task) for inst in round_]
    return interleaved if limit is None else interleaved[:limit]


def _round_robin(lists: Sequence[Sequence[Instance]]) -> list[list[Instance]]:
    """Rounds of one instance from each list in turn, so a `limit` mixes the tasks."""
    depth = max((len(items) for items in lists), default=0)
    return [[items[i] for items in lists if i < len(items)] for i in range(depth)]
