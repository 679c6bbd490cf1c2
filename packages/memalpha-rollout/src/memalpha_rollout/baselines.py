"""Baselines that answer from the raw chunks (paper §9.2), scored like the memory agent (same answerer, same schema).

- ``long-context``: the last N tokens of the stream (the paper keeps the last 30,000 tokens);
- ``rag``: BM25 over the raw chunks with the question as query, the top-k chunks (the paper: k = 2);
- ``memagent``: one memory paragraph rewritten after every chunk (MemAgent-style overwrite memory). With a
  policy, the policy rewrites it; without one, an extractive writer keeps the most fact-like sentences of the old
  memory and the new chunk that fit the budget (newest first) — a no-LLM stand-in, labelled as such.

Each takes ``budgets``: a token budget per instance (for example the memory agent's final memory size, so that
methods compare at equal memory). At a budget, long-context keeps the last B tokens, RAG gives the answerer at most
B tokens of retrieved chunks, and MemAgent's paragraph is capped at B tokens. Memory sizes reported: the context
kept (long-context), all chunks stored (RAG; B at a budget), the final paragraph (MemAgent).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence

from memalpha_data import Instance
from memalpha_memory import BM25Index, TokenCounter, count_tokens

from .answerers import Answerer, AnswerRequest, RetrievalRecallAnswerer, score_prediction
from .chat import complete_messages
from .exceptions import UnknownNameError
from .results import EvalResult, InstanceResult, summarize
from .types import ChatPolicy, Policy, SamplingParams

__all__ = ["BASELINES", "evaluate_baseline", "extractive_rewrite", "last_tokens"]

BASELINES = ("long-context", "rag", "memagent")

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_FACTLIKE = re.compile(r"\d|(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")

MEMAGENT_TEMPLATE = """\
You keep a memory of a long text you read section by section, to solve this task later:
{task}

Current memory:
{memory}

New section:
{chunk}

