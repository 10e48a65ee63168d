"""Request routing (seed 6.8): simple questions are answered from the SongState with no request to
any server and no pipeline run; composition requests compose; the model classifies the rest."""

from __future__ import annotations

import json

import pytest

from backbeat.benchmarks.fake_llm import Reply
from backbeat.generators import pipeline, routing
from backbeat.generators.routing import Answer, Compose, Refine

from .conftest import client_for


@pytest.fixture(scope="module")
def song():
    return pipeline.compose_sync("Frank Ocean meets Burial, late-night vibes", seed=3, bars=16)


@pytest.mark.parametrize(
    ("text", "question", "expected"),
    [
        ("what key is this in?", "key", "Bb dorian"),
        ("What chord is bar 5?", "chord_at_bar", "Bar 5 (verse): Bbm9"),
        ("chords in measure 7?", "chord_at_bar", "Bar 7 (verse): Eb9"),  # half time: two bars a chord
        ("what tempo?", "tempo", "134 BPM"),
        ("which instrument is on bass?", "instrument", "Bass: Bassline"),
        ("what sound is on the keys", "instrument", "Chords: Electric"),
        ("how many bars?", "bars", "16 bars in 4 sections"),
        ("what's the progression", "progression", "Bbm9 → E9 → Eb9 → Ab9"),
        ("what sections are there?", "sections", "intro (4) → verse (4)"),
        ("what genre is this", "genre", "neo-soul with uk-garage"),
    ],
)
def test_questions_are_answered_from_the_song(song, monkeypatch, text, question, expected):
    def no_pipeline(*args, **kwargs):
        raise AssertionError("a question must not run the pipeline")

    monkeypatch.setattr(pipeline, "compose_async", no_pipeline)
    routed = routing.route(text, song)
    assert isinstance(routed, Answer) and routed.question == question
    assert expected in routed.text


def test_a_bar_beyond_the_song_says_how_long_it_is(song):
    assert routing.route("what chord is bar 99?", song).text == "The song has 16 bars (1-16)."


@pytest.mark.parametrize("text", ["Create a neo-soul beat", "Trap beat, dark, 140 BPM", "Frank Ocean meets Burial"])
def test_composition_requests_compose(song, text):
    assert routing.route(text, song) == Compose(text)


def test_without_a_song_every_request_composes():
    assert routing.route("what key is this in?", None) == Compose("what key is this in?")


@pytest.mark.trio
async def test_questions_send_nothing_to_the_model_even_when_one_is_configured(server, song):
    async with client_for(server) as llm:
        for text in ("what key is this in?", "what chord is bar 5?", "what tempo?", "which instrument is on bass?", "how many bars?"):
            assert isinstance(await routing.route_with(llm, text, song), Answer)
    assert server.requests == []


@pytest.mark.trio
async def test_the_model_classifies_what_the_patterns_miss(server, song):
    server.script(
        Reply(text=json.dumps({"kind": "question", "question": "chord_at_bar", "bar": 5})),
        Reply(text=json.dumps({"kind": "refine"})),
        Reply(text=json.dumps({"kind": "compose"})),
    )
    async with client_for(server) as llm:
        first = await routing.route_with(llm, "remind me of the harmony under the fifth measure", song)
        second = await routing.route_with(llm, "give the groove a little more bounce", song)
        third = await routing.route_with(llm, "something warm for a rainy Sunday", song)
        fourth = await routing.route_with(llm, "bass too busy", song)  # the patterns know this one
    assert isinstance(first, Answer) and first.text.startswith("Bar 5 (verse)")
    assert second == Refine("give the groove a little more bounce")
    assert third == Compose("something warm for a rainy Sunday")
    assert fourth == Refine("bass too busy")
    assert [r.schema for r in server.requests] == ["RouteAnswer"] * 3


@pytest.mark.trio
async def test_a_failing_model_leaves_the_decision_to_the_patterns(server, song):
    server.script(*[Reply(status=500)] * 3)
    async with client_for(server) as llm:
        assert await routing.route_with(llm, "something warm for a rainy Sunday", song) == Compose("something warm for a rainy Sunday")
