"""`generate_instance` / `generate_instances`: procedural instances for the four capabilities, no LLM involved.

An instance is drawn from `random.Random(f"memalpha-gen:{capability}:{seed}:{index}")`, so the same config and
index give the same instance on every machine and run, and instances of one config differ from each other.
Ids are `<data_source with '-' for '_'>-<seed>-<index>` (`gen-ar-0-3`).
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any, Protocol

from memalpha_data.dialogue import ChunkStyle
from memalpha_data.generator.ar import ARGenerator
from memalpha_data.generator.config import GeneratorConfig
from memalpha_data.generator.cr import CRGenerator
from memalpha_data.generator.lru import LRUGenerator
from memalpha_data.generator.stream import ChunkWriter, Proposal, fill, finish
from memalpha_data.generator.ttl import TTLGenerator
from memalpha_data.generator.vocab import NameRegistry
from memalpha_data.instance import Capability, Instance, Question

PROMPTS: dict[Capability, str] = {
    "AR": (
        "The following are conversations between a user and an assistant over many days. The user talks about "
        "the people in their life: where they live and work, their pets and what they did on particular days. "
        "Remember these facts; you will be asked about them."
    ),
    "CR": (
        "The following are conversations between a user and an assistant over many days. Facts about people "
        "change over time and later statements update or correct earlier ones. Keep track of what is true now; "
        "you will be asked about the current facts."
    ),
    "TTL": (
        "The following are labelled example sentences. Each label is a number; learn which sentences get which "
        "label, then label new sentences."
    ),
    "LRU": (
        "The following is a book the user reads chunk by chunk over many days. Keep a running summary of the "
        "characters, places and events; you will be asked to summarise what was read."
    ),
}
_STYLES: dict[Capability, ChunkStyle] = {"AR": "facts", "CR": "facts", "TTL": "classification", "LRU": "reading"}


class _Generator(Protocol):
    def __init__(self, config: GeneratorConfig, rng: random.Random, names: NameRegistry) -> None: ...

    def propose(self, writer: ChunkWriter) -> Proposal: ...

    def questions(self, dates: list[datetime]) -> list[Question]: ...

    def metadata(self) -> dict[str, object]: ...


_GENERATORS: dict[Capability, type[_Generator]] = {
    "AR": ARGenerator,
    "CR": CRGenerator,
    "TTL": TTLGenerator,
    "LRU": LRUGenerator,
}


def instance_id(config: GeneratorConfig, index: int) -> str:
    """The id of instance `index` of `config`: `gen-ar-<seed>-<index>` by default."""
    return f"{config.source_name.replace('_', '-')}-{config.seed}-{index}"


def generate_instance(config: GeneratorConfig, *, instance_index: int = 0) -> Instance:
    """Instance `instance_index` of the data source `config` describes (deterministic for the pair)."""
    if instance_index < 0:
        raise ValueError(f"instance_index must be >= 0, got {instance_index!r}")
    capability = config.capability
    rng = random.Random(f"memalpha-gen:{capability}:{config.seed}:{instance_index}")
    names = NameRegistry(rng)
    writer = ChunkWriter(_STYLES[capability], config.chunk_tokens, rng=rng)
    generator = _GENERATORS[capability](config, rng, names)
    fill(writer, generator.propose, config.target_tokens)
    chunks, dates, token_counts = finish(writer)
    questions = generator.questions(dates)
    metadata: dict[str, Any] = {
        "generator": config.model_dump(mode="json"),
        "instance_index": instance_index,
        "total_tokens": sum(token_counts),
        "chunk_token_counts": token_counts,
        "first_date": dates[0].strftime("%Y-%m-%d %H:%M"),
        "last_date": dates[-1].strftime("%Y-%m-%d %H:%M"),
        **generator.metadata(),
    }
    if capability in ("AR", "CR"):
        metadata["num_asked_facts"] = len({i for q in questions for i in q.metadata["fact_ids"]})
    return Instance(
        id=instance_id(config, instance_index),
        data_source=config.source_name,
        capability=capability,
        chunks=chunks,
        questions=questions,
        prompt=PROMPTS[capability],
        metadata=metadata,
    )


def generate_instances(config: GeneratorConfig, n: int, *, start: int = 0) -> list[Instance]:
    """Instances `start .. start + n - 1` of `config` (each one the same as `generate_instance` gives alone)."""
    if n < 0 or start < 0:
        raise ValueError(f"n and start must be >= 0, got n={n!r}, start={start!r}")
    return [generate_instance(config, instance_index=i) for i in range(start, start + n)]
