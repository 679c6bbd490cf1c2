"""The public surface: `__all__` is exact, exceptions inherit the matching builtins, the README example runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import memalpha_server

README = Path(__file__).resolve().parents[1] / "README.md"


def test_all_is_exactly_the_public_names() -> None:
    public = {name for name in vars(memalpha_server) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(memalpha_server, name)).__name__ == "module"}
    assert set(memalpha_server.__all__) - {"__version__"} == public - modules
    assert sorted(memalpha_server.__all__) == memalpha_server.__all__


def test_exceptions_share_one_base_and_inherit_the_matching_builtins() -> None:
    assert issubclass(memalpha_server.ServerConfigError, ValueError)
    for name in memalpha_server.__all__:
        obj = getattr(memalpha_server, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, memalpha_server.MemalphaServerError)


def test_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)[0]
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert (tmp_path / "memalpha-store" / "tenants" / "local").is_dir()
