"""The heuristic teacher policy: driven through the engine's prompt contract on real sample chunks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memalpha_data import GeneratorConfig, Instance, generate_instance, read_instances, score_answer
from memalpha_memory import ToolResult, WorkingMemory
from memalpha_rollout.policies.heuristic import HeuristicPolicy
from memalpha_rollout.types import ChatPolicy, Completion, SamplingParams

SAMPLES = Path(__file__).resolve().parents[3] / "datasets" / "samples" / "mini-train.parquet"
SAMPLING = SamplingParams()


@cache
def sample(data_source: str) -> Instance:
    """The first sample instance of ``data_source``."""
    return next(i for i in read_instances(SAMPLES) if i.data_source == data_source)


def conversation(view: str, chunk: str) -> list[dict[str, str]]:
    """The engine's prompt contract: the memory view in the system message, the chunk in the user message."""
    return [
        {
            "role": "system",
            "content": f"You are a memory assistant.\n\nCURRENT MEMORY STATE:\n{view}\n\nUse the tools.",
        },
        {"role": "user", "content": f"Remember this chunk.\n<new_chunk>\n{chunk}\n</new_chunk>\nBe brief."},
    ]


def complete(policy: HeuristicPolicy, chunk: str, view: str = "") -> Completion:
    view = view or WorkingMemory().render_view()
    return policy.chat([conversation(view, chunk)], SAMPLING)[0]


def run_episode(
    chunks: Sequence[str], policy: HeuristicPolicy | None = None
) -> tuple[WorkingMemory, list[Completion], list[list[ToolResult]]]:
    """Feed the chunks one at a time, applying each completion's calls to one memory."""
    policy = policy or HeuristicPolicy()
    memory = WorkingMemory(seed=0)
    completions, results = [], []
    for chunk in chunks:
        completion = complete(policy, chunk, memory.render_view(5))
        assert completion.tool_calls is not None
        completions.append(completion)
        results.append([memory.apply_tool_call(call.name, call.arguments) for call in completion.tool_calls])
    return memory, completions, results


def calls_of(completion: Completion) -> list[tuple[str, dict[str, str]]]:
    assert completion.tool_calls is not None
    return [(call.name, json.loads(str(call.arguments))) for call in completion.tool_calls]


def contents(memory: WorkingMemory, memory_type: str) -> list[str]:
    return [entry.content for entry in memory.entries(memory_type)]


def test_is_a_chat_policy_with_one_line_reasoning() -> None:
    policy = HeuristicPolicy()
    assert isinstance(policy, ChatPolicy)
    completion = complete(policy, sample("gen_ar").chunks[0])
    assert "\n" not in completion.text
    assert completion.text.startswith("Facts: 7 new, 0 updated")


# ------------------------------------------------------------ classification
def test_classification_chunk_stores_each_example_and_the_label_rules() -> None:
    memory, _completions, results = run_episode(sample("trec_coarse").chunks[:1])
    assert all(r.ok for r in results[0])
    semantic = contents(memory, "semantic")
    assert len(semantic) == 16
    assert semantic[0] == "Sentence: What does Ms. , Miss , and Mrs. stand for ?; Label: 0"
    assert "Sentence: What does the name Melissa mean ?; Label: 1" in semantic
    assert memory.core.startswith("Classification rules: labels seen so far: 0, 1, 2, 3, 4, 5.")
    assert contents(memory, "episodic") == []


def test_ttl_instance_leaves_the_labels_in_core_and_never_errors() -> None:
    memory, _, results = run_episode(sample("gen_ttl").chunks)
    assert "labels seen so far: 0, 1, 2, 3." in memory.core
    flat = [r for chunk in results for r in chunk]
    assert not [r for r in flat if r.status == "error"]
    # an example repeated from a chunk whose items are no longer shown is a duplicate insert the memory skips
    assert all(r.status == "ok" or r.tool == "new_memory_insert" for r in flat)
    assert sum(r.ok for r in flat) > 40


