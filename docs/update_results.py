"""Replace a generated section of docs/results.md, and copy its images next to it.

``nox -s eval`` and ``nox -s bench`` call this after a run. docs/results.md holds one region per section, between
``<!-- BEGIN <section> -->`` and ``<!-- END <section> -->``; `update_results` replaces what is between the markers
with the given markdown and copies the given images to docs/assets/results/ (same file names, replacing older
copies). Write image links in the markdown relative to docs/results.md, by file name:
``![score vs memory](assets/results/score_vs_memory.png)`` for ``--image runs/<run-id>/plots/score_vs_memory.png``.
The strict site build (``nox -s docs``) fails on a link to an image that is not there.

    python docs/update_results.py eval --markdown runs/<run-id>/results.md --image runs/<run-id>/plots/score.png
    python docs/update_results.py bench --markdown - < bench.md      # markdown from stdin
    python docs/update_results.py bench --json-dir runs/bench        # every JSON file there, as tables
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

SECTIONS = ("eval", "length-sweep", "bench")
RESULTS = Path(__file__).resolve().parent / "results.md"
ASSETS = "assets/results"  # relative to the results page


class ResultsError(ValueError):
    """An unknown section, a results page without that section's markers, or an image that is not a file."""


def markers(section: str) -> tuple[str, str]:
    """The comment lines that open and close ``section``'s region."""
    return f"<!-- BEGIN {section} -->", f"<!-- END {section} -->"


def update_results(section: str, markdown: str, images: Iterable[str | Path] = (), *, results: Path = RESULTS) -> Path:
    """Replace the region of ``section`` in ``results`` with ``markdown``; copy ``images`` to its assets folder.

    Args:
        section: ``eval``, ``length-sweep`` or ``bench``.
        markdown: the region's new content. Link images as ``assets/results/<file name>``.
        images: files copied to ``assets/results/`` next to ``results``, under their own names.
        results: the results page (default: docs/results.md).

    Returns:
        The results page's path.

    Raises:
        ResultsError: an unknown section, missing or repeated markers (nothing is changed), markers inside
            ``markdown``, or an image that is not a file.
    """
    if section not in SECTIONS:
        raise ResultsError(f"unknown section {section!r}: known sections are {', '.join(SECTIONS)}")
    begin, end = markers(section)
    results = Path(results)
    text = results.read_text(encoding="utf-8")
    for marker in (begin, end):
        count = text.count(marker)
        if count != 1:
            found = "has no" if count == 0 else f"has {count} of the"
            raise ResultsError(f"{results} {found} marker line {marker!r}; add one, on a line of its own")
    start, stop = text.index(begin) + len(begin), text.index(end)
    if stop < start:
        raise ResultsError(f"{results}: {end!r} comes before {begin!r}")
    if any(m in markdown for s in SECTIONS for m in markers(s)):
        raise ResultsError("the markdown holds a BEGIN/END marker line; pass only the region's content")
    sources = [Path(image) for image in images]
    for source in sources:
        if not source.is_file():
            raise ResultsError(f"image {str(source)!r} is not a file")
    assets = results.parent / ASSETS
    if sources:
        assets.mkdir(parents=True, exist_ok=True)
    for source in sources:
        shutil.copyfile(source, assets / source.name)
    # blank lines around the content: markdown would read lines that touch a comment as part of the raw HTML
    new = f"{text[:start]}\n\n{markdown.strip()}\n\n{text[stop:]}"
    _write_atomic(results, new)
    return results


def _flatten(value: object, prefix: str = "") -> Iterable[tuple[str, object]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(inner, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        if all(not isinstance(item, (dict, list)) for item in value) and len(value) <= 8:
            yield prefix, ", ".join(_format(item) for item in value)
        else:
            yield prefix, f"(a list of {len(value)})"
    else:
        yield prefix, value


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def json_markdown(folder: str | Path) -> str:
    """One table per JSON file of ``folder`` (a benchmark's output): every figure by its dotted key."""
    files = sorted(Path(folder).glob("*.json"))
    if not files:
        raise ResultsError(f"no JSON files in {str(folder)!r}: run the benchmarks first (nox -s bench)")
    parts = []
    for path in files:
        rows = "\n".join(f"| `{key}` | {_format(value)} |" for key, value in _flatten(json.loads(path.read_text())))
        parts.append(f"### {path.stem}\n\nFrom `{path.name}`.\n\n| figure | value |\n|---|---|\n{rows}\n")
    return "\n".join(parts)


def _write_atomic(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("section", help=f"the region to replace: {', '.join(SECTIONS)}")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--markdown", metavar="FILE", help="the region's new content; - for stdin")
    source.add_argument("--json-dir", metavar="DIR", help="render every JSON file of DIR as a table (benchmarks)")
    parser.add_argument(
        "--image", action="append", default=[], metavar="PNG", help="an image to copy to docs/assets/results/"
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="the results page (default: docs/results.md)")
    args = parser.parse_args(argv)
    try:
        if args.json_dir is not None:
            markdown = json_markdown(args.json_dir)
        elif args.markdown == "-":
            markdown = sys.stdin.read()
        else:
            markdown = Path(args.markdown).read_text(encoding="utf-8")
        path = update_results(args.section, markdown, args.image, results=args.results)
    except (ResultsError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"updated the {args.section} section of {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
