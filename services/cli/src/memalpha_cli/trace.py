"""`memalpha trace view`: the HTML pages of a run's episode traces (what was stored, chunk by chunk)."""

from __future__ import annotations

import webbrowser
from pathlib import Path

import click

from ._output import stdout_console
from .exceptions import MemalphaCliError

__all__ = ["trace_group"]


@click.group(name="trace")
def trace_group() -> None:
    """Look at episode traces: prompts, tool calls and the memory after every chunk."""


@trace_group.command("view")
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--open/--no-open", "open_browser", default=False, help="Open the index page in a web browser.")
def view_command(run: Path, open_browser: bool) -> None:
    """Render the episode traces of the run folder RUN (runs/<run-id>/traces/*.jsonl) as HTML pages.

    The pages are self-contained (no network needed); they go to RUN/html/ and the index path is printed.
    """
    try:
        from memalpha_rollout import RunFolder, read_traces, write_trace_pages
    except ImportError as exc:
        raise MemalphaCliError(f"cannot import memalpha_rollout ({exc}); install ./packages/memalpha-rollout") from exc
    folder = RunFolder.open(run)
    files = sorted((folder.path / "traces").glob("*.jsonl"))
    if not files:
        raise MemalphaCliError(f"run {str(run)!r} has no traces (traces/*.jsonl)")
    traces = [trace for file in files for trace in read_traces(file)]
    index = write_trace_pages(folder, traces)
    stdout_console().print(f"{len(traces)} episode pages: {index}")
    if open_browser:
        webbrowser.open(index.resolve().as_uri())
