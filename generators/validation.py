"""Checks on a composed song: structural rules every song must pass (stage 7 refuses a song that
fails one) and the musical measures the quality gates of the tests and benchmarks report.
"""

from __future__ import annotations

from .grid import spans, ticks_per_bar
from .model import SongState
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


def scale_share(song: SongState, parts: tuple[str, ...] = ("bass", "chords")) -> float:
    """Share of the notes of ``parts`` that lie in the song's scale."""
    scale = scale_of(song.progression.key.root, song.progression.key.mode)
    pitches = [n.pitch for t in song.tracks if t.part in parts for c in t.clips for n in c.notes]
    return sum(scale.contains(p) for p in pitches) / len(pitches) if pitches else 1.0


def chord_change_hits(song: SongState) -> tuple[int, int]:
    """(changes on which the bass sounds the chord's bass note, chord changes while the bass plays)."""
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
            hits += wanted in onsets.get(start * bar + span.start, set())
    return hits, changes
