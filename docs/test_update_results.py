"""docs/update_results.py on copies of docs/results.md (the real page is never written). Run by `nox -s docs`."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType

import pytest

DOCS = Path(__file__).resolve().parent


def _load() -> ModuleType:
    # docs/ is not a package: load the script by its path
    spec = importlib.util.spec_from_file_location("update_results", DOCS / "update_results.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ur = _load()


@pytest.fixture
def page(tmp_path: Path) -> Path:
    copy = tmp_path / "docs" / "results.md"
    copy.parent.mkdir()
    shutil.copyfile(DOCS / "results.md", copy)
    return copy


def region(text: str, section: str) -> str:
    begin, end = ur.markers(section)
    return text[text.index(begin) + len(begin) : text.index(end)].strip()


def test_the_real_page_has_one_region_per_section() -> None:
    text = (DOCS / "results.md").read_text(encoding="utf-8")
    for section in ur.SECTIONS:
        begin, end = ur.markers(section)
        assert text.count(begin) == text.count(end) == 1
        assert text.index(begin) < text.index(end)


def test_replaces_only_its_region_and_copies_images(page: Path, tmp_path: Path) -> None:
    before = page.read_text(encoding="utf-8")
    plot = tmp_path / "plots" / "score_vs_memory.png"
    plot.parent.mkdir()
    plot.write_bytes(b"\x89PNG fake")
    markdown = "| method | score |\n|---|---|\n| heuristic | 0.667 |\n\n![plot](assets/results/score_vs_memory.png)\n"

    assert ur.update_results("eval", markdown, [plot], results=page) == page
    after = page.read_text(encoding="utf-8")
    assert region(after, "eval") == markdown.strip()
    assert region(after, "bench") == region(before, "bench")
    assert after.split("<!-- BEGIN eval -->")[0] == before.split("<!-- BEGIN eval -->")[0]
    assert (page.parent / "assets" / "results" / "score_vs_memory.png").read_bytes() == b"\x89PNG fake"

    ur.update_results("eval", "second run", results=page)  # idempotent structure: markers kept, content replaced
    again = page.read_text(encoding="utf-8")
    assert region(again, "eval") == "second run"
    assert again.count("<!-- BEGIN eval -->") == again.count("<!-- END eval -->") == 1


def test_errors_name_the_problem(page: Path, tmp_path: Path) -> None:
    with pytest.raises(ur.ResultsError, match="unknown section 'evals'"):
        ur.update_results("evals", "x", results=page)
    page.write_text(page.read_text(encoding="utf-8").replace("<!-- END bench -->\n", ""), encoding="utf-8")
    unchanged = page.read_text(encoding="utf-8")
    with pytest.raises(ur.ResultsError, match="has no marker line '<!-- END bench -->'"):
        ur.update_results("bench", "x", results=page)
    assert page.read_text(encoding="utf-8") == unchanged
    with pytest.raises(ur.ResultsError, match="is not a file"):
        ur.update_results("eval", "x", [tmp_path / "missing.png"], results=page)
    with pytest.raises(ur.ResultsError, match="marker"):
        ur.update_results("eval", "<!-- END eval -->", results=page)


def test_command_line(page: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = tmp_path / "bench.md"
    table.write_text("bench table\n", encoding="utf-8")
    assert ur.main(["bench", "--markdown", str(table), "--results", str(page)]) == 0
    assert region(page.read_text(encoding="utf-8"), "bench") == "bench table"
    assert ur.main(["nope", "--markdown", str(table), "--results", str(page)]) == 1
    assert "unknown section 'nope'" in capsys.readouterr().err


def test_benchmark_json_becomes_tables(page: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bench"
    folder.mkdir()
    train = {"ratio": 1.2968, "ours": {"tokens_per_second": 15.02, "steps": 3}, "sizes": [1, 2], "runs": [{"a": 1}]}
    (folder / "train.json").write_text(json.dumps(train), encoding="utf-8")
    (folder / "memory.json").write_text(json.dumps({"insert": {"speedup": 31.5}}), encoding="utf-8")
    markdown = ur.json_markdown(folder)
    assert markdown.index("### memory") < markdown.index("### train")  # one table per file, by name
    for row in ("| `ratio` | 1.297 |", "| `ours.tokens_per_second` | 15.02 |", "| `sizes` | 1, 2 |"):
        assert row in markdown
    assert "| `runs` | (a list of 1) |" in markdown and "| `insert.speedup` | 31.5 |" in markdown
    assert ur.main(["bench", "--json-dir", str(folder), "--results", str(page)]) == 0
    assert "ours.tokens_per_second" in region(page.read_text(encoding="utf-8"), "bench")
    with pytest.raises(ur.ResultsError, match="no JSON files"):
        ur.json_markdown(tmp_path / "empty")
