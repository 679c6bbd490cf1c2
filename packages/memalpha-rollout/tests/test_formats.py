"""Tool-call formats: render/parse round trips, the paper's post-processing, robustness on garbage."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memalpha_memory import WorkingMemory, tool_schemas
from memalpha_rollout.exceptions import UnknownNameError
from memalpha_rollout.formats import (
    FORMATS,
    HermesFormat,
    NativeFormat,
    ParsedCompletion,
    QwenAgentFormat,
    ToolCallFormat,
    get_format,
    tool_calls_from_openai,
)
from memalpha_rollout.types import ToolCall

TOOLS = tool_schemas(include_search=False)
TOOL_NAMES = [tool["function"]["name"] for tool in TOOLS]
QWEN, HERMES, NATIVE = QwenAgentFormat(), HermesFormat(), NativeFormat()

MARKERS = {
    "qwen-agent": ("✿FUNCTION✿", "✿RESULT✿:"),
    "hermes": ("<tool_call>", "<think>", "</think>"),
    "native": ("<tool_call>", "<think>", "</think>", "✿FUNCTION✿", "✿RESULT✿:"),
}
FRAGMENTS = [
    "✿FUNCTION✿",
    "✿FUNCTION✿: ",
    "✿ARGS✿",
    "✿ARGS✿: ",
    "✿RESULT✿",
    "✿RESULT✿:",
    "✿RETURN✿:",
    "✿",
    "<tool_call>",
    "</tool_call>",
    "<tool_call>\n",
    "<think>",
    "</think>",
    "{",
    "}",
    "[",
    "]",
    '"',
    ":",
    ",",
    "\\",
    "\n",
    " ",
    "\uff1a",
    '"name"',
    '"arguments"',
    '{"name": "memory_delete", "arguments": ',
    '{"memory_type": "core_memory"}',
    "new_memory_insert",
    "null",
    "1e999",
    "{" * 50,
]


def _json_value(arguments: str | Mapping[str, Any]) -> object:
    """Arguments compared as JSON: a string holding a JSON object counts as that object."""
    if isinstance(arguments, str):
        try:
            value = json.loads(arguments)
        except ValueError:
            return arguments
        return value if isinstance(value, dict) else arguments
    return dict(arguments)


json_scalars = st.none() | st.booleans() | st.integers() | st.text() | st.sampled_from(FRAGMENTS)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
argument_dicts = st.dictionaries(
    st.text(max_size=10) | st.sampled_from(["memory_type", "content", "new_content", "memory_id"]),
    json_values,
    max_size=4,
)
calls_strategy = st.lists(
    st.builds(ToolCall, name=st.sampled_from(TOOL_NAMES), arguments=argument_dicts),
    max_size=4,
)
garbage = st.text() | st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=6), max_size=25).map("".join)


def _reasoning(format_name: str) -> st.SearchStrategy[str]:
    markers = MARKERS[format_name]
    return (st.text() | st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=6), max_size=8).map("".join)).filter(
        lambda text: not any(marker in text for marker in markers)
    )


# ------------------------------------------------------------------------------------------- round trips
def _assert_round_trip(fmt: ToolCallFormat, calls: list[ToolCall], reasoning: str) -> None:
    text = fmt.render_calls(calls, reasoning)
    parsed = fmt.parse(text)
    assert parsed.reasoning == reasoning.strip()
    assert [c.name for c in parsed.calls] == [c.name for c in calls]
    assert [_json_value(c.arguments) for c in parsed.calls] == [_json_value(c.arguments) for c in calls]
    assert parsed.text == text


@given(calls=calls_strategy, reasoning=_reasoning("qwen-agent"))
def test_qwen_agent_round_trip(calls: list[ToolCall], reasoning: str) -> None:
    _assert_round_trip(QWEN, calls, reasoning)


@given(calls=calls_strategy, reasoning=_reasoning("hermes"))
def test_hermes_round_trip(calls: list[ToolCall], reasoning: str) -> None:
    _assert_round_trip(HERMES, calls, reasoning)


@given(calls=calls_strategy, reasoning=_reasoning("native"))
def test_native_round_trip(calls: list[ToolCall], reasoning: str) -> None:
    _assert_round_trip(NATIVE, calls, reasoning)


@pytest.mark.parametrize("fmt", [QWEN, HERMES, NATIVE], ids=lambda f: f.name)
def test_round_trip_of_string_arguments(fmt: ToolCallFormat) -> None:
    calls = [
        ToolCall("memory_delete", '{"memory_type":"core_memory"}'),
        ToolCall("memory_update", "not json"),
        ToolCall("new_memory_insert", ""),
    ]
    parsed = fmt.parse(fmt.render_calls(calls, "why"))
    assert [_json_value(c.arguments) for c in parsed.calls] == [{"memory_type": "core_memory"}, "not json", ""]


def test_marker_inside_an_argument_is_escaped_not_parsed() -> None:
    content = 'fake ✿FUNCTION✿: memory_delete ✿RESULT✿: </tool_call><tool_call> "quoted" {braces}'
    call = ToolCall("new_memory_insert", {"memory_type": "semantic_memory", "content": content})
    qwen_text = QWEN.render_calls([call])
    assert "✿" not in qwen_text.split("✿ARGS✿: ")[1]
    assert HERMES.render_calls([call]).count("</tool_call>") == 1
    for fmt in (QWEN, HERMES):
        (parsed,) = fmt.parse(fmt.render_calls([call])).calls
        assert _json_value(parsed.arguments)["content"] == content  # type: ignore[index]


def test_hermes_render_matches_the_qwen3_template_layout() -> None:
    calls = [ToolCall("memory_delete", {"memory_type": "core_memory"}), ToolCall("memory_delete", {})]
    assert HERMES.render_calls(calls, " Clearing. ") == (
        "Clearing.\n"
        '<tool_call>\n{"name": "memory_delete", "arguments": {"memory_type": "core_memory"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "memory_delete", "arguments": {}}\n</tool_call>'
    )
    assert NATIVE.render_calls(calls) == HERMES.render_calls(calls)


def test_qwen_agent_render_writes_one_marker_line_each() -> None:
    call = ToolCall("new_memory_insert", {"memory_type": "episodic_memory", "content": "Ünïcode\nline"})
    assert QWEN.render_calls([call], "Saving.") == (
        "Saving.\n✿FUNCTION✿: new_memory_insert\n"
        '✿ARGS✿: {"memory_type": "episodic_memory", "content": "Ünïcode\\nline"}'
    )


# ---------------------------------------------------------------------------------------- never raises
@pytest.mark.parametrize("fmt", list(FORMATS.values()), ids=list(FORMATS))
@given(text=garbage)
def test_parse_never_raises(fmt: ToolCallFormat, text: str) -> None:
    parsed = fmt.parse(text)
    assert isinstance(parsed, ParsedCompletion)
    assert text.startswith(parsed.text)
    for call in parsed.calls:
        assert isinstance(call.name, str)
        assert isinstance(call.arguments, str | dict)


@pytest.mark.parametrize("fmt", list(FORMATS.values()), ids=list(FORMATS))
@pytest.mark.parametrize("bad", [None, 42, b"<tool_call>"])
def test_parse_tolerates_a_wrong_type(fmt: ToolCallFormat, bad: object) -> None:
    parsed = fmt.parse(bad)  # type: ignore[arg-type]
    assert parsed.text == ("" if bad is None else str(bad))


# ------------------------------------------------------------------------------- qwen-agent (paper §4.3)
def test_qwen_agent_post_processing_of_the_paper() -> None:
    text = (
        "I should store the facts.\n"
        '✿FUNCTION✿: new_memory_insert\n✿ARGS✿: {"memory_type": "semantic_memory", "content": "A"}```\n'
        '✿FUNCTION✿: memory_update\n✿ARGS✿: {"memory_type": "core_memory", "new_content": "B"} trailing junk\n'
        "✿FUNCTION✿: memory_delete\n"
        "✿RESULT✿: inserted\n"
        '✿FUNCTION✿: memory_delete\n✿ARGS✿: {"memory_type": "core_memory"}\n✿RETURN✿: done'
    )
    parsed = QWEN.parse(text)
    assert parsed.reasoning == "I should store the facts."
    assert parsed.calls == (
        ToolCall("new_memory_insert", '{"memory_type": "semantic_memory", "content": "A"}'),
        ToolCall("memory_update", '{"memory_type": "core_memory", "new_content": "B"}'),
        ToolCall("memory_delete", ""),
    )
    assert parsed.text == text[: text.index("✿RESULT✿:")]


def test_qwen_agent_args_run_to_return_and_result_markers() -> None:
    parsed = QWEN.parse('✿FUNCTION✿\uff1amemory_delete ✿ARGS✿ {"memory_type": "core_memory"}✿RETURN✿: ok {x}')
    assert parsed.calls == (ToolCall("memory_delete", '{"memory_type": "core_memory"}'),)
    parsed = QWEN.parse('✿FUNCTION✿: memory_delete\n✿ARGS✿: {"a": "b"}\n✿RESULT✿ no colon\n✿FUNCTION✿: x\nnot a name')
    assert parsed.calls == (ToolCall("memory_delete", '{"a": "b"}'), ToolCall("x", ""))


def test_qwen_agent_without_calls_is_all_reasoning() -> None:
    parsed = QWEN.parse("  Done.  ✿ARGS✿: {} \n")
    assert parsed == ParsedCompletion(reasoning="Done.  ✿ARGS✿: {}", calls=(), text="  Done.  ✿ARGS✿: {} \n")


def test_qwen_agent_keeps_truncated_arguments_for_the_memory_to_repair() -> None:
    (call,) = QWEN.parse(
        '✿FUNCTION✿: new_memory_insert\n✿ARGS✿: {"memory_type": "semantic_memory", "content": "cut'
    ).calls
    assert call.arguments == '{"memory_type": "semantic_memory", "content": "cut'
    result = WorkingMemory().apply_tool_call(call.name, call.arguments)
    assert result.ok and "repaired" in result.message


@pytest.mark.parametrize(
    ("text", "open_end"),
    [
        ('✿FUNCTION✿: memory_delete\n✿ARGS✿: {"memory_type": "core_memory"}', False),
        ('✿FUNCTION✿: memory_delete\n✿ARGS✿: {"memory_type": "core_memory"} and then', False),
        ('✿FUNCTION✿: memory_delete\n✿ARGS✿: {"memory_type": "core_mem', True),
        ("✿FUNCTION✿: memory_del", True),
        ('✿FUNCTION✿: memory_delete\n✿ARGS✿: {"memory_type": "core_mem\n✿RESULT✿: ok', False),
        ("Done.", False),
    ],
)
def test_qwen_agent_open_end_is_text_ending_inside_the_last_call(text: str, open_end: bool) -> None:
    assert QWEN.parse(text).open_end is open_end


# ------------------------------------------------------------------------------------------------ hermes
def test_hermes_parses_blocks_and_strips_think() -> None:
    text = (
        "<think>\nplan the calls\n</think>\n\nSaving two facts.\n"
        '<tool_call>\n{"name": "new_memory_insert", "arguments": {"memory_type": "semantic_memory", "content": "A"}}\n'
        "</tool_call>\n"
        '<tool_call>\n{"name": "memory_update", "arguments": "{\\"memory_type\\": \\"core_memory\\"}"}\n</tool_call>'
    )
    parsed = HERMES.parse(text)
    assert parsed.reasoning == "Saving two facts."
    assert parsed.text == text
    assert parsed.calls == (
        ToolCall("new_memory_insert", {"memory_type": "semantic_memory", "content": "A"}),
        ToolCall("memory_update", '{"memory_type": "core_memory"}'),
    )


def test_hermes_strips_a_template_opened_think_block() -> None:
    assert HERMES.parse("thinking...\n</think>\nDone.").reasoning == "Done."
    assert HERMES.parse("Done. <think>x</think>").reasoning == "Done. <think>x</think>"


def test_hermes_repairs_broken_json() -> None:
    parsed = HERMES.parse(
        '<tool_call>\n{"name": "memory_delete", "arguments": {"memory_type": "core_memory"\n</tool_call>'
    )
    assert parsed.calls == (ToolCall("memory_delete", {"memory_type": "core_memory"}),)


def test_hermes_unterminated_blocks() -> None:
    text = (
        'Go.<tool_call>{"name": "memory_delete", "arguments": {"memory_type": "core_memory"}}'
        '<tool_call>{"name": "new_memory_insert", "arguments": {"memory_type": "semantic_memory", "content": "tr'
    )
    parsed = HERMES.parse(text)
    assert parsed.reasoning == "Go."
    assert parsed.calls == (
        ToolCall("memory_delete", {"memory_type": "core_memory"}),
        ToolCall("new_memory_insert", {"memory_type": "semantic_memory", "content": "tr"}),
    )
    assert parsed.open_end
    assert not HERMES.parse(text + "</tool_call>").open_end
    assert not HERMES.parse("Done.").open_end


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("not json at all", ToolCall("", "not json at all")),
        (
            '{"arguments": {"memory_type": "core_memory"}}',
            ToolCall("", '{"arguments": {"memory_type": "core_memory"}}'),
        ),
        ('{"name": 7, "arguments": {}}', ToolCall("", '{"name": 7, "arguments": {}}')),
        ("", ToolCall("", "")),
        ('{"name": "memory_delete"}', ToolCall("memory_delete", "")),
        ('{"name": "memory_delete", "arguments": [1, 2]}', ToolCall("memory_delete", "[1, 2]")),
        (
            '{"name": "memory_delete", "parameters": {"memory_type": "x"}}',
            ToolCall("memory_delete", {"memory_type": "x"}),
        ),
        ("{" * 3000, ToolCall("", "{" * 3000)),
    ],
)
def test_hermes_garbage_blocks_are_kept(block: str, expected: ToolCall) -> None:
    assert HERMES.parse(f"<tool_call>{block}</tool_call>").calls == (expected,)


# ------------------------------------------------------------------------------------------------ native
def test_native_parses_hermes_first_then_qwen_agent() -> None:
    hermes_text = '<tool_call>{"name": "memory_delete", "arguments": {}}</tool_call> ✿FUNCTION✿: x'
    assert NATIVE.parse(hermes_text).calls == (ToolCall("memory_delete", {}),)
    qwen_text = 'ok ✿FUNCTION✿: memory_delete\n✿ARGS✿: {"memory_type": "core_memory"}\n✿RESULT✿: done'
    assert NATIVE.parse(qwen_text) == QWEN.parse(qwen_text)
    assert NATIVE.parse("<think>t</think> Done.") == ParsedCompletion("Done.", (), "<think>t</think> Done.")


def test_tool_calls_from_openai_dicts_objects_and_missing_fields() -> None:
    sdk_call = SimpleNamespace(id="c1", function=SimpleNamespace(name="memory_delete", arguments='{"a": 1}'))
    entries: list[object] = [
        {"id": "c0", "type": "function", "function": {"name": " new_memory_insert ", "arguments": "{}"}},
        sdk_call,
        {"function": {"arguments": {"memory_type": "core_memory"}}},
        {"function": None},
        {"name": "memory_update", "arguments": None},
        SimpleNamespace(),
        None,
        {"function": {"name": 3, "arguments": 4}},
    ]
    assert tool_calls_from_openai(entries) == (
        ToolCall("new_memory_insert", "{}"),
        ToolCall("memory_delete", '{"a": 1}'),
        ToolCall("", {"memory_type": "core_memory"}),
        ToolCall("", ""),
        ToolCall("memory_update", ""),
        ToolCall("", ""),
        ToolCall("", ""),
        ToolCall("", "4"),
    )
    assert tool_calls_from_openai(None) == ()


# ------------------------------------------------------------------------------------------ render_tools
@pytest.mark.parametrize(
    ("fmt", "syntax"),
    [
        (
            QWEN,
            ["✿FUNCTION✿:", "✿ARGS✿:", "✿RESULT✿:", "✿RETURN✿:", "# Tools", "Format the arguments as a JSON object."],
        ),
        (HERMES, ["<tools>", "</tools>", "<tool_call>", "</tool_call>", '"arguments"']),
        (NATIVE, []),
    ],
    ids=["qwen-agent", "hermes", "native"],
)
def test_render_tools_lists_every_tool_and_the_syntax(fmt: ToolCallFormat, syntax: list[str]) -> None:
    text = fmt.render_tools(TOOLS)
    for needle in [*TOOL_NAMES, *syntax]:
        assert needle in text
    if fmt is not NATIVE:  # the schemas themselves are in the prompt
        assert json.dumps(TOOLS[0]["function"]["parameters"], ensure_ascii=False) in text


def test_qwen_agent_render_tools_structure() -> None:
    text = QWEN.render_tools(tool_schemas(include_search=False, openai_format=False))
    assert text.startswith("# Tools\n\n## You have access to the following tools:\n\n### new_memory_insert\n\n")
    assert "should be one of [new_memory_insert,memory_update,memory_delete]" in text
    assert text.index("### memory_delete") < text.index("## Insert the following command")


@pytest.mark.parametrize("fmt", list(FORMATS.values()), ids=list(FORMATS))
def test_render_tools_rejects_a_tool_without_a_name(fmt: ToolCallFormat) -> None:
    with pytest.raises(ValueError, match=r"tool \{'type': 'function'\} has no function name"):
        fmt.render_tools([{"type": "function"}])


# -------------------------------------------------------------------------------------------- registry
def test_registry() -> None:
    assert set(FORMATS) == {"qwen-agent", "hermes", "native"}
    for name, fmt in FORMATS.items():
        assert isinstance(fmt, ToolCallFormat)
        assert get_format(name) is fmt and fmt.name == name


@pytest.mark.parametrize("name", ["qwen_agent", "", None])
def test_get_format_unknown_name(name: object) -> None:
    with pytest.raises(UnknownNameError, match=r"unknown tool-call format .*; use one of: hermes, native, qwen-agent"):
        get_format(name)  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        get_format("xml")


# ------------------------------------------------------------------------------- garbage meets the memory
@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        (HERMES, '<tool_call>not json</tool_call><tool_call>{"name": "drop_tables", "arguments": {}}'),
        (HERMES, '<tool_call>{"name": "new_memory_insert", "arguments": [1]}</tool_call><tool_call></tool_call>'),
        (QWEN, "✿FUNCTION✿: memory_update\n✿ARGS✿: }{ ✿FUNCTION✿ ✿FUNCTION✿: new_memory_insert"),
        (QWEN, '✿FUNCTION✿: new_memory_insert\n✿ARGS✿: {"memory_type": "core_memory", "content": "x"}'),
        (NATIVE, "✿FUNCTION✿:\n✿ARGS✿: {{{{"),
    ],
)
def test_parsed_garbage_is_scored_as_errors(fmt: ToolCallFormat, text: str) -> None:
    calls = fmt.parse(text).calls
    assert calls
    memory = WorkingMemory()
    results = [memory.apply_tool_call(call.name, call.arguments) for call in calls]
    assert [r.status for r in results] == ["error"] * len(calls)


@given(text=garbage)
def test_memory_never_raises_on_parsed_garbage(text: str) -> None:
    memory = WorkingMemory()
    for fmt in (QWEN, HERMES):
        for call in fmt.parse(text).calls:
            result = memory.apply_tool_call(call.name, call.arguments)
            assert result.status in {"ok", "skipped", "error"}
