"""``python -m memalpha_server``: run the server, or write its OpenAPI document.

    python -m memalpha_server --store ./memalpha-store --tokens tokens.yaml
    python -m memalpha_server --store ./memalpha-store --no-auth            # 127.0.0.1 only, tenant "local"
    python -m memalpha_server --mcp-stdio --store ./memalpha-store [--tenant local]   # MCP over stdio
    python -m memalpha_server --write-openapi services/memory-server/openapi.json

The ``memalpha memory serve`` command of memalpha-cli does the same with the same options.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from memalpha_memory import StorageError

from .auth import LOCAL_TENANT
from .exceptions import ServerConfigError
from .mcp_stdio import run_mcp_stdio
from .openapi import write_openapi
from .serve import serve
from .settings import ServerSettings

__all__ = ["main", "run"]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, then serve HTTP or stdio (blocks) or write the OpenAPI document; 0 ok, 1 configuration error."""
    defaults = ServerSettings()
    parser = argparse.ArgumentParser(prog="python -m memalpha_server", description="The memalpha memory server.")
    parser.add_argument("--store", default=defaults.store, help="store root: a folder or a LanceDB URI (s3://...)")
    parser.add_argument("--tokens", type=Path, default=None, help="YAML/JSON file mapping token -> tenant")
    parser.add_argument("--no-auth", action="store_true", help="no tokens; every request is tenant 'local' (loopback)")
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=defaults.port, help="TCP port (0: any free port)")
    parser.add_argument("--no-mcp", action="store_true", help="do not mount the MCP endpoint at /mcp")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--no-access-log", action="store_true", help="do not log every request")
    parser.add_argument("--mcp-stdio", action="store_true", help="serve MCP over stdin/stdout instead of HTTP")
    parser.add_argument("--tenant", default=LOCAL_TENANT, help="with --mcp-stdio: whose memory (default: local)")
    parser.add_argument("--write-openapi", type=Path, metavar="PATH", help="write the OpenAPI JSON to PATH and exit")
    args = parser.parse_args(argv)
    if args.write_openapi is not None:
        print(f"wrote {write_openapi(args.write_openapi)}")
        return 0
    try:
        if args.mcp_stdio:
            logging.basicConfig(level=logging.WARNING, stream=sys.stderr)  # stdout carries the MCP messages
            run_mcp_stdio(args.store, tenant=args.tenant)
            return 0
        settings = ServerSettings(
            store=args.store,
            tokens_file=args.tokens,
            no_auth=args.no_auth,
            host=args.host,
            port=args.port,
            mcp=not args.no_mcp,
        )
        serve(settings, log_level=args.log_level, access_log=not args.no_access_log)
    except (ServerConfigError, StorageError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
