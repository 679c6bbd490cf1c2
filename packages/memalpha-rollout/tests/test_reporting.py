"""Run folders, metrics, results (memalpha_rollout.run_folder); tables, plots and report.md (.reporting)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from memalpha_rollout.exceptions import RunFolderError
from memalpha_rollout.reporting import (
    RunFolder,
    plot_metrics,
    plot_score_vs_memory,
    render_capability_table,
    render_results_table,
    write_report,
)
from memalpha_rollout.results import EvalResult, InstanceResult, summarize
from memalpha_rollout.run_folder import dataset_fingerprint

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def instance(instance_id: str, source: str, capability: str, scores: list[float], memory: int, **kw: object):
    return InstanceResult(
        instance_id=instance_id,
        data_source=source,
        capability=capability,
        score=sum(scores) / len(scores),
        question_scores=scores,
        memory_tokens=memory,
        chunk_tokens=20_000,
        num_chunks=3,
        **kw,
    )


@pytest.fixture
def results() -> list[EvalResult]:
    policy = summarize(
        "policy:mem-alpha",
        "bm25-qwen",
        [
            instance("i1", "squad", "AR", [1.0, 0.5], 10_123, tool_calls=4, ok_calls=3, generated_tokens=1200),
            instance("i2", "squad", "AR", [0.0], 9_877, tool_calls=2, ok_calls=2, generated_tokens=800),
            instance("i3", "booksum", "LRU", [0.25], 2_200, generated_tokens=300),
            instance(
                "i4", "trec_coarse", "TTL", [1.0, 1.0, 0.0], 4_000, tool_calls=2, ok_calls=1, generated_tokens=400
            ),
        ],
        wall_s=12.34,
    )
    rag = summarize(
        "rag-top2",
        "bm25-qwen",
        [
            instance("i1", "squad", "AR", [1.0, 1.0], 10_600),
            instance("i4", "trec_coarse", "TTL", [0.0, 1.0], 3_800),
        ],
    )
    return [policy, rag]


# ------------------------------------------------------------------------------------------- run folder


def test_create_writes_config_versions_datasets_and_subfolders(tmp_path: Path) -> None:
    data = tmp_path / "train.parquet"
    data.write_bytes(b"some parquet bytes" * 100)
    config = {"zeta": 1, "alpha": {"lr": 1e-6, "names": ["a", "b"]}, "path": "x"}
    run = RunFolder.create(tmp_path / "runs", name="demo", config=config, datasets={"train": data})

    assert re.fullmatch(r"\d{8}-\d{6}-demo", run.run_id), run.run_id
    assert run.path == tmp_path / "runs" / run.run_id
    assert run.config == config
    assert list(json.loads((run.path / "config.json").read_text())) == ["zeta", "alpha", "path"]  # order kept
    for sub in ("plots", "traces", "html", "checkpoints"):
        assert (run.path / sub).is_dir()
    datasets = json.loads((run.path / "datasets.json").read_text())
    assert datasets == {
        "train": {"path": str(data), "size": 1800, "sha256": hashlib.sha256(data.read_bytes()).hexdigest()}
    }
    versions = json.loads((run.path / "versions.json").read_text())
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))
    assert versions["packages"]["memalpha-rollout"] == importlib.metadata.version("memalpha-rollout")
    assert versions["packages"]["pydantic"] == importlib.metadata.version("pydantic")


def test_versions_are_read_without_importing_torch(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import json, sys
        from memalpha_rollout.reporting import RunFolder
        run = RunFolder.create({str(tmp_path)!r}, run_id="probe")
        versions = json.loads((run.path / "versions.json").read_text())
        print(json.dumps({{"torch_imported": "torch" in sys.modules, "torch": versions["packages"].get("torch")}}))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["torch_imported"] is False
    try:
        expected = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        expected = None
    assert report["torch"] == expected


def test_default_run_ids_do_not_collide(tmp_path: Path) -> None:
    first = RunFolder.create(tmp_path, name="same")
    second = RunFolder.create(tmp_path, name="same")
    assert first.path != second.path
    assert (first.path / "config.json").is_file() and (second.path / "config.json").is_file()


def test_create_refuses_an_existing_run(tmp_path: Path) -> None:
    RunFolder.create(tmp_path, run_id="r1", config={"a": 1})
    with pytest.raises(RunFolderError, match=r"'.*r1' already exists; pass exist_ok=True"):
        RunFolder.create(tmp_path, run_id="r1", config={"a": 1})


def test_resume_reopens_the_run(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path, run_id="r1", config={"a": 1})
    run.log_metrics({"step": 0, "reward": 0.5})
    again = RunFolder.create(tmp_path, run_id="r1", config={"a": 1}, exist_ok=True)
    assert again.path == run.path
    assert [r["reward"] for r in again.read_metrics()] == [0.5]
    assert RunFolder.create(tmp_path, run_id="r1", exist_ok=True).config == {"a": 1}  # no config: keep the stored


def test_resume_with_another_config_is_refused(tmp_path: Path) -> None:
    RunFolder.create(tmp_path, run_id="r1", config={"a": 1, "b": 2})
    with pytest.raises(RunFolderError, match=r"another config \(keys \['b'\] differ\)"):
        RunFolder.create(tmp_path, run_id="r1", config={"a": 1, "b": 3}, exist_ok=True)


def test_resume_with_changed_data_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text("one\n")
    RunFolder.create(tmp_path / "runs", run_id="r1", datasets={"train": data})
    data.write_text("two\n")
    with pytest.raises(RunFolderError, match=r"datasets \['train'\] changed"):
        RunFolder.create(tmp_path / "runs", run_id="r1", datasets={"train": data}, exist_ok=True)


def test_exist_ok_does_not_adopt_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "r1").mkdir()
    (tmp_path / "r1" / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="is not a run folder"):
        RunFolder.create(tmp_path, run_id="r1", exist_ok=True)


def test_open(tmp_path: Path) -> None:
    created = RunFolder.create(tmp_path, run_id="r1", config={"model": "tiny"})
    opened = RunFolder.open(created.path)
    assert (opened.run_id, opened.config) == ("r1", {"model": "tiny"})
    with pytest.raises(RunFolderError, match=r"is not a run folder \(no config.json\)"):
        RunFolder.open(tmp_path)


@pytest.mark.parametrize("run_id", ["../escape", "a/b", "", ".hidden", "-x"])
def test_bad_run_ids_are_refused(tmp_path: Path, run_id: str) -> None:
    with pytest.raises(RunFolderError, match="is not a valid name"):
        RunFolder.create(tmp_path, run_id=run_id)


def test_unserialisable_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match="config cannot be written as JSON: object of type object"):
        RunFolder.create(tmp_path, run_id="r1", config={"bad": object()})
    assert not (tmp_path / "r1").exists()


def test_dataset_fingerprint_of_a_folder_and_a_missing_path(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("a")
    before = dataset_fingerprint(tmp_path / "d")
    assert (before["size"], before["files"]) == (1, 1)
    (tmp_path / "d" / "a.txt").write_text("b")
    assert dataset_fingerprint(tmp_path / "d")["sha256"] != before["sha256"]
    with pytest.raises(RunFolderError, match=r"dataset file '.*nope' does not exist"):
        dataset_fingerprint(tmp_path / "nope")


# ------------------------------------------------------------------------------------------- metrics


def test_metrics_round_trip(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path, run_id="r1")
    assert run.read_metrics() == []
    before = time.time()
    run.log_metrics({"step": 0, "reward": 0.25})
    run.log_metrics({"step": 1, "reward": 0.5, "time": 7.0, "note": "ok"})
    first, second = run.read_metrics()
    assert first["step"] == 0 and first["reward"] == 0.25
    assert before <= first["time"] <= time.time()
    assert second == {"step": 1, "reward": 0.5, "time": 7.0, "note": "ok"}
    assert run.metrics_path.read_text().count("\n") == 2


def test_unserialisable_metrics_are_refused(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path, run_id="r1")
    with pytest.raises(RunFolderError, match="metrics record cannot be written as JSON"):
        run.log_metrics({"step": 0, "value": {1, 2}})
    assert run.read_metrics() == []


def test_truncated_last_line_is_tolerated_and_dropped_on_resume(tmp_path: Path, caplog) -> None:
    run = RunFolder.create(tmp_path, run_id="r1")
    run.log_metrics({"step": 0, "reward": 0.1})
    run.log_metrics({"step": 1, "reward": 0.2})
    with run.metrics_path.open("a") as handle:  # a run killed mid-write
        handle.write('{"step": 2, "rew')
    with caplog.at_level(logging.WARNING, logger="memalpha_rollout.reporting"):
        assert [r["step"] for r in run.read_metrics()] == [0, 1]
    assert "truncated last line" in caplog.text
    run.log_metrics({"step": 2, "reward": 0.3})
    assert [r["step"] for r in run.read_metrics()] == [0, 1, 2]
    assert '"rew\n' not in run.metrics_path.read_text()


def test_a_bad_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path, run_id="r1")
    run.metrics_path.write_text('{"step": 0}\nnot json\n{"step": 2}\n')
    with pytest.raises(RunFolderError, match="line 2 is not JSON"):
        run.read_metrics()


# ------------------------------------------------------------------------------------------- results


def test_results_round_trip(tmp_path: Path, results: list[EvalResult]) -> None:
    run = RunFolder.create(tmp_path, run_id="r1")
    path = run.write_results(results, name="validation")
    assert path == run.path / "results" / "validation.json"
    assert [item["method"] for item in json.loads(path.read_text())] == ["policy:mem-alpha", "rag-top2"]
    assert run.read_results("validation") == results
    assert run.trace_path("validation") == run.path / "traces" / "validation.jsonl"
    with pytest.raises(RunFolderError, match="no results named 'test'"):
        run.read_results("test")
    (run.path / "results" / "broken.json").write_text('[{"method": 1}]')
    with pytest.raises(RunFolderError, match=r"broken\.json is not a list of EvalResults"):
        run.read_results("broken")


# ------------------------------------------------------------------------------------------- tables

EXPECTED_TABLE = (
    "| method | answerer | booksum score | booksum mem (K tok) | squad score | squad mem (K tok) | trec_coarse score "
    "| trec_coarse mem (K tok) | AR score | LRU score | TTL score | mean score | mean mem (K tok) | wall (s) "
    "| generated tokens | tool-call success |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    "| policy:mem-alpha | bm25-qwen | 0.250 | 2.2 | 0.375 | 10.0 | 0.667 | 4.0 | 0.375 | 0.250 | 0.667 | 0.431 "
    "| 5.4 | 12.3 | 2,700 | 75.0% |\n"
    "| rag-top2 | bm25-qwen | — | — | 1.000 | 10.6 | 0.500 | 3.8 | 1.000 | — | 0.500 | 0.750 | 7.2 | 0.0 | 0 | — |\n"
)

EXPECTED_CAPABILITIES = (
    "| method | answerer | AR score | AR mem (K tok) | LRU score | LRU mem (K tok) | TTL score | TTL mem (K tok) |\n"
    "|---|---|---|---|---|---|---|---|\n"
    "| policy:mem-alpha | bm25-qwen | 0.375 | 10.0 | 0.250 | 2.2 | 0.667 | 4.0 |\n"
    "| rag-top2 | bm25-qwen | 1.000 | 10.6 | — | — | 0.500 | 3.8 |\n"
)


def test_results_table_values(results: list[EvalResult]) -> None:
    table = render_results_table(results)
    assert table.startswith(EXPECTED_TABLE)
    assert "plain means over data sources" in table
    assert 'the paper\'s "Avg." columns are not always plain means' in table


def test_results_table_keeps_the_method_order(results: list[EvalResult]) -> None:
    rows = render_results_table(results[::-1]).splitlines()[2:4]
    assert [row.split(" | ")[0] for row in rows] == ["| rag-top2", "| policy:mem-alpha"]


def test_capability_table_values(results: list[EvalResult]) -> None:
    assert render_capability_table(results) == EXPECTED_CAPABILITIES


def test_table_units_and_escaping(results: list[EvalResult]) -> None:
    renamed = results[0].model_copy(update={"method": "a|b"})
    table = render_results_table([renamed], memory_unit=1)
    assert "| squad mem (tok) |" in table
    assert "| a\\|b | bm25-qwen | 0.250 | 2200.0 |" in table
    with pytest.raises(ValueError, match="memory_unit must be a positive number of tokens, got 0"):
        render_results_table(results, memory_unit=0)
    assert render_results_table([]) == "_No results._\n"


# ------------------------------------------------------------------------------------------- plots


def test_score_vs_memory_plot_is_a_png(tmp_path: Path, results: list[EvalResult]) -> None:
    path = plot_score_vs_memory(results, tmp_path / "plots" / "score.png")
    assert path == tmp_path / "plots" / "score.png"
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_metrics_plot_is_a_png(tmp_path: Path) -> None:
    records = [{"step": i, "reward": i / 10, "r1": 0.5, "note": "x"} for i in range(5)] + [{"reward": 1.0}]
    path = plot_metrics(records, ["reward", "r1"], tmp_path / "m.png", title="training")
    assert path is not None and path.read_bytes()[:8] == PNG_MAGIC


def test_metrics_plot_without_data_or_with_a_string_key(tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="memalpha_rollout.reporting"):
        assert plot_metrics([{"step": 0, "note": "x"}], ["note", "missing"], tmp_path / "m.png") is None
    assert "metrics plot skipped" in caplog.text
    assert not (tmp_path / "m.png").exists()
    with pytest.raises(TypeError, match=r"got the string 'reward'; pass \['reward'\]"):
        plot_metrics([], "reward", tmp_path / "m.png")


def test_plots_are_skipped_without_matplotlib(
    tmp_path: Path, results: list[EvalResult], monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with caplog.at_level(logging.WARNING, logger="memalpha_rollout.reporting"):
        assert plot_score_vs_memory(results, tmp_path / "s.png") is None
        assert plot_metrics([{"step": 0, "reward": 1.0}], ["reward"], tmp_path / "m.png") is None
    assert 'pip install "memalpha-rollout[plots]"' in caplog.text
    assert not (tmp_path / "s.png").exists()
    run = RunFolder.create(tmp_path, run_id="r1")
    text = write_report(run, results, title="Eval").read_text()
    assert "plot skipped" in text
    assert "![" not in text


# ------------------------------------------------------------------------------------------- report


def test_write_report(tmp_path: Path, results: list[EvalResult]) -> None:
    run = RunFolder.create(tmp_path, run_id="r1")
    for step in range(3):
        run.log_metrics({"step": step, "reward": step / 2})
    (run.path / "html" / "index.html").write_text("<html></html>")
    path = write_report(run, results, title="Validation", notes="Tiny run.", metrics_plots=["reward"])
    assert path == run.path / "report.md"
    text = path.read_text()
    assert text.startswith("# Validation\n\nRun `r1`.\n\nTiny run.\n")
    assert EXPECTED_TABLE in text
    assert EXPECTED_CAPABILITIES in text
    assert "![score](plots/score_vs_memory.png)" in text
    assert "![metrics: reward](plots/metrics.png)" in text
    assert (run.path / "plots" / "score_vs_memory.png").read_bytes()[:8] == PNG_MAGIC
    assert (run.path / "plots" / "metrics.png").read_bytes()[:8] == PNG_MAGIC
    assert "[html/index.html](html/index.html)" in text
    assert "[config.json](config.json)" in text
