"""Self-contained HTML trace pages (memalpha_rollout.trace_html)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from memalpha_rollout.prompts import chunk_text
from memalpha_rollout.reporting import RunFolder, render_trace_page, write_trace_pages
from memalpha_rollout.trace import CallTrace, EpisodeTrace, MemorySnapshot, QATrace, StepTrace
from memalpha_rollout.trace_html import EntryChange, diff_memory, page_name

VOID = {"meta", "br", "hr", "img", "input", "link"}
SCRIPT = "<script>alert(1)</script>"


def user(text: str) -> list[dict[str, object]]:
    return [{"role": "system", "content": "You are a memory agent."}, {"role": "user", "content": text}]


def make_trace(episode_id: str = "ep-0", data_source: str = "squad", r1: float = 0.5) -> EpisodeTrace:
    first = MemorySnapshot(
        core="User likes tea",
        semantic=[("s1", "Paris is in France")],
        episodic=[("e1", "At 9am the user read a book")],
    )
    third = MemorySnapshot(
        core="User likes tea",
        semantic=[("s1", "Paris is the capital of France"), ("s2", SCRIPT)],
        episodic=[],
    )
    return EpisodeTrace(
        episode_id=episode_id,
        instance_id="inst-7",
        data_source=data_source,
        capability="AR",
        policy="scripted",
        steps=[
            StepTrace(
                chunk_index=0,
                messages=user("Remember this:\n<new_chunk>\nChunk zero text\n</new_chunk>\nBe brief."),
                prompt_tokens=120,
                recent_shown=5,
                completion="✿FUNCTION✿: new_memory_insert",
                completion_tokens=40,
                calls=[CallTrace(name="new_memory_insert", arguments='{"a": 1}', status="ok", message="inserted")],
                memory=first,
                r2=1.0,
                r4=0.8,
                reward=0.9,
            ),
            StepTrace(
                chunk_index=1,
                messages=user("<new_chunk>Chunk one</new_chunk>"),
                prompt_tokens=130,
                recent_shown=5,
                completion="Done",
                completion_tokens=1,
            ),
            StepTrace(
                chunk_index=2,
                messages=user("A plain user message & no tags"),
                prompt_tokens=140,
                recent_shown=2,
                completion="<b>bold</b> calls",
                completion_tokens=50,
                reasoning="thinking it over",
                calls=[
                    CallTrace(name="memory_update", arguments="{}", status="ok", message="updated"),
                    CallTrace(name="memory_delete", arguments="{}", status="error", message="unknown id 'x9'"),
                    CallTrace(name="memory_delete", arguments="{}", status="skipped", message="duplicate"),
                ],
                memory=third,
                r2=0.5,
            ),
        ],
        qa=[
            QATrace(
                question="Where is <Paris>?",
                answers=["France", "in France"],
                metric="subem",
                query="Where is <Paris>?",
                retrieved_semantic=["Paris is the capital of France"],
                k=2,
                prediction="<i>France</i>",
                score=1.0,
            )
        ],
        final_memory=third,
        memory_tokens=1234,
        chunk_tokens=10_000,
        r1=r1,
        r3=0.877,
    )


class TagBalance(HTMLParser):
    """Collects problems: closing tags that do not match the open one, and tags left open."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value or "" for name, value in attrs if name == "href"]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.problems.append(tag)


def parse(page: str) -> TagBalance:
    parser = TagBalance()
    parser.feed(page)
    parser.close()
    return parser


def section(page: str, section_id: str) -> str:
    start = page.index(f'id="{section_id}"')
    return page[start : page.index("</section>", start)]


def test_chunk_text() -> None:
    assert chunk_text(user("intro\n<new_chunk>\nline 1\nline 2\n</new_chunk>\nend")) == "line 1\nline 2"
    assert chunk_text(user("no tags here")) == "no tags here"
    assert chunk_text([{"role": "system", "content": "s"}]) == ""
    parts = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "<new_chunk>x"}, {"type": "text", "text": "y</new_chunk>"}],
        }
    ]
    assert chunk_text(parts) == "xy"
    two_users = [*user("<new_chunk>old</new_chunk>"), {"role": "user", "content": "<new_chunk>new</new_chunk>"}]
    assert chunk_text(two_users) == "new"


def test_diff_memory() -> None:
    trace = make_trace()
    first, third = trace.steps[0].memory, trace.steps[2].memory
    assert first is not None and third is not None
    assert diff_memory(first, third) == [
        EntryChange("semantic", "s1", "updated", "Paris is the capital of France", "Paris is in France"),
        EntryChange("semantic", "s2", "added", SCRIPT),
        EntryChange("episodic", "e1", "removed", "At 9am the user read a book"),
    ]
    assert diff_memory(None, MemorySnapshot(core="c")) == [EntryChange("core", "", "added", "c", "")]
    assert diff_memory(MemorySnapshot(core="a"), MemorySnapshot(core="b")) == [
        EntryChange("core", "", "updated", "b", "a")
    ]
    assert diff_memory(first, first) == []


def test_page_escapes_everything_from_the_trace() -> None:
    page = render_trace_page(make_trace())
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt; calls" in page
    assert "Where is &lt;Paris&gt;?" in page and "&lt;i&gt;France&lt;/i&gt;" in page
    assert "A plain user message &amp; no tags" in page
    assert parse(page).problems == [] and parse(page).stack == []


def test_page_is_self_contained() -> None:
    page = render_trace_page(make_trace(), back_link="index.html")
    lowered = page.lower()
    for needle in ("http://", "https://", "src=", "<link", "@import", "url(", "<script", "<iframe"):
        assert needle not in lowered, needle
    assert all(h.startswith("#") or h == "index.html" for h in parse(page).hrefs)
    assert "<style>" in page


