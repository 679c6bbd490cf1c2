"""The store's tables: their schemas, and the rows one commit writes into them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from .working import Changes, WorkingMemory

MEMORY_TABLE = "memory"
OPERATIONS_TABLE = "operations"
_TS = pa.timestamp("us", tz="UTC")
MEMORY_SCHEMA = pa.schema(
    [
        pa.field("key", pa.string(), nullable=False),
        pa.field("namespace", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("id", pa.string(), nullable=False),
        pa.field("content", pa.string(), nullable=False),
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("rev", pa.int64(), nullable=False),
        pa.field("created_at", _TS, nullable=False),
        pa.field("updated_at", _TS, nullable=False),
    ]
)
OPERATIONS_SCHEMA = pa.schema(
    [
        pa.field("namespace", pa.string(), nullable=False),
        pa.field("rev", pa.int64(), nullable=False),
        pa.field("index", pa.int32(), nullable=False),
        pa.field("timestamp", _TS, nullable=False),
        pa.field("tool", pa.string(), nullable=False),
        pa.field("arguments", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("error_kind", pa.string()),
        pa.field("message", pa.string(), nullable=False),
        pa.field("memory_type", pa.string()),
        pa.field("memory_id", pa.string()),
    ]
)


def sql_in(column: str, values: Iterable[str]) -> str:
    """An SQL ``IN`` filter. Values are validated namespace names or keys built from them and ids."""
    return f"{column} IN ({', '.join(sql_quote(v) for v in values)})"


def to_arrow(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema.names]
    return pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)], schema=schema)


def sql_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(slots=True)
class Commit:
    """Changes taken out of working memories, as the rows to write."""

    memories: list[WorkingMemory]
    changes: list[Changes]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    operations: list[tuple[Any, ...]] = field(default_factory=list)
    version: int | None = None  # the memory table's version once written

    @classmethod
    def take(cls, memories: Sequence[WorkingMemory]) -> Commit:
        commit = cls(list(memories), [m._take_changes() for m in memories])
        for memory, changes in zip(commit.memories, commit.changes, strict=True):
            ns, rev = memory.namespace, memory.base_rev + 1
            commit.rows += [(f"{ns}/{row[1]}", ns, *row[:4], rev, *row[4:]) for row in memory._rows(changes.upserts)]
            if changes.deletes:
                now = datetime.now(UTC)
                commit.rows += [(f"{ns}/{i}", ns, "deleted", i, "", -1, rev, now, now) for i in changes.deletes]
            commit.operations += [(ns, rev, index, *op) for index, op in enumerate(changes.operations)]
        return commit
