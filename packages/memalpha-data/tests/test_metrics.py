"""Metrics against hand-worked examples (paper §6.2) and the paper's aggregation."""

from __future__ import annotations

import pytest

from memalpha_data.exceptions import UnknownMetricError
from memalpha_data.instance import Instance, Question
from memalpha_data.metrics import (
    QuestionScore,
    aggregate,
    boxed_label_em,
    conflict_aware,
    exact_match,
    extract_boxed,
    keyword_hit,
    multipart_match,
    normalize_answer,
    score_answer,
    score_instance,
    sub_em,
    sub_em_normalized,
)


def test_normalize_answer_follows_squad():
    assert normalize_answer("  The Eiffel-Tower, in PARIS!  ") == "eiffeltower in paris"
    assert normalize_answer("an apple a day") == "apple day"


@pytest.mark.parametrize(
    ("prediction", "answers", "expected"),
    [
        ("It was Denver Broncos.", ["Denver Broncos"], 1.0),
        ("it was denver broncos", ["Denver Broncos"], 1.0),
        ("Denver-Broncos", ["Denver Broncos"], 0.0),  # raw: no normalisation
        ("Carolina", ["Denver Broncos", "Carolina Panthers"], 0.0),
        ("the Carolina Panthers", ["Denver Broncos", "Carolina Panthers"], 1.0),
    ],
)
def test_sub_em_is_raw_lowercase_substring(prediction, answers, expected):
    assert sub_em(prediction, answers) == expected


def test_sub_em_normalized_strips_punctuation_and_articles_and_checks_answer_views():
    assert sub_em_normalized("Denver-Broncos", ["Denver Broncos"]) == 0.0  # '-' is dropped, not spaced
    assert sub_em_normalized("The answer is: the Denver Broncos!", ["denver broncos"]) == 1.0
    assert sub_em_normalized("Answer: 1990", ["1990"]) == 1.0
    # whole words only: "199" is not found inside "1990"
    assert sub_em_normalized("in 1990", ["199"]) == 0.0


def test_exact_match_needs_equality_after_normalisation():
    assert exact_match("The Denver Broncos.", ["denver broncos"]) == 1.0
    assert exact_match("Denver Broncos won", ["denver broncos"]) == 0.0
    assert exact_match("Let me think.\nAnswer: Denver Broncos", ["Denver Broncos"]) == 1.0


@pytest.mark.parametrize(
    ("prediction", "gold", "expected"),
    [
        ("The label is \\boxed{3}.", "3", 1.0),
        ("\\boxed{ '3' }", "3", 1.0),
        ("3", "3", 1.0),  # no box: the whole answer
        ("\\boxed{3} or \\boxed{4}", "4", 0.0),  # the first box counts
        ("\\boxed{three}", "3", 0.0),
        ("\\boxed{03}", "3", 0.0),  # must equal the gold string
        ("The label is 3", "3", 0.0),  # the whole answer is not all digits
        ("\\boxed{٣}", "٣", 0.0),  # non-ASCII digits are refused
    ],
)
def test_boxed_label_em(prediction, gold, expected):
    assert boxed_label_em(prediction, [gold]) == expected


def test_extract_boxed_falls_back_to_the_whole_answer():
    assert extract_boxed('  "12"  ') == "12"
    assert extract_boxed("so \\boxed{7}") == "7"


def test_multipart_match_scores_the_share_of_parts():
    gold = "hiking; Swimming; chess"
    assert multipart_match("I like hiking and swimming.", [gold]) == pytest.approx(2 / 3)
    # the paper's quirk: the prediction is not lowercased on this branch, the parts are
    assert multipart_match("I like Hiking and Swimming.", [gold], paper_compat=True) == 0.0
    assert multipart_match("I like Hiking and Swimming.", [gold]) == pytest.approx(2 / 3)
    assert multipart_match("It is in Paris.", ["paris"]) == 1.0  # no ';': plain SubEM


