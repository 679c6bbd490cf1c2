"""The compact prompt style: a short prompt for small models, built from the same schemas, that the engine, the
heuristic teacher and the formats' parsers all read like the full one."""

from __future__ import annotations

import pytest
from rollout_helpers import make_instance

from memalpha_memory import WorkingMemory, tool_schemas
from memalpha_rollout import HeuristicPolicy, RolloutConfig, memorize, run_episodes
from memalpha_rollout.engine import snapshot
from memalpha_rollout.formats import get_format
from memalpha_rollout.prompts import COMPACT_SYSTEM_INSTRUCTIONS, PromptStyle, build_messages, chunk_text

TOOLS = tool_schemas(include_search=False)
TEXT_FORMATS = ["hermes", "qwen-agent"]
CHUNK = (  # 50 words
    "[2024-03-01 10:00] <user> My sister Ana is visiting next week. She lives in Lisbon and works for Ropox "
    "Insurance as a claims analyst. We grew up together in Braga, and she still calls our mother every Sunday. "
    "Last year she adopted a grey cat named Pimenta, who hates long trains."
)


def _messages(style: PromptStyle, tool_format: str = "hermes", chunk: str = CHUNK) -> list[dict[str, str]]:
    section = get_format(tool_format).render_tools(TOOLS, compact=style == "compact")
    return build_messages(WorkingMemory().render_view(), chunk, section, max_new_tokens=256, style=style)


def _example(section: str) -> str:
    """The example call at the end of a compact tool section."""
    return section.split("for example:\n", 1)[1]


@pytest.mark.parametrize("tool_format", TEXT_FORMATS)
def test_compact_prompt_is_at_most_two_fifths_of_the_full_one(tool_format: str) -> None:
    pytest.importorskip("transformers")
    from memalpha_rollout.chat import render_prompt_ids
    from memalpha_rollout.testing import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer()
    full = len(render_prompt_ids(tokenizer, _messages("full", tool_format)))
    compact = len(render_prompt_ids(tokenizer, _messages("compact", tool_format)))
    assert compact <= 0.4 * full, (compact, full)


@pytest.mark.parametrize("tool_format", TEXT_FORMATS)
def test_compact_section_names_every_tool_and_argument(tool_format: str) -> None:
    section = get_format(tool_format).render_tools(TOOLS, compact=True)
    assert "<tools>" not in section and '"parameters"' not in section  # no JSON schemas
    for tool in TOOLS:
        function = tool["function"]
        (line,) = [line for line in section.splitlines() if line.startswith(function["name"] + "(")]
        for argument in function["parameters"]["properties"]:
            assert argument in line
    lines = section.splitlines()
    assert "new_memory_insert(memory_type: semantic_memory|episodic_memory, content: string)" in lines[1]
    assert lines[3].endswith("memory_id?: string) - Delete a memory")  # optional arguments are marked


@pytest.mark.parametrize("tool_format", TEXT_FORMATS)
def test_the_example_call_parses_and_applies(tool_format: str) -> None:
    fmt = get_format(tool_format)
    (call,) = fmt.parse(_example(fmt.render_tools(TOOLS, compact=True))).calls
    assert call.name == "new_memory_insert"
    memory = WorkingMemory()
    result = memory.apply_tool_call(call.name, call.arguments)
    assert result.status == "ok" and [e.content for e in memory.entries("semantic")] == ["Ana lives in Porto."]


def test_native_compact_section_is_its_one_sentence() -> None:
    native = get_format("native")
    assert native.render_tools(TOOLS, compact=True) == native.render_tools(TOOLS)


def test_compact_messages_keep_the_view_the_chunk_and_the_token_hint() -> None:
    system, user = _messages("compact", "qwen-agent", chunk="Ana lives in Porto.")
    assert "memory_update" in system["content"] and '"Done"' in system["content"]
    assert system["content"].index("# Tools") < system["content"].index("CURRENT MEMORY:\n<core_memory>")
    assert user["content"].startswith("Memorize this chunk (reply in at most 256 tokens):\n<new_chunk>\n")
    assert chunk_text([system, user]) == "Ana lives in Porto."


def test_unknown_prompt_style_is_refused_with_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"prompt_style must be one of 'full', 'compact', got 'tiny'"):
        RolloutConfig(prompt_style="tiny")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"unknown prompt style 'tiny'; use one of: full, compact"):
        build_messages("", "chunk", "", max_new_tokens=8, style="tiny")  # type: ignore[arg-type]


def test_heuristic_episode_stores_and_answers_the_same_with_either_style() -> None:
    instance = make_instance(
        "ana",
        [
            "[2024-03-01 10:00]\n<user> My sister, Ana Souza, is visiting next week.\n"
            "<user> Ana Souza lives in Lisbon and works for Ropox Insurance.",
            "[2024-03-09 18:30]\n<user> Big news: Ana Souza moved, so now Ana Souza lives in Porto.",
        ],
        [("Where does Ana Souza live?", "Porto"), ("Who does Ana Souza work for?", "Ropox Insurance")],
    )
    (full,) = run_episodes(HeuristicPolicy(), [instance], config=RolloutConfig())
    assert full.r1 == 1.0 and full.memory.entries("semantic")
    for tool_format in TEXT_FORMATS:
        config = RolloutConfig(tool_format=tool_format, prompt_style="compact")
        (compact,) = run_episodes(HeuristicPolicy(), [instance], config=config)
        assert snapshot(compact.memory) == snapshot(full.memory)
        assert compact.r1 == full.r1 and compact.ok_calls == compact.num_calls > 0
        system = compact.steps[1].prompt.messages[0]["content"]
        assert system.startswith(COMPACT_SYSTEM_INSTRUCTIONS) and "<tools>" not in system
        assert system.index("# Tools") < system.index("CURRENT MEMORY:")  # tools first for qwen-agent too
        assert compact.steps[1].prompt.num_tokens < full.steps[1].prompt.num_tokens / 2


def test_memorize_uses_the_configured_style() -> None:
    (step,) = memorize(HeuristicPolicy(), ["Ana lives in Porto."], config=RolloutConfig(prompt_style="compact"))
    assert step.prompt.messages[0]["content"].startswith(COMPACT_SYSTEM_INSTRUCTIONS)
    assert chunk_text(step.prompt.messages) == "Ana lives in Porto."
