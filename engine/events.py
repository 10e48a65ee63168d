"""Frozen values the engine plays: notes, bar-aligned clips, and single timed MIDI events.

A ``Clip`` is what one track plays over a bar-aligned span; ``clip_events`` flattens it into
``Event``s (note-on and note-off as separate messages) in the order the engine must send them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

NOTE_OFF = 0x80
NOTE_ON = 0x90
CONTROL_CHANGE = 0xB0
PROGRAM_CHANGE = 0xC0

# Send order for events on the same tick: note-offs first (so a repeated pitch re-triggers instead
# of being cut by its own predecessor's off), then controllers/programs, then note-ons.
_ORDER = {NOTE_OFF: 0, CONTROL_CHANGE: 1, PROGRAM_CHANGE: 1, NOTE_ON: 2}


@dataclass(frozen=True, slots=True)
class Note:
    """One note: ``tick`` and ``duration`` in ticks, ``channel`` zero-based (drums are 9)."""

    tick: int
    duration: int
    pitch: int
    velocity: int
    channel: int

    def __post_init__(self) -> None:
        if self.tick < 0 or self.duration <= 0:
            raise ValueError(f"note at tick {self.tick} with duration {self.duration}")
        if not (0 <= self.pitch <= 127 and 1 <= self.velocity <= 127 and 0 <= self.channel <= 15):
            raise ValueError(f"note {self.pitch} vel {self.velocity} ch {self.channel} out of range")

    @property
    def end(self) -> int:
        return self.tick + self.duration


@dataclass(frozen=True, slots=True)
class Clip:
    """What ``track`` plays from ``start`` (inclusive) to ``end`` (exclusive), in song ticks.

    Note ticks are absolute song ticks and every note ends at or before ``end``: a clip never
    leaves a note for the next one to end, which is what makes swaps at clip boundaries clean.
    """

    track: str
    start: int
    end: int
    notes: tuple[Note, ...] = ()

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"clip {self.track} is empty ({self.start}..{self.end})")
        for n in self.notes:
            if n.tick < self.start or n.end > self.end:
                raise ValueError(f"note at {n.tick}+{n.duration} outside clip {self.start}..{self.end}")


@dataclass(frozen=True, slots=True)
class Event:
    """One MIDI channel message at ``tick`` for ``track``; ``message`` is status byte + data."""

    tick: int
    track: str
    message: tuple[int, ...]

    @property
    def kind(self) -> int:
        kind = self.message[0] & 0xF0
        if kind == NOTE_ON and self.message[2] == 0:
            return NOTE_OFF
        return kind

    @property
    def channel(self) -> int:
        return self.message[0] & 0x0F

    def sort_key(self) -> tuple[int, int]:
        return self.tick, _ORDER.get(self.kind, 1)


def note_events(track: str, notes: Iterable[Note]) -> list[Event]:
    """Note-on/note-off events for ``notes``, sorted in send order."""
    events: list[Event] = []
    for n in notes:
        events.append(Event(n.tick, track, (NOTE_ON | n.channel, n.pitch, n.velocity)))
        events.append(Event(n.end, track, (NOTE_OFF | n.channel, n.pitch, 0)))
    events.sort(key=Event.sort_key)
    return events


def clip_events(clip: Clip) -> list[Event]:
    """The events that play ``clip``, in send order."""
    return note_events(clip.track, clip.notes)


def shifted(clip: Clip, delta: int) -> Clip:
    """``clip`` moved ``delta`` ticks later (or earlier, for a negative ``delta``)."""
    return Clip(
        clip.track,
        clip.start + delta,
        clip.end + delta,
        tuple(Note(n.tick + delta, n.duration, n.pitch, n.velocity, n.channel) for n in clip.notes),
    )
