"""The heuristic teacher: a scripted `ChatPolicy` that writes memory by fixed rules, with no model.

It reads the prompt the engine builds (the memory view in the system message, the chunk between
``<new_chunk>`` tags in the user message) and answers with native tool calls. It is a baseline and a teacher for
supervised fine-tuning: deterministic (sampling is ignored), and pure string work, so a stream of a million
tokens goes through in seconds. The rules, per kind of chunk:

- **classification** (``Sentence: ...`` / ``Label: N`` lines): one semantic item ``Sentence: ...; Label: N`` per
  example not already shown in the memory view, and the core rewritten as a rule summary that lists every label
  seen so far (the labels named in the current core plus this chunk's);
- **reading** (a header that says the user is reading): one episodic item ``On {date}, the user read: ...`` with
  the first sentence or two, and the core rewritten as a running summary naming the main names and places
  (names counted in this chunk, plus a head start for those the core already names, top few kept);
- **dialogue / facts** (anything else, and unknown formats): the text of every speaker except the assistant and
  the system is split into sentences, and those that state a fact become semantic items: at least four words,
  not a question or a short exclamation, with a capitalised name that is not the first word, a number or a
  month (in a passage, a line of three or more sentences, any sentence of six words or more). Discourse
  markers ("By the way,") are dropped, an introduction ("... about my old friend, Ada Ashwell.") is stored as
  "Ada Ashwell is the user's old friend.", and "As of <date>, A lives in X, and A works for Y" gives one fact
  per clause, each with the date. A fact whose subject-and-relation opening ("leila dunham works for": the
  leading name and two more words; the quoted question of ``the answer to "..." is ...``; else the first four
  words but articles) matches an item shown in the view updates that item instead (conflict resolution).
  One episodic item ``At {date} {time}, the user told the assistant that ...`` records when the conversation
  happened and its first fact, and the core keeps a one-line list of who the user talked about (the names
  facts open with, and introduced people), rewritten only when it changes.

Only the items the view shows (the most recent few) can be updated or deduplicated against: like the paper's
policy, the teacher sees nothing else of the memory.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..prompts import chunk_text, message_text
from ..types import Completion, Message, SamplingParams, ToolCall

__all__ = ["HeuristicPolicy"]

logger = logging.getLogger(__name__)


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


# ------------------------------------------------------------------ the prompt
_BLOCK = {
    tag: re.compile(rf"<{tag}_memory>[^\n]*\n(.*?)</{tag}_memory>", re.S) for tag in ("core", "semantic", "episodic")
}
_ITEM = re.compile(r"^\[([^\]\s]+)\] (.*)$", re.M)

# ------------------------------------------------------------------- the chunk
_HEADER = re.compile(r"\A\s*\[([^\]\n]{1,300})\]")
_DATE = re.compile(r"\b(\d{4})[-/](\d{1,2})[-/](\d{1,2})\b")
_CLOCK = re.compile(r"\b(\d{1,2}:\d{2})\b")
_READING = re.compile(r"\bread(?:s|ing)?\b", re.I)
_TURN = re.compile(r"^<([^<>\n]{1,40})>[ \t]*", re.M)
_NOT_USER = frozenset({"assistant", "system", "ai", "bot", "agent"})
_EXAMPLE = re.compile(
    r"^[ \t]*(?P<field>Sentence|Sample|Text|Input|Query|Utterance):[ \t]*(?P<text>[^\n]*)\n"
    r"[ \t]*(?:Labels?|Category|Class):[ \t]*(?P<label>[^\n]*)$",
    re.M,
)

# ----------------------------------------------------------------- sentences
_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s+[\"'\u201c\u2018(\[]?[A-Z0-9])")
_RSQUO = "\u2019"
_ABBREVIATIONS = _wordset(
    "mr mrs ms dr st jr sr vs etc e.g i.e no mt prof gen col lt sgt inc ltd co fig approx dept univ"
)
_WORD = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)?")
_CAP = r"[A-Z][A-Za-z'\u2019\-]*[A-Za-z]"
_NAME_RUN = re.compile(rf"{_CAP}(?: {_CAP})*")
_CAPITALISED = re.compile(_CAP)
_DIGIT = re.compile(r"\d")
_MONTHS = "january february march april may june july august september october november december"
_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday"
_MONTH = re.compile(rf"\b(?:{'|'.join(m.capitalize() for m in _MONTHS.split() if m != 'may')})\b")
_TIME_WORDS = frozenset(_MONTHS.split() + _WEEKDAYS.split())
_STOP = _wordset(
    """a an the and or but if so in on at as by for from of to with without into about over after before since
    until during starting this that these those it its he she they we you i i'm i've i'd i'll me my mine his her
    their our your there here what when where who whom whose which why how is was are were be been do does did
    have has had can could will would should may might must let please also oh well yes no not ok okay sure
    thanks thank hello hi hey dear some many any one all each every both few more most other such chapter
    sentence sample label labels user assistant system event dialogue remember read note news update things
    today tomorrow yesterday tonight now then just maybe perhaps however although though because while"""
)
_FIRST_PERSON = frozenset({"i", "i'm", "i've", "i'd", "i'll", "my", "we", "we're", "our", "let"})
_ARTICLES = frozenset({"a", "an", "the"})
_DISCOURSE = re.compile(
    r"^(?:(?:oh,?\s+and|and|also|anyway|btw|by the way|quick note|something else|i forgot to mention|"
    r"one more thing|fyi|note|plus)\s*[:,]?\s+)+",
    re.I,
)
_DATE_EXPR = (
    r"(?:[A-Z][a-z]+ \d{1,2},? \d{4}|\d{1,2} [A-Z][a-z]+,? \d{4}|\d{4}[-/]\d{1,2}[-/]\d{1,2}|"
    r"[A-Z][a-z]+ \d{4}|[A-Z][a-z]+ \d{1,2}|\d{4})"
)
_TEMPORAL_LEAD = re.compile(
    rf"^(?:(?:as of|since|starting(?: on| from)?|from|on|by|in|until|after|effective|beginning)\s+{_DATE_EXPR}"
    r"(?:\s+on(?:wards)?)?\s*,\s*|(?:these days|nowadays|currently|lately|recently|now)\s*,?\s+)",
    re.I,
)
_LABEL_LEAD = re.compile(r"^[^:;.!?]{1,60}:\s+(?=\S)")
_QUOTED = re.compile(r"[\"\u201c]([^\"\u201d]{3,300})[\"\u201d]")
_CLAUSE_SPLIT = re.compile(rf"(?:,\s*and|;)\s+(?={_CAP} {_CAP})")
_APPOSITIVE = re.compile(rf"\bmy [a-z][a-z ]{{0,40}}, ({_CAP}(?: {_CAP})+)")
_INTRODUCTION = re.compile(
    rf"[^.!?]*\babout my (?P<relation>[a-z][a-z' -]{{0,40}}), (?P<name>{_CAP}(?: {_CAP})+)[.?!]?$"
)
_GREETING = re.compile(r"^(?:hi|hello|hey|good (?:morning|afternoon|evening)|thanks|thank you)\b", re.I)

# ----------------------------------------------------------------- the core
_CORE_LABELS = re.compile(r"labels seen so far: ([^\n]*?)\.(?:\s|$)", re.I)
_CORE_LABEL_MENTION = re.compile(r"\blabel\s+([\w-]+)\s*[:=(]", re.I)
_CORE_NAMES = re.compile(r"(?:talked about|names and places so far): ([^\n]*?)\.?$", re.I | re.M)
_CORE_FIRST_READ = re.compile(r"first read (\d{4}-\d{2}-\d{2})")

_PROFILE_NAMES = 20
_READING_NAMES = 8
_EXCERPT_CHARS = 300
_EPISODE_FACT_CHARS = 240
_MIN_FACT_WORDS = 4
_PASSAGE_SENTENCES = 3
_MIN_PASSAGE_WORDS = 6


@dataclass(frozen=True, slots=True)
class _View:
    """What the memory view in the system message shows."""

    core: str = ""
    semantic: tuple[tuple[str, str], ...] = ()
    episodic: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class _Plan:
    """The calls for one chunk and the short line of reasoning that goes with them."""

    calls: list[ToolCall] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, **arguments: str) -> None:
        self.calls.append(ToolCall(name, json.dumps(arguments, ensure_ascii=False)))


class HeuristicPolicy:
    """A rule-based teacher policy (no LLM): see the module docstring for the rules.

    Args:
        max_items_per_chunk: at most this many semantic items (inserts plus updates) per chunk; ``None``: no limit.
        episodic: write the one episodic item per chunk.
        core: rewrite the core memory (rule summary, reading summary or profile).
    """

    name = "heuristic"

    def __init__(self, max_items_per_chunk: int | None = None, episodic: bool = True, core: bool = True) -> None:
        if max_items_per_chunk is not None and max_items_per_chunk < 0:
            raise ValueError(f"max_items_per_chunk must be >= 0 or None, got {max_items_per_chunk!r}")
        self.max_items_per_chunk = max_items_per_chunk
        self.episodic = episodic
        self.core = core

    def __repr__(self) -> str:
        return (
            f"HeuristicPolicy(max_items_per_chunk={self.max_items_per_chunk!r}, episodic={self.episodic!r}, "
            f"core={self.core!r})"
        )

    def chat(
        self,
        conversations: Sequence[Sequence[Message]],
        sampling: SamplingParams,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[Completion]:
        """One completion with native tool calls per conversation; ``sampling`` and ``tools`` are ignored."""
        completions = [self._complete(conversation) for conversation in conversations]
        logger.debug(
            "heuristic policy: %d conversations, %d tool calls",
            len(completions),
            sum(len(c.tool_calls or ()) for c in completions),
        )
        return completions

    def plan_chunk(self, chunk: str, view: str = "") -> list[ToolCall]:
        """The calls for ``chunk`` given the rendered memory ``view`` (`WorkingMemory.render_view`), without the
        chat wrapping."""
        return self._plan(chunk, _parse_view(view)).calls

    def _complete(self, conversation: Sequence[Message]) -> Completion:
        system = "\n".join(message_text(m.get("content")) for m in conversation if m.get("role") == "system")
        chunk = chunk_text(conversation)
        plan = self._plan(chunk, _parse_view(system))
        text = "; ".join(plan.notes) + "." if plan.notes else "Nothing to memorize."
        return Completion(text=text, tool_calls=tuple(plan.calls), finish_reason="stop")

    # ------------------------------------------------------------ the rules
    def _plan(self, chunk: str, view: _View) -> _Plan:
        plan = _Plan()
        if not chunk.strip():
            return plan
        header = _HEADER.match(chunk)
        header_text = header.group(1) if header else ""
        date_match = _DATE.search(header_text)
        date = (
            "-".join((date_match.group(1), date_match.group(2).zfill(2), date_match.group(3).zfill(2)))
            if date_match
            else ""
        )
        clock = _CLOCK.search(header_text)
        time = clock.group(1) if clock else ""
        body = chunk[header.end() :] if header else chunk
        examples = [(m["field"], m["text"].strip(), m["label"].strip()) for m in _EXAMPLE.finditer(_TURN.sub("", body))]
        examples = [e for e in examples if e[1] and e[2]]
        if examples:
            self._classification(examples, view, plan)
        elif header and _READING.search(header_text):
            self._reading(_user_text(body), date, view, plan)
        else:
            self._facts(_user_text(body), date, time, view, plan)
        return plan

    def _limit(self, items: list[Any]) -> list[Any]:
        return items if self.max_items_per_chunk is None else items[: self.max_items_per_chunk]

    def _classification(self, examples: list[tuple[str, str, str]], view: _View, plan: _Plan) -> None:
        shown = {content for _, content in view.semantic}
        items = list(dict.fromkeys(f"{field_}: {text}; Label: {label}" for field_, text, label in examples))
        items = self._limit([item for item in items if item not in shown])
        for item in items:
            plan.add("new_memory_insert", memory_type="semantic_memory", content=item)
        plan.notes.append(f"Classification examples: {len(items)} new")
        if self.core:
            labels = _core_labels(view.core) | {label for _, _, label in examples}
            core = (
                f"Classification rules: labels seen so far: {', '.join(_sort_labels(labels))}. Each stored example "
                "reads 'Sentence: ...; Label: N'; give a new sentence the label of the most similar stored examples."
            )
            self._set_core(core, view, plan, "label list")

    def _reading(self, text: str, date: str, view: _View, plan: _Plan) -> None:
        sentences = [s for line in text.splitlines() for s in _sentences(line) if len(_WORD.findall(s)) >= 4]
        if not sentences:
            return
        if self.episodic and date:
            excerpt = _trim(" ".join(sentences[:2]), _EXCERPT_CHARS)
            plan.add("new_memory_insert", memory_type="episodic_memory", content=f"On {date}, the user read: {excerpt}")
            plan.notes.append(f"Reading on {date}: one event")
        if self.core:
            names = _reading_names(text, view.core)
            first = _CORE_FIRST_READ.search(view.core)
            when = f" (first read {first.group(1) if first else date}, last read {date})" if date else ""
            core = f"The user is reading a book{when}."
            if names:
                core += f" Main names and places so far: {', '.join(names)}."
            self._set_core(core, view, plan, "reading summary")

    def _facts(self, text: str, date: str, time: str, view: _View, plan: _Plan) -> None:
        facts: list[str] = []
        for line in text.splitlines():
            sentences = [_relation_fact(s) for s in _sentences(line)]
            passage = len(sentences) >= _PASSAGE_SENTENCES
            facts += [f for s in sentences for f in _clauses(s) if _states_fact(f, passage=passage)]
        facts = list(dict.fromkeys(facts))
        shown = {content for _, content in view.semantic}
        keyed = {key: memory_id for memory_id, content in view.semantic if (key := _subject_key(content))}
        updated: set[str] = set()
        writes: list[tuple[str, str | None]] = []
        for fact in facts:
            if fact in shown:
                continue
            memory_id = keyed.get(_subject_key(fact) or "")
            if memory_id is not None and memory_id not in updated:
                updated.add(memory_id)
                writes.append((fact, memory_id))
            else:
                writes.append((fact, None))
        writes = self._limit(writes)
        for fact, memory_id in writes:
            if memory_id is None:
                plan.add("new_memory_insert", memory_type="semantic_memory", content=fact)
            else:
                plan.add("memory_update", memory_type="semantic_memory", new_content=fact, memory_id=memory_id)
        if facts or writes:
            n_updates = sum(memory_id is not None for _, memory_id in writes)
            plan.notes.append(f"Facts: {len(writes) - n_updates} new, {n_updates} updated")
        if self.episodic and date and facts:
            when = f"At {date} {time}" if time else f"On {date}"
            event = f"{when}, the user told the assistant that {_lower_first(_trim(facts[0], _EPISODE_FACT_CHARS))}"
            if event not in {content for _, content in view.episodic}:
                plan.add("new_memory_insert", memory_type="episodic_memory", content=event)
                plan.notes.append("one event")
        if self.core and facts:
            old = _core_list(view.core)
            new = [n for f in facts for n in _subjects(f)]
            names = list(dict.fromkeys(n for n in old + new if n))[-_PROFILE_NAMES:]
            if names:
                self._set_core(f"The user has talked about: {', '.join(names)}.", view, plan, "profile")

    @staticmethod
    def _set_core(core: str, view: _View, plan: _Plan, what: str) -> None:
        if core.strip() != view.core.strip():
            plan.add("memory_update", memory_type="core_memory", new_content=core)
            plan.notes.append(f"core {what} rewritten")


# --------------------------------------------------------------- helpers
def _parse_view(system: str) -> _View:
    """The core text and the shown items of the last memory view in ``system``."""
    blocks: dict[str, str] = {}
    for tag, pattern in _BLOCK.items():
        found = None
        for found in pattern.finditer(system):  # noqa: B007 - the last match is the view
            pass
        blocks[tag] = found.group(1) if found else ""
    return _View(
        core=blocks["core"].strip(),
        semantic=tuple((m[1], m[2].strip()) for m in _ITEM.finditer(blocks["semantic"])),
        episodic=tuple((m[1], m[2].strip()) for m in _ITEM.finditer(blocks["episodic"])),
    )


def _user_text(body: str) -> str:
    """The text of every speaker but the assistant and the system (the whole body when it has no turn tags)."""
    turns = list(_TURN.finditer(body))
    if not turns:
        return body
    parts = [body[: turns[0].start()]]
    for turn, after in zip(turns, [*turns[1:], None], strict=True):
        if turn.group(1).strip().lower() not in _NOT_USER:
            parts.append(body[turn.end() : after.start() if after else len(body)])
    return "\n".join(p.strip("\n") for p in parts if p.strip())


def _sentences(text: str) -> list[str]:
    """Split one line into sentences at ``.``/``!``/``?`` followed by a capital or digit (abbreviations kept)."""
    out: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if text[match.start()] == "." and match.group().count(".") == 1:
            word = text[start : match.start()].rsplit(None, 1)[-1:] or [""]
            token = word[0].lstrip("\"'\u201c\u2018([").lower()
            if len(token) == 1 or "." in token or token in _ABBREVIATIONS:
                continue
        out.append(text[start : match.end()].strip())
        start = match.end()
    out.append(text[start:].strip())
    return [s for s in out if s]


def _strip_lead(sentence: str) -> str:
    """The sentence without discourse markers ("By the way,"), a short label ("Update on X:") or a time lead."""
    text = _DISCOURSE.sub("", sentence)
    for _ in range(3):
        shorter = _TEMPORAL_LEAD.sub("", _DISCOURSE.sub("", text), count=1)
        if shorter == text:
            label = _LABEL_LEAD.match(text)
            if label is None or len(_WORD.findall(label.group())) > 6:
                break
            shorter = text[label.end() :]
        text = shorter
    return text


def _clauses(sentence: str) -> list[str]:
    """A sentence, cleaned of discourse markers; split where a new clause starts with a name, each part keeping
    the sentence's time lead ("As of May 1, A lives in X, and A works for Y" gives two facts)."""
    sentence = _DISCOURSE.sub("", sentence).strip()
    if not sentence:
        return []
    sentence = sentence[0].upper() + sentence[1:]
    lead = _TEMPORAL_LEAD.match(sentence)
    prefix = lead.group() if lead else ""
    parts = _CLAUSE_SPLIT.split(sentence[len(prefix) :])
    if len(parts) == 1:
        return [sentence]
    out = []
    for part in parts:
        clause = part.strip().rstrip(".;,") + "."
        out.append(prefix + clause if prefix else clause)
    return out


