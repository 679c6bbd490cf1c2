"""`python -m memalpha_cli` runs the `memalpha` command."""

from memalpha_cli import run

run()
