"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for testing HTTP policies offline.

Standard library only. ``POST /v1/chat/completions`` answers with a `Reply`: first the replies queued with
`FakeOpenAIServer.script` (in arrival order), then whatever the handler returns for the request (by default
`echo`). ``GET /v1/models`` lists the one model. Every chat request body and ``Authorization`` header is recorded,
and the highest number of requests in flight at once is tracked, so tests can check what a client sent and how
many requests it sent at a time.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["FakeOpenAIServer", "Handler", "Reply", "echo", "last_user_text"]


@dataclass(frozen=True)
class Reply:
    """What the server answers to one request.

    A ``status`` other than 200 sends an OpenAI-style error body carrying ``error``. ``usage=None`` counts words:
    prompt tokens are the words of every message, completion tokens the words of ``content``.
    """

    content: str | None = ""
    tool_calls: Sequence[tuple[str, str]] = ()
    finish_reason: str = "stop"
    status: int = 200
    error: str = "scripted failure"
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    usage: dict[str, int] | None = None


Handler = Callable[[dict[str, Any]], Reply]


def last_user_text(request: dict[str, Any]) -> str:
    """The content of the last user message of a chat request ("" when there is none)."""
    for message in reversed(request.get("messages", [])):
        if message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


def echo(request: dict[str, Any]) -> Reply:
    """Answer with the last user message's text."""
    return Reply(content=last_user_text(request))


class FakeOpenAIServer:
    """The server: start it with ``with FakeOpenAIServer() as server:`` and point a client at ``server.url``."""

    def __init__(self, handler: Handler = echo, *, model: str = "fake-model") -> None:
        self.handler = handler
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _RequestHandler)
        self._httpd.fake = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-openai-server", daemon=True
        )

    @property
    def url(self) -> str:
        """The API root to give a client as ``base_url`` (``http://127.0.0.1:<port>/v1``)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next requests; the handler answers once they are used up."""
        with self._lock:
            self._script.extend(replies)

    def start(self) -> FakeOpenAIServer:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests still sleeping in a delay wake up and answer at once."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _answer(self, request: dict[str, Any], authorization: str) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self._lock:
            self.requests.append(request)
            self.authorizations.append(authorization)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            scripted = self._script.popleft() if self._script else None
        try:
            reply = scripted if scripted is not None else self.handler(request)
            if reply.delay_s:
                self._stopping.wait(reply.delay_s)
            if reply.status != 200:
                error = {"message": reply.error, "type": "fake_error", "param": None, "code": reply.status}
                return reply.status, reply.headers, {"error": error}
            return 200, reply.headers, self._completion(request, reply, len(self.requests))
        finally:
            with self._lock:
                self._in_flight -= 1

    def _completion(self, request: dict[str, Any], reply: Reply, number: int) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": arguments}}
                for i, (name, arguments) in enumerate(reply.tool_calls)
            ]
        usage = reply.usage
        if usage is None:
            prompt = sum(len(str(m.get("content") or "").split()) for m in request.get("messages", []))
            completion = len((reply.content or "").split())
            usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        return {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", self.model),
            "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason, "logprobs": None}],
            "usage": usage,
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: a client that timed out and hung up is part of the tests."""


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""

    def do_GET(self) -> None:
        if self.path.rstrip("/") != "/v1/models":
            self._send(404, {}, {"error": {"message": f"no route {self.path!r}", "type": "not_found"}})
            return
        model = {"id": self.server.fake.model, "object": "model", "created": 0, "owned_by": "fake"}
        self._send(200, {}, {"object": "list", "data": [model]})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, {}, {"error": {"message": f"no route {self.path!r}", "type": "not_found"}})
            return
        try:
            request = json.loads(body)
        except json.JSONDecodeError as error:
            self._send(400, {}, {"error": {"message": f"invalid JSON: {error}", "type": "invalid_request_error"}})
            return
        self._send(*self.server.fake._answer(request, self.headers.get("Authorization", "")))

    def _send(self, status: int, headers: dict[str, str], payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            pass