def _relation_fact(sentence: str) -> str:
    """A sentence that introduces someone ("Let me tell you about my old friend, Ada Ashwell.") as the fact
    "Ada Ashwell is the user's old friend."; other sentences unchanged."""
    found = _INTRODUCTION.match(sentence)
    return sentence if found is None else f"{found['name']} is the user's {found['relation']}."


def _states_fact(sentence: str, *, passage: bool = False) -> bool:
    """A sentence worth a semantic item: four words or more, not a question or a short exclamation, not a
    greeting, with a number, a month or a capitalised word past the first; in a passage (a line of several
    sentences), any sentence of six words or more."""
    words = _WORD.findall(sentence)
    if len(words) < _MIN_FACT_WORDS or sentence.endswith("?") or _GREETING.match(sentence):
        return False
    if sentence.endswith("!") and len(words) < 8:
        return False
    if passage and len(words) >= _MIN_PASSAGE_WORDS:
        return True
    if _DIGIT.search(sentence) or _MONTH.search(sentence):
        return True
    first = _CAPITALISED.match(sentence.lstrip("\"'\u201c\u2018("))
    for match in _CAPITALISED.finditer(sentence):
        if first is not None and match.start() <= sentence.find(first.group()):
            continue
        if match.group().lower().replace(_RSQUO, "'") not in _STOP:
            return True
    return False


