"""Training recipes: one YAML file per experiment, shipped as package data and chosen by name or path.

A recipe names the model, the dataset recipe (``memalpha_data``), how episodes run, the reward weights, the SFT
warm start and GRPO. The ``sft`` and ``grpo`` sections are TRL's own ``SFTConfig`` / ``GRPOConfig`` keyword
arguments, passed through unchanged (our fields are not copies of TRL's): every key TRL does not know is an
error that names it. ``lora`` holds ``peft.LoraConfig`` arguments.

Shipped recipes (``memalpha_train/recipes/*.yaml``): ``cpu-demo`` (the default: SmolLM2-135M on a 2-core CPU in
minutes), ``cpu-long`` (an hour: GRPO against SFT-only on held-out instances), ``qwen3-0.6b``, ``qwen3-1.7b``,
``qwen3-4b`` (the paper's hyperparameters) and their ``-lora`` variants.
"""

from __future__ import annotations

import dataclasses
import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from memalpha_rollout.prompts import PromptStyle

from .exceptions import RecipeError

__all__ = ["DataSection", "EvalSection", "Recipe", "RolloutSection", "SFTSection", "list_recipes", "load_recipe"]


Method = Literal["base", "sft", "grpo"]
METHODS: tuple[Method, ...] = ("base", "sft", "grpo")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSection(_Section):
    """Which dataset recipe to build (``datasets/<recipe>.yaml`` or a path) and which splits to use."""

    recipe: str = "demo"
    train_split: str = "train"
    eval_split: str = "eval"
    max_train: int | None = Field(default=None, ge=1)
    max_eval: int | None = Field(default=None, ge=1)


class RolloutSection(_Section):
    """How episodes run (`memalpha_rollout.RolloutConfig`) and the reward weights (paper §6: 0.05 and 0.1)."""

    tool_format: Literal["hermes", "qwen-agent"] = "hermes"
    prompt_style: PromptStyle = "full"
    max_prompt_tokens: int = Field(default=6144, ge=64)
    recent_items: int = Field(default=5, ge=0)
    retrieval_k: int = Field(default=20, ge=1)
    compression_weight: float = 0.05
    content_weight: float = 0.1
    paper_compat: bool = False


class SFTSection(_Section):
    """The warm start: teacher trajectories (``heuristic`` or a policy spec) imitated with TRL's SFTTrainer."""

    enabled: bool = True
    teacher: str = "heuristic"
    max_examples: int | None = Field(default=None, ge=1)
    args: dict[str, Any] = Field(default_factory=dict)


class EvalSection(_Section):
    """Held-out evaluation (greedy) of base, SFT and SFT+GRPO, and validation during GRPO.

    Validation runs at every GRPO checkpoint on ``validation_instances`` instances of the eval split that come
    after the held-out ones (disjoint from them), and keeps the best model in ``grpo/best``.
    """

    methods: list[Method] = Field(default_factory=lambda: list(METHODS))
    max_tokens: int = Field(default=256, ge=1)
    validation_instances: int = Field(default=0, ge=0)
    bootstrap_samples: int = Field(default=2000, ge=0)


