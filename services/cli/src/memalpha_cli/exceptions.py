"""Errors of the memalpha command.

The CLI turns every user error into one line on stderr and exit status 1::

    click.ClickException
    └── MemalphaCliError     a user error found by the CLI itself, or a library error it translated

Usage errors (unknown option, missing argument, bad choice) stay click's own and exit with status 2.
"""

from __future__ import annotations

from typing import IO, Any

import click

__all__ = ["MemalphaCliError", "one_line"]


def one_line(text: object) -> str:
    """``text`` on one line: its non-blank lines stripped and joined with ``"; "``."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return "; ".join(lines) or type(text).__name__


class MemalphaCliError(click.ClickException):
    """A user error: shown as ``error: <reason>`` on one line of stderr, exit status 1."""

    exit_code = 1

    def __init__(self, message: object) -> None:
        super().__init__(one_line(message))

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", file=file, err=True)
