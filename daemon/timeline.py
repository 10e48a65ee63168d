"""The Timeline (DESIGN.md §3): what plays at every bar of the performance, per part, and what has
already been handed to the engine.

Time here is the *performance*: ticks from the start of playback, running on through loops and
jumps, exactly as the engine counts them. The play plan maps each performance bar to a bar of the
song (linear, looping at the end, redirected by jumps). For every (part, section) the timeline keeps
each version of the clip with the performance tick from which it plays.

``commit(until)`` renders the events between the last commit and ``until`` (the playhead plus the
commit horizon) for the engine. Everything beyond the committed tick can still change for free: a
swap is placed on the next section boundary at or after the committed tick (a jump quantized to bars,
a mute and a new part's first clip on the next bar boundary), and where a change takes effect the
commit uses ``ReplaceFrom`` so the engine ends exactly the notes the change cuts off.

Pure: no clock, no I/O, no trio. The daemon's player task is its one owner.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Literal

from backbeat.engine.commands import ReplaceFrom, Schedule
from backbeat.engine.events import Event, Note, note_events
from backbeat.engine.time import Meter

from backbeat.generators.model import SongState, Track

Quantize = Literal["bar", "section"]


@dataclass(frozen=True, slots=True)
class SectionClip:
    """One part's content for one section: notes in ticks from the section's start."""

    part: str
    section: int
    version: int
    source: str
    notes: tuple[Note, ...]
    starts: tuple[int, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        notes = tuple(sorted(self.notes, key=lambda n: (n.tick, n.pitch)))
        object.__setattr__(self, "notes", notes)
        object.__setattr__(self, "starts", tuple(n.tick for n in notes))

    def between(self, start: int, end: int) -> tuple[Note, ...]:
        """Notes starting in ``start..end`` (ticks from the section start)."""
        return self.notes[bisect.bisect_left(self.starts, start) : bisect.bisect_left(self.starts, end)]


def section_clips_of(track: Track) -> list[SectionClip]:
    """``track``'s clips as the timeline holds them (zero-based channel, ticks from section start)."""
    channel = track.channel - 1
    return [
        SectionClip(track.part, c.section, c.version, c.source, tuple(Note(n.tick, n.duration, n.pitch, n.velocity, channel) for n in c.notes))
        for c in track.clips
    ]


def section_clips(song: SongState) -> list[SectionClip]:
    """Every clip of ``song`` as the timeline holds them."""
    return [clip for track in song.tracks for clip in section_clips_of(track)]


@dataclass(frozen=True, slots=True)
class Change:
    """A change placed on the timeline: what, and the performance tick it lands on."""

    kind: str
    tick: int
    detail: str
    parts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Position:
    """Where a performance tick falls: performance bar/beat (zero-based) and the song's section."""

    bar: int
    beat: int
    song_bar: int | None
    section: int | None


