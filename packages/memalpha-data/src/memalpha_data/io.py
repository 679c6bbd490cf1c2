"""Instances on disk: parquet in the paper's published layout (paper §8.4), and MemoryAgentBench rows.

One row per instance. The columns are the paper's — `instance_id`, `prompt`, `chunks` (JSON list of str),
`questions_and_answers` (JSON list of `{"question", "answer"}`), `data_source`, `metadata` (JSON), `num_chunks`,
`num_questions` — plus `id` and `capability`. Each question object also keeps our fields (`metric`,
`query_prefix`, `superseded`, `metadata`) beside the paper's two, so the paper's readers (which `json.loads` these
columns) read our files, and the paper's released files load here unchanged: missing fields are recovered from
the `data_source` (`source_route`). Writes are atomic: a file is complete or absent.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from memalpha_data.chunking import pack_chunks, split_sentences
from memalpha_data.dialogue import ChunkStyle, wrap_chunks
from memalpha_data.exceptions import InstanceFormatError, SourceNotFoundError
from memalpha_data.instance import DEFAULT_PROMPT, Instance, Question
from memalpha_data.keywords import extract_keywords
from memalpha_data.sources_info import source_route
from memalpha_data.tokens import TokenCounter, count_tokens

SCHEMA = pa.schema(
    [
        ("instance_id", pa.int64()),
        ("prompt", pa.string()),
        ("chunks", pa.string()),
        ("questions_and_answers", pa.string()),
        ("data_source", pa.string()),
        ("metadata", pa.string()),
        ("num_chunks", pa.int64()),
        ("num_questions", pa.int64()),
        ("id", pa.string()),
        ("capability", pa.string()),
    ]
)
PAPER_COLUMNS = ("chunks", "questions_and_answers", "data_source")
MEMORYAGENTBENCH_COLUMNS = ("context", "questions", "answers")


def _question_to_json(question: Question) -> dict[str, Any]:
    answer: str | list[str] = question.answers[0] if len(question.answers) == 1 else list(question.answers)
    row: dict[str, Any] = {"question": question.question, "answer": answer, "metric": question.metric}
    if question.query_prefix is not None:
        row["query_prefix"] = question.query_prefix
    if question.superseded:
        row["superseded"] = question.superseded
    if question.metadata:
        row["metadata"] = question.metadata
    return row


def to_arrow(instances: Iterable[Instance]) -> pa.Table:
    """A pyarrow table of `instances` in the paper's layout (plus `id` and `capability`)."""
    columns: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
    for index, instance in enumerate(instances):
        columns["instance_id"].append(index)
        columns["prompt"].append(instance.prompt)
        columns["chunks"].append(json.dumps(instance.chunks, ensure_ascii=False))
        qa = [_question_to_json(q) for q in instance.questions]
        columns["questions_and_answers"].append(json.dumps(qa, ensure_ascii=False))
        columns["data_source"].append(instance.data_source)
        columns["metadata"].append(json.dumps(instance.metadata, ensure_ascii=False))
        columns["num_chunks"].append(instance.num_chunks)
        columns["num_questions"].append(instance.num_questions)
        columns["id"].append(instance.id)
        columns["capability"].append(instance.capability)
    return pa.table(columns, schema=SCHEMA)


