"""`memalpha eval`: memory writers and raw-chunk baselines on a dataset recipe, in paper-style tables."""

from __future__ import annotations

from pathlib import Path

import click

from ._output import echo_json, stderr_console, stdout_console

__all__ = ["eval_command"]

DEFAULT_METHODS = ("heuristic", "smollm2", "checkpoint", "long-context", "rag", "memagent")  # memalpha_rollout's


@click.command(name="eval")
@click.option(
    "--recipe", default="eval", show_default=True, help="Dataset recipe: a name in ./datasets or a YAML file."
)
@click.option(
    "--method",
    "-m",
    "methods",
    multiple=True,
    metavar="SPEC",
    help="A writer (heuristic, smollm2, hf:PATH, openai:URL/MODEL, checkpoint = the newest trained model in "
    "--runs-dir) or a baseline (long-context, rag, memagent); repeatable. Default: " + ", ".join(DEFAULT_METHODS),
)
@click.option(
    "--limit", type=click.IntRange(min=0), default=1, show_default=True, help="Instances per data source (0: all)."
)
@click.option(
    "--max-instance-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="Leave out instances longer than this (the report names data sources left with none).",
)
@click.option(
    "--answerer", type=click.Choice(["retrieval-recall", "llm"]), default="retrieval-recall", show_default=True
)
@click.option("--answerer-model", metavar="SPEC", default=None, help="The llm answerer's model, e.g. openai:URL/MODEL.")
@click.option(
    "--budget-from",
    metavar="METHOD",
    default=None,
    help="The writer whose memory sets the baselines' @memory budgets (default: checkpoint, else the first "
    "writer; 'none': no budgeted baselines).",
)
@click.option("--max-tokens", type=click.IntRange(min=1), default=128, show_default=True, help="Reply limit per chunk.")
@click.option("--max-prompt-tokens", type=click.IntRange(min=64), default=2048, show_default=True)
@click.option("--prompt-style", type=click.Choice(["compact", "full"]), default="compact", show_default=True)
@click.option("--tool-format", type=click.Choice(["hermes", "qwen-agent"]), default="hermes", show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True, help="Episodes run together.")
@click.option(
    "--top-k", type=click.IntRange(min=1), default=2, show_default=True, help="Chunks the rag baseline reads."
)
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"), show_default=True)
@click.option("--run-id", default=None, help="The run folder's name (default: time and recipe name).")
@click.option("--resume", "resume_id", default=None, metavar="RUN_ID", help="Continue the evaluation RUN_ID.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON (per method: scores and memory).")
def eval_command(
    recipe: str,
    methods: tuple[str, ...],
    limit: int,
    max_instance_tokens: int | None,
    answerer: str,
    answerer_model: str | None,
    budget_from: str | None,
    max_tokens: int,
    max_prompt_tokens: int,
    prompt_style: str,
    tool_format: str,
    batch_size: int,
    top_k: int,
    runs_dir: Path,
    run_id: str | None,
    resume_id: str | None,
    as_json: bool,
) -> None:
    """Evaluate memory writers and baselines on the same instances; write RUNS_DIR/<run-id>/report.md.

    Every method answers the same questions with the same answerer; each baseline also runs at the memory budget
    of a writer. Tables per data source and per capability (score and memory), wall time, generated tokens, a
    score-vs-memory plot, and for --recipe length-sweep score and memory per length. Offline on a CPU by default.
    """
    from memalpha_rollout import run_evaluation

    if resume_id is not None and run_id is not None and resume_id != run_id:
        raise click.UsageError("give either --run-id or --resume, not both")
    console = stderr_console() if as_json else stdout_console()  # --json: stdout holds only the JSON
    outcome = run_evaluation(
        recipe,
        methods=methods or DEFAULT_METHODS,
        limit=limit or None,
        max_instance_tokens=max_instance_tokens,
        answerer=answerer,
        answerer_model=answerer_model,
        budget_from=budget_from,
        tool_format=tool_format,
        prompt_style=prompt_style,
        max_prompt_tokens=max_prompt_tokens,
        max_tokens=max_tokens,
        batch_size=batch_size,
        top_k=top_k,
        runs_dir=runs_dir,
        run_id=resume_id or run_id,
        resume=resume_id is not None,
        progress=not as_json,
        say=console.print,
    )
    summary = [
        {
            "method": r.method,
            "mean_score": r.mean_over_sources,
            "mean_memory_tokens": r.mean_memory_tokens,
            "per_capability": r.per_capability,
            "per_source": r.per_source,
            "wall_s": r.wall_s,
            "generated_tokens": r.generated_tokens,
        }
        for r in outcome.results
    ]
    if as_json:
        echo_json({"run": str(outcome.run.path), "report": str(outcome.report), "results": summary})
        return
    width = max((len(r.method) for r in outcome.results), default=6)
    for r in outcome.results:
        console.print(f"{r.method:<{width}}  score {r.mean_over_sources:.3f}  memory {r.mean_memory_tokens:,.0f}")
