"""Word lists and name makers for the procedural generator: people, places, companies, pets, made-up words.

Names are combinations of parts (a first name from a list and a surname from two syllables; a town from a
prefix and a suffix) or pseudo-words built from syllables, so a 1M-token stream never runs out of distinct
names. `NameRegistry` hands out names that are unique within one instance.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from datetime import datetime


def _split(text: str, sep: str) -> tuple[str, ...]:
    return tuple(text.split(sep))


FIRST_NAMES = _split(
    "Ada Adrian Alma Amos Anya Arlo Astrid Bea Bruno Callum Carmen Cecil Clara Cyrus Dalia Dante Delia "
    "Desmond Edith Elias Elena Emil Esme Ezra Fatima Felix Fern Flora Gideon Greta Hana Hector Helga "
    "Hugo Ida Igor Imogen Ines Ivan Jonah Josie Julian Kai Kamala Kenji Kira Lars Leila Lena Leon Lidia "
    "Lorenzo Lucia Magnus Maia Marek Marta Mateo Mina Milo Nadia Nico Nina Noor Odile Omar Opal Oscar "
    "Otto Paloma Pavel Petra Priya Quentin Rafael Ravi Rosa Rufus Sabine Samir Selma Silas Sofia Soren "
    "Stella Tariq Thea Tobias Ursula Vera Viktor Wanda Wesley Xenia Yara Yusuf Zara Zoltan Agnes Basil "
    "Bianca Cosmo Dorothea Edgar Freya Gustav Hazel Ingrid Jasper Juno Leopold Linnea Matilda Nell Orla "
    "Pia Roland Saskia Tamsin Ulric Vivian",
    " ",
)
SURNAME_HEADS = _split(
    "Ash Black Brad Cald Dun Fair Gold Hart Kings Lang Mar North Pem Rad Stan Thorn Wal Whit Wood Ald "
    "Bel Cor Dal Fen Gar Hal Kel Lind Mor Pen Ros Sel Tal Vel Wren Bram Crane Dray Holm Quill",
    " ",
)
SURNAME_TAILS = _split(
    "well ford ley ton wick by more field son ridge shaw croft ham worth bury lock stone brook ing den "
    "mont vane lowe hurst combe gate wright bourne cott dell",
    " ",
)
TOWN_HEADS = _split(
    "Amber Bright Cold Crow Deep East Elder Fox Glen Green High Iron Lake Long Mill Moss Oak Pine Raven "
    "Red Rose Salt Silver South Stone Summer West Willow Winter Wolf Birch Copper Dusk Falcon Hazel Ivy "
    "Marble Thistle",
    " ",
)
TOWN_TAILS = _split(
    "haven port mouth vale holm cliff mere stead fall crest water bridge marsh hollow reach dale moor "
    "ness harbour wick field ford combe thorpe",
    " ",
)
JOBS = _split(
    "pharmacist architect nurse carpenter librarian dentist electrician journalist veterinarian "
    "accountant baker pilot translator surveyor chemist firefighter plumber teacher florist geologist "
    "midwife optician paramedic locksmith cartographer sommelier tailor welder zoologist astronomer "
    "beekeeper blacksmith botanist butcher chef curator diver economist engineer fisherman gardener "
    "historian illustrator jeweller lawyer lifeguard machinist mechanic meteorologist musician notary "
    "physiotherapist potter radiologist sculptor shepherd statistician stonemason surgeon glassblower "
    "bookbinder cooper saddler archivist ferryman tiler upholsterer",
    " ",
)
INDUSTRIES = _split(
    "Logistics Analytics Foods Textiles Robotics Pharma Media Builders Insurance Energy Labs Outfitters "
    "Motors Studios Dynamics Partners Shipping Software Health Ceramics Optics Brewing Printing "
    "Acoustics",
    " ",
)
SPECIES = _split("dog cat parrot rabbit tortoise hamster ferret horse goat canary lizard", " ")
RELATIONS = _split(
    "neighbour|colleague|cousin|old school friend|flatmate|climbing partner|former teacher|friend from the choir|"
    "business partner|chess partner|childhood friend|running buddy|friend from book club|godparent|landlord",
    "|",
)
LANDMARK_KINDS = _split("Museum|Gallery|Library|Observatory|Aquarium|Theatre|Botanical Garden|Abbey", "|")
CLASSES = _split(
    "pottery salsa watercolour woodworking sushi calligraphy glass-blowing first-aid beekeeping knitting "
    "photography bread-making tango archery fencing origami",
    " ",
)
CONCERTS = _split("jazz|choral|organ|folk|string quartet|brass band|opera|piano|blues|harp", "|")
RESTAURANT_KINDS = _split("Bistro Kitchen Tavern Grill Diner Brasserie Canteen Trattoria", " ")
COURSES = _split("astronomy|Portuguese|bookkeeping|ceramics|sign language|coding|sailing|geology", "|")
DISHES = _split("lentil soup|a mushroom risotto|dumplings|a lemon tart|chickpea curry|pancakes|paella", "|")
WEATHER = _split("rainy foggy sunny windy freezing muggy stormy mild", " ")
EVENT_KINDS = _split(
    "Flood Fair Trial Fire Wedding Election Regatta Strike Eclipse Tournament Festival Auction Duel Blizzard "
    "Harvest Plague Coronation Shipwreck",
    " ",
)
LOCALES = _split(
    "the market|the harbour|the chapel|the old mill|the inn|the library|the station|the orchard|the bridge|"
    "the square|the boathouse|the courthouse|the bakery|the lighthouse",
    "|",
)
OBJECTS = _split(
    "brass key|torn map|silver ring|unsigned letter|ledger|photograph|compass|music box|lantern|locket|"
    "pocket watch|sealed envelope|wooden box|blue scarf",
    "|",
)
HOBBY_TOPICS = _split("a podcast about volcanoes|a novel set at sea|a documentary on bees|a history of maps", "|")

_ONSETS = _split("b d f g k l m n p r s t v z br dr gr st tr sh", " ")
_VOWELS = _split("a e i o u ai ou ea", " ")
_CODAS = ("", "", "n", "r", "l", "s", "m", "k", "x")


def pseudo_word(rng: random.Random, syllables: int = 2) -> str:
    """A pronounceable made-up lowercase word of `syllables` syllables."""
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables))


def article(noun: str) -> str:
    """`noun` with its indefinite article ("a nurse", "an architect")."""
    return ("an " if noun[0].lower() in "aeiou" else "a ") + noun


def long_date(when: datetime) -> str:
    """A date as written in the stream's sentences: "March 5, 2024"."""
    return f"{when:%B} {when.day}, {when.year}"


