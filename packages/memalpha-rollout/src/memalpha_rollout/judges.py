"""Content judges for r4, the memory-content validity reward (paper §6.1).

Each write call of a chunk is turned into a `JudgeItem` (tool, memory type, content, whether it took effect) by
`judge_items`; a `Judge` scores a batch of items, one score in [0, 1] per item, and r4 is their mean. Two judges:

- `HeuristicJudge`: rules, no model (see its docstring);
- `LLMJudge`: any policy asked with a rubric per memory type, in our own wording of the paper's Figs. 7-9,
  that must answer with a ``{"VALID": ..., "ISSUES": [...], "EXPLANATION": ...}`` JSON block.

Rules both judges share: a ``memory_delete`` scores ``delete_score`` when given (the paper scores deletes 0.0),
else 1.0 when the delete took effect and 0.0 when it did not; an item with no content, an unknown memory type or
an unknown tool scores 0.0. Content is judged whether or not the call took effect, as in the paper.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from memalpha_memory import MemoryType, ToolResult, normalize_memory_type

from .chat import complete_messages
from .exceptions import PolicyError
from .formats import load_json, strip_thinking
from .types import ChatPolicy, Message, Policy, SamplingParams, ToolCall

__all__ = [
    "HeuristicJudge",
    "Judge",
    "JudgeItem",
    "JudgeTool",
    "LLMJudge",
    "judge_items",
    "judge_rubric",
    "parse_verdict",
]

logger = logging.getLogger(__name__)

JudgeTool = Literal["new_memory_insert", "memory_update", "memory_delete", "other"]

_TOOLS: dict[str, JudgeTool] = {
    "new_memory_insert": "new_memory_insert",
    "memory_update": "memory_update",
    "memory_delete": "memory_delete",
}
_CONTENT_KEY = {"new_memory_insert": "content", "memory_update": "new_content"}


@dataclass(frozen=True, slots=True)
class JudgeItem:
    """One write call to judge.

    Attributes:
        tool: ``new_memory_insert``, ``memory_update``, ``memory_delete``, or ``other`` for any other name.
        memory_type: ``core``, ``semantic`` or ``episodic`` (normalised), or ``None`` when unknown or missing.
        content: the ``content`` (insert) or ``new_content`` (update) argument, ``None`` when missing (for other
            tools, whichever of the two they pass; ``None`` for deletes).
        ok: whether the call took effect.
    """

    tool: JudgeTool
    memory_type: MemoryType | None
    content: str | None
    ok: bool


def judge_items(calls: Sequence[ToolCall], results: Sequence[ToolResult]) -> list[JudgeItem]:
    """Pair each call with its result and read the memory type and content out of its arguments.

    Arguments are parsed as the memory parses them (JSON, then json-repair for broken JSON); arguments that
    cannot be read give an item with no type and no content. Never raises on bad calls.

    Raises:
        ValueError: ``calls`` and ``results`` differ in length.
    """
    if len(calls) != len(results):
        raise ValueError(
            f"judge_items needs one result per call, got {len(calls)!r} calls and {len(results)!r} results"
        )
    items = []
    for call, result in zip(calls, results, strict=True):
        name = call.name.strip() if isinstance(call.name, str) else ""
        tool: JudgeTool = _TOOLS.get(name, "other")
        args = _arguments(call.arguments)
        memory_type = args.get("memory_type")
        normalised = normalize_memory_type(memory_type)
        key = _CONTENT_KEY.get(tool)
        content = args.get(key) if key else args.get("content", args.get("new_content"))
        items.append(JudgeItem(tool, normalised, content if isinstance(content, str) else None, result.ok))
    return items


def _arguments(arguments: object) -> dict[str, Any]:
    """The arguments as a dict; ``{}`` when they are not a JSON object even after repair."""
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    value = load_json(arguments)
    return value if isinstance(value, dict) else {}


@runtime_checkable
class Judge(Protocol):
    """Scores memory writes for r4: one score in [0, 1] per item, in order."""

    name: str

    def score(self, items: Sequence[JudgeItem]) -> list[float]: ...


def _shared_score(item: JudgeItem, delete_score: float | None) -> float | None:
    """The score the shared rules give, or ``None`` when the content itself must be judged."""
    if item.tool == "memory_delete":
        if delete_score is not None:
            return delete_score
        return 1.0 if item.ok else 0.0
    if item.tool == "other" or item.memory_type is None or item.content is None or not item.content.strip():
        return 0.0
    return None


def _check_delete_score(delete_score: float | None) -> float | None:
    if delete_score is not None and not 0.0 <= delete_score <= 1.0:
        raise ValueError(f"delete_score must be in [0, 1] or None, got {delete_score!r}")
    return delete_score


# ------------------------------------------------------------------ heuristic
_WORD = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)?")
_NAME = re.compile(r"\b[A-Z][a-z]+")
_CORE_MEMORY = re.compile(r"core[\s_-]+memory", re.I)
_PLACEHOLDER_ONLY = re.compile(
    r"^\W*(?:todo|tbd|tba|n/?a|none|null|nil|empty|placeholder|unknown|\.{3}|…|-+)\W*$", re.I
)
_TODO = re.compile(
    r"\b(?:TODO|TBD|FIXME)\b|\[(?:summary|placeholder|insert[^\]]*|todo)\]|<[a-z _]*summary[a-z _]*>", re.I
)
_PLACEHOLDER_LEAD = re.compile(
    r"^\W*(?:here (?:we|i) (?:save|store|keep|write|record|put)\b|(?:this is |insert )?(?:a |the )?summary of the\b|"
    r"(?:the )?summary (?:goes|will go) here\b|(?:to be|will be) (?:filled|updated|added)\b)",
    re.I,
)
_GREETING = re.compile(
    r"^\W*(?:hi|hello|hey|good (?:morning|afternoon|evening|night)|thanks|thank you|ok(?:ay)?|sure|got it|noted|"
    r"bye|goodbye|see you)\b",
    re.I,
)
_MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    "oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_TIME = re.compile(
    r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b|\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b"
    rf"|\b(?:{_MONTHS})\.? \d{{1,2}}(?:st|nd|rd|th)?(?:,? \d{{4}})?\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)? (?:of )?(?:{_MONTHS})\b"
    rf"|\b(?:{_MONTHS}) \d{{4}}\b"
    r"|\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b"
    r"|\b\d{1,2}:\d{2}(?::\d{2})?(?:\s?[ap]\.?m\.?)?\b|\b\d{1,2}\s?[ap]\.?m\.?\b"
    r"|\b(?:yesterday|today|tonight|this (?:morning|afternoon|evening)|last (?:night|week|month|year|weekend))\b"
    r"|\b(?:in|on|at|since|during|by|from|until|of) (?:(?:early|late|mid) )?(?:1[5-9]|20)\d{2}s?\b",
    re.I,
)
_TIME_FILLER = frozenset(("at", "on", "in", "of", "the", "a", "an", "during", "since", "from", "by", "until", "around"))
_VERBS = frozenset(
    """is was are were be been has had have do did does went go goes met meet meets said says told tells read reads
    saw see sees made make makes took take takes got get gets gave give gives came come comes left leave leaves
    found find finds wrote write writes ate eat eats bought buy buys ran run runs felt feel feels began begin
    begins won win wins lost lose loses sent send sends spoke speak speaks heard hear hears thought think thinks
    knew know knows became become becomes kept keep keeps brought bring brings paid pay pays sat sit sits stood
    stand stands fell fall falls flew fly flies drove drive drives swam swim swims sang sing sings""".split()  # noqa: SIM905 - a word list
)


class HeuristicJudge:
    """A rule-based content judge (no model).

    - **core** is invalid when it says "core memory", or is a placeholder: "TODO", "N/A", "...", a lead such as
      "Here we save the summary" or "Summary of the ..." with no content after a colon, or fewer than four words
      with no name or number;
    - **semantic** must state something: at least four words besides dates and times, not a bare question, not
      a greeting or acknowledgement;
    - **episodic** must carry a time (a date, a weekday, a clock time, a year after "in"/"on"/..., words such as
      "yesterday") and say what happened: a verb (a common verb, or a word ending in -ed/-ing) besides the time.

    Args:
        delete_score: the score of every ``memory_delete``; ``None``: 1.0 if it took effect, else 0.0.
    """

    name = "heuristic"

    def __init__(self, *, delete_score: float | None = None) -> None:
        self.delete_score = _check_delete_score(delete_score)

    def __repr__(self) -> str:
        return f"HeuristicJudge(delete_score={self.delete_score!r})"

    def score(self, items: Sequence[JudgeItem]) -> list[float]:
        """One score (0.0 or 1.0, or ``delete_score``) per item."""
        return [self._score(item) for item in items]

    def _score(self, item: JudgeItem) -> float:
        shared = _shared_score(item, self.delete_score)
        if shared is not None:
            return shared
        content = (item.content or "").strip()
        if item.memory_type == "core":
            return 0.0 if _CORE_MEMORY.search(content) or _is_placeholder(content) else 1.0
        if item.memory_type == "semantic":
            return 1.0 if _states_fact(content) else 0.0
        return 1.0 if _describes_event(content) else 0.0


def _is_placeholder(text: str) -> bool:
    """Whether a core text is a placeholder rather than content (see `HeuristicJudge`)."""
    words = _WORD.findall(text)
    if not words or _PLACEHOLDER_ONLY.match(text) or _TODO.search(text):
        return True
    if _PLACEHOLDER_LEAD.match(text):
        _, colon, after = text.partition(":")
        return not colon or len(_WORD.findall(after)) < 4
    has_name = any(m.start() > 0 for m in _NAME.finditer(text.lstrip()))
    return len(words) < 4 and not has_name and not any(c.isdigit() for c in text)


def _states_fact(text: str) -> bool:
    """Whether a semantic text states something (see `HeuristicJudge`)."""
    if text.rstrip().endswith("?") or (_GREETING.match(text) and len(_WORD.findall(text)) < 6):
        return False
    return len(_WORD.findall(_TIME.sub(" ", text))) >= 4


def _describes_event(text: str) -> bool:
    """Whether an episodic text has a time and says what happened (see `HeuristicJudge`)."""
    if not _TIME.search(text):
        return False
    rest = [w.lower() for w in _WORD.findall(_TIME.sub(" ", text))]
    rest = [w for w in rest if w not in _TIME_FILLER]
    return any(w in _VERBS or (len(w) > 4 and w.endswith(("ed", "ing"))) for w in rest)


# ------------------------------------------------------------------------ LLM
_RUBRICS: dict[MemoryType, str] = {
    "core": (
        "You check one entry written to an AI assistant's core memory: a short standing summary such as a profile "
        "of the user, a running summary of what the user is reading, or rules learned from labelled examples.\n"
        "The entry is INVALID when:\n"
        '- it talks about the memory itself, i.e. contains the phrase "core memory" (for example "This is core '
        'memory ..." or "The core memory has been updated ...");\n'
        '- it is a placeholder that announces content without giving it (for example "Here we save the summary", '
        '"Summary of the book", "TODO", "N/A").\n'
        "Any other entry that actually states the summary, profile or rules is VALID."
    ),
    "semantic": (
        "You check one entry written to an AI assistant's semantic memory, the store of general knowledge.\n"
        "A VALID entry holds knowledge about someone or something: facts, attributes and relationships; "
        "definitions, theories or principles; how-to or procedural knowledge; findings or data. Anything that is "
        "neither a standing profile nor a personal experience belongs here.\n"
        "The entry is INVALID when it holds no knowledge: it is empty, only a question, only a greeting or an "
        "acknowledgement, only a timestamp, or a placeholder."
    ),
    "episodic": (
        "You check one entry written to an AI assistant's episodic memory, the store of experiences and events.\n"
        "A VALID entry describes an experience or event and says (1) when it happened, with clear time "
        "information such as a date, a day or a time of day, and (2) what happened, with its context (who, what, "
        "where).\n"
        "The entry is INVALID when it has no time information, does not describe anything that happened, or is "
        "a placeholder."
    ),
}
_ANSWER_FORMAT = (
    "\n\nAnswer with a JSON block and nothing else:\n"
    '```json\n{"VALID": true or false, "ISSUES": ["each problem found"], "EXPLANATION": "one sentence"}\n```'
)
_FENCED = re.compile(r"```(?:json)?\s*(.*?)```", re.S | re.I)


def judge_rubric(memory_type: str) -> str:
    """The system prompt the `LLMJudge` uses for ``memory_type`` (``core``, ``semantic`` or ``episodic``).

    Raises:
        ValueError: an unknown memory type.
    """
    kind = normalize_memory_type(memory_type)
    if kind is None:
        raise ValueError(f"unknown memory type {memory_type!r}; use 'core', 'semantic' or 'episodic'")
    return _RUBRICS[kind] + _ANSWER_FORMAT


def parse_verdict(reply: str) -> float:
    """1.0 when ``reply`` holds a JSON object with ``"VALID": true`` (in a fenced block, or bare), else 0.0."""
    text = strip_thinking(reply)
    candidates = [m.group(1) for m in _FENCED.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate.strip())
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict) and "VALID" in value:
            return 1.0 if value["VALID"] is True else 0.0
    return 0.0


class LLMJudge:
    """A content judge that asks a model, one item per conversation, in batches (paper §6.1, Figs. 7-9).

    The system message is the rubric of the item's memory type (`judge_rubric`); the user message is
    ``Analyze this {memory_type} memory content:\\n\\n{content}``. A reply scores 1.0 when it holds
    ``{"VALID": true, ...}`` and 0.0 otherwise, unparseable replies included (`parse_verdict`).

    Args:
        policy: a token `Policy` or a `ChatPolicy` (asked through `complete_messages`).
        sampling: how the judge samples (the paper: temperature 0.1, 512 new tokens).
        delete_score: the score of every ``memory_delete``; ``None``: 1.0 if it took effect, else 0.0.
        batch_size: conversations per policy call.
    """

    name = "llm"

    def __init__(
        self,
        policy: Policy | ChatPolicy,
        *,
        sampling: SamplingParams = SamplingParams(max_tokens=512, temperature=0.1),  # noqa: B008 - frozen
        delete_score: float | None = None,
        batch_size: int = 64,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size!r}")
        self.policy = policy
        self.sampling = sampling
        self.delete_score = _check_delete_score(delete_score)
        self.batch_size = batch_size

    def __repr__(self) -> str:
        return (
            f"LLMJudge(policy={type(self.policy).__name__}, delete_score={self.delete_score!r}, "
            f"batch_size={self.batch_size!r})"
        )

    def score(self, items: Sequence[JudgeItem]) -> list[float]:
        """One score per item; items the shared rules decide are not sent to the model.

        Raises:
            PolicyError: the policy returned a different number of completions than it was asked for.
        """
        scores: list[float | None] = [_shared_score(item, self.delete_score) for item in items]
        pending = [i for i, score in enumerate(scores) if score is None]
        for start in range(0, len(pending), self.batch_size):
            batch = pending[start : start + self.batch_size]
            conversations = [self._conversation(items[i]) for i in batch]
            completions = complete_messages(self.policy, conversations, self.sampling)
            if len(completions) != len(batch):
                raise PolicyError(
                    f"the judge policy {type(self.policy).__name__} returned {len(completions)!r} completions "
                    f"for {len(batch)!r} conversations"
                )
            for i, completion in zip(batch, completions, strict=True):
                scores[i] = parse_verdict(completion.text)
        logger.debug("judged %d items, %d with the model", len(items), len(pending))
        return [0.0 if score is None else score for score in scores]

    @staticmethod
    def _conversation(item: JudgeItem) -> list[Message]:
        memory_type = item.memory_type or ""
        return [
            {"role": "system", "content": judge_rubric(memory_type)},
            {"role": "user", "content": f"Analyze this {memory_type} memory content:\n\n{item.content}"},
        ]
