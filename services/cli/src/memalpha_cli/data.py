"""`memalpha data`: build dataset recipes into parquet, and show or check what a parquet file holds.

memalpha-data (pyarrow) is imported when a command runs, so that `memalpha --help` stays fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table
from rich.text import Text

from ._output import echo_json, stderr_console, stdout_console

if TYPE_CHECKING:
    from memalpha_data import SourceStats

__all__ = ["RECIPES_ENV", "data_group"]

RECIPES_ENV = "MEMALPHA_RECIPES_DIR"

_FILES = click.Path(exists=True, dir_okay=False, path_type=Path)


def _stats_json(rows: Sequence[SourceStats]) -> list[dict[str, Any]]:
    return [{**asdict(row), "metrics": list(row.metrics)} for row in rows]


def _stats_rich(rows: Sequence[SourceStats], title: str) -> Table:
    """The columns of the paper's Table 6, as a rich table."""
    table = Table(title=Text(title), title_justify="left")
    table.add_column("Dataset", overflow="fold")
    table.add_column("Cap.")
    table.add_column("Metric", overflow="fold")
    for column in ("Ins.", "Ch/Ins", "Tok/Ch", "Q/Ins", "Tok/Ins (max)"):
        table.add_column(column, justify="right", no_wrap=True)
    for r in rows:
        table.add_row(
            Text(r.data_source),
            r.capability,
            ", ".join(r.metrics),
            f"{r.instances:,}",
            f"{r.chunks_per_instance:.1f}",
            f"{r.tokens_per_chunk:,.0f}",
            f"{r.questions_per_instance:.1f}",
            f"{r.tokens_per_instance:,.0f} ({r.max_tokens_per_instance:,})",
        )
    if rows:
        table.add_section()
        table.add_row("total", "", "", f"{sum(r.instances for r in rows):,}", "", "", "", "")
    return table


@click.group(name="data")
def data_group() -> None:
    """Build and check datasets of instances (memalpha-data): recipes, statistics, validation."""


@data_group.command("build")
@click.argument("recipe")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("datasets/generated"),
    show_default=True,
    help="Parent folder: the dataset is built into OUT/<recipe name>/.",
)
@click.option(
    "--recipes-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=RECIPES_ENV,
    show_envvar=True,
    default=Path("datasets"),
    show_default=True,
    help="Where recipes named without a path are found (RECIPE.yaml).",
)
@click.option(
    "--data-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the real source data (default: env MEMALPHA_DATA_DIR, else ../shared/data).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout instead of tables.")
def build_command(recipe: str, out: Path, recipes_dir: Path, data_root: Path | None, as_json: bool) -> None:
    """Build a dataset RECIPE (a name in --recipes-dir, or a YAML path) into parquet files and a card.

    \b
    Examples:
      memalpha data build mini
      memalpha data build my-recipe.yaml --out ./my-datasets --json
    """
    from memalpha_data import build_recipe, load_recipe

    loaded = load_recipe(recipe, recipes_dir=recipes_dir)
    progress = stderr_console()
    with progress.status(f"building {loaded.name}", spinner="dots") as status:

        def on_entry(message: str) -> None:
            status.update(message)
            progress.print(Text(f"building {message}"))

        result = build_recipe(loaded, out / loaded.name, root=data_root, on_entry=on_entry)
    counts = {split: sum(r.instances for r in rows) for split, rows in result.stats.items()}
    if as_json:
        echo_json(
            {
                "recipe": loaded.name,
                "out_dir": str(result.out_dir),
                "seconds": result.seconds,
                "files": {split: str(path) for split, path in result.files.items()},
                "instances": counts,
                "splits": {split: _stats_json(rows) for split, rows in result.stats.items()},
            }
        )
        return
    console = stdout_console()
    for split, rows in result.stats.items():
        console.print(_stats_rich(rows, f"{loaded.name}/{split} ({result.files[split]})"))
    summary = ", ".join(f"{split} {count}" for split, count in counts.items())
    console.print(
        Text(f"built {loaded.name}: {summary} instances in {result.seconds:.2f} s -> {result.out_dir}", style="bold")
    )


@data_group.command("stats")
@click.argument("files", nargs=-1, required=True, type=_FILES)
@click.option("--markdown", is_flag=True, help="Print the markdown table of the dataset cards (paper Table 6).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of tables.")
def stats_command(files: tuple[Path, ...], markdown: bool, as_json: bool) -> None:
    """Show per-source statistics of parquet FILES, in the layout of the paper's Table 6."""
    from memalpha_data import dataset_stats, read_instances, stats_table

    results = [(file, dataset_stats(read_instances(file))) for file in files]
    if as_json:
        echo_json(
            {
                "files": [
                    {"file": str(f), "instances": sum(r.instances for r in rows), "sources": _stats_json(rows)}
                    for f, rows in results
                ]
            }
        )
        return
    if markdown:
        click.echo("\n\n".join(f"### {file}\n\n{stats_table(rows)}" for file, rows in results))
        return
    console = stdout_console()
    for file, rows in results:
        console.print(_stats_rich(rows, str(file)))


@data_group.command("validate")
@click.argument("files", nargs=-1, required=True, type=_FILES)
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of text.")
@click.pass_context
def validate_command(ctx: click.Context, files: tuple[Path, ...], as_json: bool) -> None:
    """Check parquet FILES: every row readable, no duplicate ids, extractive answers found in the chunks.

    Exit status 0 when every file is clean, 1 when any has a problem.
    """
    from memalpha_data import InstanceFormatError, read_instances, validate_instances

    reports: list[dict[str, Any]] = []
    for file in files:
        try:
            instances = read_instances(file)
        except InstanceFormatError as exc:
            reports.append({"file": str(file), "readable": False, "instances": 0, "problems": [str(exc)]})
            continue
        problems = validate_instances(instances)
        reports.append({"file": str(file), "readable": True, "instances": len(instances), "problems": problems})
    clean = not any(report["problems"] for report in reports)
    if as_json:
        echo_json({"ok": clean, "files": reports})
    else:
        console = stdout_console()
        for report in reports:
            found: list[str] = report["problems"]
            verdict = "ok" if not found else f"{len(found)} problem(s)"
            console.print(
                Text(f"{report['file']}: {report['instances']} instances, {verdict}", style="red" if found else "green")
            )
            for problem in found:
                console.print(Text(f"  - {problem}"))
    if not clean:
        ctx.exit(1)
