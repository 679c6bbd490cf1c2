"""evaluate(): the results schema, batching, traces, and resuming from a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rollout_helpers import hermes, insert, make_instance

from memalpha_rollout import ScriptedPolicy, evaluate, read_traces
from memalpha_rollout.evaluate import read_checkpoint

INSTANCES = [
    make_instance("a", ["Ana lives in Porto.", "More text."], [("Where does Ana live?", "Porto")]),
    make_instance("b", ["Bob is a baker."], [("What is Bob's job?", "baker"), ("Where is Cy?", "Rome")]),
    make_instance("c", ["Nothing here."], [("Where does Ana live?", "Porto")]),
]


def _policy() -> ScriptedPolicy:
    def reply(conversation: list[dict[str, str]]) -> str:
        chunk = conversation[1]["content"].split("<new_chunk>\n")[1].split("\n</new_chunk>")[0]
        return hermes(insert(chunk.rstrip("."))) if "Nothing" not in chunk else "Done"

    return ScriptedPolicy(reply)


def test_evaluate_returns_per_instance_source_and_capability_scores() -> None:
    result = evaluate(_policy(), INSTANCES, batch_size=2, method="policy:scripted")
    assert result.method == "policy:scripted" and result.answerer == "retrieval-recall"
    assert [r.instance_id for r in result.instances] == ["a", "b", "c"]
    assert [r.score for r in result.instances] == [1.0, 0.5, 0.0]
    assert result.per_source == {"test": pytest.approx(0.5)}
    assert result.per_capability == {"AR": pytest.approx(0.5)}
    assert [r.memory_tokens for r in result.instances] == [6, 4, 0]
    assert result.tool_call_success == 1.0
    assert result.wall_s > 0


def test_batches_run_together(tmp_path: Path) -> None:
    policy = _policy()
    evaluate(policy, INSTANCES, batch_size=2, traces=tmp_path / "traces.jsonl")
    assert policy.batch_sizes == [2, 1, 1]  # batch (a, b): 2 then 1 step; batch (c): 1 step
    assert [t.instance_id for t in read_traces(tmp_path / "traces.jsonl")] == ["a", "b", "c"]


def test_an_interrupted_evaluation_resumes_without_redoing_finished_instances(tmp_path: Path) -> None:
    checkpoint = tmp_path / "done.jsonl"
    first = evaluate(_policy(), INSTANCES[:2], checkpoint=checkpoint, batch_size=1)
    with checkpoint.open("a") as handle:
        handle.write('{"instance_id": "c", "trunc')  # a run killed mid-write
    assert set(read_checkpoint(checkpoint)) == {"a", "b"}
    policy = _policy()
    resumed = evaluate(policy, INSTANCES, checkpoint=checkpoint, batch_size=1)
    assert policy.batch_sizes == [1]  # only c ran
    assert resumed.instances[:2] == first.instances
    assert [r.instance_id for r in resumed.instances] == ["a", "b", "c"]
    lines = [
        json.loads(line)
        for line in checkpoint.read_text().splitlines()
        if line.startswith('{"instance_id"') and line.endswith("}")
    ]
    assert [line["instance_id"] for line in lines] == ["a", "b", "c"]


def test_bad_batch_size_is_refused() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        evaluate(_policy(), INSTANCES, batch_size=0)
