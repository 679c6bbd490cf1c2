"""memalpha-cli: the `memalpha` command, a click shell over the memalpha packages.

    memalpha data build|stats|validate      datasets (memalpha-data)
    memalpha memory list|inspect|search|export|import|drop|serve|mcp   memories (memalpha-memory, memalpha-server)

`main(argv) -> int` runs a command line and returns its exit status: 0 ok, 1 user error (one line on stderr),
2 usage error. `cli` is the click group, for `click.testing.CliRunner`.
"""

from .app import cli, main, run
from .exceptions import MemalphaCliError

__version__ = "0.1.0"

__all__ = ["MemalphaCliError", "__version__", "cli", "main", "run"]
