"""Output helpers shared by the command groups: consoles, JSON on stdout, one-line validation errors."""

from __future__ import annotations

import json
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console

__all__ = ["echo_json", "stderr_console", "stdout_console", "summarize_validation"]


def stdout_console() -> Console:
    """Rich console for results (stdout); plain text when stdout is not a terminal."""
    return Console(highlight=False)


def stderr_console() -> Console:
    """Rich console for progress, logs and notes (stderr), so that stdout stays parseable."""
    return Console(stderr=True, highlight=False)


def echo_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (datetimes and paths as strings)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def summarize_validation(exc: ValidationError) -> str:
    """A pydantic error on one line: the count and the first problem with its location."""
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "document"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg', 'invalid')}{more}"
