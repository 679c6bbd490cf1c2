"""The data → rollout pipeline on the committed mini sample: episodes with rewards, trainer samples, a run folder
with a report and trace pages, and the baselines at the agent's memory size."""

from __future__ import annotations

from pathlib import Path

import pytest

from memalpha_data import read_instances
from memalpha_rollout import (
    RolloutConfig,
    RunFolder,
    episode_samples,
    evaluate,
    evaluate_baseline,
    load_policy,
    read_samples,
    run_episodes,
    write_report,
    write_samples,
    write_trace_pages,
)

SAMPLE = Path(__file__).resolve().parents[1] / "datasets" / "samples" / "mini-train.parquet"


@pytest.fixture(scope="module")
def instances() -> list:
    return read_instances(SAMPLE)


def test_every_capability_runs_through_the_engine_with_rewards(instances: list, tmp_path: Path) -> None:
    episodes = run_episodes(load_policy("heuristic"), instances, config=RolloutConfig(group_size=2))
    assert {e.instance.capability for e in episodes} == {"AR", "TTL", "LRU", "CR"}
    samples = episode_samples(episodes)
    assert len(samples) == 2 * sum(i.num_chunks for i in instances)
    assert {s.group_id for s in samples} == {i.id for i in instances}
    assert all(s.num_calls > 0 for s in samples)
    results = [r for e in episodes for step in e.steps for r in step.results]
    assert not [r.message for r in results if r.status == "error"]  # the teacher makes no malformed calls
    assert sum(r.ok for r in results) / len(results) > 0.95  # a few repeated TTL examples are skipped
    assert read_samples(write_samples(samples, tmp_path / "samples.parquet")) == samples
    # the rollouts of one instance are the same (the teacher is deterministic), so its group has no spread
    first = [s.reward for s in samples if s.episode_id == episodes[0].episode_id]
    second = [s.reward for s in samples if s.episode_id == episodes[1].episode_id]
    assert first == second


def test_evaluation_baselines_report_and_trace_pages(instances: list, tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path / "runs", run_id="pipeline", config={"recipe": "mini"}, datasets={"mini": SAMPLE})
    agent = evaluate(load_policy("heuristic"), instances, traces=run.trace_path("heuristic"))
    budgets = {r.instance_id: r.memory_tokens for r in agent.instances}
    baselines = [evaluate_baseline(name, instances, budgets=budgets) for name in ("long-context", "rag", "memagent")]
    results = [agent, *baselines]
    assert [r.method for r in results] == [
        "policy:heuristic",
        "long-context@memory",
        "rag-top2@memory",
        "memagent-extractive@memory",
    ]
    assert set(agent.per_capability) == {"AR", "TTL", "LRU", "CR"}
    assert agent.mean_over_sources > baselines[0].mean_over_sources  # storing facts beats the stream's tail
    for baseline in baselines:
        for result in baseline.instances:
            assert result.memory_tokens <= budgets[result.instance_id]
    run.write_results(results)
    report = write_report(run, results, title="mini")
    assert "policy:heuristic" in report.read_text() and "rag-top2@memory" in report.read_text()
    from memalpha_rollout import read_traces

    index = write_trace_pages(run, read_traces(run.trace_path("heuristic")))
    assert len(list(index.parent.glob("*.html"))) == len(instances) + 1
    assert [r.method for r in RunFolder.open(run.path).read_results()] == [r.method for r in results]
