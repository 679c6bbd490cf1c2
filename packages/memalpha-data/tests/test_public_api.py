"""The public surface: `__all__` is exact, errors inherit the right builtins, no heavy framework is imported."""

from __future__ import annotations

import subprocess
import sys

import memalpha_data


def test_all_is_exactly_the_public_names() -> None:
    public = {name for name in vars(memalpha_data) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(memalpha_data, name)).__name__ == "module"}
    assert set(memalpha_data.__all__) == public - modules


def test_import_pulls_no_ml_framework_and_no_storage_engine() -> None:
    code = (
        "import sys, memalpha_data; "
        "heavy = ('torch', 'transformers', 'trl', 'vllm', 'lancedb', 'datasets', 'memalpha_memory'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_exceptions_inherit_the_matching_builtins() -> None:
    assert issubclass(memalpha_data.SourceRowError, ValueError)
    assert issubclass(memalpha_data.SourceNotFoundError, FileNotFoundError)
    assert issubclass(memalpha_data.InstanceFormatError, ValueError)
    assert issubclass(memalpha_data.RecipeError, ValueError)
    assert issubclass(memalpha_data.UnknownMetricError, KeyError)
    for name in memalpha_data.__all__:
        obj = getattr(memalpha_data, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, memalpha_data.MemalphaDataError)


def test_source_row_error_names_file_and_row() -> None:
    error = memalpha_data.SourceRowError("data/x.jsonl", 12, "missing field 'question'")
    assert str(error) == "data/x.jsonl: row 12: missing field 'question'"
    assert (error.path, error.row) == ("data/x.jsonl", 12)


def test_every_registered_source_accepts_the_common_arguments() -> None:
    common = {"root", "split", "seed", "limit"}
    for name, source in memalpha_data.SOURCES.items():
        assert common <= set(source.parameters()), name
