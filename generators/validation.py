"""Checks on a composed song: structural rules every song must pass (stage 7 refuses a song that
fails one) and the musical measures the quality gates of the tests and benchmarks report.
"""

from __future__ import annotations

from .grid import spans, ticks_per_bar
from .model import SongState
from .tables import tables
from .theory import pitch_class, scale_of

DRUM_CHANNEL = 10


def problems(song: SongState) -> list[str]:
    """What is structurally wrong with ``song`` (empty when nothing is)."""
    found = []
    bar = ticks_per_bar(song.arrangement)
    if song.arrangement.total_bars != song.intent.duration.total_bars:
        found.append(f"arrangement has {song.arrangement.total_bars} bars, {song.intent.duration.total_bars} were asked for")
    channels: dict[int, str] = {}
    for track in song.tracks:
        if (track.part == "drums") != (track.channel == DRUM_CHANNEL):
            found.append(f"{track.part} is on channel {track.channel}; drums and only drums belong on {DRUM_CHANNEL}")
        if track.channel in channels:
            found.append(f"{track.part} shares channel {track.channel} with {channels[track.channel]}")
        channels[track.channel] = track.part
        last_end: dict[int, int] = {}
        for clip in sorted(track.clips, key=lambda c: c.start_bar):
            length = clip.bars * bar
            for n in sorted(clip.notes, key=lambda n: (n.tick, n.pitch)):
                start = clip.start_bar * bar + n.tick
                if n.tick + n.duration > length:
                    found.append(f"{track.part}: note {n.pitch} at bar {clip.start_bar + n.tick // bar + 1} runs past its clip")
                if last_end.get(n.pitch, -1) > start:
                    found.append(f"{track.part}: note {n.pitch} at tick {start} overlaps the previous {n.pitch}")
                last_end[n.pitch] = max(last_end.get(n.pitch, -1), start + n.duration)
    return found


ONSET_WINDOW = 60
"""A 32nd: how far micro-timing (swing aside) may move an onset from its place on the grid."""


def _chord_tones(chord) -> set[int]:
    root = pitch_class(chord.root)
    return {(root + i) % 12 for i in tables().theory.qualities[chord.quality].intervals} | {pitch_class(chord.bass or chord.root)}


def _chords_by_tick(song: SongState) -> list[tuple[int, int, set[int]]]:
    bar = ticks_per_bar(song.arrangement)
    beat = bar // song.arrangement.meter.numerator
    out = []
    for section, start in zip(song.arrangement.sections, song.arrangement.start_bars()):
        out += [(start * bar + sp.start, start * bar + sp.end, _chord_tones(sp.chord)) for sp in spans(section, song.progression, bar, beat)]
    return out


def scale_share(song: SongState, parts: tuple[str, ...] = ("bass", "chords")) -> float:
    """Share of the notes of ``parts`` that are in the song's key: in its scale, a tone of the chord
    the progression plays then (a chromatic chord is the harmony's colour, not a wrong note), or a
    semitone from the part's next note (a chromatic approach)."""
    scale = scale_of(song.progression.key.root, song.progression.key.mode)
    bar = ticks_per_bar(song.arrangement)
    chords = _chords_by_tick(song)
    notes = sorted((c.start_bar * bar + n.tick, n.pitch) for t in song.tracks if t.part in parts for c in t.clips for n in c.notes)
    if not notes:
        return 1.0
    inside = 0
    i = 0
    for k, (tick, pitch) in enumerate(notes):
        while i + 1 < len(chords) and chords[i][1] <= tick:
            i += 1
        tones = chords[i][2] if chords and chords[i][0] <= tick + ONSET_WINDOW else set()
        nxt = next((p for t, p in notes[k + 1 : k + 4] if t > tick), None)
        inside += scale.contains(pitch) or pitch % 12 in tones or (nxt is not None and abs(nxt - pitch) == 1)
    return inside / len(notes)


def chord_change_hits(song: SongState) -> tuple[int, int]:
    """(changes on which the bass sounds the chord's bass note, chord changes while the bass plays).
    The note counts when it starts within ``ONSET_WINDOW`` of the change (a laid-back bass still
    marks it)."""
    bar = ticks_per_bar(song.arrangement)
    beat = bar // song.arrangement.meter.numerator
    onsets: dict[int, set[int]] = {}
    for clip in song.track("bass").clips:
        for n in clip.notes:
            onsets.setdefault(clip.start_bar * bar + n.tick, set()).add(n.pitch % 12)
    hits = changes = 0
    for section, start in zip(song.arrangement.sections, song.arrangement.start_bars()):
        if "bass" not in section.active_tracks:
            continue
        for span in spans(section, song.progression, bar, beat):
            changes += 1
            wanted = pitch_class(span.chord.bass or span.chord.root)
            at = start * bar + span.start
            hits += any(wanted in onsets.get(t, ()) for t in range(at - ONSET_WINDOW, at + ONSET_WINDOW + 1))
    return hits, changes
