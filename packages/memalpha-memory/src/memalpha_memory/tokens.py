"""Token counting: pluggable, with a fast default that needs no tokenizer files.

The paper counts tokens with tiktoken's ``o200k_base``; tiktoken downloads its vocabulary on first use,
so it is never the default here. The default counts word pieces and punctuation marks, which tracks
BPE counts of English prose closely enough for budgets (within ~20 %), and is exact about what it
does. Pass any ``Callable[[str], int]`` for real counts, e.g. ``hf_token_counter(tokenizer)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["TokenCounter", "count_tokens", "hf_token_counter"]

TokenCounter = Callable[[str], int]
"""A function returning the number of tokens in a string."""

_TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """Count words and punctuation marks; the default `TokenCounter`."""
    return len(_TOKEN.findall(text))


def hf_token_counter(tokenizer: Any) -> TokenCounter:
    """Wrap a Hugging Face tokenizer (anything with ``encode``) as a `TokenCounter`."""

    def counter(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False))

    return counter
