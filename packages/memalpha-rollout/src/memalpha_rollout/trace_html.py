"""Self-contained HTML pages of episode traces: one page per episode and an index, for reading what a policy did.

A page shows the episode's header (instance, source, policy, r1, r3, memory against chunk tokens), then each chunk:
its text, the completion, the tool calls with their status, the memory after the chunk with what changed since
the previous snapshot marked, and the step's rewards; then the QA table and the final memory. Pages carry their
CSS inline and load nothing (no scripts, no external resources); every value taken from a trace is HTML-escaped,
since memory content is model output. Stable anchors for tools and tests: ``id="chunk-<index>"`` sections
(``class="chunk"``), ``class="memory"`` blocks, ``id="qa"`` with ``table class="qa"``, ``id="final-memory"``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .prompts import chunk_text
from .trace import CallTrace, EpisodeTrace, MemorySnapshot, QATrace, StepTrace

if TYPE_CHECKING:
    from .run_folder import RunFolder

__all__ = ["EntryChange", "diff_memory", "page_name", "render_trace_page", "write_trace_pages"]

logger = logging.getLogger(__name__)

MemoryType = Literal["core", "semantic", "episodic"]
Change = Literal["added", "updated", "removed"]
_MARKS: dict[str, str] = {"added": "+", "updated": "~", "removed": "-"}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1100px;padding:1rem;
color:#1d1d1f;background:#fff}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin:1.6rem 0 .4rem;border-bottom:1px solid #ddd}h3{font-size:1rem}
h4{font-size:.9rem;margin:.6rem 0 .2rem}
table{border-collapse:collapse;margin:.4rem 0;width:100%}td,th{border:1px solid #ddd;padding:.25rem .45rem;
text-align:left;vertical-align:top}th{background:#f4f4f6}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f9;border:1px solid #e3e3e8;padding:.5rem;
max-height:22rem;overflow:auto;margin:.3rem 0}
code{background:#f1f1f4;padding:0 .2rem;word-break:break-all}
details{margin:.3rem 0}summary{cursor:pointer;color:#335}
.badge{display:inline-block;border-radius:.6rem;padding:0 .5rem;font-size:.8rem;font-weight:600}
.badge.ok{background:#d8f3dc;color:#1b4332}.badge.skipped{background:#eee;color:#555}
.badge.error{background:#ffd6d6;color:#7a0000}
.entry{margin:.15rem 0}.mark{font-weight:700;margin-right:.3rem}
.added{background:#e6f7e9}.updated{background:#fff6d6}.removed{background:#fde4e4;text-decoration:line-through}
.previous{color:#777;font-size:.85rem}.muted{color:#666}.rewards{font-weight:400;font-size:.9rem;color:#444}
nav a{margin-right:.35rem}.memory{border-left:3px solid #c9d3e6;padding-left:.6rem}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _f(value: float) -> str:
    return f"{value:.3f}"


@dataclass(frozen=True)
class EntryChange:
    """One difference between two memory snapshots (``memory_id`` is empty for the core)."""

    memory_type: MemoryType
    memory_id: str
    change: Change
    content: str
    """The content after the change (for a removed entry: before it)."""
    previous: str = ""
    """The content before an update."""


def diff_memory(before: MemorySnapshot | None, after: MemorySnapshot) -> list[EntryChange]:
    """What changed from ``before`` (None: empty memory) to ``after``: core, then semantic, then episodic entries.

    Entries are matched by id; an entry whose content differs is ``updated``.
    """
    before = before or MemorySnapshot()
    changes: list[EntryChange] = []
    if before.core != after.core:
        change: Change = "added" if not before.core else "removed" if not after.core else "updated"
        changes.append(EntryChange("core", "", change, after.core or before.core, before.core))
    for memory_type in ("semantic", "episodic"):
        old = dict(getattr(before, memory_type))
        new = dict(getattr(after, memory_type))
        for memory_id, content in new.items():
            if memory_id not in old:
                changes.append(EntryChange(memory_type, memory_id, "added", content))
            elif old[memory_id] != content:
                changes.append(EntryChange(memory_type, memory_id, "updated", content, old[memory_id]))
        changes += [EntryChange(memory_type, i, "removed", c) for i, c in old.items() if i not in new]
    return changes


def _change_item(change: EntryChange) -> str:
    ident = f" <code>{_e(change.memory_id)}</code>" if change.memory_id else ""
    previous = f'<div class="previous">was: {_e(change.previous)}</div>' if change.change == "updated" else ""
    return (
        f'<li class="entry {change.change}"><span class="mark">{_MARKS[change.change]} {change.change}</span>'
        f'<span class="muted">{change.memory_type}</span>{ident} {_e(change.content)}{previous}</li>'
    )


def _snapshot(memory: MemorySnapshot, changes: Iterable[EntryChange] = ()) -> str:
    marks = {(c.memory_type, c.memory_id): c.change for c in changes}
    core_mark = marks.get(("core", ""), "")
    parts = ['<div class="snapshot">', "<h4>Core</h4>"]
    core = _e(memory.core) if memory.core else '<span class="muted">(empty)</span>'
    parts.append(f'<p class="core {core_mark}">{core}</p>')
    for memory_type in ("semantic", "episodic"):
        entries: list[tuple[str, str]] = getattr(memory, memory_type)
        parts.append(f"<h4>{memory_type.capitalize()} ({len(entries)})</h4>")
        if not entries:
            parts.append('<p class="muted">(none)</p>')
            continue
        parts.append(f'<ol class="entries {memory_type}">')
        for memory_id, content in entries:
            mark = marks.get((memory_type, memory_id), "")
            label = f'<span class="mark">{_MARKS[mark]}</span>' if mark else ""
            parts.append(f'<li class="entry {mark}">{label}<code>{_e(memory_id)}</code> {_e(content)}</li>')
        parts.append("</ol>")
    parts.append("</div>")
    return "\n".join(parts)


def _memory_block(memory: MemorySnapshot, previous: MemorySnapshot | None, since: int | None) -> str:
    changes = diff_memory(previous, memory)
    counts = ", ".join(f"{sum(c.change == k for c in changes)} {k}" for k in _MARKS)
    reference = "the empty memory" if since is None else f"chunk {since}"
    size = len(memory.semantic) + len(memory.episodic)
    parts = ['<div class="memory">', f'<p class="muted">Changes since {reference}: {counts}.</p>']
    if changes:
        parts += ['<ul class="changes">', *(_change_item(c) for c in changes), "</ul>"]
    parts += [f"<details><summary>Full memory after this chunk ({size} entries)</summary>", _snapshot(memory, changes)]
    parts += ["</details>", "</div>"]
    return "\n".join(parts)


def _calls(calls: Sequence[CallTrace]) -> str:
    if not calls:
        return '<p class="muted">No tool calls.</p>'
    rows = ["<tr><th>#</th><th>tool</th><th>status</th><th>target</th><th>arguments</th><th>judge</th></tr>"]
    for number, call in enumerate(calls, 1):
        status = call.status if call.status in ("ok", "skipped", "error") else "error"
        message = f" {_e(call.message)}" if call.message and call.status != "ok" else ""
        target = " ".join(_e(v) for v in (call.memory_type, call.memory_id) if v)
        judge = "" if call.judge_score is None else _f(call.judge_score)
        rows.append(
            f'<tr class="call {status}"><td>{number}</td><td><code>{_e(call.name)}</code></td>'
            f'<td><span class="badge {status}">{_e(call.status)}</span>{message}</td><td>{target}</td>'
            f"<td><code>{_e(call.arguments)}</code></td><td>{judge}</td></tr>"
        )
    return '<table class="calls">\n' + "\n".join(rows) + "\n</table>"


def _step(step: StepTrace, previous: MemorySnapshot | None, since: int | None) -> str:
    index = step.chunk_index
    parts = [
        f'<section class="chunk" id="chunk-{index}">',
        f'<h2>Chunk {index} <span class="rewards">r2 {_f(step.r2)} · r4 {_f(step.r4)} · '
        f"reward {_f(step.reward)}</span></h2>",
        f'<p class="muted">prompt {step.prompt_tokens:,} tokens · completion {step.completion_tokens:,} tokens · '
        f"recent items shown {step.recent_shown}</p>",
        f'<pre class="chunk-text">{_e(chunk_text(step.messages))}</pre>',
        f'<details class="completion"><summary>Completion ({step.completion_tokens:,} tokens)</summary>',
    ]
    if step.reasoning:
        parts.append(f'<h4>Reasoning</h4><pre class="reasoning">{_e(step.reasoning)}</pre>')
    parts += [f"<pre>{_e(step.completion)}</pre>", "</details>"]
    parts += [f"<h3>Tool calls ({len(step.calls)})</h3>", _calls(step.calls)]
    if step.memory is not None:
        parts += ["<h3>Memory after the chunk</h3>", _memory_block(step.memory, previous, since)]
    parts.append("</section>")
    return "\n".join(parts)


def _answers(items: Sequence[str]) -> str:
    if not items:
        return '<span class="muted">(none)</span>'
    return "<ul>" + "".join(f"<li>{_e(a)}</li>" for a in items) + "</ul>"


def _qa(qa: Sequence[QATrace]) -> str:
    if not qa:
        return '<p class="muted">No questions.</p>'
    rows = [
        "<tr><th>#</th><th>question</th><th>gold answers</th><th>prediction</th><th>retrieved</th><th>score</th></tr>"
    ]
    for number, item in enumerate(qa, 1):
        retrieved = item.retrieved_semantic + item.retrieved_episodic
        query = f'<div class="muted">query: {_e(item.query)}</div>' if item.query != item.question else ""
        rows.append(
            f"<tr><td>{number}</td><td>{_e(item.question)}{query}</td><td>{_answers(item.answers)}"
            f'<div class="muted">{_e(item.metric)}</div></td><td>{_e(item.prediction)}</td>'
            f"<td><details><summary>{len(item.retrieved_semantic)} semantic, {len(item.retrieved_episodic)} "
            f"episodic (k={item.k})</summary>{_answers(retrieved)}</details></td><td>{_f(item.score)}</td></tr>"
        )
    return '<table class="qa">\n' + "\n".join(rows) + "\n</table>"


def _document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def render_trace_page(trace: EpisodeTrace, *, back_link: str | None = None) -> str:
    """One episode as a self-contained HTML page.

    Args:
        trace: The episode.
        back_link: A relative link to the index page, shown at the top when given.
    """
    ratio = f" ({trace.memory_tokens / trace.chunk_tokens:.1%})" if trace.chunk_tokens else ""
    summary = [
        ("instance", trace.instance_id),
        ("data source", trace.data_source),
        ("capability", trace.capability),
        ("policy", trace.policy or "—"),
        ("rollout", trace.rollout),
        ("tool format", trace.tool_format or "—"),
        ("r1 (QA score)", _f(trace.r1)),
        ("r3 (compression)", _f(trace.r3)),
        ("memory / chunk tokens", f"{trace.memory_tokens:,} / {trace.chunk_tokens:,}{ratio}"),
        ("chunks, questions", f"{len(trace.steps)}, {len(trace.qa)}"),
    ]
    parts = [f'<p><a href="{_e(back_link)}">← all episodes</a></p>'] if back_link else []
    parts += [f"<header>\n<h1>Episode {_e(trace.episode_id)}</h1>", '<table class="summary">']
    parts += [f"<tr><th>{name}</th><td>{_e(value)}</td></tr>" for name, value in summary]
    parts += ["</table>", "</header>"]
    links = " ".join(f'<a href="#chunk-{s.chunk_index}">{s.chunk_index}</a>' for s in trace.steps)
    parts.append(f'<nav>Chunks: {links} · <a href="#qa">questions</a> · <a href="#final-memory">final memory</a></nav>')
    previous: MemorySnapshot | None = None
    since: int | None = None
    for step in trace.steps:
        parts.append(_step(step, previous, since))
        if step.memory is not None:
            previous, since = step.memory, step.chunk_index
    parts += ['<section id="qa">', f"<h2>Questions ({len(trace.qa)})</h2>", _qa(trace.qa), "</section>"]
    parts += ['<section id="final-memory">', "<h2>Final memory</h2>", '<div class="memory">']
    parts += [_snapshot(trace.final_memory), "</div>", "</section>"]
    return _document(f"Episode {trace.episode_id}", "\n".join(parts))


def page_name(episode_id: str, taken: set[str] | None = None) -> str:
    """A safe, unique file name for an episode's page (``taken`` holds lower-cased names already used)."""
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", episode_id).lstrip(".-")[:100] or "episode"
    name, number = f"{base}.html", 1
    while taken is not None and name.lower() in taken:
        number += 1
        name = f"{base}-{number}.html"
    if taken is not None:
        taken.add(name.lower())
    return name


