"""Benchmarks of memalpha-memory, each against a baseline measured in the same process.

Run: ``python packages/memalpha-memory/benchmarks/bench_memory.py --out runs/bench [--quick]``; writes
``memory.json`` into ``--out`` and prints a summary table. Entries are real English sentences and queries
real questions (SQuAD v1.1/v2.0 dev paragraphs and HotpotQA contexts from ``--data-dir``); without the data a
deterministic synthetic generator is used and the JSON says so (``machine.corpus``). Seeds are fixed.

Workloads:

1. ``training_qa`` -- the RL QA phase: N namespaces x ~300 semantic entries x 100 questions, BM25 top-20 per
   question. Ours builds one `BM25Index` per namespace and scores all questions with ``batch_top_k`` (build
   included). The baseline is the paper's approach: a fresh ``rank_bm25.BM25Okapi`` over the namespace's
   tokenized entries for every question, top-20 of ``get_scores``. The baseline is slow, so it runs on a
   subset of the namespaces, and ours is timed again on that same subset (median of 3 runs):
   ``speedup_per_namespace`` = baseline ms per namespace / ours ms per namespace (higher is better).
   ``speedup_vs_build_once`` compares with rank_bm25 built once per namespace; ``max_abs_score_diff`` checks
   that our scores equal rank_bm25's.
2. ``library_fts`` -- the library / memory server: one store of 1,000 namespaces x 100 entries plus one
   namespace of 10,000 entries (~110k rows), loaded through the buffered API, then ``optimize()``.
   Latency of ``Memory.search(q, k=20, mode="fts")`` on random namespaces (p50/p90/p99 ms). Baselines: the
   same prefiltered FTS query sent straight to the LanceDB table (``wrapper_overhead`` = ours p50 / raw p50,
   1.0 is no overhead), and ``mode="bm25"`` (reads the namespace's state and builds exact BM25 on each call).
   The three run side by side, query by query in rotating order, so machine noise hits them alike.
3. ``tool_calls`` -- RL rollouts: N namespaces x 10 write calls per step (1 core rewrite, 5 inserts, 2 updates
   of live ids, 2 deletes of which ~10 % name unknown ids and become error results), one ``store.flush`` per
   step, on a store on local disk (auto-optimize at its default). Reported as calls/s end to end (apply +
   flush), calls/s of apply alone, flush ms per step, and ``slowdown_vs_dicts`` = our time / the time of the
   same calls applied to plain Python dicts (1.0 would be free; the dicts validate and persist nothing).
   Variants: arguments as dicts or as JSON strings, a ``memory://`` store, ``flush(wait=False)`` (each
   step's commit runs on a background thread while the next step's calls are applied), and memories that
   keep their calls out of the operation log (``record_operations=False``).

``targets`` holds the project's targets with pass/fail booleans. The machine is small (2 cores) and may be
shared: ``machine.load_average_*`` tells how busy it was; compare ratios across runs rather than seconds.
``--profile`` also writes a cProfile of the tool-call workload (``tool_calls_profile.txt``).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import logging
import os
import platform
import pstats
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
from rank_bm25 import BM25Okapi

import memalpha_memory
from memalpha_memory import BM25Index, MemoryStore, WorkingMemory, bm25_tokenize

logger = logging.getLogger("bench_memory")

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
TARGET_QA_SPEEDUP = 50.0
TARGET_FTS_P50_MS = 5.0
TARGET_CALLS_PER_S = 50_000.0
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


# ----------------------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Settings:
    """Sizes of the three workloads."""

    qa_namespaces: int = 256
    qa_entries: int = 300
    qa_questions: int = 100
    qa_baseline_namespaces: int = 32
    qa_verify_namespaces: int = 4
    fts_namespaces: int = 1_000
    fts_entries: int = 100
    fts_big_entries: int = 10_000
    fts_queries: int = 300
    fts_big_queries: int = 50
    bm25_big_queries: int = 20
    load_batch_namespaces: int = 100
    tool_namespaces: int = 256
    tool_steps: int = 50


QUICK = Settings(
    qa_namespaces=32,
    qa_baseline_namespaces=4,
    qa_verify_namespaces=2,
    fts_namespaces=100,
    fts_big_entries=2_000,
    fts_big_queries=20,
    bm25_big_queries=10,
    tool_steps=10,
)


# ------------------------------------------------------------------------------------------------- corpus
@dataclass(frozen=True)
class Unit:
    """A paragraph-sized group of sentences and the questions asked about it."""

    sentences: tuple[str, ...]
    questions: tuple[str, ...]


@dataclass(frozen=True)
class Corpus:
    units: tuple[Unit, ...]
    source: str

    @property
    def sentences(self) -> list[str]:
        return list(dict.fromkeys(s for u in self.units for s in u.sentences))

    @property
    def questions(self) -> list[str]:
        return [q for u in self.units for q in u.questions]


def _split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if len(s.split()) >= 4]


def _squad_units(path: Path) -> list[Unit]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    return [
        Unit(tuple(_split_sentences(p["context"])), tuple(q["question"].strip() for q in p["qas"]))
        for article in data
        for p in article["paragraphs"]
    ]


def _hotpot_units(train: Path, dev: Path) -> list[Unit]:
    units = []
    for example in json.loads(train.read_text(encoding="utf-8")):
        paragraphs = [sentences for _, sentences in example["context"]]
        units.append(_hotpot_unit(paragraphs, example["question"]))
    for example in json.loads(dev.read_text(encoding="utf-8")):
        paragraphs = [example["para_a"], example["para_b"], *(d[1] for d in example["distractors"])]
        units.append(_hotpot_unit(paragraphs, example["question"]))
    return units


def _hotpot_unit(paragraphs: Iterable[Sequence[str]], question: str) -> Unit:
    sentences = tuple(s.strip() for p in paragraphs for s in p if len(s.split()) >= 4)
    return Unit(sentences, (question.strip(),))


def load_corpus(data_dir: Path) -> Corpus:
    """SQuAD dev paragraphs and HotpotQA contexts with their questions, or a synthetic corpus if missing."""
    files = {
        "squad1": data_dir / "squad" / "squad_dev_v1.1.json",
        "squad2": data_dir / "squad" / "squad_dev_v2.0.json",
        "hotpot_train": data_dir / "hotpotqa" / "hotpotqa_train100.json",
        "hotpot_dev": data_dir / "hotpotqa" / "hotpot_dev_distractor_sample100.json",
    }
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        logger.warning("data files missing (%s); using the synthetic corpus", ", ".join(missing))
        return synthetic_corpus()
    units = _squad_units(files["squad1"]) + _squad_units(files["squad2"])
    units += _hotpot_units(files["hotpot_train"], files["hotpot_dev"])
    seen: set[tuple[str, ...]] = set()
    unique = []
    for unit in units:
        if unit.sentences and unit.sentences not in seen:
            seen.add(unit.sentences)
            unique.append(unit)
    return Corpus(tuple(unique), f"real: SQuAD dev v1.1+v2.0, HotpotQA train100+dev100 ({data_dir.resolve()})")


_NAMES = "Ana Bruno Chen Dara Elif Farid Greta Hiro Ines Jonas Kofi Lena Mateo Nora Omar Priya Rui Sofia Tomas Yara"
_VERBS = "founded visited studied painted described designed managed recorded discovered translated"
_OBJECTS = "a museum|the bridge|an opera|a treaty|the river delta|a chess club|the observatory|a vineyard|a ferry line"
_PLACES = "Porto Lyon Kyoto Accra Quito Tartu Hobart Fez Bergen Cusco Oaxaca Lille Tromso Salta Izmir Graz"


def synthetic_corpus(n_units: int = 4_000, seed: int = 7) -> Corpus:
    """Deterministic English-like paragraphs (5 sentences) with 5 questions each."""
    rng = random.Random(seed)
    names, verbs, places = _NAMES.split(), _VERBS.split(), _PLACES.split()
    objects = _OBJECTS.split("|")
    units = []
    for u in range(n_units):
        sentences, questions = [], []
        for s in range(5):
            who, verb, what, where = rng.choice(names), rng.choice(verbs), rng.choice(objects), rng.choice(places)
            year = rng.randint(1800, 2024)
            sentences.append(f"In {year}, {who} {verb} {what} near {where}, according to record {u}-{s}.")
            questions.append(f"Who {verb} {what} near {where} in {year}?")
        units.append(Unit(tuple(sentences), tuple(questions)))
    return Corpus(tuple(units), "synthetic (data directory missing)")


def draw_namespace(corpus: Corpus, rng: random.Random, n_entries: int, n_questions: int) -> tuple[list[str], list[str]]:
    """Entries (distinct sentences) from randomly drawn units, and questions about those units (topped up)."""
    entries: dict[str, None] = {}
    questions: list[str] = []
    order = rng.sample(range(len(corpus.units)), len(corpus.units))
    for index in order:
        if len(entries) >= n_entries:
            break
        unit = corpus.units[index]
        entries.update(dict.fromkeys(unit.sentences))
        questions += unit.questions
    picked = rng.sample(questions, min(n_questions, len(questions)))
    if len(picked) < n_questions:
        everything = corpus.questions
        picked += [rng.choice(everything) for _ in range(n_questions - len(picked))]
    return list(entries)[:n_entries], picked


# ------------------------------------------------------------------------------------------------ helpers
def percentiles_ms(seconds: Sequence[float]) -> dict[str, float]:
    values = np.asarray(seconds) * 1e3
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 3),
        "p90_ms": round(float(np.percentile(values, 90)), 3),
        "p99_ms": round(float(np.percentile(values, 99)), 3),
        "max_ms": round(float(values.max()), 3),
    }


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def git_state() -> dict[str, Any]:
    """The repository commit and whether the package's source has uncommitted changes (None outside git)."""
    root = Path(__file__).resolve().parents[3]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "packages/memalpha-memory/src"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return {"git_commit": None, "git_src_dirty": None}
    return {"git_commit": commit.stdout.strip(), "git_src_dirty": bool(status.stdout.strip())}


