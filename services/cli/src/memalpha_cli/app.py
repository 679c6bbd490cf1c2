"""The root `memalpha` command: logging, error handling, version, and the command groups.

Each group lives in a module of its own (`memory`, `data`, `trace`, `train`, `eval`) and is added here with one
`add_command` line. Library errors become one line on stderr and exit status 1;
usage errors stay click's own (status 2).
"""

from __future__ import annotations

import errno
import logging
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import Any

import click
from rich.logging import RichHandler

from ._output import stderr_console
from .build import build_command
from .data import data_group
from .eval import eval_command
from .exceptions import MemalphaCliError
from .memory import memory_group
from .trace import trace_group
from .train import train_command

__all__ = ["cli", "main", "run"]

_PACKAGES = ("memalpha-memory", "memalpha-data", "memalpha-rollout", "memalpha-train", "memalpha-server")
_LEVELS = {0: logging.WARNING, 1: logging.INFO}

EPILOG = """\b
Examples:
  memalpha data build mini                      build datasets/mini.yaml into datasets/generated/mini/
  memalpha data stats datasets/generated/mini/train.parquet
  memalpha memory list --store ./memalpha-store
  memalpha memory inspect user-42
  memalpha memory search user-42 "where does Ana live?" -k 5
  memalpha memory export user-42 -o user-42.json
  memalpha memory serve --tokens tokens.yaml    REST + MCP on 127.0.0.1:8765
  memalpha memory build --writer heuristic --input notes.md
  memalpha trace view runs/RUN-ID               HTML pages of a run's episodes
  memalpha train                                SFT + GRPO with the cpu-demo recipe (SmolLM2, CPU)
  memalpha train --recipe qwen3-4b --set grpo.max_steps=50
  memalpha eval                                 writers and baselines on the eval recipe, paper-style tables
  memalpha eval --recipe length-sweep -m heuristic -m rag --limit 0

\b
Exit status: 0 ok, 1 user error (one line on stderr), 2 usage error.
Run `memalpha COMMAND --help` for the options of a command.
"""


class _CliLogHandler(RichHandler):
    """The handler the CLI installs on the root logger (replaced, not stacked, on every run)."""


def configure_logging(verbosity: int) -> None:
    """Send log records to stderr through rich: warnings by default, INFO with -v, DEBUG with -vv."""
    level = _LEVELS.get(verbosity, logging.DEBUG)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _CliLogHandler)]:
        root.removeHandler(handler)
    handler = _CliLogHandler(console=stderr_console(), show_path=False, markup=False, rich_tracebacks=False)
    handler.setLevel(level)
    root.addHandler(handler)
    root.setLevel(level)


def _version_text() -> str:
    """``memalpha X.Y.Z`` and then the version of each package the CLI drives."""

    def version(distribution: str) -> str:
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            return "(not installed)"

    lines = [f"memalpha {version('memalpha-cli')}"]
    lines += [f"{name} {version(name)}" for name in _PACKAGES]
    return "\n".join(lines)


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(_version_text())
        ctx.exit(0)


# The libraries' base errors. They are looked up among the imported modules: the libraries are imported lazily by
# the commands that use them, and an error of a library implies that it was imported.
_LIBRARY_ERRORS = (
    ("memalpha_memory", "MemalphaMemoryError"),
    ("memalpha_data", "MemalphaDataError"),
    ("memalpha_rollout", "MemalphaRolloutError"),
    ("memalpha_train", "MemalphaTrainError"),
)


def _is_user_error(exc: Exception) -> bool:
    """Whether ``exc`` reports a user's mistake (a library error, a file problem) rather than a bug."""
    if isinstance(exc, OSError):
        return exc.errno != errno.EPIPE  # click quiets a closed pipe (`memalpha ... | head`) itself
    for module_name, error_name in _LIBRARY_ERRORS:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(exc, getattr(module, error_name)):
            return True
    return False


class _MemalphaGroup(click.Group):
    """The root group: library errors raised by any subcommand become `MemalphaCliError` (exit 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if isinstance(exc, click.ClickException) or not _is_user_error(exc):
                raise
            raise MemalphaCliError(exc) from exc


@click.group(
    name="memalpha",
    cls=_MemalphaGroup,
    epilog=EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the versions of memalpha and its packages, then exit.",
)
@click.option("-v", "--verbose", count=True, help="Log more on stderr: -v for INFO, -vv for DEBUG.")
def cli(verbose: int) -> None:
    """memalpha: memory agents trained with RL (Mem-alpha), their datasets and their memories.

    Build and check datasets (`memalpha data`); train a memory writer (`memalpha train`) and evaluate writers
    against baselines (`memalpha eval`); look into, move,
    serve or build (with a writer policy) the memories agents write (`memalpha memory`); render episode traces
    (`memalpha trace`). Output meant for scripts is available with --json; progress and logs go to stderr.
    """
    configure_logging(verbose)


memory_group.add_command(build_command)
cli.add_command(data_group)
cli.add_command(eval_command)
cli.add_command(memory_group)
cli.add_command(trace_group)
cli.add_command(train_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = cli.main(args=args, prog_name="memalpha", standalone_mode=False)
    except click.Abort:
        click.echo("error: aborted", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return result if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point: ``memalpha``."""
    sys.exit(main())
