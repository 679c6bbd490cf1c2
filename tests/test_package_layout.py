"""Cross-package contracts: every package has the prescribed shape (../shared/spec/architecture.md)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").is_file())


def test_there_are_packages() -> None:
    assert {"memalpha-memory", "memalpha-data"} <= {p.name for p in PACKAGES}


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_package_shape(package: Path) -> None:
    name = tomllib.loads((package / "pyproject.toml").read_text())["project"]["name"]
    assert name == package.name and name.startswith("memalpha-")
    module = package / "src" / name.replace("-", "_")
    for required in ("__init__.py", "py.typed", "exceptions.py"):
        assert (module / required).is_file(), f"{name} lacks src/{module.name}/{required}"
    assert (package / "README.md").is_file() and (package / "tests").is_dir()
    tree = ast.parse((module / "__init__.py").read_text())
    assert any(
        isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets)
        for node in tree.body
    ), f"{name}'s __init__.py has no explicit __all__"


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_package_imports_no_private_module_of_another_package(package: Path) -> None:
    own = package.name.replace("-", "_")
    for source in (package / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("memalpha_"):
                top, *rest = node.module.split(".")
                assert top == own or not any(part.startswith("_") for part in rest), f"{source}: {node.module}"
