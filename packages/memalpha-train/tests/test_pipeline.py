"""The main job end to end on the tiny model: data, SFT, GRPO, evaluation, report; resume skips finished work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memalpha_rollout import RunFolder
from memalpha_train import (
    CheckpointError,
    MemalphaTrainError,
    RecipeError,
    bootstrap_difference,
    load_recipe,
    run_training,
)

RECIPE = Path(__file__).with_name("data") / "tiny.yaml"
DATASETS = Path(__file__).resolve().parents[3] / "datasets"


def test_run_training_end_to_end(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_training(load_recipe(RECIPE), runs_dir=tmp_path, run_id="r1", recipes_dir=DATASETS, say=lines.append)
    run = result.run.path
    assert [r.method for r in result.results] == ["base", "sft", "grpo"]
    assert set(result.held_out_reward) == {"base", "sft", "grpo"}
    assert result.comparison is not None and result.comparison["instances"] == 2
    assert result.model_dir == run / "grpo" / "best"  # validation ran every checkpoint and kept the best
    for path in ("data/train.parquet", "sft/config.json", "grpo/final/config.json", "grpo/checkpoint-2"):
        assert (run / path).exists(), path
    assert not list(run.glob("**/*.partial"))
    metrics = RunFolder.open(run).read_metrics()
    phases = {m["phase"] for m in metrics}
    assert {"sft", "grpo", "validation"} <= phases
    grpo_steps = [m for m in metrics if m["phase"] == "grpo" and "reward" in m]
    assert [m["step"] for m in grpo_steps] == [1, 2]
    report = result.report.read_text(encoding="utf-8") if result.report else ""
    assert "GRPO - SFT held-out reward" in report and "| grpo |" in report
    assert (run / "html" / "index.html").is_file()
    assert json.loads((run / "results" / "results.json").read_text(encoding="utf-8"))[2]["method"] == "grpo"
    assert any(line.startswith("GRPO: 2 steps") for line in lines)

    # resuming a finished run redoes nothing and gives the same results
    again = run_training(load_recipe(RECIPE), runs_dir=tmp_path, run_id="r1", resume=True, recipes_dir=DATASETS)
    assert [r.mean_over_sources for r in again.results] == [r.mean_over_sources for r in result.results]


def test_resume_needs_a_run_id(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="resume needs the run id"):
        run_training(load_recipe(RECIPE), runs_dir=tmp_path, resume=True)


def test_an_existing_run_is_never_overwritten_and_a_missing_one_cannot_resume(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "metrics.jsonl").write_text("{}\n")
    with pytest.raises(MemalphaTrainError, match=r"'taken' already exists .* --resume taken"):
        run_training(load_recipe(RECIPE), runs_dir=tmp_path, run_id="taken")
    assert (tmp_path / "taken" / "metrics.jsonl").read_text() == "{}\n"
    with pytest.raises(CheckpointError, match="no run 'nope' to resume"):
        run_training(load_recipe(RECIPE), runs_dir=tmp_path, run_id="nope", resume=True)


def test_misaligned_checkpoints_are_refused(tmp_path: Path) -> None:
    recipe = load_recipe(
        RECIPE, {"grpo.steps_per_generation": 2, "grpo.per_device_train_batch_size": 2, "grpo.save_steps": 1}
    )
    with pytest.raises(RecipeError, match="save_steps=1 is not a multiple of the generation window"):
        run_training(recipe, runs_dir=tmp_path, run_id="r", recipes_dir=DATASETS)


def test_bootstrap_difference() -> None:
    result = bootstrap_difference({"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 0.0, "b": 1.0, "c": 2.0}, samples=100)
    assert result == {"mean": 1.0, "low": 1.0, "high": 1.0, "instances": 3.0}
    spread = bootstrap_difference({"a": 2.0, "b": 0.0}, {"a": 0.0, "b": 0.0}, samples=500)
    assert spread["low"] == 0.0 and spread["high"] == 2.0 and spread["mean"] == 1.0
    with pytest.raises(ValueError, match="no instance is shared"):
        bootstrap_difference({"a": 1.0}, {"b": 1.0})


def test_random_weights_from_a_config(tiny_model_dir: Path, tmp_path: Path) -> None:
    """`config:PATH` builds a model with random weights from a config (sizes for throughput without the hub)."""
    from transformers import AutoModelForCausalLM

    from memalpha_train.pipeline import _resolve_model

    recipe = load_recipe(RECIPE, {"model": f"config:{tiny_model_dir / 'config.json'}"})
    run = RunFolder.create(tmp_path, run_id="cfg")
    folder = _resolve_model(recipe, run, lambda line: None)
    assert folder == run.path / "models" / "config"
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert model.config.hidden_size == AutoModelForCausalLM.from_pretrained(tiny_model_dir).config.hidden_size
    assert (folder / "tokenizer_config.json").is_file()
