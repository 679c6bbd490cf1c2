"""Per-question metrics (paper §6.2 and MemoryAgentBench's official ones) and their aggregation.

Every metric maps `(prediction, answers)` to a score in [0, 1]; with several gold answers the best one counts.

| name | rule |
|---|---|
| `sub_em` | a gold answer is a substring of the prediction, both lowercased (the paper's SQuAD/HotpotQA SubEM) |
| `sub_em_normalized` | SQuAD-normalised substring match, also tried on the first line and on the text after "Answer:" |
| `exact_match` | SQuAD-normalised equality |
| `boxed_label_em` | the first `\\boxed{...}` (else the whole answer), unquoted, is all digits and equals the gold |
| `multipart_match` | a gold `a; b; c` scores the share of its parts found in the prediction (PerLTQA) |
| `keyword_hit` | a gold `k1, k2, ...` scores the share of keywords found in the lowercased prediction (BookSum) |
| `conflict_aware` | normalised match of the current value, and 0 if a superseded value is stated as well (CR) |
| `llm_judge` | a callable `judge(question, prediction, answers) -> float | bool`; no model lives in this package |

Aggregation follows the paper: the mean over questions within an instance, the mean over instances within a data
source; then per capability the plain mean over its sources, and overall the plain mean over sources. (The
paper's published averages are not plain means; ours are, and are labelled so.)
"""

from __future__ import annotations

import re
import string
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

from memalpha_data.exceptions import UnknownMetricError
from memalpha_data.instance import Capability, Instance, MetricName, Question

LLMJudge = Callable[[str, str, Sequence[str]], "float | bool"]
"""`judge(question, prediction, answers)` -> a score in [0, 1] (or a bool)."""

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lowercase, drop punctuation and articles, collapse whitespace."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def sub_em(prediction: str, answers: Sequence[str]) -> float:
    """1.0 if some gold answer, lowercased, is a substring of the lowercased prediction (no other normalisation)."""
    lowered = prediction.lower()
    return float(any(answer.lower() in lowered for answer in answers))


def _answer_views(prediction: str) -> list[str]:
    views = [prediction]
    lines = prediction.strip().splitlines()
    if lines:
        views.append(lines[0])
    if "Answer:" in prediction:
        views.append(prediction.rsplit("Answer:", 1)[1])
    return views


def sub_em_normalized(prediction: str, answers: Sequence[str]) -> float:
    """SQuAD-normalised substring match, max over gold answers and over the whole prediction, its first line and
    the text after its last "Answer:"."""
    golds = [g for g in (normalize_answer(a) for a in answers) if g]
    padded = [f" {normalize_answer(v)} " for v in _answer_views(prediction)]
    return float(any(f" {gold} " in view for gold in golds for view in padded))


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """SQuAD-normalised equality with some gold answer (also tried on the first line and after "Answer:")."""
    views = {normalize_answer(v) for v in _answer_views(prediction)}
    return float(any(normalize_answer(answer) in views for answer in answers))


def extract_boxed(prediction: str) -> str:
    """The content of the first `\\boxed{...}`, or else the whole prediction; stripped of quotes and spaces."""
    match = _BOXED.search(prediction)
    content = match.group(1) if match else prediction
    return content.strip().strip("\"'`").strip()


def boxed_label_em(prediction: str, answers: Sequence[str]) -> float:
    """1.0 if the boxed label is all digits and equals a gold label (the paper's TTL metric)."""
    label = extract_boxed(prediction)
    return float(label.isdigit() and label.isascii() and label in {a.strip() for a in answers})


def multipart_match(prediction: str, answers: Sequence[str], *, paper_compat: bool = False) -> float:
    """A gold of `;`-separated parts scores the share of parts found in the prediction; other golds score as
    `sub_em`. With `paper_compat` the prediction is not lowercased on the multi-part branch (the paper's quirk)."""
    best = 0.0
    for answer in answers:
        if ";" not in answer:
            best = max(best, sub_em(prediction, [answer]))
            continue
        parts = [p.lower().strip() for p in answer.split(";") if p.strip()]
        haystack = prediction if paper_compat else prediction.lower()
        best = max(best, sum(p in haystack for p in parts) / len(parts) if parts else 0.0)
    return best


def keywords_of(answer: str) -> list[str]:
    """The keywords of a comma-separated gold, lowercased and stripped."""
    return [k.strip().lower() for k in answer.split(",") if k.strip()]


def keyword_hit(prediction: str, answers: Sequence[str]) -> float:
    """The share of a gold's comma-separated keywords that occur in the lowercased prediction (best gold)."""
    lowered = prediction.lower()
    best = 0.0
    for answer in answers:
        keywords = keywords_of(answer)
        if keywords:
            best = max(best, sum(k in lowered for k in keywords) / len(keywords))
    return best


