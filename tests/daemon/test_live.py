"""The daemon in real time, checked through the engine's recording sink: a jump, a mute and a
regenerated part land exactly on their boundary ticks, nothing is left sounding, the session folder
follows, and a daemon restart brings the last session back."""

from pathlib import Path

import pytest
import trio

from backbeat.daemon.main import DaemonOptions, run
from backbeat.daemon.state import Memory
from backbeat.engine.commands import EngineConfig
from backbeat.generators.session import load_song
from backbeat.benchmarks.swaps import reference

FAST = "Trap beat, dark, 240 BPM"  # a bar every second: changes land quickly


async def started(c, **args):
    await c.ok("subscribe")
    await c.ok("generate", prompt=FAST, seed=11, bars=16, play=True, **args)
    await c.wait_event("transport", lambda d: d["state"] == "playing", timeout=10)
    return await c.ok("status")


def note_ons(rows, lo, hi):
    return sorted((t, track, m[1], m[2]) for t, track, m in rows if isinstance(m, tuple) and m[0] & 0xF0 == 0x90 and m[2] > 0 and lo <= t < hi)


def unended(rows):
    sounding = {}
    for t, track, m in rows:
        if not isinstance(m, tuple) or m[0] & 0xF0 not in (0x80, 0x90):
            continue
        key = (m[0] & 0x0F, m[1])
        if m[0] & 0xF0 == 0x90 and m[2] > 0:
            sounding[key] = t
        else:
            sounding.pop(key, None)
    return sounding


