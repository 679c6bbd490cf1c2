"""The package's public surface."""

from __future__ import annotations

import subprocess
import sys

import memalpha_train


def test_all_is_exact() -> None:
    eager = {n for n, v in vars(memalpha_train).items() if not n.startswith("_") and not isinstance(v, type(sys))}
    eager -= {"annotations", "TYPE_CHECKING", "Any"}
    lazy = set(memalpha_train._LAZY)
    assert sorted(memalpha_train.__all__) == sorted(eager | lazy)
    for name in memalpha_train.__all__:
        assert getattr(memalpha_train, name).__name__ == name


def test_unknown_names_raise_attribute_error() -> None:
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'Trainer'"):
        memalpha_train.Trainer  # noqa: B018


def test_import_loads_no_torch_or_trl() -> None:
    code = "import sys, memalpha_train; print(sorted(m for m in ('torch', 'trl', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"
