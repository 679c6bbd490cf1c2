"""Two CPU processes (torchrun, gloo): a GRPO group split across them, unequal rows, weights kept in sync."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest


def test_two_processes_share_groups(tiny_model_dir: Path, tmp_path: Path) -> None:
    script = Path(__file__).with_name("distributed_step.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    run = subprocess.run(
        [*command, str(script), str(tiny_model_dir), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{k}.json").read_text(encoding="utf-8")) for k in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    # 2 x (3 + 2 + 1) = 12 rows, split unevenly (the sampler's order decides how); both padded to the larger count
    local = [r["local_rows"] for r in ranks]
    assert sum(local) == 12 and local[0] != local[1]
    assert ranks[0]["padded_rows"] == ranks[1]["padded_rows"] == max(local)
    by_group: dict[str, list[float]] = defaultdict(list)
    for rank in ranks:
        for group, advantage in rank["rows"]:
            by_group[group].append(advantage)
    split = [g for g in by_group if all(any(row[0] == g for row in r["rows"]) for r in ranks)]
    assert len(split) == 1  # the instance in slots 2 and 3 straddles the processes
    for group, advantages in by_group.items():
        assert sum(advantages) == pytest.approx(0.0, abs=1e-5), group  # standardised over the whole group
    assert any(abs(a) > 0 for values in by_group.values() for a in values)
    assert all(math.isfinite(r["loss"]) and r["finite"] for r in ranks)
    assert all(r["shared_prefix_forwards"] > 0 for r in ranks)  # the loss ran with the shared prompt prefix
    assert ranks[0]["checksum"] == pytest.approx(ranks[1]["checksum"], rel=1e-9)  # DDP kept the weights equal