def test_classification_merges_the_labels_the_core_already_names() -> None:
    memory = WorkingMemory(seed=0)
    memory.apply_tool_call("memory_update", {"memory_type": "core_memory", "new_content": "label 9: places. Others."})
    chunk = "[Dialogue between User and Assistant on 2024-01-01 10:00]\n<User> Examples:\nSentence: Hi there\nLabel: 2"
    calls = calls_of(complete(HeuristicPolicy(), chunk, memory.render_view()))
    core = [args["new_content"] for name, args in calls if args["memory_type"] == "core_memory"]
    assert core and core[0].startswith("Classification rules: labels seen so far: 2, 9.")


def test_classification_skips_examples_the_view_shows() -> None:
    memory = WorkingMemory(seed=0)
    memory.apply_tool_call("new_memory_insert", {"memory_type": "semantic", "content": "Sentence: Hi there; Label: 2"})
    chunk = "<User> Examples:\nSentence: Hi there\nLabel: 2\nSentence: Bye now\nLabel: 3\n<Assistant> Noted."
    calls = calls_of(complete(HeuristicPolicy(), chunk, memory.render_view()))
    inserted = [args["content"] for name, args in calls if name == "new_memory_insert"]
    assert inserted == ["Sentence: Bye now; Label: 3"]


# ------------------------------------------------------------------- reading
def test_reading_instance_keeps_dated_events_and_a_running_summary() -> None:
    instance = sample("gen_lru")
    memory, _, results = run_episode(instance.chunks)
    assert all(r.ok for chunk in results for r in chunk)
    episodic = contents(memory, "episodic")
    assert len(episodic) == len(instance.chunks)
    assert episodic[0].startswith("On 2024-01-01, the user read: The freezing weeks after the Hazelcliff Regatta")
    assert episodic[1].startswith("On 2024-01-04, the user read: ")
    assert memory.core.startswith("The user is reading a book (first read 2024-01-01, last read 2024-01-08).")
    (question,) = instance.questions
    assert score_answer(question, memory.core) == 1.0  # every gold keyword is named in the summary
    assert "Gulls" not in memory.core and "Frost" not in memory.core  # sentence-initial words are not names


# ----------------------------------------------------------- dialogue / facts
def test_dialogue_chunk_stores_facts_an_event_and_a_profile() -> None:
    memory, _completions, results = run_episode(sample("gen_ar").chunks[:1])
    assert all(r.ok for r in results[0])
    semantic = contents(memory, "semantic")
    assert semantic[:3] == [
        "Dante Whithurst is the user's old school friend.",
        "Dante Whithurst has a dog named Zerrail.",
        "These days Dante Whithurst lives in Greenness.",
    ]
    assert not any("lemon tart" in s or "sleeping" in s or "better than expected" in s for s in semantic)
    assert contents(memory, "episodic") == [
        "At 2024-01-01 10:31, the user told the assistant that Dante Whithurst is the user's old school friend."
    ]
    assert memory.core == "The user has talked about: Dante Whithurst, Silas Holmworth."


def test_ar_gold_answers_are_retrievable() -> None:
    found = total = 0
    for source in ("squad", "gen_ar"):
        instance = sample(source)
        memory, _, _ = run_episode(instance.chunks)
        for q in instance.questions:
            text = " ".join(h.entry.content for h in memory.search(q.question, k=10)).lower()
            found += any(a.lower() in text for a in q.answers)
            total += 1
    assert found / total >= 0.9  # measured: 18 of 18


def test_generated_ar_single_hop_answers_are_retrievable() -> None:
    instance = generate_instance(GeneratorConfig(capability="AR", target_tokens=20_000, seed=3))
    memory, _, results = run_episode(instance.chunks)
    assert all(r.ok for chunk in results for r in chunk)
    hits = {"single": [0, 0], "all": [0, 0]}
    for q in instance.questions:
        text = " ".join(h.entry.content for h in memory.search(q.question, k=20)).lower()
        hit = any(a.lower() in text for a in q.answers)
        for key in ("all", "single") if q.metadata["type"] != "multi_hop" else ("all",):
            hits[key][0] += hit
            hits[key][1] += 1
    assert hits["single"][0] / hits["single"][1] >= 0.95  # measured: 69 of 69
    assert hits["all"][0] / hits["all"][1] >= 0.7  # measured: 75 of 100 (multi-hop needs two searches)


