"""`memalpha memory build`: a writer policy reads a user's own text or conversation log and builds a memory from it.

This is what a trained writer is for. The input is chunked (a text file by paragraphs, a conversation log by whole
turns), each chunk goes to the writer in a fresh prompt with the memory built so far, and the tool calls it makes
are applied to the namespace. The namespace is written once, at the end (with ``--replace``, swapped in one
commit): an interrupted build leaves it as it was. memalpha-rollout (and, for model writers, torch or the
OpenAI SDK) is imported when the command runs.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click

from ._output import echo_json, stderr_console, stdout_console
from .exceptions import MemalphaCliError
from .memory import open_store, store_option, tenant_option, tenant_uri

__all__ = ["build_command", "read_chunks"]

ROLLOUT_INSTALL = "pip install ./packages/memalpha-rollout"
WRITER_HELP = (
    "The writer: heuristic (rules, no model), smollm2, a model folder or hf:PATH (transformers), vllm:PATH, or "
    "openai:URL/MODEL (any OpenAI-compatible server)."
)


def read_chunks(path: str, chunk_tokens: int) -> list[str]:
    """The input as chunks: ``.jsonl`` / ``.json`` conversation logs by whole turns, anything else by paragraphs.

    A conversation log holds one message per line (``.jsonl``) or a JSON list of messages (``.json``), each
    ``{"role": ..., "content": ..., "timestamp": ...}``; ``-`` reads text from stdin.
    """
    from memalpha_data import chunk_conversation, chunk_text

    if path == "-":
        text = sys.stdin.read()
        return chunk_text(text, chunk_tokens, by="paragraph")
    file = Path(path)
    if not file.is_file():
        raise MemalphaCliError(f"input file {path!r} does not exist")
    text = file.read_text(encoding="utf-8")
    if file.suffix in (".jsonl", ".json"):
        try:
            messages = (
                json.loads(text)
                if file.suffix == ".json"
                else [json.loads(line) for line in text.splitlines() if line.strip()]
            )
        except json.JSONDecodeError as exc:
            raise MemalphaCliError(f"{path}: not a conversation log ({exc}); use one JSON message per line") from exc
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise MemalphaCliError(f"{path}: a conversation log is a list of {{role, content}} messages")
        try:
            return chunk_conversation(messages, chunk_tokens)
        except ValueError as exc:
            raise MemalphaCliError(f"{path}: {exc}") from exc
    return chunk_text(text, chunk_tokens, by="paragraph")


def _writer_spec(writer: str) -> str:
    """A bare folder is a checkpoint for the transformers backend."""
    if ":" not in writer and writer not in ("heuristic", "smollm2") and Path(writer).is_dir():
        return f"hf:{writer}"
    return writer


def _default_namespace(path: str) -> str:
    stem = "stdin" if path == "-" else Path(path).stem
    return re.sub(r"[^A-Za-z0-9_.:-]", "-", stem)[:128] or "notes"


@click.command("build")
@click.option("--writer", required=True, metavar="WRITER", help=WRITER_HELP)
@click.option(
    "--input", "input_path", required=True, metavar="FILE", help="Text or conversation log (.jsonl); - for stdin."
)
@click.option("--namespace", default=None, help="Namespace to build into (default: the input file's name).")
@click.option("--chunk-tokens", type=click.IntRange(min=32), default=512, show_default=True, help="Tokens per chunk.")
@click.option(
    "--tool-format",
    type=click.Choice(["hermes", "qwen-agent", "native"]),
    default="hermes",
    show_default=True,
    help="How the writer writes tool calls (qwen-agent for the paper's Memalpha-4B).",
)
@click.option("--max-new-tokens", type=click.IntRange(min=16), default=1024, show_default=True)
@click.option("--replace", is_flag=True, help="Empty the namespace first (default: extend what it holds).")
@store_option
@tenant_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
def build_command(
    writer: str,
    input_path: str,
    namespace: str | None,
    chunk_tokens: int,
    tool_format: str,
    max_new_tokens: int,
    replace: bool,
    store_root: str,
    tenant: str,
    as_json: bool,
) -> None:
    """Build a memory from your own text with a writer policy.

    \b
    Examples:
      memalpha memory build --writer heuristic --input notes.md
      memalpha memory build --writer runs/demo/checkpoints/best --input chat.jsonl --namespace me
      memalpha memory build --writer openai:http://127.0.0.1:8000/v1/Memalpha-4B --input book.txt \\
          --tool-format qwen-agent
    """
    try:
        from memalpha_rollout import RolloutConfig, SamplingParams, load_policy, memorize
    except ImportError as exc:
        raise MemalphaCliError(f"cannot import memalpha_rollout ({exc}); install it: {ROLLOUT_INSTALL}") from exc
    from memalpha_memory.types import validate_namespace

    name = validate_namespace(namespace or _default_namespace(input_path))
    chunks = read_chunks(input_path, chunk_tokens)
    if not chunks:
        raise MemalphaCliError(f"{input_path}: nothing to memorize (the input is empty)")
    store = open_store(store_root, tenant, create=True)
    assert store is not None
    # --replace builds in a detached memory that replaces the namespace in one commit at the end
    memory = store.working_memory() if replace else store.buffered(name)
    try:
        policy = load_policy(_writer_spec(writer))
    except (KeyError, ValueError, ImportError) as exc:
        raise MemalphaCliError(f"cannot load writer {writer!r}: {exc}") from exc
    sampling = SamplingParams(max_tokens=max_new_tokens, temperature=0.0)
    config = RolloutConfig(
        tool_format=tool_format, sampling=sampling, record_traces=False
    )  # long inputs: keep no prompts
    steps = memorize(policy, chunks, memory=memory, config=config, progress=not as_json)
    if replace:
        store.import_namespace(memory.export(name), replace=True)
    else:
        memory.flush()
    calls = [r for s in steps for r in s.results]
    summary: dict[str, Any] = {
        "namespace": name,
        "store": tenant_uri(store_root, tenant),
        "chunks": len(chunks),
        "tool_calls": len(calls),
        "ok_calls": sum(r.ok for r in calls),
        "error_calls": sum(r.status == "error" for r in calls),
        "semantic": len(memory.entries("semantic")),
        "episodic": len(memory.entries("episodic")),
        "core": memory.core,
        "memory_tokens": memory.total_tokens(),
    }
    if as_json:
        echo_json(summary)
        return
    stdout_console().print(
        f"built [bold]{name}[/bold]: {summary['chunks']} chunks, {summary['ok_calls']}/{summary['tool_calls']} calls "
        f"applied, {summary['semantic']} semantic and {summary['episodic']} episodic items, "
        f"{summary['memory_tokens']} tokens"
    )
    if summary["error_calls"]:
        stderr_console().print(
            f"{summary['error_calls']} call(s) failed; see them with `memalpha memory inspect {name}`"
        )