def machine_info(corpus: Corpus, quick: bool, seed: int) -> dict[str, Any]:
    return {
        **git_state(),
        "cpu_count": os.cpu_count(),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "memalpha_memory": memalpha_memory.__version__,
        "lancedb": lancedb.__version__,
        "pyarrow": package_version("pyarrow"),
        "numpy": np.__version__,
        "scipy": package_version("scipy"),
        "rank_bm25": package_version("rank-bm25"),
        "corpus": corpus.source,
        "corpus_units": len(corpus.units),
        "corpus_sentences": len(corpus.sentences),
        "quick": quick,
        "seed": seed,
    }


# ------------------------------------------------------------------------------------ 1. training QA (BM25)
def ours_qa(namespaces: Sequence[tuple[list[str], list[str]]]) -> float:
    """Seconds to build one BM25Index per namespace and rank all its questions."""
    start = time.perf_counter()
    for entries, questions in namespaces:
        BM25Index(entries).batch_top_k(questions, 20)
    return time.perf_counter() - start


def paper_qa(namespaces: Sequence[tuple[list[str], list[str]]]) -> float:
    """Seconds for the paper's way: a fresh BM25Okapi over the tokenized entries for every question."""
    start = time.perf_counter()
    for entries, questions in namespaces:
        tokenized = [bm25_tokenize(e) for e in entries]
        for question in questions:
            scores = BM25Okapi(tokenized).get_scores(bm25_tokenize(question))
            np.argsort(-scores, kind="stable")[:20]
    return time.perf_counter() - start


