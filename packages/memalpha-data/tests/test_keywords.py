"""Keyword extraction for summary gold answers: the deterministic extractor and the OpenAI-compatible client."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from memalpha_data.keywords import STOPWORDS, extract_keywords, openai_keyword_extractor, parse_keyword_reply

MARS = (
    "Captain Anna Reyes leads the Orion crew to Mars in 2091. Reyes finds water under the ice. "
    "The crew builds a base near the water, and Anna Reyes names it Hope."
)


def test_hand_worked_summary() -> None:
    # scores: reyes 3; the names "captain anna reyes" and "anna reyes" 2 each (weight 2); anna, crew, water 2;
    # everything else 1. Ties go by first position. "anna", "anna reyes" and "captain" are skipped: their words
    # all belong to the chosen "captain anna reyes". No bigram occurs twice, so none is a candidate.
    assert extract_keywords(MARS, max_keywords=8) == [
        "reyes",
        "captain anna reyes",
        "crew",
        "water",
        "leads",
        "orion",
        "mars",
        "2091",
    ]
    assert extract_keywords(MARS)[8:] == ["finds", "ice", "builds", "base"]  # the default is 12


def test_repeated_bigram_and_plural_variants() -> None:
    # "red planet" occurs twice, so it is a candidate; "planet" is then covered by it
    assert extract_keywords("The red planet is cold. The red planet is far.") == ["red", "red planet", "cold", "far"]
    # "flames"/"green flame"/"flame" are covered by "green flames" once a plural s is ignored
    text = "Green flames burn. Green flames glow. The green flame fades. The green flame dies."
    assert extract_keywords(text) == ["green", "green flames", "burn", "glow", "fades", "dies"]


def test_possessives_contractions_and_numbers() -> None:
    # the typographic possessive is stripped, "doesn't" is dropped, "2,000" holds a comma so it cannot be a keyword
    text = "Magnan\u2019s plan fails, and it doesn't work. Magnan leaves with 2,000 men in 1962."
    assert extract_keywords(text) == ["magnan", "plan", "fails", "work", "leaves", "men", "1962"]


def test_keywords_are_lowercase_unique_and_not_stopwords() -> None:
    keywords = extract_keywords(MARS + " " + MARS.upper(), max_keywords=30)
    assert keywords == [k.lower() for k in keywords]
    assert len(set(keywords)) == len(keywords)
    assert not set(keywords) & STOPWORDS
    assert extract_keywords("the and of it is") == []


def test_max_keywords_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_keywords must be at least 1, got 0"):
        extract_keywords(MARS, max_keywords=0)


def test_parse_keyword_reply() -> None:
    reply = '<think>list the names</think>Keywords: Retief, Magnan, "the Bogans", retief.\n- wine'
    assert parse_keyword_reply(reply) == ["retief", "magnan", "the bogans", "wine"]
    assert parse_keyword_reply("1. a\n2. b\n3. c", max_keywords=2) == ["a", "b"]
    assert parse_keyword_reply("Retief: a hero, Magnan") == ["retief: a hero", "magnan"]


@dataclass
class _Recorder:
    status: int = 200
    reply: Any = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[tuple[str, _Recorder]]:
    """A local OpenAI-compatible stub on 127.0.0.1 that records requests and answers with `recorder.reply`."""
    recorder = _Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            recorder.requests.append(
                {"path": self.path, "auth": self.headers.get("Authorization"), "body": json.loads(body)}
            )
            payload = json.dumps(recorder.reply).encode()
            self.send_response(recorder.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", recorder
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _completion(content: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}


def test_openai_extractor_sends_model_and_summary(server: tuple[str, _Recorder]) -> None:
    url, recorder = server
    recorder.reply = _completion("Retief, Magnan, Bogan students, Lovenbroy wine, retief")
    extract = openai_keyword_extractor(url + "/", "qwen-test", api_key="secret", max_keywords=3)
    assert extract("Retief helps the farmers of Lovenbroy.") == ["retief", "magnan", "bogan students"]
    (request,) = recorder.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer secret"
    assert request["body"]["model"] == "qwen-test"
    assert request["body"]["temperature"] == 0.0
    prompt = request["body"]["messages"][0]["content"]
    assert "Retief helps the farmers of Lovenbroy." in prompt
    assert "at most 3 keywords" in prompt


def test_openai_extractor_http_error(server: tuple[str, _Recorder]) -> None:
    url, recorder = server
    recorder.status, recorder.reply = 500, {"error": "model overloaded"}
    extract = openai_keyword_extractor(url, "qwen-test")
    with pytest.raises(ConnectionError, match=r"answered HTTP 500: .*model overloaded"):
        extract("A summary.")


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (_completion("  ,  \n"), "returned no keywords"),
        ({"choices": []}, "did not return a chat completion"),
        (_completion(None), "reply content is not text"),  # type: ignore[arg-type]
    ],
)
def test_openai_extractor_bad_replies(server: tuple[str, _Recorder], reply: Any, message: str) -> None:
    url, recorder = server
    recorder.reply = reply
    with pytest.raises(ValueError, match=message):
        openai_keyword_extractor(url, "qwen-test")("A summary.")


def test_openai_extractor_unreachable_server() -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = httpd.server_address[1]
    httpd.server_close()  # nothing listens on the port any more
    with pytest.raises(ConnectionError, match="cannot reach"):
        openai_keyword_extractor(f"http://127.0.0.1:{port}/v1", "m", timeout=5)("A summary.")
