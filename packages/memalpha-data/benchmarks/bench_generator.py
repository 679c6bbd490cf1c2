"""Benchmark of the procedural generator: seconds and tokens per instance, by capability and length.

Run: ``python packages/memalpha-data/benchmarks/bench_generator.py --out runs/bench``; writes ``generator.json``
into ``--out`` and prints a table. For each capability (AR, CR, TTL, LRU) and each target length (default 1k,
32k, 128k and 1M tokens) it times ``generate_instance`` (best of ``--repeat`` runs, wall and CPU seconds),
then counts the stream's tokens with the default counter (not timed) and reports the error against the
target, the chunks and the questions. The process is pinned to one CPU core where the OS allows it
(``--no-pin`` to skip). Target: a 1M-token instance in at most 10 s on one core, for every capability;
``targets`` in the JSON says whether each 1M case met it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from memalpha_data.generator import GeneratorConfig, generate_instance

CAPABILITIES = ("AR", "CR", "TTL", "LRU")
DEFAULT_SIZES = (1_000, 32_000, 128_000, 1_000_000)
TARGET_SECONDS_1M = 10.0


def _config(capability: str, tokens: int, seed: int) -> GeneratorConfig:
    """The default knobs, with chunks small enough that a 1k-token CR stream can hold its updates."""
    chunk_tokens = 256 if capability == "CR" and tokens < 2_000 else 512
    return GeneratorConfig(capability=capability, target_tokens=tokens, chunk_tokens=chunk_tokens, seed=seed)  # type: ignore[arg-type]


def measure(capability: str, tokens: int, *, seed: int, repeat: int) -> dict[str, Any]:
    """Best-of-`repeat` time to generate one instance, and what the instance holds."""
    config = _config(capability, tokens, seed)
    walls, cpus = [], []
    instance = None
    for _ in range(repeat):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        instance = generate_instance(config)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    assert instance is not None
    total = instance.total_tokens()
    return {
        "capability": capability,
        "target_tokens": tokens,
        "tokens": total,
        "error": (total - tokens) / tokens,
        "seconds": min(walls),
        "cpu_seconds": min(cpus),
        "tokens_per_second": total / min(walls),
        "chunks": instance.num_chunks,
        "questions": instance.num_questions,
        "max_chunk_tokens": max(instance.chunk_tokens()),
        "config": config.model_dump(mode="json"),
    }


def _pin_to_one_core() -> int | None:
    if not hasattr(os, "sched_setaffinity"):
        return None
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def _machine(core: int | None) -> dict[str, Any]:
    try:
        package = version("memalpha-data")
    except PackageNotFoundError:
        package = "source tree"
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "pinned_core": core,
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "memalpha_data": package,
    }


def summary_table(results: list[dict[str, Any]]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| capability | target | tokens | error | seconds | cpu s | tokens/s | chunks | questions |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['capability']} | {r['target_tokens']:,} | {r['tokens']:,} | {r['error']:+.2%} | "
            f"{r['seconds']:.3f} | {r['cpu_seconds']:.3f} | {r['tokens_per_second']:,.0f} | {r['chunks']:,} | "
            f"{r['questions']} |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench"), help="folder for generator.json")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="target lengths in tokens")
    parser.add_argument("--capabilities", nargs="+", choices=CAPABILITIES, default=list(CAPABILITIES))
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the fastest is reported")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU core")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    core = None if args.no_pin else _pin_to_one_core()
    results = [
        measure(capability, tokens, seed=args.seed, repeat=args.repeat)
        for capability in args.capabilities
        for tokens in args.sizes
    ]
    million = [r for r in results if r["target_tokens"] == 1_000_000]
    targets = {
        f"{r['capability']}_1M_within_{TARGET_SECONDS_1M:g}s": r["seconds"] <= TARGET_SECONDS_1M for r in million
    }
    report = {"machine": _machine(core), "results": results, "targets": targets}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "generator.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(summary_table(results))
    for name, met in targets.items():
        print(f"{name}: {'met' if met else 'MISSED'}")
    print(f"wrote {path}")
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