class NameRegistry:
    """Hands out names unique within one instance (people, towns, pets, companies, made-up words)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def _unique(self, make: str, attempts: int = 200) -> str:
        for _ in range(attempts):
            name = self._draw(make)
            if name not in self._used:
                self._used.add(name)
                return name
        raise RuntimeError(f"ran out of distinct {make} names after {attempts} draws")

    def _draw(self, make: str) -> str:
        rng = self._rng
        if make == "person":
            return f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAME_HEADS)}{rng.choice(SURNAME_TAILS)}"
        if make == "town":
            return rng.choice(TOWN_HEADS) + rng.choice(TOWN_TAILS)
        if make == "company":
            return f"{pseudo_word(rng).capitalize()} {rng.choice(INDUSTRIES)}"
        if make == "landmark":
            return f"{pseudo_word(rng).capitalize()} {rng.choice(LANDMARK_KINDS)}"
        if make == "restaurant":
            return f"{pseudo_word(rng).capitalize()} {rng.choice(RESTAURANT_KINDS)}"
        if make == "mountain":
            return f"Mount {pseudo_word(rng).capitalize()}"
        if make == "word":
            return pseudo_word(rng, rng.choice((2, 2, 3)))
        if make == "proper":
            return pseudo_word(rng).capitalize()
        raise ValueError(f"unknown kind of name {make!r}")

    def person(self) -> str:
        """A new full name, "First Surname"."""
        return self._unique("person")

    def town(self) -> str:
        """A new town name (there are about 900; `RuntimeError` once they run out)."""
        return self._unique("town")

    def company(self) -> str:
        return self._unique("company")

    def landmark(self) -> str:
        return self._unique("landmark")

    def restaurant(self) -> str:
        return self._unique("restaurant")

    def mountain(self) -> str:
        return self._unique("mountain")

    def word(self) -> str:
        """A new lowercase made-up word."""
        return self._unique("word")

    def proper(self) -> str:
        """A new capitalised made-up name (pets, the main characters of a story)."""
        return self._unique("proper")


class Pool:
    """Names drawn with repeats, new ones ever more rarely (a few hundred towns for thousands of people)."""

    def __init__(self, rng: random.Random, make: Callable[[], str], spread: int = 8) -> None:
        self._rng = rng
        self._make = make
        self._spread = spread
        self._items: list[str] = []

    def draw(self) -> str:
        if not self._items or self._rng.random() < self._spread / (self._spread + len(self._items)):
            with contextlib.suppress(RuntimeError):  # the kind of name ran out: reuse one
                self._items.append(self._make())
        return self._rng.choice(self._items)