@pytest.mark.trio
async def test_a_bar_quantized_jump_lands_on_its_bar_line(daemon):
    c = await daemon.client()
    status = await started(c)
    sections = status["session"]["sections"]
    target = len(sections) - 1
    result = await c.ok("jump", section=target, quantize="bar")
    swap = await c.wait_event("swap", lambda d: d["kind"] == "jump" and d["landed"], timeout=10)
    assert swap["at_bar"] == result["at_bar"]
    await trio.sleep(2.2)  # two bars past the jump
    await c.ok("stop")
    await trio.sleep(0.3)
    rows = daemon.recorded()
    song = load_song(next(daemon.output.glob("session-*")))
    bar = 1920
    b = swap["tick"]
    tracks = {t.part: t for t in song.tracks}
    expected = reference(song, tracks, song.arrangement.start_bars()[target], b, b + 2 * bar, set())
    assert note_ons(rows, b, b + 2 * bar) == expected
    assert note_ons(rows, b - bar, b) == reference(song, tracks, (b // bar - 1) % 16, b - bar, b, set())
    assert not unended(rows)


@pytest.mark.trio
async def test_mute_and_regenerate_land_on_their_boundaries_and_the_folder_follows(daemon):
    c = await daemon.client()
    await started(c)
    muted = await c.ok("mute", track="chords", on=True)
    regen = await c.ok("regenerate", part="bass")
    assert regen["version"] == 2
    landed = await c.wait_event("swap", lambda d: d["kind"] == "part" and d["landed"] and "bass" in d["detail"], timeout=15)
    assert landed["at_bar"] == regen["at_bar"]
    await trio.sleep(1.2)
    await c.ok("stop")
    await trio.sleep(0.3)
    rows = daemon.recorded()
    mute_tick = (muted["at_bar"] - 1) * 1920
    assert not [r for r in note_ons(rows, mute_tick, 10**9) if r[1] == "chords"]
    assert [r for r in note_ons(rows, 0, mute_tick) if r[1] == "chords"]
    assert not unended(rows)
    folder = next(daemon.output.glob("session-*"))
    song = load_song(folder)
    assert max(c.version for c in song.track("bass").clips) == 2
    assert song.history[-1].action == "regenerate" and song.history[-1].targets == ["bass"]


@pytest.mark.trio
async def test_unknown_sections_and_no_song_are_clear_errors(daemon):
    c = await daemon.client()
    reply = await c.call("jump", section="chorus")
    assert reply["error"]["code"] == "conflict"
    await started(c)
    reply = await c.call("jump", section="bridge 9")
    assert reply["error"]["code"] == "not_found" and "the song has" in reply["error"]["message"]
    reply = await c.call("play", session="/nonexistent/folder")
    assert reply["error"]["code"] == "not_found"


@pytest.mark.trio
async def test_a_restarted_daemon_shows_the_last_session_and_play_resumes_it(tmp_path):
    memory = Memory(tmp_path / "state.json")
    from backbeat.generators.settings import Settings

    def options(sock):
        return DaemonOptions(socket=tmp_path / sock, engine=EngineConfig(midi_api="null", rt_priority=0, nice=0),
                             settings=Settings(output_dir=tmp_path / "out"), memory=memory)

    from tests.daemon.conftest import TrioClient

    async with trio.open_nursery() as nursery:
        path = await nursery.start(run, options("a.sock"))
        c = await TrioClient.connect(path)
        await c.ok("subscribe")
        await c.ok("generate", prompt="deep house", seed=2, bars=8)
        await c.wait_event("log", lambda d: "session written" in d["message"], timeout=10)
        first = await c.ok("status")
        nursery.cancel_scope.cancel()
    async with trio.open_nursery() as nursery:
        path = await nursery.start(run, options("b.sock"))
        c = await TrioClient.connect(path)
        status = await c.ok("status")
        assert status["session"]["session_id"] == first["session"]["session_id"]
        assert status["session"]["path"] == first["session"]["path"]
        played = await c.ok("play")
        assert played["state"] == "playing"
        await c.ok("stop")
        nursery.cancel_scope.cancel()


@pytest.mark.trio
async def test_an_engine_that_dies_is_restarted_and_playback_resumes(daemon):
    import os
    import signal

    c = await daemon.client()
    await started(c)
    status = await c.ok("status")
    os.kill(status["engine"]["pid"], signal.SIGKILL)
    await c.wait_event("log", lambda d: "restarting" in d["message"], timeout=10)
    await c.wait_event("log", lambda d: "resumed" in d["message"], timeout=10)
    status = await c.ok("status")
    assert status["engine"]["alive"] and status["transport"]["state"] == "playing"
    panics = [m for _, _, m in daemon.recorded() if isinstance(m, tuple) and m[0] & 0xF0 == 0xB0 and m[1:] == (123, 0)]
    assert len(panics) >= 32, "the first engine and its replacement each panic on all 16 channels at start-up"


@pytest.mark.trio
async def test_a_refinement_lands_on_the_next_section_boundary_exactly(daemon):
    c = await daemon.client()
    await started(c)
    await c.wait_event("log", lambda d: "session written" in d["message"], timeout=10)
    before = load_song(next(daemon.output.glob("session-*")))
    result = await c.ok("refine", text="bass busier")
    assert result["targets"] == ["bass"] and result["at_bar"]
    landed = await c.wait_event("swap", lambda d: d["kind"] == "part" and "bass" in d["detail"] and d["landed"], timeout=20)
    assert landed["at_bar"] == result["at_bar"]
    b = landed["tick"]
    await trio.sleep(2.2)
    await c.ok("stop")
    await trio.sleep(0.3)
    rows = daemon.recorded()
    after = load_song(next(daemon.output.glob("session-*")))
    bar, total = 1920, after.arrangement.total_bars
    assert (b // bar) % total in after.arrangement.start_bars(), "a refinement lands on a section boundary"
    bass = lambda rows_: [r for r in rows_ if r[1] == "bass"]  # noqa: E731
    old = {t.part: t for t in before.tracks}
    new = {t.part: t for t in after.tracks}
    assert bass(note_ons(rows, b - bar, b)) == bass(reference(before, old, (b // bar - 1) % total, b - bar, b, set()))
    assert bass(note_ons(rows, b, b + 2 * bar)) == bass(reference(after, new, (b // bar) % total, b, b + 2 * bar, set()))
    assert after.history[-1].request == "bass busier" and after.history[-1].snapshot
    assert not unended(rows)


@pytest.mark.trio
async def test_the_input_line_is_routed_question_change_or_new_song(daemon):
    c = await daemon.client()
    status = await started(c)
    answer = await c.ok("say", text="what key is this in?")
    assert answer["kind"] == "answer" and status["session"]["key"].split()[0] in answer["answer"]
    question = await c.ok("say", text="simpler")
    assert question["kind"] == "refine" and "?" in question["question"]
    change = await c.ok("say", text="2nd chord darker")  # the trap song is a two-chord vamp
    assert change["kind"] == "refine" and "progression" in change["targets"] and change["read"] == ["chord 2: darker"]
    jump = await c.ok("say", text="go to the chrous")
    assert jump["kind"] == "command" and jump["command"].startswith("jump hook") and jump["at_bar"]  # the first hook
    mute = await c.ok("say", text="stop the bass")
    assert mute["kind"] == "refine" and mute["read"] == ["bass: mute"]
    song = await c.ok("say", text="deep house in A minor")
    assert song["kind"] == "generate" and song["session_id"] != status["session"]["session_id"]


@pytest.mark.trio
async def test_a_dry_run_says_what_a_request_would_change_and_changes_nothing(daemon):
    c = await daemon.client()
    await started(c)
    await c.wait_event("log", lambda d: "session written" in d["message"], timeout=10)
    folder = next(daemon.output.glob("session-*"))
    bpm = (await c.ok("status"))["session"]["bpm"]
    result = await c.ok("refine", text="slowwer and mute the lead", dry_run=True)
    assert result["dry_run"] and result["read"] == ["tempo × 0.92", "lead: mute"]
    assert result["corrections"] == ["reading 'slowwer' as 'slower'"] and any("→" in n for n in result["notes"])
    status = await c.ok("status")
    assert status["session"]["bpm"] == bpm and status["pending"] == []
    song = load_song(folder)  # the background alternatives may have saved it since, but no change did
    assert song.history == [] and not song.track("lead").muted


@pytest.mark.trio
async def test_ab_switches_to_alternatives_made_in_the_background(daemon):
    c = await daemon.client()
    await started(c)
    await c.wait_event("log", lambda d: "session written" in d["message"], timeout=10)
    for _ in range(200):  # the alternatives appear in the song as they are made
        status = await c.ok("status")
        folder = status["session"]["path"]
        if folder and len(load_song(Path(folder)).alternatives.get("lead", [])) == 3:
            break
        await trio.sleep(0.05)
    first = await c.ok("ab", part="bass")
    second = await c.ok("ab", part="bass")
    assert (first["label"], second["label"]) == ("A", "B")
    song = load_song(Path(folder))
    assert song.track("bass").params == next(a for a in song.alternatives["bass"] if a.label == "B").track.params
