"""`memalpha memory`: the memories on this machine (list, inspect, search, export, import, drop), and the server.

The local commands use the memory server's layout: the tenant ``local`` of store ROOT lives at
``tenant_store_uri(ROOT, "local")``, so `memalpha memory inspect NS` sees what a ``--no-auth`` server wrote.
memalpha-memory (LanceDB) and memalpha-server (FastAPI, the MCP SDK) are imported when a command runs, so that
`memalpha --help` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click
from pydantic import ValidationError
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ._output import echo_json, stderr_console, stdout_console, summarize_validation
from .exceptions import MemalphaCliError

if TYPE_CHECKING:
    from memalpha_memory import Embedder, Entry, Memory, MemoryStore, SearchHit, SearchMode

__all__ = ["DEFAULT_STORE", "STORE_ENV", "memory_group"]

STORE_ENV = "MEMALPHA_STORE"
DEFAULT_STORE = "./memalpha-store"
SERVER_INSTALL = "pip install ./services/memory-server"

F = TypeVar("F", bound=Callable[..., Any])


# ------------------------------------------------------------------ options
def store_option(command: F) -> F:
    return click.option(
        "--store",
        "store_root",
        metavar="ROOT",
        envvar=STORE_ENV,
        show_envvar=True,
        default=DEFAULT_STORE,
        show_default=True,
        help="Root of the memory store: a folder or a LanceDB URI (memory://, s3://...).",
    )(command)


def tenant_option(command: F) -> F:
    return click.option(
        "--tenant",
        default="local",
        show_default=True,
        help="Whose memories: each tenant has its own database under ROOT (a --no-auth server writes 'local').",
    )(command)


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of tables.")(command)


# ----------------------------------------------------------- store opening
def import_server() -> ModuleType:
    """memalpha_server, imported on first use (it brings FastAPI, uvicorn and the MCP SDK)."""
    try:
        import memalpha_server
    except ImportError as exc:
        raise MemalphaCliError(f"cannot import memalpha_server ({exc}); install it: {SERVER_INSTALL}") from exc
    return memalpha_server


@contextmanager
def server_errors() -> Iterator[ModuleType]:
    """Yield memalpha_server; its errors (and settings that do not validate) become one-line user errors."""
    server = import_server()
    from memalpha_server.exceptions import MemalphaServerError

    try:
        yield server
    except MemalphaServerError as exc:
        raise MemalphaCliError(exc) from exc
    except ValidationError as exc:
        raise MemalphaCliError(f"invalid server settings: {summarize_validation(exc)}") from exc


def tenant_uri(root: str, tenant: str) -> str:
    """The LanceDB URI of ``tenant``'s database under ``root``."""
    with server_errors() as server:
        uri: str = server.tenant_store_uri(root, tenant)
    return uri


def _local_folder(uri: str) -> Path | None:
    """The folder of a local store URI, None for other schemes."""
    if "://" not in uri:
        return Path(uri).expanduser()
    if uri.startswith("file://"):
        return Path(uri.removeprefix("file://")).expanduser()
    return None


def open_store(root: str, tenant: str, *, create: bool, embedder: Embedder | None = None) -> MemoryStore | None:
    """The tenant's store; None when it is a local folder that does not exist and ``create`` is False.

    With an ``embedder`` (for vector search) the store is opened at the tenant's URI with it.
    """
    uri = tenant_uri(root, tenant)
    folder = _local_folder(uri)
    if not create and folder is not None and not folder.is_dir():
        return None
    if embedder is not None:
        from memalpha_memory import MemoryStore

        return MemoryStore.open(uri, embedder=embedder)
    with server_errors() as server:
        store: MemoryStore = server.open_tenant_store(root, tenant)
    return store


def require_namespace(store: MemoryStore | None, namespace: str, where: str) -> Memory:
    """The memory of ``namespace``, which must hold data; else a user error that says where we looked."""
    from memalpha_memory.types import validate_namespace

    validate_namespace(namespace)
    if store is None or not store.exists(namespace):
        known = store.namespaces() if store is not None else []
        hint = f" (it holds: {', '.join(known[:10])}{', ...' if len(known) > 10 else ''})" if known else ""
        raise MemalphaCliError(
            f"namespace {namespace!r} does not exist in {where!r}{hint}; check --store and --tenant, or run "
            "`memalpha memory list`"
        )
    return store.namespace(namespace)


