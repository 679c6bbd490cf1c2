"""`GroupCommitter`: concurrent write requests to one store share LanceDB commits (group commit).

A LanceDB commit costs milliseconds and the store lets one writer commit at a time, so with one commit per
request, writers queue behind each other. Here the first writer to arrive becomes the *leader*: it takes
every request queued so far and applies them, in arrival order, with one `MemoryStore.apply_batch` (one
commit); writers that arrive meanwhile queue up, and one of them leads the next commit. Every request
gets its own results, and only after the commit that holds its calls has finished: an answer is still an
acknowledgement of a durable write. If a commit fails, every request in it gets the error and none of its
calls is stored.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from memalpha_memory import MemoryStore, ToolResult

__all__ = ["GroupCommitter"]


@dataclass
class _Request:
    namespace: str
    calls: Sequence[tuple[str, object]]
    results: list[ToolResult] | None = None
    error: BaseException | None = None
    done: bool = False


class GroupCommitter:
    """Applies write calls to ``store``, committing the calls of concurrent requests together.

    ``max_calls`` bounds one commit (a request is never split, so one large request may exceed it).
    """

    def __init__(self, store: MemoryStore, *, max_calls: int = 1024) -> None:
        self.store = store
        self.max_calls = max_calls
        self._queue: list[_Request] = []
        self._busy = False
        self._cond = threading.Condition()

    def apply(self, namespace: str, calls: Sequence[tuple[str, object]]) -> list[ToolResult]:
        """Apply ``calls`` to ``namespace`` in order; return their results once they are committed.

        Raises `memalpha_memory.InvalidNamespaceError` for an invalid namespace, and what the commit raised
        (e.g. `memalpha_memory.StorageError`); then none of these calls was stored.
        """
        self.store.namespace(namespace)  # an invalid name raises here, not inside (and for) a whole group
        request = _Request(namespace, calls)
        with self._cond:
            self._queue.append(request)
            while self._busy and not request.done:
                self._cond.wait()
            if not request.done:  # lead the next commit: take what is queued (this request included)
                self._busy = True
                group = self._take()
        if not request.done:
            self._commit(group)
        if request.error is not None:
            raise request.error
        assert request.results is not None
        return request.results

    def _take(self) -> list[_Request]:
        group: list[_Request] = []
        count = 0
        while self._queue and (not group or count + len(self._queue[0].calls) <= self.max_calls):
            count += len(self._queue[0].calls)
            group.append(self._queue.pop(0))
        return group

    def _commit(self, group: list[_Request]) -> None:
        try:
            results = self.store.apply_batch([(r.namespace, name, args) for r in group for name, args in r.calls])
            start = 0
            for request in group:
                request.results = results[start : start + len(request.calls)]
                start += len(request.calls)
        except BaseException as exc:
            for request in group:
                request.error = exc
        finally:
            with self._cond:
                for request in group:
                    request.done = True
                self._busy = False
                self._cond.notify_all()