def build_once_qa(namespaces: Sequence[tuple[list[str], list[str]]]) -> float:
    """Seconds with rank_bm25 built once per namespace (a fairer, non-paper baseline)."""
    start = time.perf_counter()
    for entries, questions in namespaces:
        bm25 = BM25Okapi([bm25_tokenize(e) for e in entries])
        for question in questions:
            np.argsort(-bm25.get_scores(bm25_tokenize(question)), kind="stable")[:20]
    return time.perf_counter() - start


def verify_qa(namespaces: Sequence[tuple[list[str], list[str]]]) -> dict[str, float]:
    """Compare our scores and top-20 with rank_bm25 on every question of these namespaces."""
    full_diff = top_diff = 0.0
    same_top = total = 0
    for entries, questions in namespaces:
        index = BM25Index(entries)
        ours = index.batch_scores(questions)
        reference = BM25Okapi([bm25_tokenize(e) for e in entries])
        for row, question in enumerate(questions):
            expected = reference.get_scores(bm25_tokenize(question))
            full_diff = max(full_diff, float(np.abs(ours[row] - expected).max()))
            ours_top = index.top_k(question, 20)
            reference_top = np.argsort(-expected, kind="stable")[:20]
            top_scores = np.array([score for _, score in ours_top])
            top_diff = max(top_diff, float(np.abs(top_scores - expected[reference_top]).max()))
            same_top += [i for i, _ in ours_top] == reference_top.tolist()
            total += 1
    return {
        "max_abs_score_diff": full_diff,
        "top20_max_abs_score_diff": top_diff,
        "top20_identical_fraction": same_top / total,
        "verified_questions": total,
    }