def existing_namespace(root: str, tenant: str, namespace: str) -> Memory:
    """The memory of ``namespace`` in the tenant's store, which must hold data."""
    return require_namespace(open_store(root, tenant, create=False), namespace, tenant_uri(root, tenant))


def _entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "content": entry.content,
        "created_at": entry.created_at.isoformat(),
        "updated_at": entry.updated_at.isoformat(),
    }


# ------------------------------------------------------------------ commands
@click.group(name="memory")
def memory_group() -> None:
    """Look into, move and serve agent memories (memalpha-memory namespaces).

    \b
    Local commands read the store ROOT directly (--store, env MEMALPHA_STORE), in the
    memory server's layout: one database per tenant, namespaces inside it.
    """


@memory_group.command("list")
@store_option
@tenant_option
@json_option
def list_command(store_root: str, tenant: str, as_json: bool) -> None:
    """List the namespaces of a tenant with their sizes."""
    store = open_store(store_root, tenant, create=False)
    rows = []
    if store is not None:
        for name in store.namespaces():
            memory = store.namespace(name)
            rows.append(
                {
                    "namespace": name,
                    "semantic": len(memory.entries("semantic")),
                    "episodic": len(memory.entries("episodic")),
                    "tokens": memory.total_tokens(),
                }
            )
    uri = tenant_uri(store_root, tenant)
    if as_json:
        echo_json({"store": uri, "tenant": tenant, "namespaces": rows})
        return
    if not rows:
        stderr_console().print(Text(f"no namespaces in {uri}"))
        return
    console = stdout_console()
    console.print(Text(f"{uri}: {len(rows)} namespace(s)", style="bold"))
    table = Table()
    for column in ("namespace", "semantic", "episodic", "tokens"):
        table.add_column(column, justify="left" if column == "namespace" else "right")
    for row in rows:
        table.add_row(Text(str(row["namespace"])), str(row["semantic"]), str(row["episodic"]), f"{row['tokens']:,}")
    console.print(table)


@memory_group.command("inspect")
@click.argument("namespace")
@store_option
@tenant_option
@json_option
def inspect_command(namespace: str, store_root: str, tenant: str, as_json: bool) -> None:
    """Show a namespace: the core paragraph, semantic and episodic entries with their ids, and its size."""
    memory = existing_namespace(store_root, tenant, namespace)
    core, semantic, episodic = memory.core, memory.entries("semantic"), memory.entries("episodic")
    total = memory.total_tokens()
    if as_json:
        echo_json(
            {
                "namespace": namespace,
                "store": tenant_uri(store_root, tenant),
                "tenant": tenant,
                "core": core,
                "semantic": [_entry_json(e) for e in semantic],
                "episodic": [_entry_json(e) for e in episodic],
                "total_tokens": total,
            }
        )
        return
    console = stdout_console()
    console.print(
        Text(f"{namespace}: {len(semantic)} semantic, {len(episodic)} episodic entries, {total:,} tokens", style="bold")
    )
    console.print(Panel(Text(core or "(empty)"), title="core", title_align="left"))
    for kind, entries in (("semantic", semantic), ("episodic", episodic)):
        table = Table(title=f"{kind} ({len(entries)})", title_justify="left", expand=True)
        table.add_column("id", no_wrap=True)
        table.add_column("content", ratio=1)
        table.add_column("updated", no_wrap=True)
        for entry in entries:
            table.add_row(entry.id, Text(entry.content), entry.updated_at.strftime("%Y-%m-%d %H:%M"))
        console.print(table)


def _embedder(name: str | None) -> Embedder | None:
    from memalpha_memory import HashingEmbedder, MiniLMEmbedder

    if name == "hashing":
        return HashingEmbedder()
    if name == "minilm":
        try:
            return MiniLMEmbedder()
        except ImportError as exc:
            raise MemalphaCliError(f"{exc}; or use --embedder hashing") from exc
    return None


