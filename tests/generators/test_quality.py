"""The acceptance gate of issue 2, over many prompt x seed combinations.

For every song: at least 95% of bass and chord notes in the song's scale; the bass on the chord's
bass note on at least 90% of chord changes; no structural problem (same-pitch overlaps, drums off
channel 10, bars other than requested); and every .mid file read back by symusic (an independent
C++ parser) and checked for note pairing by ``midi.validate``, drums only on the drum track.
"""

from __future__ import annotations

import io

import mido
import pytest
import symusic

from backbeat.generators import midi, validation
from backbeat.generators.intent import explicit_bars
from backbeat.generators.model import PARTS

from .songs import absolute_notes, example_prompts, song

SCALE_SHARE = 0.95
CHANGE_HITS = 0.90


def cases() -> list[tuple[str, int]]:
    """Every example prompt with one seed, the first ten with a second; seeds 16-20 borrow chords."""
    prompts = example_prompts()
    combos = [(p, 11 + i % 10) for i, p in enumerate(prompts)]
    combos += [(p, 3) for p in prompts[:10]]
    return combos


CASES = cases()


def test_the_gate_covers_at_least_20_combinations_and_many_genres():
    assert len(CASES) >= 20
    genres = {song(p, s).intent.genre.primary for p, s in CASES}
    assert len(genres) >= 15, genres


@pytest.fixture(scope="module", params=CASES, ids=[f"{p[:32]}-seed{s}" for p, s in CASES])
def case(request):
    prompt, seed = request.param
    s = song(prompt, seed)
    files = {part: midi.part_file(s, part) for part in PARTS}
    return prompt, s, files, midi.arrangement_file(s)


def test_bass_and_chords_are_in_scale(case):
    _, s, _, _ = case
    assert validation.scale_share(s, ("bass", "chords")) >= SCALE_SHARE
    assert validation.scale_share(s, ("bass",)) >= SCALE_SHARE
    assert validation.scale_share(s, ("chords",)) >= SCALE_SHARE


def test_bass_marks_the_chord_changes(case):
    _, s, _, _ = case
    hits, changes = validation.chord_change_hits(s)
    assert changes > 0
    assert hits >= CHANGE_HITS * changes, (hits, changes)


def test_no_structural_problems(case):
    _, s, _, _ = case
    assert validation.problems(s) == []
    assert sorted(t.channel for t in s.tracks) == sorted({t.channel for t in s.tracks})
    assert [t.part for t in s.tracks if t.channel == 10] == ["drums"]


def test_bars_are_as_requested(case):
    prompt, s, _, _ = case
    assert s.arrangement.total_bars == s.intent.duration.total_bars
    stated = explicit_bars(prompt)
    if stated is not None:
        assert s.arrangement.total_bars == stated


@pytest.mark.parametrize("part", PARTS)
def test_part_file_reads_back_in_symusic(case, part):
    _, s, files, _ = case
    data = files[part]
    score = symusic.Score.from_midi(data)
    assert score.tpq == 480 and len(score.tracks) == 1
    (track,) = score.tracks
    assert track.is_drum == (part == "drums")
    notes = sorted((n.time, n.duration, n.pitch, n.velocity) for n in track.notes)
    assert notes and all(d > 0 for _, d, _, _ in notes)
    assert notes == absolute_notes(s, part)  # every note survives the round trip, unchanged
    end = s.arrangement.total_bars * 4 * 480
    assert max(t + d for t, d, _, _ in notes) <= end


@pytest.mark.parametrize("part", PARTS)
def test_part_file_pairs_every_note(case, part):
    _, s, files, _ = case
    report = midi.validate(files[part], drums_channel_only=(part == "drums"))
    assert report.problems == ()
    assert report.format == 0 and report.tracks == 1
    assert report.channels == (s.track(part).channel,)
    assert report.notes == sum(len(c.notes) for c in s.track(part).clips)
    assert report.length_ticks == s.arrangement.total_bars * 4 * 480


def test_arrangement_file(case):
    _, s, _, data = case
    mf = mido.MidiFile(file=io.BytesIO(data))
    assert mf.type == 1 and len(mf.tracks) == 1 + len(PARTS)
    assert [t.name for t in mf.tracks[1:]] == [s.track(p).name for p in PARTS]
    assert not any(not m.is_meta for m in mf.tracks[0])  # track 0 is the tempo map only

    report = midi.validate(data)
    assert report.problems == ()
    per_track = midi.notes(data)
    assert per_track[0][1] == []
    for (name, rows), part in zip(per_track[1:], PARTS, strict=True):
        channels = {r[4] for r in rows}
        assert channels == {s.track(part).channel}, (name, channels)
        assert (10 in channels) == (part == "drums")

    score = symusic.Score.from_midi(data)
    assert [t.is_drum for t in score.tracks] == [p == "drums" for p in PARTS]
    assert all(n.duration > 0 for t in score.tracks for n in t.notes)
    for track, part in zip(score.tracks, PARTS, strict=True):
        assert sorted((n.time, n.duration, n.pitch, n.velocity) for n in track.notes) == absolute_notes(s, part)
    starts = [b * 4 * 480 for b in s.arrangement.start_bars()]
    assert [(m.time, m.text) for m in score.markers] == list(zip(starts, [sec.name for sec in s.arrangement.sections]))
    assert [round(t.qpm, 3) for t in score.tempos] == [round(s.bpm, 3)]