def _subject_key(fact: str) -> str | None:
    """The subject-and-relation opening of a fact, lower-cased: the quoted question if there is one, else the
    leading name and the next two words ("leila dunham works for"), else the first four words but articles
    (none for first-person openings or openings of function words only)."""
    text = _strip_lead(fact)
    quoted = _QUOTED.search(text)
    if quoted:
        return "q: " + " ".join(_WORD.findall(quoted.group(1).lower()))
    name = _NAME_RUN.match(text)
    if name and _name_tokens(name.group()):
        tokens = _name_tokens(name.group())
        rest = [w for w in _WORD.findall(text[name.end() :].lower().replace(_RSQUO, "'")) if w not in _ARTICLES][:2]
        return " ".join([t.lower() for t in tokens] + rest) if rest else None
    words = [w for w in _WORD.findall(text.lower().replace(_RSQUO, "'")) if w not in _ARTICLES][:4]
    if len(words) < 4 or words[0] in _FIRST_PERSON or sum(w not in _STOP for w in words) < 2:
        return None
    return " ".join(words)


def _name_tokens(run: str) -> list[str]:
    """The tokens of a capitalised run after dropping leading function words; months and weekdays end it."""
    tokens: list[str] = []
    for token in run.split(" "):
        bare = re.sub(r"['\u2019]s$", "", token)
        lower = bare.lower()
        if lower in _TIME_WORDS or (not tokens and lower.replace(_RSQUO, "'") in _STOP):
            if tokens:
                break
            continue
        tokens.append(bare)
        if bare != token:
            break
    return tokens


