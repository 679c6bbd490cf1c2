"""Test-time learning (TTL): labelled examples of a synthetic rule, then new sentences to label.

Stands in for PubMed-RCT and the TREC/NLU in-context sets (paper §8.2). Each instance draws `num_labels`
hidden topics, each with its own vocabulary of made-up words; a sentence frame is filled with words of one
topic (and, with probability `distractor_ratio` per extra slot, words of a noise vocabulary every label
shares), and its label is that topic's number. The rule is learnable only from the examples: labels are
numbers and the words mean nothing. Chunks hold `Sentence: …\\nLabel: …` lines in the classification style;
every label appears (the first examples cycle through all of them). Questions are new sentences under the same
rule with the paper's `\\boxed{label}` instruction; metric `boxed_label_em`. The rule is in the instance's
metadata (`label_vocabulary`, `noise_vocabulary`).
"""

from __future__ import annotations

import random
import re
from datetime import datetime

from memalpha_data.generator.config import GeneratorConfig
from memalpha_data.generator.stream import ChunkWriter, Proposal, unit
from memalpha_data.generator.vocab import NameRegistry
from memalpha_data.instance import Question

WORDS_PER_LABEL = 12
NOISE_WORDS = 40
QUESTION_TEMPLATE = (
    "Sentence: {sentence}\nWhat are the labels for the above sentence? Put your final answer as \\boxed{{label}}."
)

_FRAMES = (
    "Could you check whether the {0} is ready before the {1}?",
    "I keep thinking about the {0} and the {1}.",
    "My manager asked for a {0} report by Friday.",
    "Is there a {0} near the {1} station?",
    "We argued about the {0} over dinner.",
    "Please move the {0} next to the {1} and the {2}.",
    "How long does a {0} usually last after the {1}?",
    "The {0} was louder than the {1} last night.",
    "Where can I buy a cheap {0}?",
    "Tell me why the {0} keeps failing after the {1}.",
    "Nobody at the meeting mentioned the {0}.",
    "I need to cancel my {0} for tomorrow.",
    "Is it normal for a {0} to smell like {1}?",
    "What is the best way to clean a {0}?",
    "Our {0} and {1} were delivered to the wrong address.",
    "Can I pay for the {0} with my {1} card?",
    "She said the {0} would arrive with the {1}.",
    "Remind me to order more {0} and {1}.",
    "Why does the {0} cost more than the {1} this year?",
    "The kids loved the {0} at the {1}.",
    "Which {0} should I pick for the {1} and the {2}?",
    "I found an old {0} behind the {1}.",
)
_FRAME_WORDS = frozenset(w.lower() for f in _FRAMES for w in re.findall(r"[A-Za-z]+", f))


_FRAME_SLOTS = tuple((f, 1 + max(int(i) for i in re.findall(r"\{(\d)\}", f))) for f in _FRAMES)


class TTLGenerator:
    """Proposes the labelled examples of a TTL stream and, at the end, the questions."""

    def __init__(self, config: GeneratorConfig, rng: random.Random, names: NameRegistry) -> None:
        self.config = config
        self.rng = rng
        labels = config.num_labels

        def fresh() -> str:
            while (word := names.word()) in _FRAME_WORDS:
                pass
            return word

        self.vocabulary = [[fresh() for _ in range(WORDS_PER_LABEL)] for _ in range(labels)]
        self.noise = [fresh() for _ in range(NOISE_WORDS)]
        self.to_show = list(range(labels))  # labels not yet in the stream, shown first
        rng.shuffle(self.to_show)
        self.seen: set[str] = set()
        self.counts = [0] * labels

    def sentence(self, label: int) -> str:
        """A sentence whose rule label is `label`: one word of that topic, the other slots topic or noise."""
        rng = self.rng
        frame, slots = rng.choice(_FRAME_SLOTS)
        topic = iter(rng.sample(self.vocabulary[label], slots))
        noise = iter(rng.sample(self.noise, slots))
        anchor = rng.randrange(slots)
        ratio = self.config.distractor_ratio
        words = [next(topic) if i == anchor or rng.random() >= ratio else next(noise) for i in range(slots)]
        return frame.format(*words)

    def propose(self, writer: ChunkWriter) -> Proposal:
        required = bool(self.to_show)
        label = self.to_show[-1] if required else self.rng.randrange(self.config.num_labels)
        text = self.sentence(label)
        head = "" if writer.is_first else "\n"

        def commit(chunk: int) -> None:
            if required:
                self.to_show.pop()
            self.seen.add(text)
            self.counts[label] += 1

        return unit(f"{head}Sentence: {text}\nLabel: {label}", commit, required=required)

    def questions(self, dates: list[datetime]) -> list[Question]:
        """`num_questions` new sentences, labels balanced, none seen in the stream."""
        rng = self.rng
        count = self.config.num_questions or 0
        labels = [i % self.config.num_labels for i in range(count)]
        rng.shuffle(labels)
        asked: set[str] = set()
        questions = []
        for label in labels:
            text = self.sentence(label)
            for _ in range(100):
                if text not in self.seen and text not in asked:
                    break
                text = self.sentence(label)
            asked.add(text)
            questions.append(
                Question(
                    question=QUESTION_TEMPLATE.format(sentence=text),
                    answers=[str(label)],
                    metric="boxed_label_em",
                    metadata={"type": "label", "sentence": text},
                )
            )
        return questions

    def metadata(self) -> dict[str, object]:
        return {
            "num_examples": sum(self.counts),
            "examples_per_label": list(self.counts),
            "label_vocabulary": {str(i): list(words) for i, words in enumerate(self.vocabulary)},
            "noise_vocabulary": list(self.noise),
        }
