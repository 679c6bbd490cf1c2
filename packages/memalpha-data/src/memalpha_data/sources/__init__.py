"""Source adapters: the real public datasets under the data root, turned into instances.

Every adapter is a function `load_x(*, root, split, seed, limit, counter, eval_fraction, **knobs) -> list[Instance]`
and is registered in `SOURCES` under the name recipes use. The data root is `root`, else `$MEMALPHA_DATA_DIR`,
else `../shared/data`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from memalpha_data.instance import Instance
from memalpha_data.sources._common import DATA_DIR_ENV, Split, data_root, split_of
from memalpha_data.sources.babi import load_babi
from memalpha_data.sources.classification import load_nlu, load_trec
from memalpha_data.sources.hotpotqa import load_hotpotqa
from memalpha_data.sources.kv_retrieval import load_kv_retrieval
from memalpha_data.sources.situatedqa import load_situatedqa
from memalpha_data.sources.squad import load_squad
from memalpha_data.sources.summaries import load_qmsum, load_squality

SourceAdapter = Callable[..., list[Instance]]


@dataclass(frozen=True)
class Source:
    """A registered adapter, with the knobs its registry name fixes (e.g. `trec_fine` fixes the granularity)."""

    adapter: SourceAdapter
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, **kwargs: Any) -> list[Instance]:
        return self.adapter(**self.fixed, **kwargs)

    def parameters(self) -> list[str]:
        """The keyword arguments a recipe may pass."""
        return [name for name in inspect.signature(self.adapter).parameters if name not in self.fixed]


SOURCES: dict[str, Source] = {
    "squad": Source(load_squad),
    "hotpotqa": Source(load_hotpotqa),
    "kv_retrieval": Source(load_kv_retrieval),
    "babi": Source(load_babi, {"capability": "AR"}),
    "babi_cr": Source(load_babi, {"capability": "CR"}),
    "trec_coarse": Source(load_trec, {"granularity": "coarse"}),
    "trec_fine": Source(load_trec, {"granularity": "fine"}),
    "nlu": Source(load_nlu),
    "squality": Source(load_squality),
    "qmsum": Source(load_qmsum),
    "situatedqa": Source(load_situatedqa),
}
"""Source adapters by the name recipes use."""

__all__ = [
    "DATA_DIR_ENV",
    "SOURCES",
    "Source",
    "SourceAdapter",
    "Split",
    "data_root",
    "load_babi",
    "load_hotpotqa",
    "load_kv_retrieval",
    "load_nlu",
    "load_qmsum",
    "load_situatedqa",
    "load_squad",
    "load_squality",
    "load_trec",
    "split_of",
]
