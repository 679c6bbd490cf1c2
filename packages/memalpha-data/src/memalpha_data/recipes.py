"""Dataset recipes: which sources, how many instances, which seeds and splits — built into parquet plus a card.

A recipe is a YAML file (see `datasets/` at the repository root):

```yaml
name: mini
description: Small and fast, for the CPU demo and tests.
seed: 7
splits:
  train:
    - {source: squad, limit: 4, params: {chunks_per_instance: 4}}
    - {source: generate, limit: 4, params: {capability: CR, target_tokens: 3000}}
  eval:
    - {source: squad, split: eval, limit: 2}
```

Each entry names a source adapter (`SOURCES`) or `generate` (the procedural generator; `params` are
`GeneratorConfig` fields, `limit` the number of instances). `split` is the source's own split and defaults to
the recipe split's name when that is `train` or `eval`. `build_recipe` checks every entry before it reads any
data, builds into a temporary folder and moves it into place at the end, so a failed build leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from memalpha_data.exceptions import RecipeError
from memalpha_data.generator import GeneratorConfig, generate_instances
from memalpha_data.instance import Instance
from memalpha_data.io import write_instances
from memalpha_data.sources import SOURCES
from memalpha_data.sources._common import Split
from memalpha_data.stats import SourceStats, dataset_stats, render_card, stats_to_json

logger = logging.getLogger(__name__)

GENERATE = "generate"
RECIPES_DIR_ENV = "MEMALPHA_RECIPES_DIR"


class SourceSpec(BaseModel):
    """One entry of a recipe split: a source, its split, how many instances, and the adapter's knobs."""

    model_config = ConfigDict(extra="forbid")

    source: str
    split: Split | None = None
    limit: int | None = Field(default=None, ge=1)
    seed: int | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class Recipe(BaseModel):
    """A dataset recipe: named splits, each a list of source entries."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: int = 42
    splits: dict[str, list[SourceSpec]] = Field(min_length=1)


def load_recipe(name_or_path: str | Path, *, recipes_dir: str | Path | None = None) -> Recipe:
    """A recipe from a YAML path, or by name from `recipes_dir` (default `$MEMALPHA_RECIPES_DIR`, else
    `./datasets`)."""
    path = Path(name_or_path)
    if not path.is_file():
        folder = Path(recipes_dir or os.environ.get(RECIPES_DIR_ENV, "datasets"))
        path = folder / f"{name_or_path}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
            raise RecipeError(
                f"no recipe {str(name_or_path)!r}: not a file, and not in {str(folder)!r} (known: {known})"
            )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Recipe.model_validate(raw)
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        raise RecipeError(f"{path}: {exc}") from exc


def _check_spec(split: str, index: int, spec: SourceSpec) -> None:
    where = f"split {split!r}, entry {index} ({spec.source})"
    if spec.source == GENERATE:
        try:
            GeneratorConfig(**spec.params)
        except (ValidationError, TypeError, ValueError) as exc:
            raise RecipeError(f"{where}: bad generator parameters: {exc}") from exc
        if spec.limit is None:
            raise RecipeError(f"{where}: 'generate' needs limit (the number of instances)")
        return
    if spec.source not in SOURCES:
        raise RecipeError(f"{where}: unknown source; known: {sorted(SOURCES)} and {GENERATE!r}")
    accepted = SOURCES[spec.source].parameters()
    reserved = {"root", "split", "seed", "limit"} & set(spec.params)
    if reserved:
        raise RecipeError(f"{where}: set {sorted(reserved)} on the entry itself, not in params")
    unknown = sorted(set(spec.params) - set(accepted))
    if unknown:
        raise RecipeError(f"{where}: unknown parameter(s) {unknown}; {spec.source} accepts {sorted(accepted)}")


def check_recipe(recipe: Recipe) -> None:
    """Raise `RecipeError` for the first entry that names an unknown source or parameter."""
    for split, specs in recipe.splits.items():
        for index, spec in enumerate(specs):
            _check_spec(split, index, spec)


def build_split(
    recipe: Recipe, split: str, *, root: str | Path | None = None, on_entry: Callable[[str], None] | None = None
) -> list[Instance]:
    """The instances of one split of `recipe`, entries in order."""
    instances: list[Instance] = []
    for index, spec in enumerate(recipe.splits[split]):
        _check_spec(split, index, spec)
        seed = recipe.seed if spec.seed is None else spec.seed
        if on_entry is not None:
            on_entry(f"{recipe.name}/{split}: {spec.source} ({index + 1}/{len(recipe.splits[split])})")
        if spec.source == GENERATE:
            config = GeneratorConfig(**{**spec.params, "seed": spec.params.get("seed", seed)})
            instances += generate_instances(config, spec.limit or 1)
            continue
        source_split: Split = spec.split or (split if split in ("train", "eval") else "all")  # type: ignore[assignment]
        instances += SOURCES[spec.source](root=root, split=source_split, seed=seed, limit=spec.limit, **spec.params)
    ids = [i.id for i in instances]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise RecipeError(f"split {split!r} holds instance id {duplicate!r} twice: give the entries distinct seeds")
    return instances


@dataclass(frozen=True)
class BuildResult:
    """Where a built recipe lies and what it holds."""

    out_dir: Path
    files: dict[str, Path]
    stats: dict[str, list[SourceStats]]
    seconds: float


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_recipe(
    recipe: Recipe,
    out_dir: str | Path,
    *,
    root: str | Path | None = None,
    on_entry: Callable[[str], None] | None = None,
) -> BuildResult:
    """Build every split of `recipe` into `out_dir/<split>.parquet` plus `card.md` and `card.json`.

    The folder is replaced only when the whole build succeeded.
    """
    check_recipe(recipe)
    target = Path(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    try:
        stats: dict[str, list[SourceStats]] = {}
        owner: dict[str, str] = {}
        for split in recipe.splits:
            instances = build_split(recipe, split, root=root, on_entry=on_entry)
            for instance in instances:
                if owner.setdefault(instance.id, split) != split:
                    raise RecipeError(
                        f"instance {instance.id!r} is in splits {owner[instance.id]!r} and {split!r}: give the "
                        "generator entries of one split their own seed"
                    )
            write_instances(staging / f"{split}.parquet", instances)
            stats[split] = dataset_stats(instances)
            logger.info("%s/%s: %d instances", recipe.name, split, len(instances))
        seconds = time.perf_counter() - started
        hashes = {f"{s}.parquet": _sha256(staging / f"{s}.parquet") for s in recipe.splits}
        card = {
            "recipe": recipe.model_dump(),
            "splits": {s: stats_to_json(rows) for s, rows in stats.items()},
            "sha256": hashes,
        }
        details = {"seed": str(recipe.seed), **{name: f"sha256 `{digest[:16]}`" for name, digest in hashes.items()}}
        (staging / "card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        card_md = render_card(recipe.name, recipe.description, stats, details=details)
        (staging / "card.md").write_text(card_md, encoding="utf-8")
        staging.chmod(0o755)  # mkdtemp makes it private; the built dataset is an ordinary folder
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = {split: target / f"{split}.parquet" for split in recipe.splits}
    return BuildResult(target, files, stats, seconds)
