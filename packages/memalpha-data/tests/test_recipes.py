"""Recipes: loading, checking, building into parquet plus a card, and never leaving half a build behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from memalpha_data import (
    SOURCES,
    Instance,
    Question,
    Recipe,
    RecipeError,
    build_recipe,
    check_recipe,
    dataset_stats,
    load_recipe,
    read_instances,
    stats_table,
    validate_instances,
)
from memalpha_data.sources import Source

GENERATED = """
name: tiny
description: Two generated sources.
seed: 3
splits:
  train:
    - {source: generate, limit: 2, params: {capability: AR, target_tokens: 800, chunk_tokens: 200, num_questions: 5}}
    - {source: generate, limit: 1, params: {capability: TTL, target_tokens: 700, chunk_tokens: 200, num_labels: 3}}
  eval:
    - {source: generate, seed: 99, limit: 1, params: {capability: AR, target_tokens: 800, chunk_tokens: 200}}
"""


def _write(tmp_path: Path, text: str, name: str = "tiny") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_load_by_path_and_by_name(tmp_path, monkeypatch):
    path = _write(tmp_path, GENERATED)
    by_path = load_recipe(path)
    assert by_path.name == "tiny" and by_path.seed == 3 and list(by_path.splits) == ["train", "eval"]
    assert load_recipe("tiny", recipes_dir=tmp_path) == by_path
    monkeypatch.setenv("MEMALPHA_RECIPES_DIR", str(tmp_path))
    assert load_recipe("tiny") == by_path
    with pytest.raises(RecipeError, match=r"no recipe 'nope'.*known: \['tiny'\]"):
        load_recipe("nope")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nsplits: {train: [{source: wiki}]}", r"entry 0 \(wiki\): unknown source; known: \["),
        ("name: x\nsplits: {train: [{source: squad, params: {chunkz: 3}}]}", r"unknown parameter\(s\) \['chunkz'\]"),
        ("name: x\nsplits: {train: [{source: squad, params: {limit: 3}}]}", r"set \['limit'\] on the entry itself"),
        ("name: x\nsplits: {train: [{source: generate, params: {capability: AR}}]}", "needs limit"),
        ("name: x\nsplits: {train: [{source: generate, limit: 1, params: {capability: XX}}]}", "bad generator"),
        ("name: x\nsplits: {train: [{source: squad, limit: 0}]}", "greater than or equal to 1"),
        ("name: x\nsplits: {train: [{source: squad, colour: red}]}", "colour"),
        ("name: x\nsplits: {}", "splits"),
        ("name: [unclosed", "not valid YAML"),
    ],
)
def test_bad_recipes_are_clear_errors(tmp_path, text, message):
    with pytest.raises(RecipeError, match=message):
        check_recipe(load_recipe(_write(tmp_path, text, "bad")))


def test_build_writes_parquet_and_a_card(tmp_path):
    recipe = load_recipe(_write(tmp_path, GENERATED))
    seen: list[str] = []
    result = build_recipe(recipe, tmp_path / "out" / "tiny", on_entry=seen.append)
    assert seen == ["tiny/train: generate (1/2)", "tiny/train: generate (2/2)", "tiny/eval: generate (1/1)"]
    train = read_instances(result.files["train"])
    assert [i.data_source for i in train] == ["gen_ar", "gen_ar", "gen_ttl"]
    assert len(read_instances(result.files["eval"])) == 1
    assert sorted(p.name for p in result.out_dir.iterdir()) == ["card.json", "card.md", "eval.parquet", "train.parquet"]
    card = (result.out_dir / "card.md").read_text()
    assert card.startswith("# Dataset card: `tiny`\n\nTwo generated sources.")
    assert "| gen_ar | AR | sub_em | 2 |" in card and "| gen_ttl | TTL | boxed_label_em | 1 |" in card
    assert "- seed: 3" in card
    assert [s.instances for s in result.stats["train"]] == [2, 1]
    # the same recipe builds the same bytes
    again = build_recipe(recipe, tmp_path / "again")
    assert again.files["train"].read_bytes() == result.files["train"].read_bytes()


def test_a_failed_build_keeps_the_previous_one_and_leaves_no_temp_folder(tmp_path, monkeypatch):
    recipe = load_recipe(_write(tmp_path, GENERATED))
    out = tmp_path / "out"
    build_recipe(recipe, out / "tiny")
    before = (out / "tiny" / "train.parquet").read_bytes()

    def broken(**_kwargs):
        raise OSError("disk full")

    monkeypatch.setitem(SOURCES, "broken", Source(broken))
    failing = Recipe.model_validate(
        {**recipe.model_dump(), "splits": {**recipe.model_dump()["splits"], "more": [{"source": "broken"}]}}
    )
    with pytest.raises(OSError, match="disk full"):
        build_recipe(failing, out / "tiny")
    assert (out / "tiny" / "train.parquet").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["tiny"]


def test_the_same_generated_instance_in_two_splits_is_refused(tmp_path):
    text = GENERATED.replace("seed: 99, ", "")  # eval's generator now shares train's seed
    with pytest.raises(RecipeError, match=r"instance 'gen-ar-3-0' is in splits 'train' and 'eval'"):
        build_recipe(load_recipe(_write(tmp_path, text)), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_real_sources_get_the_split_of_the_recipe_split(tmp_path, data_dir):
    entry = "{source: situatedqa, limit: 1, params: {questions_per_instance: 2, distractors_per_instance: 2}}"
    text = f"name: real\nsplits:\n  train: [{entry}]\n  eval: [{entry}]\n"
    result = build_recipe(load_recipe(_write(tmp_path, text, "real")), tmp_path / "out", root=data_dir)
    assert [read_instances(result.files[s])[0].id for s in ("train", "eval")] == [
        "situatedqa-train-0",
        "situatedqa-eval-0",
    ]
    # a split of another name reads the whole source unless the entry names the source's split
    text = f"name: real\nsplits:\n  holdout: [{entry[:-1]}, split: eval}}]\n"
    result = build_recipe(load_recipe(_write(tmp_path, text, "real")), tmp_path / "out2", root=data_dir)
    assert read_instances(result.files["holdout"])[0].id == "situatedqa-eval-0"


def _instance(id_, source="squad", chunks=("Paris is in France.", "Rome is in Italy."), answers=("Paris",)):
    return Instance(
        id=id_,
        data_source=source,
        capability="AR",
        chunks=list(chunks),
        questions=[Question(question=f"q{i}", answers=[a]) for i, a in enumerate(answers)],
    )


def test_dataset_stats_and_table():
    rows = dataset_stats([_instance("a"), _instance("b", chunks=("One two three four.",), answers=("One", "two", "x"))])
    (row,) = rows
    assert (row.data_source, row.capability, row.metrics, row.instances) == ("squad", "AR", ("sub_em",), 2)
    assert row.chunks_per_instance == 1.5
    assert row.tokens_per_chunk == pytest.approx((5 + 5 + 5) / 3)
    assert row.questions_per_instance == 2.0
    assert (row.tokens_per_instance, row.max_tokens_per_instance) == (7.5, 10)
    assert "| squad | AR | sub_em | 2 | 1.5 | 5 | 2.0 | 8 (10) |" in stats_table(rows)


def test_validate_instances_reports_duplicates_and_unanswerable_questions():
    problems = validate_instances([_instance("a"), _instance("a"), _instance("b", answers=("Madrid",))])
    assert problems == [
        "a: duplicate instance id",
        "b: question 0 ('q0'): no answer appears in the chunks",
    ]
    assert validate_instances([_instance("a")]) == []
