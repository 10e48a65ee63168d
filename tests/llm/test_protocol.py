"""The I/O-free parts of the client: event-stream decoding, JSON extraction, Retry-After, cache keys."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from backbeat.generators.llm import LLMResponseError, LLMUnavailableError, cache_key, extract_json, parse_partial
from backbeat.generators.llm.retry import parse_retry_after
from backbeat.generators.llm.sse import SSEDecoder, parse_completion, parse_event
from backbeat.generators.llm.structured import PartialFeed

STREAM = (
    ": keep-alive comment\r\n"
    'data: {"choices":[{"delta":{"role":"assistant","content":"Hé"}}]}\r\n\r\n'
    "event: message\n"
    'data: {"choices":[{"delta":{"content":"llo"},\n'
    'data: "finish_reason":null}]}\n\n'
    'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\r\r'
    "data: [DONE]\n\n"
).encode()


def decode(slices: list[bytes]) -> list[str]:
    decoder = SSEDecoder()
    out = [p for s in slices for p in decoder.feed(s)]
    return out + decoder.close()


def test_sse_payloads_are_the_same_however_the_bytes_are_sliced():
    whole = decode([STREAM])
    assert len(whole) == 4
    assert whole[-1] == "[DONE]"
    assert "\n" in whole[1]  # two data lines make one payload, joined by a newline
    # Byte by byte splits CRLFs and the two-byte "é" across slices.
    assert decode([STREAM[i : i + 1] for i in range(len(STREAM))]) == whole
    for cut in range(1, len(STREAM)):
        assert decode([STREAM[:cut], STREAM[cut:]]) == whole


def test_sse_keeps_a_last_event_without_its_blank_line():
    assert decode([b"data: one\n\ndata: [DONE]\n"]) == ["one", "[DONE]"]
    assert decode([b"data: [DONE]"]) == ["[DONE]"]


def test_events_carry_content_finish_and_done():
    contents = [parse_event(p) for p in decode([STREAM])]
    assert "".join(e.content for e in contents) == "Héllo"
    assert [e.finish_reason for e in contents] == [None, None, "stop", None]
    assert contents[-1].done


@pytest.mark.parametrize(
    "payload",
    ['{"choices": []}', '{"choices":[{"delta":{"reasoning_content":"hmm"}}]}', '{"usage": {"total_tokens": 3}}'],
)
def test_chunks_without_content_add_nothing(payload):
    assert parse_event(payload).content == ""


def test_a_garbled_chunk_or_an_error_mid_stream_is_transient():
    with pytest.raises(LLMUnavailableError):
        parse_event("{not json")
    with pytest.raises(LLMUnavailableError, match="overloaded"):
        parse_event('{"error": {"message": "overloaded"}}')


def test_a_non_streamed_document_gives_its_message():
    doc = {"choices": [{"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}
    assert parse_completion(json.dumps(doc).encode()) == "hi"
    with pytest.raises(LLMResponseError):
        parse_completion(b'{"choices": []}')


OBJ = {"bars": [{"n": 1}, {"n": 2}], "key": "Eb minor"}
OBJ_TEXT = json.dumps(OBJ)


@pytest.mark.parametrize(
    "text",
    [
        OBJ_TEXT,
        f"```json\n{OBJ_TEXT}\n```",
        f"```\n{OBJ_TEXT}\n```",
        f"Sure! Here is the song:\n\n```json\n{json.dumps(OBJ, indent=2)}\n```\nEnjoy [and share]!",
        f"Here it is (see [1]): {OBJ_TEXT} -- I hope {{this}} helps.",
        f"<think>Maybe {{\"bars\": []}} or not.</think>\n{OBJ_TEXT}",
        f"```python\nx = [1]\n```\n```json\n{OBJ_TEXT}\n```",
        f"Chords:\n```json\n[1, 5, 6, 4]\n```\nSong:\n```json\n{OBJ_TEXT}\n```",
    ],
)
def test_extract_json_finds_the_answer_among_fences_prose_and_thinking(text):
    assert json.loads(extract_json(text)) == OBJ


def test_extract_json_takes_an_array_when_there_is_no_object():
    assert json.loads(extract_json("The chords: [1, 5, 6, 4].")) == [1, 5, 6, 4]


@pytest.mark.parametrize("text", ["no json here", '{"a": 1,}', "{'a': 1}", ""])
def test_extract_json_invents_nothing(text):
    with pytest.raises(LLMResponseError):
        extract_json(text)


def test_partial_json_grows_and_ignores_preambles():
    text = 'Okay:\n```json\n{"bars": [{"n": 1}, {"n": 2'
    assert parse_partial(text) == {"bars": [{"n": 1}, {"n": 2}]}
    assert parse_partial('{"key": "Eb mi') == {}  # unfinished strings are left out, not cut short
    assert parse_partial("<think>{ not yet") is None
    assert parse_partial("Let me think about it") is None
    assert parse_partial(OBJ_TEXT + "\n\nHope this helps!") == OBJ
    assert parse_partial(f"```json\n{OBJ_TEXT}\n```\nMore prose") == OBJ


def test_retry_after_reads_seconds_and_http_dates():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-4") == 0.0
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True), now=now) == 7.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=7), usegmt=True), now=now) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


def test_cache_keys_change_with_everything_that_changes_the_answer():
    base = dict(
        base_url="http://x/v1",
        model="m",
        messages=[{"role": "system", "content": "s"}],
        response_format=None,
        temperature=None,
        seed=None,
    )
    key = cache_key(**base)
    assert cache_key(**base) == key
    assert len(key) == 64
    variants = [
        {"model": "m2"},
        {"messages": [{"role": "system", "content": "t"}]},
        {"response_format": {"type": "json_schema"}},
        {"temperature": 0.5},
        {"seed": 1},
        {"base_url": "http://y/v1"},
    ]
    assert len({cache_key(**{**base, **v}) for v in variants} | {key}) == len(variants) + 1


def test_partial_feed_parses_only_when_an_element_may_have_closed():
    seen: list[dict] = []
    feed = PartialFeed(seen.append)
    text = ""
    for ch in OBJ_TEXT:
        text += ch
        feed(text)
    assert seen[-1] == OBJ
    assert len(seen) <= sum(OBJ_TEXT.count(c) for c in ",]}")
    assert [len(s.get("bars", [])) for s in seen] == sorted(len(s.get("bars", [])) for s in seen)
    feed('{"bars": []}')  # a retry starts a new, shorter answer: it is reported, not ignored
    assert seen[-1] == {"bars": []}
