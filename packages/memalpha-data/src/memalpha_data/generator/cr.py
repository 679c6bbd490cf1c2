"""Conflict resolution (CR): chats in which facts about people change, and the questions ask what holds now.

MemoryAgentBench's FactConsolidation idea (paper §11) as a dated dialogue: the user introduces a person and
states, with the day's date, where they live, whom they work for or what their job is; later sessions update
or correct each such attribute `num_updates` times. Every statement of a value lies in a later chunk than the
statement of the value before it, and a value never repeats within one attribute's history (nor is one the
substring of another), so the gold (`answers=[latest]`) and `superseded` (every earlier value) are
unambiguous; metric `conflict_aware`. Multi-hop questions reach the person through their pet's name.

The stream introduces new people while the tokens left can still hold all the updates owed (estimated from
the updates so far); then it only states the owed updates, then small talk up to the length target.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from memalpha_data.generator.config import GeneratorConfig
from memalpha_data.generator.stream import NEW_CHUNK, ChunkWriter, Proposal, unit
from memalpha_data.generator.talk import attribute_clause, fact_reaction, lead, small_talk
from memalpha_data.generator.vocab import JOBS, RELATIONS, SPECIES, NameRegistry, Pool, long_date
from memalpha_data.instance import Question

_ATTRIBUTES = ("city", "employer", "job")
_UPDATES = (
    "Update on {name}: as of {date}, {clause}.",
    "News about {name}! Since {date}, {clause}.",
    "A correction about {name}: from {date} on, {clause}; forget what I told you before.",
    "Things have changed for {name}. Starting {date}, {clause}.",
    "I just heard from {name}. As of {date}, {clause}.",
)
_CURRENT = {
    "city": "Where does {name} live now?",
    "employer": "Which company does {name} work for now?",
    "job": "What is {name}'s job now?",
}
_VIA_PET = {
    "city": "Where does the owner of the {species} named {pet} live now?",
    "employer": "Which company does the owner of the {species} named {pet} work for now?",
    "job": "What is the current job of the owner of the {species} named {pet}?",
}


@dataclass(slots=True)
class Chain:
    """One person's attribute and the values it takes, in order; where and when each was stated."""

    id: int
    name: str
    attribute: str
    values: list[str]
    pet: str
    species: str
    chunks: list[int] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)


