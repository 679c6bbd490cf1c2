"""The QA stage (paper §5): answering questions from a retrieved context.

Two answerers, chosen by name (`load_answerer`):

- ``retrieval-recall`` — no LLM. The "prediction" is the retrieved context itself, so a question scores by its
  metric applied to what the memory surfaced (the gold answer is there or not). Label questions (``\\boxed{}``
  metrics) predict the label of the stored example most similar to the question (BM25 over the
  ``Sentence: ... Label: N`` pairs in the context): a 1-nearest-neighbour classifier over the memory. This is the
  cheap reward that makes training possible without a 32B answerer.
- ``llm`` — any policy (a token `Policy` or a `ChatPolicy`, e.g. an OpenAI-compatible endpoint serving a frozen
  larger model): the memory as a system prompt, the question as the user message (paper §2.3, our wording).

Both take the same requests (`AnswerRequest`) and return one prediction string per request.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from memalpha_data import Question, score_answer
from memalpha_memory import BM25Index

from .chat import complete_messages
from .exceptions import UnknownNameError
from .formats import strip_thinking
from .types import ChatPolicy, Policy, SamplingParams

__all__ = [
    "ANSWERERS",
    "AnswerRequest",
    "Answerer",
    "LLMAnswerer",
    "RetrievalRecallAnswerer",
    "load_answerer",
    "score_prediction",
]

_LABEL_METRICS = frozenset({"boxed_label_em", "exact_match"})
_EXAMPLE = re.compile(r"Sentence:\s*(?P<sentence>.+?)\s*(?:;|\n)\s*Labels?:\s*(?P<label>[^\s;,.]+)", re.S)

ANSWER_SYSTEM_TEMPLATE = """\
You answer questions from a structured memory, which holds everything you know about the topic:
- core memory: a short summary paragraph;
- semantic memory: facts and knowledge;
- episodic memory: timestamped events.

MEMORY:
{context}

Answer from the memory above. If it does not hold what the question asks, say so plainly. Be concise."""


@dataclass(frozen=True, slots=True)
class AnswerRequest:
    """One question to answer: the question, the retrieval query (with its source's prefix) and the context."""

    question: Question
    query: str
    context: str


@runtime_checkable
class Answerer(Protocol):
    """Answers a batch of requests; ``max_context_tokens`` bounds the retrieved context (None: no bound)."""

    name: str
    max_context_tokens: int | None

    def answer(self, requests: Sequence[AnswerRequest]) -> list[str]: ...


class RetrievalRecallAnswerer:
    """No-LLM answerer: the retrieved context is the prediction (a 1-NN label for label questions)."""

    name = "retrieval-recall"

    def __init__(self, *, max_context_tokens: int | None = None) -> None:
        self.max_context_tokens = max_context_tokens

    def answer(self, requests: Sequence[AnswerRequest]) -> list[str]:
        return [self._answer(r) for r in requests]

    @staticmethod
    def _answer(request: AnswerRequest) -> str:
        if request.question.metric not in _LABEL_METRICS:
            return request.context
        label = nearest_label(request.question.question, request.context)
        if label is None:
            return ""
        return label if request.question.metric == "exact_match" else f"\\boxed{{{label}}}"


def nearest_label(question: str, context: str) -> str | None:
    """The label of the ``Sentence: ... Label: N`` example in ``context`` most similar to ``question`` (BM25)."""
    examples = [(m["sentence"], m["label"]) for m in _EXAMPLE.finditer(context)]
    if not examples:
        return None
    top = BM25Index([sentence for sentence, _ in examples]).top_k(question, 1)
    return examples[top[0][0]][1] if top else examples[0][1]


class LLMAnswerer:
    """Answers with a language model over the rendered memory (the paper uses a frozen Qwen3-32B).

    Args:
        policy: any token `Policy` or `ChatPolicy`.
        sampling: the paper uses temperature 0.7 and 2048 tokens; we default to greedy and 256 tokens so
            evaluations are reproducible and cheap.
        max_context_tokens: the retrieved context is shrunk (fewer items per memory type) to fit this.
        batch_size: questions per generate call.
    """

    name = "llm"

    def __init__(
        self,
        policy: Policy | ChatPolicy,
        *,
        sampling: SamplingParams | None = None,
        max_context_tokens: int | None = 30_000,
        batch_size: int = 64,
    ) -> None:
        self.policy = policy
        self.sampling = sampling or SamplingParams(max_tokens=256, temperature=0.0)
        self.max_context_tokens = max_context_tokens
        self.batch_size = batch_size

    def answer(self, requests: Sequence[AnswerRequest]) -> list[str]:
        predictions: list[str] = []
        for start in range(0, len(requests), self.batch_size):
            batch = requests[start : start + self.batch_size]
            conversations = [
                [
                    {"role": "system", "content": ANSWER_SYSTEM_TEMPLATE.format(context=r.context)},
                    {"role": "user", "content": r.query},
                ]
                for r in batch
            ]
            completions = complete_messages(self.policy, conversations, self.sampling)
            predictions += [strip_thinking(c.text) for c in completions]
        return predictions


def score_prediction(question: Question, prediction: str, answerer: Answerer, *, paper_compat: bool = False) -> float:
    """A prediction's score under the question's metric.

    Questions scored by an LLM judge (``llm_judge``) cannot be judged without a model under the
    ``retrieval-recall`` answerer: they fall back to normalised substring match against the gold answers.
    """
    if question.metric == "llm_judge" and isinstance(answerer, RetrievalRecallAnswerer):
        question = question.model_copy(update={"metric": "sub_em_normalized"})
    return score_answer(question, prediction, paper_compat=paper_compat)


ANSWERERS = ("retrieval-recall", "llm")


def load_answerer(
    name: str, *, policy: Policy | ChatPolicy | None = None, max_context_tokens: int | None = None
) -> Answerer:
    """An answerer by name: ``retrieval-recall`` (no model) or ``llm`` (needs ``policy``)."""
    if name == "retrieval-recall":
        return RetrievalRecallAnswerer(max_context_tokens=max_context_tokens)
    if name == "llm":
        if policy is None:
            raise ValueError(
                "the 'llm' answerer needs a policy: pass policy=load_policy('openai:URL/MODEL') or similar"
            )
        return LLMAnswerer(policy, max_context_tokens=30_000 if max_context_tokens is None else max_context_tokens)
    raise UnknownNameError(f"unknown answerer {name!r}; known: {', '.join(ANSWERERS)}")