class Recipe(_Section):
    """One training experiment."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    model: str = "smollm2"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "float32"
    seed: int = 0
    data: DataSection = Field(default_factory=DataSection)
    rollout: RolloutSection = Field(default_factory=RolloutSection)
    sft: SFTSection = Field(default_factory=SFTSection)
    grpo: dict[str, Any] = Field(default_factory=dict)
    share_prompt_prefix: bool = True
    """Run the prompt prefix the rows of a forward share once (`MemalphaGRPOTrainer`'s option of that name)."""
    lora: dict[str, Any] | None = None
    eval: EvalSection = Field(default_factory=EvalSection)

    @model_validator(mode="after")
    def _check_trl_sections(self) -> Recipe:
        from trl import GRPOConfig, SFTConfig  # imported here: validating a recipe needs TRL anyway

        _check_fields(self.grpo, GRPOConfig, "grpo")
        _check_fields(self.sft.args, SFTConfig, "sft.args")
        if self.grpo.get("num_generations", 8) < 2:
            raise ValueError("grpo.num_generations must be at least 2 (GRPO standardises over the G rollouts)")
        if "sft" in self.eval.methods and not self.sft.enabled:
            raise ValueError("eval.methods lists 'sft' but sft.enabled is false")
        return self

    def grpo_config(self, output_dir: str | Path, **overrides: Any) -> Any:
        """TRL's ``GRPOConfig`` from the ``grpo`` section (plus ``overrides``), errors named after the recipe."""
        from trl import GRPOConfig

        return _build(GRPOConfig, {**self.grpo, **overrides, "output_dir": str(output_dir)}, self.name, "grpo")

    def sft_config(self, output_dir: str | Path, **overrides: Any) -> Any:
        """TRL's ``SFTConfig`` from ``sft.args`` (plus ``overrides``)."""
        from trl import SFTConfig

        return _build(SFTConfig, {**self.sft.args, **overrides, "output_dir": str(output_dir)}, self.name, "sft.args")

    def lora_config(self) -> Any:
        """``peft.LoraConfig`` from the ``lora`` section, or None."""
        if self.lora is None:
            return None
        try:
            from peft import LoraConfig
        except ImportError as exc:
            raise RecipeError(
                f"recipe {self.name!r} trains LoRA adapters, which needs peft: pip install 'memalpha-train[peft]'"
            ) from exc
        return _build(LoraConfig, {"task_type": "CAUSAL_LM", **self.lora}, self.name, "lora")


def _check_fields(values: dict[str, Any], config_class: type, section: str) -> None:
    known = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{section}: unknown {config_class.__name__} field(s) {unknown}; see TRL's documentation")
    if "output_dir" in values:
        raise ValueError(f"{section}: output_dir is set by the run folder; remove it")


def _build(config_class: type, values: dict[str, Any], recipe: str, section: str) -> Any:
    names = {f.name for f in dataclasses.fields(config_class)}
    if "activation_checkpointing" in names and not {"activation_checkpointing", "gradient_checkpointing"} & set(values):
        # TRL's default (checkpointing on), under its current name: the old one warns on every config
        values = {**values, "activation_checkpointing": True}
    try:
        return config_class(**values)
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"recipe {recipe!r}, section {section}: {exc}") from exc


class _RecipeLoader(yaml.SafeLoader):  # type: ignore[misc]
    """YAML 1.1 reads ``1e-5`` (no dot) as a string; recipes read it as the float everyone means."""


_RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def list_recipes() -> list[str]:
    """The names of the recipes shipped with the package."""
    folder = resources.files("memalpha_train") / "recipes"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_recipe(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> Recipe:
    """A shipped recipe by name (``cpu-demo``) or a YAML file by path, validated.

    ``overrides`` maps dotted keys to values (``{"grpo.max_steps": 2}``) applied before validation.

    Raises:
        RecipeError: no such recipe, unreadable YAML, or a field that is unknown or invalid (named in the message).
    """
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise RecipeError(f"recipe file {str(path)!r} does not exist")
        text, label = path.read_text(encoding="utf-8"), str(path)
    else:
        resource = resources.files("memalpha_train") / "recipes" / f"{name_or_path}.yaml"
        if not resource.is_file():
            raise RecipeError(f"no recipe named {str(name_or_path)!r}; shipped recipes: {', '.join(list_recipes())}")
        text, label = resource.read_text(encoding="utf-8"), str(name_or_path)
    try:
        raw = yaml.load(text, Loader=_RecipeLoader)
    except yaml.YAMLError as exc:
        raise RecipeError(f"recipe {label!r} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise RecipeError(f"recipe {label!r} must be a YAML mapping, got {type(raw).__name__}")
    for key, value in (overrides or {}).items():
        _set_dotted(raw, key, value, label)
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(recipe)'}: {e['msg']}" for e in exc.errors())
        raise RecipeError(f"recipe {label!r} is invalid: {problems}") from None


def _set_dotted(raw: dict[str, Any], key: str, value: Any, label: str) -> None:
    *parents, leaf = key.split(".")
    node = raw
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise RecipeError(f"recipe {label!r}: cannot set {key!r}, {part!r} is not a section")
        node = child
    node[leaf] = value