def _names(text: str) -> list[str]:
    """Multi-word capitalised names in ``text``, in order of appearance."""
    return [" ".join(t) for m in _NAME_RUN.finditer(text) if len(t := _name_tokens(m.group())) >= 2]


def _subjects(fact: str) -> list[str]:
    """Who a fact is about: its leading multi-word name and any "my <relation>, Name" appositive."""
    names = [m.group(1) for m in _APPOSITIVE.finditer(fact)]
    lead = _NAME_RUN.match(_strip_lead(fact))
    if lead and len(tokens := _name_tokens(lead.group())) >= 2:
        names.append(" ".join(tokens))
    return names


def _reading_names(text: str, core: str) -> list[str]:
    """The main names of a book so far: mentions in this chunk plus a head start for names the core lists."""
    counts: Counter[str] = Counter()
    inner: set[str] = set()
    for line in text.splitlines():
        for sentence in _sentences(line):
            for match in _NAME_RUN.finditer(sentence):
                tokens = _name_tokens(match.group())
                if not tokens:
                    continue
                name = " ".join(tokens)
                counts[name] += 1
                if len(tokens) > 1 or match.start() + match.group().find(tokens[0]) > 0:
                    inner.add(name)
    listed = _core_list(core)
    scores = {name: count for name, count in counts.items() if name in inner or name in listed}
    for rank, name in enumerate(listed[:_READING_NAMES]):
        scores[name] = scores.get(name, 0) + 2 * (_READING_NAMES - rank)
    return sorted(scores, key=lambda n: (-scores[n], n))[:_READING_NAMES]


def _core_list(core: str) -> list[str]:
    """The names our own core summaries list ("talked about: A, B" / "names and places so far: A, B")."""
    found = _CORE_NAMES.search(core)
    return [n.strip() for n in found.group(1).split(",") if n.strip()] if found else []


def _core_labels(core: str) -> set[str]:
    """Labels the core names: our own "labels seen so far: 0, 1" list and mentions like "label 2: ..."."""
    labels = {m.group(1) for m in _CORE_LABEL_MENTION.finditer(core)}
    listed = _CORE_LABELS.search(core)
    if listed:
        labels |= {label.strip() for label in listed.group(1).split(",") if label.strip()}
    return labels


def _sort_labels(labels: set[str]) -> list[str]:
    return sorted(labels, key=lambda label: (0, int(label), "") if label.isdigit() else (1, 0, label))


def _trim(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "..."


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0].lower().replace(_RSQUO, "'")
    if first in _FIRST_PERSON or first not in _STOP or not text[:1].isupper():
        return text
    return text[0].lower() + text[1:]
