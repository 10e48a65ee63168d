"""Refinement requests the rules miss are read by the model, checked against the song, and applied
through the same blast radius; the rules' own requests never reach the model."""

from __future__ import annotations

import json

import pytest

from backbeat.benchmarks.fake_llm import FakeLLMServer, Reply
from backbeat.generators.llm.refining import parse_with_model, understand
from backbeat.generators.pipeline import compose_sync
from backbeat.generators.refine import apply
from backbeat.generators.requests import Change, Question
from tests.llm.conftest import client_for, settings_for


@pytest.fixture(scope="module")
def song():
    return compose_sync("pop song", seed=3, bars=16)


def answer(**fields) -> Reply:
    return Reply(text=json.dumps(fields))


@pytest.mark.trio
async def test_what_the_rules_miss_the_model_reads(server: FakeLLMServer, song):
    server.script(answer(changes=[{"kind": "density", "part": "drums", "direction": 1}]))
    changes = await understand("give the hats more bounce", song, settings_for(server.url))
    assert changes == [Change("density", 0.3, part="drums", phrase="model")]
    assert [r.schema for r in server.requests] == ["RefineAnswer"]
    body = server.requests[0].body
    assert "chorus" in json.dumps(body) and song.progression.chords[0].symbol in json.dumps(body), "the prompt lists the song's sections and chords"
    outcome = apply(song, changes)
    assert outcome.regenerated == ("drums",)


@pytest.mark.trio
async def test_requests_the_rules_know_never_reach_the_model(server: FakeLLMServer, song):
    changes = await understand("bass too busy", song, settings_for(server.url))
    assert changes[0].kind == "density" and changes[0].part == "bass"
    ambiguous = await understand("simpler", song, settings_for(server.url))
    assert isinstance(ambiguous, Question) and ambiguous.understood
    assert server.requests == []


@pytest.mark.trio
async def test_an_answer_about_what_the_song_lacks_becomes_a_question(server: FakeLLMServer, song):
    server.script(
        answer(changes=[{"kind": "color", "chord": 9, "direction": -1}]),
        answer(changes=[{"kind": "length", "section": "coda", "direction": 1}]),
        answer(changes=[], question="Which part should swing more?"),
    )
    async with client_for(server) as llm:
        for expected in (f"{len(song.progression.chords)} chords", "no section 'coda': which of", "Which part"):
            result = await parse_with_model(llm, "shake it up somehow", song)
            assert isinstance(result, Question) and expected in result.text


@pytest.mark.trio
async def test_what_the_model_says_never_reaches_the_producer_raw(server: FakeLLMServer, song):
    server.script(
        answer(changes=[{"kind": "key", "genre": "trap-edition/narrative,"}]),
        answer(changes=[{"kind": "genre", "genre": "EB_MUS_ESPNED"}]),
        answer(changes=[], question="EB_MUS_ESPNED 897 TRUEVALU"),
    )
    async with client_for(server) as llm:
        key = await parse_with_model(llm, "shake it up somehow", song)
        genre = await parse_with_model(llm, "shake it up somehow", song)
        garbled = await parse_with_model(llm, "shake it up somehow", song)
    assert isinstance(key, Question) and key.text.startswith("which key?") and "None" not in key.text
    assert isinstance(genre, Question) and "ESPNED" not in genre.text
    assert garbled is None  # the rules' own answer stands


@pytest.mark.trio
async def test_a_failing_model_leaves_the_rules_answer(server: FakeLLMServer, song):
    server.script(*[Reply(status=500)] * 3)
    result = await understand("shake it up somehow", song, settings_for(server.url))
    assert isinstance(result, Question) and not result.understood


@pytest.mark.trio
async def test_keys_tempi_and_genres_from_the_model(server: FakeLLMServer, song):
    server.script(answer(changes=[
        {"kind": "key", "key": "F# dorian"}, {"kind": "tempo", "bpm": 101}, {"kind": "genre", "genre": "house"},
        {"kind": "mix", "mix": "wet"}, {"kind": "mute", "part": "lead", "direction": -1},
    ]))
    async with client_for(server) as llm:
        changes = await parse_with_model(llm, "a different vibe entirely", song)
    assert [c.kind for c in changes] == ["key", "tempo", "genre", "mix", "mute"]
    assert changes[0].key == ("F#", "dorian") and changes[1].bpm == 101 and changes[2].genre == "house"
    assert changes[3].mix == "wet" and changes[4].amount == 0.0
