"""`memalpha train`: run a training recipe end to end (data, SFT warm start, GRPO, held-out evaluation, report)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ._output import stdout_console
from .exceptions import MemalphaCliError

__all__ = ["train_command"]


def _parse_overrides(values: tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs (dotted keys; values read as JSON when they parse, else as text)."""
    overrides: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE (e.g. grpo.max_steps=2)", param_hint="--set")
        try:
            overrides[key.strip()] = json.loads(raw)
        except ValueError:
            overrides[key.strip()] = raw
    return overrides


@click.command(name="train")
@click.option("--recipe", default="cpu-demo", show_default=True, help="A shipped recipe (see --list) or a YAML file.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe field (repeatable).")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"), show_default=True)
@click.option("--run-id", default=None, help="The run folder's name (default: time and recipe name).")
@click.option("--resume", "resume_id", default=None, metavar="RUN_ID", help="Continue the run RUN_ID.")
@click.option("--list", "list_only", is_flag=True, help="List the shipped recipes and exit.")
def train_command(
    recipe: str,
    overrides: tuple[str, ...],
    runs_dir: Path,
    run_id: str | None,
    resume_id: str | None,
    list_only: bool,
) -> None:
    """Train a memory writer: SFT on a teacher's trajectories, then chunk-level GRPO, then evaluate.

    Everything goes to RUNS_DIR/<run-id>/: the dataset, models, checkpoints, metrics, results, traces and
    report.md. The default recipe, cpu-demo, runs SmolLM2-135M offline on a CPU in minutes.
    """
    try:
        import memalpha_train
    except ImportError as exc:
        raise MemalphaCliError(f"cannot import memalpha_train ({exc}); install ./packages/memalpha-train") from exc
    console = stdout_console()
    if list_only:
        for name in memalpha_train.list_recipes():
            console.print(name)
        return
    if resume_id is not None and run_id is not None and resume_id != run_id:
        raise click.UsageError("give either --run-id or --resume, not both")
    loaded = memalpha_train.load_recipe(recipe, _parse_overrides(overrides))
    result = memalpha_train.run_training(
        loaded, runs_dir=runs_dir, run_id=resume_id or run_id, resume=resume_id is not None, say=console.print
    )
    for method, reward in result.held_out_reward.items():
        console.print(f"held-out reward {method}: {reward:.3f}")
    if result.comparison:
        c = result.comparison
        console.print(f"GRPO - SFT: {c['mean']:+.3f} (95% bootstrap interval {c['low']:+.3f} .. {c['high']:+.3f})")
