"""Tool-call text formats: how the tools are described in the prompt and how calls are read back out of text.

The engine owns the tool-call format of a token policy. Three formats are registered by name in `FORMATS`:

- ``qwen-agent``: the paper's Qwen-Agent text protocol (``✿FUNCTION✿: <name>`` / ``✿ARGS✿: <json>`` lines),
  needed to continue from the released Memalpha-4B. Parsing follows the paper's post-processing (§4.3): the text
  is cut at the first ``✿RESULT✿:``, each call's arguments run to the next marker and lose any junk after their
  last ``}``, and the text before the first call is the reasoning.
- ``hermes``: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` blocks, the native format of Qwen3
  chat templates and of TRL.
- ``native``: for chat policies whose server returns structured ``tool_calls``; the tools travel through the API,
  calls are rendered like hermes for traces and SFT targets, and text is parsed as hermes, then as qwen-agent.

The two text formats render their tool section in two styles: in full (the JSON schemas, as the paper and chat
templates do) or compact (``render_tools(tools, compact=True)``: one line per tool and one example call, for small
models with short prompts), both generated from the same tool schemas. ``native`` has one short sentence for both.

Parsing never raises: a call that cannot be read is kept (with an empty name or its raw text as arguments) so
that the memory reports it as an error and the reward counts it, instead of it silently disappearing.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import json_repair

from .exceptions import UnknownNameError
from .types import ToolCall

__all__ = [
    "FORMATS",
    "HermesFormat",
    "NativeFormat",
    "ParsedCompletion",
    "QwenAgentFormat",
    "ToolCallFormat",
    "get_format",
    "load_json",
    "strip_thinking",
    "tool_calls_from_openai",
]

logger = logging.getLogger(__name__)

FUNCTION, ARGS, RESULT, RETURN = "✿FUNCTION✿", "✿ARGS✿", "✿RESULT✿", "✿RETURN✿"
TOOL_CALL_OPEN, TOOL_CALL_CLOSE = "<tool_call>", "</tool_call>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"

_QWEN_MARKER = re.compile("✿(FUNCTION|ARGS|RESULT|RETURN)✿[:\uff1a]?")  # ASCII or full-width colon
# a block ends at its closing tag, at the next opening tag (unterminated) or at the end of the text
_HERMES_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|(?=<tool_call>)|\Z)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ParsedCompletion:
    """A completion read by a `ToolCallFormat`.

    Attributes:
        reasoning: The text before the first call, stripped (the paper treats it as the model's reasoning).
        calls: The calls in the order emitted, including unreadable ones (scored as errors by the memory).
        text: The completion as kept, e.g. cut at the first ``✿RESULT✿:`` for qwen-agent.
        open_end: The text ends inside the last call (a hermes block with no ``</tool_call>``, qwen-agent
            arguments that are not complete JSON). With ``finish_reason="length"`` that call was cut off by the
            token budget, and the engine does not apply it.
    """

    reasoning: str
    calls: tuple[ToolCall, ...]
    text: str
    open_end: bool = False


@runtime_checkable
class ToolCallFormat(Protocol):
    """A tool-call text format: the tools' prompt section, the text of calls, and the parsing of that text."""

    @property
    def name(self) -> str:
        """The name the format is registered under."""
        ...

    def render_tools(self, tools: Sequence[Mapping[str, Any]], *, compact: bool = False) -> str:
        """The system-prompt section that lists ``tools`` (OpenAI function-tool dicts) and the call syntax.

        With ``compact`` each tool takes one line (name, typed arguments, purpose), followed by one example call.
        """
        ...

    def render_calls(self, calls: Sequence[ToolCall], reasoning: str = "") -> str:
        """The completion a model should write for ``calls`` after ``reasoning`` (SFT targets, traces)."""
        ...

    def parse(self, text: str) -> ParsedCompletion:
        """Read the reasoning and the calls out of a completion; never raises."""
        ...


# ----------------------------------------------------------------------------------------------- helpers
def _function(tool: Mapping[str, Any]) -> Mapping[str, Any]:
    """The function dict of an OpenAI function-tool dict (bare function dicts are accepted too)."""
    function = tool.get("function", tool) if isinstance(tool, Mapping) else None
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str) or not function["name"]:
        raise ValueError(
            f"tool {tool!r} has no function name; pass OpenAI function-tool dicts "
            'like {"type": "function", "function": {"name": ..., "description": ..., "parameters": {...}}} '
            "(memalpha_memory.tool_schemas() returns them)"
        )
    return function