def run_training_qa(corpus: Corpus, settings: Settings, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    namespaces = [
        draw_namespace(corpus, rng, settings.qa_entries, settings.qa_questions) for _ in range(settings.qa_namespaces)
    ]
    subset = namespaces[: settings.qa_baseline_namespaces]
    logger.info("training_qa: ours over %d namespaces", len(namespaces))
    ours_all = ours_qa(namespaces)
    logger.info("training_qa: paper baseline over %d namespaces", len(subset))
    paper = paper_qa(subset)
    ours_subset = statistics.median(ours_qa(subset) for _ in range(3))
    build_once = build_once_qa(subset)
    logger.info("training_qa: verifying scores against rank_bm25")
    check = verify_qa(namespaces[: settings.qa_verify_namespaces])
    n_all, n_sub = len(namespaces), len(subset)
    ours_ms, paper_ms = ours_subset / n_sub * 1e3, paper / n_sub * 1e3
    return {
        "namespaces": n_all,
        "entries_per_namespace_mean": statistics.fmean(len(e) for e, _ in namespaces),
        "questions_per_namespace": settings.qa_questions,
        "entry_words_mean": round(statistics.fmean(len(s.split()) for e, _ in namespaces for s in e), 1),
        "top_k": 20,
        "ours_total_s": round(ours_all, 4),
        "ours_ms_per_namespace": round(ours_all / n_all * 1e3, 3),
        "baseline": "paper: BM25Okapi rebuilt per question over pre-tokenized entries (tokenizing once per namespace)",
        "baseline_namespaces": n_sub,
        "baseline_note": f"baseline timed on the first {n_sub} namespaces; ours re-timed on the same subset",
        "baseline_total_s": round(paper, 4),
        "baseline_ms_per_namespace": round(paper_ms, 3),
        "ours_subset_ms_per_namespace": round(ours_ms, 3),
        "speedup_per_namespace": round(paper_ms / ours_ms, 1),
        "baseline_extrapolated_total_s": round(paper_ms * n_all / 1e3, 2),
        "build_once_ms_per_namespace": round(build_once / n_sub * 1e3, 3),
        "speedup_vs_build_once": round(build_once / ours_subset, 1),
        **check,
    }


# ---------------------------------------------------------------------------------- 2. library FTS latency
@dataclass
class LoadStats:
    apply_s: float = 0.0
    flush_s: float = 0.0
    calls: int = 0


def load_namespaces(store: MemoryStore, contents: dict[str, list[str]], batch: int, rng: random.Random) -> LoadStats:
    """Insert every namespace's entries through buffered_many -> apply -> flush, ``batch`` namespaces at a time."""
    stats = LoadStats()
    names = list(contents)
    for start in range(0, len(names), batch):
        chunk = names[start : start + batch]
        t0 = time.perf_counter()
        memories = store.buffered_many(chunk)
        for name in chunk:
            memory = memories[name]
            for text in contents[name]:
                memory_type = "episodic_memory" if rng.random() < 0.25 else "semantic_memory"
                memory.apply_tool_call("new_memory_insert", {"memory_type": memory_type, "content": text})
            stats.calls += len(contents[name])
        t1 = time.perf_counter()
        store.flush(memories.values())
        stats.apply_s += t1 - t0
        stats.flush_s += time.perf_counter() - t1
    return stats


def raw_fts(table: Any, namespace: str, query: str) -> int:
    """The library's FTS query sent straight to LanceDB (same filter, no kind filter, no result objects)."""
    rows = (
        table.search(query, query_type="fts")
        .where(f"namespace = '{namespace}'", prefilter=True)
        .select(["id", "content", "_score"])
        .limit(20)
        .to_arrow()
    )
    return int(rows.num_rows)


Runner = Callable[[str, str], int]  # (namespace, query) -> number of hits


def time_interleaved(runners: dict[str, Runner], queries: Sequence[tuple[str, str]]) -> dict[str, dict[str, float]]:
    """Run every runner on every query, side by side in rotating order; latency percentiles and mean hits."""
    names = list(runners)
    for namespace, query in queries[:10]:  # warm-up, not timed
        for run in runners.values():
            run(namespace, query)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    hits: dict[str, list[int]] = {name: [] for name in names}
    for i, (namespace, query) in enumerate(queries):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            hits[name].append(runners[name](namespace, query))
            seconds[name].append(time.perf_counter() - start)
    return {
        name: {
            **percentiles_ms(seconds[name]),
            "queries": len(queries),
            "mean_hits": round(statistics.fmean(hits[name]), 2),
        }
        for name in names
    }


def run_library_fts(corpus: Corpus, settings: Settings, seed: int, workdir: Path) -> dict[str, Any]:
    rng = random.Random(seed)
    contents: dict[str, list[str]] = {}
    questions: dict[str, list[str]] = {}
    for i in range(settings.fts_namespaces):
        name = f"user-{i:04d}"
        contents[name], questions[name] = draw_namespace(corpus, rng, settings.fts_entries, 20)
    big = "big-0000"
    contents[big], questions[big] = draw_namespace(corpus, rng, settings.fts_big_entries, 100)
    folder = workdir / "library"
    store = MemoryStore.open(folder)
    logger.info("library_fts: loading %d entries into %d namespaces", sum(map(len, contents.values())), len(contents))
    load = load_namespaces(store, contents, settings.load_batch_namespaces, rng)
    optimize_s, _ = timed(store.optimize)
    table = lancedb.connect(str(folder)).open_table("memory")
    index = table.index_stats("content_idx")
    small = [name for name in contents if name != big]
    queries = [(name, rng.choice(questions[name])) for name in rng.choices(small, k=settings.fts_queries)]
    big_queries = [(big, q) for q in rng.sample(questions[big], min(settings.fts_big_queries, len(questions[big])))]

    def fts(namespace: str, query: str) -> int:
        return len(store.namespace(namespace).search(query, k=20, mode="fts"))

    def bm25(namespace: str, query: str) -> int:
        return len(store.namespace(namespace).search(query, k=20, mode="bm25"))

    def raw(namespace: str, query: str) -> int:
        return raw_fts(table, namespace, query)

    logger.info("library_fts: %d queries, each as fts, raw LanceDB fts and bm25 (interleaved)", len(queries))
    small_ns = time_interleaved({"fts": fts, "raw_lancedb_fts": raw, "bm25_mode": bm25}, queries)
    logger.info("library_fts: %d queries on the %d-entry namespace", len(big_queries), len(contents[big]))
    big_ns = time_interleaved({"fts": fts, "raw_lancedb_fts": raw}, big_queries)
    big_ns |= time_interleaved({"bm25_mode": bm25}, big_queries[: settings.bm25_big_queries])
    return {
        "rows": table.count_rows(),
        "namespaces": len(contents),
        "entries_per_namespace": settings.fts_entries,
        "big_namespace_entries": len(contents[big]),
        "load_calls": load.calls,
        "load_apply_s": round(load.apply_s, 3),
        "load_flush_s": round(load.flush_s, 3),
        "load_batch_namespaces": settings.load_batch_namespaces,
        "load_calls_per_s": round(load.calls / (load.apply_s + load.flush_s)),
        "optimize_s": round(optimize_s, 3),
        "fts_unindexed_rows_after_optimize": index.num_unindexed_rows if index else None,
        **small_ns,
        "wrapper_overhead": round(small_ns["fts"]["p50_ms"] / small_ns["raw_lancedb_fts"]["p50_ms"], 2),
        "bm25_over_fts_p50": round(small_ns["bm25_mode"]["p50_ms"] / small_ns["fts"]["p50_ms"], 2),
        "big_namespace": big_ns,
    }


# ---------------------------------------------------------------------------------------- 3. tool calls
Call = tuple[str, Any]  # (tool name, arguments)
Step = list[tuple[str, list[Call]]]  # per namespace, its calls in order


@dataclass
class Script:
    """The tool calls of every step, with the ids the memories will give (seeded) and the expected outcome."""

    steps: list[Step]
    seeds: dict[str, int]
    calls: int
    expected_errors: int
    final_entries: int


def _id_seed(seed: int, index: int) -> int:
    return seed * 100_003 + index


def make_script(corpus: Corpus, namespaces: int, steps: int, seed: int) -> Script:
    """Generate the calls by applying them to seeded, unbound working memories (so live ids are known)."""
    rng = random.Random(seed)
    pool = corpus.sentences
    names = [f"rollout-{i:03d}" for i in range(namespaces)]
    seeds = {name: _id_seed(seed, i) for i, name in enumerate(names)}
    memories = {name: WorkingMemory(seed=seeds[name]) for name in names}
    texts = {name: iter(rng.sample(pool, min(len(pool), 8 * steps))) for name in names}
    live: dict[str, list[tuple[str, str]]] = {name: [] for name in names}
    script: list[Step] = []
    errors = 0
    for _ in range(steps):
        step: Step = []
        for name in names:
            calls, failed = _step_calls(memories[name], live[name], texts[name], rng)
            step.append((name, calls))
            errors += failed
        script.append(step)
    total = sum(len(calls) for step in script for _, calls in step)
    return Script(script, seeds, total, errors, sum(len(m) for m in memories.values()))


def _step_calls(
    memory: WorkingMemory, live: list[tuple[str, str]], texts: Iterator[str], rng: random.Random
) -> tuple[list[Call], int]:
    """One namespace's 10 calls for one step, applied to ``memory`` to learn the ids; also the error count."""
    calls: list[Call] = []
    errors = 0

    def apply(tool: str, args: dict[str, str]) -> str | None:
        nonlocal errors
        calls.append((tool, args))
        result = memory.apply_tool_call(tool, args)
        errors += result.status == "error"
        return result.memory_id

    apply(
        "memory_update", {"memory_type": "core_memory", "new_content": f"{next(texts)} The user prefers short answers."}
    )
    for _ in range(5):
        memory_type = "semantic_memory" if rng.random() < 0.6 else "episodic_memory"
        new_id = apply("new_memory_insert", {"memory_type": memory_type, "content": next(texts)})
        if new_id is not None:
            live.append((memory_type, new_id))
    for _ in range(2):
        memory_type, memory_id = rng.choice(live)
        apply("memory_update", {"memory_type": memory_type, "memory_id": memory_id, "new_content": next(texts)})
    for _ in range(2):
        if rng.random() < 0.1:
            apply("memory_delete", {"memory_type": "semantic_memory", "memory_id": f"zz{rng.randrange(10**6)}"})
        else:
            memory_type, memory_id = live.pop(rng.randrange(len(live)))
            apply("memory_delete", {"memory_type": memory_type, "memory_id": memory_id})
    return calls, errors


@dataclass
class ToolRun:
    apply_s: float = 0.0
    flush_s: list[float] = field(default_factory=list)
    errors: int = 0

    def summary(self, calls: int) -> dict[str, Any]:
        total = self.apply_s + sum(self.flush_s)
        flush = percentiles_ms(self.flush_s) if self.flush_s else {}
        return {
            "total_s": round(total, 4),
            "apply_s": round(self.apply_s, 4),
            "flush_total_s": round(sum(self.flush_s), 4),
            "calls_per_s": round(calls / total),
            "apply_calls_per_s": round(calls / self.apply_s),
            "flush_ms": flush,
            "flush_ms_per_step": [round(x * 1e3, 1) for x in self.flush_s],
            "flush_share": round(sum(self.flush_s) / total, 3),
            "error_results": self.errors,
        }


def run_store(
    uri: str, script: Script, as_json: bool, background: bool = False, log: bool = True
) -> tuple[ToolRun, dict[str, dict[str, str]]]:
    """Apply the script through the buffered path with one flush per step; return timings and final contents.

    ``background`` flushes with ``wait=False``: each step's commit overlaps the next step's calls, and the
    time charged to a flush is what the caller waits for (the previous commit, then handing over the rows).
    """
    store = MemoryStore.open(uri)
    memories = {
        name: store.working_memory(name, seed=seed, record_operations=log) for name, seed in script.seeds.items()
    }
    steps = [_as_json(step) for step in script.steps] if as_json else script.steps
    run = ToolRun()
    for step in steps:
        start = time.perf_counter()
        for name, calls in step:
            memory = memories[name]
            for tool, args in calls:
                run.errors += memory.apply_tool_call(tool, args).status == "error"
        middle = time.perf_counter()
        store.flush(memories.values(), wait=not background)
        run.apply_s += middle - start
        run.flush_s.append(time.perf_counter() - middle)
    start = time.perf_counter()
    store.close()  # waits for the last background commit
    run.flush_s[-1] += time.perf_counter() - start
    final = {
        name: {e.id: e.content for t in ("semantic", "episodic") for e in m.entries(t)} for name, m in memories.items()
    }
    return run, final


def _as_json(step: Step) -> Step:
    """The step with every call's arguments as a JSON string, as an LLM's tool-call parser hands them over."""
    return [(name, [(tool, json.dumps(args)) for tool, args in calls]) for name, calls in step]


class DictMemory:
    """The minimal baseline: a core string and id -> content dicts, ids drawn like WorkingMemory's."""

    __slots__ = ("core", "rng", "types")

    def __init__(self, seed: int) -> None:
        self.core = ""
        self.rng = random.Random(seed)
        self.types: dict[str, dict[str, str]] = {"semantic_memory": {}, "episodic_memory": {}}

    def new_id(self) -> str:
        width = 4
        for attempt in range(64):
            if attempt and attempt % 8 == 0:
                width += 2
            memory_id = f"{self.rng.getrandbits(4 * width):0{width}x}"
            if memory_id not in self.types["semantic_memory"] and memory_id not in self.types["episodic_memory"]:
                return memory_id
        raise RuntimeError("no free id")

    def apply(self, tool: str, args: dict[str, str]) -> None:
        if tool == "new_memory_insert":
            self.types[args["memory_type"]][self.new_id()] = args["content"]
        elif tool == "memory_update":
            if args["memory_type"] == "core_memory":
                self.core = args["new_content"]
            else:
                self.types[args["memory_type"]][args["memory_id"]] = args["new_content"]
        elif tool == "memory_delete":
            self.types[args["memory_type"]].pop(args["memory_id"], None)


def run_dicts(script: Script) -> tuple[float, dict[str, dict[str, str]]]:
    memories = {name: DictMemory(seed) for name, seed in script.seeds.items()}
    start = time.perf_counter()
    for step in script.steps:
        for name, calls in step:
            memory = memories[name]
            for tool, args in calls:
                memory.apply(tool, args)
    elapsed = time.perf_counter() - start
    return elapsed, {name: {**m.types["semantic_memory"], **m.types["episodic_memory"]} for name, m in memories.items()}


def run_tool_calls(corpus: Corpus, settings: Settings, seed: int, workdir: Path) -> dict[str, Any]:
    script = make_script(corpus, settings.tool_namespaces, settings.tool_steps, seed)
    logger.info("tool_calls: %d calls (%d steps x %d namespaces)", script.calls, len(script.steps), len(script.seeds))
    dict_s, expected = run_dicts(script)
    variants: dict[str, Any] = {}
    for label, uri, as_json, background, log in (
        ("disk_dict_args", str(workdir / "tools-dict"), False, False, True),
        ("disk_dict_args_background_flush", str(workdir / "tools-background"), False, True, True),
        ("disk_dict_args_no_operation_log", str(workdir / "tools-nolog"), False, False, False),
        ("disk_json_args", str(workdir / "tools-json"), True, False, True),
        ("memory_uri_dict_args", "memory://", False, False, True),
    ):
        logger.info("tool_calls: %s", label)
        gc.collect()
        run, final = run_store(uri, script, as_json, background, log)
        summary = run.summary(script.calls)
        summary["slowdown_vs_dicts"] = round(summary["total_s"] / dict_s, 2)
        summary["apply_slowdown_vs_dicts"] = round(run.apply_s / dict_s, 2)
        summary["same_final_state_as_dicts"] = final == expected
        variants[label] = summary
    return {
        "namespaces": settings.tool_namespaces,
        "steps": settings.tool_steps,
        "calls_per_step": script.calls // len(script.steps),
        "calls": script.calls,
        "expected_error_results": script.expected_errors,
        "final_entries": script.final_entries,
        "auto_optimize_every_commits": 50,
        "dicts_baseline": {"total_s": round(dict_s, 4), "calls_per_s": round(script.calls / dict_s)},
        **variants,
    }


def profile_tool_calls(corpus: Corpus, settings: Settings, seed: int, workdir: Path, out: Path) -> None:
    """cProfile the disk/dict-args variant and write the top functions by cumulative time."""
    script = make_script(corpus, settings.tool_namespaces, settings.tool_steps, seed)
    profiler = cProfile.Profile()
    profiler.enable()
    run_store(str(workdir / "tools-profile"), script, False)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(45)
    (out / "tool_calls_profile.txt").write_text(text.getvalue(), encoding="utf-8")
    logger.info("profile written to %s", out / "tool_calls_profile.txt")


# ------------------------------------------------------------------------------------------------ report
def targets(workloads: dict[str, Any]) -> dict[str, Any]:
    qa, fts, tools = workloads["training_qa"], workloads["library_fts"], workloads["tool_calls"]
    return {
        "training_qa_speedup_ge_50x": {
            "value": qa["speedup_per_namespace"],
            "target": TARGET_QA_SPEEDUP,
            "pass": qa["speedup_per_namespace"] >= TARGET_QA_SPEEDUP,
        },
        "training_qa_scores_match_rank_bm25": {
            "value": qa["max_abs_score_diff"],
            "target": 1e-9,
            "pass": qa["max_abs_score_diff"] <= 1e-9,
        },
        "library_fts_p50_le_5ms": {
            "value": fts["fts"]["p50_ms"],
            "target": TARGET_FTS_P50_MS,
            "pass": fts["fts"]["p50_ms"] <= TARGET_FTS_P50_MS,
        },
        "tool_calls_ge_50k_per_s": {
            "value": tools["disk_dict_args"]["calls_per_s"],
            "target": TARGET_CALLS_PER_S,
            "pass": tools["disk_dict_args"]["calls_per_s"] >= TARGET_CALLS_PER_S,
        },
        "tool_calls_ge_50k_per_s_background_flush": {
            "value": tools["disk_dict_args_background_flush"]["calls_per_s"],
            "target": TARGET_CALLS_PER_S,
            "pass": tools["disk_dict_args_background_flush"]["calls_per_s"] >= TARGET_CALLS_PER_S,
        },
    }


def summary_table(report: dict[str, Any]) -> str:
    qa = report["workloads"]["training_qa"]
    fts = report["workloads"]["library_fts"]
    tools = report["workloads"]["tool_calls"]
    rows = [
        ("training_qa ours ms/namespace", f"{qa['ours_subset_ms_per_namespace']:.2f}"),
        ("training_qa paper ms/namespace", f"{qa['baseline_ms_per_namespace']:.1f}"),
        ("training_qa speed-up (x)", f"{qa['speedup_per_namespace']:.1f}"),
        ("training_qa max |score diff|", f"{qa['max_abs_score_diff']:.1e}"),
        (f"library_fts fts p50/p90/p99 ms ({fts['rows']} rows)", _p(fts["fts"])),
        ("library_fts raw LanceDB p50/p90/p99 ms", _p(fts["raw_lancedb_fts"])),
        ("library_fts bm25 mode p50/p90/p99 ms", _p(fts["bm25_mode"])),
        (f"library_fts {fts['big_namespace_entries']}-entry namespace fts ms", _p(fts["big_namespace"]["fts"])),
        (f"library_fts {fts['big_namespace_entries']}-entry namespace bm25 ms", _p(fts["big_namespace"]["bm25_mode"])),
        ("tool_calls dicts calls/s", f"{tools['dicts_baseline']['calls_per_s']:,}"),
    ]
    for label in (
        "disk_dict_args",
        "disk_dict_args_background_flush",
        "disk_dict_args_no_operation_log",
        "disk_json_args",
        "memory_uri_dict_args",
    ):
        v = tools[label]
        rows.append(
            (
                f"tool_calls {label} calls/s (apply only)",
                f"{v['calls_per_s']:,} ({v['apply_calls_per_s']:,}); flush p50 {v['flush_ms']['p50_ms']:.1f} ms",
            )
        )
    rows += [(f"target {name}", "PASS" if t["pass"] else "FAIL") for name, t in report["targets"].items()]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def _p(stats: dict[str, float]) -> str:
    return f"{stats['p50_ms']:.2f} / {stats['p90_ms']:.2f} / {stats['p99_ms']:.2f}"


# -------------------------------------------------------------------------------------------------- main
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for memory.json")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under a minute")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("MEMALPHA_DATA_DIR", DEFAULT_DATA_DIR)),
        help="the shared data folder (default: $MEMALPHA_DATA_DIR or ../shared/data beside the repo)",
    )
    parser.add_argument("--profile", action="store_true", help="also cProfile the tool-call workload")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    args = parse_args(argv)
    settings = QUICK if args.quick else Settings()
    args.out.mkdir(parents=True, exist_ok=True)
    corpus = load_corpus(args.data_dir)
    load_before = round(os.getloadavg()[0], 2)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="memalpha-bench-") as tmp:
        workdir = Path(tmp)
        workloads = {
            "training_qa": run_training_qa(corpus, settings, args.seed),
            "library_fts": run_library_fts(corpus, settings, args.seed, workdir),
            "tool_calls": run_tool_calls(corpus, settings, args.seed, workdir),
        }
        if args.profile:
            profile_tool_calls(corpus, settings, args.seed, workdir, args.out)
    report = {
        "machine": {**machine_info(corpus, args.quick, args.seed), "load_average_1min_at_start": load_before},
        "settings": asdict(settings),
        "wall_s": round(time.perf_counter() - started, 1),
        "workloads": workloads,
        "targets": {},
    }
    report["targets"] = targets(workloads)
    path = args.out / "memory.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    logger.info("wrote %s in %.1f s", path, report["wall_s"])
    print(summary_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
