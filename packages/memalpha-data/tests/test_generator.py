"""The procedural generator: determinism, length targets, chunk budgets, answerability per capability, knobs."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from pydantic import ValidationError

from memalpha_data.generator import GeneratorConfig, generate_instance, generate_instances
from memalpha_data.instance import Instance

CAPABILITIES = ("AR", "CR", "TTL", "LRU")
_LABEL_LINE = re.compile(r"^Sentence: (.*)\nLabel: (\d+)$", re.M)
_WORD = re.compile(r"\w+")


def _config(capability: str, **knobs: Any) -> GeneratorConfig:
    return GeneratorConfig(capability=capability, **knobs)  # type: ignore[arg-type]


def _where(instance: Instance, text: str) -> list[int]:
    """Indices of the chunks containing `text`."""
    return [i for i, chunk in enumerate(instance.chunks) if text in chunk]


# ------------------------------------------------------------------------------------------------ determinism
@pytest.mark.parametrize("capability", CAPABILITIES)
def test_same_seed_gives_the_same_instance(capability: str) -> None:
    config = _config(capability, target_tokens=3_000, seed=11)
    first, second = generate_instance(config), generate_instance(config)
    assert first.model_dump() == second.model_dump()
    assert first.id == f"gen-{capability.lower()}-11-0"
    assert first.data_source == f"gen_{capability.lower()}"
    assert first.capability == capability


@pytest.mark.parametrize("capability", CAPABILITIES)
def test_other_seed_or_index_gives_another_instance(capability: str) -> None:
    config = _config(capability, target_tokens=3_000, seed=11)
    base = generate_instance(config)
    other_seed = generate_instance(config.model_copy(update={"seed": 12}))
    other_index = generate_instance(config, instance_index=1)
    assert other_seed.chunks != base.chunks
    assert other_index.chunks != base.chunks
    assert [q.answers for q in other_seed.questions] != [q.answers for q in base.questions]


def test_generate_instances_equals_one_at_a_time() -> None:
    config = _config("AR", target_tokens=2_000, seed=7)
    batch = generate_instances(config, 3)
    assert [i.id for i in batch] == ["gen-ar-7-0", "gen-ar-7-1", "gen-ar-7-2"]
    assert batch[2].model_dump() == generate_instance(config, instance_index=2).model_dump()
    assert [i.id for i in generate_instances(config, 2, start=5)] == ["gen-ar-7-5", "gen-ar-7-6"]


def test_data_source_override_names_the_stand_in() -> None:
    instance = generate_instance(_config("AR", target_tokens=1_000, data_source="gen_perltqa", seed=3))
    assert instance.data_source == "gen_perltqa"
    assert instance.id == "gen-perltqa-3-0"


# ------------------------------------------------------------------------------------------- length, chunks
LENGTH_CASES = [(c, t) for c in CAPABILITIES for t in (1_000, 32_000)] + [("CR", 200_000)]


@pytest.mark.parametrize(("capability", "target"), LENGTH_CASES)
def test_total_tokens_within_ten_percent_of_target(capability: str, target: int) -> None:
    knobs: dict[str, Any] = {"chunk_tokens": 256} if capability == "CR" and target == 1_000 else {}
    instance = generate_instance(_config(capability, target_tokens=target, seed=5, **knobs))
    total = instance.total_tokens()
    assert abs(total - target) <= 0.1 * target, total
    assert instance.metadata["total_tokens"] == total
    assert instance.metadata["chunk_token_counts"] == instance.chunk_tokens()


@pytest.mark.parametrize("capability", CAPABILITIES)
@pytest.mark.parametrize("budget", [160, (160, 900)])
def test_every_chunk_keeps_its_budget(capability: str, budget: int | tuple[int, int]) -> None:
    instance = generate_instance(_config(capability, target_tokens=12_000, chunk_tokens=budget, seed=2))
    high = budget[1] if isinstance(budget, tuple) else budget
    sizes = instance.chunk_tokens()
    assert max(sizes) <= high
    if isinstance(budget, tuple):
        assert max(sizes) > 400  # targets are drawn from the range, not pinned to its low end


@pytest.mark.parametrize(("capability", "header"), [("AR", "[Dialogue between"), ("LRU", "[Event on")])
def test_chunks_are_wrapped_dialogues_with_advancing_dates(capability: str, header: str) -> None:
    instance = generate_instance(_config(capability, target_tokens=6_000, seed=1))
    assert all(chunk.startswith(header) for chunk in instance.chunks)
    days = [re.search(r"\d{4}-\d{2}-\d{2}", chunk).group(0) for chunk in instance.chunks]  # type: ignore[union-attr]
    assert days == sorted(days) and len(set(days)) == len(days)


def test_dialogue_turns_alternate_between_user_and_assistant() -> None:
    instance = generate_instance(_config("AR", target_tokens=4_000, seed=9))
    for chunk in instance.chunks:
        roles = [line.split(">")[0] for line in chunk.splitlines() if line.startswith("<")]
        assert roles[0] == "<User" and roles[-1] == "<Assistant"
        assert all(a != b for a, b in itertools.pairwise(roles)), chunk


# ------------------------------------------------------------------------------------------------------ AR
def test_ar_answers_appear_in_the_chunk_that_states_them() -> None:
    instance = generate_instance(_config("AR", target_tokens=20_000, seed=4, num_questions=None))
    kinds = {q.metadata["type"] for q in instance.questions}
    assert kinds == {"semantic", "episodic", "multi_hop"}
    for question in instance.questions:
        assert question.metric == "sub_em"
        stating = instance.chunks[question.metadata["chunks"][-1]]
        assert question.answers[0] in stating, question
        assert question.metadata["person"] in stating
        if question.metadata["type"] != "multi_hop":
            assert question.metadata["person"] in question.question


def test_ar_question_types_decide_the_facts_stated() -> None:
    instance = generate_instance(_config("AR", target_tokens=5_000, question_types=("episodic",), num_questions=None))
    assert instance.metadata["facts_by_kind"]["semantic"] == 0
    assert {q.metadata["type"] for q in instance.questions} == {"episodic"}
    when = [q for q in instance.questions if q.metadata["asks"] == "when"]
    assert when and all(re.fullmatch(r"[A-Z][a-z]+ \d{1,2}, \d{4}", q.answers[0]) for q in when)


@pytest.mark.parametrize("capability", ["AR", "CR"])
@pytest.mark.parametrize("fraction", [0.2, 0.5, 1.0])
def test_asked_fraction_is_the_share_of_facts_asked(capability: str, fraction: float) -> None:
    instance = generate_instance(
        _config(capability, target_tokens=16_000, asked_fraction=fraction, num_questions=None, seed=3)
    )
    stated = instance.metadata["num_facts"]
    asked = {i for q in instance.questions for i in q.metadata["fact_ids"]}
    assert stated > 60
    assert abs(len(asked) - fraction * stated) <= max(1, 0.02 * stated)
    assert instance.metadata["num_asked_facts"] == len(asked)


def test_num_questions_caps_the_questions() -> None:
    instance = generate_instance(_config("AR", target_tokens=16_000, num_questions=7))
    assert instance.num_questions == 7


# ------------------------------------------------------------------------------------------------------ CR
@pytest.mark.parametrize("updates", [1, 3])
def test_cr_gold_is_the_latest_value_stated_after_every_superseded_one(updates: int) -> None:
    config = _config("CR", target_tokens=12_000, num_updates=updates, question_types=("current", "multi_hop"), seed=8)
    instance = generate_instance(config)
    assert {q.metadata["type"] for q in instance.questions} == {"current", "multi_hop"}
    for question in instance.questions:
        history = question.metadata["history"]
        values = [h["value"] for h in history]
        chunks = [h["chunk"] for h in history]
        assert question.metric == "conflict_aware"
        assert len(values) == updates + 1 and len(set(values)) == updates + 1
        assert question.answers == [values[-1]] and question.superseded == values[:-1]
        assert chunks == sorted(chunks) and len(set(chunks)) == len(chunks)  # each value in a later chunk
        for step in history:
            stating = instance.chunks[step["chunk"]]
            assert step["value"] in stating and question.metadata["person"] in stating
            assert step["date"] in stating
        gold = question.answers[0].lower()
        assert all(gold not in old.lower() and old.lower() not in gold for old in question.superseded)


def test_cr_multi_hop_reaches_the_person_through_the_pet() -> None:
    instance = generate_instance(_config("CR", target_tokens=6_000, question_types=("multi_hop",), seed=2))
    for question in instance.questions:
        pet = re.search(r"named (\w+)", question.question).group(1)  # type: ignore[union-attr]
        first_chunk = instance.chunks[question.metadata["history"][0]["chunk"]]
        assert f"{question.metadata['person']} has a" in first_chunk and pet in first_chunk


# ----------------------------------------------------------------------------------------------------- TTL
def _rule_label(sentence: str, vocabulary: dict[str, list[str]]) -> set[str]:
    words = set(_WORD.findall(sentence))
    return {label for label, topic in vocabulary.items() if words & set(topic)}


def test_ttl_labels_follow_the_rule_and_every_label_is_shown() -> None:
    instance = generate_instance(_config("TTL", target_tokens=6_000, num_labels=8, num_questions=40, seed=6))
    vocabulary = instance.metadata["label_vocabulary"]
    examples = [m for chunk in instance.chunks for m in _LABEL_LINE.findall(chunk)]
    assert len(examples) == instance.metadata["num_examples"]
    assert {label for _, label in examples} == {str(i) for i in range(8)}
    for sentence, label in examples:
        assert _rule_label(sentence, vocabulary) == {label}
    shown = {sentence for sentence, _ in examples}
    assert instance.num_questions == 40
    for question in instance.questions:
        sentence = question.metadata["sentence"]
        assert question.metric == "boxed_label_em"
        assert question.question.startswith(f"Sentence: {sentence}\n") and "\\boxed{label}" in question.question
        assert _rule_label(sentence, vocabulary) == set(question.answers)
        assert sentence not in shown


def test_ttl_shows_every_label_even_when_there_are_many() -> None:
    instance = generate_instance(_config("TTL", target_tokens=4_000, num_labels=90, seed=1))
    labels = {label for chunk in instance.chunks for _, label in _LABEL_LINE.findall(chunk)}
    assert labels == {str(i) for i in range(90)}


def test_ttl_distractors_mix_in_shared_noise_words() -> None:
    clean = generate_instance(_config("TTL", target_tokens=3_000, distractor_ratio=0.0))
    noisy = generate_instance(_config("TTL", target_tokens=3_000, distractor_ratio=0.8))

    def noise_share(instance: Instance) -> float:
        noise = set(instance.metadata["noise_vocabulary"])
        words = [w for chunk in instance.chunks for s, _ in _LABEL_LINE.findall(chunk) for w in _WORD.findall(s)]
        return sum(w in noise for w in words) / len(words)

    assert noise_share(clean) == 0.0
    assert noise_share(noisy) > 0.05


# ----------------------------------------------------------------------------------------------------- LRU
def test_lru_summary_keywords_all_occur_and_dates_span_the_stream() -> None:
    instance = generate_instance(_config("LRU", target_tokens=30_000, seed=3))
    (summary,) = instance.questions
    assert summary.metric == "keyword_hit"
    keywords = summary.answers[0].split(", ")
    assert len(keywords) >= 6
    for keyword in keywords:
        assert _where(instance, keyword), keyword
    text = "\n".join(instance.chunks)
    for name in instance.metadata["main_characters"] + instance.metadata["main_places"]:
        assert (name in keywords) == bool(re.search(rf"\b{name}\b", text)), name
    minors = set(re.findall(r"(?:met|introduced to) (\w+ \w+),", text))
    assert minors and not minors & set(keywords)  # minor characters are left out of the summary
    first, last = re.findall(r"\d{4}-\d{2}-\d{2}", summary.question)
    assert instance.chunks[0].startswith(f"[Event on {first}")
    assert instance.chunks[-1].startswith(f"[Event on {last}")


def test_lru_chapter_and_detail_questions_are_answerable_from_their_chunks() -> None:
    config = _config("LRU", target_tokens=20_000, question_types=("summary", "chapter", "detail"), seed=4)
    instance = generate_instance(config)
    kinds = [q.metadata["type"] for q in instance.questions]
    assert kinds[0] == "summary" and {"chapter", "detail"} <= set(kinds)
    for question in instance.questions[1:]:
        first, last = question.metadata["chunks"][0], question.metadata["chunks"][-1]
        span = "\n".join(instance.chunks[first : last + 1])
        if question.metadata["type"] == "chapter":
            assert question.metric == "keyword_hit"
            assert all(k in span for k in question.answers[0].split(", "))
        else:
            assert question.metric == "sub_em" and question.answers[0] in span


# ----------------------------------------------------------------------------------------------------- knobs
@pytest.mark.parametrize(
    ("knobs", "field"),
    [
        ({"capability": "XY"}, "capability"),
        ({"target_tokens": 10}, "target_tokens"),
        ({"chunk_tokens": 50}, "chunk_tokens"),
        ({"chunk_tokens": (600, 300)}, "chunk_tokens"),
        ({"asked_fraction": 0.0}, "asked_fraction"),
        ({"asked_fraction": 1.5}, "asked_fraction"),
        ({"distractor_ratio": 1.0}, "distractor_ratio"),
        ({"num_updates": 0}, "num_updates"),
        ({"num_questions": 0}, "num_questions"),
        ({"num_labels": 1}, "num_labels"),
        ({"question_types": ("label",)}, "question_types"),
        ({"question_types": ("semantic", "semantic")}, "question_types"),
        ({"data_source": "Gen PerLTQA"}, "data_source"),
        ({"tokens": 5}, "tokens"),
        ({"capability": "CR", "target_tokens": 1_000}, "target_tokens"),
        ({"capability": "TTL", "num_labels": 100, "target_tokens": 2_000}, "num_labels"),
        ({"capability": "TTL", "num_questions": None}, "num_questions"),
    ],
)
def test_bad_knobs_raise_an_error_naming_the_field(knobs: dict[str, Any], field: str) -> None:
    settings = {"capability": "AR", **knobs}
    with pytest.raises(ValidationError, match=field):
        GeneratorConfig(**settings)


def test_config_is_frozen_and_indices_are_checked() -> None:
    config = _config("AR", target_tokens=1_000)
    with pytest.raises(ValidationError, match="frozen"):
        config.seed = 3
    with pytest.raises(ValueError, match="instance_index must be >= 0, got -1"):
        generate_instance(config, instance_index=-1)
    with pytest.raises(ValueError, match="n=-2"):
        generate_instances(config, -2)