def _signature(function: Mapping[str, Any]) -> str:
    """One line for a tool: ``name(arg: type, optional?: type) - purpose`` (the description's first clause)."""
    parameters = function.get("parameters") or {}
    required = set(parameters.get("required", ()))
    arguments = []
    for name, spec in (parameters.get("properties") or {}).items():
        kind = "|".join(map(str, spec["enum"])) if spec.get("enum") else spec.get("type", "any")
        arguments.append(f"{name}{'' if name in required else '?'}: {kind}")
    purpose = re.split(r"[.;:]\s", str(function.get("description", "")), maxsplit=1)[0].rstrip(".")
    return f"{function['name']}({', '.join(arguments)})" + (f" - {purpose}" if purpose else "")


_EXAMPLE_VALUES: Mapping[str, object] = {"integer": 1, "number": 1, "boolean": True}


def _example_call(function: Mapping[str, Any]) -> ToolCall:
    """A call of ``function`` with its required arguments: the first enum value, or a sample of the type."""
    parameters = function.get("parameters") or {}
    properties = parameters.get("properties") or {}
    arguments = {
        name: spec["enum"][0] if spec.get("enum") else _EXAMPLE_VALUES.get(spec.get("type"), "Ana lives in Porto.")
        for name, spec in properties.items()
        if name in parameters.get("required", ())
    }
    return ToolCall(function["name"], arguments)


def _compact_tools(fmt: ToolCallFormat, tools: Sequence[Mapping[str, Any]], syntax: str) -> str:
    """The compact section: one `_signature` line per tool, then ``syntax`` and an example call of the first."""
    functions = [_function(tool) for tool in tools]
    lines = ["# Tools", *(_signature(f) for f in functions), syntax]
    if functions:
        lines.append(fmt.render_calls([_example_call(functions[0])]))
    return "\n".join(lines)


def _arguments_json(arguments: str | Mapping[str, Any]) -> str | None:
    """``arguments`` as JSON object text, or None when they are a string that is not a JSON object."""
    if isinstance(arguments, str):
        try:
            value = json.loads(arguments)
        except (ValueError, RecursionError):
            return None
        if not isinstance(value, dict):
            return None
        arguments = value
    return json.dumps(dict(arguments), ensure_ascii=False)


def _as_text(text: object) -> str:
    """Completion text from whatever was passed (parsers never raise, even on a wrong type)."""
    if isinstance(text, str):
        return text
    return "" if text is None else str(text)


def strip_thinking(text: str) -> str:
    """A reply without its leading ``<think>...</think>`` block (or a template-opened one: text ending in
    ``</think>`` with no ``<think>`` before it); an unterminated leading ``<think>`` leaves nothing (paper §5: such
    an answer is scored as empty). A ``<think>`` block after other text is kept."""
    end = text.find(THINK_CLOSE)
    if end < 0:
        return "" if text.lstrip().startswith(THINK_OPEN) else text.strip()
    head = text[:end]
    if head.lstrip().startswith(THINK_OPEN) or THINK_OPEN not in head:
        return text[end + len(THINK_CLOSE) :].strip()
    return text.strip()


