"""GRPO training throughput: our episode trainer against TRL's stock GRPOTrainer, side by side in one process.

Run: ``python packages/memalpha-train/benchmarks/bench_train.py --out runs/bench [--model smollm2|tiny|PATH]``

Both trainers get the same model, optimizer settings, G, completion budget, number of completions per step and
prompts. Ours runs whole episodes of the ``demo`` instances (one row per rollout and chunk: generation chunk by
chunk, tool calls applied to memory, QA, reward). The stock trainer gets the very chunk prompts our trainer
rendered (memory view included) as single-turn prompts, with a reward function that counts parsed tool calls,
so both train on the same prompt tokens and the ratio measures the episode machinery, not prompt lengths.
Every reply runs to the token budget (``min_new_tokens``; ``--free-length`` lets replies stop at EOS), so both
decode and train the same number of tokens and sampling noise in reply lengths does not move the ratio.
Throughput = completion tokens / training wall time, after one warm-up step each. Target: ours >= stock.
Ours also runs without sharing the prompt prefix across rows (``share_prompt_prefix=False``), to show what that
saves. Writes ``train.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path
from statistics import fmean
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def model_dir(name: str, scratch: Path) -> Path:
    if name == "tiny":
        from memalpha_rollout.testing import build_tiny_model

        return build_tiny_model(scratch / "tiny")
    if name == "smollm2":
        from memalpha_rollout.models import smollm2_path

        return smollm2_path()
    return Path(name)


def common_args(
    output: Path, *, steps: int, per_device: int, max_tokens: int, device: str, fixed_length: bool
) -> dict[str, Any]:
    return {
        # every reply runs to the budget: both trainers decode and train the same number of tokens, so sampling
        # noise in reply lengths does not move the ratio
        "generation_kwargs": {"min_new_tokens": max_tokens} if fixed_length else None,
        "output_dir": str(output),
        "max_steps": steps,
        "per_device_train_batch_size": per_device,
        "num_generations": 2,
        "max_completion_length": max_tokens,
        "learning_rate": 1e-6,
        "use_cpu": device == "cpu",
        "bf16": False,
        "activation_checkpointing": False,
        "report_to": "none",
        "save_strategy": "no",
        "logging_steps": 1,
        "disable_tqdm": True,
        "seed": 0,
    }


def throughput(log: list[dict[str, Any]], rows_key: str | None, rows: int) -> dict[str, float]:
    """Completion tokens per second over the logged steps after the first (warm-up)."""
    steps = [entry for entry in log if "step_time" in entry][1:]
    tokens = sum(e["completions/mean_length"] * (e[rows_key] if rows_key else rows) for e in steps)
    seconds = sum(e["step_time"] for e in steps)
    return {"steps": len(steps), "completion_tokens": tokens, "seconds": seconds, "tokens_per_second": tokens / seconds}


def bench(
    name: str, steps: int, instances_per_step: int, max_tokens: int, device: str, fixed_length: bool
) -> dict[str, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from datasets import Dataset
    from memalpha_data import build_recipe, load_recipe, read_instances
    from memalpha_rollout import RolloutConfig, get_format
    from memalpha_rollout.chat import render_prompt_ids
    from memalpha_train import MemalphaGRPOTrainer, instances_dataset

    scratch = Path(tempfile.mkdtemp(prefix="bench-train-"))
    build_recipe(load_recipe("demo"), scratch / "data")
    instances = read_instances(scratch / "data" / "train.parquet")[: instances_per_step * (steps + 1)]
    path = model_dir(name, scratch)
    config = RolloutConfig(prompt_style="compact", max_prompt_tokens=1024, recent_items=3)
    group = 2
    chunks_per_step = sum(i.num_chunks for i in instances[:instances_per_step]) * group

    prompts: list[list[dict[str, str]]] = []

    def keep_prompts(episodes: list[Any], step: int) -> None:
        prompts.extend(s.prompt.messages for e in episodes for s in e.steps)

    def run_ours(share: bool) -> dict[str, float]:
        args = GRPOConfig(
            **common_args(
                scratch / f"ours-{share}",
                steps=steps + 1,
                per_device=instances_per_step * group,
                max_tokens=max_tokens,
                device=device,
                fixed_length=fixed_length,
            )
        )
        trainer = MemalphaGRPOTrainer(
            AutoModelForCausalLM.from_pretrained(path),
            args,
            instances_dataset(instances),
            rollout=config,
            processing_class=AutoTokenizer.from_pretrained(path),
            episode_hooks=[keep_prompts] if share else [],
            share_prompt_prefix=share,
        )
        trainer.train()
        return throughput(trainer.state.log_history, "chunk_samples", 0)

    ours_result = run_ours(True)
    unshared_result = run_ours(False)

    fmt = get_format("hermes")

    def tool_calls(completions: list[Any], **kwargs: Any) -> list[float]:
        return [float(len(fmt.parse(c[0]["content"] if isinstance(c, list) else c).calls)) for c in completions]

    per_device = chunks_per_step  # the same number of completions per optimizer step as ours
    stock_args = GRPOConfig(
        **common_args(
            scratch / "stock",
            steps=steps + 1,
            per_device=per_device,
            max_tokens=max_tokens,
            device=device,
            fixed_length=fixed_length,
        )
    )
    stock = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(path),
        reward_funcs=[tool_calls],
        args=stock_args,
        train_dataset=Dataset.from_dict({"prompt": prompts}),
        processing_class=AutoTokenizer.from_pretrained(path),
    )
    stock.train()
    tokenizer = stock.processing_class
    stock_result = throughput(stock.state.log_history, None, per_device)
    return {
        "model": name,
        "device": device,
        "completions_per_step": chunks_per_step,
        "max_completion_tokens": max_tokens,
        "fixed_length_replies": fixed_length,
        "mean_prompt_tokens": fmean(len(render_prompt_ids(tokenizer, p)) for p in prompts),
        "ours": ours_result,
        "ours_without_prefix_sharing": unshared_result,
        "stock": stock_result,
        "ratio": ours_result["tokens_per_second"] / stock_result["tokens_per_second"],
        "targets": {"ours>=stock": ours_result["tokens_per_second"] >= stock_result["tokens_per_second"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--model", default="smollm2", help="smollm2 (default), tiny (random weights) or a model folder")
    parser.add_argument("--steps", type=int, default=3, help="measured steps (after one warm-up step)")
    parser.add_argument("--instances", type=int, default=1, help="instances per step (x G = 2 rollouts)")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument(
        "--free-length", action="store_true", help="let replies stop at EOS (default: every reply runs to --max-tokens)"
    )
    args = parser.parse_args()
    result = bench(args.model, args.steps, args.instances, args.max_tokens, args.device, not args.free_length)
    result["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "train.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"GRPO throughput ({args.model}, {args.device}, {result['completions_per_step']} completions a step)")
    for label, key in (
        ("ours", "ours"),
        ("ours, no prefix sharing", "ours_without_prefix_sharing"),
        ("stock", "stock"),
    ):
        run = result[key]
        per_step = run["seconds"] / run["steps"]
        print(f"  {label:24}: {run['tokens_per_second']:6.1f} completion tokens/s, {per_step:.1f} s/step")
    print(f"  ratio: {result['ratio']:.2f} (target >= 1)")


if __name__ == "__main__":
    main()
