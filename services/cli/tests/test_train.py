"""`memalpha train`: recipes by name, overrides, errors as one line, and a whole tiny run."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from memalpha_cli import main
from memalpha_cli.app import cli

ROOT = Path(__file__).resolve().parents[3]
TINY = ROOT / "packages" / "memalpha-train" / "tests" / "data" / "tiny.yaml"


def test_list_recipes() -> None:
    result = CliRunner().invoke(cli, ["train", "--list"])
    assert result.exit_code == 0, result.output
    assert "cpu-demo" in result.output.split() and "qwen3-4b" in result.output.split()


def test_bad_recipes_and_overrides_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--recipe", "nope"]) == 1
    assert "no recipe named 'nope'" in capsys.readouterr().err
    assert main(["train", "--set", "grpo.learning_rat=1"]) == 1
    assert "unknown GRPOConfig field(s) ['learning_rat']" in capsys.readouterr().err
    assert main(["train", "--set", "no-equals-sign"]) == 2
    assert "is not KEY=VALUE" in capsys.readouterr().err
    assert main(["train", "--run-id", "a", "--resume", "b"]) == 2


def test_a_tiny_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the dataset recipes live in ./datasets
    args = ["train", "--recipe", str(TINY), "--runs-dir", str(tmp_path), "--run-id", "cli"]
    args += ["--set", 'eval.methods=["sft", "grpo"]', "--set", "grpo.max_steps=1", "--set", "grpo.save_steps=1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "held-out reward grpo:" in result.output and "GRPO - SFT:" in result.output
    assert (tmp_path / "cli" / "report.md").is_file()
