"""Keyword lists that serve as gold answers of long-range-understanding (summary) questions.

The paper scores a summary by keyword hits: the gold is a comma-separated keyword list that GPT-4.1 extracted
from the reference summary (§6.2, Fig. 4), and the score is the fraction of keywords found in the prediction.
Two extractors produce such lists:

- `extract_keywords`: deterministic, no model. It ranks multi-word capitalised names, numbers, content words and
  repeated content-word bigrams by frequency. It is the default, so datasets build offline and reproducibly.
- `openai_keyword_extractor(base_url, model)`: asks any OpenAI-compatible `/chat/completions` server (vLLM,
  OpenAI, OpenRouter), closer to the paper's GPT-4.1 keywords. Standard library only.

Both are `Callable[[str], list[str]]` returning lowercased, deduplicated keywords, best first.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

KeywordExtractor = Callable[[str], list[str]]
"""Turns a reference summary into its keyword list (lowercased, deduplicated, best first)."""

_STOPWORD_TEXT = """
    a about above after again against all almost along already also although always am among an and another any
    anyone anything are around as at away back be became because become becomes been before began begin begins
    being below between both but by came can cannot could did do does doing done down during each either else
    even ever every few first for from further get gets getting go goes going got had has have having he her here
    hers herself him himself his how however i if in into is it its itself just last later least less let like
    made make makes many may me might more most much must my myself near never new next no nor not now of off
    often on once one only onto or other others otherwise our ours ourselves out over own per perhaps put rather
    really said same say says see seem seems several shall she should since so some something soon still such
    take takes than that the their theirs them themselves then there these they thing things this those though
    through thus to together too toward towards under until up upon us use used very was way we well were what
    whatever when where whether which while who whom whose why will with within without would yet you your yours
    yourself yourselves
    story tells told asks asked went comes come tries tried wants wanted decides decided finally
    eventually meanwhile learns realizes thinks think thought help helps
    meeting meetings discussed discusses discussing discussion including regarding according topics whole main
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
"""English function words plus the verbs and fillers every plot or meeting summary uses ("the story tells ...",
"the meeting discussed ...")."""

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[A-Za-z][\w'-]*|[^\w\s]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_POSSESSIVE = re.compile(r"'s$")
_NAME_WEIGHT = 2
_MIN_WORD_LENGTH = 3


@dataclass
class _Candidate:
    text: str
    score: int
    first: int


def _tokens(text: str) -> list[str]:
    """Words (possessive `'s` removed), numbers and punctuation marks of `text`, in order."""
    text = text.replace("\u2019", "'")  # typographic apostrophe
    return [_POSSESSIVE.sub("", t) for t in _TOKEN.findall(text)]


def _is_word(token: str) -> bool:
    return token[:1].isalpha()


def _is_content(token: str) -> bool:
    low = token.lower()
    return _is_word(token) and len(low) >= _MIN_WORD_LENGTH and low not in STOPWORDS and "'" not in low


def _names(tokens: list[str]) -> list[tuple[int, str]]:
    """(position, lowercased name) for each run of two or more capitalised words, stopwords trimmed off its ends."""
    found: list[tuple[int, str]] = []
    i = 0
    while i < len(tokens):
        if not (_is_word(tokens[i]) and tokens[i][0].isupper()):
            i += 1
            continue
        j = i
        while j < len(tokens) and _is_word(tokens[j]) and tokens[j][0].isupper():
            j += 1
        run = list(range(i, j))
        while run and tokens[run[0]].lower() in STOPWORDS:
            run.pop(0)
        while run and tokens[run[-1]].lower() in STOPWORDS:
            run.pop()
        if len(run) >= 2:
            found.append((run[0], " ".join(tokens[k].lower() for k in run)))
        i = j
    return found


def extract_keywords(summary: str, *, max_keywords: int = 12) -> list[str]:
    """Up to `max_keywords` keywords of `summary`, deterministically, best first.

    Candidates and their scores:
    - a run of two or more capitalised words (stopwords trimmed from its ends): 2 per occurrence;
    - a number without a comma (`1962`, `2.5`; a keyword list is comma-separated), or a content word (3+ letters,
      not a stopword): 1 per occurrence;
    - two adjacent content words: 1 per occurrence, kept only if they occur together at least twice.

    Candidates are ranked by score, then first position, then text. A candidate whose words all belong to an
    already chosen keyword is skipped (`magnan` after `second secretary magnan`; a plural `s` is ignored, so
    `flames` after `flame`), so the list is not padded with parts or variants of the same name.
    """
    if max_keywords < 1:
        raise ValueError(f"max_keywords must be at least 1, got {max_keywords!r}")
    tokens = _tokens(summary)
    candidates: dict[str, _Candidate] = {}

    def add(text: str, score: int, position: int) -> None:
        found = candidates.get(text)
        if found is None:
            candidates[text] = _Candidate(text, score, position)
        else:
            found.score += score

    for position, name in _names(tokens):
        add(name, _NAME_WEIGHT, position)
    bigrams: dict[str, _Candidate] = {}
    for position, token in enumerate(tokens):
        if (_NUMBER.fullmatch(token) and "," not in token) or _is_content(token):
            add(token.lower(), 1, position)
        if position and _is_content(token) and _is_content(tokens[position - 1]):
            text = f"{tokens[position - 1].lower()} {token.lower()}"
            if text in candidates:  # already a name: the name's weight counts
                continue
            found = bigrams.setdefault(text, _Candidate(text, 0, position - 1))
            found.score += 1
    for bigram in bigrams.values():
        if bigram.score >= 2:
            candidates[bigram.text] = bigram

    def stems(text: str) -> set[str]:
        return {w[:-1] if w.endswith("s") and len(w) > _MIN_WORD_LENGTH else w for w in text.split()}

    ranked = sorted(candidates.values(), key=lambda c: (-c.score, c.first, c.text))
    chosen: list[str] = []
    covered: list[set[str]] = []
    for candidate in ranked:
        words = stems(candidate.text)
        if any(words <= seen for seen in covered):
            continue
        chosen.append(candidate.text)
        covered.append(words)
        if len(chosen) == max_keywords:
            break
    return chosen


_KEYWORD_PROMPT = """Below is a reference summary of a text. List the keywords a good summary of the same text \
must mention: names of people, places and organisations, key events, objects and numbers. Give at most \
{max_keywords} keywords, most important first, each one to three words long, copied from the summary.

Reply with the keywords on one line, separated by commas, and nothing else.

Summary:
{summary}"""

_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL)
_REPLY_HEADS = ("keywords", "keyword list", "key words")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")


