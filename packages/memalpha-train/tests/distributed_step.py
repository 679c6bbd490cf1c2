"""One GRPO step on 2 CPU processes (run by test_distributed.py under torchrun, gloo backend).

Three instances of 3, 2 and 1 chunks, G = 2, 3 rollout slots per process: the group of the instance in slots 2
and 3 is split across the processes, which hold different row counts before padding.
Each process writes ``rank<k>.json``: its (group, advantage) rows, row counts, the loss, a weight checksum and how
many forwards ran the shared prompt prefix once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import torch
from train_helpers import AlternatingAnswerer, grpo_args, make_instance
from transformers import AutoModelForCausalLM, AutoTokenizer

import memalpha_train.grpo as grpo_module
from memalpha_train import MemalphaGRPOTrainer, instances_dataset

SHARED_FORWARDS: list[bool] = []


def counted_shared_prefix_logps(*args: Any, **kwargs: Any) -> Any:
    result = shared_prefix_logps(*args, **kwargs)
    SHARED_FORWARDS.append(result is not None)
    return result


shared_prefix_logps = grpo_module.shared_prefix_logps
grpo_module.shared_prefix_logps = counted_shared_prefix_logps  # type: ignore[assignment]


class Recording(MemalphaGRPOTrainer):
    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        batch = super()._generate_and_score_completions(inputs)
        groups = [e.instance.id for e in self.last_episodes for _ in e.steps]
        advantages = batch["advantages"].tolist()
        self.record = {
            "rows": [[g, a] for g, a in zip(groups, advantages, strict=False)],
            "local_rows": len(groups),
            "padded_rows": len(advantages),
        }
        return batch


def main(model_dir: str, out: str) -> None:
    instances = [make_instance("c3", 3), make_instance("c2", 2), make_instance("c1", 1)]
    args = grpo_args(Path(out) / "trainer", per_device_train_batch_size=3, num_generations=2)
    trainer = Recording(
        AutoModelForCausalLM.from_pretrained(model_dir),
        args,
        instances_dataset(instances),
        answerer=AlternatingAnswerer(),
        processing_class=AutoTokenizer.from_pretrained(model_dir),
    )
    trainer.train()
    rank = trainer.accelerator.process_index
    checksum = sum(float(p.detach().double().sum()) for p in trainer.model.parameters())
    record = {**trainer.record, "loss": trainer.state.log_history[0]["loss"], "checksum": checksum}
    record["world"] = trainer.accelerator.num_processes
    record["shared_prefix_forwards"] = sum(SHARED_FORWARDS)  # DDP with the prompt prefix run once per forward
    record["finite"] = all(bool(torch.isfinite(p).all()) for p in trainer.model.parameters())
    (Path(out) / f"rank{rank}.json").write_text(json.dumps(record), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
