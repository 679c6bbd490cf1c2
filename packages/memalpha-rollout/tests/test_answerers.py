"""The QA stage: retrieval-recall (no model), the LLM answerer, thinking stripped, retrieval shrinking."""

from __future__ import annotations

import pytest
from rollout_helpers import hermes, insert, make_instance

from memalpha_data import Question
from memalpha_rollout import (
    AnswerRequest,
    LLMAnswerer,
    RetrievalRecallAnswerer,
    RolloutConfig,
    ScriptedPolicy,
    UnknownNameError,
    load_answerer,
    run_episodes,
)
from memalpha_rollout.answerers import nearest_label, score_prediction, strip_thinking


def test_retrieval_recall_predicts_the_context_itself() -> None:
    question = Question(question="Where does Ana live?", answers=["Porto"])
    (prediction,) = RetrievalRecallAnswerer().answer(
        [AnswerRequest(question, question.question, "Ana lives in Porto.")]
    )
    assert prediction == "Ana lives in Porto."
    assert score_prediction(question, prediction, RetrievalRecallAnswerer()) == 1.0


def test_label_questions_get_the_label_of_the_nearest_stored_example() -> None:
    context = (
        "1. Sentence: How far is the moon from the earth?; Label: 5\n"
        "2. Sentence: Who wrote the play Hamlet?; Label: 3\n"
        "3. Sentence: What does NASA stand for?\nLabel: 0"
    )
    question = Question(
        question="Sentence: Who wrote Macbeth, the play?\nWhat is the label?", answers=["3"], metric="boxed_label_em"
    )
    (prediction,) = RetrievalRecallAnswerer().answer([AnswerRequest(question, question.question, context)])
    assert prediction == "\\boxed{3}"
    assert score_prediction(question, prediction, RetrievalRecallAnswerer()) == 1.0
    assert nearest_label("What does NASA stand for", context) == "0"
    assert nearest_label("anything", "no examples here") is None


def test_llm_judged_questions_fall_back_to_substring_match_without_a_model() -> None:
    question = Question(question="What did I buy?", answers=["a red bike"], metric="llm_judge")
    assert score_prediction(question, "You bought A red bike.", RetrievalRecallAnswerer()) == 1.0


def test_the_llm_answerer_sends_memory_as_system_and_the_query_as_user() -> None:
    policy = ScriptedPolicy(["<think>hmm</think> Porto"])
    answerer = LLMAnswerer(policy, batch_size=2)
    question = Question(question="Where does Ana live?", answers=["Porto"])
    requests = [AnswerRequest(question, f"q{n}", f"CONTEXT {n}") for n in range(3)]
    assert answerer.answer(requests) == ["Porto"] * 3
    assert policy.batch_sizes == [2, 1]
    system, user = policy.conversations[2]
    assert "CONTEXT 2" in system["content"] and user == {"role": "user", "content": "q2"}


def test_thinking_is_stripped_and_unterminated_thinking_scores_nothing() -> None:
    assert strip_thinking("<think>a</think>\n Paris ") == "Paris"
    assert strip_thinking("<think>never closed") == ""
    assert strip_thinking(" Paris ") == "Paris"
    assert strip_thinking("Paris <think>x</think>") == "Paris <think>x</think>"  # only a leading block goes


def test_retrieval_shrinks_to_fit_the_answerers_window() -> None:
    replies = [hermes(*(insert(f"Ana visited city number {n} in May with Bo and friends") for n in range(30)))]
    instance = make_instance("a", ["x."], [("Which cities did Ana visit?", "city number 3")])
    (wide,) = run_episodes(ScriptedPolicy(replies), [instance])
    (narrow,) = run_episodes(
        ScriptedPolicy(replies), [instance], answerer=RetrievalRecallAnswerer(max_context_tokens=60)
    )
    assert wide.qa[0].k == 20 and len(wide.qa[0].retrieved_semantic) == 20
    assert 0 < narrow.qa[0].k < 20 and len(narrow.qa[0].retrieved_semantic) == narrow.qa[0].k


def test_query_prefixes_are_prepended_to_the_question() -> None:
    instance = make_instance("a", ["x."]).model_copy(
        update={"questions": [Question(question="What label?", answers=["1"], query_prefix="Use the rules.")]}
    )
    (episode,) = run_episodes(ScriptedPolicy(["Done"]), [instance], config=RolloutConfig())
    assert episode.qa[0].query == "Use the rules.\n\nWhat label?"


def test_load_answerer_by_name() -> None:
    assert isinstance(load_answerer("retrieval-recall"), RetrievalRecallAnswerer)
    assert isinstance(load_answerer("llm", policy=ScriptedPolicy(["x"])), LLMAnswerer)
    with pytest.raises(ValueError, match="needs a policy"):
        load_answerer("llm")
    with pytest.raises(UnknownNameError, match="retrieval-recall"):
        load_answerer("oracle")
