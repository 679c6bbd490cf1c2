"""`memalpha eval`: a tiny recipe end to end, JSON output, resume, and errors as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from memalpha_cli import main
from memalpha_cli.app import cli


@pytest.fixture
def recipe() -> Path:
    """The rollout tests' recipe: 6 short generated instances of 3 data sources."""
    return Path(__file__).resolve().parents[3] / "packages" / "memalpha-rollout" / "tests" / "data" / "tiny-eval.yaml"


def test_eval_writes_the_run_folder_and_prints_json(recipe: Path, tmp_path: Path) -> None:
    args = ["eval", "--recipe", str(recipe), "-m", "heuristic", "-m", "rag", "--runs-dir", str(tmp_path / "runs")]
    result = CliRunner().invoke(cli, [*args, "--run-id", "e", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["method"] for r in data["results"]] == ["heuristic", "rag-top2", "rag-top2@memory"]
    assert set(data["results"][0]["per_capability"]) == {"AR", "LRU", "CR"}
    assert Path(data["report"]).is_file() and Path(data["run"]).name == "e"
    again = CliRunner().invoke(cli, [*args, "--resume", "e"])  # everything finished: kept, tables rewritten
    assert again.exit_code == 0, again.output
    assert "kept from the interrupted run" in again.output and "rag-top2@memory" in again.output


def test_eval_errors(recipe: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = ["--runs-dir", str(tmp_path / "runs")]
    assert main(["eval", "--recipe", str(recipe), "--answerer", "llm", *runs]) == 1
    assert "the llm answerer needs a model" in capsys.readouterr().err
    assert main(["eval", "--recipe", str(recipe), "--resume", "missing", *runs]) == 1
    assert "no evaluation 'missing' to resume" in capsys.readouterr().err
    assert main(["eval", "--recipe", str(tmp_path / "nope.yaml"), "-m", "heuristic", *runs]) == 1
    assert "nope" in capsys.readouterr().err
    assert main(["eval", "-m", "heuristic", "--method", "no-such-writer", "--recipe", str(recipe), *runs]) == 1
    assert "unknown policy 'no-such-writer'" in capsys.readouterr().err
    assert main(["eval", "--recipe", str(recipe), "-m", "heuristic", "--max-instance-tokens", "5", *runs]) == 1
    assert "has no instance of at most 5 tokens" in capsys.readouterr().err
    assert main(["eval", "--answerer", "oracle"]) == 2
    assert main(["eval", "--run-id", "a", "--resume", "b"]) == 2


def test_default_methods_are_the_librarys() -> None:
    """The CLI keeps a copy (it imports memalpha_rollout only when a command runs): it must not drift."""
    from memalpha_cli import eval as eval_module
    from memalpha_rollout.harness import DEFAULT_METHODS

    assert eval_module.DEFAULT_METHODS == DEFAULT_METHODS
