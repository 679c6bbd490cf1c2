"""Source adapters for test-time learning (TREC, NLU), long-range understanding (SQuALITY, QMSum) and conflict
resolution (SituatedQA), on the real files under the shared data folder."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from memalpha_data.exceptions import SourceNotFoundError, SourceRowError
from memalpha_data.instance import Instance
from memalpha_data.metrics import score_answer
from memalpha_data.sources.classification import load_nlu, load_trec
from memalpha_data.sources.situatedqa import load_situatedqa
from memalpha_data.sources.summaries import load_qmsum, load_squality

_SENTENCE = re.compile(r"^Sentence: (.*)$", re.MULTILINE)
_LABEL = re.compile(r"^Label: (\d+)$", re.MULTILINE)


def _dump(instances: list[Instance]) -> list[dict[str, object]]:
    return [i.model_dump() for i in instances]


def _chunk_sentences(instance: Instance) -> list[str]:
    return [s for chunk in instance.chunks for s in _SENTENCE.findall(chunk)]


def _question_sentence(question: str) -> str:
    return question.split("\n", 1)[0].removeprefix("Sentence: ")


# --- TREC ---------------------------------------------------------------------------------------------------------


def test_trec_eval_questions_come_from_the_test_file(data_dir: Path) -> None:
    test_lines = (data_dir / "trec" / "TREC_10.label").read_text(encoding="latin-1").splitlines()
    instances = load_trec(root=data_dir, split="eval", instances=3)
    assert [i.id for i in instances] == ["trec_coarse-eval-0", "trec_coarse-eval-1", "trec_coarse-eval-2"]
    for instance in instances:
        assert instance.data_source == "trec_coarse" and instance.capability == "TTL"
        assert instance.num_chunks == 10 and instance.num_questions == 100
        names = instance.metadata["label_names"]
        assert names == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
        for question in instance.questions:
            assert question.metric == "boxed_label_em"
            assert question.question.endswith("Put your final answer as \\boxed{label}.")
            label, _, text = test_lines[question.metadata["source_row"] - 1].partition(" ")
            assert _question_sentence(question.question) == text.strip()
            # the gold id maps back to the label name, which is the file's coarse label
            assert names[int(question.answers[0])] == question.metadata["label_name"] == label.split(":")[0]


def test_trec_spot_check(data_dir: Path) -> None:
    question = load_trec(root=data_dir, split="eval", instances=1)[0].questions[0]
    assert question.question.startswith("Sentence: What peninsula is Spain part of ?\nWhat is the label")
    assert question.answers == ["4"]  # LOC
    assert question.metadata == {"label_name": "LOC", "source_row": 166}


@pytest.mark.parametrize(("granularity", "labels"), [("coarse", 6), ("fine", 50)])
def test_trec_every_label_in_the_chunks_and_no_shared_sentence(data_dir: Path, granularity: str, labels: int) -> None:
    for instance in load_trec(root=data_dir, split="train", instances=2, granularity=granularity):  # type: ignore[arg-type]
        assert instance.data_source == f"trec_{granularity}"
        assert len(instance.metadata["label_names"]) == labels
        shown = {int(label) for chunk in instance.chunks for label in _LABEL.findall(chunk)}
        assert shown == set(range(labels))
        assert instance.metadata["missing_labels"] == []
        examples = [s.lower() for s in _chunk_sentences(instance)]
        assert len(examples) == len(set(examples)) == instance.metadata["num_examples"]
        questions = {_question_sentence(q.question).lower() for q in instance.questions}
        assert not questions & set(examples)
        # training questions are training lines not shown as examples
        rows = {q.metadata["source_row"] for q in instance.questions}
        assert not rows & set(instance.metadata["example_rows"])
    fine = load_trec(root=data_dir, split="train", instances=1, granularity="fine")[0]
    assert fine.metadata["added_for_missing_labels"] > 0  # 50 labels: the draw misses some, chunk 0 gets them
    assert fine.chunks[0].count("Label:") > fine.chunks[1].count("Label:")


def test_trec_default_counts_and_chunk_sizes(data_dir: Path) -> None:
    eval_instances = load_trec(root=data_dir, split="eval")
    assert len(eval_instances) == 20
    tokens = [t for i in eval_instances for t in i.chunk_tokens()]
    assert 200 < sum(tokens) / len(tokens) < 300  # about 2,000 tokens of examples over 10 chunks, plus the wrapper
    combined = load_trec(root=data_dir, split="all", limit=182)
    assert [i.metadata["split"] for i in combined].count("train") == 180
    assert [i.id for i in combined[-2:]] == ["trec_coarse-eval-0", "trec_coarse-eval-1"]


def test_trec_determinism_and_limit(data_dir: Path) -> None:
    first = load_trec(root=data_dir, split="eval", instances=4, seed=3)
    assert _dump(first) == _dump(load_trec(root=data_dir, split="eval", instances=4, seed=3))
    assert _dump(load_trec(root=data_dir, split="eval", instances=4, seed=3, limit=2)) == _dump(first[:2])
    assert first[0].chunks != load_trec(root=data_dir, split="eval", instances=1, seed=4)[0].chunks


def test_trec_bad_rows(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "trec").mkdir()
    test_file = tmp_path / "trec" / "TREC_10.label"
    test_file.write_bytes((data_dir / "trec" / "TREC_10.label").read_bytes())
    train_file = tmp_path / "trec" / "train_5500.label"
    train_file.write_text("DESC:manner How did serfdom develop ?\nNOLABEL what is this ?\n", encoding="latin-1")
    with pytest.raises(SourceRowError, match=r"train_5500\.label: row 2: expected 'COARSE:fine sentence'"):
        load_trec(root=tmp_path)
    train_file.write_text("DESC:manner How did serfdom develop ?\nHUM:ind\n", encoding="latin-1")
    with pytest.raises(SourceRowError, match=r"train_5500\.label: row 2: the line has a label but no sentence"):
        load_trec(root=tmp_path)
    train_file.write_text("DESC:manner How did serfdom develop ?\n", encoding="latin-1")
    with pytest.raises(SourceRowError, match=r"TREC_10\.label: row 1: label 'NUM' never occurs"):
        load_trec(root=tmp_path)
    test_file.unlink()
    with pytest.raises(SourceNotFoundError, match=r"TREC_10\.label"):
        load_trec(root=tmp_path)
    with pytest.raises(ValueError, match="granularity must be 'coarse' or 'fine'"):
        load_trec(root=data_dir, granularity="medium")  # type: ignore[arg-type]


# --- NLU ----------------------------------------------------------------------------------------------------------


def test_nlu_questions_and_examples_respect_the_eval_fold(data_dir: Path) -> None:
    with (data_dir / "nlu" / "nlu_evaluation_data_10fold.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fold_of: dict[int, str] = {}
        for row in reader:
            fold_of[reader.line_num] = row["fold"]
    assert len(fold_of) == 11036
    evals = load_nlu(root=data_dir, split="eval", instances=2)
    trains = load_nlu(root=data_dir, split="train", instances=2)
    for instance in evals + trains:
        assert instance.data_source == "nlu" and instance.num_chunks == 10 and instance.num_questions == 100
        names = instance.metadata["label_names"]
        assert len(names) == 64 and names == sorted(names)
        shown = {int(label) for chunk in instance.chunks for label in _LABEL.findall(chunk)}
        assert shown == set(range(64))
        assert all(fold_of[row] != "1" for row in instance.metadata["example_rows"])
        question_folds = {fold_of[q.metadata["source_row"]] for q in instance.questions}
        assert question_folds == {"1"} if instance.metadata["split"] == "eval" else "1" not in question_folds
        for question in instance.questions:
            assert names[int(question.answers[0])] == question.metadata["label_name"]
    assert len(load_nlu(root=data_dir, split="eval")) == 20


def test_nlu_bad_rows(tmp_path: Path) -> None:
    (tmp_path / "nlu").mkdir()
    path = tmp_path / "nlu" / "nlu_evaluation_data_10fold.csv"
    header = "fold,answerid,scenario,intent,answer_annotation,answer_from_anno,answer_from_user\n"
    path.write_text(header + "1,1,alarm,set,wake me up,wake me up,wake me up\nx,2,alarm,set,a,b,c\n")
    with pytest.raises(SourceRowError, match=r"nlu_evaluation_data_10fold\.csv: row 3: fold should be an integer"):
        load_nlu(root=tmp_path)
    path.write_text(header + "1,1,alarm,,wake me up,wake me up,wake me up\n")
    with pytest.raises(SourceRowError, match=r"row 2: column 'intent' is empty"):
        load_nlu(root=tmp_path)
    path.write_text("fold,scenario,intent\n1,alarm,set\n")
    with pytest.raises(SourceRowError, match=r"row 1: the header lacks column\(s\) \['answer_from_anno'\]"):
        load_nlu(root=tmp_path)
    path.write_text(header + "1,1,alarm,set,wake me up,wake me up,wake me up\n")
    with pytest.raises(ValueError, match="eval_fold 3 is not a fold"):
        load_nlu(root=tmp_path, eval_fold=3)


# --- SQuALITY -----------------------------------------------------------------------------------------------------


def test_squality_counts_and_question(data_dir: Path) -> None:
    instances = load_squality(root=data_dir)
    assert len(instances) == 75
    assert [i.metadata["split"] for i in instances].count("train") == 50
    assert len(load_squality(root=data_dir, split="eval")) == 25
    for instance in instances:
        assert instance.data_source == "squality" and instance.capability == "LRU"
        assert 3 <= instance.num_chunks <= 6
        assert all(chunk.startswith("[Event on ") for chunk in instance.chunks)
        assert max(instance.chunk_tokens()) <= 1700 + 60  # the budget plus the reading wrapper
        (question,) = instance.questions
        dates = instance.metadata["dates"]
        assert question.question == f"Summarize the content of the book I read from {dates[0]} to {dates[-1]}."
        assert question.metric == "keyword_hit"
        assert question.answers == [", ".join(question.metadata["keywords"])]
        assert len(question.metadata["reference_summaries"]) == 4


def test_squality_spot_check(data_dir: Path) -> None:
    instance = load_squality(root=data_dir, split="train", limit=1)[0]
    assert instance.id == "squality-61263"
    assert instance.metadata["line"] == 1
    question = instance.questions[0]
    assert question.metadata["keywords"][:6] == ["retief", "students", "lovenbroy", "croanie", "harvest", "magnan"]
    text = "\n".join(instance.chunks)
    assert "Second Secretary Magnan took his green-lined cape and orange-feathered beret from the clothes tree." in text
    assert all(keyword in text.lower() for keyword in question.metadata["keywords"][:6])
    assert question.metadata["reference_summaries"][0].startswith("Second Secretary Magnan will be away")


def test_squality_custom_extractor_and_other_questions(data_dir: Path) -> None:
    seen: list[str] = []

    def extractor(summary: str) -> list[str]:
        seen.append(summary)
        return ["harvest", "Bacchus vines", " ", "a, b"]  # blanks and comma-holding keywords are dropped

    instance = load_squality(root=data_dir, split="train", limit=1, keyword_extractor=extractor)[0]
    assert instance.questions[0].answers == ["harvest, Bacchus vines"]
    assert seen[0] == "\n\n".join(instance.questions[0].metadata["reference_summaries"])
    full = load_squality(root=data_dir, split="train", limit=1, include_other_questions=True)[0]
    assert [q.metadata["question_number"] for q in full.questions] == [1, 2, 3, 4, 5]
    assert full.questions[1].question == "Who are the Bogans, and what happens to their plan?"


def test_squality_determinism(data_dir: Path) -> None:
    first = load_squality(root=data_dir, split="eval", limit=3)
    assert _dump(first) == _dump(load_squality(root=data_dir, split="eval", limit=3))
    assert (
        first[0].metadata["dates"] != load_squality(root=data_dir, split="eval", limit=1, seed=1)[0].metadata["dates"]
    )


def test_squality_bad_rows(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "squality").mkdir()
    path = tmp_path / "squality" / "squality_v1-3_txt_train.jsonl"
    good = (data_dir / "squality" / "squality_v1-3_txt_train.jsonl").read_text(encoding="utf-8").splitlines()[0]
    row = json.loads(good)
    del row["questions"][0]
    path.write_text(good + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(SourceRowError, match=r"squality_v1-3_txt_train\.jsonl: row 2: no question 1"):
        load_squality(root=tmp_path, split="train")
    del row["document"]
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(SourceRowError, match=r"row 1: missing field 'document'"):
        load_squality(root=tmp_path, split="train")
    with pytest.raises(SourceNotFoundError, match=r"squality_v1-3_txt_dev\.jsonl"):
        load_squality(root=tmp_path, split="eval")


# --- QMSum --------------------------------------------------------------------------------------------------------


def test_qmsum_meetings_split_and_questions(data_dir: Path) -> None:
    instances = load_qmsum(root=data_dir)
    assert len(instances) == 35
    assert sum(i.num_questions for i in instances) == 272  # 35 general + 237 specific queries
    train = {i.id for i in load_qmsum(root=data_dir, split="train")}
    evals = {i.id for i in load_qmsum(root=data_dir, split="eval")}
    assert not train & evals and train | evals == {i.id for i in instances}
    assert len(evals) == 6
    for instance in instances:
        assert instance.data_source == "qmsum" and instance.capability == "LRU"
        assert instance.questions[0].metadata["query_type"] == "general"
        assert all(q.metric == "keyword_hit" for q in instance.questions)
        assert not any("{disfmarker}" in chunk for chunk in instance.chunks)
    only_general = load_qmsum(root=data_dir, specific_queries=False)
    assert [i.num_questions for i in only_general] == [1] * 35


def test_qmsum_spot_check(data_dir: Path) -> None:
    instance = load_qmsum(root=data_dir, limit=1)[0]
    assert instance.id == "qmsum-1"
    assert "Meeting transcript, part 1 of 13:\nProfessor E: So. OK. Doesn't look like it crashed." in instance.chunks[0]
    assert instance.num_chunks == 13
    general = instance.questions[0]
    assert general.question == "What were the main discussion points of the meeting?"
    assert general.metadata["reference_answer"].startswith("The group discussed topics including")
    assert general.answers == [", ".join(general.metadata["keywords"])]
    assert "icsi" in general.metadata["keywords"]


def test_qmsum_bad_rows_and_determinism(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "qmsum").mkdir()
    path = tmp_path / "qmsum" / "qmsum_all_val.jsonl"
    row = json.loads((data_dir / "qmsum" / "qmsum_all_val.jsonl").read_text(encoding="utf-8").splitlines()[0])
    del row["meeting_transcripts"][3]["speaker"]
    path.write_text("\n" + json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(SourceRowError, match=r"qmsum_all_val\.jsonl: row 2: missing field 'speaker'"):
        load_qmsum(root=tmp_path)
    first = load_qmsum(root=data_dir, limit=2)
    assert _dump(first) == _dump(load_qmsum(root=data_dir, limit=2))
    assert first[0].chunks != load_qmsum(root=data_dir, limit=1, seed=5)[0].chunks  # other dialogue templates
    assert {i.metadata["split"] for i in load_qmsum(root=data_dir, eval_fraction=0.0)} == {"train"}


# --- SituatedQA ---------------------------------------------------------------------------------------------------


def test_situatedqa_counts(data_dir: Path) -> None:
    train = load_situatedqa(root=data_dir, split="train")
    evals = load_situatedqa(root=data_dir, split="eval")
    assert (len(train), sum(i.num_questions for i in train)) == (81, 809)
    assert (len(evals), sum(i.num_questions for i in evals)) == (45, 451)  # the last group has 11 questions
    assert {i.data_source for i in train + evals} == {"situatedqa"}
    assert {i.capability for i in train + evals} == {"CR"}
    assert all(9 <= i.num_chunks <= 10 for i in train + evals)


def test_situatedqa_old_fact_comes_before_the_update(data_dir: Path) -> None:
    for instance in load_situatedqa(root=data_dir, split="eval", limit=10):
        for question in instance.questions:
            assert question.metric == "conflict_aware"
            assert question.superseded
            assert not any(s.lower() in a.lower() for s in question.superseded for a in question.answers)
            old, new = question.metadata["old_fact_chunk"], question.metadata["update_chunk"]
            assert old < new
            subject = question.question.removeprefix("As of now, ")
            old_line = next(line for line in instance.chunks[old].splitlines() if f'"{subject}"' in line)
            new_line = next(line for line in instance.chunks[new].splitlines() if f'"{subject}"' in line)
            assert old_line.endswith(f" is {question.superseded[0]}.")
            assert new_line.endswith((f" is {question.answers[0]}.", f" is now {question.answers[0]}."))


def test_situatedqa_current_value_scores_and_old_value_does_not(data_dir: Path) -> None:
    questions = [q for i in load_situatedqa(root=data_dir) for q in i.questions]
    assert all(score_answer(q, f"It is {q.answers[0]}.") == 1.0 for q in questions)
    assert all(score_answer(q, f"It is {q.superseded[0]}.") == 0.0 for q in questions)


def test_situatedqa_spot_check(data_dir: Path) -> None:
    instance, question = next(
        (i, q)
        for i in load_situatedqa(root=data_dir, split="train")
        for q in i.questions
        if q.metadata["source_row"] == 1003
    )
    assert question.question == "As of now, who has the most subscribers on youtube top 100?"
    assert question.answers == ["T-Series"] and question.superseded == ["PewDiePie"]
    old, new = question.metadata["old_fact_chunk"], question.metadata["update_chunk"]
    # no dates in this row: the old fact is plain, the later one reads as an update
    assert 'The answer to "who has the most subscribers on youtube top 100?" is PewDiePie.' in instance.chunks[old]
    assert (
        'Update: the answer to "who has the most subscribers on youtube top 100?" is now T-Series.'
        in (instance.chunks[new])
    )
    dated = next(
        q for i in load_situatedqa(root=data_dir, split="eval") for q in i.questions if q.metadata["source_row"] == 818
    )
    assert dated.answers == ["Mortal Kombat 11"] and dated.superseded == ["Mortal Kombat X"]


def test_situatedqa_determinism_and_limit(data_dir: Path) -> None:
    first = load_situatedqa(root=data_dir, split="all", seed=2)
    assert len(first) == 126 and first[81].id == "situatedqa-eval-0"
    assert _dump(load_situatedqa(root=data_dir, split="all", seed=2, limit=3)) == _dump(first[:3])
    assert _dump(first) == _dump(load_situatedqa(root=data_dir, split="all", seed=2))
    other = load_situatedqa(root=data_dir, split="all", seed=3, limit=1)[0]
    assert other.questions[0].metadata["source_row"] != first[0].questions[0].metadata["source_row"]


def test_situatedqa_rows_skipped_and_bad_rows(tmp_path: Path) -> None:
    (tmp_path / "situatedqa").mkdir()
    path = tmp_path / "situatedqa" / "temp_raw.train.jsonl"

    def row(question: str, prev: list[str] | None, cur: object, start: object = None) -> str:
        timeline = {"prev_start": None, "cur_start": start, "prev_answers": prev, "cur_answers": cur}
        return json.dumps(
            {"question": question, "prev_answers": prev, "cur_answers": cur, "timelines": [timeline] if prev else None}
        )

    rows = [
        row("who won the cup", ["Ajax"], ["Benfica"], {"year": 2019, "month": 5, "date": 2}),
        row("who is the coach", ["Smith"], ["smith"]),  # same answer: skipped
        row("who is the mayor", None, ["Lee"]),  # no previous answer: a distractor fact
        row("what is the tallest tower", ["Tower"], ["Tower One"]),  # the old value survives in the new one
        row("who sings it", ["Ann"], []),  # no current answer: skipped
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    (instance,) = load_situatedqa(root=tmp_path, split="train")
    assert [q.question for q in instance.questions] == ["As of now, who won the cup?"]
    text = "\n".join(instance.chunks)
    assert 'Since 2 May 2019, the answer to "who won the cup?" is Benfica.' in text
    assert 'The answer to "who is the mayor?" is Lee.' in text
    assert "coach" not in text and "sings" not in text
    path.write_text(rows[0] + "\n" + row("who is it", ["A"], "B") + "\n", encoding="utf-8")
    with pytest.raises(SourceRowError, match=r"temp_raw\.train\.jsonl: row 2: field 'cur_answers' should be a list"):
        load_situatedqa(root=tmp_path, split="train")
    path.write_text(row("who is it", ["A"], ["B"], {"year": "2019"}) + "\n", encoding="utf-8")
    with pytest.raises(SourceRowError, match=r"row 1: a timeline date should hold integers"):
        load_situatedqa(root=tmp_path, split="train")
    path.write_text(json.dumps({"prev_answers": None}) + "\n", encoding="utf-8")
    with pytest.raises(SourceRowError, match=r"row 1: missing field 'question'"):
        load_situatedqa(root=tmp_path, split="train")
    with pytest.raises(ValueError, match="chunks_per_instance >= 2"):
        load_situatedqa(root=tmp_path, split="train", chunks_per_instance=1)
