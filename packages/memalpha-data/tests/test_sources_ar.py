"""The accurate-retrieval source adapters (SQuAD, HotpotQA, KV retrieval, bAbI AR and CR) on the real files in
`../shared/data`, and on small malformed copies."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from memalpha_data.exceptions import SourceNotFoundError, SourceRowError
from memalpha_data.instance import Instance, Question
from memalpha_data.sources.babi import load_babi, parse_babi
from memalpha_data.sources.hotpotqa import HotpotFile, load_hotpotqa
from memalpha_data.sources.kv_retrieval import load_kv_retrieval
from memalpha_data.sources.squad import load_squad


def _dump(instances: list[Instance]) -> list[dict[str, object]]:
    return [i.model_dump() for i in instances]


def _all_questions(instances: list[Instance]) -> list[tuple[Instance, Question]]:
    return [(inst, q) for inst in instances for q in inst.questions]


# --- SQuAD -----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def squad_all(data_dir: Path) -> list[Instance]:
    return load_squad(root=data_dir)


def test_squad_counts_on_the_dev_files(data_dir: Path, squad_all: list[Instance]) -> None:
    assert len(squad_all) == 40
    assert sum(i.num_questions for i in squad_all) == 3991
    assert all(30 <= i.num_questions <= 100 and 1 <= i.num_chunks <= 10 for i in squad_all)
    assert sum(i.num_chunks == 10 for i in squad_all) == 39  # only the last instance holds the remainder
    assert {i.data_source for i in squad_all} == {"squad"} and {i.capability for i in squad_all} == {"AR"}
    assert squad_all[0].id == "squad-all-0"
    assert squad_all[0].chunks[0].startswith("[Dialogue between User and Assistant on 2024-01-01 ")

    v2 = load_squad(root=data_dir, version="2.0")
    assert (len(v2), sum(i.num_questions for i in v2)) == (26, 2538)
    ids = {q.metadata["id"] for _, q in _all_questions(v2)}
    assert "5a38a8d2a4b263001a8c1875" not in ids  # "When did OPEC begin?" is unanswerable in v2.0


def test_squad_every_answer_is_in_its_evidence_chunk(squad_all: list[Instance]) -> None:
    for inst, q in _all_questions(squad_all):
        assert q.metric == "sub_em"
        (chunk,) = q.metadata["evidence_idx"]
        assert any(a in inst.chunks[chunk] for a in q.answers)


def test_squad_spot_checked_question(data_dir: Path) -> None:
    instances = load_squad(root=data_dir, max_questions=1000)
    found = [(inst, q) for inst, q in _all_questions(instances) if q.metadata["id"] == "5725b33f6a3fe71400b8952d"]
    ((inst, q),) = found
    assert q.question == "When did the 1973 oil crisis begin?"
    assert q.answers == ["October 1973", "October", "1973"]
    assert q.metadata["title"] == "1973_oil_crisis"
    chunk = inst.chunks[q.metadata["evidence_idx"][0]]
    assert "The 1973 oil crisis began in October 1973 when the members" in chunk


def test_squad_split_by_article_is_disjoint(data_dir: Path) -> None:
    train = load_squad(root=data_dir, split="train")
    evals = load_squad(root=data_dir, split="eval")
    train_titles = {t for i in train for t in i.metadata["titles"]}
    eval_titles = {t for i in evals for t in i.metadata["titles"]}
    assert train_titles and eval_titles and not train_titles & eval_titles
    assert len(evals) == 4 and evals[0].id == "squad-eval-0"


def test_squad_deterministic_by_seed_and_limit_is_a_prefix(data_dir: Path, squad_all: list[Instance]) -> None:
    assert _dump(load_squad(root=data_dir)) == _dump(squad_all)
    assert load_squad(root=data_dir, seed=1)[0].chunks != squad_all[0].chunks
    assert _dump(load_squad(root=data_dir, limit=3)) == _dump(squad_all[:3])


def test_squad_question_filter_and_knobs(data_dir: Path) -> None:
    short = load_squad(root=data_dir, question_filter=lambda q: len(q.answers[0].split()) < 2, limit=5)
    assert short and all(len(q.answers[0].split()) < 2 for i in short for q in i.questions)
    small = load_squad(root=data_dir, chunks_per_instance=4, limit=2, max_questions=40, min_questions=40)
    assert [(i.num_chunks, i.num_questions) for i in small] == [(4, 40), (4, 40)]
    with pytest.raises(ValueError, match="min_questions"):
        load_squad(root=data_dir, min_questions=200)


def test_squad_bad_rows_name_file_and_row(data_dir: Path, tmp_path: Path) -> None:
    real = json.loads((data_dir / "squad" / "squad_dev_v1.1.json").read_text(encoding="utf-8"))
    article = real["data"][0]
    article["paragraphs"] = article["paragraphs"][:2]
    del article["paragraphs"][1]["qas"][2]["question"]
    copy = tmp_path / "squad" / "squad_dev_v1.1.json"
    copy.parent.mkdir()
    copy.write_text(json.dumps({"data": [article]}), encoding="utf-8")
    with pytest.raises(
        SourceRowError, match=r"squad_dev_v1\.1\.json: row data\[0\]\.paragraphs\[1\]\.qas\[2\]: missing"
    ):
        load_squad(root=tmp_path)
    copy.write_text('{"data": [\n{"title": "x",\n}', encoding="utf-8")
    with pytest.raises(SourceRowError, match=r"squad_dev_v1\.1\.json: row line 3: invalid JSON"):
        load_squad(root=tmp_path)
    with pytest.raises(SourceNotFoundError, match=r"squad_dev_v2\.0\.json"):
        load_squad(root=tmp_path, version="2.0")


# --- HotpotQA --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hotpot_all(data_dir: Path) -> list[Instance]:
    return load_hotpotqa(root=data_dir)


def test_hotpotqa_counts(data_dir: Path, hotpot_all: list[Instance]) -> None:
    assert [i.num_questions for i in hotpot_all] == [17, 17, 17, 17, 17, 15]
    assert all(5 <= i.num_chunks <= 20 for i in hotpot_all)
    dev = load_hotpotqa(root=data_dir, file="dev_distractor")
    assert sum(i.num_questions for i in dev) == 100 and len(dev) == 6
    assert dev[0].id == "hotpotqa-dev-all-0" and {i.data_source for i in dev} == {"hotpotqa"}
    evidence_only = load_hotpotqa(root=data_dir, distractors_per_question=0)
    assert len(evidence_only) == 3 and sum(i.num_questions for i in evidence_only) == 100


@pytest.mark.parametrize("file", ["train100", "dev_distractor"])
def test_hotpotqa_evidence_idx_points_at_the_supporting_articles(data_dir: Path, file: HotpotFile) -> None:
    for inst, q in _all_questions(load_hotpotqa(root=data_dir, file=file)):
        meta = q.metadata
        titles = {title for title, _ in meta["supporting_facts"]}
        held = [i for i, chunk in enumerate(inst.chunks) if any(f"Title: {t}\n" in chunk for t in titles)]
        assert meta["evidence_idx"] == held and len(titles) == 2
        answer = q.answers[0]
        if answer not in ("yes", "no"):  # comparison answers are not spans
            assert any(answer in inst.chunks[i] for i in held)


def test_hotpotqa_spot_checked_question(hotpot_all: list[Instance]) -> None:
    first = hotpot_all[0].questions[0]
    assert first.question == "If Gallu is a demon Lilu is what?"
    assert first.answers == ["a spirit"] and first.metric == "sub_em"
    assert first.metadata["id"] == "5a77ec115542992a6e59dff7" and first.metadata["type"] == "bridge"
    assert sorted(first.metadata["supporting_facts"]) == [["Alû", 3], ["Lilu (mythology)", 0]]


def test_hotpotqa_split_is_disjoint(data_dir: Path) -> None:
    train = load_hotpotqa(root=data_dir, split="train", min_questions=1)
    evals = load_hotpotqa(root=data_dir, split="eval", min_questions=1)
    train_ids = {q.metadata["id"] for i in train for q in i.questions}
    eval_ids = {q.metadata["id"] for i in evals for q in i.questions}
    assert eval_ids and not train_ids & eval_ids and len(train_ids | eval_ids) == 100
    assert not {t for i in train for t in i.metadata["titles"]} & {t for i in evals for t in i.metadata["titles"]}


def test_hotpotqa_deterministic_and_limit(data_dir: Path, hotpot_all: list[Instance]) -> None:
    assert _dump(load_hotpotqa(root=data_dir)) == _dump(hotpot_all)
    assert _dump(load_hotpotqa(root=data_dir, limit=2)) == _dump(hotpot_all[:2])
    assert load_hotpotqa(root=data_dir, seed=3)[0].chunks != hotpot_all[0].chunks


def test_hotpotqa_bad_rows_name_file_and_row(data_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "hotpotqa"
    folder.mkdir()
    rows = json.loads((data_dir / "hotpotqa" / "hotpotqa_train100.json").read_text(encoding="utf-8"))[:5]
    del rows[3]["answer"]
    (folder / "hotpotqa_train100.json").write_text(json.dumps(rows), encoding="utf-8")
    with pytest.raises(SourceNotFoundError, match=r"hotpotqa_train100_corpus\.json"):
        load_hotpotqa(root=tmp_path)
    corpus = (data_dir / "hotpotqa" / "hotpotqa_train100_corpus.json").read_text(encoding="utf-8")
    (folder / "hotpotqa_train100_corpus.json").write_text(corpus, encoding="utf-8")
    with pytest.raises(SourceRowError, match=r"hotpotqa_train100\.json: row 3: missing field 'answer'"):
        load_hotpotqa(root=tmp_path)
    dev = json.loads((data_dir / "hotpotqa" / "hotpot_dev_distractor_sample100.json").read_text(encoding="utf-8"))[:3]
    dev[1]["supporting_facts"] = [[0]]
    (folder / "hotpot_dev_distractor_sample100.json").write_text(json.dumps(dev), encoding="utf-8")
    with pytest.raises(SourceRowError, match=r"sample100\.json: row 1: supporting_facts should be two lists"):
        load_hotpotqa(root=tmp_path, file="dev_distractor")


# --- KV retrieval ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kv_all(data_dir: Path) -> list[Instance]:
    return load_kv_retrieval(root=data_dir)


def test_kv_counts_and_answers_in_chunks(kv_all: list[Instance]) -> None:
    assert len(kv_all) == 500
    assert {(i.num_chunks, i.num_questions) for i in kv_all} == {(5, 10)}
    for inst in kv_all:
        assert sum(q.metadata["queried_key"] for q in inst.questions) == 1
        for q in inst.questions:
            line = f'"{q.metadata["key"]}": "{q.answers[0]}"'
            assert [i for i, c in enumerate(inst.chunks) if line in c] == q.metadata["evidence_idx"]


def test_kv_spot_checked_record(kv_all: list[Instance]) -> None:
    first = kv_all[0]
    (own,) = [q for q in first.questions if q.metadata["queried_key"]]
    assert own.question == 'What is the value associated with the key "2a8d601d-1d69-4e64-9f90-8ad825a74195"?'
    assert own.answers == ["bb3ba2a5-7de8-434b-a86e-a88bb9fa7289"] and own.metric == "sub_em"
    assert '"a54e2eed-e625-4570-9f74-3624e77d6684": "d1ff29be-4e2a-4208-a182-0cea716be3d4"' in first.chunks[0]
    assert first.data_source == "kv_retrieval" and first.metadata["lines"] == [1]


def test_kv_knobs(data_dir: Path) -> None:
    merged = load_kv_retrieval(root=data_dir, records_per_instance=3, questions_per_instance=12, limit=4)
    assert [(i.num_chunks, i.num_questions) for i in merged] == [(15, 12)] * 4
    assert all(sum(q.metadata["queried_key"] for q in i.questions) == 3 for i in merged)
    by_tokens = load_kv_retrieval(root=data_dir, chunk_tokens=240, limit=3)
    assert all(i.num_chunks == 8 for i in by_tokens)  # 75 lines of 23 tokens, 10 to a chunk


def test_kv_split_determinism_limit(data_dir: Path, kv_all: list[Instance]) -> None:
    train = load_kv_retrieval(root=data_dir, split="train")
    evals = load_kv_retrieval(root=data_dir, split="eval")
    train_lines = {n for i in train for n in i.metadata["lines"]}
    eval_lines = {n for i in evals for n in i.metadata["lines"]}
    assert (len(train), len(evals)) == (443, 57) and not train_lines & eval_lines
    assert _dump(load_kv_retrieval(root=data_dir, limit=5)) == _dump(kv_all[:5])
    assert load_kv_retrieval(root=data_dir, seed=1, limit=1)[0].questions != kv_all[0].questions


def test_kv_bad_rows_name_file_and_row(data_dir: Path, tmp_path: Path) -> None:
    with gzip.open(data_dir / "kv_retrieval" / "kv-retrieval-75_keys.jsonl.gz", "rt", encoding="utf-8") as f:
        lines = [next(f) for _ in range(3)]
    copy = tmp_path / "kv_retrieval" / "kv-retrieval-75_keys.jsonl.gz"
    copy.parent.mkdir()
    with gzip.open(copy, "wt", encoding="utf-8") as f:
        f.write(lines[0] + lines[1][:50] + "\n" + lines[2])
    with pytest.raises(SourceRowError, match=r"kv-retrieval-75_keys\.jsonl\.gz: row 2: invalid JSON"):
        load_kv_retrieval(root=tmp_path)
    row = json.loads(lines[0])
    row["ordered_kv_records"][4] = ["only-a-key"]
    with gzip.open(copy, "wt", encoding="utf-8") as f:
        f.write(lines[1] + json.dumps(row) + "\n")
    with pytest.raises(SourceRowError, match=r"\.jsonl\.gz: row 2: a key-value record should be \[key, value\]"):
        load_kv_retrieval(root=tmp_path)


# --- bAbI ------------------------------------------------------------------------------------------------------------

_TINY_STORY = """1 Mary went to the kitchen.
2 John moved to the garden.
3 Where is Mary? \tkitchen\t1
4 Mary travelled to the office.
5 Mary journeyed to the kitchen.
6 Mary went back to the hallway.
7 John went to the garden.
8 Where is Mary? \thallway\t6
1 Sandra went to the bedroom.
2 Where is Sandra?|bedroom|1
"""


def _babi_root(tmp_path: Path, text: str, name: str = "qa1_single-supporting-fact_test.txt") -> Path:
    folder = tmp_path / "babi" / "en"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return tmp_path


@pytest.fixture(scope="module")
def babi_all(data_dir: Path) -> list[Instance]:
    return load_babi(root=data_dir)


def test_babi_parser_reads_both_separators(data_dir: Path) -> None:
    pipes = parse_babi(data_dir / "babi" / "en" / "qa1_single-supporting-fact_test.txt")  # 'Q |answer|ids'
    tabs = parse_babi(data_dir / "babi" / "en" / "qa2_two-supporting-facts_test.txt")  # 'Q \tanswer\tids'
    for stories in (pipes, tabs):
        assert len(stories) == 200
        assert sum(line.is_question for story in stories for line in story) == 1000
    assert (pipes[0][2].text, pipes[0][2].answer, pipes[0][2].support) == ("Where is John?", "hallway", (1,))
    assert (tabs[0][4].text, tabs[0][4].answer, tabs[0][4].support) == ("Where is the milk?", "hallway", (1, 4))


def test_babi_ar_counts_and_scoped_questions(babi_all: list[Instance]) -> None:
    assert len(babi_all) == 312 and sum(i.num_questions for i in babi_all) == 8619
    per_task: dict[int, int] = {}
    for inst in babi_all:
        per_task[inst.metadata["task"]] = per_task.get(inst.metadata["task"], 0) + inst.num_questions
    assert per_task[1] == 200 and per_task[4] == 933 and per_task[20] == 93 and len(per_task) == 20
    assert [i.metadata["task"] for i in babi_all[:4]] == [1, 2, 3, 4]  # tasks interleaved
    for inst, q in _all_questions(babi_all):
        story = q.metadata["story"]
        assert q.question.startswith(f"In story {story}")
        text = "\n".join(inst.chunks)
        assert f"Story {story}:" in text
        assert all(s in text for s in q.metadata["supporting"])


def test_babi_ar_spot_check_and_metrics(babi_all: list[Instance]) -> None:
    first = babi_all[0]
    assert first.id == "babi-qa1-all-0" and first.data_source == "babi" and first.capability == "AR"
    q = first.questions[0]
    assert (q.question, q.answers, q.metric) == ("In story 1, where is Sandra?", ["hallway"], "sub_em_normalized")
    story_1 = "\n".join(first.chunks).split("Story 1:\n")[1].split("Story 2:")[0]
    assert story_1.rstrip().endswith("Sandra went back to the hallway.")  # the story's last move is the answer
    metrics = {(i.metadata["task"], q.metric) for i in babi_all for q in i.questions}
    assert (8, "multipart_match") in metrics and (6, "sub_em_normalized") in metrics
    paths = [q for i in babi_all if i.metadata["task"] == 19 for q in i.questions]
    assert all(re.fullmatch(r"(north|south|east|west)(, (north|south|east|west))*", q.answers[0]) for q in paths)


def test_babi_cr_counts_and_superseded(data_dir: Path) -> None:
    cr = load_babi(root=data_dir, capability="CR")  # also checks the move reader against every task-1 gold
    assert len(cr) == 30 and sum(i.num_questions for i in cr) == 2097
    assert {i.data_source for i in cr} == {"babi_cr"} and {i.capability for i in cr} == {"CR"}
    for _, q in _all_questions(cr):
        history = q.metadata["history"]
        assert q.metric == "conflict_aware" and q.answers == [history[-1]]
        assert q.superseded == list(dict.fromkeys(p for p in history if p != history[-1]))
        assert q.superseded


def test_babi_cr_on_a_hand_written_story(tmp_path: Path) -> None:
    root = _babi_root(tmp_path, _TINY_STORY)
    (inst,) = load_babi(root=root, capability="CR", tasks=[1])
    (q,) = inst.questions  # John never changed place; Sandra never moved twice
    mary = q.metadata["story"]
    assert q.question == f"In story {mary}, where is Mary now?"
    assert q.answers == ["hallway"] and q.superseded == ["kitchen", "office"]  # every earlier place, once
    assert f"Story {mary}:\nMary went to the kitchen." in inst.chunks[0]
    (ar,) = load_babi(root=root, tasks=[1])  # only closing questions, scoped to their story
    assert {(x.question, x.answers[0]) for x in ar.questions} == {
        (f"In story {mary}, where is Mary?", "hallway"),
        (f"In story {3 - mary}, where is Sandra?", "bedroom"),
    }
    wrong = _TINY_STORY.replace("\thallway\t6", "\toffice\t6")
    with pytest.raises(SourceRowError, match=r"qa1_single-supporting-fact_test\.txt: row 8: the gold answer 'office'"):
        load_babi(root=_babi_root(tmp_path, wrong), capability="CR", tasks=[1])


@pytest.mark.parametrize(
    ("line", "row", "reason"),
    [
        ("x Mary went to the office.", 3, "expected 'ID sentence'"),
        ("5 Mary went to the office.", 3, "line id 5 does not follow id 2"),
        ("3 Where is Mary?\t\t1", 3, "a question line needs"),
        ("3 Where is Mary?\toffice\t7", 3, "supporting ids '7'"),
    ],
)
def test_babi_malformed_lines_name_file_and_row(tmp_path: Path, line: str, row: int, reason: str) -> None:
    root = _babi_root(tmp_path, f"1 Mary went to the kitchen.\n2 John moved to the garden.\n{line}\n")
    with pytest.raises(SourceRowError, match=rf"qa1_single-supporting-fact_test\.txt: row {row}: {re.escape(reason)}"):
        load_babi(root=root, tasks=[1])


def test_babi_split_determinism_limit_and_knobs(data_dir: Path, babi_all: list[Instance], tmp_path: Path) -> None:
    train = load_babi(root=data_dir, split="train", tasks=[1, 4])
    evals = load_babi(root=data_dir, split="eval", tasks=[1, 4])
    stories = [{(s["file"], s["first_line"]) for i in part for s in i.metadata["stories"]} for part in (train, evals)]
    assert stories[0] and stories[1] and not stories[0] & stories[1]
    assert len(stories[0] | stories[1]) == 200 + 933  # task 4 keeps each repeated story once
    assert _dump(load_babi(root=data_dir, limit=7)) == _dump(babi_all[:7])
    assert load_babi(root=data_dir, seed=5, limit=1)[0].questions != babi_all[0].questions
    both = load_babi(root=data_dir, tasks=[1, 6], files=("train", "test"), stories_per_instance=50)
    assert sum(i.num_questions for i in both) == 400 + 200  # task 6 has no train file
    with pytest.raises(ValueError, match="tasks for capability 'CR'"):
        load_babi(root=data_dir, capability="CR", tasks=[4])
    with pytest.raises(SourceNotFoundError, match="no bAbI file for task 2"):
        load_babi(root=_babi_root(tmp_path, _TINY_STORY), tasks=[1, 2])
