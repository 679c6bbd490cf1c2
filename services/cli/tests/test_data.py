"""`memalpha data build|stats|validate` on a tiny recipe of generated instances (no real data needed)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from memalpha_cli import cli
from memalpha_data import Instance, Question, dataset_stats, read_instances, write_instances

Invoke = Callable[..., Result]

RECIPE = """\
name: tiny
description: Two generated capabilities, small.
seed: 3
splits:
  train:
    - {source: generate, limit: 2, params: {capability: AR, target_tokens: 500, chunk_tokens: 200, num_questions: 3}}
    - source: generate
      limit: 1
      params: {capability: CR, target_tokens: 500, chunk_tokens: 200, num_updates: 1, num_questions: 2}
  eval:
    - {source: generate, seed: 99, limit: 1, params: {capability: AR, target_tokens: 500, chunk_tokens: 200}}
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """`memalpha data build tiny --json` run once: the recipes folder and the parsed summary."""
    root = tmp_path_factory.mktemp("build")
    (root / "recipes").mkdir()
    (root / "recipes" / "tiny.yaml").write_text(RECIPE)
    args = ["data", "build", "tiny", "--recipes-dir", str(root / "recipes"), "--out", str(root / "out"), "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return root, json.loads(result.stdout)


def test_build_json_summary(built: tuple[Path, dict[str, object]]) -> None:
    root, summary = built
    out_dir = root / "out" / "tiny"
    assert summary["recipe"] == "tiny"
    assert summary["out_dir"] == str(out_dir)
    assert summary["instances"] == {"train": 3, "eval": 1}
    assert summary["files"] == {"train": str(out_dir / "train.parquet"), "eval": str(out_dir / "eval.parquet")}
    assert isinstance(summary["seconds"], float)
    assert {p.name for p in out_dir.iterdir()} == {"train.parquet", "eval.parquet", "card.md", "card.json"}
    train = read_instances(out_dir / "train.parquet")
    splits = summary["splits"]
    assert isinstance(splits, dict)
    assert splits["train"] == [{**asdict(r), "metrics": list(r.metrics)} for r in dataset_stats(train)]


def test_build_table_and_progress(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "tiny.yaml").write_text(RECIPE)
    result = invoke("data", "build", "tiny")  # defaults: ./datasets, ./datasets/generated
    assert result.exit_code == 0, result.output
    assert (tmp_path / "datasets" / "generated" / "tiny" / "train.parquet").is_file()
    assert "built tiny: train 3, eval 1 instances" in result.stdout
    assert "gen_" in result.stdout  # the data sources of the stats table
    assert "tiny/train: generate (1/2)" in result.stderr  # one progress line per entry


def test_build_from_a_path_and_env_recipes_dir(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(RECIPE)
    result = invoke("data", "build", str(path), "--out", str(tmp_path / "o"), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["instances"] == {"train": 3, "eval": 1}
    result = invoke("data", "build", "tiny", "--out", str(tmp_path / "o2"), env={"MEMALPHA_RECIPES_DIR": str(tmp_path)})
    assert result.exit_code == 1  # the env folder holds mine.yaml, not tiny.yaml
    assert "known: ['mine']" in result.stderr


def test_build_unknown_recipe(invoke: Invoke) -> None:
    result = invoke("data", "build", "nope")
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: no recipe 'nope'")


def test_build_bad_recipe_fails_on_one_line_and_writes_nothing(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(RECIPE.replace("num_questions: 2", "num_questions: 2, colour: red"))
    result = invoke("data", "build", str(path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert "bad generator parameters" in line
    assert not (tmp_path / "out" / "tiny").exists()


def test_stats_json_matches_dataset_stats(invoke: Invoke, built: tuple[Path, dict[str, object]]) -> None:
    root, _ = built
    files = [root / "out" / "tiny" / "train.parquet", root / "out" / "tiny" / "eval.parquet"]
    result = invoke("data", "stats", *map(str, files), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)["files"]
    assert [d["file"] for d in data] == list(map(str, files))
    assert [d["instances"] for d in data] == [3, 1]
    rows = dataset_stats(read_instances(files[0]))
    assert [s["data_source"] for s in data[0]["sources"]] == [r.data_source for r in rows]
    assert data[0]["sources"][0]["tokens_per_instance"] == rows[0].tokens_per_instance


def test_stats_table_and_markdown(invoke: Invoke, built: tuple[Path, dict[str, object]]) -> None:
    root, _ = built
    file = str(root / "out" / "tiny" / "train.parquet")
    result = invoke("data", "stats", file)
    assert result.exit_code == 0, result.output
    assert "Tok/Ins (max)" in result.stdout
    assert "total" in result.stdout
    result = invoke("data", "stats", file, "--markdown")
    assert result.exit_code == 0
    assert "| Dataset | Cap. | Metric | Ins. |" in result.stdout
    assert "| **total** | | | 3 |" in result.stdout


def test_stats_of_a_broken_file(invoke: Invoke, tmp_path: Path) -> None:
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    result = invoke("data", "stats", str(broken))
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert "not a readable parquet file" in line


def test_stats_needs_existing_files(invoke: Invoke) -> None:
    assert invoke("data", "stats").exit_code == 2
    assert invoke("data", "stats", "missing.parquet").exit_code == 2


def test_validate_clean_files(invoke: Invoke, built: tuple[Path, dict[str, object]]) -> None:
    root, _ = built
    files = [str(root / "out" / "tiny" / f"{split}.parquet") for split in ("train", "eval")]
    result = invoke("data", "validate", *files)
    assert result.exit_code == 0, result.output
    assert f"{files[0]}: 3 instances, ok" in result.stdout
    result = invoke("data", "validate", *files, "--json")
    assert json.loads(result.stdout) == {
        "ok": True,
        "files": [
            {"file": files[0], "readable": True, "instances": 3, "problems": []},
            {"file": files[1], "readable": True, "instances": 1, "problems": []},
        ],
    }


def test_validate_broken_parquet_exits_1(invoke: Invoke, built: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    root, _ = built
    good = str(root / "out" / "tiny" / "eval.parquet")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    result = invoke("data", "validate", good, str(broken), "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert data["files"][0]["problems"] == []
    assert data["files"][1]["readable"] is False
    assert "not a readable parquet file" in data["files"][1]["problems"][0]


def test_validate_reports_problems(invoke: Invoke, tmp_path: Path) -> None:
    instance = Instance(
        id="i1",
        data_source="handmade",
        capability="AR",
        chunks=["Ana lives in Porto."],
        questions=[Question(question="Where does Ana live?", answers=["Lisbon"], metric="sub_em")],
    )
    file = tmp_path / "dup.parquet"
    write_instances(file, [instance, instance])
    result = invoke("data", "validate", str(file))
    assert result.exit_code == 1
    assert "2 instances, 3 problem(s)" in result.stdout
    assert "i1: duplicate instance id" in result.stdout
    assert "no answer appears in the chunks" in result.stdout
