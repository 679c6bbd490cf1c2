"""Dataset statistics, cards and validation: what a built dataset holds, per data source (like paper Table 6)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from statistics import fmean

from memalpha_data.instance import Capability, Instance
from memalpha_data.tokens import TokenCounter, count_tokens

_EXTRACTIVE = frozenset({"sub_em", "sub_em_normalized", "exact_match", "conflict_aware"})
_REASONED = frozenset({"yes", "no"})  # answers a reader infers rather than finds in the text


@dataclass(frozen=True)
class SourceStats:
    """Sizes of the instances of one data source."""

    data_source: str
    capability: Capability
    metrics: tuple[str, ...]
    instances: int
    chunks_per_instance: float
    tokens_per_chunk: float
    questions_per_instance: float
    tokens_per_instance: float
    max_tokens_per_instance: int


def dataset_stats(instances: Iterable[Instance], *, counter: TokenCounter = count_tokens) -> list[SourceStats]:
    """One `SourceStats` per data source, sorted by capability then name."""
    groups: dict[str, list[Instance]] = defaultdict(list)
    for instance in instances:
        groups[instance.data_source].append(instance)
    rows = []
    for source, members in groups.items():
        chunk_tokens = [t for inst in members for t in inst.chunk_tokens(counter)]
        totals = [inst.total_tokens(counter) for inst in members]
        rows.append(
            SourceStats(
                data_source=source,
                capability=members[0].capability,
                metrics=tuple(sorted({q.metric for inst in members for q in inst.questions})),
                instances=len(members),
                chunks_per_instance=fmean(inst.num_chunks for inst in members),
                tokens_per_chunk=fmean(chunk_tokens),
                questions_per_instance=fmean(inst.num_questions for inst in members),
                tokens_per_instance=fmean(totals),
                max_tokens_per_instance=max(totals),
            )
        )
    order = {"AR": 0, "TTL": 1, "LRU": 2, "CR": 3}
    return sorted(rows, key=lambda r: (order[r.capability], r.data_source))


def stats_table(rows: Sequence[SourceStats]) -> str:
    """A markdown table of `rows` in the layout of the paper's Table 6."""
    lines = [
        "| Dataset | Cap. | Metric | Ins. | Ch/Ins | Tok/Ch | Q/Ins | Tok/Ins (max) |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.data_source} | {r.capability} | {', '.join(r.metrics)} | {r.instances:,} | "
            f"{r.chunks_per_instance:.1f} | {r.tokens_per_chunk:,.0f} | {r.questions_per_instance:.1f} | "
            f"{r.tokens_per_instance:,.0f} ({r.max_tokens_per_instance:,}) |"
        )
    if rows:
        total = sum(r.instances for r in rows)
        lines.append(f"| **total** | | | {total:,} | | | | |")
    return "\n".join(lines)


def stats_to_json(rows: Sequence[SourceStats]) -> list[dict[str, object]]:
    return [asdict(r) for r in rows]


def render_card(
    name: str,
    description: str,
    splits: Mapping[str, Sequence[SourceStats]],
    *,
    details: Mapping[str, str] | None = None,
) -> str:
    """A markdown dataset card: what the recipe is, then one statistics table per split."""
    parts = [f"# Dataset card: `{name}`", "", description.strip(), ""]
    parts += [f"- {key}: {value}" for key, value in (details or {}).items()]
    for split, rows in splits.items():
        parts += ["", f"## {split}", "", stats_table(rows)]
    parts += [
        "",
        "Tokens are counted with memalpha-data's default counter (words and punctuation marks), about 1.2 times",
        "fewer than a BPE tokenizer such as Qwen3's counts.",
        "",
    ]
    return "\n".join(parts)


def validate_instances(instances: Iterable[Instance]) -> list[str]:
    """Problems a dataset should not have: duplicate ids, and extractive answers that appear in no chunk (yes/no
    answers are exempt: they are inferred, not found).

    Returns one line per problem (empty when the data is clean).
    """
    problems = []
    seen: set[str] = set()
    for instance in instances:
        if instance.id in seen:
            problems.append(f"{instance.id}: duplicate instance id")
        seen.add(instance.id)
        stream = "\n".join(instance.chunks).lower()
        for number, question in enumerate(instance.questions):
            answers = [a.lower() for a in question.answers]
            if (
                question.metric in _EXTRACTIVE
                and not _REASONED & set(answers)
                and not any(a in stream for a in answers)
            ):
                problems.append(
                    f"{instance.id}: question {number} ({question.question!r:.60}): no answer appears in the chunks"
                )
    return problems
