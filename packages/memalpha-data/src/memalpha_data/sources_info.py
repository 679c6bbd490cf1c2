"""What a `data_source` name implies: its capability and how its answers are scored (paper §6.2, §9.1, §11).

Files in the paper's layout carry only a `data_source`; these rules recover the capability and metric the
paper's code routes that source to. Our own adapters and the generator set both explicitly on every question.
"""

from __future__ import annotations

from memalpha_data.instance import Capability, MetricName

# (prefix of the data_source, capability, metric), checked in order; the first matching prefix wins
_ROUTES: tuple[tuple[str, Capability, MetricName], ...] = (
    ("squad", "AR", "sub_em"),
    ("hotpotqa", "AR", "sub_em"),
    ("perltqa", "AR", "multipart_match"),
    ("lme_train", "AR", "llm_judge"),
    ("longmemeval", "AR", "llm_judge"),
    ("ruler_", "AR", "sub_em_normalized"),
    ("eventqa", "AR", "sub_em_normalized"),
    ("kv_retrieval", "AR", "sub_em"),
    ("babi_cr", "CR", "conflict_aware"),
    ("babi", "AR", "sub_em_normalized"),
    ("pubmed", "TTL", "boxed_label_em"),
    ("ttl_train", "TTL", "boxed_label_em"),
    ("icl_", "TTL", "boxed_label_em"),
    ("trec", "TTL", "boxed_label_em"),
    ("nlu", "TTL", "boxed_label_em"),
    ("booksum", "LRU", "keyword_hit"),
    ("infbench_sum", "LRU", "keyword_hit"),
    ("squality", "LRU", "keyword_hit"),
    ("qmsum", "LRU", "keyword_hit"),
    ("detective", "LRU", "exact_match"),
    ("factconsolidation", "CR", "sub_em_normalized"),
    ("fact_", "CR", "sub_em_normalized"),
    ("situatedqa", "CR", "conflict_aware"),
    ("gen_ar", "AR", "sub_em"),
    ("gen_cr", "CR", "conflict_aware"),
    ("gen_ttl", "TTL", "boxed_label_em"),
    ("gen_lru", "LRU", "keyword_hit"),
)


def source_route(data_source: str) -> tuple[Capability, MetricName]:
    """The capability and metric of a `data_source` (MemoryAgentBench's `sub_em_normalized` for unknown ones,
    filed under AR)."""
    name = data_source.lower()
    for prefix, capability, metric in _ROUTES:
        if name.startswith(prefix):
            return capability, metric
    return "AR", "sub_em_normalized"
