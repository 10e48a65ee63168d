"""Reading Standard MIDI Files: parse (every mido failure one ``MidiDataError`` line), list the
notes of each track, and validate note pairing and channels."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import mido

from .errors import MidiDataError
from .midi import DRUM_CHANNEL

NoteRow = tuple[int, int, int, int, int]
"""(absolute tick, duration, pitch, velocity, one-based channel) of one note in a file."""
Timed = tuple[int, mido.Message | mido.MetaMessage]
"""A message at an absolute tick (its own ``time`` is ignored until the track is built)."""


def read(data: bytes) -> mido.MidiFile:
    """Parse Standard MIDI File bytes.

    Raises:
        MidiDataError: the data is not a Format 0, 1 or 2 file with a tick-based time division.
    """
    data = bytes(data)
    if data[:4] != b"MThd":
        raise MidiDataError("not a MIDI file: missing MThd header")
    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except EOFError:
        raise MidiDataError("not a valid MIDI file: the data ends early (truncated?)") from None
    except Exception as error:  # mido raises OSError, ValueError, KeyError, ... for bad bytes
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise MidiDataError(f"not a valid MIDI file: {detail}") from error
    if midi.type not in (0, 1, 2):
        raise MidiDataError(f"not a valid MIDI file: unknown format {midi.type}")
    if midi.ticks_per_beat <= 0:
        what = "SMPTE time division" if midi.ticks_per_beat < 0 else "0 ticks per beat"
        raise MidiDataError(f"unsupported MIDI file: {what}")
    return midi


def absolute(track: mido.MidiTrack) -> Iterator[Timed]:
    now = 0
    for msg in track:
        now += msg.time
        yield now, msg


def track_name(track: mido.MidiTrack) -> str:
    return next((msg.name for msg in track if msg.type == "track_name"), "")


def plays(track: mido.MidiTrack) -> bool:
    """Whether the track holds channel messages (``channel_prefix`` is a meta with a channel)."""
    return any(not msg.is_meta and hasattr(msg, "channel") for msg in track)


# --- validate and notes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MidiReport:
    """What ``validate`` found in one file."""

    format: int
    tracks: int
    ticks_per_beat: int
    notes: int
    channels: tuple[int, ...]
    """One-based channels that carry any channel message, ascending."""
    length_ticks: int
    """Tick of the latest end_of_track."""
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _scan(track: mido.MidiTrack) -> tuple[list[NoteRow], list[str]]:
    """The track's notes and its pairing problems.

    A note-on while the same key sounds ends the earlier note there (a retrigger, as the writer
    does); a note-on never switched off lasts to the end of the track.
    """
    found: list[NoteRow] = []
    problems: list[str] = []
    sounding: dict[tuple[int, int], tuple[int, int]] = {}  # (channel, pitch) -> (start, velocity)
    now = 0
    for now, msg in absolute(track):
        if msg.type not in ("note_on", "note_off"):
            continue
        key, where = (msg.channel, msg.note), f"pitch {msg.note} on channel {msg.channel + 1}"
        if key in sounding:
            start, velocity = sounding.pop(key)
            found.append((start, now - start, msg.note, velocity, msg.channel + 1))
            if msg.type == "note_on" and msg.velocity > 0:
                problems.append(f"overlapping notes: {where} at tick {now}, "
                                f"the note from tick {start} still sounds")
        elif msg.type == "note_off" or msg.velocity == 0:
            problems.append(f"note-off without note-on: {where} at tick {now}")
        if msg.type == "note_on" and msg.velocity > 0:
            sounding[key] = (now, msg.velocity)
    for (channel, pitch), (start, velocity) in sorted(sounding.items(), key=lambda e: e[1]):
        problems.append(f"note-on without note-off: pitch {pitch} on channel {channel + 1} "
                        f"at tick {start}")
        found.append((start, now - start, pitch, velocity, channel + 1))
    return sorted(found), problems


def notes(data: bytes) -> list[tuple[str, list[NoteRow]]]:
    """(track name, sorted notes) for every track of the file, in file order, empty tracks too."""
    return [(track_name(track), _scan(track)[0]) for track in read(data).tracks]


def validate(data: bytes, *, drums_channel_only: bool = False) -> MidiReport:
    """Check note pairing (and, with ``drums_channel_only``, that every note is on channel 10).

    Raises:
        MidiDataError: only when the data does not parse.
    """
    midi = read(data)
    problems: list[str] = []
    if midi.type == 0 and len(midi.tracks) != 1:
        problems.append(f"format 0 file has {len(midi.tracks)} tracks (it must have one)")
    count, channels, length = 0, set(), 0
    for i, track in enumerate(midi.tracks):
        found, issues = _scan(track)
        label = f"track {i} {track_name(track)!r}"
        problems += [f"{label}: {issue}" for issue in issues]
        stray = [row for row in found if row[4] != DRUM_CHANNEL]
        if drums_channel_only and stray:
            noun = "note" if len(stray) == 1 else "notes"
            problems.append(f"{label}: {len(stray)} {noun} not on channel {DRUM_CHANNEL}, "
                            f"first at tick {stray[0][0]} on channel {stray[0][4]}")
        count += len(found)
        channels |= {m.channel + 1 for m in track if not m.is_meta and hasattr(m, "channel")}
        length = max(length, sum(msg.time for msg in track))
    return MidiReport(midi.type, len(midi.tracks), midi.ticks_per_beat, count,
                      tuple(sorted(channels)), length, tuple(problems))
