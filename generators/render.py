"""A ``SongState`` as the engine plays it: absolute-tick clips, the tempo map and the meter.

This is the one bridge from the song's model (clip-relative ticks, one-based channels) to the
engine's frozen values (song ticks, zero-based channels).
"""

from __future__ import annotations

from backbeat.engine.events import Clip, Note
from backbeat.engine.time import Meter, TempoMap

from .model import SongState, Track


def meter(song: SongState) -> Meter:
    return Meter(song.arrangement.meter.numerator, song.arrangement.meter.denominator)


def tempo_map(song: SongState) -> TempoMap:
    return TempoMap.constant(song.bpm)


def track_clips(song: SongState, track: Track) -> list[Clip]:
    """``track``'s clips in song ticks (a muted track still has its clips; muting is playback's call)."""
    bar = meter(song).ticks_per_bar
    channel = track.channel - 1
    clips = []
    for c in track.clips:
        start = c.start_bar * bar
        notes = tuple(Note(start + n.tick, n.duration, n.pitch, n.velocity, channel) for n in c.notes)
        clips.append(Clip(track.part, start, start + c.bars * bar, notes))
    return clips


def song_clips(song: SongState) -> list[Clip]:
    """Every unmuted track's clips, in song order."""
    clips = [c for t in song.tracks if not t.muted for c in track_clips(song, t)]
    return sorted(clips, key=lambda c: (c.start, c.track))


def song_end(song: SongState) -> int:
    """Tick at which the song ends."""
    return song.arrangement.total_bars * meter(song).ticks_per_bar