def test_gen_cr_updates_replace_the_old_value() -> None:
    memory, completions, results = run_episode(sample("gen_cr").chunks)
    assert all(r.ok for chunk in results for r in chunk)
    updates = [args for c in completions for name, args in calls_of(c) if name == "memory_update"]
    assert sum(args["memory_type"] == "semantic_memory" for args in updates) >= 4
    everything = " ".join([memory.core, *contents(memory, "semantic"), *contents(memory, "episodic")])
    assert "As of January 2, 2024, Leila Dunham works for Ropox Insurance." in contents(memory, "semantic")
    assert "Shoustroux Outfitters" not in everything  # Leila Dunham's employer before the update
    assert "Brenfeax Partners" in everything and "Rufus Fening works for Ropox" not in everything


def test_situatedqa_updates_match_on_the_quoted_question() -> None:
    memory, _, _ = run_episode(sample("situatedqa").chunks)
    semantic = contents(memory, "semantic")
    games = [s for s in semantic if "common wealth games" in s]
    assert games == ['Since 2010, the answer to "highest gold medals for india in common wealth games?" is 38.']


def test_update_targets_the_shown_item_with_the_same_subject_and_relation() -> None:
    memory = WorkingMemory(seed=1)
    old = memory.apply_tool_call(
        "new_memory_insert", {"memory_type": "semantic", "content": "As of May 1, 2024, Ada Ashwell lives in Oakmere."}
    )
    memory.apply_tool_call("new_memory_insert", {"memory_type": "semantic", "content": "The 1973 oil crisis began."})
    chunk = (
        "[Dialogue between User and Assistant on 2024-06-02 09:15]\n<User> Update on Ada Ashwell: as of June 2, "
        "2024, Ada Ashwell lives in Porto. Ada Ashwell works for Acme Ltd. The 1973 oil crisis ended in 1974.\n"
        "<Assistant> Noted."
    )
    calls = calls_of(complete(HeuristicPolicy(), chunk, memory.render_view()))
    assert calls[0] == (
        "memory_update",
        {
            "memory_type": "semantic_memory",
            "new_content": "Update on Ada Ashwell: as of June 2, 2024, Ada Ashwell lives in Porto.",
            "memory_id": old.memory_id,
        },
    )
    assert [name for name, _ in calls[1:3]] == ["new_memory_insert", "new_memory_insert"]


def test_a_sentence_with_two_clauses_gives_two_facts_with_the_time() -> None:
    chunk = (
        "<User> As of May 1, 2024, Ada Ashwell lives in Oakmere, and Ada Ashwell works for Acme Ltd.\n<Assistant> Ok"
    )
    facts = [args["content"] for name, args in calls_of(complete(HeuristicPolicy(), chunk)) if name != "memory_update"]
    assert facts == [
        "As of May 1, 2024, Ada Ashwell lives in Oakmere.",
        "As of May 1, 2024, Ada Ashwell works for Acme Ltd.",
    ]


def test_unknown_format_falls_back_to_facts_on_the_whole_text() -> None:
    calls = calls_of(complete(HeuristicPolicy(), "hello\nAda Ashwell moved to Porto in 2021 with her dog."))
    assert calls == [
        (
            "new_memory_insert",
            {"memory_type": "semantic_memory", "content": "Ada Ashwell moved to Porto in 2021 with her dog."},
        ),
        ("memory_update", {"memory_type": "core_memory", "new_content": "The user has talked about: Ada Ashwell."}),
    ]  # no episodic item: the chunk has no date


# ------------------------------------------------------------------- options
def test_options_limit_items_and_switch_off_episodic_and_core() -> None:
    chunk = sample("gen_ar").chunks[1]
    limited = calls_of(complete(HeuristicPolicy(max_items_per_chunk=2), chunk))
    assert sum(args["memory_type"] == "semantic_memory" for _, args in limited) == 2
    bare = calls_of(complete(HeuristicPolicy(episodic=False, core=False), chunk))
    assert {args["memory_type"] for _, args in bare} == {"semantic_memory"}
    assert len(bare) == 8
    with pytest.raises(ValueError, match="max_items_per_chunk must be >= 0 or None, got -1"):
        HeuristicPolicy(max_items_per_chunk=-1)


