"""Build dataset recipes into `datasets/generated/<name>/` and copy each card to `datasets/cards/<name>.md`.

Building `mini` also refreshes `datasets/samples/mini-train.parquet`: the first train instance of each of its
data sources, committed so that tests and readers can look at real instances without building anything.

    python datasets/build.py                    # the default recipes: mini, train, eval, length-sweep
    python datasets/build.py mini --out ./elsewhere  # one recipe, elsewhere

`nox -s synth` runs this. Generated data is git-ignored; the cards are committed.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

from memalpha_data import Instance, MemalphaDataError, build_recipe, load_recipe, read_instances, write_instances

HERE = Path(__file__).resolve().parent
DEFAULT_RECIPES = ("mini", "train", "eval", "length-sweep", "demo")
SAMPLED_RECIPE = "mini"


def write_sample(train_file: Path, out: Path) -> None:
    """The first instance of each data source in `train_file`, written to `out`."""
    first: dict[str, Instance] = {}
    for instance in read_instances(train_file):
        first.setdefault(instance.data_source, instance)
    write_instances(out, first.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipes", nargs="*", default=list(DEFAULT_RECIPES), help="recipe names or YAML paths")
    parser.add_argument("--out", type=Path, default=HERE / "generated", help="parent folder of the built datasets")
    parser.add_argument("--data-root", type=Path, default=None, help="source data (default: $MEMALPHA_DATA_DIR)")
    parser.add_argument("--no-cards", action="store_true", help="do not copy the cards into datasets/cards/")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in args.recipes:
        try:
            recipe = load_recipe(name, recipes_dir=HERE)
            result = build_recipe(recipe, args.out / recipe.name, root=args.data_root, on_entry=logging.info)
        except MemalphaDataError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        counts = ", ".join(f"{split} {sum(s.instances for s in rows)}" for split, rows in result.stats.items())
        print(f"{recipe.name}: {counts} instances in {result.seconds:.1f} s -> {result.out_dir}")
        if not args.no_cards:
            (HERE / "cards").mkdir(exist_ok=True)
            shutil.copyfile(result.out_dir / "card.md", HERE / "cards" / f"{recipe.name}.md")
            if recipe.name == SAMPLED_RECIPE:
                write_sample(result.files["train"], HERE / "samples" / f"{recipe.name}-train.parquet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
