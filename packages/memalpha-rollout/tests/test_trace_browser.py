"""The HTML trace pages in a real browser: headless Chromium loads the pages of a real (heuristic) episode; its DOM
has every section with the episode's content, the index links to the episode's page, and the page renders.

Marked ``browser`` (deselected by default): ``nox -s browser`` installs Debian's ``chromium`` and runs these tests
with ``MEMALPHA_REQUIRE_BROWSER=1``, which turns a missing browser into a failure instead of a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import numpy as np
import pytest
from rollout_helpers import make_instance

from memalpha_data import Instance
from memalpha_rollout import RunFolder, evaluate, load_policy, read_traces, write_trace_pages
from memalpha_rollout.trace import EpisodeTrace

pytestmark = pytest.mark.browser

TIMEOUT_S = 60
WIDTH, HEIGHT = 1280, 2000
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
SCRIPT = "Bob wrote <script>alert(1)</script> on a wall in Lyon."
CHUNKS = [
    "<User> My sister Ana lives in Porto. She works as a nurse.",
    f"<User> {SCRIPT}",
    "<User> Ana moved to Braga.",
]
QUESTIONS = [("Where does Ana live?", "Braga"), ("What does Bob do?", "baker")]


@pytest.fixture(scope="module")
def chromium() -> str:
    """The Chromium binary; a skip without one, unless ``MEMALPHA_REQUIRE_BROWSER=1`` (set by ``nox -s browser``)."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        message = "chromium is not installed (`nox -s browser` installs Debian's chromium and runs these tests)"
        if os.environ.get("MEMALPHA_REQUIRE_BROWSER") == "1":
            pytest.fail(f"MEMALPHA_REQUIRE_BROWSER=1 but {message}")
        pytest.skip(message)
    return binary


@dataclass(frozen=True)
class Pages:
    instance: Instance
    trace: EpisodeTrace
    index: Path


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Pages:
    """A heuristic episode (evaluated, its trace read back from JSONL) written as a run folder's trace pages."""
    root = tmp_path_factory.mktemp("browser")
    instance = make_instance("browser-0", CHUNKS, QUESTIONS)
    run = RunFolder.create(root, run_id="browser")
    evaluate(load_policy("heuristic"), [instance], traces=run.trace_path("heuristic"))
    traces = read_traces(run.trace_path("heuristic"))
    assert len(traces) == 1
    return Pages(instance, traces[0], write_trace_pages(run, traces))


def run_chromium(binary: str, profile: Path, *args: str) -> str:
    """Run headless Chromium once (a fresh profile in ``profile``); its stdout."""
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *args,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish within {TIMEOUT_S} s: {' '.join(command)}")
    if done.returncode != 0:
        pytest.fail(f"chromium exited with {done.returncode}: {' '.join(command)}\n{done.stderr[-3000:]}")
    return done.stdout


# --- the rendered DOM as a small tree -------------------------------------------------------------------------------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self) -> Iterator[Element]:
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        return [e for e in self.iter() if tag in (None, e.tag) and (cls is None or cls in e.classes)]

    def one(self, tag: str | None = None, cls: str | None = None) -> Element:
        found = self.find_all(tag, cls)
        assert len(found) == 1, f"{len(found)} <{tag or '*'} class={cls}> elements, expected one"
        return found[0]

    def by_id(self, ident: str) -> Element:
        found = [e for e in self.iter() if e.attrs.get("id") == ident]
        assert len(found) == 1, f"{len(found)} elements with id={ident!r}, expected one"
        return found[0]


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()  # character references are converted: text is what the browser shows
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        if tag in (e.tag for e in self.stack[1:]):
            while self.stack.pop().tag != tag:
                pass

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def dump_dom(binary: str, profile: Path, url: str) -> Element:
    """The DOM Chromium built for ``url``, parsed."""
    serialized = run_chromium(binary, profile, "--dump-dom", url)
    assert "<body" in serialized, f"chromium rendered no page at {url}: {serialized[:500]!r}"
    builder = TreeBuilder()
    builder.feed(serialized)
    builder.close()
    return builder.root


def cells(row: Element) -> list[Element]:
    return row.find_all("td")


# --- the tests ------------------------------------------------------------------------------------------------------


def test_the_episode_is_real(pages: Pages) -> None:
    """What the page tests below rely on: each chunk inserted one semantic entry, one question was answered."""
    steps = pages.trace.steps
    assert [[(c.name, c.status) for c in s.calls] for s in steps] == [[("new_memory_insert", "ok")]] * 3
    assert [content for _, content in pages.trace.final_memory.semantic] == [
        "My sister Ana lives in Porto.",
        SCRIPT,
        "Ana moved to Braga.",
    ]
    assert [q.score for q in pages.trace.qa] == [1.0, 0.0]


def test_episode_page_dom_has_every_section(chromium: str, pages: Pages, tmp_path: Path) -> None:
    trace, instance = pages.trace, pages.instance
    index = dump_dom(chromium, tmp_path / "profile-index", pages.index.as_uri())
    links = index.one("table", "episodes").find_all("a")
    assert [a.text() for a in links] == [trace.episode_id]
    # the page the browser reaches by following the index's link, not a path the test builds
    page_url = urljoin(pages.index.as_uri(), links[0].attrs["href"])
    dom = dump_dom(chromium, tmp_path / "profile-page", page_url)

    assert dom.one("h1").text() == f"Episode {trace.episode_id}"
    assert dom.find_all("script") == []  # model output (a memory entry with a <script> tag) stays text
    back = [a for a in dom.find_all("a") if a.text() == "← all episodes"]
    assert [urljoin(page_url, a.attrs["href"]) for a in back] == [pages.index.as_uri()]
    summary = {r.one("th").text(): r.one("td").text() for r in dom.one("table", "summary").find_all("tr")}
    assert summary["instance"] == "browser-0"
    assert summary["policy"] == "policy:heuristic"
    assert summary["r1 (QA score)"] == "0.500"
    assert summary["chunks, questions"] == "3, 2"
    # every in-page link of the navigation reaches an element of the page
    targets = [a.attrs["href"] for a in dom.one("nav").find_all("a")]
    assert targets == ["#chunk-0", "#chunk-1", "#chunk-2", "#qa", "#final-memory"]
    for target in targets:
        dom.by_id(target[1:])

    # steps: the chunk's text, its calls, the memory after it with the change marked
    sections = dom.find_all("section", "chunk")
    assert [s.attrs["id"] for s in sections] == ["chunk-0", "chunk-1", "chunk-2"]
    for number, section in enumerate(sections):
        assert section.one("h2").text().startswith(f"Chunk {number} ")
        assert section.one("pre", "chunk-text").text().strip() == instance.chunks[number]
        headings = [h.text() for h in section.find_all("h3")]
        assert headings == ["Tool calls (1)", "Memory after the chunk"]
        rows = section.one("table", "calls").find_all("tr", "call")
        assert len(rows) == 1
        name, status, target, arguments = (c.text() for c in cells(rows[0])[1:5])
        assert (name, status) == ("new_memory_insert", "ok")
        memory_id, content = trace.final_memory.semantic[number]
        assert target == f"semantic {memory_id}"
        assert json.loads(arguments) == {"memory_type": "semantic_memory", "content": content}
        memory = section.one("div", "memory")
        since = "the empty memory" if number == 0 else f"chunk {number - 1}"
        assert memory.find_all("p")[0].text() == f"Changes since {since}: 1 added, 0 updated, 0 removed."
        added = memory.one("ul", "changes").find_all("li", "entry")
        assert len(added) == 1 and "added" in added[0].classes
        assert added[0].one("code").text() == memory_id and added[0].text().endswith(content)
        snapshot = memory.one("ol", "semantic").find_all("li")
        assert [li.one("code").text() for li in snapshot] == [i for i, _ in trace.final_memory.semantic[: number + 1]]
    assert SCRIPT in dom.by_id("chunk-1").one("ul", "changes").text()

    # QA: each question with its gold answer, the prediction and the score
    qa = dom.by_id("qa")
    assert qa.one("h2").text() == "Questions (2)"
    rows = [r for r in qa.one("table", "qa").find_all("tr") if cells(r)]
    assert [cells(r)[1].text() for r in rows] == [q for q, _ in QUESTIONS]
    assert [cells(r)[2].one("li").text() for r in rows] == [a for _, a in QUESTIONS]
    assert [cells(r)[5].text() for r in rows] == ["1.000", "0.000"]
    assert "Ana moved to Braga." in cells(rows[0])[3].text()

    # the final memory, unmarked
    final = dom.by_id("final-memory")
    entries = final.one("ol", "semantic").find_all("li", "entry")
    assert [(e.one("code").text(), e.text().split(" ", 1)[1]) for e in entries] == trace.final_memory.semantic
    assert not [e for e in entries if e.classes & {"added", "updated", "removed"}]


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, after checking its signature, every chunk's CRC, and that it ends with IEND."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, kinds, header = 8, [], b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        kinds.append(kind)
        header = body if kind == b"IHDR" else header
        position += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    width, height = struct.unpack(">II", header[:8])
    return width, height


def colour_present(pixels: np.ndarray, rgb: tuple[int, int, int]) -> bool:
    return bool((np.abs(pixels.astype(int) - rgb).max(axis=-1) <= 2).any())


def test_episode_page_screenshot_is_a_rendered_page(chromium: str, pages: Pages, tmp_path: Path) -> None:
    from matplotlib.image import imread

    page = next(p for p in pages.index.parent.glob("*.html") if p.name != "index.html")
    png = tmp_path / "page.png"
    run_chromium(
        chromium, tmp_path / "profile", f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}", page.as_uri()
    )
    assert png.is_file(), f"chromium wrote no screenshot to {png}"
    assert png_size(png.read_bytes()) == (WIDTH, HEIGHT)
    image = imread(png)
    pixels = np.round(image[..., :3] * 255).astype(np.uint8)
    assert pixels.shape == (HEIGHT, WIDTH, 3)
    assert tuple(pixels[0, 0]) == (255, 255, 255)  # the body's white background
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 20, f"{len(colours)} distinct colours: a blank page?"
    varied = (pixels != pixels[:, :1]).any(axis=(1, 2))  # rows with more than the background colour
    assert varied[: HEIGHT // 4].sum() > 100, "little drawn in the page's first quarter"
    # the inline stylesheet applies: table headers, the ok badges and the added-entry highlight are filled
    for name, rgb in [("th", (0xF4, 0xF4, 0xF6)), ("badge ok", (0xD8, 0xF3, 0xDC)), ("added", (0xE6, 0xF7, 0xE9))]:
        assert colour_present(pixels, rgb), f"no {name} fill {rgb} in the screenshot"