def parse_keyword_reply(reply: str, *, max_keywords: int = 12) -> list[str]:
    """Keywords from a model's comma- (or line-) separated reply: lowercased, stripped, deduplicated, capped."""
    text = _THINKING.sub("", reply).strip()
    head, colon, rest = text.partition(":")
    if colon and head.strip().lower() in _REPLY_HEADS:  # "Keywords: a, b, c"
        text = rest
    keywords: list[str] = []
    for part in re.split(r"[,\n;]", text):
        keyword = _BULLET.sub("", part).strip().strip("\"'`.").strip().lower()
        if keyword and keyword not in keywords:
            keywords.append(keyword)
    return keywords[:max_keywords]


def openai_keyword_extractor(
    base_url: str,
    model: str,
    *,
    api_key: str | None = None,
    timeout: float = 60.0,
    max_keywords: int = 12,
) -> KeywordExtractor:
    """A keyword extractor that asks `model` on an OpenAI-compatible server at `base_url` (e.g. `http://host:8000/v1`).

    The returned function raises `ConnectionError` when the server cannot be reached or answers with an HTTP error,
    and `ValueError` when the reply is not a chat completion or holds no keywords.
    """
    if max_keywords < 1:
        raise ValueError(f"max_keywords must be at least 1, got {max_keywords!r}")
    url = base_url.rstrip("/")
    if not url.endswith("/chat/completions"):
        url += "/chat/completions"
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"

    def extract(summary: str) -> list[str]:
        prompt = _KEYWORD_PROMPT.format(max_keywords=max_keywords, summary=summary.strip())
        body = {"model": model, "messages": [{"role": "user", "content": prompt}], "temperature": 0.0}
        request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            try:
                detail = exc.read().decode("utf-8", "replace")[:300]
            finally:
                exc.close()
            raise ConnectionError(f"keyword extraction: {url!r} answered HTTP {exc.code}: {detail!r}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ConnectionError(f"keyword extraction: cannot reach {url!r}: {exc}") from exc
        try:
            content = json.loads(raw)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ValueError(f"keyword extraction: {url!r} did not return a chat completion: {raw[:300]!r}") from exc
        if not isinstance(content, str):
            raise ValueError(f"keyword extraction: the reply content is not text: {content!r}")
        keywords = parse_keyword_reply(content, max_keywords=max_keywords)
        if not keywords:
            raise ValueError(f"keyword extraction: model {model!r} returned no keywords (reply {content!r})")
        return keywords

    return extract
