"""Parquet in the paper's layout, MemoryAgentBench rows, HF datasets, atomic writes."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from memalpha_data.exceptions import InstanceFormatError, SourceNotFoundError
from memalpha_data.instance import Instance, Question
from memalpha_data.io import (
    instance_from_memoryagentbench,
    iter_instances,
    read_instances,
    read_memoryagentbench,
    write_instances,
)


def _instances():
    return [
        Instance(
            id="squad-0",
            data_source="squad",
            capability="AR",
            chunks=["Paris is the capital of France.", "Berlin is in Germany."],
            questions=[
                Question(question="Capital of France?", answers=["Paris"]),
                Question(question="Where is Berlin?", answers=["Germany", "in Germany"], query_prefix="geo: "),
            ],
            metadata={"article": "Capitals", "rows": [1, 2]},
        ),
        Instance(
            id="sit-1",
            data_source="situatedqa",
            capability="CR",
            chunks=["In 1990 it was X.", "In 2018 it became Y."],
            questions=[
                Question(
                    question="What is it now?",
                    answers=["Y"],
                    metric="conflict_aware",
                    superseded=["X"],
                    metadata={"as_of": "2021"},
                )
            ],
            prompt="Remember facts.",
        ),
    ]


def test_round_trip_keeps_every_field(tmp_path):
    path = write_instances(tmp_path / "out" / "train.parquet", _instances())
    assert read_instances(path) == _instances()
    assert [i.id for i in iter_instances(path)] == ["squad-0", "sit-1"]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp file left


def test_files_are_in_the_papers_layout(tmp_path):
    path = write_instances(tmp_path / "t.parquet", _instances())
    table = pq.read_table(path)
    assert table.column_names[:8] == [
        "instance_id",
        "prompt",
        "chunks",
        "questions_and_answers",
        "data_source",
        "metadata",
        "num_chunks",
        "num_questions",
    ]
    row = table.to_pylist()[0]
    # what the paper's readers do: json.loads the two columns, read question / answer
    qa = json.loads(row["questions_and_answers"])
    assert [(q["question"], q["answer"]) for q in qa] == [
        ("Capital of France?", "Paris"),
        ("Where is Berlin?", ["Germany", "in Germany"]),
    ]
    assert json.loads(row["chunks"])[0] == "Paris is the capital of France."
    assert (row["instance_id"], row["num_chunks"], row["num_questions"]) == (0, 2, 2)
    assert row["prompt"]  # a default task description when the instance has none


def test_a_file_written_by_the_paper_loads_unchanged(tmp_path):
    """A fixture with only the paper's columns and value types (int ids, answers as str or list, JSON metadata)."""
    rows = {
        "instance_id": [0, 1, 2],
        "prompt": ["p", "p", "p"],
        "chunks": [json.dumps(["c1", "c2"]), json.dumps(["Sentence: hi\nLabel: 3"]), json.dumps(["book"])],
        "questions_and_answers": [
            json.dumps([{"question": "q?", "answer": "c1"}, {"question": "r?", "answer": ["a", "b"]}]),
            json.dumps([{"question": "Sentence: yo\nWhat are the labels?", "answer": "3"}]),
            json.dumps([{"question": "Summarize.", "answer": "ring, frodo"}]),
        ],
        "data_source": ["hotpotqa", "icl_trec_coarse_6600shot_balance", "booksum"],
        "metadata": [json.dumps({"k": 1}), "{}", "null"],
        "num_chunks": [2, 1, 1],
        "num_questions": [2, 1, 1],
    }
    path = tmp_path / "paper.parquet"
    pq.write_table(pa.table(rows), path)
    loaded = read_instances(path)
    assert [(i.id, i.capability) for i in loaded] == [
        ("hotpotqa-0", "AR"),
        ("icl_trec_coarse_6600shot_balance-1", "TTL"),
        ("booksum-2", "LRU"),
    ]
    assert [q.metric for i in loaded for q in i.questions] == ["sub_em", "sub_em", "boxed_label_em", "keyword_hit"]
    assert loaded[0].questions[1].answers == ["a", "b"]
    assert loaded[0].metadata == {"k": 1}
    assert loaded[2].metadata == {"value": None}


def test_loadable_with_hf_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    path = write_instances(tmp_path / "t.parquet", _instances())
    dataset = datasets.Dataset.from_parquet(str(path))
    assert dataset.num_rows == 2
    assert dataset[1]["data_source"] == "situatedqa"
    assert json.loads(dataset[0]["chunks"]) == _instances()[0].chunks


