"""Recipes: every shipped one validates and builds TRL's configs; mistakes get errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from memalpha_train import Recipe, RecipeError, list_recipes, load_recipe
from memalpha_train.pipeline import window_steps


def test_the_shipped_recipes() -> None:
    names = list_recipes()
    for expected in ("cpu-demo", "cpu-long", "qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-4b-lora"):
        assert expected in names


@pytest.mark.parametrize("name", list_recipes())
def test_every_shipped_recipe_builds_its_configs(name: str, tmp_path: Path) -> None:
    recipe = load_recipe(name)
    assert recipe.name == name
    # GPU recipes ask for bf16, which TRL refuses on a CPU-only machine: check the rest of their settings here
    on_cpu = {} if recipe.grpo.get("use_cpu") else {"bf16": False, "use_cpu": True}
    grpo = recipe.grpo_config(tmp_path / "grpo", **on_cpu)
    assert grpo.num_generations >= 2 and grpo.output_dir == str(tmp_path / "grpo")
    assert grpo.eval_strategy == "no"
    if grpo.save_strategy != "no":
        assert grpo.save_steps % window_steps(grpo) == 0, "checkpoints must fall on generation windows"
    recipe.sft_config(tmp_path / "sft", **on_cpu)
    if recipe.lora is not None:
        assert recipe.lora_config().r > 0


def test_the_paper_recipe_keeps_the_papers_hyperparameters(tmp_path: Path) -> None:
    recipe = load_recipe("qwen3-4b")
    grpo = recipe.grpo_config(tmp_path, bf16=False, use_cpu=True)
    assert recipe.grpo["bf16"] is True
    assert grpo.learning_rate == 1e-6 and grpo.num_generations == 8 and grpo.max_completion_length == 2048
    assert grpo.epsilon == 0.2 and grpo.loss_type == "dapo" and grpo.beta == 0.001
    assert grpo.use_bias_correction_kl is False  # verl's low_var_kl
    # 32 instances x G = 8 rollout slots per generation on one process
    assert grpo.per_device_train_batch_size * grpo.steps_per_generation == 32 * 8
    assert (recipe.rollout.compression_weight, recipe.rollout.content_weight) == (0.05, 0.1)
    assert recipe.rollout.paper_compat  # a chunk with no calls scores r2 = r4 = 0, as in the paper
    assert recipe.rollout.max_prompt_tokens == 6144


def test_unknown_recipe_lists_the_shipped_ones() -> None:
    with pytest.raises(RecipeError, match=r"no recipe named 'cpu-dmeo'; shipped recipes: .*cpu-demo"):
        load_recipe("cpu-dmeo")
    with pytest.raises(RecipeError, match="does not exist"):
        load_recipe("missing/recipe.yaml")


def test_unknown_fields_are_named(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match=r"grpo: unknown GRPOConfig field\(s\) \['learning_rat'\]"):
        load_recipe("cpu-demo", {"grpo.learning_rat": 1e-5})
    with pytest.raises(RecipeError, match=r"rollout\.tool_fromat"):
        load_recipe("cpu-demo", {"rollout.tool_fromat": "hermes"})
    with pytest.raises(RecipeError, match=r"sft.args: unknown SFTConfig field\(s\) \['epochs'\]"):
        load_recipe("cpu-demo", {"sft.args.epochs": 3})


def test_invalid_values_are_reported_with_the_recipe(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="num_generations must be at least 2"):
        load_recipe("cpu-demo", {"grpo.num_generations": 1})
    with pytest.raises(RecipeError, match=r"rollout\.tool_format"):
        load_recipe("cpu-demo", {"rollout.tool_format": "xml"})
    with pytest.raises(RecipeError, match="output_dir is set by the run folder"):
        load_recipe("cpu-demo", {"grpo.output_dir": "/elsewhere"})
    recipe = load_recipe("cpu-demo", {"grpo.generation_batch_size": 3})  # TRL itself rejects this combination
    with pytest.raises(RecipeError, match=r"recipe 'cpu-demo', section grpo"):
        recipe.grpo_config(tmp_path)


def test_yaml_problems(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n", encoding="utf-8")
    with pytest.raises(RecipeError, match="must be a YAML mapping"):
        load_recipe(scalar)


def test_overrides_and_files(tmp_path: Path) -> None:
    recipe = load_recipe("cpu-demo", {"grpo.max_steps": 1, "data.max_train": 2})
    assert recipe.grpo["max_steps"] == 1 and recipe.data.max_train == 2
    assert (
        recipe.share_prompt_prefix and not load_recipe("cpu-demo", {"share_prompt_prefix": False}).share_prompt_prefix
    )
    with pytest.raises(RecipeError, match="share_prompt_prefix"):
        load_recipe("cpu-demo", {"share_prompt_prefix": "sometimes"})
    path = tmp_path / "mine.yaml"
    path.write_text(recipe.model_dump_json(), encoding="utf-8")  # JSON is YAML
    assert load_recipe(path) == recipe
    assert isinstance(recipe, Recipe)


def test_exponent_floats_without_a_dot_are_floats(tmp_path: Path) -> None:
    path = tmp_path / "lr.yaml"
    path.write_text("name: lr\ngrpo: {learning_rate: 1e-5, max_steps: 2}\n", encoding="utf-8")
    assert load_recipe(path).grpo == {"learning_rate": 1e-5, "max_steps": 2}
