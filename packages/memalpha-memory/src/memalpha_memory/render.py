"""Text views of a memory: the writer's view (paper §2.2) and the answerer's view (paper §2.3, §5)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .types import Entry

__all__ = ["AnswerContext", "render_answer_context", "render_memory_view"]


def render_memory_view(core: str, semantic: Sequence[Entry], episodic: Sequence[Entry], *, recent: int = 5) -> str:
    """Core in full plus the ``recent`` newest semantic and episodic items, shown as ``[id] content``."""
    return "\n\n".join(
        [
            f"<core_memory>\n{core}\n</core_memory>",
            _recent_block("semantic_memory", semantic, recent),
            _recent_block("episodic_memory", episodic, recent),
        ]
    )


def _recent_block(tag: str, entries: Sequence[Entry], recent: int) -> str:
    shown = list(entries[-recent:]) if recent > 0 else []
    header = f"<{tag}>"
    if len(shown) < len(entries):
        header += f" (the {len(shown)} most recent of {len(entries)} items)"
    body = "\n".join(f"[{e.id}] {e.content}" for e in shown) if shown else ("Empty." if not entries else "")
    return f"{header}\n{body}\n</{tag}>" if body else f"{header}\n</{tag}>"


@dataclass(frozen=True, slots=True)
class AnswerContext:
    """What the answerer sees for one question: the rendered text and the entries retrieved for it."""

    text: str
    semantic: tuple[Entry, ...]
    episodic: tuple[Entry, ...]
    k: int


def render_answer_context(core: str, semantic: Sequence[Entry], episodic: Sequence[Entry]) -> str:
    """Core (when not empty), then numbered semantic and episodic items, without ids."""
    blocks = [f"<core_memory>\n{core}\n</core_memory>"] if core.strip() else []
    for tag, entries in (("semantic_memory", semantic), ("episodic_memory", episodic)):
        body = "\n".join(f"{i}. {e.content}" for i, e in enumerate(entries, 1)) or "(No memories stored)"
        blocks.append(f"<{tag}>\n{body}\n</{tag}>")
    return "\n\n".join(blocks)