def _index(traces: Sequence[EpisodeTrace], names: Sequence[str], title: str) -> str:
    header = ("episode", "instance", "source", "capability", "policy", "rollout", "chunks", "r1", "r3",
              "memory tokens", "chunk tokens")  # fmt: skip
    rows = ["<tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>"]
    for trace, name in zip(traces, names, strict=True):
        cells = [trace.instance_id, trace.data_source, trace.capability, trace.policy, trace.rollout, len(trace.steps)]
        values = [*(_e(c) for c in cells), _f(trace.r1), _f(trace.r3), f"{trace.memory_tokens:,}"]
        values.append(f"{trace.chunk_tokens:,}")
        link = f'<a href="{_e(name)}">{_e(trace.episode_id)}</a>'
        rows.append(f"<tr><td>{link}</td>" + "".join(f"<td>{v}</td>" for v in values) + "</tr>")
    by_source: dict[str, list[float]] = {}
    for trace in traces:
        by_source.setdefault(trace.data_source, []).append(trace.r1)
    sources = ["<tr><th>source</th><th>episodes</th><th>mean r1</th></tr>"]
    sources += [
        f"<tr><td>{_e(s)}</td><td>{len(v)}</td><td>{_f(sum(v) / len(v))}</td></tr>"
        for s, v in sorted(by_source.items())
    ]
    body = [f"<h1>{_e(title)}</h1>", f"<p>{len(traces)} episodes.</p>", '<table class="sources">', *sources]
    body += ["</table>", '<table class="episodes">', *rows, "</table>"]
    return _document(title, "\n".join(body))


def write_trace_pages(run: RunFolder, traces: Sequence[EpisodeTrace], *, title: str = "") -> Path:
    """Write one page per episode and ``html/index.html`` listing them into the run folder.

    The index lists exactly ``traces``: pass all of a run's episodes at once.

    Returns:
        The path of ``html/index.html``.
    """
    folder = run.path / "html"
    folder.mkdir(parents=True, exist_ok=True)
    taken: set[str] = {"index.html"}
    names = [page_name(trace.episode_id, taken) for trace in traces]
    for trace, name in zip(traces, names, strict=True):
        (folder / name).write_text(render_trace_page(trace, back_link="index.html"), encoding="utf-8")
    index = folder / "index.html"
    index.write_text(_index(traces, names, title or f"Episodes of run {run.run_id}"), encoding="utf-8")
    logger.info("wrote %d episode pages to %s", len(traces), folder)
    return index
