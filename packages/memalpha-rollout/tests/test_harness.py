"""The evaluation harness: every method on the same instances, one run folder, resume, length sweep."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from memalpha_data import Instance, Question
from memalpha_rollout import harness
from memalpha_rollout.exceptions import RunFolderError
from memalpha_rollout.harness import latest_checkpoint, run_evaluation, select_instances

RECIPE = (Path(__file__).parent / "data" / "tiny-eval.yaml").read_text(encoding="utf-8")

SWEEP = """
name: length-sweep
seed: 3
splits:
  eval:
    - source: generate
      limit: 1
      params: {capability: AR, data_source: gen_ar_short, target_tokens: 500, chunk_tokens: 200, num_questions: 4}
    - source: generate
      limit: 1
      params: {capability: AR, data_source: gen_ar_long, target_tokens: 1600, chunk_tokens: 200, num_questions: 4}
"""

BASELINES = ["long-context", "rag", "memagent"]


def recipe_file(tmp_path: Path, text: str = RECIPE, name: str = "tiny-eval") -> Path:
    path = tmp_path / f"{name}.yaml"
    tmp_path.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def evaluate_tiny(tmp_path: Path, **options: Any) -> harness.EvalRun:
    defaults: dict[str, Any] = {
        "methods": ["heuristic", *BASELINES],
        "limit": 1,
        "runs_dir": tmp_path / "runs",
        "run_id": "e1",
    }
    return run_evaluation(str(recipe_file(tmp_path)), **{**defaults, **options})


def test_select_instances_keeps_the_first_of_every_source() -> None:
    def instance(i: str, source: str) -> Instance:
        question = Question(question="q?", answers=["a"])
        return Instance(id=i, data_source=source, capability="AR", chunks=["c"], questions=[question])

    items = [instance("a1", "a"), instance("b1", "b"), instance("a2", "a"), instance("a3", "a"), instance("b2", "b")]
    assert [i.id for i in select_instances(items, 2)] == ["a1", "b1", "a2", "b2"]
    assert [i.id for i in select_instances(items, None)] == [i.id for i in items]
    with pytest.raises(ValueError, match="at least 1"):
        select_instances(items, 0)
    items[0] = items[0].model_copy(update={"chunks": ["a long chunk " * 10]})  # 30 tokens
    assert [i.id for i in select_instances(items, 1, max_tokens=20)] == ["b1", "a2"]
    with pytest.raises(ValueError, match="must be positive"):
        select_instances(items, 1, max_tokens=0)


def test_writers_and_baselines_on_the_same_instances(tmp_path: Path) -> None:
    lines: list[str] = []
    outcome = evaluate_tiny(tmp_path, say=lines.append)
    methods = [r.method for r in outcome.results]
    assert methods == [
        "heuristic",
        "long-context",
        "long-context@memory",
        "rag-top2",
        "rag-top2@memory",
        "memagent-extractive",
        "memagent-extractive@memory",
    ]
    instance_sets = {tuple(sorted(i.instance_id for i in r.instances)) for r in outcome.results}
    assert len(instance_sets) == 1 and len(next(iter(instance_sets))) == 3  # one instance of each of 3 sources
    writer = outcome.results[0]
    assert writer.mean_memory_tokens > 0 and writer.tool_call_success is not None
    budgets = {i.instance_id: i.memory_tokens for i in writer.instances}
    for result in outcome.results[1:]:
        if result.method.endswith("@memory"):  # at most the writer's memory on each instance
            assert all(i.memory_tokens <= budgets[i.instance_id] for i in result.instances), result.method
    full_context = {i.instance_id: i.memory_tokens for i in outcome.results[1].instances}
    assert any(full_context[k] > budgets[k] for k in budgets)  # the budget binds somewhere
    run = outcome.run.path
    report = (run / "report.md").read_text(encoding="utf-8")
    assert "## Results" in report and "## Per capability" in report and "memagent-extractive@memory" in report
    assert (run / "plots" / "score_vs_memory.png").is_file() and (run / "html" / "index.html").is_file()
    summary = (run / "summary.md").read_text(encoding="utf-8")
    assert (
        "### Per capability" in summary and "](plots/score_vs_memory.png)" in summary and "config.json" not in summary
    )
    stored = json.loads((run / "results" / "results.json").read_text(encoding="utf-8"))
    assert [r["method"] for r in stored] == methods
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    assert config["limit"] == 1 and config["methods"] == ["heuristic", *BASELINES]
    hashes = json.loads((run / "datasets.json").read_text(encoding="utf-8"))
    assert list(hashes) == ["eval"] and len(hashes["eval"]["sha256"]) == 64
    assert any("baselines @memory" in line for line in lines) and lines[-1].startswith("report:")


def test_the_same_command_gives_the_same_tables(tmp_path: Path) -> None:
    first = evaluate_tiny(tmp_path / "a")
    second = evaluate_tiny(tmp_path / "b")
    for a, b in zip(first.results, second.results, strict=True):
        assert (a.method, a.per_source, a.memory_tokens_per_source) == (
            b.method,
            b.per_source,
            b.memory_tokens_per_source,
        )


def test_resume_keeps_finished_methods(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = evaluate_tiny(tmp_path)
    results = first.run.path / "results"
    (results / "rag.json").unlink()  # interrupted before the rag baseline finished
    (first.run.path / "report.md").unlink()

    def no_rerun(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a finished writer was evaluated again")

    monkeypatch.setattr(harness, "evaluate", no_rerun)
    again = evaluate_tiny(tmp_path, resume=True)
    assert [r.model_dump() for r in again.results if r.method != "rag-top2"] == [
        r.model_dump() for r in first.results if r.method != "rag-top2"
    ]
    assert (results / "rag.json").is_file() and (again.run.path / "report.md").is_file()
    with pytest.raises(RunFolderError):  # other options than the run being resumed
        evaluate_tiny(tmp_path, resume=True, limit=2)


def test_option_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown answerer"):
        evaluate_tiny(tmp_path, answerer="oracle")
    with pytest.raises(ValueError, match="needs a model"):
        evaluate_tiny(tmp_path, answerer="llm")
    with pytest.raises(RunFolderError, match="no evaluation 'nope' to resume"):
        evaluate_tiny(tmp_path, run_id="nope", resume=True)
    with pytest.raises(ValueError, match="no methods"):
        evaluate_tiny(tmp_path, methods=[])
    with pytest.raises(ValueError, match="budget_from='smollm2' is not one of the writers"):
        evaluate_tiny(tmp_path, run_id="e2", budget_from="smollm2")


def test_latest_checkpoint_is_the_newest_trained_model(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path) is None
    for index, run in enumerate(["old", "new"]):
        final = tmp_path / run / "grpo" / "final"
        final.mkdir(parents=True)
        (final / "config.json").write_text("{}", encoding="utf-8")
        os.utime(final, (1000 + index, 1000 + index))
    (tmp_path / "unfinished" / "grpo" / "final").mkdir(parents=True)  # no model files: not a checkpoint
    assert latest_checkpoint(tmp_path) == tmp_path / "new" / "grpo" / "final"


def test_long_instances_are_left_out_and_named(tmp_path: Path) -> None:
    full = evaluate_tiny(tmp_path, methods=["heuristic"], limit=None, max_instance_tokens=100_000).results[0]
    assert len(full.instances) == 6
    shortest: dict[str, int] = {}
    for r in full.instances:
        shortest[r.data_source] = min(shortest.get(r.data_source, r.chunk_tokens), r.chunk_tokens)
    gone = max(shortest, key=shortest.__getitem__)
    cap = shortest[gone] - 1  # below every instance of one source, above some of the others
    assert all(length <= cap for source, length in shortest.items() if source != gone)
    capped = evaluate_tiny(tmp_path, run_id="capped", methods=["heuristic"], limit=None, max_instance_tokens=cap)
    assert all(i.chunk_tokens <= cap for i in capped.results[0].instances)
    assert set(capped.results[0].per_source) == set(shortest) - {gone}
    assert capped.skipped == [
        f"data sources {gone}: every instance is longer than {cap:,} tokens (max_instance_tokens)"
    ]
    with pytest.raises(ValueError, match="no instance of at most 1 tokens"):
        evaluate_tiny(tmp_path, run_id="none", methods=["heuristic"], max_instance_tokens=1)


def test_checkpoint_is_skipped_without_a_trained_model(tmp_path: Path) -> None:
    outcome = evaluate_tiny(tmp_path, methods=["checkpoint", "heuristic", "rag"])
    assert [r.method for r in outcome.results] == ["heuristic", "rag-top2", "rag-top2@memory"]
    assert outcome.skipped and "memalpha train" in outcome.skipped[0]
    assert "Skipped: checkpoint" in (outcome.run.path / "report.md").read_text(encoding="utf-8")


def test_a_checkpoint_runs_with_its_training_prompt_settings(tmp_path: Path, tiny_model_dir: Path) -> None:
    trained = tmp_path / "runs" / "train-1"
    shutil.copytree(tiny_model_dir, trained / "grpo" / "final")
    rollout = {"tool_format": "qwen-agent", "prompt_style": "compact", "max_prompt_tokens": 700}
    (trained / "config.json").write_text(json.dumps({"rollout": rollout}), encoding="utf-8")
    outcome = evaluate_tiny(tmp_path, methods=["checkpoint"], max_tokens=8)
    assert [r.method for r in outcome.results] == ["checkpoint"]
    assert outcome.results[0].config["tool_format"] == "qwen-agent"  # from the training run, not the default
    config = json.loads((outcome.run.path / "config.json").read_text(encoding="utf-8"))
    assert config["checkpoint"].endswith(str(Path("train-1") / "grpo" / "final"))


def test_length_sweep_reports_score_and_memory_per_length(tmp_path: Path) -> None:
    path = recipe_file(tmp_path, SWEEP, "length-sweep")
    outcome = run_evaluation(str(path), methods=["heuristic", "rag"], limit=None, runs_dir=tmp_path / "runs")
    report = (outcome.run.path / "report.md").read_text(encoding="utf-8")
    assert "## Length sweep" in report and (outcome.run.path / "plots" / "length_sweep.png").is_file()
    sweep = report.split("## Length sweep", 1)[1]
    header = next(line for line in sweep.splitlines() if line.startswith("| method"))
    lengths = [float(cell.split(" tokens")[0].replace(",", "")) for cell in header.split("|")[2:-1]]
    assert len(lengths) == 2 and lengths[0] < lengths[1]  # sorted by length


def test_an_llm_answerer_behind_an_openai_compatible_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fake_openai_server import FakeOpenAIServer

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAIServer() as server:
        outcome = evaluate_tiny(
            tmp_path, methods=["heuristic", "rag"], answerer="llm", answerer_model=f"openai:{server.url}/fake-model"
        )
        asked = len(server.requests)
    assert {r.answerer for r in outcome.results} == {"llm"}
    questions = sum(len(i.question_scores) for i in outcome.results[0].instances)
    assert asked == questions * len(outcome.results)  # every method's every question went to the server
