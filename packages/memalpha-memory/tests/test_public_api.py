"""The public surface: `__all__` is exact and the package imports no heavy framework."""

from __future__ import annotations

import subprocess
import sys

import memalpha_memory


def test_all_is_exactly_the_public_names() -> None:
    public = {name for name in dir(memalpha_memory) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(memalpha_memory, name)).__name__ == "module"}
    public -= {"annotations", "importlib", "TYPE_CHECKING", "Any"}  # the module's own imports
    assert set(memalpha_memory.__all__) - {"__version__"} == public - modules
    assert sorted(memalpha_memory.__all__) == memalpha_memory.__all__


def test_lancedb_is_imported_only_when_the_store_is_used() -> None:
    code = (
        "import sys, memalpha_memory; "
        "m = memalpha_memory.WorkingMemory(); "
        "m.apply_tool_call('memory_update', {'memory_type': 'core', 'new_content': 'x'}); "
        "print('lancedb' in sys.modules); "
        "memalpha_memory.MemoryStore; print('lancedb' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.split() == ["False", "True"]


def test_import_pulls_no_ml_framework() -> None:
    code = (
        "import sys, memalpha_memory; "
        "heavy = ('torch', 'transformers', 'sentence_transformers', 'trl', 'vllm'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_exceptions_inherit_the_matching_builtins() -> None:
    assert issubclass(memalpha_memory.InvalidNamespaceError, ValueError)
    assert issubclass(memalpha_memory.NamespaceNotFoundError, KeyError)
    assert issubclass(memalpha_memory.StorageError, OSError)
    for name in memalpha_memory.__all__:
        obj = getattr(memalpha_memory, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, memalpha_memory.MemalphaMemoryError)
