"""mkdocs hooks: links inside the included READMEs keep working, and the API reference shows every public name.

Pages include the packages' READMEs with pymdownx.snippets (``--8<-- "packages/memalpha-train/README.md"``). A
README's relative links are relative to the README's own folder (``../../packages/memalpha-train/README.md#recipes``,
``openapi.json``), not to the page, so mkdocs would report them as broken. Before mkdocs checks a page's links, this
hook resolves every relative link that names no page against the files the page includes:

- a README that a page includes, or a folder holding one: a link to that page (the anchor is kept);
- any other file or folder of the repository: the link text alone, with the file's repository path as its tooltip
  (the site does not carry the repository's files);
- anything else is left alone, so mkdocs reports it (``validation.links.not_found``: an error under ``--strict``).

Each page ``reference/<module>.md`` must show every name of ``<module>.__all__`` (an anchor ``<module>.<name>``, or
``<module>.<name>.<name>`` for a function rendered from the submodule it shares its name with); a missing one is a
warning, so an empty or partial reference page fails the strict build.
"""

from __future__ import annotations

import ast
import logging
import posixpath
import re
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

from markdown import Extension, Markdown
from markdown.treeprocessors import Treeprocessor
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

INCLUDE = re.compile(r'^[ \t]*--8<--[ \t]+"([^"]+)"', re.MULTILINE)
LINE_RANGE = re.compile(r"(:\d*)+$")  # "datasets/README.md:3" includes from line 3 on

log = logging.getLogger("mkdocs.hooks.memalpha")  # under "mkdocs": its warnings count for --strict


class _State:
    root = Path()
    files: Files | None = None
    page: Page | None = None
    includes: ClassVar[dict[str, list[str]]] = {}  # page src_uri -> the repository paths it includes
    readme_pages: ClassVar[dict[str, str]] = {}  # an included README's repository path -> the page including it


def included_paths(markdown: str) -> list[str]:
    """The repository paths a page's source includes with ``--8<--`` (line ranges dropped)."""
    return [LINE_RANGE.sub("", path) for path in INCLUDE.findall(markdown)]


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    _State.root = Path(config.config_file_path).resolve().parent
    config.markdown_extensions.append(_ReadmeLinks())  # type: ignore[arg-type]
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    _State.files = files
    _State.includes, _State.readme_pages = {}, {}
    for file in files.documentation_pages():
        if file.abs_src_path is None:
            continue
        paths = included_paths(Path(file.abs_src_path).read_text(encoding="utf-8"))
        _State.includes[file.src_uri] = paths
        for path in paths:
            if posixpath.basename(path) == "README.md":
                _State.readme_pages.setdefault(path, file.src_uri)
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    _State.page = page  # the page mkdocs renders next
    return markdown


def rewrite(href: str, page: str, includes: list[str]) -> tuple[str, str | None]:
    """What to do with a link ``href`` on page ``page`` (a src_uri) that includes ``includes``.

    Returns ``("keep", None)``, ``("link", new_href)`` or ``("text", repository_path)``.
    """
    scheme, netloc, path, _query, anchor = urlsplit(href)
    if scheme or netloc or not path or path.startswith(("/", "\\")):
        return "keep", None
    path = unquote(path)
    files = _State.files
    if files is not None and files.get_file_from_path(
        posixpath.normpath(posixpath.join(posixpath.dirname(page), path))
    ):
        return "keep", None  # a link between pages: mkdocs checks it
    for included in includes:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(included), path))
        if target.startswith("../") or target == "..":
            continue
        readme = target if posixpath.basename(target) == "README.md" else posixpath.join(target, "README.md")
        if readme in _State.readme_pages:
            new = get_relative_url(_State.readme_pages[readme], page)
            return "link", f"{new}#{anchor}" if anchor else new
        if (_State.root / target).exists():
            return "text", target
    return "keep", None


class _ReadmeLinksProcessor(Treeprocessor):
    def run(self, root: ElementTree.Element) -> None:
        page = _State.page
        includes = _State.includes.get(page.file.src_uri, []) if page is not None else []
        if page is None or not includes:
            return
        for element in root.iter("a"):
            action, value = rewrite(element.get("href", ""), page.file.src_uri, includes)
            if action == "link" and value is not None:
                element.set("href", value)
            elif action == "text" and value is not None:
                element.tag = "span"
                del element.attrib["href"]
                element.set("title", f"{value} in the repository")


class _ReadmeLinks(Extension):
    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 (Python-Markdown's name)
        # after the inline patterns made the links (20), before mkdocs checks and rewrites them ("relpath", 0)
        md.treeprocessors.register(_ReadmeLinksProcessor(md), "memalpha_readme_links", 1)


def public_names(module: str) -> list[str] | None:
    """``__all__`` of the package ``module`` (read from its ``src/<module>/__init__.py``), or None if not found."""
    for init in sorted(_State.root.glob(f"*/*/src/{module}/__init__.py")):
        for node in ast.parse(init.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
                return [str(name) for name in ast.literal_eval(node.value)]
    return None


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    directory, _, name = page.file.src_uri.rpartition("/")
    if directory != "reference" or not name.endswith(".md"):
        return output
    module = name.removesuffix(".md")
    names = public_names(module)
    if names is None:
        log.warning("%s: no package %s with an __all__ under */*/src/", page.file.src_uri, module)
        return output
    missing = [n for n in names if f'id="{module}.{n}"' not in output and f'id="{module}.{n}.{n}"' not in output]
    if missing:
        log.warning("%s does not show these names of %s.__all__: %s", page.file.src_uri, module, ", ".join(missing))
    return output