class QwenAgentFormat:
    """The paper's Qwen-Agent protocol: ``✿FUNCTION✿: <name>`` then ``✿ARGS✿: <json>``, parallel calls in a row.

    `render_tools` has the structure of Qwen-Agent's English parallel-call tool section, which the released
    Memalpha models saw in training. JSON arguments are written with ``✿`` escaped as ``\\u273f`` so that text
    inside an argument can never be read as a marker.
    """

    name = "qwen-agent"

    def render_tools(self, tools: Sequence[Mapping[str, Any]], *, compact: bool = False) -> str:
        """The ``# Tools`` section: one ``### name`` block per tool, then the parallel-call template.

        With ``compact``: one line per tool, then a ``✿FUNCTION✿``/``✿ARGS✿`` example call.
        """
        if compact:
            return _compact_tools(
                self,
                tools,
                f"Write each call as a {FUNCTION}: line and an {ARGS}: line (JSON), for example:",
            )
        functions = [_function(tool) for tool in tools]
        blocks = [
            f"### {f['name']}\n\n{f['name']}: {f.get('description', '')} "
            f"Parameters: {json.dumps(f.get('parameters', {}), ensure_ascii=False)} "
            "Format the arguments as a JSON object."
            for f in functions
        ]
        names = ",".join(f["name"] for f in functions)
        template: list[str] = []
        for i in ("1", "2", "N"):
            if i == "N":
                template.append("...")
            template += [
                f"{FUNCTION}: The name of tool {i}, should be one of [{names}]",
                f"{ARGS}: The input of tool {i}",
                f"{RESULT}: The result of tool {i}",
            ]
        template.append(f"{RETURN}: Reply based on tool results.")
        return "\n\n".join(
            [
                "# Tools",
                "## You have access to the following tools:",
                *blocks,
                "## Insert the following command in your reply when you need to call N tools in parallel:",
                "\n".join(template),
            ]
        )

    def render_calls(self, calls: Sequence[ToolCall], reasoning: str = "") -> str:
        """The reasoning (stripped), then one ``✿FUNCTION✿``/``✿ARGS✿`` pair per call, one line each.

        String arguments that are not a JSON object are written as they are.
        """
        lines = [reasoning.strip()] if reasoning.strip() else []
        for call in calls:
            arguments = _arguments_json(call.arguments)
            arguments = str(call.arguments) if arguments is None else arguments.replace("✿", "\\u273f")
            lines.append(f"{FUNCTION}: {call.name}\n{ARGS}: {arguments}")
        return "\n".join(lines)

    def parse(self, text: str) -> ParsedCompletion:
        """The paper's post-processing (§4.3); a ``✿FUNCTION✿`` without ``✿ARGS✿`` gives empty arguments."""
        text = _as_text(text)
        cut = text.find(RESULT + ":")
        kept = text if cut < 0 else text[:cut]
        markers = list(_QWEN_MARKER.finditer(kept))
        starts = [i for i, marker in enumerate(markers) if marker.group(1) == "FUNCTION"]
        if not starts:
            return ParsedCompletion(reasoning=kept.strip(), calls=(), text=kept)
        calls: list[ToolCall] = []
        open_end = False
        for i in starts:
            end, args_at = len(kept), None
            for marker in markers[i + 1 :]:
                if marker.group(1) != "ARGS":
                    end = marker.start()
                    break
                if args_at is None:
                    args_at = marker
            if args_at is None:
                segment = kept[markers[i].end() : end].strip()
                calls.append(ToolCall(name=segment.split("\n", 1)[0].strip(), arguments=""))
                open_end = end == len(text)
                continue
            arguments = kept[args_at.end() : end].strip()
            last_brace = arguments.rfind("}")
            if last_brace >= 0:
                arguments = arguments[: last_brace + 1]
            calls.append(ToolCall(name=kept[markers[i].end() : args_at.start()].strip(), arguments=arguments))
            open_end = end == len(text) and not _is_json(arguments)
        reasoning = kept[: markers[starts[0]].start()].strip()
        return ParsedCompletion(reasoning=reasoning, calls=tuple(calls), text=kept, open_end=open_end)


