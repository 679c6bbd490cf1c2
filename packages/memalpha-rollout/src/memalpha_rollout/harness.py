"""The evaluation harness behind ``memalpha eval`` and ``nox -s eval``: every method on the same instances.

`run_evaluation` builds a dataset recipe (``eval`` by default, ``length-sweep`` for the length sweep), keeps the
first ``limit`` instances of every data source, and runs each method on them with one answerer:

- memory writers (policy specs: ``heuristic``, ``smollm2``, ``hf:PATH``, ``openai:URL/MODEL``, ... and
  ``checkpoint``, the newest trained model under the runs folder, evaluated with the prompt settings it was
  trained with), through `evaluate`;
- baselines that read the raw chunks (``long-context``, ``rag``, ``memagent``), through `evaluate_baseline`, each
  also at a budget equal to a writer's final memory on the same instance (``<name>@memory``).

It writes one run folder: ``config.json`` (every option), ``versions.json``, ``datasets.json`` (the built data's
hashes), ``results/<method>.json`` per method and ``results/results.json`` for all, ``report.md`` (a table per
data source and per capability, score and memory per method, wall time and generated tokens, the score-vs-memory
plot and, for a length sweep, score and memory per length), ``summary.md`` (the tables and plots alone, which
``nox -s eval`` puts on the docs' results page), writer traces and their HTML pages. A writer's
finished instances are appended to ``eval/<method>.jsonl`` as they finish and finished methods are kept, so
``resume=True`` continues an interrupted evaluation without redoing work.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from memalpha_data import Instance, build_recipe, read_instances
from memalpha_data import load_recipe as load_data_recipe

from ._files import write_text_atomic
from .answerers import Answerer, load_answerer
from .baselines import BASELINES, evaluate_baseline
from .engine import RolloutConfig
from .evaluate import EVAL_SAMPLING, evaluate
from .exceptions import EvalConfigError, RunFolderError
from .policies import load_policy
from .reporting import instance_lengths, plot_length_sweep, render_capability_table, render_results_table, write_report
from .results import EvalResult
from .run_folder import RunFolder
from .trace import read_traces
from .trace_html import write_trace_pages
from .types import SamplingParams

__all__ = [
    "DEFAULT_METHODS",
    "EvalRun",
    "latest_checkpoint",
    "run_evaluation",
    "select_instances",
]

logger = logging.getLogger(__name__)

DEFAULT_METHODS = ("heuristic", "smollm2", "checkpoint", "long-context", "rag", "memagent")
"""Writers first (their memory sets the baselines' budgets), then the baselines."""

Say = Callable[[str], None]


@dataclass
class EvalRun:
    """What `run_evaluation` produced."""

    run: RunFolder
    results: list[EvalResult] = field(default_factory=list)
    report: Path | None = None
    skipped: list[str] = field(default_factory=list)
    """Methods not run, with the reason (e.g. ``checkpoint: no trained model under runs/``)."""


def select_instances(instances: Sequence[Instance], limit: int | None, max_tokens: int | None = None) -> list[Instance]:
    """The first ``limit`` instances of every data source (all when None) among those of at most ``max_tokens``
    tokens (the default counter; no cap when None), in their original order."""
    if limit is not None and limit < 1:
        raise EvalConfigError(f"limit must be at least 1 instance per data source, got {limit}")
    if max_tokens is not None and max_tokens < 1:
        raise EvalConfigError(f"max_instance_tokens must be positive, got {max_tokens}")
    taken: dict[str, int] = defaultdict(int)
    kept = []
    for instance in instances:
        if max_tokens is not None and instance.total_tokens() > max_tokens:
            continue
        if limit is None or taken[instance.data_source] < limit:
            taken[instance.data_source] += 1
            kept.append(instance)
    return kept


def latest_checkpoint(runs_dir: str | Path) -> Path | None:
    """The newest trained model under ``runs_dir`` (``<run>/grpo/final`` of `memalpha train`), or None."""
    found = [p for p in Path(runs_dir).glob("*/grpo/final") if (p / "config.json").is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def _slug(method: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", method).strip("_") or "method"


def _checkpoint_rollout(model: Path, base: RolloutConfig) -> RolloutConfig:
    """The prompt settings the checkpoint's training run used (its ``config.json``'s ``rollout`` section)."""
    config_file = model.parent.parent / "config.json"
    try:
        section = json.loads(config_file.read_text(encoding="utf-8")).get("rollout", {})
    except (OSError, ValueError):
        return base
    keys = ("tool_format", "prompt_style", "max_prompt_tokens", "recent_items")
    return replace(base, **{k: section[k] for k in keys if k in section})


def run_evaluation(
    recipe: str = "eval",
    *,
    methods: Sequence[str] = DEFAULT_METHODS,
    limit: int | None = 1,
    max_instance_tokens: int | None = None,
    answerer: str = "retrieval-recall",
    answerer_model: str | None = None,
    budget_from: str | None = None,
    tool_format: str = "hermes",
    prompt_style: str = "compact",
    max_prompt_tokens: int = 2048,
    max_tokens: int = 128,
    batch_size: int = 8,
    top_k: int = 2,
    seed: int = 0,
    length_sweep: bool | None = None,
    runs_dir: str | Path = "runs",
    run_id: str | None = None,
    resume: bool = False,
    data_root: str | Path | None = None,
    recipes_dir: str | Path | None = None,
    progress: bool = False,
    say: Say | None = None,
) -> EvalRun:
    """Evaluate ``methods`` on dataset recipe ``recipe`` into ``runs_dir/<run_id>/`` (see the module docstring).

    Args:
        methods: writer policy specs, ``checkpoint`` and baseline names (``long-context``, ``rag``, ``memagent``).
        limit: instances per data source (None: all).
        max_instance_tokens: leave out instances longer than this (a data source with none left is named in the
            report); bounds the time of LLM writers on a CPU.
        answerer: ``retrieval-recall`` (no model) or ``llm`` with ``answerer_model`` (a policy spec such as
            ``openai:URL/MODEL``).
        budget_from: the writer whose final memory sets the baselines' ``@memory`` budgets (default: the trained
            checkpoint when it runs, else the first writer); ``none`` runs no budgeted baselines.
        tool_format / prompt_style / max_prompt_tokens / max_tokens: the writers' episodes (a checkpoint uses its
            training run's prompt settings); ``max_tokens`` bounds each chunk's reply; decoding is greedy.
        batch_size: episodes generated together (one generate call per chunk step).
        top_k: chunks the ``rag`` baseline retrieves per question.
        length_sweep: add score and memory per length to the report (default: when the recipe is
            ``length-sweep``).
        resume: continue ``run_id``: finished methods and instances are kept; the options must be the same.
        data_root / recipes_dir: where real datasets and dataset recipes live (`memalpha_data` defaults).
        say: receives one line per phase (the CLI prints them); default: the log.
    """
    say = say or logger.info
    methods = list(dict.fromkeys(methods))
    if not methods:
        raise EvalConfigError("no methods to evaluate: name writer policies and/or baselines")
    if answerer not in ("retrieval-recall", "llm"):
        raise EvalConfigError(f"unknown answerer {answerer!r}; use retrieval-recall or llm")
    if answerer == "llm" and not answerer_model:
        raise EvalConfigError(
            "the llm answerer needs a model: pass answerer_model='openai:URL/MODEL' (or another spec)"
        )
    if resume and run_id is None:
        raise RunFolderError("resume needs the run id of the evaluation to continue (runs/<run-id>)")
    if resume and not (Path(runs_dir) / str(run_id) / "config.json").is_file():
        raise RunFolderError(f"no evaluation {run_id!r} to resume in {str(runs_dir)!r}; start it without resume")
    writers = [m for m in methods if m not in BASELINES]
    baselines = [m for m in methods if m in BASELINES]
    if budget_from not in (None, "none", *writers):
        raise EvalConfigError(
            f"budget_from={budget_from!r} is not one of the writers evaluated: {', '.join(writers) or 'none'}"
        )
    checkpoint = latest_checkpoint(runs_dir) if "checkpoint" in writers else None
    config = {
        "recipe": recipe,
        "methods": methods,
        "checkpoint": str(checkpoint) if checkpoint else None,
        "limit": limit,
        "max_instance_tokens": max_instance_tokens,
        "answerer": answerer,
        "answerer_model": answerer_model,
        "budget_from": budget_from,
        "tool_format": tool_format,
        "prompt_style": prompt_style,
        "max_prompt_tokens": max_prompt_tokens,
        "max_tokens": max_tokens,
        "batch_size": batch_size,
        "top_k": top_k,
        "seed": seed,
    }
    name = Path(recipe).stem
    run = RunFolder.create(runs_dir, run_id=run_id, name=f"eval-{name}", config=config, exist_ok=resume)
    say(f"run folder: {run.path}")
    outcome = EvalRun(run=run)

    instances, split = _load_instances(recipe, run, limit, max_instance_tokens, data_root, recipes_dir, say, outcome)
    # record the built data's hashes (a resumed run refuses data that changed)
    run = RunFolder.create(runs_dir, run_id=run.run_id, config=config, datasets={split.stem: split}, exist_ok=True)
    outcome.run = run
    answer = load_answerer(answerer, policy=load_policy(answerer_model) if answerer_model else None)
    rollout = RolloutConfig(
        tool_format=tool_format,
        prompt_style=prompt_style,  # type: ignore[arg-type]
        max_prompt_tokens=max_prompt_tokens,
        sampling=SamplingParams(max_tokens=max_tokens, temperature=EVAL_SAMPLING.temperature),
        recent_items=3 if prompt_style == "compact" else 5,
        seed=seed,
    )
    by_method: dict[str, EvalResult] = {}
    for spec in writers:
        result = _run_writer(spec, checkpoint, instances, answer, rollout, batch_size, run, progress, say, outcome)
        if result is not None:
            by_method[spec] = result

    reference = _budget_reference(budget_from, by_method)
    budgets = None
    if reference is not None and baselines:
        budgets = {r.instance_id: r.memory_tokens for r in by_method[reference].instances}
        say(f"baselines @memory: the final memory of {by_method[reference].method} on each instance")
    for baseline in baselines:
        for budgeted in (False, True) if budgets is not None else (False,):
            key = f"{baseline}@memory" if budgeted else baseline
            result = _cached(run, key)
            if result is None:
                result = evaluate_baseline(
                    baseline, instances, answer, budgets=budgets if budgeted else None, top_k=top_k
                )
                run.write_results([result], name=_slug(key))
            say(_line(result))
            by_method[result.method] = result

    outcome.results = list(by_method.values())
    run.write_results(outcome.results)
    traces = [t for spec in by_method if spec in writers for t in read_traces(run.trace_path(_slug(spec)))]
    if traces:
        write_trace_pages(run, traces, title=f"memalpha eval: {name}")
    sweep = length_sweep if length_sweep is not None else name == "length-sweep"
    outcome.report = _report(run, outcome, instances, name, sweep)
    say(f"report: {outcome.report}")
    return outcome


def _load_instances(
    recipe: str,
    run: RunFolder,
    limit: int | None,
    max_tokens: int | None,
    data_root: Any,
    recipes_dir: Any,
    say: Say,
    outcome: EvalRun,
) -> tuple[list[Instance], Path]:
    folder = run.path / "data"
    if not (folder / "card.json").is_file():
        say(f"building dataset recipe {recipe!r}")
        build_recipe(load_data_recipe(recipe, recipes_dir=recipes_dir), folder, root=data_root)
    splits = sorted(folder.glob("*.parquet"))
    if not splits:
        raise RunFolderError(f"dataset recipe {recipe!r} built no split into {folder}")
    split = folder / "eval.parquet" if (folder / "eval.parquet").is_file() else splits[0]
    everything = read_instances(split)
    instances = select_instances(everything, limit, max_tokens)
    left_out = sorted({i.data_source for i in everything} - {i.data_source for i in instances})
    if left_out:
        outcome.skipped.append(
            f"data sources {', '.join(left_out)}: every instance is longer than {max_tokens:,} tokens "
            "(max_instance_tokens)"
        )
    if not instances:
        cap = f" of at most {max_tokens:,} tokens: raise max_instance_tokens" if max_tokens is not None else ""
        raise EvalConfigError(f"the {split.name} split of {recipe!r} has no instance{cap}")
    sources = len({i.data_source for i in instances})
    per_source = "all instances" if limit is None else f"at most {limit} per source"
    cap = f", at most {max_tokens:,} tokens each" if max_tokens is not None else ""
    say(f"data: {len(instances)} instances of {sources} data sources ({split.name}, {per_source}{cap})")
    return instances, split


def _cached(run: RunFolder, method: str) -> EvalResult | None:
    path = run.path / "results" / f"{_slug(method)}.json"
    return run.read_results(_slug(method))[0] if path.is_file() else None


def _line(result: EvalResult) -> str:
    return (
        f"{result.method}: score {result.mean_over_sources:.3f}, memory {result.mean_memory_tokens:,.0f} tokens, "
        f"{result.wall_s:.0f} s"
    )


def _run_writer(
    spec: str,
    checkpoint: Path | None,
    instances: Sequence[Instance],
    answerer: Answerer,
    rollout: RolloutConfig,
    batch_size: int,
    run: RunFolder,
    progress: bool,
    say: Say,
    outcome: EvalRun,
) -> EvalResult | None:
    cached = _cached(run, spec)
    if cached is not None:
        say(_line(cached) + " (kept from the interrupted run)")
        return cached
    config = rollout
    if spec == "checkpoint":
        if checkpoint is None:
            outcome.skipped.append("checkpoint: no trained model under the runs folder (run `memalpha train` first)")
            say("checkpoint: skipped, no trained model under the runs folder")
            return None
        say(f"checkpoint: {checkpoint}")
        policy = load_policy(f"hf:{checkpoint}")
        config = _checkpoint_rollout(checkpoint, rollout)
    else:
        policy = load_policy(spec)
    result = evaluate(
        policy,
        instances,
        answerer,
        config=config,
        method=spec,
        batch_size=batch_size,
        traces=run.trace_path(_slug(spec)),
        checkpoint=run.path / "eval" / f"{_slug(spec)}.jsonl",
        progress=progress,
    )
    run.write_results([result], name=_slug(spec))
    say(_line(result))
    return result


def _budget_reference(budget_from: str | None, done: dict[str, EvalResult]) -> str | None:
    """The writer whose memory sets the ``@memory`` budgets: ``budget_from``, else the checkpoint, else the first."""
    if budget_from == "none" or not done:
        return None
    if budget_from is not None:
        return budget_from if budget_from in done else None  # a writer that was skipped (no checkpoint)
    return "checkpoint" if "checkpoint" in done else next(iter(done))


def _report(run: RunFolder, outcome: EvalRun, instances: Sequence[Instance], name: str, sweep: bool) -> Path:
    """``report.md`` (tables, plots, traces, provenance) and ``summary.md`` (tables and plots only, for the docs)."""
    answerer = outcome.results[0].answerer if outcome.results else "-"
    notes = [
        f"Dataset recipe `{name}`: {len(instances)} instances, answerer `{answerer}`. Writers decode greedily; "
        "`@memory` baselines get, per instance, as many tokens as the reference writer's final memory. Scores are "
        "per data source, then plain means over sources and capabilities.",
        *(f"Skipped: {reason}." for reason in outcome.skipped),
    ]
    sweep_part = ""
    if sweep:
        plot = plot_length_sweep(outcome.results, run.path / "plots" / "length_sweep.png")
        sweep_part = "## Length sweep\n\n" + _sweep_table(outcome.results) + "\n"
        if plot is not None:
            sweep_part += f"\n![score and memory per length]({plot.relative_to(run.path).as_posix()})\n"
    report = write_report(
        run, outcome.results, title=f"memalpha eval: {name}", notes="\n\n".join(notes) + "\n\n" + sweep_part
    )
    summary = [
        *notes,
        "### Per data source",
        render_results_table(outcome.results),
        "### Per capability",
        render_capability_table(outcome.results),
    ]
    if (run.path / "plots" / "score_vs_memory.png").is_file():
        summary.append("![score vs memory](plots/score_vs_memory.png)")
    if sweep_part:
        summary.append(sweep_part.replace("## Length sweep", "### Length sweep"))
    write_text_atomic(run.path / "summary.md", "\n\n".join(part.strip() for part in summary) + "\n")
    return report


def _sweep_table(results: Sequence[EvalResult]) -> str:
    if not results:
        return "_No results._"
    lengths = instance_lengths(results[0])
    sources = sorted(lengths, key=lengths.__getitem__)
    header = "| method | " + " | ".join(f"{lengths[s]:,.0f} tokens: score / memory" for s in sources) + " |"
    rows = [header, "|---|" + "---|" * len(sources)]
    for r in results:
        cells = [
            f"{r.per_source[s]:.3f} / {r.memory_tokens_per_source.get(s, 0):,.0f}" if s in r.per_source else "—"
            for s in sources
        ]
        rows.append(f"| {r.method} | " + " | ".join(cells) + " |")
    return "\n".join(rows)
