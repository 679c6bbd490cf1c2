"""What is rendered from a run: markdown result tables, ``report.md`` and PNG plots.

Tables follow the layout of the paper's Tables 1-2 (per data source a score and a memory column per method, then
averages), except that every mean here is a plain mean. Plots need matplotlib
(``pip install "memalpha-rollout[plots]"``); without it they are skipped with a warning. `RunFolder`
(`memalpha_rollout.run_folder`) and the HTML trace pages (`memalpha_rollout.trace_html`) are re-exported here, so
this module is the one entry point for reports.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from statistics import fmean
from typing import Any

from ._files import write_text_atomic
from .results import EvalResult
from .run_folder import RunFolder
from .trace_html import render_trace_page, write_trace_pages

__all__ = [
    "RunFolder",
    "instance_lengths",
    "plot_length_sweep",
    "plot_metrics",
    "plot_score_vs_memory",
    "render_capability_table",
    "render_results_table",
    "render_trace_page",
    "write_report",
    "write_trace_pages",
]

logger = logging.getLogger(__name__)

_PLOTS_EXTRA = 'pip install "memalpha-rollout[plots]"'


def _unit_label(memory_unit: int) -> str:
    if memory_unit <= 0:
        raise ValueError(f"memory_unit must be a positive number of tokens, got {memory_unit!r}")
    return {1: "tok", 1000: "K tok", 1_000_000: "M tok"}.get(memory_unit, f"x{memory_unit} tok")


def _cell(value: object) -> str:
    return str(value).replace("|", r"\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _memory(tokens: float | None, unit: int) -> str:
    return "—" if tokens is None else f"{tokens / unit:.1f}"


def _capability_memory(result: EvalResult) -> dict[str, float]:
    sources: dict[str, set[str]] = {}
    for item in result.instances:
        sources.setdefault(item.capability, set()).add(item.data_source)
    return {
        capability: fmean(result.memory_tokens_per_source[s] for s in names)
        for capability, names in sorted(sources.items())
    }


_FOOTNOTE = (
    "Scores are the task metric (0-1): mean over an instance's questions, then over a source's instances. "
    "Memory is the final memory size ({unit}). Capability columns and `mean` are plain means over data sources; "
    'the paper\'s "Avg." columns are not always plain means (paper issue #4), so compare per source.'
)


def render_results_table(results: Sequence[EvalResult], *, memory_unit: int = 1000) -> str:
    """A markdown table: a row per method; per data source its score and memory; then means and costs.

    Columns after the sources: per-capability score means, the plain mean over sources (score and memory),
    wall time, generated tokens and tool-call success. Sources and capabilities are sorted; methods keep
    the given order. Scores have 3 decimals, memory 1 decimal in units of ``memory_unit`` tokens.
    """
    unit = _unit_label(memory_unit)
    if not results:
        return "_No results._\n"
    sources = sorted({s for r in results for s in r.per_source})
    capabilities = sorted({c for r in results for c in r.per_capability})
    header = ["method", "answerer"]
    header += [h for s in sources for h in (f"{s} score", f"{s} mem ({unit})")]
    header += [f"{c} score" for c in capabilities]
    header += ["mean score", f"mean mem ({unit})", "wall (s)", "generated tokens", "tool-call success"]
    rows = []
    for r in results:
        row = [_cell(r.method), _cell(r.answerer)]
        for s in sources:
            row += [_score(r.per_source.get(s)), _memory(r.memory_tokens_per_source.get(s), memory_unit)]
        row += [_score(r.per_capability.get(c)) for c in capabilities]
        row += [_score(r.mean_over_sources), _memory(r.mean_memory_tokens, memory_unit), f"{r.wall_s:.1f}"]
        row += [f"{r.generated_tokens:,}", "—" if r.tool_call_success is None else f"{r.tool_call_success:.1%}"]
        rows.append(row)
    return _table(header, rows) + "\n" + _FOOTNOTE.format(unit=unit) + "\n"


def render_capability_table(results: Sequence[EvalResult], *, memory_unit: int = 1000) -> str:
    """A markdown table: a row per method; per capability the plain mean score and memory over its sources."""
    unit = _unit_label(memory_unit)
    if not results:
        return "_No results._\n"
    capabilities = sorted({c for r in results for c in r.per_capability})
    header = ["method", "answerer"] + [h for c in capabilities for h in (f"{c} score", f"{c} mem ({unit})")]
    rows = []
    for r in results:
        memory = _capability_memory(r)
        row = [_cell(r.method), _cell(r.answerer)]
        for c in capabilities:
            row += [_score(r.per_capability.get(c)), _memory(memory.get(c), memory_unit)]
        rows.append(row)
    return _table(header, rows)


# ---------------------------------------------------------------------------------------------- plots


def _new_figure() -> Any:
    """A matplotlib Figure on the Agg canvas (no pyplot, no global backend change), or None without matplotlib."""
    try:
        import matplotlib  # noqa: F401  (first: a blocked or missing matplotlib is seen even with cached submodules)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        logger.warning("matplotlib is not installed; plot skipped (%s)", _PLOTS_EXTRA)
        return None
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=120)
    return path


def plot_score_vs_memory(results: Sequence[EvalResult], path: str | Path) -> Path | None:
    """Scatter one point per method: mean memory (K tokens) against the plain mean score over sources.

    Returns:
        The PNG's path, or None when matplotlib is missing or there is nothing to plot (a warning is logged).
    """
    if not results:
        logger.warning("no results; score-vs-memory plot skipped")
        return None
    figure = _new_figure()
    if figure is None:
        return None
    axes = figure.subplots()
    for r in results:
        x, y = r.mean_memory_tokens / 1000, r.mean_over_sources
        axes.scatter([x], [y], s=40)
        axes.annotate(r.method, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
    axes.margins(0.15)
    axes.set(xlabel="memory (K tokens, mean over sources)", ylabel="score (mean over sources)", title="Score vs memory")
    axes.grid(alpha=0.3)
    return _save(figure, path)


def instance_lengths(result: EvalResult) -> dict[str, float]:
    """Mean instance length (chunk tokens) per data source."""
    by_source: dict[str, list[int]] = {}
    for r in result.instances:
        by_source.setdefault(r.data_source, []).append(r.chunk_tokens)
    return {s: fmean(v) for s, v in by_source.items()}


def plot_length_sweep(results: Sequence[EvalResult], path: str | Path) -> Path | None:
    """Score and final memory against instance length (log scale), a line per method, for the length sweep (each
    length is a data source).

    Returns:
        The PNG's path, or None when matplotlib is missing or there is nothing to plot (a warning is logged).
    """
    if not results:
        logger.warning("no results; length-sweep plot skipped")
        return None
    figure = _new_figure()
    if figure is None:
        return None
    figure.set_size_inches(11, 4)
    score_axes, memory_axes = figure.subplots(1, 2)
    for result in results:
        lengths = instance_lengths(result)
        sources = sorted(lengths, key=lengths.__getitem__)
        xs = [lengths[s] for s in sources]
        score_axes.plot(xs, [result.per_source.get(s, 0.0) for s in sources], marker="o", label=result.method)
        memory_axes.plot(xs, [result.memory_tokens_per_source.get(s, 0.0) for s in sources], marker="o")
    for axes, label in ((score_axes, "score"), (memory_axes, "final memory (tokens)")):
        axes.set(xscale="log", xlabel="instance length (tokens)", ylabel=label)
        axes.grid(alpha=0.3)
    score_axes.legend(fontsize=8)
    figure.suptitle("Length sweep")
    return _save(figure, path)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def plot_metrics(
    records: Sequence[Mapping[str, Any]], keys: Sequence[str], path: str | Path, *, x: str = "step", title: str = ""
) -> Path | None:
    """Draw one line per key of ``records`` (e.g. `RunFolder.read_metrics`) against ``x``.

    Records without ``x`` or a numeric value for a key are left out of that key's line.

    Returns:
        The PNG's path, or None when matplotlib is missing or no record has a key (a warning is logged).
    """
    if isinstance(keys, str):
        raise TypeError(f"keys must be a sequence of metric names, got the string {keys!r}; pass [{keys!r}]")
    lines: dict[str, tuple[list[float], list[float]]] = {}
    for key in keys:
        points = [(_number(rec.get(x)), _number(rec.get(key))) for rec in records]
        kept = [(a, b) for a, b in points if a is not None and b is not None]
        if kept:
            lines[key] = ([a for a, _ in kept], [b for _, b in kept])
    if not lines:
        logger.warning("no record has numeric %r and %s; metrics plot skipped", x, list(keys))
        return None
    figure = _new_figure()
    if figure is None:
        return None
    axes = figure.subplots()
    for key, (xs, ys) in lines.items():
        axes.plot(xs, ys, marker="." if len(xs) < 50 else None, label=key)
    axes.set(xlabel=x, title=title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    return _save(figure, path)


# ---------------------------------------------------------------------------------------------- report


def _plot_line(path: Path | None, run: RunFolder, alt: str) -> str:
    if path is None:
        return f"_{alt}: plot skipped (matplotlib missing, or no data; see the log). {_PLOTS_EXTRA}_\n"
    return f"![{alt}]({path.relative_to(run.path).as_posix()})\n"


def write_report(
    run: RunFolder, results: Sequence[EvalResult], *, title: str, notes: str = "", metrics_plots: Sequence[str] = ()
) -> Path:
    """Write ``report.md``: result tables, the score-vs-memory plot, a plot of metrics, links to traces.

    Args:
        run: The run folder to write into.
        results: One EvalResult per method, in the order the tables show them.
        title: The report's heading.
        notes: Free markdown placed under the heading.
        metrics_plots: Keys of ``metrics.jsonl`` to draw, one line each, in ``plots/metrics.png``.

    Returns:
        The path of ``report.md``.
    """
    parts = [f"# {title}\n", f"Run `{run.run_id}`.\n"]
    if notes:
        parts.append(notes.rstrip() + "\n")
    parts += ["## Results\n", render_results_table(results), "## Per capability\n", render_capability_table(results)]
    parts += ["## Score vs memory\n"]
    parts.append(_plot_line(plot_score_vs_memory(results, run.path / "plots" / "score_vs_memory.png"), run, "score"))
    if metrics_plots:
        plotted = plot_metrics(run.read_metrics(), metrics_plots, run.path / "plots" / "metrics.png", title=title)
        parts += ["## Metrics\n", _plot_line(plotted, run, "metrics: " + ", ".join(metrics_plots))]
    if (run.path / "html" / "index.html").is_file():
        parts += ["## Traces\n", "Episode pages: [html/index.html](html/index.html).\n"]
    parts += ["## Provenance\n", "[config.json](config.json), [versions.json](versions.json), "
              "[datasets.json](datasets.json), [metrics.jsonl](metrics.jsonl).\n"]  # fmt: skip
    return write_text_atomic(run.path / "report.md", "\n".join(parts))
