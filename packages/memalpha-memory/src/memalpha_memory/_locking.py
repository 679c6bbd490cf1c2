"""The store's write lock: one writer at a time per store, across threads and processes.

Writers take it around load → apply → commit, so two writers of one namespace never lose an update.
On a local store it is an ``flock`` on a file inside the store folder; for ``memory://`` and object
storage it covers the threads of this process only (serialise writers across machines yourself, e.g.
by sending them through one memory server).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class WriteLock:
    """A re-entrant lock; the outermost holder also holds the file lock, if there is one."""

    def __init__(self, path: Path | None) -> None:
        self._path = path if fcntl is not None else None
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread_lock:
            if self._depth == 0 and self._path is not None:
                fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
                self._fd = fd
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                    os.close(self._fd)
                    self._fd = None
