"""The transport is honest (issue 15): one looping rule for every way a song starts, a song that
ends reports stopped, stopped shows the loaded song's tempo, ``start`` resumes and ``toggle``
toggles; sections are named by kind and synonym and numbered from 1 in every refusal."""

from __future__ import annotations

import pytest
import trio

FAST = "techno, 300 BPM"  # 0.8 s a bar: a 2-bar song ends within two seconds


async def composed(c, *, prompt: str = FAST, bars: int = 2, **args) -> dict:
    """Compose ``prompt`` and wait until it plays (events subscribed)."""
    await c.ok("generate", prompt=prompt, seed=3, bars=bars, play=True, **args)
    await c.wait_event("transport", lambda d: d["state"] == "playing", timeout=10)
    c.events.clear()  # what was said before it played (a new song's state, stopped) is not what comes next
    return await c.ok("status")


@pytest.mark.trio
async def test_every_new_song_loops_whatever_the_last_playback_did(daemon):
    c = await daemon.client()
    await c.ok("subscribe", topics=["transport", "log"])
    await composed(c)
    await c.wait_event("log", lambda d: "session written" in d["message"], timeout=10)
    folder = str(next(daemon.output.glob("session-*")))
    played = await c.ok("play", session=folder, loop=False)  # as `backbeat play --once SESSION` asks
    assert played["loop"] is False
    # then a song typed in the TUI (`say`) or sent by any client: it loops (issue 15: it did not)
    said = await c.ok("say", text="deep house in A minor")
    assert said["kind"] == "generate"
    with trio.fail_after(10):
        while (status := await c.ok("status"))["session"]["prompt"] != "deep house in A minor":
            await trio.sleep(0.05)
    assert status["transport"]["loop"] is True
    assert status["session"]["prompt"] == "deep house in A minor"
    await c.ok("stop")


@pytest.mark.trio
async def test_a_song_that_ends_reports_stopped_and_start_and_toggle_resume_it(daemon):
    c = await daemon.client()
    await c.ok("subscribe", topics=["transport"])
    status = await composed(c, loop=False)
    assert status["transport"] == {**status["transport"], "state": "playing", "loop": False, "ended": False}
    ended = await c.wait_event("transport", lambda d: d["state"] != "playing", timeout=10)
    assert ended["state"] == "stopped" and ended["ended"] is True, "an ended song is stopped, saying why"
    assert (await c.ok("status"))["transport"]["state"] == "stopped"
    started = await c.ok("start")
    assert started["state"] == "playing" and started["loop"] is True, "after the end, start plays it again, looping"
    stopped = await c.ok("toggle")
    assert stopped["state"] == "stopped" and stopped["ended"] is False
    again = await c.ok("toggle")
    assert again["state"] == "playing"
    await c.ok("stop")


@pytest.mark.trio
async def test_start_resumes_from_the_section_it_stopped_in(daemon):
    c = await daemon.client()
    await c.ok("subscribe", topics=["transport", "swap"])
    status = await composed(c, bars=8)
    sections = status["session"]["sections"]
    assert len(sections) > 1
    await c.ok("jump", section=len(sections) - 1, quantize="bar")
    await c.wait_event("swap", lambda d: d["kind"] == "jump" and d["landed"], timeout=10)
    await c.ok("stop")
    resumed = await c.ok("start")
    assert resumed["state"] == "playing" and resumed["section"] == sections[-1]["name"]
    await c.ok("stop")
    assert (await c.ok("play"))["section"] == sections[0]["name"], "play starts from the top"
    await c.ok("stop")


@pytest.mark.trio
async def test_stopped_the_tempo_shown_is_the_loaded_songs(daemon):
    c = await daemon.client()
    await c.ok("subscribe", topics=["transport", "swap", "log"])
    await composed(c, bars=8)
    await c.wait_event("log", lambda d: "session written" in d["message"], timeout=10)
    await c.ok("tempo", bpm=150)
    await c.wait_event("swap", lambda d: d["kind"] == "tempo" and d["landed"], timeout=10)
    await c.ok("stop")
    assert (await c.ok("status"))["transport"]["bpm"] == 150
    # a new song placed to take over, and a stop before it does: the new song is the loaded one
    await c.ok("play")
    await c.ok("generate", prompt="downtempo, 90 BPM", seed=4, bars=8, play=True)
    await c.wait_event("swap", lambda d: d["kind"] == "song" and not d["landed"], timeout=10)
    await c.ok("stop")
    status = await c.ok("status")
    assert status["session"]["prompt"] == "downtempo, 90 BPM"
    assert status["transport"]["bpm"] == 90


@pytest.mark.trio
async def test_a_jump_by_kind_takes_a_synonym_and_numbers_are_one_based(daemon):
    c = await daemon.client()
    await c.ok("subscribe", topics=["transport"])
    status = await composed(c, prompt="deep house, 122 BPM", bars=8)
    names = [s["name"] for s in status["session"]["sections"]]
    assert not any(n.startswith("chorus") for n in names) and any(n.startswith("drop") for n in names)
    jumped = await c.ok("jump", section="chorus")  # the song has a drop: it stands in for the chorus
    assert jumped["section"].startswith("drop")
    reply = await c.call("jump", section=98)  # `backbeat jump 99`
    message = reply["error"]["message"]
    assert reply["error"]["code"] == "not_found"
    assert f"there is no section 99: the song has {len(names)} (1-{len(names)}: 1 {names[0]}" in message
    assert "index" not in message and "98" not in message, "no 0-based index reaches a person"
    await c.ok("stop")
