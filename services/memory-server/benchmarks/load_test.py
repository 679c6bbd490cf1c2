"""Load test of the memory server: mixed reads and writes at fixed concurrency, latency percentiles as JSON.

    python services/memory-server/benchmarks/load_test.py                     # spawns a server on 127.0.0.1
    python services/memory-server/benchmarks/load_test.py --url http://127.0.0.1:8765 --token TOKEN

Each request is one of: insert (40%), update of an entry or of the core (15%), search (20%), entry read
(10%), writer's view (10%), whole namespace (5%), spread over a few namespaces. After the run every
acknowledged insert is looked up again (``missing_acknowledged`` must be 0). Without ``--url`` the server
is started in a subprocess (no_auth, a temporary store) and stopped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

OPERATIONS = {"insert": 40, "update": 15, "search": 20, "entry": 10, "view": 10, "namespace": 5}
WORDS = (
    "alpha", "beta", "gamma", "delta", "porto", "lisbon", "ana",
    "bruno", "coffee", "train", "meeting", "invoice", "garden", "piano",
)  # fmt: skip


@dataclass
class LoadState:
    """What the workers share: the next request number, the ids each namespace acknowledged, the timings."""

    rng: random.Random
    total: int
    next_index: int = 0
    ids: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _sentence(rng: random.Random, i: int) -> str:
    return f"item {i}: " + " ".join(rng.choice(WORDS) for _ in range(8))


def _plan(state: LoadState, namespaces: Sequence[str], i: int) -> tuple[str, str, str, dict[str, Any] | None]:
    """One request: (operation, method, path, json body)."""
    rng = state.rng
    ns = rng.choice(namespaces)
    op = rng.choices(list(OPERATIONS), weights=list(OPERATIONS.values()))[0]
    known = state.ids[ns]
    if op in ("update", "entry") and not known:
        op = "insert"
    base = f"/v1/namespaces/{ns}"
    if op == "insert":
        kind = rng.choice(["semantic_memory", "episodic_memory"])
        args = {"memory_type": kind, "content": _sentence(rng, i)}
        return op, "POST", f"{base}/tool-calls", {"name": "new_memory_insert", "arguments": args}
    if op == "update":
        if rng.random() < 0.3:
            args = {"memory_type": "core_memory", "new_content": f"core rewritten by request {i}"}
        else:
            kind, memory_id = rng.choice(known)
            args = {"memory_type": f"{kind}_memory", "memory_id": memory_id, "new_content": _sentence(rng, i)}
        return op, "POST", f"{base}/tool-calls", {"name": "memory_update", "arguments": args}
    if op == "search":
        return op, "GET", f"{base}/search?q={rng.choice(WORDS)}+{rng.choice(WORDS)}&k=10", None
    if op == "entry":
        kind, memory_id = rng.choice(known)
        return op, "GET", f"{base}/entries/{kind}/{memory_id}", None
    if op == "view":
        return op, "GET", f"{base}/view?recent=5", None
    return op, "GET", base, None


async def _worker(client: httpx.AsyncClient, state: LoadState, namespaces: Sequence[str]) -> None:
    while state.next_index < state.total:
        i = state.next_index
        state.next_index += 1
        op, method, path, body = _plan(state, namespaces, i)
        start = time.perf_counter()
        try:
            response = await client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            state.errors.append(f"{op} {path}: {type(exc).__name__}: {exc}")
            continue
        state.latencies[op].append(time.perf_counter() - start)
        if response.status_code != 200:
            state.errors.append(f"{op} {path}: HTTP {response.status_code} {response.text[:200]}")
        elif op == "insert":
            result = response.json()
            if result["status"] == "ok":
                state.ids[path.split("/")[3]].append((result["memory_type"], result["memory_id"]))


async def run_load(
    url: str,
    *,
    token: str | None = None,
    requests: int = 1000,
    concurrency: int = 32,
    namespaces: int = 4,
    seed: int = 0,
) -> dict[str, Any]:
    """Send ``requests`` mixed requests with ``concurrency`` in flight; return the figures."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    names = [f"load-{seed}-{n}" for n in range(namespaces)]
    state = LoadState(rng=random.Random(seed), total=requests)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=120.0) as client:
        for name in names:  # setup (not timed): every namespace exists before reads start
            setup = {"name": "memory_update", "arguments": {"memory_type": "core_memory", "new_content": "load test"}}
            (await client.post(f"/v1/namespaces/{name}/tool-calls", json=setup)).raise_for_status()
        start = time.perf_counter()
        await asyncio.gather(*(_worker(client, state, names) for _ in range(concurrency)))
        duration = time.perf_counter() - start
        missing = 0
        for name in names:
            detail = (await client.get(f"/v1/namespaces/{name}")).raise_for_status().json()
            stored = {e["id"] for kind in ("semantic", "episodic") for e in detail[kind]}
            missing += sum(memory_id not in stored for _, memory_id in state.ids[name])
    every = [t for times in state.latencies.values() for t in times]
    return {
        "url": url,
        "requests": requests,
        "concurrency": concurrency,
        "namespaces": namespaces,
        "errors": len(state.errors),
        "error_samples": state.errors[:10],
        "acknowledged_inserts": sum(len(v) for v in state.ids.values()),
        "missing_acknowledged": missing,
        "duration_s": round(duration, 3),
        "requests_per_s": round(requests / duration, 1),
        "latency_ms": _summary(every),
        "by_operation": {op: {"count": len(t), **_summary(t)} for op, t in sorted(state.latencies.items())},
    }


def _summary(times: Sequence[float]) -> dict[str, float]:
    if not times:
        return {"p50": 0.0, "p99": 0.0, "mean": 0.0, "max": 0.0}
    return {
        "p50": round(percentile(times, 50) * 1000, 2),
        "p99": round(percentile(times, 99) * 1000, 2),
        "mean": round(statistics.fmean(times) * 1000, 2),
        "max": round(max(times) * 1000, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (default: start one on 127.0.0.1 with a temporary store)")
    parser.add_argument("--token", help="bearer token for --url")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--namespaces", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/memory-server-load.json"), help="JSON output")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        url = args.url
        if url is None:
            from memalpha_server import ServerSettings
            from memalpha_server.testing import serve_in_subprocess

            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="memalpha-load-"))
            url = stack.enter_context(serve_in_subprocess(ServerSettings(store=folder, no_auth=True))).url
        figures = asyncio.run(
            run_load(
                url,
                token=args.token,
                requests=args.requests,
                concurrency=args.concurrency,
                namespaces=args.namespaces,
                seed=args.seed,
            )
        )
    figures["server"] = "given" if args.url else "spawned (no_auth, temporary local store)"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    latency = figures["latency_ms"]
    print(
        f"{figures['requests']} requests, concurrency {figures['concurrency']}: {figures['errors']} errors, "
        f"{figures['missing_acknowledged']} acknowledged writes missing, {figures['requests_per_s']} req/s, "
        f"p50 {latency['p50']} ms, p99 {latency['p99']} ms, mean {latency['mean']} ms -> {args.out}"
    )
    return 0 if figures["errors"] == 0 and figures["missing_acknowledged"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