@pytest.mark.parametrize("chunk", ["", "   \n\t "])
def test_empty_chunk_gives_no_calls(chunk: str) -> None:
    completion = complete(HeuristicPolicy(), chunk)
    assert completion.tool_calls == ()
    assert completion.text == "Nothing to memorize."


def test_deterministic_and_batched_in_order() -> None:
    policy = HeuristicPolicy()
    conversations = [conversation(WorkingMemory().render_view(), c) for c in sample("gen_cr").chunks]
    batched = policy.chat(conversations, SamplingParams(temperature=1.0, seed=1))
    again = policy.chat(conversations, SamplingParams(temperature=0.0))
    assert batched == again
    assert batched == [policy.chat([c], SAMPLING)[0] for c in conversations]
    assert len({c.tool_calls for c in batched}) == len(conversations)


def test_reads_the_last_memory_view_and_a_chunk_without_markers() -> None:
    memory = WorkingMemory(seed=0)
    for i in range(7):
        memory.apply_tool_call(
            "new_memory_insert", {"memory_type": "semantic", "content": f"Fact {i} about Ada Ashwell."}
        )
    system = "Example: <core_memory>\nnot this\n</core_memory>\n\n" + memory.render_view(5)
    assert "(the 5 most recent of 7 items)" in system
    user = "Ada Ashwell lives in Porto since 2020."
    (completion,) = HeuristicPolicy().chat(
        [[{"role": "system", "content": system}, {"role": "user", "content": user}]], SAMPLING
    )
    assert calls_of(completion) == [
        ("new_memory_insert", {"memory_type": "semantic_memory", "content": "Ada Ashwell lives in Porto since 2020."}),
        ("memory_update", {"memory_type": "core_memory", "new_content": "The user has talked about: Ada Ashwell."}),
    ]
    assert HeuristicPolicy().plan_chunk(user, system) == list(completion.tool_calls or ())


def test_a_long_stream_goes_through() -> None:
    instance = generate_instance(GeneratorConfig(capability="LRU", target_tokens=60_000, seed=1))
    memory, _, results = run_episode(instance.chunks)
    assert len(instance.chunks) > 100
    assert all(r.ok and not r.truncated for chunk in results for r in chunk)
    assert len(contents(memory, "episodic")) == len(instance.chunks)


NASTY = [
    "[",
    "[]",
    "[Dialogue on 2024-13-45 99:99]",
    "<User>",
    "<User> <Assistant> <System>",
    "Sentence: only a sentence",
    "Sentence: \nLabel: ",
    "Label: 3\nSentence: x",
    "<new_chunk>\n</new_chunk>",
    "<core_memory>\nx\n</core_memory>",
    "[Event on 2024-01-01: the user is reading a book]\n<User>\n\n<System> read",
    "[Event on 2024-01-01: the user is reading a book]",
    " " * 5000 + "Sentence:" + " " * 5000,
    "\u201cQuoted\u201d \u2019s " * 200,
    "A. B. C. D. E. F. U.S. Mr. Dr. e.g. " * 50,
    "As of , , and ; As of May 1, , and Ada Ashwell",
    '{"json": true}',
    "\x00\x01\u202e",
]


@pytest.mark.parametrize("chunk", NASTY)
def test_garbage_chunks_never_raise(chunk: str) -> None:
    _memory, _completions, results = run_episode([chunk, chunk])
    assert not [r for chunk_results in results for r in chunk_results if r.status == "error"]


@settings(max_examples=150, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("Aa Bb1:.?!,;\n[]<>-\"'\u2019Label Sentence User Assistant")), max_size=300)
)
def test_random_text_gives_well_formed_calls(chunk: str) -> None:
    memory = WorkingMemory(seed=0)
    for name, args in calls_of(complete(HeuristicPolicy(), chunk)):
        assert name in ("new_memory_insert", "memory_update")
        assert memory.apply_tool_call(name, args).status != "error"