def test_keyword_hit_ratio():
    gold = "Frodo, the Ring, Mordor, Gollum"
    assert keyword_hit("Frodo carries the ring to Mordor.", [gold]) == pytest.approx(3 / 4)
    assert keyword_hit("nothing relevant", [gold]) == 0.0
    assert keyword_hit("anything", [" , "]) == 0.0


def test_conflict_aware_needs_the_current_value_and_no_superseded_one():
    assert conflict_aware("She lives in Berlin now.", ["Berlin"], ["Paris"]) == 1.0
    assert conflict_aware("She moved from Paris to Berlin.", ["Berlin"], ["Paris"]) == 0.0
    assert conflict_aware("She lives in Paris.", ["Berlin"], ["Paris"]) == 0.0
    # a superseded value that is part of the current one is not held against the answer
    assert conflict_aware("Paris, Texas", ["Paris, Texas"], ["Paris"]) == 1.0
    # whole words: an old value "20" does not match inside "2018"
    assert conflict_aware("in 2018", ["2018"], ["20"]) == 1.0


def test_score_answer_routes_by_the_question_metric():
    boxed = Question(question="q", answers=["2"], metric="boxed_label_em")
    assert score_answer(boxed, "\\boxed{2}") == 1.0
    cr = Question(question="q", answers=["Berlin"], metric="conflict_aware", superseded=["Paris"])
    assert score_answer(cr, "Berlin, formerly Paris") == 0.0
    judged = Question(question="Is it?", answers=["yes"], metric="llm_judge")
    seen = []
    assert score_answer(judged, "yep", judge=lambda q, p, a: seen.append((q, p, list(a))) or True) == 1.0
    assert seen == [("Is it?", "yep", ["yes"])]
    with pytest.raises(ValueError, match="LLM judge"):
        score_answer(judged, "yep")


def test_unknown_metric_is_a_clear_error():
    question = Question.model_construct(question="q", answers=["a"], metric="bleu", superseded=[], metadata={})
    with pytest.raises(UnknownMetricError, match="unknown metric 'bleu'"):
        score_answer(question, "a")


def _instance(id_, source, capability, answers):
    return Instance(
        id=id_,
        data_source=source,
        capability=capability,
        chunks=["x"],
        questions=[Question(question=f"q{i}", answers=[a]) for i, a in enumerate(answers)],
    )


def test_aggregate_means_questions_then_instances_then_plain_means():
    scores = [
        *score_instance(_instance("s1", "squad", "AR", ["a", "b"]), ["a", "zzz"]),  # 0.5
        *score_instance(_instance("s2", "squad", "AR", ["a"]), ["a"]),  # 1.0
        *score_instance(_instance("h1", "hotpotqa", "AR", ["a", "b", "c", "d"]), ["a", "x", "x", "x"]),  # 0.25
        QuestionScore("t1", "trec_coarse", "TTL", 0.0),
    ]
    summary = aggregate(scores)
    assert summary.per_instance == {"s1": 0.5, "s2": 1.0, "h1": 0.25, "t1": 0.0}
    assert summary.per_source == {"hotpotqa": 0.25, "squad": 0.75, "trec_coarse": 0.0}
    assert summary.per_capability == {"AR": 0.5, "TTL": 0.0}
    assert summary.mean_over_sources == pytest.approx((0.25 + 0.75 + 0.0) / 3)
    assert summary.num_questions == 8
    assert summary.instances_per_source == {"hotpotqa": 1, "squad": 2, "trec_coarse": 1}
    assert summary.to_dict()["per_source"]["squad"] == 0.75


def test_aggregate_refuses_an_instance_under_two_sources():
    with pytest.raises(ValueError, match="two data sources"):
        aggregate([QuestionScore("i", "a", "AR", 1.0), QuestionScore("i", "b", "AR", 1.0)])


def test_score_instance_needs_one_prediction_per_question():
    with pytest.raises(ValueError, match="2 questions but 1 predictions"):
        score_instance(_instance("s", "squad", "AR", ["a", "b"]), ["a"])