class CRGenerator:
    """Proposes the units of a CR stream and, at the end, the questions."""

    def __init__(self, config: GeneratorConfig, rng: random.Random, names: NameRegistry) -> None:
        self.config = config
        self.rng = rng
        self.names = names
        self.updates = config.num_updates
        self.via_pet = "multi_hop" in config.types
        self.chains: list[Chain] = []
        self.open: list[Chain] = []  # chains with updates still owed
        self.owed = 0
        self.people = 0
        self.distractors = 0
        self.reaction = ""
        self.statement_tokens = [0, 0]  # sum, count over statements of one value
        self.draws: dict[str, Callable[[], str]] = {
            "city": Pool(rng, names.town, spread=16).draw,
            "employer": Pool(rng, names.company, spread=16).draw,
            "job": lambda: rng.choice(JOBS),
        }

    # ------------------------------------------------------------------ units
    def propose(self, writer: ChunkWriter) -> Proposal:
        rng = self.rng
        head = lead(rng, writer.is_first, self.reaction)
        if self.chains and rng.random() < self.config.distractor_ratio:  # the first exchange introduces someone
            return self._small_talk(head)
        can_introduce = not self.chains or self._room_for_more(writer)
        ready = self._ready(writer.index)
        if can_introduce and (ready is None or rng.random() < 1 / (1 + self.updates)):
            return self._introduce(head, writer)
        if ready is not None:
            return self._update(head, writer, ready)
        if self.owed:
            return NEW_CHUNK  # every owed update's previous value is in this chunk
        return self._small_talk(head)

    def _room_for_more(self, writer: ChunkWriter) -> bool:
        """Whether the tokens left can hold one more person's statements besides the updates owed."""
        total, count = self.statement_tokens
        per_statement = total / count if count else 40.0
        budget = self.config.chunk_tokens
        limit = sum(budget) / 2 if isinstance(budget, tuple) else budget
        factor = limit / max(1.0, limit - writer.mean_overhead) / (1.0 - self.config.distractor_ratio)
        needed = (self.owed + 1 + 1.3 * self.updates) * per_statement * factor
        return writer.total_tokens + needed <= self.config.target_tokens

    def _ready(self, chunk: int) -> int | None:
        """Position in `open` of a chain whose last value was stated before `chunk`."""
        if not self.open:
            return None
        for _ in range(6):
            position = self.rng.randrange(len(self.open))
            if self.open[position].chunks[-1] < chunk:
                return position
        return next((i for i, c in enumerate(self.open) if c.chunks[-1] < chunk), None)

    def _small_talk(self, head: str) -> Proposal:
        text, reply = small_talk(self.rng)

        def commit(chunk: int) -> None:
            self.reaction = reply
            self.distractors += 1

        return unit(head + text, commit, required=self.owed > 0)

    def _values(self, attribute: str) -> list[str]:
        """`num_updates + 1` distinct values, none a substring of another."""
        values: list[str] = []
        draw = self.draws[attribute]
        fresh = {"city": self.names.town, "employer": self.names.company}.get(attribute, draw)
        for attempt in range(10_000):
            value = draw() if attempt < 200 else fresh()  # a pool too small for this history: new names
            low = value.lower()
            if all(low not in v.lower() and v.lower() not in low for v in values):
                values.append(value)
                if len(values) == self.updates + 1:
                    return values
        raise RuntimeError(f"could not draw {self.updates + 1} distinct values for {attribute!r}")

    def _note(self, tokens: int, statements: int) -> None:
        self.statement_tokens[0] += tokens
        self.statement_tokens[1] += statements

    def _introduce(self, head: str, writer: ChunkWriter) -> Proposal:
        rng = self.rng
        name = self.names.person()
        pet, species = (self.names.proper(), rng.choice(SPECIES)) if self.via_pet else ("", "")
        attributes = rng.sample(_ATTRIBUTES, 1 if rng.random() < 0.7 else 2)
        chains = [Chain(-1, name, a, self._values(a), pet, species) for a in attributes]
        date = long_date(writer.date)
        clauses = ", and ".join(attribute_clause(name, c.attribute, c.values[0]) for c in chains)
        text = f"Let me tell you about my {rng.choice(RELATIONS)}, {name}. As of {date}, {clauses}."
        if pet:
            text += f" {name} has a {species} named {pet}."
        reply = fact_reaction(rng, name)
        piece = unit(head + text, required=self.owed > 0)

        def commit(chunk: int) -> None:
            for chain in chains:
                chain.id = len(self.chains)
                chain.chunks.append(chunk)
                chain.dates.append(date)
                self.chains.append(chain)
                self.open.append(chain)
            self.owed += self.updates * len(chains)
            self.people += 1
            self.reaction = reply
            self._note(piece.tokens, len(chains))

        return replace(piece, commit=commit)

    def _update(self, head: str, writer: ChunkWriter, position: int) -> Proposal:
        rng = self.rng
        chain = self.open[position]
        value = chain.values[len(chain.chunks)]
        date = long_date(writer.date)
        clause = attribute_clause(chain.name, chain.attribute, value)
        text = rng.choice(_UPDATES).format(name=chain.name, date=date, clause=clause)
        reply = fact_reaction(rng, chain.name)
        piece = unit(head + text, required=True)

        def commit(chunk: int) -> None:
            chain.chunks.append(chunk)
            chain.dates.append(date)
            self.owed -= 1
            if len(chain.chunks) == len(chain.values):
                self.open[position] = self.open[-1]
                self.open.pop()
            self.reaction = reply
            self._note(piece.tokens, 1)

        return replace(piece, commit=commit)

    # -------------------------------------------------------------- questions
    def questions(self, dates: list[datetime]) -> list[Question]:
        """Questions on about `asked_fraction` of the tracked attributes (at most `num_questions`)."""
        rng = self.rng
        config = self.config
        complete = [c for c in self.chains if len(c.chunks) == len(c.values)]
        wanted = max(1, round(config.asked_fraction * len(complete)))
        if config.num_questions is not None:
            wanted = min(wanted, config.num_questions)
        chosen = rng.sample(complete, min(wanted, len(complete)))
        kinds = list(config.types)
        return [self._question(chain, kinds[i % len(kinds)]) for i, chain in enumerate(chosen)]

    def _question(self, chain: Chain, kind: str) -> Question:
        if kind == "multi_hop":
            text = _VIA_PET[chain.attribute].format(species=chain.species, pet=chain.pet)
        else:
            text = _CURRENT[chain.attribute].format(name=chain.name)
        history = [
            {"value": v, "chunk": c, "date": d} for v, c, d in zip(chain.values, chain.chunks, chain.dates, strict=True)
        ]
        return Question(
            question=text,
            answers=[chain.values[-1]],
            metric="conflict_aware",
            superseded=chain.values[:-1],
            metadata={
                "type": kind,
                "fact_ids": [chain.id],
                "person": chain.name,
                "attribute": chain.attribute,
                "history": history,
            },
        )

    def metadata(self) -> dict[str, object]:
        return {
            "num_facts": len(self.chains),
            "num_statements": sum(len(c.chunks) for c in self.chains),
            "num_people": self.people,
            "num_distractor_exchanges": self.distractors,
        }
