"""memalpha-rollout: the Mem-alpha episode engine.

An episode feeds an instance's chunks to a memory-writing policy one at a time (a fresh prompt per chunk: the
instructions, the memory view and the chunk), applies the tool calls it makes to a working memory, then answers
the instance's questions from that memory and computes the paper's reward. `run_episodes` runs many episodes
together (one generate call per chunk step); `evaluate` and `evaluate_baseline` score policies and baselines in
one results schema; `RunFolder` and `write_report` turn results and traces into a run folder; `run_evaluation`
(``memalpha eval``) runs writers and baselines on a dataset recipe into one run folder with paper-style tables.

Quick start::

    from memalpha_data import read_instances
    from memalpha_rollout import evaluate, load_policy

    result = evaluate(load_policy("heuristic"), read_instances("datasets/samples/mini-train.parquet"))
    print(result.mean_over_sources, result.mean_memory_tokens)

Policies are chosen by name (`load_policy`): ``heuristic``, ``smollm2``, ``hf:PATH``, ``vllm:PATH``,
``openai:URL/MODEL``; heavy backends (torch, transformers, vllm, openai) are imported only when used.
"""

from .answerers import ANSWERERS, Answerer, AnswerRequest, LLMAnswerer, RetrievalRecallAnswerer, load_answerer
from .baselines import BASELINES, evaluate_baseline
from .chat import complete_messages, render_prompt_ids, render_prompt_text
from .engine import Episode, QARecord, RolloutConfig, StepRecord, memorize, run_episodes
from .evaluate import evaluate
from .exceptions import (
    BackendUnavailableError,
    EvalConfigError,
    MemalphaRolloutError,
    PolicyError,
    RunFolderError,
    UnknownNameError,
)
from .formats import FORMATS, ParsedCompletion, ToolCallFormat, get_format, tool_calls_from_openai
from .harness import EvalRun, run_evaluation
from .judges import HeuristicJudge, Judge, JudgeItem, LLMJudge, judge_items
from .policies import POLICY_BACKENDS, ScriptedPolicy, load_policy
from .policies.heuristic import HeuristicPolicy
from .reporting import (
    RunFolder,
    plot_length_sweep,
    plot_metrics,
    plot_score_vs_memory,
    render_capability_table,
    render_results_table,
    render_trace_page,
    write_report,
    write_trace_pages,
)
from .results import EvalResult, InstanceResult, summarize
from .reward import RewardComponents, RewardConfig
from .samples import ChunkSample, episode_samples, read_samples, write_samples
from .sft import sft_examples
from .trace import CallTrace, EpisodeTrace, MemorySnapshot, QATrace, StepTrace, read_traces, write_traces
from .types import ChatPolicy, Completion, Message, Policy, SamplingParams, Tokenizer, ToolCall

__version__ = "0.1.0"

__all__ = [
    "ANSWERERS",
    "BASELINES",
    "FORMATS",
    "POLICY_BACKENDS",
    "AnswerRequest",
    "Answerer",
    "BackendUnavailableError",
    "CallTrace",
    "ChatPolicy",
    "ChunkSample",
    "Completion",
    "Episode",
    "EpisodeTrace",
    "EvalConfigError",
    "EvalResult",
    "EvalRun",
    "HeuristicJudge",
    "HeuristicPolicy",
    "InstanceResult",
    "Judge",
    "JudgeItem",
    "LLMAnswerer",
    "LLMJudge",
    "MemalphaRolloutError",
    "MemorySnapshot",
    "Message",
    "ParsedCompletion",
    "Policy",
    "PolicyError",
    "QARecord",
    "QATrace",
    "RetrievalRecallAnswerer",
    "RewardComponents",
    "RewardConfig",
    "RolloutConfig",
    "RunFolder",
    "RunFolderError",
    "SamplingParams",
    "ScriptedPolicy",
    "StepRecord",
    "StepTrace",
    "Tokenizer",
    "ToolCall",
    "ToolCallFormat",
    "UnknownNameError",
    "__version__",
    "complete_messages",
    "episode_samples",
    "evaluate",
    "evaluate_baseline",
    "get_format",
    "judge_items",
    "load_answerer",
    "load_policy",
    "memorize",
    "plot_length_sweep",
    "plot_metrics",
    "plot_score_vs_memory",
    "read_samples",
    "read_traces",
    "render_capability_table",
    "render_prompt_ids",
    "render_prompt_text",
    "render_results_table",
    "render_trace_page",
    "run_episodes",
    "run_evaluation",
    "sft_examples",
    "summarize",
    "tool_calls_from_openai",
    "write_report",
    "write_samples",
    "write_trace_pages",
    "write_traces",
]