def _atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_instances(path: str | Path, instances: Iterable[Instance]) -> Path:
    """Write `instances` to a parquet file atomically (a crash leaves the old file or none, never half of one)."""
    target = Path(path)
    table = to_arrow(instances)
    _atomic_write(target, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    return target


def _loads(value: Any, column: str, where: str) -> Any:
    if not isinstance(value, str):
        return value  # already decoded (a nested column)
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise InstanceFormatError(f"{where}: column {column!r} is not valid JSON ({exc.msg})") from exc


def _question_from_json(item: Any, data_source: str, where: str) -> Question:
    if not isinstance(item, dict) or "question" not in item or "answer" not in item:
        raise InstanceFormatError(f"{where}: each question needs 'question' and 'answer', got {item!r:.200}")
    answer = item["answer"]
    answers = [str(a) for a in answer] if isinstance(answer, list) else [str(answer)]
    fields = {k: v for k, v in item.items() if k not in ("question", "answer")}
    fields.setdefault("metric", source_route(data_source)[1])
    return Question(question=str(item["question"]), answers=answers, **fields)


def instance_from_row(row: Mapping[str, Any], *, where: str = "row") -> Instance:
    """An `Instance` from one row in the paper's layout (a mapping of column name to value)."""
    missing = [c for c in PAPER_COLUMNS if c not in row]
    if missing:
        raise InstanceFormatError(f"{where}: missing column(s) {missing}")
    data_source = str(row["data_source"])
    capability, _ = source_route(data_source)
    metadata = _loads(row.get("metadata") or "{}", "metadata", where)
    try:
        questions = [
            _question_from_json(item, data_source, where)
            for item in _loads(row["questions_and_answers"], "questions_and_answers", where)
        ]
        return Instance(
            id=str(row.get("id") or f"{data_source}-{row.get('instance_id', 0)}"),
            data_source=data_source,
            capability=row.get("capability") or capability,
            chunks=_loads(row["chunks"], "chunks", where),
            questions=questions,
            prompt=str(row.get("prompt") or DEFAULT_PROMPT),
            metadata=metadata if isinstance(metadata, dict) else {"value": metadata},
        )
    except ValidationError as exc:
        raise InstanceFormatError(f"{where}: {exc}") from exc


def _open_parquet(path: Path) -> pq.ParquetFile:
    if not path.is_file():
        raise SourceNotFoundError(f"no parquet file at {str(path)!r}")
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InstanceFormatError(f"{path}: not a readable parquet file ({exc})") from exc


def _parquet_rows(parquet: pq.ParquetFile) -> Iterator[tuple[int, dict[str, Any]]]:
    index = 0
    for batch in parquet.iter_batches(batch_size=256):
        for row in batch.to_pylist():
            yield index, row
            index += 1


def iter_instances(path: str | Path) -> Iterator[Instance]:
    """Instances from a parquet file in the paper's layout, one at a time (our files and the paper's releases)."""
    file = Path(path)
    parquet = _open_parquet(file)
    columns = set(parquet.schema_arrow.names)
    if set(MEMORYAGENTBENCH_COLUMNS) <= columns and "chunks" not in columns:
        raise InstanceFormatError(f"{file}: this is MemoryAgentBench's layout; read it with read_memoryagentbench()")
    for index, row in _parquet_rows(parquet):
        yield instance_from_row(row, where=f"{file}: row {index}")


def read_instances(path: str | Path) -> list[Instance]:
    """All instances of a parquet file in the paper's layout."""
    return list(iter_instances(path))


# --- MemoryAgentBench -------------------------------------------------------------------------------------------

_LABEL_INSTRUCTION = "What is the label of the sentence above? Put your final answer as \\boxed{label}."


def _render_sessions(context: str) -> list[str] | None:
    """LongMemEval contexts encode `[timestamp, session, timestamp, session, ...]`; each session becomes a unit."""
    if not context.lstrip().startswith("["):
        return None
    try:
        items = json.loads(context)
    except json.JSONDecodeError:
        return None
    if not isinstance(items, list) or len(items) % 2:
        return None
    units = []
    for stamp, session in zip(items[::2], items[1::2], strict=True):
        if not isinstance(session, list):
            return None
        turns = [
            f"<{str(t.get('role', 'user')).capitalize()}> {t.get('content', '')}"
            for t in session
            if isinstance(t, dict)
        ]
        units.append(f"[Dialogue at timestamp {stamp}]\n" + "\n".join(turns))
    return units


def _mab_style(source: str) -> ChunkStyle:
    if source.startswith("icl_"):
        return "classification"
    if source.startswith(("infbench_sum", "booksum")):
        return "reading"
    return "facts"


def instance_from_memoryagentbench(
    row: Mapping[str, Any],
    *,
    index: int = 0,
    chunk_tokens: int | None = None,
    counter: TokenCounter = count_tokens,
    seed: int = 0,
    keyword_extractor: Callable[[str], list[str]] = extract_keywords,
    where: str = "row",
) -> Instance:
    """An `Instance` from one MemoryAgentBench row (`context`, `questions`, `answers`, `metadata.source`).

    The context is chunked at sentences (sessions for LongMemEval) into at most `chunk_tokens` (default 2048,
    1024 for ICL sources, as the paper) and wrapped as dialogue turns. ICL questions get the `\\boxed{label}`
    instruction; InfBench-Sum's question becomes a summary request over the reading dates, with a keyword gold
    from `keyword_extractor` (default: the deterministic `extract_keywords`).
    """
    missing = [c for c in MEMORYAGENTBENCH_COLUMNS if c not in row]
    if missing:
        raise InstanceFormatError(f"{where}: missing MemoryAgentBench column(s) {missing}")
    metadata = _loads(row.get("metadata") or {}, "metadata", where)
    metadata = metadata if isinstance(metadata, dict) else {}
    source = str(metadata.get("source") or row.get("source") or "memoryagentbench")
    context, questions, answers = row["context"], row["questions"], row["answers"]
    if not isinstance(context, str) or not context.strip():
        raise InstanceFormatError(f"{where}: 'context' must be a non-empty string")
    if not isinstance(questions, list) or not isinstance(answers, list) or len(questions) != len(answers):
        raise InstanceFormatError(f"{where}: 'questions' and 'answers' must be lists of equal length")
    budget = chunk_tokens or (1024 if source.startswith("icl_") else 2048)
    rng = random.Random(f"{seed}:{source}:{index}")
    sessions = _render_sessions(context)
    units, separator = (sessions, "\n") if sessions is not None else (split_sentences(context), " ")
    texts = pack_chunks(units, budget, counter=counter, separator=separator)
    style = _mab_style(source)
    chunks, dates = wrap_chunks(texts, style, rng=rng)
    capability, metric = source_route(source)
    built: list[Question] = []
    for question, gold in zip(questions, answers, strict=True):
        golds = [str(g) for g in gold] if isinstance(gold, list) else [str(gold)]
        text = str(question)
        if source.startswith("icl_"):
            text = f"Sentence: {text}\n{_LABEL_INSTRUCTION}"
        elif source.startswith("infbench_sum"):
            text = f"Summarize the content of the book I read from {dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}."
            golds = [", ".join(keyword_extractor(golds[0]))]
        try:
            built.append(Question(question=text, answers=golds, metric=metric))
        except ValidationError as exc:
            raise InstanceFormatError(f"{where}: bad question {text!r:.80}: {exc}") from exc
    return Instance(
        id=f"{source}-{index}",
        data_source=source,
        capability=capability,
        chunks=chunks,
        questions=built,
        metadata={"memoryagentbench": {k: v for k, v in metadata.items() if isinstance(v, str | int | float)}},
    )


def read_memoryagentbench(
    paths: str | Path | Sequence[str | Path],
    *,
    sources: Sequence[str] | None = None,
    chunk_tokens: int | None = None,
    counter: TokenCounter = count_tokens,
    seed: int = 0,
) -> list[Instance]:
    """Instances from MemoryAgentBench parquet files (the `ai-hyz/MemoryAgentBench` splits), optionally only the
    rows whose `metadata.source` is in `sources`."""
    files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    instances = []
    for file in files:
        for index, row in _parquet_rows(_open_parquet(file)):
            metadata = _loads(row.get("metadata") or {}, "metadata", f"{file}: row {index}")
            source = metadata.get("source") if isinstance(metadata, dict) else None
            if sources is not None and source not in sources:
                continue
            instances.append(
                instance_from_memoryagentbench(
                    row,
                    index=index,
                    chunk_tokens=chunk_tokens,
                    counter=counter,
                    seed=seed,
                    where=f"{file}: row {index}",
                )
            )
    return instances
