"""The ``openai`` policy backend: a `ChatPolicy` over any OpenAI-compatible chat-completions server.

Works with vLLM's OpenAI server, llama.cpp's server, hosted APIs and anything else that speaks
``POST /v1/chat/completions``. It needs the official SDK (``pip install "memalpha-rollout[openai]"``), imported only
when an `OpenAIPolicy` is built.

How a `chat` call runs: every conversation becomes one request, sent concurrently (at most ``max_concurrency`` in
flight per policy) by an ``AsyncOpenAI`` client. The client lives on a **private event loop in a background thread**
that the policy starts on its first call and stops in `OpenAIPolicy.close`; `chat` itself is synchronous and
blocks until every reply is in. The same path serves every caller, so `chat` also works when called from code that
is already running an event loop (that loop is blocked for the duration of the call, as with any blocking call).

Failures: connection errors, timeouts, HTTP 408, 409, 429 and 5xx are retried with exponential backoff and jitter
(honouring a numeric ``Retry-After`` header); other 4xx replies (bad request, authentication, unknown model) raise
`PolicyError` at once with the server's message and what to check. The SDK's own retries are switched off so that
this policy's ``max_retries`` is the only retry budget.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ..exceptions import BackendUnavailableError, PolicyError
from ..formats import tool_calls_from_openai
from ..types import Completion, Message, SamplingParams

if TYPE_CHECKING:
    import openai

__all__ = ["OpenAIPolicy", "PolicyUsage"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_RETRYABLE_STATUS = frozenset({408, 409, 429})
_DEFAULT_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True, slots=True)
class PolicyUsage:
    """Tokens counted by the server over a policy's successful requests (servers that omit usage count as 0)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0

    def __add__(self, other: PolicyUsage) -> PolicyUsage:
        return PolicyUsage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.requests + other.requests,
        )


def _import_openai() -> Any:
    try:
        import openai
    except ImportError as error:
        raise BackendUnavailableError(
            'the "openai" policy backend needs the openai SDK: pip install "memalpha-rollout[openai]"'
        ) from error
    return openai


