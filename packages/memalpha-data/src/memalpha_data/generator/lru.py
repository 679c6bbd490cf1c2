"""Long-range understanding (LRU): a long story read chunk by chunk, and questions asking to summarise it.

Stands in for BookSum (paper §8.2). The story has a few main characters and main places and a handful of
major events, each running through a stretch of chapters; every chapter follows one main character with a
companion in one place, and introduces minor characters (a name, a trade, a home town). Scenery sentences with
no names in them are the distractor (`distractor_ratio`). Chunks use the reading style, dates 1-3 days apart.

- `summary`: "Summarize the content of the book I read from <first date> to <last date>", gold one
  comma-separated keyword string: the main characters, main places and major events that the stream mentions
  (minor characters and places are left out, as a summary would); metric `keyword_hit`.
- `chapter`: the same question over the chunks of one chapter, keywords from that chapter.
- `detail`: "What is the occupation of <minor character>?" / "Which town does <minor character> come from?";
  metric `sub_em`; `asked_fraction` of the minor characters are asked about.

Every keyword and answer occurs verbatim in the chunks.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field, replace
from datetime import datetime

from memalpha_data.generator.config import GeneratorConfig
from memalpha_data.generator.stream import ChunkWriter, Proposal, unit
from memalpha_data.generator.vocab import (
    EVENT_KINDS,
    FIRST_NAMES,
    JOBS,
    LOCALES,
    OBJECTS,
    WEATHER,
    NameRegistry,
    Pool,
    article,
)
from memalpha_data.instance import Question

CHAPTER_TOKENS = 2_500
MAX_CHAPTERS = 300
SUMMARY_TEMPLATE = "Summarize the content of the book I read from {first} to {last}."
_OPENINGS = (
    "{A} arrived in {P} on a {W} morning.",
    "Everyone in {P} was still talking about the {E}, and {A} listened.",
    "It was in {P} that {A} first understood what the {E} would cost.",
    "The {W} weeks after the {E} found {A} back in {P}.",
)
_PLOT = (
    "{A} and {B} walked through {P}, arguing about the {E}.",
    "In {P}, {B} found a letter that mentioned the {E}.",
    "By evening, {B} had decided to leave {P}.",
    "{A} remembered the day of the {E} and the silence that followed.",
    "{B} laughed for the first time since the {E}.",
    "{A} wrote to {B} about everything that had happened in {P}.",
    "{A} could not sleep; the {E} had changed too much.",
    "{B} told {A} a secret about the {E}.",
    "The people of {P} gathered at {L} to hear {A} speak.",
    "{A} and {B} made a promise they would both regret.",
    "At {L}, {A} hid the {X} where no one would look.",
    "{B} insisted that the {X} had belonged to {C}.",
    "{C} arrived at {L} without warning.",
    "{A} showed {C} the {X}, and {C} went pale.",
    "Nobody at {L} would say what had really happened during the {E}.",
    "{B} waited at {L} until the last light was gone.",
    "{A} argued with {C} about what to do with the {X}.",
    "{C} admitted to {A} that the {E} had been no accident.",
    "{A} searched {L} for the {X} but found nothing.",
    "{B} and {C} had not spoken since the {E}.",
    "Word of the {E} reached {L} before noon.",
    "{A} kept the {X} close all through the night.",
    "{C} laughed at the plan {B} had made, but agreed to help.",
    "The crowd at {L} fell silent when {A} walked in.",
    "{B} carried the {X} back to {L}.",
    "{A} finally understood why {C} had stayed in {P}.",
)
_WITH_MINOR = (
    "{S} warned {A} that the {E} had changed everything in {P}.",
    "{A} asked {S} whether {B} could be trusted.",
    "{S} led {A} to the old road out of {P}.",
    "{A} had not forgotten what {S} said about the {E}.",
)
_MEETINGS = (
    "{A} met {S}, {J} from {T}, at the edge of {P}.",
    "In {P}, {A} was introduced to {S}, {J} from {T}.",
)
_SCENERY = (
    "The wind moved through the tall grass, and somewhere a dog barked.",
    "Rain fell steadily on the slate roofs.",
    "The light was fading over the hills.",
    "It was the kind of evening that made time feel slow.",
    "Smoke rose from a distant chimney.",
    "The river was high and brown after a week of storms.",
    "A cart rattled past on the cobbles.",
    "Somewhere a bell rang the hour.",
    "The air smelled of wet leaves and woodsmoke.",
    "Frost had silvered the fields overnight.",
    "Gulls circled above the harbour, crying.",
    "The lamps were lit one by one along the street.",
)
_SLOT = re.compile(r"\{([A-Z])\}")


@dataclass(slots=True)
class Minor:
    name: str
    job: str
    town: str
    chunk: int = -1


@dataclass(slots=True)
class Chapter:
    number: int
    hero: str
    companion: str
    third: str
    place: str
    event: str
    locale: str
    thing: str
    minors: list[Minor] = field(default_factory=list)
    to_meet: list[Minor] = field(default_factory=list)
    mentions: dict[str, int] = field(default_factory=dict)
    chunks: list[int] = field(default_factory=list)
    sentences: int = 0


class LRUGenerator:
    """Proposes the sentences of a story and, at the end, the questions."""

    def __init__(self, config: GeneratorConfig, rng: random.Random, names: NameRegistry) -> None:
        self.config = config
        self.rng = rng
        self.names = names
        self.main = rng.sample(FIRST_NAMES, rng.randint(4, 6))
        self.main_places = [names.town() for _ in range(rng.randint(3, 4))]
        self.num_chapters = max(1, min(MAX_CHAPTERS, round(config.target_tokens / CHAPTER_TOKENS)))
        arcs = max(1, min(8, self.num_chapters // 3))
        kinds = rng.sample(EVENT_KINDS, arcs)
        self.events = [f"{rng.choice(self.main_places)} {kind}" for kind in kinds]
        self.towns = Pool(rng, names.town)
        self.mentions: dict[str, int] = {}
        self.chapters: list[Chapter] = []
        self.minors: list[Minor] = []
        self.paragraph_left = 0
        self.scenery = 0

    def _new_chapter(self) -> Chapter:
        rng = self.rng
        number = len(self.chapters) + 1
        hero, companion, third = rng.sample(self.main, 3)
        place = rng.choice(self.main_places) if rng.random() < 0.6 else self.towns.draw()
        event = self.events[(number - 1) * len(self.events) // self.num_chapters]
        to_meet = []
        for _ in range(rng.randint(1, 2)):
            name = self.names.person()
            while name.split()[0] in self.main:
                name = self.names.person()
            to_meet.append(Minor(name, rng.choice(JOBS), self.towns.draw()))
        locale, thing = rng.choice(LOCALES), rng.choice(OBJECTS)
        return Chapter(number, hero, companion, third, place, event, locale, thing, to_meet=to_meet)

    def _chapter_over(self, writer: ChunkWriter) -> bool:
        """Whether the next unit starts a chapter: chapter k ends once the stream holds k / num_chapters of the
        target."""
        done = len(self.chapters)
        if not done:
            return True
        return done < self.num_chapters and writer.total_tokens >= self.config.target_tokens * done / self.num_chapters

    def propose(self, writer: ChunkWriter) -> Proposal:
        rng = self.rng
        if self._chapter_over(writer):
            chapter = self._new_chapter()
            head = "" if writer.is_first else "\n\n"

            def start(chunk: int) -> None:
                self.chapters.append(chapter)
                chapter.chunks.append(chunk)
                self.paragraph_left = 0

            return unit(f"{head}Chapter {chapter.number}.", start)
        chapter = self.chapters[-1]
        new_paragraph = self.paragraph_left == 0
        head = "" if writer.is_first else ("\n\n" if new_paragraph else " ")
        minor: Minor | None = None
        if chapter.sentences == 0:
            template = rng.choice(_OPENINGS)
        elif chapter.to_meet and (not self.minors or rng.random() < 0.25):
            template, minor = rng.choice(_MEETINGS), chapter.to_meet[-1]
        elif rng.random() < self.config.distractor_ratio:
            template = rng.choice(_SCENERY)
        elif chapter.minors and rng.random() < 0.3:
            template, minor = rng.choice(_WITH_MINOR), rng.choice(chapter.minors)
        else:
            template = rng.choice(_PLOT)
        slots = {
            "A": chapter.hero,
            "B": chapter.companion,
            "C": chapter.third,
            "P": chapter.place,
            "E": chapter.event,
            "L": chapter.locale,
            "X": chapter.thing,
            "W": rng.choice(WEATHER),
            "S": minor.name if minor else "",
            "J": article(minor.job) if minor else "",
            "T": minor.town if minor else "",
        }
        used = [slots[key] for key in _SLOT.findall(template) if key in "ABCPESX"]
        piece = unit(head + template.format(**slots))
        meeting = template in _MEETINGS

        def commit(chunk: int) -> None:
            if new_paragraph:
                self.paragraph_left = rng.randint(3, 7)
            self.paragraph_left -= 1
            if chapter.chunks[-1] != chunk:
                chapter.chunks.append(chunk)
            for name in used:
                self.mentions[name] = self.mentions.get(name, 0) + 1
                chapter.mentions[name] = chapter.mentions.get(name, 0) + 1
            if meeting and minor is not None:
                chapter.to_meet.pop()
                chapter.minors.append(minor)
                minor.chunk = chunk
                self.minors.append(minor)
            if template in _SCENERY:
                self.scenery += 1
            chapter.sentences += 1

        return replace(piece, commit=commit)

    # -------------------------------------------------------------- questions
    def _keywords(self, mentions: dict[str, int], extra: list[str] | None = None) -> list[str]:
        """Main characters, main places and major events in `mentions`, most mentioned first."""
        keywords = []
        for group in (self.main, self.main_places, self.events):
            keywords += sorted((k for k in group if mentions.get(k)), key=lambda k: -mentions[k])
        return keywords + [k for k in extra or [] if k not in keywords]

    def _summary(self, dates: list[datetime], first: int, last: int, keywords: list[str], **meta: object) -> Question:
        text = SUMMARY_TEMPLATE.format(first=f"{dates[first]:%Y-%m-%d}", last=f"{dates[last]:%Y-%m-%d}")
        meta["chunks"] = [first, last]
        return Question(question=text, answers=[", ".join(keywords)], metric="keyword_hit", metadata=meta)

    def _chapter_summary(self, dates: list[datetime], chapter: Chapter) -> Question:
        extra = [chapter.place, chapter.thing, *(m.name for m in chapter.minors)]
        keywords = self._keywords(chapter.mentions, [k for k in extra if chapter.mentions.get(k)])
        first, last = chapter.chunks[0], chapter.chunks[-1]
        return self._summary(dates, first, last, keywords, type="chapter", chapter=chapter.number)

    def _detail(self, minor: Minor) -> Question:
        meta = {"type": "detail", "chunks": [minor.chunk]}
        if self.rng.random() < 0.5:
            return Question(question=f"What is the occupation of {minor.name}?", answers=[minor.job], metadata=meta)
        return Question(question=f"Which town does {minor.name} come from?", answers=[minor.town], metadata=meta)

    def questions(self, dates: list[datetime]) -> list[Question]:
        """The summary question, then chapter and detail questions in turn, at most `num_questions`."""
        rng = self.rng
        config = self.config
        types = config.types
        cap = config.num_questions if config.num_questions is not None else 1 + len(self.chapters) + len(self.minors)
        questions: list[Question] = []
        if "summary" in types:
            questions.append(self._summary(dates, 0, len(dates) - 1, self._keywords(self.mentions), type="summary"))
        pools: list[list[Question]] = []
        if "chapter" in types:
            pools.append([self._chapter_summary(dates, chapter) for chapter in self.chapters])
        if "detail" in types:
            asked = rng.sample(
                self.minors, min(len(self.minors), max(1, round(config.asked_fraction * len(self.minors))))
            )
            pools.append([self._detail(minor) for minor in asked])
        for pool in pools:
            rng.shuffle(pool)
        while len(questions) < cap and any(pools):
            for pool in pools:
                if pool and len(questions) < cap:
                    questions.append(pool.pop())
        return questions

    def metadata(self) -> dict[str, object]:
        return {
            "num_chapters": len(self.chapters),
            "main_characters": list(self.main),
            "main_places": list(self.main_places),
            "major_events": list(self.events),
            "num_minor_characters": len(self.minors),
            "num_scenery_sentences": self.scenery,
        }
