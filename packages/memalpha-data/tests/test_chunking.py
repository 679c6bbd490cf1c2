"""Chunking by token budget and the dialogue wrappers."""

from __future__ import annotations

import itertools
import random
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from memalpha_data.chunking import chunk_text, pack_chunks, split_paragraphs, split_sentences
from memalpha_data.dialogue import chunk_conversation, dialogue_dates, wrap_chunk, wrap_chunks
from memalpha_data.tokens import count_tokens, hf_token_counter


def test_count_tokens_counts_words_and_punctuation():
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("") == 0


def test_hf_token_counter_uses_encode_without_special_tokens():
    class Tokenizer:
        def encode(self, text, add_special_tokens=True):
            return list(text) + (["<s>"] if add_special_tokens else [])

    assert hf_token_counter(Tokenizer())("abc") == 3


def test_split_sentences_and_paragraphs():
    text = 'He said "Go." Then left! Did he? Yes.\nNew line here'
    assert split_sentences(text) == ['He said "Go."', "Then left!", "Did he?", "Yes.", "New line here"]
    assert split_paragraphs("a b\n\n  \nc\nd\n\n") == ["a b", "c\nd"]


def test_pack_chunks_keeps_units_whole_and_under_budget():
    units = [f"Sentence number {i} is here." for i in range(30)]  # 6 tokens each
    chunks = pack_chunks(units, 20)
    assert all(count_tokens(c) <= 40 for c in chunks)
    assert [len(c.split("\n")) for c in chunks] == [3] * 10
    assert "\n".join(chunks).split("\n") == units


def test_pack_chunks_cuts_an_oversized_unit_at_sentences_then_words():
    long_sentence = " ".join(f"w{i}" for i in range(25))
    chunks = pack_chunks(["Short one. Another short.", long_sentence], 5)
    assert chunks[:2] == ["Short one.", "Another short."]
    assert all(count_tokens(c) <= 5 for c in chunks)
    assert " ".join(chunks[2:]).split() == long_sentence.split()


def test_range_budgets_draw_a_target_per_chunk_reproducibly():
    units = [f"word{i} ." for i in range(500)]  # 2 tokens each
    first = pack_chunks(units, (10, 40), rng=random.Random(3))
    again = pack_chunks(units, (10, 40), rng=random.Random(3))
    assert first == again
    sizes = {count_tokens(c) for c in first[:-1]}
    assert len(sizes) > 3 and max(sizes) <= 40 and min(sizes) >= 9
    with pytest.raises(ValueError, match="pass rng"):
        pack_chunks(units, (10, 40))
    with pytest.raises(ValueError, match="0 < low <= high"):
        pack_chunks(units, (40, 10), rng=random.Random(0))
    with pytest.raises(ValueError, match="must be positive"):
        pack_chunks(units, 0)


@given(st.lists(st.text(min_size=1, max_size=60), max_size=30), st.integers(min_value=3, max_value=50))
def test_pack_chunks_never_loses_words(units, budget):
    chunks = pack_chunks(units, budget)
    assert " ".join(chunks).split() == " ".join(u for u in units if u.strip()).split()


def test_chunk_text_by_paragraph_joins_with_blank_lines():
    text = "Para one is short.\n\nPara two is short too.\n\nThird."
    assert chunk_text(text, 100, by="paragraph") == [text]
    assert chunk_text(text, 7, by="paragraph") == ["Para one is short.", "Para two is short too.", "Third."]


def test_dialogue_dates_advance_within_the_step_range():
    dates = dialogue_dates(20, rng=random.Random(0), start=datetime(2024, 1, 1), step_days=(1, 3))
    gaps = {(b.date() - a.date()).days for a, b in itertools.pairwise(dates)}
    assert gaps <= {1, 2, 3} and len(gaps) > 1
    assert dates == sorted(dates)
    assert dates[0].date() == datetime(2024, 1, 1).date()
    with pytest.raises(ValueError, match="step_days"):
        dialogue_dates(3, rng=random.Random(0), step_days=(2, 1))


def test_wrap_chunks_styles():
    chunks, dates = wrap_chunks(["Fact one.", "Fact two."], "facts", rng=random.Random(1))
    assert chunks[0].startswith("[Dialogue between User and Assistant on 2024-01-01 ")
    assert "\nFact one.\n<Assistant> " in chunks[0]
    assert chunks[1].startswith("[Dialogue between User and Assistant on 2024-01-02 ")
    reading = wrap_chunk("Chapter text.", dates[1], "reading", rng=random.Random(0))
    assert reading.startswith("[Event on 2024-01-02: the user is reading a book]\n<User> Chapter text.")
    assert reading.endswith("read so far.")
    labelled = wrap_chunk("Sentence: hi\nLabel: 0", dates[0], "classification", rng=random.Random(0))
    assert "Sentence: hi\nLabel: 0\n<Assistant>" in labelled
    with pytest.raises(ValueError, match="unknown chunk style 'poem'"):
        wrap_chunk("x", dates[0], "poem", rng=random.Random(0))  # type: ignore[arg-type]


def test_chunk_conversation_keeps_whole_turns_and_dates_them() -> None:
    messages = [
        {"role": "user", "content": "I moved to Porto last May.", "timestamp": "2024-05-01 10:00"},
        {"role": "assistant", "content": "Nice! How do you like it?", "timestamp": "2024-05-01 10:00"},
        {"role": "user", "content": "  "},
        {"role": "user", "content": "My sister Ana visits in June.", "timestamp": "2024-05-03 18:30"},
    ]
    chunks = chunk_conversation(messages, 40)
    assert chunks == [
        "[Dialogue at 2024-05-01 10:00]\n<User> I moved to Porto last May.\n<Assistant> Nice! How do you like it?",
        "[Dialogue at 2024-05-03 18:30]\n<User> My sister Ana visits in June.",
    ]
    assert all(count_tokens(c) <= 40 for c in chunks)


def test_chunk_conversation_names_a_malformed_message() -> None:
    with pytest.raises(ValueError, match="message 1 is not a chat turn"):
        chunk_conversation([{"role": "user", "content": "hi"}, {"content": "no role"}], 50)
