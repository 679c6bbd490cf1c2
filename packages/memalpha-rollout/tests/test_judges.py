"""The r4 content judges: reading calls into items, the heuristic rules, and the LLM judge's prompts and parsing."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from memalpha_data import read_instances
from memalpha_memory import ToolResult, WorkingMemory
from memalpha_rollout.exceptions import PolicyError
from memalpha_rollout.judges import (
    HeuristicJudge,
    Judge,
    JudgeItem,
    LLMJudge,
    judge_items,
    judge_rubric,
    parse_verdict,
)
from memalpha_rollout.policies.heuristic import HeuristicPolicy
from memalpha_rollout.types import Completion, Message, SamplingParams, ToolCall

SAMPLES = Path(__file__).resolve().parents[3] / "datasets" / "samples" / "mini-train.parquet"
OK = ToolResult(tool="x", status="ok", message="done")
FAILED = ToolResult(tool="x", status="error", message="bad", error_kind="invalid_value")


def item(memory_type: str | None, content: str | None, tool: str = "new_memory_insert", ok: bool = True) -> JudgeItem:
    return JudgeItem(tool, memory_type, content, ok)  # type: ignore[arg-type]


# ----------------------------------------------------------------- judge_items
def test_judge_items_reads_type_and_content_per_tool() -> None:
    calls = [
        ToolCall("new_memory_insert", '{"memory_type": "semantic_memory", "content": "Ada lives in Porto."}'),
        ToolCall("memory_update", {"memory_type": "Core_Memory ", "new_content": "Profile of Ada."}),
        ToolCall(
            "memory_update", '{"memory_type": "episodic", "new_content": "On Monday Ada left.", "memory_id": "1"}'
        ),
        ToolCall("memory_delete", '{"memory_type": "semantic_memory", "memory_id": "ab12"}'),
    ]
    assert judge_items(calls, [OK, OK, FAILED, OK]) == [
        JudgeItem("new_memory_insert", "semantic", "Ada lives in Porto.", True),
        JudgeItem("memory_update", "core", "Profile of Ada.", True),
        JudgeItem("memory_update", "episodic", "On Monday Ada left.", False),
        JudgeItem("memory_delete", "semantic", None, True),
    ]


def test_judge_items_survives_malformed_calls() -> None:
    calls = [
        ToolCall(
            "new_memory_insert", '{"memory_type": "semantic_memory", "content": "Ada lives in Porto."'
        ),  # repaired
        ToolCall("new_memory_insert", "not json at all"),
        ToolCall("new_memory_insert", '["a", "list"]'),
        ToolCall("new_memory_insert", '{"memory_type": "procedural_memory", "content": 42}'),
        ToolCall("memory_update", '{"memory_type": "semantic_memory", "content": "wrong key"}'),
        ToolCall("search_memory", '{"query": "Ada"}'),
        ToolCall("write_diary", '{"memory_type": "semantic", "content": "Dear diary"}'),
        ToolCall("new_memory_insert", ""),
    ]
    items = judge_items(calls, [OK] * len(calls))
    assert items[0] == JudgeItem("new_memory_insert", "semantic", "Ada lives in Porto.", True)
    assert items[1] == items[2] == items[7] == JudgeItem("new_memory_insert", None, None, True)
    assert items[3] == JudgeItem("new_memory_insert", None, None, True)
    assert items[4] == JudgeItem("memory_update", "semantic", None, True)
    assert items[5] == JudgeItem("other", None, None, True)
    assert items[6] == JudgeItem("other", "semantic", "Dear diary", True)
    assert HeuristicJudge().score(items) == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_judge_items_needs_one_result_per_call() -> None:
    with pytest.raises(ValueError, match="one result per call, got 1 calls and 0 results"):
        judge_items([ToolCall("memory_delete", "{}")], [])


def test_judge_items_on_applied_calls() -> None:
    memory = WorkingMemory(seed=0)
    calls = [
        ToolCall("new_memory_insert", {"memory_type": "semantic_memory", "content": "Ada lives in Porto now."}),
        ToolCall("memory_delete", {"memory_type": "semantic_memory", "memory_id": "zzzz"}),
    ]
    results = [memory.apply_tool_call(c.name, c.arguments) for c in calls]
    assert [i.ok for i in judge_items(calls, results)] == [True, False]


# ------------------------------------------------------------ shared rules
@pytest.mark.parametrize("judge_cls", [HeuristicJudge, lambda **kw: LLMJudge(RecordingPolicy(), **kw)])
def test_delete_scoring(judge_cls: Any) -> None:
    deletes = [item("semantic", None, "memory_delete", ok=True), item(None, None, "memory_delete", ok=False)]
    assert judge_cls().score(deletes) == [1.0, 0.0]
    assert judge_cls(delete_score=0.0).score(deletes) == [0.0, 0.0]
    assert judge_cls(delete_score=0.5).score(deletes) == [0.5, 0.5]
    with pytest.raises(ValueError, match=r"delete_score must be in \[0, 1\] or None, got 2.0"):
        judge_cls(delete_score=2.0)


def test_missing_content_unknown_type_and_unknown_tool_score_zero() -> None:
    items = [
        item("semantic", None),
        item("semantic", "   "),
        item(None, "Ada Ashwell lives in Porto."),
        item("semantic", "Ada Ashwell lives in Porto.", tool="other"),
    ]
    assert HeuristicJudge().score(items) == [0.0, 0.0, 0.0, 0.0]


def test_content_is_judged_even_when_the_call_failed() -> None:
    assert HeuristicJudge().score([item("semantic", "Ada Ashwell lives in Porto.", ok=False)]) == [1.0]


# ------------------------------------------------------------ heuristic rules
@pytest.mark.parametrize(
    ("content", "valid"),
    [
        ("The user is a nurse from Porto who loves hiking.", True),
        ("Classification rules: labels seen so far: 0, 1, 2.", True),
        ("Ada Ashwell.", True),  # short, but names someone
        ("Age 42", True),  # short, but has a number
        ("Here we save the summary: Elena returns to Lakewick and meets Zara.", True),
        ("The core memory has been updated with the new facts.", False),
        ("This is Core Memory: the user likes tea.", False),
        ("Here we save the summary", False),
        ("Here we save the summary of the book.", False),
        ("Summary of the user's profile", False),
        ("TODO", False),
        ("N/A", False),
        ("...", False),
        ("[summary]", False),
        ("The user likes TODO items.", False),
        ("fine ok", False),
    ],
)
def test_core_rules(content: str, valid: bool) -> None:
    assert HeuristicJudge().score([item("core", content, "memory_update")]) == [float(valid)]


@pytest.mark.parametrize(
    ("content", "valid"),
    [
        ("Ada Ashwell lives in Porto.", True),
        ("Sentence: Who was Darius ?; Label: 3", True),
        ("Photosynthesis turns light into chemical energy.", True),
        ("Where does Ada Ashwell live?", False),
        ("2024-01-01 10:31", False),
        ("On March 3, 2024 at 10:30", False),
        ("Hello there!", False),
        ("Thanks, got it.", False),
        ("Ada", False),
    ],
)
def test_semantic_rules(content: str, valid: bool) -> None:
    assert HeuristicJudge().score([item("semantic", content)]) == [float(valid)]


@pytest.mark.parametrize(
    ("content", "valid"),
    [
        ("At 2024-01-01 10:31, the user told the assistant that Ada moved.", True),
        ("On Monday the user visited the museum.", True),
        ("Yesterday Ada married Bob.", True),
        ("In 1999 the band released an album.", True),
        ("On March 3, 2024, Dante climbed Mount Donsa.", True),
        ("At 9 pm the user went to bed.", True),
        ("On 2024-01-01.", False),
        ("At 10:30 pm.", False),
        ("The user visited the museum.", False),  # no time
        ("On the table by the window.", False),  # "On ..." without anything date-like
        ("March 3, 2024: Ada, Bob and Porto.", False),  # a time but nothing happened
    ],
)
def test_episodic_rules(content: str, valid: bool) -> None:
    assert HeuristicJudge().score([item("episodic", content)]) == [float(valid)]


def test_the_heuristic_teacher_writes_valid_content() -> None:
    policy, judge = HeuristicPolicy(), HeuristicJudge()
    scores: list[float] = []
    for instance in read_instances(SAMPLES):
        memory = WorkingMemory(seed=0)
        for chunk in instance.chunks:
            calls = policy.plan_chunk(chunk, memory.render_view())
            results = [memory.apply_tool_call(c.name, c.arguments) for c in calls]
            scores += judge.score(judge_items(calls, results))
    assert len(scores) > 100
    assert scores == [1.0] * len(scores)


def test_judges_satisfy_the_protocol() -> None:
    assert isinstance(HeuristicJudge(), Judge)
    assert isinstance(LLMJudge(RecordingPolicy()), Judge)
    assert (HeuristicJudge().name, LLMJudge(RecordingPolicy()).name) == ("heuristic", "llm")


# ------------------------------------------------------------------ LLM judge
FENCED_VALID = '```json\n{"VALID": true, "ISSUES": [], "EXPLANATION": "A fact."}\n```'
FENCED_INVALID = 'Thoughts first.\n```json\n{"VALID": false, "ISSUES": ["placeholder"], "EXPLANATION": "No."}\n```'
BARE_VALID = 'Verdict: {"VALID": true, "ISSUES": [], "EXPLANATION": "ok"} done'

REPLIES = {
    "fenced": FENCED_VALID,
    "invalid": FENCED_INVALID,
    "bare": BARE_VALID,
    "garbage": "I think this memory looks fine to me!",
    "broken": '```json\n{"VALID": true, "ISSUES": [\n```',
}


class RecordingPolicy:
    """A chat policy that answers from the content's first word and records what it was sent."""

    def __init__(self, drop: int = 0) -> None:
        self.batches: list[list[list[Message]]] = []
        self.sampling: list[SamplingParams] = []
        self.drop = drop

    def chat(
        self,
        conversations: Sequence[Sequence[Message]],
        sampling: SamplingParams,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[Completion]:
        self.batches.append([list(c) for c in conversations])
        self.sampling.append(sampling)
        replies = [REPLIES[c[-1]["content"].split("\n\n", 1)[1].split()[0]] for c in conversations]
        return [Completion(text=r) for r in replies[: len(replies) - self.drop]]


def test_llm_judge_scores_parsed_verdicts() -> None:
    policy = RecordingPolicy()
    items = [
        item("semantic", "fenced Ada lives in Porto."),
        item("core", "invalid placeholder"),
        item("episodic", "bare On Monday Ada left."),
        item("semantic", "garbage"),
        item("semantic", "broken json"),
    ]
    assert LLMJudge(policy).score(items) == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert policy.sampling == [SamplingParams(max_tokens=512, temperature=0.1)]


def test_llm_judge_prompts_carry_the_rubric_of_each_type() -> None:
    policy = RecordingPolicy()
    LLMJudge(policy).score([item("core", "fenced A"), item("semantic", "fenced B"), item("episodic", "fenced C")])
    (batch,) = policy.batches
    for conversation, memory_type, content in zip(
        batch, ("core", "semantic", "episodic"), ("fenced A", "fenced B", "fenced C"), strict=True
    ):
        assert conversation[0] == {"role": "system", "content": judge_rubric(memory_type)}
        assert conversation[1] == {
            "role": "user",
            "content": f"Analyze this {memory_type} memory content:\n\n{content}",
        }
    core, semantic, episodic = (c[0]["content"] for c in batch)
    assert '"core memory"' in core and "Here we save the summary" in core
    assert "definitions" in semantic and "how-to" in semantic
    assert "when it happened" in episodic and "what happened" in episodic
    assert all('{"VALID": true or false, "ISSUES"' in text for text in (core, semantic, episodic))


def test_llm_judge_batches_and_skips_what_the_shared_rules_decide() -> None:
    policy = RecordingPolicy()
    items = [item("semantic", f"fenced fact {i}") for i in range(5)]
    items.insert(2, item("semantic", None, "memory_delete"))
    items.insert(4, item(None, "fenced unknown type"))
    scores = LLMJudge(policy, batch_size=2).score(items)
    assert scores == [1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    assert [len(b) for b in policy.batches] == [2, 2, 1]
    sent = [c[1]["content"].rsplit(" ", 1)[1] for b in policy.batches for c in b]
    assert sent == ["0", "1", "2", "3", "4"]
    assert LLMJudge(policy).score([]) == []
    assert len(policy.batches) == 3  # nothing to judge: no call


def test_llm_judge_rejects_a_short_reply_batch_and_bad_options() -> None:
    with pytest.raises(PolicyError, match="returned 1 completions for 2 conversations"):
        LLMJudge(RecordingPolicy(drop=1)).score([item("semantic", "fenced a"), item("semantic", "fenced b")])
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        LLMJudge(RecordingPolicy(), batch_size=0)


class CharTokenizer:
    """A tokenizer whose ids are code points and whose chat template joins the messages."""

    eos_token_id: int | None = 0

    def apply_chat_template(self, conversation: Any, **kwargs: Any) -> str:
        return "".join(f"<{m['role']}>{m['content']}" for m in conversation) + "<assistant>"

    def encode(self, text: str, **kwargs: Any) -> list[int]:
        return [ord(c) for c in text]

    def decode(self, token_ids: Any, **kwargs: Any) -> str:
        return "".join(chr(i) for i in token_ids)


class TokenPolicy:
    """A token policy that answers valid when the prompt mentions Porto."""

    tokenizer = CharTokenizer()

    def generate(self, prompt_ids: Sequence[Sequence[int]], sampling: SamplingParams) -> list[Completion]:
        prompts = [self.tokenizer.decode(ids) for ids in prompt_ids]
        return [Completion(text=json.dumps({"VALID": "Porto" in p, "ISSUES": []})) for p in prompts]


def test_llm_judge_drives_a_token_policy() -> None:
    scores = LLMJudge(TokenPolicy()).score([item("semantic", "Ada lives in Porto."), item("semantic", "Ada left.")])
    assert scores == [1.0, 0.0]


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        (FENCED_VALID, 1.0),
        (FENCED_INVALID, 0.0),
        (BARE_VALID, 1.0),
        ('<think>{"VALID": false}</think>\n```\n{"VALID": true}\n```', 1.0),
        ('{"VALID": "true"}', 0.0),  # not a boolean
        ('{"valid": true}', 0.0),
        ("[true]", 0.0),
        ("", 0.0),
    ],
)
def test_parse_verdict(reply: str, score: float) -> None:
    assert parse_verdict(reply) == score


def test_judge_rubric_rejects_unknown_types() -> None:
    assert judge_rubric("semantic_memory") == judge_rubric("semantic")
    with pytest.raises(ValueError, match="unknown memory type 'procedural'"):
        judge_rubric("procedural")
