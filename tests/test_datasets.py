"""The dataset recipes in datasets/: they are valid, their committed cards are what they build, and the committed
sample is valid data that the current code still produces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from memalpha_data import build_recipe, check_recipe, load_recipe, read_instances, validate_instances

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "datasets"
RECIPES = sorted(p.stem for p in DATASETS.glob("*.yaml"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    folder = Path(os.environ.get("MEMALPHA_DATA_DIR") or ROOT / ".." / "shared" / "data")
    if not (folder / "squad").is_dir():
        pytest.skip(f"the real source data is not at {folder} (set MEMALPHA_DATA_DIR)")
    return folder


def test_the_default_recipes_exist() -> None:
    assert {"mini", "train", "eval", "length-sweep"} <= set(RECIPES)


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_is_valid_and_its_card_is_current(name: str, data_dir: Path, tmp_path: Path) -> None:
    recipe = load_recipe(name, recipes_dir=DATASETS)
    check_recipe(recipe)
    result = build_recipe(recipe, tmp_path / name, root=data_dir)
    card = DATASETS / "cards" / f"{name}.md"
    assert card.is_file(), f"no card for recipe {name!r}: run `nox -s synth -- {name}`"
    assert card.read_text() == (result.out_dir / "card.md").read_text(), (
        f"datasets/cards/{name}.md is stale: run `nox -s synth -- {name}` and commit the card"
    )
    for split, path in result.files.items():
        problems = validate_instances(read_instances(path))
        assert problems == [], f"{name}/{split}: {problems[:5]}"


def test_committed_sample_is_valid_and_reproducible(data_dir: Path, tmp_path: Path) -> None:
    sample = read_instances(DATASETS / "samples" / "mini-train.parquet")
    assert validate_instances(sample) == []
    assert {i.capability for i in sample} == {"AR", "TTL", "LRU", "CR"}
    built = {
        i.id: i
        for i in read_instances(
            build_recipe(load_recipe("mini", recipes_dir=DATASETS), tmp_path, root=data_dir).files["train"]
        )
    }
    for instance in sample:
        assert built[instance.id] == instance, f"{instance.id} changed: run `nox -s synth -- mini` and commit"
