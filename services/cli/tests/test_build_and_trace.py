"""`memalpha memory build` (a writer builds a memory from a user's text) and `memalpha trace view`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from memalpha_data import Instance, Question
from memalpha_memory import MemoryStore
from memalpha_rollout import RolloutConfig, RunFolder, load_policy, run_episodes, write_traces
from memalpha_server import open_tenant_store

Invoke = Callable[..., Result]

NOTES = (
    "Ana Lopes is my sister. She moved to Porto in 2021.\n\nBob Reyes works as a baker in Lyon. He is 31 years old.\n"
)


def _store(store_root: str) -> MemoryStore:
    return open_tenant_store(store_root, "local")


def test_build_from_a_text_file_writes_the_namespace(invoke: Invoke, store_root: str, tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text(NOTES)
    result = invoke("memory", "build", "--writer", "heuristic", "--input", "notes.md", "--store", store_root, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["namespace"] == "notes" and summary["chunks"] == 1
    assert summary["ok_calls"] == summary["tool_calls"] > 0 and summary["error_calls"] == 0
    contents = [e.content for e in _store(store_root).namespace("notes").entries("semantic")]
    assert "Bob Reyes works as a baker in Lyon." in contents
    assert summary["semantic"] == len(contents)


def test_build_from_a_conversation_log_dates_the_dialogue(invoke: Invoke, store_root: str, tmp_path: Path) -> None:
    messages = [
        {"role": "user", "content": "My friend Cora Vance lives in Rome.", "timestamp": "2024-05-01 10:00"},
        {"role": "assistant", "content": "Good to know!"},
    ]
    (tmp_path / "chat.jsonl").write_text("\n".join(json.dumps(m) for m in messages))
    result = invoke(
        "memory", "build", "--writer", "heuristic", "--input", "chat.jsonl", "--namespace", "me", "--store", store_root
    )
    assert result.exit_code == 0, result.output
    memory = _store(store_root).namespace("me")
    assert any("Cora Vance" in e.content for e in memory.entries("semantic"))
    assert any("2024-05-01" in e.content for e in memory.entries("episodic"))


def test_a_second_build_extends_and_replace_starts_over(invoke: Invoke, store_root: str, tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("Ana Lopes is my sister and she lives in Porto.")
    (tmp_path / "b.md").write_text("Bob Reyes works as a baker in Lyon.")
    for name in ("a.md", "b.md"):
        assert (
            invoke(
                "memory", "build", "--writer", "heuristic", "--input", name, "--namespace", "n", "--store", store_root
            ).exit_code
            == 0
        )
    contents = " ".join(e.content for e in _store(store_root).namespace("n").entries("semantic"))
    assert "Ana Lopes" in contents and "Bob Reyes" in contents
    result = invoke(
        "memory",
        "build",
        "--writer",
        "heuristic",
        "--input",
        "b.md",
        "--namespace",
        "n",
        "--replace",
        "--store",
        store_root,
    )
    assert result.exit_code == 0, result.output
    contents = " ".join(e.content for e in _store(store_root).namespace("n").entries("semantic"))
    assert "Ana Lopes" not in contents and "Bob Reyes" in contents


def test_build_errors_are_one_line_user_errors(invoke: Invoke, store_root: str, tmp_path: Path) -> None:
    result = invoke("memory", "build", "--writer", "heuristic", "--input", "missing.md", "--store", store_root)
    assert result.exit_code == 1 and "does not exist" in result.stderr
    (tmp_path / "x.md").write_text("Some text here.")
    result = invoke("memory", "build", "--writer", "gpt-7", "--input", "x.md", "--store", store_root)
    assert result.exit_code == 1 and "cannot load writer 'gpt-7'" in result.stderr
    (tmp_path / "bad.jsonl").write_text('{"role": "user", "content": "hi"}\n{"content": 3}\n')
    result = invoke("memory", "build", "--writer", "heuristic", "--input", "bad.jsonl", "--store", store_root)
    assert result.exit_code == 1 and "message 1 is not a chat turn" in result.stderr
    assert not _store(store_root).exists("bad") and not _store(store_root).exists("x")


def test_trace_view_renders_a_runs_traces(invoke: Invoke, tmp_path: Path) -> None:
    instance = Instance(
        id="i1",
        data_source="test",
        capability="AR",
        chunks=["<User> Ana Lopes lives in Porto."],
        questions=[Question(question="Where does Ana live?", answers=["Porto"])],
    )
    (episode,) = run_episodes(load_policy("heuristic"), [instance], config=RolloutConfig())
    run = RunFolder.create(tmp_path / "runs", run_id="demo", config={"what": "test"})
    write_traces(run.trace_path("eval"), [episode.to_trace(policy="heuristic")])
    result = invoke("trace", "view", str(run.path))
    assert result.exit_code == 0, result.output
    index = run.path / "html" / "index.html"
    assert str(index) in result.stdout.replace("\n", "") and "i1" in index.read_text()
    empty = RunFolder.create(tmp_path / "runs", run_id="empty", config={})
    result = invoke("trace", "view", str(empty.path))
    assert result.exit_code == 1 and "has no traces" in result.stderr
