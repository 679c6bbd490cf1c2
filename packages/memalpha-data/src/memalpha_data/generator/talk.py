"""Conversation pieces shared by the AR and CR generators: turns, small talk, sentences stating attributes.

A chunk of a dialogue stream is the wrapper's user request followed by exchanges: each unit opens with the
assistant's reply to the previous user turn (or an invitation to go on, at the start of a chunk) and ends with
a user turn, so the wrapper's closing acknowledgement answers the last one and the turns alternate throughout.
"""

from __future__ import annotations

import random

from memalpha_data.generator.vocab import DISHES, HOBBY_TOPICS, WEATHER, article

Attribute = str
"""A person's attribute: `city`, `job`, `employer` or `pet`."""

OPENERS = (
    "Sure, go ahead.",
    "Of course. What's new?",
    "I'm listening.",
    "Happy to. Tell me.",
    "Go on, I'm all ears.",
    "Okay, what would you like to share?",
)
FACT_REACTIONS = (
    "Thanks, noted.",
    "Good to know about {first}.",
    "Got it.",
    "Interesting! I'll keep that in mind.",
    "How nice for {first}.",
    "Understood.",
    "That's useful to know.",
    "I'll remember that about {first}.",
)
_CHATTER = (
    ("The weather here has been {weather} all week.", "I hope it turns nicer soon."),
    ("I'm thinking of making {dish} tonight.", "That sounds delicious."),
    ("I've been listening to {hobby} on my commute.", "That sounds fascinating."),
    ("Work was hectic today; I barely had time for lunch.", "Try to take a proper break tomorrow."),
    ("Do you have any tips for sleeping better?", "A regular bedtime and less screen time in the evening help."),
    ("I went for a long walk before breakfast this morning.", "A great way to start the day."),
    ("I might repaint the kitchen this spring.", "A fresh colour can change a room."),
    ("My phone battery keeps dying by the afternoon.", "It may be time to check the battery health."),
    ("I finally cleaned out the garage over the weekend.", "That must feel good."),
    ("I can't decide between a bike and a bus pass.", "It depends on how far and how often you travel."),
    ("The neighbours' dog barked half the night.", "That sounds exhausting."),
    ("I want to read more books this year.", "Setting a small daily goal can help."),
)
_PREFIXES = ("Oh, and", "By the way,", "I forgot to mention:", "Something else:", "Also,", "Quick note:")

ATTRIBUTE_SENTENCES: dict[Attribute, tuple[str, ...]] = {
    "city": ("{name} lives in {value}.", "{name}'s home is in {value}.", "These days {name} lives in {value}."),
    "job": ("{name} works as {a_value}.", "{name} is {a_value} by trade.", "By profession, {name} is {a_value}."),
    "employer": ("{name} works for {value}.", "{name}'s employer is {value}.", "{name} has a job at {value}."),
    "pet": (
        "{name} has a {species} named {value}.",
        "{name}'s {species} is called {value}.",
        "{name} keeps a {species} called {value}.",
    ),
}
"""Sentences that state a stable attribute (AR)."""

ATTRIBUTE_CLAUSES: dict[Attribute, str] = {
    "city": "{name} lives in {value}",
    "job": "{name} works as {a_value}",
    "employer": "{name} works for {value}",
}
"""Clauses for attributes that change (CR)."""

ATTRIBUTE_QUESTIONS: dict[Attribute, str] = {
    "city": "Where does {name} live?",
    "job": "What does {name} do for a living?",
    "employer": "Which company does {name} work for?",
    "pet": "What is the name of {name}'s {species}?",
}


def lead(rng: random.Random, first: bool, reaction: str) -> str:
    """What opens a unit: an invitation at the start of a chunk, else the reply to the previous user turn."""
    if first:
        return f"<Assistant> {rng.choice(OPENERS)}\n<User> "
    return f"\n<Assistant> {reaction}\n<User> "


def fact_reaction(rng: random.Random, name: str) -> str:
    """The assistant's reply to a user turn about `name`."""
    return rng.choice(FACT_REACTIONS).format(first=name.split(maxsplit=1)[0])


def small_talk(rng: random.Random) -> tuple[str, str]:
    """A user turn with no fact in it, and the assistant's reply."""
    turn, reply = rng.choice(_CHATTER)
    text = turn.format(weather=rng.choice(WEATHER), dish=rng.choice(DISHES), hobby=rng.choice(HOBBY_TOPICS))
    return text, reply


def in_passing(rng: random.Random, sentence: str, name: str) -> str:
    """`sentence` mentioned in passing: half the time after a prefix such as "By the way,"."""
    if rng.random() < 0.5:
        return sentence
    if not sentence.startswith(name):
        sentence = sentence[0].lower() + sentence[1:]
    return f"{rng.choice(_PREFIXES)} {sentence}"


def attribute_sentence(rng: random.Random, name: str, attribute: Attribute, value: str, species: str = "") -> str:
    """A sentence stating that `name`'s `attribute` is `value`."""
    template = rng.choice(ATTRIBUTE_SENTENCES[attribute])
    return template.format(name=name, value=value, a_value=article(value), species=species)


def attribute_clause(name: str, attribute: Attribute, value: str) -> str:
    """A clause stating a changing attribute's value ("Ada Ashwell lives in Oakmere")."""
    return ATTRIBUTE_CLAUSES[attribute].format(name=name, value=value, a_value=article(value))