def test_page_sections() -> None:
    page = render_trace_page(make_trace())
    assert [m for m in re.findall(r'<section class="chunk" id="(chunk-\d+)">', page)] == [
        "chunk-0",
        "chunk-1",
        "chunk-2",
    ]
    assert page.count('class="memory"') == 3  # chunks 0 and 2 and the final memory; chunk 1 has no snapshot
    assert 'class="memory"' not in section(page, "chunk-1")
    assert '<section id="qa">' in page and '<table class="qa">' in page
    assert '<section id="final-memory">' in page
    assert 'href="#chunk-2"' in page and 'href="#final-memory"' in page
    assert '<pre class="chunk-text">Chunk zero text</pre>' in section(page, "chunk-0")
    assert '<pre class="chunk-text">Chunk one</pre>' in section(page, "chunk-1")
    assert '<details class="completion">' in section(page, "chunk-2")
    assert "thinking it over" in section(page, "chunk-2")


def test_page_header() -> None:
    page = render_trace_page(make_trace())
    header = page[page.index("<header>") : page.index("</header>")]
    assert "<h1>Episode ep-0</h1>" in header
    for row in (
        "<tr><th>instance</th><td>inst-7</td></tr>",
        "<tr><th>data source</th><td>squad</td></tr>",
        "<tr><th>policy</th><td>scripted</td></tr>",
        "<tr><th>r1 (QA score)</th><td>0.500</td></tr>",
        "<tr><th>r3 (compression)</th><td>0.877</td></tr>",
        "<tr><th>memory / chunk tokens</th><td>1,234 / 10,000 (12.3%)</td></tr>",
    ):
        assert row in header, row


def test_page_step_details_and_call_badges() -> None:
    page = render_trace_page(make_trace())
    step = section(page, "chunk-2")
    assert "r2 0.500 · r4 0.000 · reward 0.000" in step
    assert '<span class="badge ok">ok</span>' in step
    assert '<span class="badge error">error</span> unknown id &#x27;x9&#x27;' in step
    assert '<span class="badge skipped">skipped</span> duplicate' in step
    assert "No tool calls." in section(page, "chunk-1")


def test_memory_diff_marks() -> None:
    page = render_trace_page(make_trace())
    first = section(page, "chunk-0")
    assert "Changes since the empty memory: 3 added, 0 updated, 0 removed." in first
    third = section(page, "chunk-2")
    assert "Changes since chunk 0: 1 added, 1 updated, 1 removed." in third
    changes = third[third.index('<ul class="changes">') : third.index("</ul>")]
    assert re.search(r'<li class="entry updated">.*<code>s1</code> Paris is the capital of France'
                     r'<div class="previous">was: Paris is in France</div>', changes)  # fmt: skip
    assert re.search(r'<li class="entry added">.*<code>s2</code> &lt;script&gt;', changes)
    assert re.search(r'<li class="entry removed">.*<code>e1</code> At 9am the user read a book', changes)
    final = page[page.index('id="final-memory"') :]
    assert "entry added" not in final and "entry updated" not in final  # the final memory is shown unmarked


def test_qa_table() -> None:
    page = render_trace_page(make_trace())
    qa = section(page, "qa")
    assert "<li>France</li><li>in France</li>" in qa
    assert "1 semantic, 0 episodic (k=2)" in qa
    assert "<td>1.000</td>" in qa


def test_page_names_are_safe_and_unique() -> None:
    taken = {"index.html"}
    assert [page_name(i, taken) for i in ["a/b", "a?b", "A_B", "index", "../up", ""]] == [
        "a_b.html", "a_b-2.html", "A_B-3.html", "index-2.html", "_up.html", "episode.html",
    ]  # fmt: skip


def test_write_trace_pages(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path, run_id="r1")
    traces = [make_trace("ep/0", r1=0.5), make_trace("ep/1", r1=1.0), make_trace("ep-2", "booksum", r1=0.25)]
    index = write_trace_pages(run, traces, title="Validation <episodes>")
    assert index == run.path / "html" / "index.html"
    page = index.read_text()
    parsed = parse(page)
    assert parsed.problems == [] and parsed.stack == []
    assert parsed.hrefs == ["ep_0.html", "ep_1.html", "ep-2.html"]
    for href in parsed.hrefs:
        linked = (run.path / "html" / href).read_text()
        assert '<a href="index.html">' in linked
    assert "<h1>Validation &lt;episodes&gt;</h1>" in page
    assert '<a href="ep_1.html">ep/1</a></td><td>inst-7</td><td>squad</td>' in page
    assert "<td>1,234</td>" in page
    assert "<tr><td>squad</td><td>2</td><td>0.750</td></tr>" in page  # mean r1 per source
    assert "<tr><td>booksum</td><td>1</td><td>0.250</td></tr>" in page
    for needle in ("http://", "https://", "src="):
        assert needle not in page


@pytest.mark.parametrize("steps", [0, 60])
def test_long_and_empty_episodes_render(steps: int) -> None:
    memory = MemorySnapshot(semantic=[(f"s{i}", f"fact {i}") for i in range(40)])
    trace = EpisodeTrace(
        episode_id="long",
        instance_id="i",
        data_source="booksum",
        capability="LRU",
        steps=[
            StepTrace(
                chunk_index=i,
                messages=user(f"<new_chunk>c{i}</new_chunk>"),
                prompt_tokens=1,
                recent_shown=5,
                completion="",
                completion_tokens=0,
                memory=memory if i % 10 == 0 else None,
            )
            for i in range(steps)
        ],
        final_memory=memory,
    )
    page = render_trace_page(trace)
    assert page.count('<section class="chunk"') == steps
    assert page.count('class="memory"') == steps // 10 + 1
    assert "No questions." in page
    assert parse(page).problems == []