Rewrite the memory so that it keeps everything from the old memory and the new section that may help with the \
task. Reply with the new memory only, at most {budget} tokens."""


def last_tokens(text: str, budget: int, counter: TokenCounter = count_tokens) -> str:
    """The longest suffix of ``text`` holding at most ``budget`` tokens under ``counter`` (bisection on offsets)."""
    if budget <= 0:
        return ""
    if counter(text) <= budget:
        return text
    low, high = 0, len(text)  # smallest start offset whose suffix fits
    while low < high:
        mid = (low + high) // 2
        if counter(text[mid:]) <= budget:
            high = mid
        else:
            low = mid + 1
    return text[low:]


def first_tokens(text: str, budget: int, counter: TokenCounter = count_tokens) -> str:
    """The longest prefix of ``text`` holding at most ``budget`` tokens under ``counter``."""
    if budget <= 0:
        return ""
    if counter(text) <= budget:
        return text
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if counter(text[:mid]) <= budget:
            low = mid
        else:
            high = mid - 1
    return text[:low]


def extractive_rewrite(memory: str, chunk: str, budget: int, counter: TokenCounter = count_tokens) -> str:
    """The no-LLM MemAgent writer: fact-like sentences (a number or a mid-sentence capitalised word) of the old
    memory and the new chunk, newest first, as many as fit ``budget`` tokens, kept in reading order."""
    sentences = [s.strip() for s in _SENTENCE.findall(memory + "\n" + chunk) if s.strip()]
    kept: list[str] = []
    used = 0
    for sentence in reversed(sentences):
        if not _FACTLIKE.search(sentence):
            continue
        size = counter(sentence)
        if used + size > budget:
            continue
        kept.append(sentence)
        used += size
    return " ".join(reversed(kept))


def evaluate_baseline(
    name: str,
    instances: Sequence[Instance],
    answerer: Answerer | None = None,
    *,
    budgets: Mapping[str, int] | None = None,
    long_context_tokens: int = 30_000,
    top_k: int = 2,
    memagent_tokens: int = 1024,
    policy: Policy | ChatPolicy | None = None,
    counter: TokenCounter = count_tokens,
    method: str | None = None,
) -> EvalResult:
    """Score a baseline on ``instances``; ``budgets`` (instance id → tokens) runs it at an equal-memory budget."""
    if name not in BASELINES:
        raise UnknownNameError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    answerer = answerer or RetrievalRecallAnswerer()
    label = method or _label(name, budgets is not None, top_k, policy)
    started = time.perf_counter()
    contexts: list[tuple[Instance, Callable[[str], str], int, float, int]] = []
    if name == "memagent":
        memories, generated, wall = _memagent(instances, budgets, memagent_tokens, policy, counter)
        for instance, memory in zip(instances, memories, strict=True):
            contexts.append((instance, _fixed(memory), counter(memory), wall / len(instances), generated[instance.id]))
    else:
        for instance in instances:
            budget = budgets.get(instance.id) if budgets is not None else None
            began = time.perf_counter()
            if name == "long-context":
                kept = last_tokens(
                    "\n\n".join(instance.chunks), long_context_tokens if budget is None else budget, counter
                )
                contexts.append((instance, _fixed(kept), counter(kept), time.perf_counter() - began, 0))
            else:
                index = BM25Index(instance.chunks)
                stored = instance.total_tokens(counter) if budget is None else budget
                retrieve = _rag_retriever(instance.chunks, index, top_k, budget, counter)
                contexts.append((instance, retrieve, stored, time.perf_counter() - began, 0))
    results = _answer(contexts, answerer, counter)
    return summarize(
        label,
        answerer.name,
        results,
        wall_s=time.perf_counter() - started,
        config={
            "baseline": name,
            "top_k": top_k,
            "long_context_tokens": long_context_tokens,
            "budgeted": budgets is not None,
        },
    )


def _label(name: str, budgeted: bool, top_k: int, policy: object) -> str:
    base = {"long-context": "long-context", "rag": f"rag-top{top_k}", "memagent": "memagent"}[name]
    if name == "memagent" and policy is None:
        base += "-extractive"
    return base + ("@memory" if budgeted else "")


def _fixed(context: str) -> Callable[[str], str]:
    """A retriever that returns the same context for every question."""
    return lambda _query: context


def _rag_retriever(
    chunks: Sequence[str], index: BM25Index, top_k: int, budget: int | None, counter: TokenCounter
) -> Callable[[str], str]:
    sizes = [counter(chunk) for chunk in chunks] if budget is not None else []

    def retrieve(query: str) -> str:
        if budget is None:
            return "\n\n".join(chunks[i] for i, _ in index.top_k(query, top_k))
        picked, used = [], 0  # best-ranked chunks while they fit, then the part of the next one that fits
        for i, _ in index.top_k(query, len(chunks)):
            if used + sizes[i] > budget:
                part = first_tokens(chunks[i], budget - used, counter)
                if part:
                    picked.append(part)
                break
            picked.append(chunks[i])
            used += sizes[i]
        return "\n\n".join(picked)

    return retrieve


def _memagent(
    instances: Sequence[Instance],
    budgets: Mapping[str, int] | None,
    memagent_tokens: int,
    policy: Policy | ChatPolicy | None,
    counter: TokenCounter,
) -> tuple[list[str], dict[str, int], float]:
    """Run the overwrite memory over every instance, all instances advancing together (one call per chunk step)."""
    began = time.perf_counter()
    caps = [max(1, budgets.get(i.id, memagent_tokens)) if budgets is not None else memagent_tokens for i in instances]
    memories = [""] * len(instances)
    generated = {i.id: 0 for i in instances}
    for t in range(max((i.num_chunks for i in instances), default=0)):
        active = [n for n, i in enumerate(instances) if t < i.num_chunks]
        if policy is None:
            for n in active:
                memories[n] = extractive_rewrite(memories[n], instances[n].chunks[t], caps[n], counter)
            continue
        conversations = [
            [
                {
                    "role": "user",
                    "content": MEMAGENT_TEMPLATE.format(
                        task=instances[n].prompt,
                        memory=memories[n] or "(empty)",
                        chunk=instances[n].chunks[t],
                        budget=caps[n],
                    ),
                }
            ]
            for n in active
        ]
        sampling = SamplingParams(max_tokens=max(caps[n] for n in active), temperature=0.0)
        for n, completion in zip(active, complete_messages(policy, conversations, sampling), strict=True):
            memories[n] = first_tokens(completion.text.strip(), caps[n], counter)
            generated[instances[n].id] += len(completion.ids) or counter(completion.text)
    return memories, generated, time.perf_counter() - began


def _answer(
    contexts: Sequence[tuple[Instance, Callable[[str], str], int, float, int]],
    answerer: Answerer,
    counter: TokenCounter,
) -> list[InstanceResult]:
    requests: list[AnswerRequest] = []
    for instance, retrieve, *_ in contexts:
        for question in instance.questions:
            query = f"{question.query_prefix}\n\n{question.question}" if question.query_prefix else question.question
            context = retrieve(query)
            if answerer.max_context_tokens is not None:
                context = last_tokens(context, answerer.max_context_tokens, counter)
            requests.append(AnswerRequest(question, query, context))
    began = time.perf_counter()
    predictions = answerer.answer(requests)
    answer_wall = time.perf_counter() - began
    results = []
    position = 0
    for instance, _retrieve, memory_tokens, wall, generated in contexts:
        scores = []
        for question in instance.questions:
            scores.append(score_prediction(question, predictions[position], answerer))
            position += 1
        results.append(
            InstanceResult(
                instance_id=instance.id,
                data_source=instance.data_source,
                capability=instance.capability,
                score=sum(scores) / len(scores),
                question_scores=scores,
                memory_tokens=memory_tokens,
                chunk_tokens=instance.total_tokens(counter),
                num_chunks=instance.num_chunks,
                generated_tokens=generated,
                wall_s=wall + answer_wall * len(scores) / max(len(requests), 1),
            )
        )
    return results
