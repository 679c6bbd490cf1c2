"""The root command: help, version, exit statuses of `main`, the public API and the console script."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

import memalpha_cli
from memalpha_cli import main

Invoke = Callable[..., Result]


def test_public_api_is_exact() -> None:
    assert sorted(memalpha_cli.__all__) == ["MemalphaCliError", "__version__", "cli", "main", "run"]


def test_help_lists_groups_and_examples(invoke: Invoke) -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for text in ("data", "memory", "Examples:", "memalpha memory search", "Exit status: 0 ok, 1 user error"):
        assert text in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("memory", "--help"),
        ("data", "--help"),
        *[("memory", c, "--help") for c in ("list", "inspect", "search", "export", "import", "drop", "serve", "mcp")],
        *[("data", c, "--help") for c in ("build", "stats", "validate")],
    ],
)
def test_every_command_has_help(invoke: Invoke, args: tuple[str, ...]) -> None:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: memalpha")


def test_version_names_the_packages(invoke: Invoke) -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"memalpha {memalpha_cli.__version__}"
    assert [line.split()[0] for line in lines[1:]] == [
        "memalpha-memory",
        "memalpha-data",
        "memalpha-rollout",
        "memalpha-train",
        "memalpha-server",
    ]


def test_main_returns_exit_statuses(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--help"]) == 0
    assert main(["no-such-command"]) == 2
    assert "No such command 'no-such-command'" in capsys.readouterr().err
    assert main(["data", "build", "nope"]) == 1
    assert capsys.readouterr().err.startswith("error: no recipe 'nope'")
    assert main(["memory", "list", "--json", "--store", str(tmp_path / "s")]) == 0
    assert '"namespaces": []' in capsys.readouterr().out


def test_verbose_logs_library_records_to_stderr(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "datasets").mkdir()
    entry = "{source: generate, limit: 1, params: {capability: AR, target_tokens: 500}}"
    recipe = f"name: one\nsplits:\n  train:\n    - {entry}\n"
    (tmp_path / "datasets" / "one.yaml").write_text(recipe)
    quiet = invoke("data", "build", "one", "--json")
    assert "1 instances" not in quiet.stderr
    loud = invoke("-v", "data", "build", "one", "--json")
    assert loud.exit_code == 0, loud.output
    assert "one/train: 1 instances" in loud.stderr  # memalpha_data's INFO record


def test_console_script_runs() -> None:
    script = Path(sys.executable).with_name("memalpha")
    assert script.is_file(), "install memalpha-cli: the `memalpha` console script is missing"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "Usage: memalpha" in done.stdout
    assert "memory" in done.stdout