def test_bad_rows_name_the_file_and_row(tmp_path):
    path = write_instances(tmp_path / "t.parquet", _instances())
    table = pq.read_table(path)
    broken = table.set_column(2, "chunks", pa.array([table["chunks"][0].as_py(), "[not json"]))
    pq.write_table(broken, path)
    with pytest.raises(InstanceFormatError, match=r"t\.parquet: row 1: column 'chunks' is not valid JSON"):
        read_instances(path)
    empty_answer = table.set_column(
        3, "questions_and_answers", pa.array([json.dumps([{"question": "q"}]), table[3][1].as_py()])
    )
    pq.write_table(empty_answer, path)
    with pytest.raises(InstanceFormatError, match=r"row 0: each question needs 'question' and 'answer'"):
        read_instances(path)


def test_missing_and_foreign_files_are_clear_errors(tmp_path):
    with pytest.raises(SourceNotFoundError, match="no parquet file"):
        read_instances(tmp_path / "absent.parquet")
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(InstanceFormatError, match="not a readable parquet file"):
        read_instances(tmp_path / "junk.parquet")
    mab = tmp_path / "mab.parquet"
    pq.write_table(pa.table({"context": ["x"], "questions": [["q"]], "answers": [[["a"]]]}), mab)
    with pytest.raises(InstanceFormatError, match="read_memoryagentbench"):
        read_instances(mab)


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = write_instances(tmp_path / "t.parquet", _instances())
    before = path.read_bytes()

    def broken():
        yield _instances()[0]
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        write_instances(path, broken())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]


def _mab_table(tmp_path):
    context = " ".join(f"Sentence {i} says the code is {1000 + i}." for i in range(400))
    rows = [
        {
            "context": context,
            "questions": ["What code does sentence 7 give?", "And sentence 300?"],
            "answers": [["1007"], ["1300"]],
            "metadata": {"source": "ruler_qa1_197K", "qa_pair_ids": ["a", "b"]},
        },
        {
            "context": "how do i reset my alarm\nlabel: 3\n" * 50,
            "questions": ["wake me at 7"],
            "answers": [["3"]],
            "metadata": {"source": "icl_nlu_8296shot_balance"},
        },
        {
            "context": "It was a dark night. Frodo walked to Mordor. " * 100,
            "questions": ["Summarize the book."],
            "answers": [["Frodo walks to Mordor on a dark night."]],
            "metadata": {"source": "infbench_sum_eng_shots2"},
        },
    ]
    path = tmp_path / "mab.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_memoryagentbench_rows_are_chunked_and_routed(tmp_path):
    path = _mab_table(tmp_path)
    ruler, icl, book = read_memoryagentbench(path, chunk_tokens=500)
    assert (ruler.id, ruler.capability, ruler.questions[0].metric) == ("ruler_qa1_197K-0", "AR", "sub_em_normalized")
    assert ruler.num_chunks > 5
    assert ruler.chunks[0].startswith("[Dialogue between User and Assistant on 2024-01-01")
    assert any("the code is 1300." in c for c in ruler.chunks)
    assert ruler.metadata["memoryagentbench"]["source"] == "ruler_qa1_197K"
    assert icl.capability == "TTL" and icl.questions[0].metric == "boxed_label_em"
    assert (
        icl.questions[0].question.startswith("Sentence: wake me at 7\n")
        and "\\boxed{label}" in icl.questions[0].question
    )
    assert book.capability == "LRU" and book.questions[0].metric == "keyword_hit"
    assert book.questions[0].question.startswith("Summarize the content of the book I read from 2024-01-01 to ")
    assert "frodo" in book.questions[0].answers[0]
    only = read_memoryagentbench(path, sources=["icl_nlu_8296shot_balance"])
    assert [i.id for i in only] == ["icl_nlu_8296shot_balance-1"]


def test_longmemeval_contexts_become_sessions():
    sessions = ["2023/05/01 (Mon) 10:00", [{"role": "user", "content": "I adopted a cat named Miso."}]]
    sessions += ["2023/05/09 (Tue) 09:00", [{"role": "assistant", "content": "Noted!"}]]
    row = {
        "context": json.dumps(sessions),
        "questions": ["What is my cat's name?"],
        "answers": [["Miso"]],
        "metadata": {"source": "longmemeval_s*"},
    }
    instance = instance_from_memoryagentbench(row)
    assert instance.questions[0].metric == "llm_judge"
    assert "[Dialogue at timestamp 2023/05/01 (Mon) 10:00]\n<User> I adopted a cat named Miso." in instance.chunks[0]


def test_memoryagentbench_row_errors():
    with pytest.raises(InstanceFormatError, match=r"missing MemoryAgentBench column\(s\) \['answers'\]"):
        instance_from_memoryagentbench({"context": "x", "questions": []})
    with pytest.raises(InstanceFormatError, match="equal length"):
        instance_from_memoryagentbench({"context": "x", "questions": ["a"], "answers": []})
