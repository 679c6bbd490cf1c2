"""Errors raised by memalpha-data.

MemalphaDataError
├── SourceRowError(ValueError)        a source file holds a row the adapter cannot read (names file and row)
├── SourceNotFoundError(FileNotFoundError)  a source file or the data root is missing
├── InstanceFormatError(ValueError)   a parquet/JSON file is not in a layout we can read
├── RecipeError(ValueError)           a dataset recipe is malformed or names an unknown source
└── UnknownMetricError(KeyError)      a metric name that is not registered
"""

from __future__ import annotations

from pathlib import Path


class MemalphaDataError(Exception):
    """Base class of every error memalpha-data raises."""


class SourceRowError(MemalphaDataError, ValueError):
    """A row of a source file cannot be read; the message names the file, the row and what was wrong."""

    def __init__(self, path: str | Path, row: int | str, reason: str) -> None:
        super().__init__(f"{path}: row {row}: {reason}")
        self.path = str(path)
        self.row = row
        self.reason = reason


class SourceNotFoundError(MemalphaDataError, FileNotFoundError):
    """A source file (or the data root) does not exist."""


class InstanceFormatError(MemalphaDataError, ValueError):
    """A file of instances is in no layout memalpha-data can read, or a row of it is malformed."""


class RecipeError(MemalphaDataError, ValueError):
    """A dataset recipe is malformed: unknown source, bad parameter, bad split."""


class UnknownMetricError(MemalphaDataError, KeyError):
    """A metric name that is not registered in `memalpha_data.METRICS`."""

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return str(self.args[0]) if self.args else ""