def _core_hit(core: str, query: str) -> list[dict[str, Any]]:
    """The core paragraph as a hit when it shares a word with the query (score: share of query words in it)."""
    from memalpha_memory import bm25_tokenize

    words = set(bm25_tokenize(query))
    found = words & set(bm25_tokenize(core))
    if not found:
        return []
    return [{"id": None, "memory_type": "core", "score": len(found) / len(words), "content": core}]


def _hit_json(hit: SearchHit) -> dict[str, Any]:
    return {"id": hit.entry.id, "memory_type": hit.memory_type, "score": hit.score, "content": hit.entry.content}


@memory_group.command("search")
@click.argument("namespace")
@click.argument("query")
@click.option(
    "--type",
    "memory_type",
    type=click.Choice(["semantic", "episodic", "core"]),
    default=None,
    help="Search one memory type (default: semantic and episodic). The core paragraph is shown when it "
    "shares a word with the query.",
)
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="How many hits.")
@click.option(
    "--mode",
    type=click.Choice(["bm25", "fts", "vector", "hybrid"]),
    default="bm25",
    show_default=True,
    help="bm25: exact BM25 (the paper's); fts: LanceDB full-text index; vector/hybrid need --embedder.",
)
@click.option(
    "--embedder",
    type=click.Choice(["hashing", "minilm"]),
    default=None,
    help="Embeddings for --mode vector/hybrid: hashing (no model) or minilm (extra memalpha-memory[embeddings]).",
)
@store_option
@tenant_option
@json_option
def search_command(
    *,
    namespace: str,
    query: str,
    memory_type: str | None,
    k: int,
    mode: str,
    embedder: str | None,
    store_root: str,
    tenant: str,
    as_json: bool,
) -> None:
    """Search a namespace for QUERY, best hits first."""
    if mode in ("vector", "hybrid") and embedder is None and memory_type != "core":
        raise MemalphaCliError(
            f"--mode {mode} needs embeddings: add --embedder hashing (no model) or --embedder minilm"
        )
    store = open_store(store_root, tenant, create=False, embedder=_embedder(embedder))
    memory = require_namespace(store, namespace, tenant_uri(store_root, tenant))
    if memory_type == "core":
        hits = _core_hit(memory.core, query)
    else:
        hits = [_hit_json(h) for h in memory.search(query, memory_type=memory_type, k=k, mode=cast("SearchMode", mode))]
    if as_json:
        echo_json({"namespace": namespace, "query": query, "mode": mode, "memory_type": memory_type, "hits": hits})
        return
    if not hits:
        stderr_console().print(Text(f"no hits for {query!r} in {namespace}"))
        return
    console = stdout_console()
    console.print(Text(f"{namespace}: {len(hits)} hit(s) for {query!r} ({mode})", style="bold"))
    table = Table(expand=True)
    table.add_column("#", justify="right")
    table.add_column("type")
    table.add_column("id", no_wrap=True)
    table.add_column("score", justify="right")
    table.add_column("content", ratio=1)
    for rank, hit in enumerate(hits, 1):
        table.add_row(str(rank), hit["memory_type"], hit["id"] or "-", f"{hit['score']:.3f}", Text(hit["content"]))
    console.print(table)


@memory_group.command("export")
@click.argument("namespace")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the JSON here (default: stdout).",
)
@store_option
@tenant_option
def export_command(namespace: str, output: Path | None, store_root: str, tenant: str) -> None:
    """Export a namespace as JSON (format memalpha.memory/v1), to stdout or a file."""
    memory = existing_namespace(store_root, tenant, namespace)
    text = memory.export_json()
    if output is None or str(output) == "-":
        click.echo(text)
        return
    output.write_text(text + "\n", encoding="utf-8")
    stderr_console().print(Text(f"exported {namespace} to {output}"))