# ------------------------------------------------------------------------------------------------ hermes
class HermesFormat:
    """``<tool_call>`` blocks holding ``{"name": ..., "arguments": {...}}`` (Qwen3 chat templates, TRL).

    `render_calls` writes what a Qwen3 chat template writes for an assistant turn with tool calls; JSON text is
    written with ``<`` of a ``<tool_call>``/``</tool_call>`` inside an argument escaped as ``\\u003c``.
    """

    name = "hermes"

    def render_tools(self, tools: Sequence[Mapping[str, Any]], *, compact: bool = False) -> str:
        """The tools as JSON inside ``<tools></tools>`` and how to write a ``<tool_call>`` block.

        With ``compact``: one line per tool, then an example ``<tool_call>`` block.
        """
        if compact:
            return _compact_tools(self, tools, f"Write each call as JSON in {TOOL_CALL_OPEN} tags, for example:")
        listed = "\n".join(
            json.dumps({"type": "function", "function": dict(_function(t))}, ensure_ascii=False) for t in tools
        )
        return (
            "# Tools\n\n"
            "You can call one or more of these functions in your reply. "
            "Their signatures are given as JSON inside <tools></tools> tags:\n"
            f"<tools>\n{listed}\n</tools>\n\n"
            "Write each call as a JSON object with the function's name and its arguments "
            "inside its own <tool_call></tool_call> tags:\n"
            f"{TOOL_CALL_OPEN}\n"
            '{"name": <function name>, "arguments": <arguments as a JSON object>}\n'
            f"{TOOL_CALL_CLOSE}"
        )

    def render_calls(self, calls: Sequence[ToolCall], reasoning: str = "") -> str:
        """The reasoning (stripped), then one ``<tool_call>`` block per call, one line apart.

        String arguments that are not a JSON object are written as a JSON string.
        """
        parts = [reasoning.strip()] if reasoning.strip() else []
        for call in calls:
            arguments = _arguments_json(call.arguments)
            if arguments is None:
                arguments = json.dumps(call.arguments, ensure_ascii=False)
            body = f'{{"name": {json.dumps(call.name, ensure_ascii=False)}, "arguments": {arguments}}}'
            body = body.replace(TOOL_CALL_OPEN, "\\u003c" + TOOL_CALL_OPEN[1:])
            body = body.replace(TOOL_CALL_CLOSE, "\\u003c" + TOOL_CALL_CLOSE[1:])
            parts.append(f"{TOOL_CALL_OPEN}\n{body}\n{TOOL_CALL_CLOSE}")
        return "\n".join(parts)

    def parse(self, text: str) -> ParsedCompletion:
        """Every ``<tool_call>`` block (an unterminated one runs to the next block or the end of the text).

        JSON that `json.loads` rejects is repaired with json-repair. A block without a readable name becomes
        ``ToolCall(name="", arguments=<the raw block>)``. The reasoning loses a leading ``<think>`` block.
        """
        text = _as_text(text)
        blocks = list(_HERMES_BLOCK.finditer(text))
        head = text if not blocks else text[: blocks[0].start()]
        calls = tuple(_hermes_call(block.group(1).strip()) for block in blocks)
        open_end = bool(blocks) and not blocks[-1].group(0).endswith(TOOL_CALL_CLOSE)
        return ParsedCompletion(reasoning=strip_thinking(head), calls=calls, text=text, open_end=open_end)


def _is_json(raw: str) -> bool:
    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return True