class _LoopThread:
    """An event loop running forever in a daemon thread; coroutines are submitted to it from other threads."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_forever, name="memalpha-openai-loop", daemon=True)
        self._thread.start()

    def _run_forever(self) -> None:
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coroutine`` on the loop and wait for its result; cancels it if the waiting thread is interrupted."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def shutdown(self, cleanup: Callable[[], Awaitable[object]]) -> None:
        """Await ``cleanup()`` on the loop, then stop the loop (the thread closes it); waits unless run on the loop."""
        if self.loop.is_closed():
            return

        async def cleanup_then_stop() -> None:
            try:
                await cleanup()
            except Exception:  # closing is best effort: the loop must stop regardless
                logger.debug("closing the OpenAI client failed", exc_info=True)
            finally:
                asyncio.get_running_loop().stop()

        asyncio.run_coroutine_threadsafe(cleanup_then_stop(), self.loop)
        if threading.current_thread() is not self._thread:
            self._thread.join()


class OpenAIPolicy:
    """A `ChatPolicy` that asks an OpenAI-compatible server for one completion per conversation.

    Args:
        model: The model name the server knows (``served-model-name`` for vLLM, e.g. ``"Qwen/Qwen3-4B"``).
        base_url: The server's API root, e.g. ``"http://127.0.0.1:8000/v1"``. Defaults to ``$OPENAI_BASE_URL``,
            else the SDK's default (the OpenAI API).
        api_key: Defaults to ``$OPENAI_API_KEY``, else ``"EMPTY"`` (local servers do not check it).
        max_concurrency: Most requests in flight at once, over all `chat` calls of this policy.
        timeout_s: Per-request timeout in seconds; a timed-out request is retried.
        max_retries: Retries after the first attempt of a request (so ``max_retries + 1`` attempts in all).
        native_tools: Send the tool schemas (``tools=``, ``tool_choice="auto"``) and return the server's
            structured tool calls. Switch off for servers started without tool-call parsing (vLLM without
            ``--enable-auto-tool-choice``): the engine then parses the calls out of the text.
        extra_body: Extra JSON fields for every request, e.g.
            ``{"chat_template_kwargs": {"enable_thinking": False}}`` for Qwen3 on vLLM.
        backoff_s: First retry delay in seconds; it doubles with every retry (with random jitter).
        max_backoff_s: Cap on one retry delay, including a server's ``Retry-After``.

    Raises:
        BackendUnavailableError: The ``openai`` package is not installed.
        ValueError: A numeric argument is out of range.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        max_concurrency: int = 8,
        timeout_s: float = 120.0,
        max_retries: int = 3,
        native_tools: bool = True,
        extra_body: Mapping[str, Any] | None = None,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
    ) -> None:
        if not model:
            raise ValueError(f"model must name the model the server serves, got {model!r}")
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency!r}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0 (0 disables retries), got {max_retries!r}")
        if backoff_s < 0 or max_backoff_s < 0:
            raise ValueError(f"backoff_s and max_backoff_s must be >= 0, got {backoff_s!r} and {max_backoff_s!r}")
        self._openai = _import_openai()
        self.model = model
        self.max_concurrency = max_concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.native_tools = native_tools
        self.extra_body: dict[str, Any] = dict(extra_body or {})
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._client: openai.AsyncOpenAI = self._openai.AsyncOpenAI(
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY",
            base_url=base_url or os.environ.get("OPENAI_BASE_URL") or None,
            timeout=timeout_s,
            max_retries=0,
        )
        self.base_url = str(self._client.base_url)
        self._usage = PolicyUsage()
        self._usage_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._loop_thread: _LoopThread | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"OpenAIPolicy(model={self.model!r}, base_url={self.base_url!r})"

    @property
    def usage(self) -> PolicyUsage:
        """Prompt and completion tokens and successful requests, summed over every `chat` call so far."""
        return self._usage

    def reset_usage(self) -> PolicyUsage:
        """Set the usage counters back to zero and return what they held."""
        with self._usage_lock:
            usage, self._usage = self._usage, PolicyUsage()
        return usage

    def chat(
        self,
        conversations: Sequence[Sequence[Message]],
        sampling: SamplingParams,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[Completion]:
        """One completion per conversation, in the order of ``conversations``.

        Blocks until every reply is in. The requests run on the policy's private event-loop thread, so this may
        also be called from inside a running event loop.

        With a ``sampling.seed``, conversation ``i`` is sent with seed ``seed + i``, so a batch of identical
        conversations (a GRPO group) still gets different, reproducible samples.

        Args:
            conversations: Chat messages per request.
            sampling: ``max_tokens``, ``temperature``, ``top_p``, ``seed`` and ``stop`` go to the API; ``top_k``
                goes in the request body only when it is above 0 (vLLM accepts it). Logprobs are never asked for.
            tools: OpenAI function-tool schemas, sent when ``native_tools`` is on.

        Returns:
            Completions whose ``tool_calls`` hold the server's structured calls, or ``None`` when there were none.

        Raises:
            PolicyError: The server rejected a request, kept failing past ``max_retries``, or the policy is closed.
        """
        if not conversations:
            return []
        runner = self._runner()
        send_tools = [dict(tool) for tool in tools] if tools and self.native_tools else None
        return runner.run(self._chat_all(conversations, sampling, send_tools))

    def close(self) -> None:
        """Close the HTTP client and stop the background event loop. Safe to call more than once."""
        with self._start_lock:
            if self._closed:
                return
            self._closed = True
            self._loop_thread = None
            finalizer = self._finalizer
        if finalizer is not None:
            finalizer()  # closes the client on the loop and stops the loop thread

    def __enter__(self) -> OpenAIPolicy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _runner(self) -> _LoopThread:
        with self._start_lock:
            if self._closed:
                raise PolicyError(f"{self!r} is closed; create a new OpenAIPolicy to send more requests")
            if self._loop_thread is None:
                self._loop_thread = _LoopThread()
                # an unclosed policy still closes its client and stops its thread when it is collected
                self._finalizer = weakref.finalize(self, self._loop_thread.shutdown, self._client.close)
            return self._loop_thread

    async def _chat_all(
        self,
        conversations: Sequence[Sequence[Message]],
        sampling: SamplingParams,
        tools: list[dict[str, Any]] | None,
    ) -> list[Completion]:
        if self._semaphore is None:  # created on the loop thread, shared by every call
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
        semaphore = self._semaphore
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(self._chat_one(semaphore, messages, self._request_body(sampling, index, tools)))
                    for index, messages in enumerate(conversations)
                ]
        except BaseExceptionGroup as errors:  # one request failed for good: the others were cancelled
            raise errors.exceptions[0] from None
        return [task.result() for task in tasks]

    def _request_body(self, sampling: SamplingParams, index: int, tools: list[dict[str, Any]] | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "n": 1,
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed + index
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if tools:
            body["tools"] = tools
            body["tool_choice"] = "auto"
        extra = dict(self.extra_body)
        if sampling.top_k > 0:
            extra["top_k"] = sampling.top_k
        if extra:
            body["extra_body"] = extra
        return body

    async def _chat_one(
        self, semaphore: asyncio.Semaphore, messages: Sequence[Message], body: dict[str, Any]
    ) -> Completion:
        async with semaphore:
            response = await self._create_with_retries([dict(message) for message in messages], body)
        return self._completion(response)

    async def _create_with_retries(self, messages: list[dict[str, Any]], body: dict[str, Any]) -> Any:
        errors = self._openai
        for attempt in range(self.max_retries + 1):
            try:
                return await self._client.chat.completions.create(
                    model=self.model, messages=cast(Any, messages), **body
                )
            except errors.APIStatusError as error:
                if error.status_code not in _RETRYABLE_STATUS and error.status_code < 500:
                    raise PolicyError(self._rejected_message(error)) from error
                last_error: Exception = error
                retry_after = _retry_after_s(error)
            except errors.APIConnectionError as error:  # includes APITimeoutError
                last_error, retry_after = error, None
            if attempt == self.max_retries:
                break
            delay = self._backoff_delay(attempt, retry_after)
            logger.warning(
                "request to %s (model %r) failed (%s); retry %d of %d in %.2f s",
                self.base_url, self.model, _describe(last_error), attempt + 1, self.max_retries, delay,
            )  # fmt: skip
            await asyncio.sleep(delay)
        raise PolicyError(
            f"the chat-completions server at {self.base_url!r} (model {self.model!r}) failed "
            f"{self.max_retries + 1} attempt(s); last error: {_describe(last_error)}. "
            "Check that the server is running and reachable at that base_url, or raise timeout_s / max_retries."
        ) from last_error

    def _backoff_delay(self, attempt: int, retry_after: float | None) -> float:
        delay = self.backoff_s * 2.0**attempt * random.uniform(1.0, 1.5)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, self.max_backoff_s)

    def _rejected_message(self, error: Any) -> str:
        status = error.status_code
        if status in (401, 403):
            hint = "check the API key (api_key=... or $OPENAI_API_KEY)"
        elif status == 404:
            hint = (
                f"check the model name {self.model!r} (GET {self.base_url}models lists what the server serves) "
                "and that base_url ends with the API root, usually /v1"
            )
        else:
            hint = (
                "check the model name, the request's size against the model's context, and, when tools are sent, "
                "that the server parses tool calls (vLLM: --enable-auto-tool-choice --tool-call-parser ...) "
                "or build the policy with native_tools=False"
            )
        return (
            f"the chat-completions server at {self.base_url!r} rejected the request for model {self.model!r} "
            f"with HTTP {status}: {_server_message(error)}; {hint}"
        )

    def _completion(self, response: Any) -> Completion:
        if not response.choices:
            raise PolicyError(
                f"the chat-completions server at {self.base_url!r} (model {self.model!r}) returned no choices"
            )
        choice = response.choices[0]
        message = choice.message
        usage = response.usage
        with self._usage_lock:
            self._usage = self._usage + PolicyUsage(
                prompt_tokens=(usage.prompt_tokens or 0) if usage else 0,
                completion_tokens=(usage.completion_tokens or 0) if usage else 0,
                requests=1,
            )
        tool_calls = tool_calls_from_openai(message.tool_calls) if message.tool_calls else None
        return Completion(
            text=message.content or "",
            tool_calls=tool_calls or None,
            finish_reason=choice.finish_reason,
        )


def _server_message(error: Any) -> str:
    body = error.body
    if isinstance(body, Mapping) and isinstance(body.get("message"), str) and body["message"]:
        return str(body["message"])
    if isinstance(body, str) and body:
        return body
    return str(error.message)


def _retry_after_s(error: Any) -> float | None:
    value = error.response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: fall back to the backoff schedule
        return None


def _describe(error: BaseException) -> str:
    status = getattr(error, "status_code", None)
    kind = type(error).__name__
    if status is not None:
        return f"{kind} (HTTP {status}): {_server_message(error)}"
    return f"{kind}: {error}"