@memory_group.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--namespace", default=None, help="Import under this name (default: the exported namespace's).")
@click.option("--replace", is_flag=True, help="Replace the namespace's contents if it already holds data.")
@store_option
@tenant_option
def import_command(file: Any, namespace: str | None, replace: bool, store_root: str, tenant: str) -> None:
    """Import a namespace from an export FILE ('-' reads stdin). Nothing changes if the file is not valid."""
    from memalpha_memory import NamespaceExistsError, NamespaceExport
    from memalpha_memory.types import validate_namespace

    try:
        text = file.read()
    except UnicodeDecodeError as exc:
        raise MemalphaCliError(f"{file.name}: not UTF-8 text ({exc.reason})") from exc
    try:
        document = NamespaceExport.model_validate_json(text)
    except ValidationError as exc:
        raise MemalphaCliError(f"{file.name}: not a memalpha memory export: {summarize_validation(exc)}") from exc
    target = validate_namespace(namespace or document.namespace)
    store = open_store(store_root, tenant, create=True)
    assert store is not None
    try:
        memory = store.import_namespace(document, namespace=target, replace=replace)
    except NamespaceExistsError as exc:
        raise MemalphaCliError(
            f"namespace {target!r} already holds data in {store.uri!r}; add --replace to overwrite it"
        ) from exc
    semantic, episodic = len(memory.entries("semantic")), len(memory.entries("episodic"))
    stderr_console().print(Text(f"imported {target}: {semantic} semantic, {episodic} episodic entries"))


def _confirm(question: str) -> bool:
    """Ask on stderr; no answer (end of input) is a no."""
    try:
        return click.confirm(question, err=True)
    except click.Abort:
        click.echo(err=True)
        return False


@memory_group.command("drop")
@click.argument("namespace")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@store_option
@tenant_option
def drop_command(namespace: str, yes: bool, store_root: str, tenant: str) -> None:
    """Delete a namespace: its memory and its operation log."""
    memory = existing_namespace(store_root, tenant, namespace)
    size = len(memory.entries("semantic")) + len(memory.entries("episodic"))
    question = f"Drop namespace {namespace!r} ({size} entries) from {memory.store.uri}?"
    if not yes and not _confirm(question):
        raise MemalphaCliError(f"namespace {namespace!r} was not dropped")
    memory.store.drop(namespace)
    stderr_console().print(Text(f"dropped {namespace}"))


@memory_group.command("serve")
@store_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="TCP port (0: any free port)."
)
@click.option(
    "--tokens",
    "tokens_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YAML or JSON mapping {token: tenant} (default: env MEMALPHA_SERVER_TOKENS='tok1=tenantA,...').",
)
@click.option("--no-auth", is_flag=True, help="No tokens: every request is tenant 'local' (loopback hosts only).")
@click.option("--no-mcp", is_flag=True, help="Do not mount the MCP streamable-HTTP endpoint at /mcp.")
def serve_command(
    *, store_root: str, host: str, port: int, tokens_file: Path | None, no_auth: bool, no_mcp: bool
) -> None:
    """Serve the store over REST (FastAPI) and MCP until stopped (Ctrl-C).

    \b
    Examples:
      memalpha memory serve --tokens tokens.yaml      (tokens.yaml: "s3cret-token: alice")
      curl -H "Authorization: Bearer s3cret-token" http://127.0.0.1:8765/v1/namespaces
      memalpha memory serve --no-auth                 (this machine only; tenant 'local')
    """
    with server_errors() as server:
        settings = server.ServerSettings(
            store=store_root, tokens_file=tokens_file, no_auth=no_auth, host=host, port=port, mcp=not no_mcp
        )
        server.serve(settings)


@memory_group.command("mcp")
@store_option
@tenant_option
def mcp_command(store_root: str, tenant: str) -> None:
    """Serve one tenant's memories to an MCP client over stdio (for an MCP client's configuration).

    \b
    Example client configuration:
      {"mcpServers": {"memalpha": {"command": "memalpha",
        "args": ["memory", "mcp", "--store", "/home/me/memalpha-store"]}}}
    """
    with server_errors() as server:
        server.run_mcp_stdio(store_root, tenant=tenant)
