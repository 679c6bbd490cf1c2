"""memalpha-data: instances with QA for memory agents.

An `Instance` is a stream of chunks an agent reads one at a time, and the questions asked afterwards. This
package builds them from real public datasets (`SOURCES`), from a procedural generator (`GeneratorConfig`), or
from files (`read_instances` for the paper's parquet layout, `read_memoryagentbench`); scores answers with the
paper's metrics (`score_answer`, `aggregate`); and builds YAML recipes into parquet plus a dataset card
(`build_recipe`).
"""

from memalpha_data.chunking import Budget, chunk_text, group_units, pack_chunks, split_paragraphs, split_sentences
from memalpha_data.dialogue import ChunkStyle, chunk_conversation, dialogue_dates, wrap_chunk, wrap_chunks
from memalpha_data.exceptions import (
    InstanceFormatError,
    MemalphaDataError,
    RecipeError,
    SourceNotFoundError,
    SourceRowError,
    UnknownMetricError,
)
from memalpha_data.generator import QUESTION_TYPES, GeneratorConfig, generate_instance, generate_instances
from memalpha_data.instance import CAPABILITIES, Capability, Instance, MetricName, Question
from memalpha_data.io import (
    instance_from_memoryagentbench,
    iter_instances,
    read_instances,
    read_memoryagentbench,
    to_arrow,
    write_instances,
)
from memalpha_data.keywords import KeywordExtractor, extract_keywords, openai_keyword_extractor
from memalpha_data.metrics import (
    METRICS,
    LLMJudge,
    QuestionScore,
    ScoreSummary,
    aggregate,
    normalize_answer,
    score_answer,
    score_instance,
)
from memalpha_data.recipes import BuildResult, Recipe, SourceSpec, build_recipe, check_recipe, load_recipe
from memalpha_data.sources import SOURCES, Source, data_root
from memalpha_data.sources_info import source_route
from memalpha_data.stats import SourceStats, dataset_stats, render_card, stats_table, validate_instances
from memalpha_data.tokens import TokenCounter, count_tokens, hf_token_counter

__all__ = [
    "CAPABILITIES",
    "METRICS",
    "QUESTION_TYPES",
    "SOURCES",
    "Budget",
    "BuildResult",
    "Capability",
    "ChunkStyle",
    "GeneratorConfig",
    "Instance",
    "InstanceFormatError",
    "KeywordExtractor",
    "LLMJudge",
    "MemalphaDataError",
    "MetricName",
    "Question",
    "QuestionScore",
    "Recipe",
    "RecipeError",
    "ScoreSummary",
    "Source",
    "SourceNotFoundError",
    "SourceRowError",
    "SourceSpec",
    "SourceStats",
    "TokenCounter",
    "UnknownMetricError",
    "aggregate",
    "build_recipe",
    "check_recipe",
    "chunk_conversation",
    "chunk_text",
    "count_tokens",
    "data_root",
    "dataset_stats",
    "dialogue_dates",
    "extract_keywords",
    "generate_instance",
    "generate_instances",
    "group_units",
    "hf_token_counter",
    "instance_from_memoryagentbench",
    "iter_instances",
    "load_recipe",
    "normalize_answer",
    "openai_keyword_extractor",
    "pack_chunks",
    "read_instances",
    "read_memoryagentbench",
    "render_card",
    "score_answer",
    "score_instance",
    "source_route",
    "split_paragraphs",
    "split_sentences",
    "stats_table",
    "to_arrow",
    "validate_instances",
    "wrap_chunk",
    "wrap_chunks",
    "write_instances",
]
