"""What every part generator shares: the song's grid of sections and chord spans, step strings
turned into ticks (with swing and half-time stretch), velocity shaping, and the clean-up that
guarantees each clip's notes end inside it and never overlap on one pitch.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pydantic import TypeAdapter

from backbeat.engine.time import PPQ

from .model import Arrangement, Chord, Clip, Note, Part, PartParams, PipelineIntent, Progression, Section, Source, Track
from .tables import Level, tables

SIXTEENTH = PPQ // 4
_NOTES = TypeAdapter(list[Note])


@dataclass(frozen=True, slots=True)
class Hit:
    """A note as the part generators build it, before ``clip`` checks it into a ``Note`` of a clip
    (validating ~2,000 pydantic notes several times over would cost a 64-bar song most of its
    time budget)."""

    tick: int
    duration: int
    pitch: int
    velocity: int


@dataclass(frozen=True, slots=True)
class Span:
    """One chord's stretch of a section, in ticks from the section start."""

    start: int
    end: int
    chord: Chord
    next_chord: Chord


@dataclass(frozen=True, slots=True)
class SectionGrid:
    """A section as the part generators see it."""

    index: int
    section: Section
    start_bar: int
    ticks_per_bar: int
    spans: tuple[Span, ...]
    next_section: Section | None
    """The section after this one, if any (fills and crashes look ahead)."""
    previous_section: Section | None

    @property
    def length(self) -> int:
        return self.section.bars * self.ticks_per_bar


def ticks_per_bar(arrangement: Arrangement) -> int:
    m = arrangement.meter
    return PPQ * 4 * m.numerator // m.denominator


def spans(section: Section, progression: Progression, bar_ticks: int, beat_ticks: int) -> tuple[Span, ...]:
    """The chord spans of ``section``: its chord order looped until the section is full."""
    order = section.chord_order
    length = section.bars * bar_ticks
    result: list[Span] = []
    tick, i = 0, 0
    while tick < length:
        chord = progression.chords[order[i % len(order)]]
        nxt = progression.chords[order[(i + 1) % len(order)]]
        end = min(tick + chord.beats * beat_ticks, length)
        result.append(Span(tick, end, chord, nxt))
        tick, i = end, i + 1
    return tuple(result)


def sections(arrangement: Arrangement, progression: Progression, part: Part) -> Iterator[SectionGrid]:
    """The sections in which ``part`` plays."""
    bar = ticks_per_bar(arrangement)
    beat = PPQ * 4 // arrangement.meter.denominator
    all_sections = arrangement.sections
    for i, (section, start) in enumerate(zip(all_sections, arrangement.start_bars())):
        if part in section.active_tracks:
            nxt = all_sections[i + 1] if i + 1 < len(all_sections) else None
            prev = all_sections[i - 1] if i > 0 else None
            yield SectionGrid(i, section, start, bar, spans(section, progression, bar, beat), nxt, prev)


def level(energy: float, density: float) -> Level:
    """Density variant for a section: its energy, leaned on by the genre's density (0..1)."""
    x = energy + 0.6 * (density - 0.5)
    return "sparse" if x < 0.4 else "main" if x < 0.75 else "busy"


def step_ticks(steps: int, bar_ticks: int, half_time: bool) -> int:
    """Ticks per step of a one-bar pattern; half time stretches the pattern over two bars."""
    return bar_ticks * (2 if half_time else 1) // steps


def swing_offset(step: int, swing: float, step_len: int) -> int:
    """Delay of an off-beat sixteenth: 0 straight, a third of a step at full (triplet) swing."""
    return round(swing * step_len / 3) if step % 2 else 0


def velocity(base: int, energy: float, rng: random.Random, jitter: int = 6) -> int:
    """``base`` scaled by section energy (0.75x..1.05x), humanised by +-``jitter``."""
    v = base * (0.75 + 0.3 * energy) + rng.randint(-jitter, jitter)
    return max(1, min(127, round(v)))


def clean(notes: Iterable[Note | Hit], length: int) -> list[Note]:
    """Sorted notes, each ending inside ``length``, none overlapping another of the same pitch.

    A later note of the same pitch shortens the earlier one; a note that would vanish is dropped;
    two notes at the same tick and pitch keep the louder.
    """
    by_start: dict[tuple[int, int], Note | Hit] = {}
    for n in notes:
        if n.tick >= length:
            continue
        key = (n.pitch, n.tick)
        kept = by_start.get(key)
        if kept is None or kept.velocity < n.velocity:
            by_start[key] = n
    ordered = sorted(by_start.items())
    kept: list[tuple[int, int, int, int]] = []
    for i, ((pitch, tick), n) in enumerate(ordered):
        end = min(tick + n.duration, length)
        if i + 1 < len(ordered) and ordered[i + 1][0][0] == pitch:
            end = min(end, ordered[i + 1][0][1])
        if end > tick:
            kept.append((tick, pitch, end - tick, n.velocity))
    kept.sort()
    # one validation of the whole clip (pydantic's core does the loop): a third of the cost of
    # building the notes one by one
    return _NOTES.validate_python([{"tick": t, "duration": d, "pitch": p, "velocity": v} for t, p, d, v in kept])


def clip(grid: SectionGrid, notes: Iterable[Note | Hit], source: Source = "algorithmic", version: int = 1) -> Clip:
    return Clip(
        section=grid.index,
        start_bar=grid.start_bar,
        bars=grid.section.bars,
        notes=clean(notes, grid.length),
        source=source,
        version=version,
    )


def track(part: Part, clips: list[Clip], params: PartParams) -> Track:
    spec = tables().parts.parts[part]
    return Track(name=spec.name, part=part, group=spec.group, channel=spec.channel, clips=clips, params=params)


STYLE_FIELDS: dict[Part, str] = {"drums": "drums", "bass": "bass", "chords": "comping", "lead": "lead"}
"""Which field of a genre (config/genres.toml) names each part's default style."""


def style_key(intent: PipelineIntent, part: Part, params: PartParams) -> str:
    """The style a part plays: the one its parameters name, else its genre's."""
    return params.style or getattr(tables().intent.genres[intent.genre.primary], STYLE_FIELDS[part])


_DNA_DENSITY: dict[Part, str] = {"drums": "drum_density", "bass": "bass_density", "chords": "drum_density"}
"""The genre DNA field a part's density defaults to (the lead takes its style's own density)."""


def part_density(intent: PipelineIntent, part: Part, params: PartParams) -> float:
    """How busy a part plays (0..1): the density its parameters name, else its genre's or style's."""
    if params.density is not None:
        return params.density
    if part == "lead":
        return tables().parts.lead[style_key(intent, "lead", params)].density
    return getattr(intent.genre.dna_vector, _DNA_DENSITY[part])


def swing_amount(intent: PipelineIntent, style_swing: float) -> float:
    """The groove's swing: the style's own, pulled toward the genre blend's."""
    return round(0.5 * (style_swing + intent.genre.dna_vector.swing), 3)


def fit_register(pitch: int, low: int, high: int) -> int:
    """``pitch`` moved by octaves into ``low..high`` (as near the middle as octaves allow)."""
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return pitch
