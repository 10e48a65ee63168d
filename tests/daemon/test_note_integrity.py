"""No note-off is ever skipped (issue 17): long random performances on the fake clock — songs whose
notes overlap the next hit of the same pitch (retriggers), swaps at bar and section boundaries,
mutes, tempo changes, jumps, an owner that falls behind, stops and restarts — and on every
(port, channel, note) the sends alternate note-on, note-off exactly, with nothing sounding after
the last stop."""

from __future__ import annotations

from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from backbeat.benchmarks.integrity import Keys
from backbeat.engine.time import TempoMap
from backbeat.generators.model import SongState, Track
from backbeat.generators.parts import PART_GENERATORS
from backbeat.generators.pipeline import compose_sync
from tests.daemon.swaps import Performance

PROMPTS = ("drum and bass", "deep house in A minor", "lofi study beats", "trap beat, dark")


@cache
def base_song(prompt: str, seed: int) -> SongState:
    return compose_sync(prompt, seed=seed, bars=8)


def stretched(track: Track, factor: float, bar_ticks: int) -> Track:
    """``track`` with every note held ``factor`` times as long (within its clip): hits of one pitch
    then overlap the next, which is what a retrigger is."""
    clips = []
    for clip in track.clips:
        end = clip.bars * bar_ticks
        notes = [n.model_copy(update={"duration": max(1, min(int(n.duration * factor), end - n.tick))}) for n in clip.notes]
        clips.append(clip.model_copy(update={"notes": notes}))
    return track.model_copy(update={"clips": clips})


PART = st.integers(0, 3)
OPS = st.one_of(
    st.tuples(st.just("wait"), st.floats(0.05, 4.0)),
    st.tuples(st.just("swap"), PART, st.sampled_from(["bar", "section"]), st.floats(1.0, 4.0), st.integers(0, 99)),
    st.tuples(st.just("mute"), PART, st.booleans()),
    st.tuples(st.just("tempo"), st.floats(60, 200)),
    st.tuples(st.just("jump"), st.integers(0, 7), st.sampled_from(["bar", "section"])),
    st.tuples(st.just("stall"), st.floats(0.15, 0.6)),
    st.tuples(st.just("restart"),),
)


@settings(max_examples=25, deadline=None)
@given(prompt=st.sampled_from(PROMPTS), seed=st.integers(0, 3), factor=st.floats(1.0, 4.0), ops=st.lists(OPS, min_size=4, max_size=24))
def test_on_every_key_note_ons_and_note_offs_alternate_exactly(prompt, seed, factor, ops):
    song = base_song(prompt, seed)
    bar_ticks = 1920 * song.arrangement.meter.numerator // song.arrangement.meter.denominator
    song = song.model_copy(update={"tracks": [stretched(t, factor, bar_ticks) for t in song.tracks]})
    play = Performance(song, TempoMap.constant(song.bpm), ports=("a", "b"))
    tl, rig = play.tl, play.rig
    parts = [t.part for t in song.tracks]
    play.start()
    for op in ops:
        kind = op[0]
        if kind == "wait":
            play.run_until(rig.now + op[1])
        elif kind == "swap":
            _, i, quantize, more, s = op
            part = parts[i % len(parts)]
            fresh = PART_GENERATORS[part](song.intent, song.progression, song.arrangement, seed=s)
            track = song.track(part).model_copy(update={"clips": [c.model_copy(update={"version": 2}) for c in fresh.clips]})
            tl.put_track(stretched(track, more, bar_ticks), quantize)
        elif kind == "mute":
            tl.mute(parts[op[1] % len(parts)], op[2])
        elif kind == "tempo":  # as the player does it: from the next bar beyond the horizon
            rig.scheduler.set_tempo(tl.next_boundary(tl.committed, "bar"), op[1], now=rig.now)
        elif kind == "jump":
            tl.jump(op[1] % len(song.arrangement.sections), op[2])
        elif kind == "stall":  # the owner falls behind: late sends, stale note-ons dropped
            rig.advance(op[1])
        else:
            rig.record(rig.scheduler.stop(rig.now))
            play.start(0)
    play.run_until(rig.now + 0.5)
    rig.record(rig.scheduler.stop(rig.now))

    keys = Keys()
    for sent in rig.sent:
        keys.feed(sent.send.port, sent.send.message, f"tick {sent.send.tick} {sent.send.track}")
    assert keys.problems == []
    assert not keys.sounding and not keys.unbalanced() and len(rig.scheduler.ledger) == 0
    assert sum(keys.ons.values()) > 0
