"""The procedural generator: instances for AR, CR, TTL and LRU from a seed and a length, no LLM involved.

`GeneratorConfig` holds the knobs (capability, target length, chunk budget, questions, distractors, updates,
labels, seed); `generate_instance` / `generate_instances` draw instances from it deterministically. The
generated sources also stand in for paper sources this project lacks (PerLTQA, LongMemEval, PubMed-RCT,
BookSum; paper §8) under a `data_source` such as `gen_perltqa`.
"""

from memalpha_data.generator.config import QUESTION_TYPES, GeneratorConfig, QuestionType
from memalpha_data.generator.generate import generate_instance, generate_instances, instance_id

__all__ = [
    "QUESTION_TYPES",
    "GeneratorConfig",
    "QuestionType",
    "generate_instance",
    "generate_instances",
    "instance_id",
]