def load_json(raw: str) -> object:
    """``raw`` parsed as JSON, repaired with json-repair when it is broken; None when even that fails."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        pass
    try:
        value = json_repair.loads(raw)
    except Exception:  # json-repair's own failures (e.g. nesting too deep) are the model's bad JSON
        logger.debug("could not repair tool-call JSON %r", raw[:200], exc_info=True)
        return None
    logger.debug("repaired tool-call JSON %r", raw[:200])
    return value


def _hermes_call(raw: str) -> ToolCall:
    """The call in one ``<tool_call>`` block; garbage keeps an empty name and the raw block as arguments."""
    value = load_json(raw)
    name = value.get("name") if isinstance(value, dict) else None
    if not isinstance(value, dict) or not isinstance(name, str) or not name.strip():
        return ToolCall(name="", arguments=raw)
    arguments = value.get("arguments", value.get("parameters"))
    return ToolCall(name=name.strip(), arguments=_coerce_arguments(arguments))


def _coerce_arguments(arguments: object) -> str | Mapping[str, Any]:
    """Arguments as a dict or a string (kept as they are); None becomes "", other JSON values their JSON text."""
    if arguments is None:
        return ""
    if isinstance(arguments, (str, Mapping)):
        return arguments
    try:
        return json.dumps(arguments, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return str(arguments)


# ------------------------------------------------------------------------------------------------ native
class NativeFormat:
    """Structured tool calls from an OpenAI-compatible server (see `tool_calls_from_openai`).

    The tools go through the API, so the prompt only mentions them. Calls are rendered like hermes, and text is
    parsed as hermes, then as qwen-agent (a server without a tool parser returns the model's raw text).
    """

    name = "native"

    def render_tools(self, tools: Sequence[Mapping[str, Any]], *, compact: bool = False) -> str:
        """A short sentence naming the tools, which are passed to the server as function tools (both styles)."""
        names = ", ".join(_function(tool)["name"] for tool in tools)
        return f"Call the memory tools ({names}) through function calling; you may make several calls in one reply."

    def render_calls(self, calls: Sequence[ToolCall], reasoning: str = "") -> str:
        """Same text as `HermesFormat.render_calls`."""
        return _HERMES.render_calls(calls, reasoning)

    def parse(self, text: str) -> ParsedCompletion:
        """Hermes blocks if there are any, else qwen-agent calls if there are any, else the hermes reading."""
        parsed = _HERMES.parse(text)
        if parsed.calls:
            return parsed
        fallback = _QWEN_AGENT.parse(text)
        return fallback if fallback.calls else parsed


_HERMES = HermesFormat()
_QWEN_AGENT = QwenAgentFormat()

FORMATS: Mapping[str, ToolCallFormat] = MappingProxyType({f.name: f for f in (_QWEN_AGENT, _HERMES, NativeFormat())})
"""The registered tool-call formats by name."""


def get_format(name: str) -> ToolCallFormat:
    """The tool-call format registered as ``name``.

    Raises:
        UnknownNameError: No format has that name; the message lists the known ones.
    """
    try:
        return FORMATS[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(FORMATS))
        raise UnknownNameError(f"unknown tool-call format {name!r}; use one of: {known}") from None


# ------------------------------------------------------------------------------------- OpenAI tool calls
def tool_calls_from_openai(tool_calls: Sequence[Mapping[str, Any] | object] | None) -> tuple[ToolCall, ...]:
    """`ToolCall`s from the ``tool_calls`` of an OpenAI-compatible chat response; never raises.

    Entries may be dicts (``{"function": {"name": ..., "arguments": ...}}``, or flat ``{"name", "arguments"}``)
    or SDK objects with ``.function.name`` and ``.function.arguments``. A missing name or missing arguments
    become ``""``, so that the memory reports the call as an error.
    """
    calls: list[ToolCall] = []
    for entry in tool_calls or ():
        function = _field(entry, "function")
        if function is None:
            function = entry
        name = _field(function, "name")
        calls.append(
            ToolCall(
                name=name.strip() if isinstance(name, str) else "",
                arguments=_coerce_arguments(_field(function, "arguments")),
            )
        )
    return tuple(calls)


def _field(value: object, key: str) -> object:
    """``value[key]`` for a mapping, ``value.key`` otherwise, None when absent."""
    if isinstance(value, Mapping):
        return value.get(key)
    try:
        return getattr(value, key, None)
    except Exception:  # a broken SDK object's property; the call is then scored as an error
        return None
