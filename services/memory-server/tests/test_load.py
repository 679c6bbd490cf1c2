"""The load test (benchmarks/load_test.py) on a small count: it must finish with no error and no lost write."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from server_helpers import ALICE

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "load_test.py"


def _load_test_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("memalpha_server_load_test", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
        spec.loader.exec_module(module)
    return module


def test_load_test_runs_without_errors(live_url: str, tmp_path: Path) -> None:
    load_test = _load_test_module()
    out = tmp_path / "load.json"
    token = ALICE["Authorization"].removeprefix("Bearer ")
    args = ["--url", live_url, "--token", token, "--requests", "200", "--concurrency", "32", "--out", str(out)]
    assert load_test.main(args) == 0
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["requests"] == 200 and figures["errors"] == 0 and figures["error_samples"] == []
    assert figures["missing_acknowledged"] == 0 and figures["acknowledged_inserts"] > 0
    assert sum(op["count"] for op in figures["by_operation"].values()) == 200
    assert set(figures["latency_ms"]) == {"p50", "p99", "mean", "max"}


def test_percentile_is_nearest_rank() -> None:
    percentile = _load_test_module().percentile
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50.0, 99.0, 100.0)