class Timeline:
    """The play plan, every clip version, the mutes, and the committed tick of one song."""

    def __init__(self, song: SongState, *, loop: bool = True, start_section: int = 0, offset: int = 0) -> None:
        a = song.arrangement
        self.song = song
        self.loop = loop
        self.meter = Meter(a.meter.numerator, a.meter.denominator)
        self.bar_ticks = self.meter.ticks_per_bar
        self.section_starts = a.start_bars()
        self.total_bars = a.total_bars
        self.parts: tuple[str, ...] = tuple(t.part for t in song.tracks)
        self.offset = offset
        """Performance tick at which this song starts (a new song takes over from an old one there)."""
        self.committed = offset
        self._anchors: list[tuple[int, int]] = [(offset, self.section_starts[start_section])]
        self._versions: dict[tuple[str, int], list[tuple[int, SectionClip]]] = {}
        self._mutes: dict[str, list[tuple[int, bool]]] = {p: [(offset, t.muted)] for p, t in zip(self.parts, song.tracks)}
        self.changes: list[Change] = []
        for clip in section_clips(song):
            self._versions[(clip.part, clip.section)] = [(offset, clip)]

    # --- the play plan --------------------------------------------------------------------------

    def song_bar(self, tick: int) -> int | None:
        """The song bar that plays at performance ``tick`` (None past the end of an unlooped song)."""
        i = bisect.bisect_right(self._anchors, (tick, float("inf"))) - 1
        if i < 0:
            return None
        anchor_tick, anchor_bar = self._anchors[i]
        bar = anchor_bar + (tick - anchor_tick) // self.bar_ticks
        if bar >= self.total_bars:
            return bar % self.total_bars if self.loop else None
        return bar

    def ended(self, tick: float) -> bool:
        """Whether an unlooped song is over at performance ``tick`` (nothing more will play)."""
        return not self.loop and tick >= self.offset and self.song_bar(int(tick)) is None

    def section_of(self, song_bar: int) -> int:
        return bisect.bisect_right(self.section_starts, song_bar) - 1

    def position(self, tick: int) -> Position:
        rel = max(tick, 0)
        bar, rest = divmod(rel, self.bar_ticks)
        song_bar = self.song_bar(rel) if rel >= self.offset else None
        return Position(bar, rest // self.meter.ticks_per_beat, song_bar, None if song_bar is None else self.section_of(song_bar))

    def next_boundary(self, tick: int, quantize: Quantize) -> int:
        """The first bar (or section) boundary at or after ``tick``."""
        b = -(-max(tick, self.offset) // self.bar_ticks) * self.bar_ticks
        if quantize == "bar":
            return b
        for _ in range(self.total_bars + 1):
            song_bar = self.song_bar(b)
            if song_bar is None or song_bar in self.section_starts:
                return b
            b += self.bar_ticks
        return b

    # --- changes ------------------------------------------------------------------------------------

    def _place(self, change: Change) -> Change:
        self.changes.append(change)
        return change

    def put_clip(self, clip: SectionClip, quantize: Quantize | None = None) -> Change:
        """Play ``clip`` from the next boundary beyond the committed tick: a section boundary when it
        replaces a version, the next bar when the part had nothing there yet (a part joining late)."""
        if clip.part not in self.parts:
            self.parts = (*self.parts, clip.part)
            self._mutes.setdefault(clip.part, [(self.offset, False)])
        key = (clip.part, clip.section)
        versions = self._versions.setdefault(key, [])
        at = self.next_boundary(self.committed, quantize or ("section" if versions else "bar"))
        versions[:] = [v for v in versions if v[0] < at] + [(at, clip)]
        return self._place(Change("part", at, f"{clip.part} v{clip.version} ({clip.source})", (clip.part,)))

    def put_track(self, track: Track, quantize: Quantize | None = None) -> Change | None:
        """Every clip of ``track`` (a new part, or a new version of one); the change it makes."""
        changes = [self.put_clip(clip, quantize) for clip in section_clips_of(track)]
        if not changes:
            return None
        first = min(changes, key=lambda c: c.tick)
        self.changes = [c for c in self.changes if c not in changes]
        version = max(c.version for c in track.clips)
        return self._place(Change("part", first.tick, f"{track.part} v{version}", (track.part,)))

    def mute(self, part: str, on: bool) -> Change:
        at = self.next_boundary(self.committed, "bar")
        states = self._mutes.setdefault(part, [(self.offset, False)])
        states[:] = [s for s in states if s[0] < at] + [(at, on)]
        return self._place(Change("mute", at, f"{part} {'muted' if on else 'unmuted'}", (part,)))

    def jump(self, section: int, quantize: Quantize = "section") -> Change:
        """From the next boundary on, play ``section``; a later jump replaces one not yet committed."""
        at = self.next_boundary(self.committed, quantize)
        self._anchors = [a for a in self._anchors if a[0] < at] + [(at, self.section_starts[section])]
        self.changes = [c for c in self.changes if c.kind != "jump" or c.tick < self.committed]
        name = self.song.arrangement.sections[section].name
        return self._place(Change("jump", at, name, self.parts))

    def muted(self, part: str, tick: int) -> bool:
        states = self._mutes.get(part, [])
        i = bisect.bisect_right(states, (tick, True)) - 1
        return i >= 0 and states[i][1]

    def muted_parts(self) -> list[str]:
        """The parts muted as the latest mute of each leaves them (placed, or landed already)."""
        return [part for part, states in self._mutes.items() if states and states[-1][1]]

    def clip_at(self, part: str, section: int, tick: int) -> SectionClip | None:
        # A section has a version or three: scanning back beats building a list to bisect, and this
        # runs for every part of every bar the feed loop commits.
        for at, clip in reversed(self._versions.get((part, section), ())):
            if at <= tick:
                return clip
        return None

    def pending(self, playhead: int) -> list[Change]:
        """Changes that have not landed yet."""
        return [c for c in self.changes if c.tick > playhead]

    # --- committing ----------------------------------------------------------------------------------

    def _bar_events(self, bar_tick: int, start: int, end: int) -> dict[str, list[Event]]:
        """Per part, the events of notes starting in ``start..end`` within the bar at ``bar_tick``."""
        song_bar = self.song_bar(bar_tick)
        out: dict[str, list[Event]] = {}
        if song_bar is None:
            return out
        section = self.section_of(song_bar)
        section_tick = (song_bar - self.section_starts[section]) * self.bar_ticks
        shift = bar_tick - section_tick
        for part in self.parts:
            if self.muted(part, bar_tick):
                continue
            clip = self.clip_at(part, section, bar_tick)
            if clip is None:
                continue
            lo, hi = max(start, bar_tick), min(end, bar_tick + self.bar_ticks)
            notes = clip.between(lo - shift, hi - shift)
            moved = [Note(n.tick + shift, n.duration, n.pitch, n.velocity, n.channel) for n in notes]
            out[part] = note_events(part, moved)
        return out

    def _cuts(self, start: int, end: int) -> dict[int, set[str]]:
        """Boundaries in ``start..end`` where a change takes effect, with the parts it affects."""
        cuts: dict[int, set[str]] = {}
        for tick, _ in self._anchors[1:]:
            if start <= tick < end:
                cuts.setdefault(tick, set()).update(self.parts)
        for part, states in self._mutes.items():
            for tick, _ in states[1:]:
                if start <= tick < end:
                    cuts.setdefault(tick, set()).add(part)
        for (part, _), versions in self._versions.items():
            for tick, _ in versions[1:]:
                if start <= tick < end:
                    cuts.setdefault(tick, set()).add(part)
        return cuts

    def commit(self, until: int) -> list[Schedule | ReplaceFrom]:
        """Engine commands for every note starting between the committed tick and ``until``."""
        start = self.committed
        if until <= start:
            return []
        per_part: dict[str, list[Event]] = {}
        bar = start // self.bar_ticks * self.bar_ticks
        while bar < until:
            for part, events in self._bar_events(bar, start, until).items():
                per_part.setdefault(part, []).extend(events)
            bar += self.bar_ticks
        self.committed = until
        cuts = self._cuts(start, until)
        commands: list[Schedule | ReplaceFrom] = []
        plain: list[Event] = []
        for part in self.parts:
            events = per_part.get(part, [])
            cut_ticks = sorted(t for t, parts in cuts.items() if part in parts)
            if not cut_ticks:
                plain.extend(events)
                continue
            # Only note-ons decide where a note belongs; its note-off travels with it.
            bounds = [start, *cut_ticks, until]
            for lo, hi, first in zip(bounds, bounds[1:], [False] + [True] * len(cut_ticks)):
                chunk = _notes_from(events, lo, hi)
                if first:
                    commands.append(ReplaceFrom(part, lo, tuple(chunk)))
                else:
                    plain.extend(chunk)
        if plain:
            plain.sort(key=Event.sort_key)
            commands.insert(0, Schedule(tuple(plain)))
        return commands

    def reset(self, tick: int = 0) -> None:
        """Nothing is committed any more (after a stop): the next commit starts at ``tick``."""
        self.committed = tick


def _notes_from(events: list[Event], lo: int, hi: int) -> list[Event]:
    """The events of notes whose note-on lies in ``lo..hi`` (note-offs included, wherever they fall)."""
    keep: list[Event] = []
    open_notes: dict[tuple[int, int], int] = {}
    for e in events:  # events come in on/off pairs from note_events, sorted by tick
        key = (e.channel, e.message[1])
        if e.kind == 0x90:
            if lo <= e.tick < hi:
                keep.append(e)
                open_notes[key] = open_notes.get(key, 0) + 1
        elif open_notes.get(key, 0) > 0:
            open_notes[key] -= 1
            keep.append(e)
    return keep
