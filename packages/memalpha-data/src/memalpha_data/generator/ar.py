"""Accurate retrieval (AR): chats in which the user talks about the people in their life.

Stands in for PerLTQA (personal events and dialogues) and LongMemEval (multi-session chat), paper §8.2. The
user introduces people and mentions, over many sessions, **semantic** facts (the town a person lives in, their
job, their employer, the name of their pet; stable, never contradicted) and **episodic** facts (what a person
did on a given day). Small talk with no fact in it is the distractor. Questions ask for a subset of the
stated facts (`asked_fraction`): "Where does X live?", "What did X do on March 5, 2024?", "When did X visit
the Y?", and multi-hop "In which town does the owner of the parrot named Z live?" (pet names are unique).
Every answer is a short string that appears verbatim in the chunk that states it; metric `sub_em`.

The question types also decide which facts the stream states: an episodic-only stream has no semantic facts,
so `asked_fraction` is the share of everything stated that is ever asked.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from memalpha_data.generator.config import GeneratorConfig
from memalpha_data.generator.stream import ChunkWriter, Proposal, unit
from memalpha_data.generator.talk import (
    ATTRIBUTE_QUESTIONS,
    attribute_sentence,
    fact_reaction,
    in_passing,
    lead,
    small_talk,
)
from memalpha_data.generator.vocab import (
    CLASSES,
    CONCERTS,
    COURSES,
    JOBS,
    RELATIONS,
    SPECIES,
    NameRegistry,
    Pool,
    long_date,
)
from memalpha_data.instance import Question

# kind: (past tense, base form for "When did X ...?", what a "What did X do on ...?" answer is)
_EVENTS: dict[str, tuple[str, str, str]] = {
    "landmark": ("visited the {o}", "visit the {o}", "{o}"),
    "class": ("took a {o} class", "take a {o} class", "{o} class"),
    "concert": ("went to a {o} concert", "go to a {o} concert", "{o} concert"),
    "restaurant": ("had dinner at {o}", "have dinner at {o}", "{o}"),
    "mountain": ("climbed {o}", "climb {o}", "{o}"),
    "course": ("started a course in {o}", "start a course in {o}", "{o}"),
}
_VERDICTS = ("wonderful", "exhausting", "better than expected", "a bit disappointing", "unforgettable", "fun")


@dataclass(slots=True)
class Person:
    name: str
    relation: str
    values: dict[str, str]
    species: str = ""
    event_days: set[int] = field(default_factory=set)
    event_objects: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Fact:
    """A fact the stream states, where, and what a question about it would need."""

    id: int
    kind: str  # "semantic" | "episodic"
    person: Person
    attribute: str  # city/job/employer/pet, or the kind of event
    value: str  # the answer
    chunk: int
    date: str = ""  # episodic: the day, as written
    base: str = ""  # episodic: "visit the Korvel Museum", for "When did X ...?"


class ARGenerator:
    """Proposes the units of an AR stream and, at the end, the questions."""

    def __init__(self, config: GeneratorConfig, rng: random.Random, names: NameRegistry) -> None:
        self.config = config
        self.rng = rng
        self.names = names
        types = config.types
        if "semantic" in types:
            self.attributes: tuple[str, ...] = ("city", "job", "employer", "pet")
        elif "multi_hop" in types:
            self.attributes = ("city", "pet")  # all a multi-hop question needs
        else:
            self.attributes = ()
        self.kinds = (["semantic"] if self.attributes else []) + (["episodic"] if "episodic" in types else [])
        self.people: list[Person] = []
        self.pending: list[tuple[Person, str]] = []
        self.facts: list[Fact] = []
        self.reaction = ""
        self.distractors = 0
        self.towns = Pool(rng, names.town)
        self.companies = Pool(rng, names.company)
        self.objects = {
            "landmark": Pool(rng, names.landmark),
            "restaurant": Pool(rng, names.restaurant),
            "mountain": Pool(rng, names.mountain),
        }

    # ------------------------------------------------------------------ units
    def propose(self, writer: ChunkWriter) -> Proposal:
        rng = self.rng
        head = lead(rng, writer.is_first, self.reaction)
        if self.facts and rng.random() < self.config.distractor_ratio:  # the first exchange states a fact
            return self._small_talk(head)
        if rng.choice(self.kinds) == "semantic":
            if self.pending and rng.random() < 0.6:
                return self._mention(head)
            return self._introduce(head)
        return self._event(head, writer)

    def _small_talk(self, head: str) -> Proposal:
        text, reply = small_talk(self.rng)

        def commit(chunk: int) -> None:
            self.reaction = reply
            self.distractors += 1

        return unit(head + text, commit)

    def _new_person(self) -> Person:
        rng = self.rng
        values: dict[str, str] = {}
        person = Person(self.names.person(), rng.choice(RELATIONS), values)
        for attribute in self.attributes:
            if attribute == "city":
                values["city"] = self.towns.draw()
            elif attribute == "job":
                values["job"] = rng.choice(JOBS)
            elif attribute == "employer":
                values["employer"] = self.companies.draw()
            elif attribute == "pet" and (len(self.attributes) == 2 or rng.random() < 0.7):
                values["pet"] = self.names.proper()
                person.species = rng.choice(SPECIES)
        return person

    def _record(self, person: Person, kind: str, attribute: str, value: str, chunk: int, **event: str) -> None:
        self.facts.append(Fact(len(self.facts), kind, person, attribute, value, chunk, **event))

    def _introduce(self, head: str) -> Proposal:
        rng = self.rng
        person = self._new_person()
        attributes = list(person.values)
        rng.shuffle(attributes)
        told = attributes if len(self.attributes) == 2 else attributes[: rng.choice((1, 2))]
        said = " ".join(attribute_sentence(rng, person.name, a, person.values[a], person.species) for a in told)
        first = person.name.split()[0]
        if rng.random() < 0.5:
            text = f"I'd like you to know about my {person.relation}, {person.name}. {said}"
        else:
            text = (
                f"Have I told you about my {person.relation}, {person.name}?\n"
                f"<Assistant> I don't think so. Tell me about {first}.\n<User> {said}"
            )
        reply = fact_reaction(rng, person.name)

        def commit(chunk: int) -> None:
            self.people.append(person)
            for attribute in attributes:
                if attribute in told:
                    self._record(person, "semantic", attribute, person.values[attribute], chunk)
                else:
                    self.pending.append((person, attribute))
            self.reaction = reply

        return unit(head + text, commit)

    def _mention(self, head: str) -> Proposal:
        rng = self.rng
        index = rng.randrange(len(self.pending))
        person, attribute = self.pending[index]
        value = person.values[attribute]
        text = in_passing(rng, attribute_sentence(rng, person.name, attribute, value, person.species), person.name)
        reply = fact_reaction(rng, person.name)

        def commit(chunk: int) -> None:
            self.pending[index] = self.pending[-1]
            self.pending.pop()
            self._record(person, "semantic", attribute, value, chunk)
            self.reaction = reply

        return unit(head + text, commit)

    def _event(self, head: str, writer: ChunkWriter) -> Proposal:
        rng = self.rng
        known = bool(self.people) and (rng.random() < 0.85 or bool(self.attributes))
        person = rng.choice(self.people) if known else self._new_person()
        kind = rng.choice(tuple(_EVENTS))
        pool = self.objects.get(kind)
        listed = {"class": CLASSES, "concert": CONCERTS, "course": COURSES}.get(kind, ())
        thing = pool.draw() if pool is not None else rng.choice(listed)
        when = writer.date - timedelta(days=rng.randint(0, 6))
        day = when.toordinal()
        if thing in person.event_objects or day in person.event_days:
            return self._small_talk(head)  # keep each (person, day) and (person, thing) unique
        past, base, answer = (part.format(o=thing) for part in _EVENTS[kind])
        date = long_date(when)
        if not known:
            text = f"My {person.relation} {person.name} {past} on {date}."
        elif rng.random() < 0.5:
            text = f"On {date}, {person.name} {past}."
        else:
            text = (
                f"{person.name} {past} on {date}.\n<Assistant> How did it go?\n"
                f"<User> {person.name.split()[0]} said it was {rng.choice(_VERDICTS)}."
            )
        reply = fact_reaction(rng, person.name)

        def commit(chunk: int) -> None:
            if not known:
                self.people.append(person)
                self.pending.extend((person, a) for a in person.values)
            person.event_days.add(day)
            person.event_objects.add(thing)
            self._record(person, "episodic", kind, answer, chunk, date=date, base=base)
            self.reaction = reply

        return unit(head + text, commit)

    # -------------------------------------------------------------- questions
    def questions(self, dates: list[datetime]) -> list[Question]:
        """Questions on about `asked_fraction` of the stated facts (at most `num_questions`)."""
        rng = self.rng
        config = self.config
        candidates: dict[str, list[tuple[Fact, ...]]] = {t: [] for t in config.types}
        by_person: dict[int, dict[str, Fact]] = {}
        for fact in self.facts:
            if fact.kind in candidates:
                candidates[fact.kind].append((fact,))
            if fact.attribute in ("city", "pet"):
                by_person.setdefault(id(fact.person), {})[fact.attribute] = fact
        if "multi_hop" in candidates:
            candidates["multi_hop"] = [(f["pet"], f["city"]) for f in by_person.values() if len(f) == 2]
        for options in candidates.values():
            rng.shuffle(options)
        wanted = max(1, round(config.asked_fraction * len(self.facts)))
        cap = config.num_questions if config.num_questions is not None else len(self.facts)
        asked: set[int] = set()
        questions: list[Question] = []
        while len(asked) < wanted and len(questions) < cap and any(candidates.values()):
            for kind, options in candidates.items():
                while options and any(f.id in asked for f in options[-1]):
                    options.pop()
                if not options or len(asked) >= wanted or len(questions) >= cap:
                    continue
                facts = options.pop()
                asked.update(f.id for f in facts)
                questions.append(self._question(kind, facts))
        rng.shuffle(questions)
        return questions

    def _question(self, kind: str, facts: tuple[Fact, ...]) -> Question:
        fact = facts[-1]
        person = fact.person
        meta = {
            "type": kind,
            "fact_ids": [f.id for f in facts],
            "chunks": [f.chunk for f in facts],
            "person": person.name,
        }
        if kind == "multi_hop":
            pet = facts[0]
            text = f"In which town does the owner of the {person.species} named {pet.value} live?"
            return Question(question=text, answers=[fact.value], metadata={**meta, "attribute": "city"})
        if kind == "semantic":
            text = ATTRIBUTE_QUESTIONS[fact.attribute].format(name=person.name, species=person.species)
            return Question(question=text, answers=[fact.value], metadata={**meta, "attribute": fact.attribute})
        if self.rng.random() < 0.5:
            text = f"What did {person.name} do on {fact.date}?"
            return Question(question=text, answers=[fact.value], metadata={**meta, "asks": "what"})
        text = f"When did {person.name} {fact.base}?"
        return Question(question=text, answers=[fact.date], metadata={**meta, "asks": "when"})

    def metadata(self) -> dict[str, object]:
        kinds = {"semantic": 0, "episodic": 0}
        for fact in self.facts:
            kinds[fact.kind] += 1
        return {
            "num_facts": len(self.facts),
            "facts_by_kind": kinds,
            "num_people": len(self.people),
            "num_distractor_exchanges": self.distractors,
        }
