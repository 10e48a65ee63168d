"""The LLM pipeline end to end against a real loopback server whose simulated model answers every
stage: a valid song with every stage's source recorded, parts in parallel within the limit, retries
and Retry-After honoured, streamed bars before the answer ends, the cache, hex-MIDI parts, the CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import trio

from backbeat import cli
from backbeat.benchmarks.fake_llm import FakeLLMServer, Reply
from backbeat.benchmarks.simulated import SimulatedModel
from backbeat.generators import pipeline, session, validation
from backbeat.generators.model import PARTS
from backbeat.generators.settings import settings

from .conftest import compose_with_llm, sources

STAGES = ["intent", "harmony", "arrangement", *(f"parts.{p}" for p in PARTS), "parts", "presets", "effects", "assembly"]


def assert_valid(draft: pipeline.Draft) -> None:
    song = draft.song()
    assert validation.problems(song) == []
    assert validation.scale_share(song) >= 0.95


@pytest.mark.trio
async def test_every_stage_comes_from_the_model_and_the_song_is_valid(simulated):
    draft = await compose_with_llm(simulated)
    assert [r.stage for r in draft.stages] == STAGES
    assert sources(draft) == {**dict.fromkeys(STAGES, "llm"), "assembly": "algorithmic"}
    assert all(r.attempts >= 1 and r.duration_ms >= 0 for r in draft.stages)
    assert_valid(draft)
    asked = [r.schema for r in simulated.requests]
    clips = sum(len([s for s in draft.arrangement.sections if p in s.active_tracks]) for p in PARTS)
    assert asked.count("ClipAnswer") == clips
    assert {"IntentAnswer", "HarmonyAnswer", "ArrangementAnswer", "PresetAnswer", "EffectAnswer"} <= set(asked)
    assert all(c.source == "llm" for t in draft.tracks for c in t.clips)
    # the simulated model answers with what the algorithmic stages make: the same plan
    offline = await pipeline.compose_async(pipeline.new_draft(draft.prompt, seed=draft.seed, bars=16))
    assert draft.intent == offline.intent
    assert draft.progression.chords == offline.progression.chords
    assert draft.progression.bridge == offline.progression.bridge
    assert draft.arrangement == offline.arrangement


@pytest.mark.trio
async def test_prompts_carry_the_context_hierarchy(simulated):
    await compose_with_llm(simulated, bars=8)
    clip = next(r for r in simulated.requests if r.schema == "ClipAnswer")
    user = clip.body["messages"][1]["content"]
    labels = [line.split(": ", 1)[0] for line in user.splitlines()]
    assert labels[:4] == ["Project", "Group", "Track", "Clip"]
    project = json.loads(user.splitlines()[0].split(": ", 1)[1])
    assert project["prompt"] == "Frank Ocean meets Burial, late-night vibes" and project["meter"] == "4/4"
    assert clip.body["seed"] == 3 and clip.body["response_format"]["json_schema"]["name"] == "ClipAnswer"


@pytest.mark.parametrize("limit", [1, 3])
@pytest.mark.trio
async def test_parts_run_in_parallel_but_never_beyond_the_limit(limit):
    model = SimulatedModel(first_token_s=0.05, tokens_per_s=4000)
    with FakeLLMServer(model=model) as server:
        await compose_with_llm(server, bars=8, max_concurrent_requests=limit)
    assert server.max_in_flight == limit


@pytest.mark.trio
async def test_429_with_retry_after_is_waited_out_and_recorded():
    with FakeLLMServer(model=SimulatedModel()) as server:
        server.script(Reply(status=429, headers={"Retry-After": "0.4"}))  # the intent's first attempt
        draft = await compose_with_llm(server, bars=8)
    first, second = server.requests[:2]
    assert first.schema == second.schema == "IntentAnswer"
    assert second.at - first.at >= 0.4
    record = draft.stages[0]
    assert (record.stage, record.source, record.attempts) == ("intent", "llm", 2)
    assert_valid(draft)


@pytest.mark.trio
async def test_finished_bars_are_seen_while_the_clip_still_streams():
    seen: list[tuple[float, str, int]] = []
    finished: dict[str, float] = {}

    def on_bars(part, section, bars, clip):
        seen.append((trio.current_time(), part, bars))
        assert all(n.tick < bars * 1920 for n in clip.notes)

    def on_clip(part, clip):
        finished.setdefault(part, trio.current_time())

    model = SimulatedModel(tokens_per_s=1500)
    with FakeLLMServer(model=model) as server:
        await compose_with_llm(server, "Trap beat, dark, 140 BPM", bars=8, stages={"on_bars": on_bars, "on_clip": on_clip})
    first_bar = min(t for t, part, bars in seen if part == "drums" and bars == 1)
    assert finished["drums"] - first_bar > 0.2, "bar 1 of the drums was usable well before the clip ended"


@pytest.mark.trio
async def test_hex_midi_parts_go_through_the_same_repair(simulated):
    draft = await compose_with_llm(simulated, llm_part_format="hex")
    assert {r.schema for r in simulated.requests} >= {"HexClipAnswer"}
    assert "ClipAnswer" not in {r.schema for r in simulated.requests}
    assert sources(draft)["parts"] == "llm"
    assert_valid(draft)
    json_draft = await compose_with_llm(simulated)
    for hex_track, json_track in zip(draft.tracks, json_draft.tracks):
        assert [c.notes for c in hex_track.clips] == [c.notes for c in json_track.clips]


@pytest.mark.trio
async def test_broken_hex_falls_back_for_that_clip_only():
    def shape(stage: str, reply: Reply, body: dict) -> Reply:
        if stage == "HexClipAnswer" and "Bass" in body["messages"][1]["content"].split("\n")[2]:
            return replace(reply, text='{"midi": "4d54686400zz"}')
        return reply

    with FakeLLMServer(model=SimulatedModel(shape=shape)) as server:
        draft = await compose_with_llm(server, llm_part_format="hex")
    found = sources(draft)
    assert found["parts.bass"] == "fallback" and found["parts.drums"] == "llm" and found["parts"] == "fallback"
    assert all(c.source == "fallback" for c in draft.song().track("bass").clips)
    assert_valid(draft)


def _generate(out: Path, *extra: str) -> Path:
    assert cli.main(["generate", "Trap beat, dark, 140 BPM", "--seed", "5", "--bars", "8", "--out", str(out), *extra]) == 0
    return max(out.glob("session-*"), key=lambda p: p.stat().st_mtime)


def test_generate_records_sources_and_a_second_identical_run_sends_nothing(simulated, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LLM_BASE_URL", simulated.url)
    monkeypatch.setenv("LLM_CACHE_PATH", str(tmp_path / "cache.sqlite3"))
    monkeypatch.setenv("REQUESTS_PER_MINUTE", "100000")
    monkeypatch.delenv("LLM_API_KEY", raising=False)
    settings.cache_clear()
    try:
        first = _generate(tmp_path / "a")
        sent = len(simulated.requests)
        assert sent > 6
        second = _generate(tmp_path / "b")
        assert len(simulated.requests) == sent, "a cached run sends no request"
        manifest = session.load_manifest(second)
        assert {r.stage: r.source for r in manifest.stage_timings}["harmony"] == "cache"
        assert all(r.source in ("cache", "algorithmic") for r in manifest.stage_timings)
        notes = lambda folder: [c.notes for t in session.load_song(folder).tracks for c in t.clips]  # noqa: E731
        assert notes(first) == notes(second)
        assert {c.source for t in session.load_song(second).tracks for c in t.clips} == {"cache"}
        _generate(tmp_path / "c", "--no-cache")
        assert len(simulated.requests) == 2 * sent
        _generate(tmp_path / "d", "--offline")
        assert len(simulated.requests) == 2 * sent
        err = capsys.readouterr().err
        assert "[model]" in err and "[model, cached]" in err
    finally:
        settings.cache_clear()
