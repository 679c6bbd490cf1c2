"""Run a real server on 127.0.0.1 for tests and benchmarks: in a thread, or in a subprocess you can kill.

    with serve_in_thread(create_app(settings)) as url: ...        # fast; shares this process
    with serve_in_subprocess(settings) as server: ...              # server.url, server.kill() (SIGKILL)

Both bind port 0 (a free port chosen by the OS) and stop the server when the block ends.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from .settings import ServerSettings

__all__ = ["ServerProcess", "serve_in_subprocess", "serve_in_thread"]

_STARTED = re.compile(r"Uvicorn running on (http://\S+:\d+)")


@contextmanager
def serve_in_thread(app: ASGIApp, *, host: str = "127.0.0.1", timeout: float = 30.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a background thread; yields its base URL (``http://127.0.0.1:PORT``)."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=0, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="memalpha-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(timeout)
            raise RuntimeError("the server thread did not start; see the log above")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)


@dataclass
class ServerProcess:
    """A server running in a child process."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish anything."""
        self.process.kill()
        self.process.wait()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (graceful shutdown), then SIGKILL if it does not exit within ``timeout`` seconds."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def serve_in_subprocess(
    settings: ServerSettings, *, env: Mapping[str, str] | None = None, timeout: float = 60.0, access_log: bool = False
) -> Iterator[ServerProcess]:
    """Start ``python -m memalpha_server`` with these settings on a free port of 127.0.0.1; stop it afterwards.

    ``settings.port`` is ignored (the OS picks the port); ``env`` is merged over this process's environment.
    """
    args = [sys.executable, "-m", "memalpha_server", "--store", settings.store, "--host", settings.host, "--port", "0"]
    if settings.tokens_file is not None:
        args += ["--tokens", str(settings.tokens_file)]
    if settings.no_auth:
        args.append("--no-auth")
    if not settings.mcp:
        args.append("--no-mcp")
    if not access_log:
        args.append("--no-access-log")
    with tempfile.TemporaryDirectory(prefix="memalpha-server-") as folder:
        log_path = Path(folder) / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})}
            )
        server = ServerProcess(url="", process=process, log_path=log_path)
        try:
            server.url = _wait_for_url(server, timeout)
            yield server
        finally:
            server.stop()


def _wait_for_url(server: ServerProcess, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = _STARTED.search(server.log())
        if match:
            return match.group(1)
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.process.returncode}:\n{server.log()[-4000:]}")
        time.sleep(0.05)
    raise RuntimeError(f"the server did not start within {timeout:.0f} s:\n{server.log()[-4000:]}")
