"""The episode engine: batched, context-reset memory-writing rollouts (paper §4) with the QA stage (§5) and
the reward (§6).

`run_episodes` runs G rollouts of each of B instances together. At chunk step t every active episode gets a
fresh prompt (instructions + its memory view + chunk t), all prompts go to the policy in **one** generate call,
each completion's tool calls are parsed and applied in order to that episode's in-process working memory, and
the calls are judged (r4) in one batched judge call. A call cut off by the reply limit (``finish_reason ==
"length"`` inside its block) is not applied and counts as a failed call. Episodes with fewer chunks drop out of
the batch; with ``min_steps`` the engine keeps making (throw-away) generate calls so that every process of a
multi-process trainer makes the same number of them. The G rollouts of an instance start from empty,
independent memories.

After the stream every question is answered from its episode's memory (core + BM25 top-k per memory type,
shrunk to the answerer's window) and scored (r1); r3 compares the final memory with the raw chunks.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import fmean

from memalpha_data import Instance, Question
from memalpha_memory import TokenCounter, ToolResult, WorkingMemory, count_tokens, tool_schemas

from ._progress import progress_bar
from .answerers import Answerer, AnswerRequest, RetrievalRecallAnswerer, score_prediction
from .chat import is_token_policy, render_prompt_ids
from .formats import get_format
from .judges import HeuristicJudge, Judge, JudgeItem, judge_items
from .prompts import PROMPT_STYLES, PromptBuild, PromptStyle, fit_prompt
from .reward import RewardComponents, RewardConfig, compression_score, content_score, tool_success
from .trace import CallTrace, EpisodeTrace, MemorySnapshot, QATrace, StepTrace
from .types import ChatPolicy, Completion, Policy, SamplingParams, ToolCall

__all__ = ["Episode", "QARecord", "RolloutConfig", "StepRecord", "memorize", "run_episodes", "snapshot"]

logger = logging.getLogger(__name__)

_PAD_MESSAGES = [{"role": "user", "content": "Done"}]


@dataclass(frozen=True, slots=True)
class RolloutConfig:
    """How episodes run.

    Args:
        group_size: rollouts per instance (the paper's G = 8 for training; 1 for evaluation).
        tool_format: ``hermes`` (Qwen3 / TRL native), ``qwen-agent`` (the paper's ✿FUNCTION✿ text protocol) or
            ``native`` (structured calls from an OpenAI-compatible server).
        sampling: the writer's sampling (the paper: temperature 1 in training, greedy in evaluation).
        max_prompt_tokens: the prompt budget; recent items shown are halved until the prompt fits (paper: 6144).
        recent_items: recent semantic / episodic items shown in the memory view (paper: 5).
        retrieval_k: items retrieved per memory type for each question (paper: 20).
        reward: reward weights and the ``paper_compat`` switch (also used for the memory's quirks).
        record_traces: keep prompts and completions for traces; ``snapshot_memory`` also keeps the memory
            after every chunk (turn it off for very long streams).
        seed: seeds the memory ids of every episode, for reproducible runs.
        token_counter: counts memory and chunk tokens for r3 and reports (default: the fast words counter).
        core_token_limit: the core memory's token limit (paper: 512).
        prompt_style: ``full`` (the paper's instructions and the tools' JSON schemas, about 1,000 tokens before
            the memory and the chunk) or ``compact`` (a few sentences and one line per tool, about a quarter of
            that, for small models trained on CPU; the tools always come before the memory).
    """

    group_size: int = 1
    tool_format: str = "hermes"
    sampling: SamplingParams = field(default_factory=lambda: SamplingParams(max_tokens=512))
    max_prompt_tokens: int = 6144
    recent_items: int = 5
    retrieval_k: int = 20
    reward: RewardConfig = field(default_factory=RewardConfig)
    record_traces: bool = True
    snapshot_memory: bool = True
    seed: int = 0
    token_counter: TokenCounter = count_tokens
    core_token_limit: int = 512
    prompt_style: PromptStyle = "full"

    def __post_init__(self) -> None:
        if self.group_size < 1:
            raise ValueError(f"group_size must be at least 1, got {self.group_size!r}")
        if self.max_prompt_tokens < 1:
            raise ValueError(f"max_prompt_tokens must be positive, got {self.max_prompt_tokens!r}")
        get_format(self.tool_format)  # fail early on an unknown format
        if self.prompt_style not in PROMPT_STYLES:
            raise ValueError(
                f"prompt_style must be one of {', '.join(map(repr, PROMPT_STYLES))}, got {self.prompt_style!r}"
            )


@dataclass(slots=True)
class StepRecord:
    """One chunk step of one episode."""

    chunk_index: int
    prompt: PromptBuild
    completion: Completion
    reasoning: str
    calls: tuple[ToolCall, ...]
    results: list[ToolResult]
    call_scores: list[float]
    r2: float
    r4: float
    memory: MemorySnapshot | None = None
    reward: RewardComponents | None = None


@dataclass(frozen=True, slots=True)
class QARecord:
    """One answered question."""

    question: Question
    query: str
    retrieved_semantic: tuple[str, ...]
    retrieved_episodic: tuple[str, ...]
    k: int
    prediction: str
    score: float


@dataclass(slots=True)
class Episode:
    """One rollout of one instance: its steps, final memory, QA and rewards."""

    instance: Instance
    rollout: int
    memory: WorkingMemory
    steps: list[StepRecord] = field(default_factory=list)
    qa: list[QARecord] = field(default_factory=list)
    r1: float = 0.0
    r3: float = 0.0
    memory_tokens: int = 0
    chunk_tokens: int = 0

    @property
    def episode_id(self) -> str:
        return f"{self.instance.id}#{self.rollout}"

    @property
    def group_id(self) -> str:
        """The GRPO group: every chunk sample of every rollout of one instance."""
        return self.instance.id

    @property
    def num_calls(self) -> int:
        return sum(len(s.results) for s in self.steps)

    @property
    def ok_calls(self) -> int:
        return sum(r.ok for s in self.steps for r in s.results)

    @property
    def generated_tokens(self) -> int:
        return sum(_generated_tokens(s.completion) for s in self.steps)

    def to_trace(self, *, policy: str = "", tool_format: str = "") -> EpisodeTrace:
        """The episode as a JSON-ready trace."""
        return EpisodeTrace(
            episode_id=self.episode_id,
            instance_id=self.instance.id,
            data_source=self.instance.data_source,
            capability=self.instance.capability,
            rollout=self.rollout,
            policy=policy,
            tool_format=tool_format,
            steps=[_step_trace(s) for s in self.steps],
            qa=[
                QATrace(
                    question=q.question.question,
                    answers=list(q.question.answers),
                    metric=q.question.metric,
                    query=q.query,
                    retrieved_semantic=list(q.retrieved_semantic),
                    retrieved_episodic=list(q.retrieved_episodic),
                    k=q.k,
                    prediction=q.prediction,
                    score=q.score,
                )
                for q in self.qa
            ],
            final_memory=snapshot(self.memory),
            memory_tokens=self.memory_tokens,
            chunk_tokens=self.chunk_tokens,
            r1=self.r1,
            r3=self.r3,
        )


def run_episodes(
    policy: Policy | ChatPolicy,
    instances: Sequence[Instance],
    *,
    answerer: Answerer | None = None,
    config: RolloutConfig | None = None,
    judge: Judge | None = None,
    min_steps: int | None = None,
    progress: bool = False,
) -> list[Episode]:
    """Run ``config.group_size`` rollouts of every instance, answer the questions and compute the rewards.

    Episodes come back grouped by instance, rollouts in order: ``[i0#0, i0#1, ..., i1#0, ...]``.

    Args:
        policy: a token `Policy` (prompts rendered with its tokenizer's chat template) or a `ChatPolicy`.
        answerer: answers the questions (default: ``retrieval-recall``, no model).
        judge: scores write calls for r4 (default: the heuristic judge; deletes scored 0 under ``paper_compat``).
        min_steps: make at least this many generate calls (token policies), padding with throw-away prompts
            once every episode has finished: multi-process trainers pass the largest chunk count of any process.
        progress: show a progress bar over chunk steps.
    """
    config = config or RolloutConfig()
    answerer = answerer or RetrievalRecallAnswerer()
    paper_compat = config.reward.paper_compat
    judge = judge or HeuristicJudge(delete_score=0.0 if paper_compat else None)
    episodes = [
        Episode(
            instance=instance,
            rollout=rollout,
            memory=WorkingMemory(
                paper_compat=paper_compat,
                token_counter=config.token_counter,
                core_token_limit=config.core_token_limit,
                seed=config.seed * 1_000_003 + index * config.group_size + rollout,
                record_operations=False,
            ),
        )
        for index, instance in enumerate(instances)
        for rollout in range(config.group_size)
    ]
    steps = max((i.num_chunks for i in instances), default=0)
    if min_steps is not None and is_token_policy(policy):
        steps = max(steps, min_steps)
    with progress_bar(progress, total=steps, description="chunk steps") as advance:
        for t in range(steps):
            active = [e for e in episodes if t < e.instance.num_chunks]
            if active:
                _step(policy, active, t, config, judge)
            else:
                _pad_step(policy, config.sampling)
            advance(1)
    _answer_and_reward(episodes, answerer, config)
    return episodes


def memorize(
    policy: Policy | ChatPolicy,
    chunks: Sequence[str],
    *,
    memory: WorkingMemory | None = None,
    config: RolloutConfig | None = None,
    judge: Judge | None = None,
    progress: bool = False,
) -> list[StepRecord]:
    """Let ``policy`` write ``chunks`` into ``memory``, one chunk step at a time, with no questions and no reward.

    This is what a trained writer is for: building a memory from a user's own text (``memalpha memory build``).
    ``memory`` defaults to a new working memory; pass one bound to a store (`MemoryStore.buffered`) to extend a
    namespace, then ``flush`` it. Returns the step records (prompts, completions, calls, results).
    """
    config = config or RolloutConfig()
    texts = [c for c in chunks if c.strip()]
    if not texts:
        raise ValueError("nothing to memorize: every chunk is empty")
    if memory is None:
        memory = WorkingMemory(
            paper_compat=config.reward.paper_compat, token_counter=config.token_counter, seed=config.seed
        )
    placeholder = Question(question="(none)", answers=["(none)"])
    instance = Instance(id="memorize", data_source="user", capability="AR", chunks=texts, questions=[placeholder])
    episode = Episode(instance=instance, rollout=0, memory=memory)
    judge = judge or HeuristicJudge(delete_score=0.0 if config.reward.paper_compat else None)
    with progress_bar(progress, total=len(texts), description="memorizing") as advance:
        for t in range(len(texts)):
            _step(policy, [episode], t, config, judge)
            advance(1)
    return episode.steps


_TOOLS = tool_schemas(include_search=False)  # the paper's write tools; the read tool is not offered to writers


def _step(policy: Policy | ChatPolicy, active: list[Episode], t: int, config: RolloutConfig, judge: Judge) -> None:
    fmt = get_format(config.tool_format)
    tools_section = _tools_section(config.tool_format, config.prompt_style)
    token_policy = isinstance(policy, Policy)
    encode = (lambda messages: render_prompt_ids(policy.tokenizer, messages)) if token_policy else None  # type: ignore[union-attr]
    builds = [
        fit_prompt(
            e.memory,
            e.instance.chunks[t],
            tools_section,
            max_prompt_tokens=config.max_prompt_tokens,
            max_new_tokens=config.sampling.max_tokens,
            recent=config.recent_items,
            encode=encode,
            count=None if token_policy else config.token_counter,
            tools_first=config.prompt_style == "compact" or fmt.name != "qwen-agent",
            style=config.prompt_style,
        )
        for e in active
    ]
    over = sum(b.over_budget for b in builds)
    if over:
        logger.warning(
            "chunk %d: %d prompt(s) exceed max_prompt_tokens=%d even with no recent items shown",
            t,
            over,
            config.max_prompt_tokens,
        )
    if isinstance(policy, Policy):
        completions = policy.generate([b.prompt_ids or [] for b in builds], config.sampling)
    else:
        completions = policy.chat([b.messages for b in builds], config.sampling, _TOOLS)
    if len(completions) != len(builds):
        raise RuntimeError(f"the policy returned {len(completions)} completions for {len(builds)} prompts")
    all_items: list[JudgeItem] = []
    spans: list[tuple[int, int]] = []
    for episode, build, completion in zip(active, builds, completions, strict=True):
        cut_off = False
        if completion.tool_calls is not None:
            calls, reasoning = tuple(completion.tool_calls), completion.text
        else:
            parsed = fmt.parse(completion.text)
            calls, reasoning = parsed.calls, parsed.reasoning
            cut_off = parsed.open_end and completion.finish_reason == "length"
        applied = calls[:-1] if cut_off else calls
        results = [episode.memory.apply_tool_call(c.name, c.arguments) for c in applied]
        if cut_off:
            results.append(_cut_off_result(calls[-1], config.sampling.max_tokens))
        items = judge_items(calls, results)
        spans.append((len(all_items), len(all_items) + len(items)))
        all_items += items
        episode.steps.append(
            StepRecord(
                chunk_index=t,
                prompt=build if config.record_traces else _lean(build),
                completion=completion,
                reasoning=reasoning,
                calls=calls,
                results=results,
                call_scores=[],
                r2=tool_success(results, paper_compat=config.reward.paper_compat),
                r4=0.0,
                memory=snapshot(episode.memory) if config.record_traces and config.snapshot_memory else None,
            )
        )
    scores = judge.score(all_items) if all_items else []
    for episode, (start, end) in zip(active, spans, strict=True):
        step = episode.steps[-1]
        step.call_scores = list(scores[start:end])
        step.r4 = content_score(step.call_scores, paper_compat=config.reward.paper_compat)


def _cut_off_result(call: ToolCall, max_tokens: int) -> ToolResult:
    """A call the token budget cut off: not applied (half a fact is not stored), and a failure for r2."""
    return ToolResult(
        tool=call.name,
        status="error",
        error_kind="invalid_json",
        message=f"the call was cut off by the {max_tokens}-token reply limit and was not applied; "
        "make fewer or shorter calls, or raise max_tokens",
    )


@functools.cache
def _tools_section(tool_format: str, prompt_style: PromptStyle) -> str:
    """The system prompt's tool section for a format and prompt style (rendered once per pair)."""
    return get_format(tool_format).render_tools(_TOOLS, compact=prompt_style == "compact")


def _pad_step(policy: Policy | ChatPolicy, sampling: SamplingParams) -> None:
    """A throw-away generation that keeps this process in lockstep with others still generating."""
    if isinstance(policy, Policy):
        policy.generate([render_prompt_ids(policy.tokenizer, _PAD_MESSAGES)], sampling)


def _answer_and_reward(episodes: list[Episode], answerer: Answerer, config: RolloutConfig) -> None:
    requests: list[AnswerRequest] = []
    contexts = []
    for episode in episodes:
        for question in episode.instance.questions:
            query = f"{question.query_prefix}\n\n{question.question}" if question.query_prefix else question.question
            context = episode.memory.retrieve_for_answer(
                query, k=config.retrieval_k, max_tokens=answerer.max_context_tokens
            )
            requests.append(AnswerRequest(question, query, context.text))
            contexts.append(context)
    predictions = answerer.answer(requests) if requests else []
    if len(predictions) != len(requests):
        raise RuntimeError(f"the answerer returned {len(predictions)} answers for {len(requests)} questions")
    position = 0
    counter = config.token_counter
    for episode in episodes:
        for question in episode.instance.questions:
            request, context, prediction = requests[position], contexts[position], predictions[position]
            position += 1
            score = score_prediction(question, prediction, answerer, paper_compat=config.reward.paper_compat)
            episode.qa.append(
                QARecord(
                    question=question,
                    query=request.query,
                    retrieved_semantic=tuple(e.id for e in context.semantic),
                    retrieved_episodic=tuple(e.id for e in context.episodic),
                    k=context.k,
                    prediction=prediction,
                    score=score,
                )
            )
        episode.r1 = fmean(q.score for q in episode.qa) if episode.qa else 0.0
        episode.memory_tokens = episode.memory.total_tokens()
        episode.chunk_tokens = sum(counter(c) for c in episode.instance.chunks)
        episode.r3 = compression_score(episode.memory_tokens, episode.chunk_tokens)
        for step in episode.steps:
            total = config.reward.combine(episode.r1, step.r2, episode.r3, step.r4)
            step.reward = RewardComponents(episode.r1, step.r2, episode.r3, step.r4, total)


def snapshot(memory: WorkingMemory) -> MemorySnapshot:
    """The whole memory as a `MemorySnapshot`."""
    return MemorySnapshot(
        core=memory.core,
        semantic=[(e.id, e.content) for e in memory.entries("semantic")],
        episodic=[(e.id, e.content) for e in memory.entries("episodic")],
    )


def _lean(build: PromptBuild) -> PromptBuild:
    """The prompt without its messages (kept when traces are off: ids are still needed for training)."""
    return PromptBuild([], build.prompt_ids, build.num_tokens, build.recent_shown, build.over_budget)


def _generated_tokens(completion: Completion) -> int:
    if completion.ids:
        return len(completion.ids)
    text = completion.text + "".join(
        c.name + (c.arguments if isinstance(c.arguments, str) else str(c.arguments))
        for c in completion.tool_calls or ()
    )
    return count_tokens(text)


def _step_trace(step: StepRecord) -> StepTrace:
    reward = step.reward
    return StepTrace(
        chunk_index=step.chunk_index,
        messages=[dict(m) for m in step.prompt.messages],
        prompt_tokens=step.prompt.num_tokens,
        recent_shown=step.prompt.recent_shown,
        completion=step.completion.text,
        completion_tokens=_generated_tokens(step.completion),
        reasoning=step.reasoning,
        calls=[
            CallTrace(
                name=call.name,
                arguments=call.arguments if isinstance(call.arguments, str) else _json(call.arguments),
                status=result.status,
                message=result.message,
                memory_type=result.memory_type,
                memory_id=result.memory_id,
                judge_score=step.call_scores[i] if i < len(step.call_scores) else None,
            )
            for i, (call, result) in enumerate(zip(step.calls, step.results, strict=True))
        ],
        memory=step.memory,
        r2=step.r2,
        r4=step.r4,
        reward=reward.total if reward else 0.0,
    )


def _json(value: object) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=repr)