def conflict_aware(prediction: str, answers: Sequence[str], superseded: Sequence[str] = ()) -> float:
    """1.0 if the prediction states a current gold value and no superseded one (normalised, whole words).

    A superseded value that is part of a gold answer (e.g. "Paris" against "Paris, Texas") is not held against
    the prediction.
    """
    if not sub_em_normalized(prediction, answers):
        return 0.0
    view = f" {normalize_answer(prediction)} "
    golds = [f" {normalize_answer(a)} " for a in answers]
    for old in superseded:
        stale = f" {normalize_answer(old)} "
        if stale.strip() and stale in view and not any(stale in gold for gold in golds):
            return 0.0
    return 1.0


Metric = Callable[[str, Question], float]

METRICS: dict[str, Metric] = {
    "sub_em": lambda p, q: sub_em(p, q.answers),
    "sub_em_normalized": lambda p, q: sub_em_normalized(p, q.answers),
    "exact_match": lambda p, q: exact_match(p, q.answers),
    "boxed_label_em": lambda p, q: boxed_label_em(p, q.answers),
    "multipart_match": lambda p, q: multipart_match(p, q.answers),
    "keyword_hit": lambda p, q: keyword_hit(p, q.answers),
    "conflict_aware": lambda p, q: conflict_aware(p, q.answers, q.superseded),
}
"""The metrics that need no model, by name. `llm_judge` is served by `score_answer(..., judge=...)`."""


def score_answer(
    question: Question, prediction: str, *, judge: LLMJudge | None = None, paper_compat: bool = False
) -> float:
    """The score in [0, 1] of `prediction` for `question` under the question's metric."""
    name: MetricName = question.metric
    if name == "llm_judge":
        if judge is None:
            raise ValueError(
                f"question {question.question!r:.60} is scored by an LLM judge: pass judge=callable(question, "
                "prediction, answers)"
            )
        return float(judge(question.question, prediction, question.answers))
    if name == "multipart_match":
        return multipart_match(prediction, question.answers, paper_compat=paper_compat)
    try:
        metric = METRICS[name]
    except KeyError:
        raise UnknownMetricError(f"unknown metric {name!r}; known: {sorted(METRICS)} and 'llm_judge'") from None
    return metric(prediction, question)


@dataclass(frozen=True)
class QuestionScore:
    """The score of one answered question, with what aggregation groups it by."""

    instance_id: str
    data_source: str
    capability: Capability
    score: float


def score_instance(
    instance: Instance,
    predictions: Sequence[str],
    *,
    judge: LLMJudge | None = None,
    paper_compat: bool = False,
) -> list[QuestionScore]:
    """Scores of one prediction per question of `instance`, in order."""
    if len(predictions) != instance.num_questions:
        raise ValueError(
            f"instance {instance.id!r} has {instance.num_questions} questions but {len(predictions)} predictions"
        )
    return [
        QuestionScore(
            instance.id,
            instance.data_source,
            instance.capability,
            score_answer(q, p, judge=judge, paper_compat=paper_compat),
        )
        for q, p in zip(instance.questions, predictions, strict=True)
    ]


@dataclass(frozen=True)
class ScoreSummary:
    """Scores aggregated the paper's way: questions → instance → data source; then plain means."""

    per_instance: dict[str, float]
    per_source: dict[str, float]
    per_capability: dict[str, float]
    mean_over_sources: float
    num_questions: int
    instances_per_source: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "per_instance": self.per_instance,
            "per_source": self.per_source,
            "per_capability": self.per_capability,
            "mean_over_sources": self.mean_over_sources,
            "num_questions": self.num_questions,
            "instances_per_source": self.instances_per_source,
        }


def aggregate(scores: Iterable[QuestionScore]) -> ScoreSummary:
    """Mean over questions per instance, mean over instances per source, plain means per capability and overall."""
    by_instance: dict[str, list[float]] = defaultdict(list)
    source_of: dict[str, str] = {}
    capability_of: dict[str, Capability] = {}
    count = 0
    for item in scores:
        if source_of.setdefault(item.instance_id, item.data_source) != item.data_source:
            raise ValueError(f"instance {item.instance_id!r} is listed under two data sources")
        by_instance[item.instance_id].append(item.score)
        capability_of[item.data_source] = item.capability
        count += 1
    per_instance = {i: fmean(s) for i, s in by_instance.items()}
    by_source: dict[str, list[float]] = defaultdict(list)
    for instance_id, value in per_instance.items():
        by_source[source_of[instance_id]].append(value)
    per_source = {s: fmean(v) for s, v in sorted(by_source.items())}
    by_capability: dict[str, list[float]] = defaultdict(list)
    for source, value in per_source.items():
        by_capability[capability_of[source]].append(value)
    return ScoreSummary(
        per_instance=per_instance,
        per_source=per_source,
        per_capability={c: fmean(v) for c, v in sorted(by_capability.items())},
        mean_over_sources=fmean(per_source.values()) if per_source else 0.0,
        num_questions=count,
        instances_per_source={s: len(v) for s, v in sorted(by_source.items())},
    )
