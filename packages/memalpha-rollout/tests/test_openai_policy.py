"""The ``openai`` policy backend against a scripted OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from memalpha_rollout.exceptions import BackendUnavailableError, PolicyError
from memalpha_rollout.policies.openai import OpenAIPolicy, PolicyUsage
from memalpha_rollout.types import ChatPolicy, Completion, SamplingParams, ToolCall

_TESTS = os.path.dirname(os.path.abspath(__file__))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from fake_openai_server import FakeOpenAIServer, Reply, last_user_text  # noqa: E402

MakePolicy = Callable[..., OpenAIPolicy]
GREEDY = SamplingParams(max_tokens=32, temperature=0.0)
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "memory_insert",
            "description": "Insert a memory.",
            "parameters": {"type": "object", "properties": {"content": {"type": "string"}}, "required": ["content"]},
        },
    }
]


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": "You write memories."}, {"role": "user", "content": text}]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def make_policy(server: FakeOpenAIServer) -> Iterator[MakePolicy]:
    """Build policies on the fake server with test-sized timeouts and backoff; all are closed afterwards."""
    policies: list[OpenAIPolicy] = []

    def make(**kwargs: Any) -> OpenAIPolicy:
        options: dict[str, Any] = {"base_url": server.url, "api_key": "sk-test", "timeout_s": 5.0, "backoff_s": 0.01}
        options.update(kwargs)
        policy = OpenAIPolicy(options.pop("model", "fake-model"), **options)
        policies.append(policy)
        return policy

    yield make
    for policy in policies:
        policy.close()


def test_is_a_chat_policy_and_repr_shows_model_and_url_but_not_key(
    make_policy: MakePolicy, server: FakeOpenAIServer
) -> None:
    policy = make_policy(api_key="sk-very-secret")
    assert isinstance(policy, ChatPolicy)
    assert repr(policy) == f"OpenAIPolicy(model='fake-model', base_url={server.url + '/'!r})"
    assert "sk-very-secret" not in repr(policy)
    assert "sk-very-secret" not in str(policy)


def test_echo_round_trip_copies_text_and_finish_reason(make_policy: MakePolicy, server: FakeOpenAIServer) -> None:
    completions = make_policy().chat([user("the capital is Paris")], GREEDY)
    assert completions == [Completion(text="the capital is Paris", tool_calls=None, finish_reason="stop")]
    assert server.requests[0]["model"] == "fake-model"
    assert server.requests[0]["messages"] == user("the capital is Paris")


def test_messages_are_sent_as_given_including_tool_turns(make_policy: MakePolicy, server: FakeOpenAIServer) -> None:
    conversation = [
        *user("remember this"),
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function",
                                                              "function": {"name": "memory_insert",
                                                                           "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "inserted"},
    ]  # fmt: skip
    make_policy().chat([conversation], GREEDY)
    assert server.requests[0]["messages"] == conversation


def test_empty_batch_sends_nothing(make_policy: MakePolicy, server: FakeOpenAIServer) -> None:
    assert make_policy().chat([], GREEDY) == []
    assert server.requests == []


def test_order_is_preserved_when_later_requests_finish_first(make_policy: MakePolicy, server: FakeOpenAIServer) -> None:
    count = 8
    server.handler = lambda request: Reply(
        content=f"answer {last_user_text(request)}", delay_s=0.03 * (count - int(last_user_text(request)))
    )
    completions = make_policy(max_concurrency=count).chat([user(str(i)) for i in range(count)], GREEDY)
    assert [c.text for c in completions] == [f"answer {i}" for i in range(count)]


def test_concurrency_never_exceeds_max_concurrency(make_policy: MakePolicy, server: FakeOpenAIServer) -> None:
    server.handler = lambda request: Reply(content=last_user_text(request), delay_s=0.1)
    completions = make_policy(max_concurrency=3).chat([user(str(i)) for i in range(10)], GREEDY)
    assert len(completions) == 10
    assert len(server.requests) == 10
    assert 2 <= server.max_in_flight <= 3


def test_sampling_fields_tools_and_extra_body_reach_the_server(
    make_policy: MakePolicy, server: FakeOpenAIServer
) -> None:
    sampling = SamplingParams(max_tokens=17, temperature=0.6, top_p=0.9, top_k=20, seed=7, stop=("</s>", "\n\n"))
    extra = {"chat_template_kwargs": {"enable_thinking": False}}
    make_policy(extra_body=extra).chat([user("a"), user("b")], sampling, tools=TOOLS)
    by_text = {last_user_text(request): request for request in server.requests}
    for text, seed in (("a", 7), ("b", 8)):  # seed + index: identical prompts still get different samples
        request = by_text[text]
        assert {key: request[key] for key in ("max_tokens", "temperature", "top_p", "n", "seed", "stop", "top_k")} == {
            "max_tokens": 17, "temperature": 0.6, "top_p": 0.9, "n": 1, "seed": seed, "stop": ["</s>", "\n\n"],
            "top_k": 20,
        }  # fmt: skip
        assert request["tools"] == TOOLS
        assert request["tool_choice"] == "auto"
        assert request["chat_template_kwargs"] == {"enable_thinking": False}
        assert "logprobs" not in request


def test_default_sampling_sends_no_optional_fields(make_policy: MakePolicy, server: FakeOpenAIServer) -> None:
    completions = make_policy().chat([user("x")], SamplingParams(), tools=None)
    assert completions[0].logprobs is None
    assert set(server.requests[0]) == {"model", "messages", "max_tokens", "temperature", "top_p", "n"}


def test_native_tools_off_does_not_send_tools(make_policy: MakePolicy, server: FakeOpenAIServer) -> None:
    make_policy(native_tools=False).chat([user("x")], GREEDY, tools=TOOLS)
    assert "tools" not in server.requests[0]
    assert "tool_choice" not in server.requests[0]


def test_structured_tool_calls_become_tool_calls(make_policy: MakePolicy, server: FakeOpenAIServer) -> None:
    calls = [("memory_insert", '{"content": "Paris is the capital"}'), ("memory_delete", '{"id": "3"')]
    server.script(Reply(content=None, tool_calls=calls, finish_reason="tool_calls"))
    [completion] = make_policy().chat([user("x")], GREEDY, tools=TOOLS)
    assert completion == Completion(
        text="",
        tool_calls=(
            ToolCall("memory_insert", '{"content": "Paris is the capital"}'),
            ToolCall("memory_delete", '{"id": "3"'),  # kept as emitted, broken JSON included
        ),
        finish_reason="tool_calls",
    )


def test_text_only_reply_leaves_tool_calls_to_the_engine(make_policy: MakePolicy, server: FakeOpenAIServer) -> None:
    server.script(Reply(content='<tool_call>{"name": "memory_insert"}</tool_call>', finish_reason="length"))
    [completion] = make_policy().chat([user("x")], GREEDY, tools=TOOLS)
    assert completion.tool_calls is None
    assert completion.text == '<tool_call>{"name": "memory_insert"}</tool_call>'
    assert completion.finish_reason == "length"


@pytest.mark.parametrize("failures", [[500, 500], [429], [503, 429, 502]])
def test_server_errors_and_rate_limits_are_retried(
    make_policy: MakePolicy, server: FakeOpenAIServer, failures: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    server.script(*(Reply(status=status) for status in failures))
    with caplog.at_level(logging.WARNING, logger="memalpha_rollout.policies.openai"):
        [completion] = make_policy(max_retries=3).chat([user("finally")], GREEDY)
    assert completion.text == "finally"
    assert len(server.requests) == len(failures) + 1
    assert [record.levelno for record in caplog.records] == [logging.WARNING] * len(failures)
    assert f"HTTP {failures[0]}" in caplog.records[0].getMessage()


def test_retry_after_header_is_honoured(make_policy: MakePolicy, server: FakeOpenAIServer) -> None:
    server.script(Reply(status=429, headers={"Retry-After": "0.3"}))
    start = time.perf_counter()
    make_policy(backoff_s=0.0).chat([user("x")], GREEDY)
    assert time.perf_counter() - start >= 0.3
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("status", "message", "hint"),
    [
        (400, "This model's maximum context length is 4096 tokens", "native_tools=False"),
        (401, "Incorrect API key provided", "API key"),
        (404, "The model `fake-modle` does not exist.", "check the model name 'fake-model'"),
        (422, "top_k must be positive", "model name"),
    ],
)
def test_client_errors_raise_at_once_with_the_server_message(
    make_policy: MakePolicy, server: FakeOpenAIServer, status: int, message: str, hint: str
) -> None:
    server.script(Reply(status=status, error=message))
    with pytest.raises(PolicyError) as caught:
        make_policy(max_retries=3).chat([user("x")], GREEDY)
    text = str(caught.value)
    assert f"HTTP {status}: {message}" in text
    assert hint in text
    assert server.url in text
    assert len(server.requests) == 1


def test_one_rejected_request_fails_the_whole_batch(make_policy: MakePolicy, server: FakeOpenAIServer) -> None:
    server.handler = lambda request: Reply(
        status=400 if last_user_text(request) == "bad" else 200, error="bad request", content="ok"
    )
    with pytest.raises(PolicyError, match="HTTP 400: bad request"):
        make_policy().chat([user("good"), user("bad"), user("good")], GREEDY)


def test_exhausted_retries_name_url_model_attempts_and_last_error(
    make_policy: MakePolicy, server: FakeOpenAIServer
) -> None:
    server.script(*(Reply(status=500, error=f"engine crashed #{i}") for i in range(3)))
    with pytest.raises(PolicyError) as caught:
        make_policy(max_retries=2).chat([user("x")], GREEDY)
    text = str(caught.value)
    assert f"server at {server.url + '/'!r} (model 'fake-model') failed 3 attempt(s)" in text
    assert "InternalServerError (HTTP 500): engine crashed #2" in text
    assert len(server.requests) == 3


def test_a_request_past_the_timeout_fails_after_its_retries(make_policy: MakePolicy, server: FakeOpenAIServer) -> None:
    server.script(Reply(delay_s=3.0), Reply(delay_s=3.0))
    start = time.perf_counter()
    with pytest.raises(PolicyError, match=r"failed 2 attempt\(s\); last error: APITimeoutError"):
        make_policy(timeout_s=0.2, max_retries=1).chat([user("x")], GREEDY)
    assert time.perf_counter() - start < 2.0
    assert len(server.requests) == 2


def test_a_timed_out_request_is_retried(make_policy: MakePolicy, server: FakeOpenAIServer) -> None:
    server.script(Reply(delay_s=3.0))
    [completion] = make_policy(timeout_s=0.2, max_retries=1).chat([user("second try")], GREEDY)
    assert completion.text == "second try"


def test_unreachable_server_raises_policy_error_naming_the_url() -> None:
    with FakeOpenAIServer() as gone:
        url = gone.url
    with (
        OpenAIPolicy("m", base_url=url, max_retries=1, backoff_s=0.01, timeout_s=2.0) as policy,
        pytest.raises(PolicyError, match=r"APIConnectionError") as caught,
    ):
        policy.chat([user("x")], GREEDY)
    assert url in str(caught.value)


def test_usage_is_accumulated_over_calls_and_can_be_reset(make_policy: MakePolicy, server: FakeOpenAIServer) -> None:
    server.handler = lambda request: Reply(
        content="ok", usage={"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}
    )
    policy = make_policy()
    assert policy.usage == PolicyUsage()
    policy.chat([user("a"), user("b")], GREEDY)
    policy.chat([user("c")], GREEDY)
    assert policy.usage == PolicyUsage(prompt_tokens=33, completion_tokens=12, requests=3)
    assert policy.reset_usage() == PolicyUsage(prompt_tokens=33, completion_tokens=12, requests=3)
    assert policy.usage == PolicyUsage()


def test_failed_requests_are_not_counted_in_usage(make_policy: MakePolicy, server: FakeOpenAIServer) -> None:
    server.script(Reply(status=500))
    policy = make_policy()
    policy.chat([user("one two three")], GREEDY)
    assert policy.usage == PolicyUsage(prompt_tokens=3 + 3, completion_tokens=3, requests=1)


def test_api_key_and_base_url_default_to_the_environment(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    with OpenAIPolicy("fake-model") as policy:
        policy.chat([user("x")], GREEDY)
    monkeypatch.delenv("OPENAI_API_KEY")
    with OpenAIPolicy("fake-model") as policy:
        policy.chat([user("x")], GREEDY)
    assert server.authorizations == ["Bearer sk-from-env", "Bearer EMPTY"]


def test_chat_works_from_inside_a_running_event_loop(make_policy: MakePolicy) -> None:
    policy = make_policy()

    async def caller() -> list[Completion]:
        return policy.chat([user("from a coroutine")], GREEDY)

    assert [c.text for c in asyncio.run(caller())] == ["from a coroutine"]


def test_closed_policy_refuses_to_chat_and_close_is_idempotent(server: FakeOpenAIServer) -> None:
    with OpenAIPolicy("fake-model", base_url=server.url) as policy:
        policy.chat([user("x")], GREEDY)
    policy.close()
    with pytest.raises(PolicyError, match="is closed; create a new OpenAIPolicy"):
        policy.chat([user("x")], GREEDY)


def test_missing_sdk_raises_backend_unavailable_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(BackendUnavailableError, match=r'pip install "memalpha-rollout\[openai\]"'):
        OpenAIPolicy("fake-model")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_concurrency": 0}, "max_concurrency must be at least 1, got 0"),
        ({"timeout_s": 0.0}, "timeout_s must be positive, got 0.0"),
        ({"max_retries": -1}, "max_retries must be >= 0"),
        ({"backoff_s": -0.1}, "backoff_s and max_backoff_s must be >= 0"),
        ({"model": ""}, "model must name the model the server serves, got ''"),
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    options: dict[str, Any] = {"model": "fake-model", **kwargs}
    with pytest.raises(ValueError, match=message):
        OpenAIPolicy(options.pop("model"), **options)


def _loop_threads() -> int:
    return sum(thread.name == "memalpha-openai-loop" for thread in threading.enumerate())


def test_close_stops_the_background_loop_thread(server: FakeOpenAIServer) -> None:
    before = _loop_threads()
    policy = OpenAIPolicy("fake-model", base_url=server.url)
    assert _loop_threads() == before  # started on the first call, not in the constructor
    policy.chat([user("x")], GREEDY)
    assert _loop_threads() == before + 1
    policy.close()
    assert _loop_threads() == before


def test_an_unclosed_policy_stops_its_thread_when_collected(server: FakeOpenAIServer) -> None:
    before = _loop_threads()
    policy = OpenAIPolicy("fake-model", base_url=server.url)
    policy.chat([user("x")], GREEDY)
    del policy
    gc.collect()
    assert _loop_threads() == before
