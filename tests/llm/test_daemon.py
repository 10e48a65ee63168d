"""The daemon with a language model configured, in real time, through the engine's recording sink:
playback starts from the algorithmic drafts at once; the model's clips replace drafts only on
section boundaries (and a ``buffer`` event says so); a model plan that differs takes over at a
section boundary; a stalled or failing model never silences anything."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trio

from backbeat.benchmarks.fake_llm import FakeLLMServer, Reply
from backbeat.benchmarks.simulated import SimulatedModel
from backbeat.daemon import main as daemon_main
from backbeat.daemon.state import Memory
from backbeat.engine.commands import EngineConfig
from backbeat.engine.monitor import read_record
from backbeat.generators import session
from backbeat.generators.pipeline import compose_sync
from backbeat.generators.settings import PlaybackSettings
from tests.daemon.conftest import RECORD_STALE_AFTER, TrioClient
from backbeat.benchmarks.swaps import reference

from .conftest import settings_for

FAST = "Trap beat, dark, 240 BPM"  # a bar a second
BAR = 1920
LOUD = 77
"""Velocity of every note the model writes here, so its clips are told from the drafts by ear."""


def marked(stage: str, reply: Reply, body: dict) -> Reply:
    if stage != "ClipAnswer":
        return reply
    answer = json.loads(reply.text)
    for bar in answer["bars"]:
        for note in bar["notes"]:
            note["vel"] = LOUD
    return replace(reply, text=json.dumps(answer))


@asynccontextmanager
async def llm_daemon(tmp_path: Path, model: SimulatedModel, **settings: Any) -> AsyncIterator[tuple[TrioClient, FakeLLMServer, Path]]:
    with FakeLLMServer(model=model) as server:
        options = daemon_main.DaemonOptions(
            socket=tmp_path / "d.sock",
            engine=EngineConfig(midi_api="record", record_path=str(tmp_path / "engine.record"), rt_priority=0, nice=0,
                                stale_after=RECORD_STALE_AFTER),
            settings=settings_for(server.url, output_dir=tmp_path / "out", playback=PlaybackSettings(commit_horizon_ms=200), **settings),
            memory=Memory(tmp_path / "state.json"),
        )
        async with trio.open_nursery() as nursery:
            path = await nursery.start(daemon_main.run, options)
            client = await TrioClient.connect(path)
            await client.ok("subscribe")
            yield client, server, tmp_path / "engine.record"
            nursery.cancel_scope.cancel()


def note_ons(record: Path, lo: int = 0, hi: int = 10**12) -> list[tuple[int, str, int, int]]:
    rows = read_record(str(record)) if record.exists() else []
    return sorted((t, track, m[1], m[2]) for t, track, m in rows
                  if isinstance(m, tuple) and m[0] & 0xF0 == 0x90 and m[2] > 0 and lo <= t < hi)


async def until_recorded(record: Path, tick: int, timeout: float = 60.0) -> None:
    """Wait until the engine has sent a note at or after ``tick``: what sounded is read from the
    recording, so on a loaded machine the test waits for the engine, not for the wall clock (the
    transport's tick runs on time even while a starved engine is still sending what was due)."""
    with trio.fail_after(timeout):
        while not note_ons(record, tick):
            await trio.sleep(0.1)


async def play(client: TrioClient) -> str:
    """Generate and play the fast song; its session id."""
    reply = await client.ok("generate", prompt=FAST, seed=11, bars=16, play=True)
    await client.wait_event("transport", lambda d: d["state"] == "playing", timeout=5)
    return reply["session_id"]


def events(client: TrioClient, name: str) -> list[dict]:
    return [e["data"] for e in client.events if e["event"] == name]


async def model_pass(client: TrioClient, timeout: float = 30) -> tuple[dict, dict]:
    """Play the fast song and wait for the model's pass over it to end, then stop:
    (the log line that says it ended, the status at that moment)."""
    await play(client)
    done = await client.wait_event("log", lambda d: "model's version is in" in d["message"], timeout=timeout)
    status = await client.ok("status")
    await client.ok("stop")
    return done, status


def written(tmp_path: Path) -> tuple[Any, Any]:
    """(song, manifest) of the session folder the daemon wrote."""
    folder = next((tmp_path / "out").glob("session-*"))
    return session.load_song(folder), session.load_manifest(folder)


@pytest.mark.trio
async def test_model_clips_replace_drafts_only_on_section_boundaries(tmp_path):
    async with llm_daemon(tmp_path, SimulatedModel(first_token_s=0.3, tokens_per_s=2000, shape=marked)) as (c, server, record):
        await play(c)
        done = await c.wait_event("log", lambda d: "model's version is in" in d["message"], timeout=30)
        assert "fallback" not in done["message"]
        swaps = [s for s in events(c, "swap") if "(llm)" in s["detail"] and not s["landed"]]
        last = max(s["tick"] for s in swaps)
        await until_recorded(record, last + 2 * BAR)
        await c.ok("stop")
        await trio.sleep(0.3)
        folder = next((tmp_path / "out").glob("session-*"))
        song = session.load_song(folder)
        manifest = session.load_manifest(folder)
    starts = song.arrangement.start_bars()
    assert all(s["tick"] % BAR == 0 and (s["tick"] // BAR) % 16 in starts for s in swaps), swaps
    buffers = events(c, "buffer")
    assert any(clip["source"] == "llm" for b in buffers for clips in b["tracks"].values() for clip in clips)
    assert {r.stage: r.source for r in manifest.stage_timings}["parts"] == "llm"
    assert all(c.source == "llm" and c.version == 2 for t in song.tracks for c in t.clips)
    # what sounded: the drafts up to the model's first clip, only the model's clips after the last
    first = min(s["tick"] for s in swaps)
    draft = await trio.to_thread.run_sync(lambda: compose_sync(FAST, seed=11, bars=16))
    lo = max(0, first - 2 * BAR)
    before = note_ons(record, lo, first)
    assert before and before == reference(draft, {t.part: t for t in draft.tracks}, (lo // BAR) % 16, lo, first, set())
    after = note_ons(record, last, last + 2 * BAR)
    assert after and all(v == LOUD for *_, v in after)
    assert after == reference(song, {t.part: t for t in song.tracks}, (last // BAR) % 16, last, last + 2 * BAR, set())


@pytest.mark.trio
async def test_a_stalled_model_never_silences_playback(tmp_path):
    async with llm_daemon(tmp_path, SimulatedModel(first_token_s=60)) as (c, server, record):
        await play(c)
        await trio.sleep(3.2)
        status = await c.ok("status")
        assert status["pipeline"]["running"] and status["pipeline"]["stage"] == "intent"
        bars = {t // BAR for t, *_ in note_ons(record)}
        assert {0, 1, 2} <= bars, "a note-on in every bar while the model stalls"
        assert [r.schema for r in server.requests] == ["IntentAnswer"]
        # a new song is not held up by the stalled one: its job is cancelled
        await c.ok("generate", prompt="deep house", seed=2, bars=8, play=True)
        await c.wait_event("swap", lambda d: d["kind"] == "song", timeout=5)
        await c.ok("stop")


@pytest.mark.trio
async def test_a_failing_model_falls_back_with_warnings_while_the_drafts_play(tmp_path):
    model = SimulatedModel(shape=lambda stage, reply, body: replace(reply, stall_after=2, stall_s=5))
    async with llm_daemon(tmp_path, model, llm_stall_s=0.3, llm_max_attempts=1) as (c, server, record):
        done, status = await model_pass(c)
        _, manifest = written(tmp_path)
    assert "0 clips from the model" in done["message"] and "algorithmic fallback" in done["message"]
    warnings = [e["message"] for e in events(c, "log") if e["level"] == "warning"]
    assert any(w.startswith("intent: the model gave no usable answer") for w in warnings)
    assert status["transport"]["state"] == "playing"
    ticks = [t for t, *_ in note_ons(record)]
    assert {t // BAR for t in ticks} >= set(range(max(ticks) // BAR)), "no silent bar"
    found = {r.stage: r.source for r in manifest.stage_timings}
    assert found["intent"] == found["harmony"] == found["parts"] == found["effects"] == "fallback"


@pytest.mark.trio
async def test_a_different_plan_takes_over_at_a_section_boundary(tmp_path):
    def other_chords(stage: str, reply: Reply, body: dict) -> Reply:
        if stage != "HarmonyAnswer":
            return reply
        return replace(reply, text=json.dumps({"name": "model", "chords": [{"degree": d, "beats": 4} for d in ("i", "VI", "III", "VII")]}))

    async with llm_daemon(tmp_path, SimulatedModel(first_token_s=0.2, tokens_per_s=3000, shape=other_chords)) as (c, server, record):
        session_id = await play(c)
        await c.wait_event("log", lambda d: "model's version is in" in d["message"], timeout=30)
        takeover = next(s for s in events(c, "swap") if s["kind"] == "song")
        await c.ok("stop")
        folder = next((tmp_path / "out").glob("session-*"))
        song = session.load_song(folder)
    starts = song.arrangement.start_bars()
    assert takeover["tick"] % BAR == 0 and (takeover["tick"] // BAR) % 16 in starts
    assert song.progression.degrees == ["1", "6", "3", "7"] and song.progression.style == "llm"
    clips = [s for s in events(c, "swap") if "(llm)" in s["detail"] and not s["landed"]]
    assert clips and all(s["tick"] >= takeover["tick"] and ((s["tick"] - takeover["tick"]) // BAR) % 16 in starts for s in clips)
    assert song.session_id == session_id


@pytest.mark.trio
async def test_live_clips_below_the_floor_never_replace_drafts_and_the_budget_bounds_the_pass(tmp_path):
    def empty_drums(stage: str, reply: Reply, body: dict) -> Reply:
        if stage != "ClipAnswer" or '"part":"drums"' not in body["messages"][1]["content"].replace(" ", ""):
            return reply
        return replace(reply, text=json.dumps({"bars": [{"bar": 1, "notes": []}]}))

    model = SimulatedModel(first_token_s=0.2, tokens_per_s=3000, shape=empty_drums)
    async with llm_daemon(tmp_path, model, llm_live_budget_s=60.0) as (c, server, record):
        done, _ = await model_pass(c, timeout=60)
        swaps = [s for s in events(c, "swap") if "(llm)" in s["detail"]]
        song, manifest = written(tmp_path)
    assert swaps and not [s for s in swaps if s["detail"].startswith("drums")], swaps
    assert all(c.notes and c.source != "llm" and c.version == 1 for c in song.track("drums").clips), [(c.source, c.version) for c in song.track("drums").clips]
    record = next(r for r in manifest.stage_timings if r.stage == "parts.drums")
    assert record.source == "fallback" and "no notes" in record.detail
    warnings = [e["message"] for e in events(c, "log") if e["level"] == "warning"]
    assert len([w for w in warnings if w.startswith("parts:")]) == 1, warnings
    assert "fallback for parts.drums" in done["message"]


@pytest.mark.trio
async def test_the_live_budget_ends_the_models_pass_with_the_drafts_playing(tmp_path):
    async with llm_daemon(tmp_path, SimulatedModel(first_token_s=0.6), llm_live_budget_s=1.5, max_concurrent_requests=1) as (c, server, record):
        done, status = await model_pass(c)
        _, manifest = written(tmp_path)
    assert status["transport"]["state"] == "playing"
    sources = {r.stage: r.source for r in manifest.stage_timings}
    assert "budget" in sources.values() and "budget" in json.dumps([e["data"] for e in c.events if e["event"] == "log"])
    assert "algorithmic fallback" in done["message"]
