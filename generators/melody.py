"""Stage 4d: lead — a melody that phrases: a motif stated, varied and answered over the chords.

The rhythm comes from ``phrase`` (antecedent and consequent phrases, cadences, rests). Pitches
follow a contour in scale steps — the motif's own, kept where it returns, so the motif repeats and
varies in pitch as well as rhythm — over an arch whose climax falls two thirds into the section.
Every note sits above the chords' top voice where the lead's range allows, never a minor second or
ninth above (or a minor second below) a chord note unless it is itself a tone of the chord, and in
the song's scale unless it is a tone of a chord the progression colours chromatically. Notes on the
beat are chord tones; each phrase ends on a chord tone at least a beat long. A section that comes
back plays its theme again, varied here and there. In half time a sung-like line phrases in felt
bars (two clock bars each); riffs and bells stay on the clock's grid, as producers program them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from . import feel as feel_mod
from . import phrase as ph
from .chords import occurrence
from .grid import Hit, SectionGrid, Span, clip, part_density, sections, style_key, track, velocity
from .model import Arrangement, Chord, PartParams, PipelineIntent, Progression, Track
from .rng import stream
from .tables import LeadStyle, tables
from .theory import Scale, pitch_class, scale_of

STEPS = ph.STEPS
ANTICIPATION = 240
"""A lead note ending this close to a chord change is checked against the next chord too."""


def chord_tones(chord: Chord) -> frozenset[int]:
    root = pitch_class(chord.root)
    tones = {(root + i) % 12 for i in tables().theory.qualities[chord.quality].intervals}
    return frozenset(tones | {chord.notes[0] % 12})


def clashes(pitch: int, chord: Chord) -> bool:
    """Whether ``pitch`` rubs against ``chord``'s voicing: a minor second or ninth (or more octaves)
    above one of its notes, or a minor second right below one."""
    return any((pitch - q) % 12 == 1 or pitch - q == -1 for q in chord.notes)


@dataclass(frozen=True, slots=True)
class Under:
    """The chords a note meets: those it sounds over (the longest first) and those it must not
    rub against (these, and the next chord when the note ends within an eighth of a change the
    chords may anticipate)."""

    sounding: tuple[Span, ...]
    near: tuple[Span, ...]

    @property
    def main(self) -> Chord:
        return self.sounding[0].chord


def _under(grid: SectionGrid, start: int, end: int) -> Under:
    sounding = sorted((s for s in grid.spans if s.start < end and s.end > start), key=lambda s: -(min(s.end, end) - max(s.start, start)))
    sounding = sounding or [grid.spans[-1]]
    near = [s for s in grid.spans if s.start < end + ANTICIPATION and s.end > start]
    return Under(tuple(sounding), tuple(near or sounding))


def _allowed(pitch: int, under: Under, scale: Scale, strong: bool) -> bool:
    if strong and pitch % 12 not in chord_tones(under.main):
        return False
    if not scale.contains(pitch) and not any(pitch % 12 in chord_tones(s.chord) for s in under.sounding):
        return False
    return not any(clashes(pitch, s.chord) for s in under.near)


def _floor(under: Under, low: int, high: int) -> int:
    """Lowest pitch above the chords' top voice, leaving the lead at least a sixth of room."""
    top = max(s.chord.notes[-1] for s in under.near)
    return max(low, min(top + 1, high - 9))


def _place(target: int, under: Under, scale: Scale, strong: bool, low: int, high: int) -> int:
    """The allowed pitch nearest ``target`` within ``low..high`` (ties go down)."""
    for delta in sorted(range(-7, 8), key=lambda d: (abs(d), d)):
        p = target + delta
        if low <= p <= high and _allowed(p, under, scale, strong):
            return p
    for p in sorted(range(low, high + 1), key=lambda p: abs(p - target)):
        if _allowed(p, under, scale, False):
            return p
    return min((p for p in range(low, high + 1) if scale.contains(p)), key=lambda p: abs(p - target))


def _contour(count: int, leap: int, rng: random.Random) -> tuple[int, ...]:
    """Scale steps from the first note, one per onset: mostly steps, a leap now and then."""
    steps, position = [0], 0
    moves = [d for d in range(-leap, leap + 1) if d]
    for _ in range(count - 1):
        choices = [d for d in moves if -4 <= position + d <= 5]
        position += rng.choices(choices, weights=[1 / abs(d) ** 1.5 for d in choices])[0]
        steps.append(position)
    return tuple(steps)


def _cadence_pitch(target: int, under: Under, role: str, scale: Scale, low: int, high: int) -> int:
    """A tone of the main chord near ``target`` that rubs against no chord near it: the root (or
    tonic) to close, the third or fifth to ask."""
    chord = under.main
    tones = chord_tones(chord)
    root = pitch_class(chord.root)
    wanted = {root, scale.tonic} & tones if role == "final" else tones - {root}
    clean = [p for p in range(low, high + 1) if not any(clashes(p, s.chord) for s in under.near)]
    pool = [p for p in clean if p % 12 in (wanted or tones)] or [p for p in clean if p % 12 in tones]
    return min(pool, key=lambda p: (abs(p - target), p)) if pool else _place(target, under, scale, False, low, high)


PERIOD = 8
"""Bars of a melodic period (two four-bar phrases): the span the line's arch rises and falls over."""


def _arch(bar: int, bars: int) -> float:
    """0..1: how high the line sits in ``bar`` of a section of ``bars``: an arch over each period,
    its climax two thirds in, the last period reaching highest. The height depends on where a bar
    sits in its period, not on the section's length, so a chorus of 12 bars and one of 8 sing alike."""
    period = PERIOD if bars > 4 else bars
    pos, begin = bar % period, bar - bar % period
    length = min(period, bars - begin)
    peak = max(0, round(length * 2 / 3) - 1) if length > 2 else length - 1
    height = 0.35 + 0.65 * (pos / peak if peak else 1.0) if pos <= peak else 1.0 - 0.6 * (pos - peak) / max(1, length - 1 - peak)
    last = begin + period >= bars and bars > period
    return min(1.0, height + (0.08 if last else 0.0))


def _statement(grid: SectionGrid, plan: list[ph.BarPlan], contours: dict[tuple[int, str], tuple[int, ...]], unit: int, step: int,
               scale: Scale, style: LeadStyle, rng: random.Random) -> list[Hit]:
    low, high = tables().parts.parts["lead"].pitch_range
    notes: list[Hit] = []
    previous: int | None = None
    for b, bar in enumerate(plan):
        start = b * unit
        if start >= grid.length or not bar.cell:
            continue
        floor = _floor(_under(grid, start, start + unit), low, high)
        anchor = scale.snap(round(floor + (high - floor) * (0.15 + 0.6 * _arch(b, len(plan)))))
        key = (len(bar.cell), "motif" if bar.role == "motif" else "other")
        contour = contours.get(key)
        if contour is None:
            contour = contours[key] = _contour(len(bar.cell), style.leap, rng)
        if previous is not None and bar.role != "motif":
            anchor = scale.snap(round((anchor + previous) / 2))
        for i, ((s, n), c) in enumerate(zip(bar.cell, contour)):
            tick = start + s * step
            if tick >= grid.length:
                break
            length = n * step
            last = i == len(bar.cell) - 1 and bar.role in ("half", "final")
            if last:
                length = max(length, 4 * step)  # a cadence lasts at least a beat
            end = min(tick + length, grid.length)
            here = _under(grid, tick, end)
            lowest = _floor(here, low, high)
            target = scale.step(anchor, c)
            if last:
                pitch = _cadence_pitch(target, here, bar.role, scale, lowest, high)
            else:
                pitch = _place(target, here, scale, s % 4 == 0, lowest, high)
            if previous is not None and abs(pitch - previous) > 9:  # no leap wider than a sixth
                pitch = _place(previous + (7 if pitch > previous else -7), here, scale, s % 4 == 0, lowest, high)
            previous = pitch
            gap = 20 if style.sung or last else step // 3
            accent = 96 if s % 4 == 0 else 86
            notes.append(Hit(tick=tick, duration=max(30, end - tick - gap), pitch=pitch,
                              velocity=velocity(accent + round(8 * _arch(b, len(plan))), grid.section.energy, rng)))
    return _final_cadence(grid, notes, scale, low, high)


def _final_cadence(grid: SectionGrid, notes: list[Hit], scale: Scale, low: int, high: int) -> list[Hit]:
    """The section's last note made a cadence: a chord tone, at least a beat long, inside the section."""
    if not notes:
        return notes
    beat = grid.ticks_per_bar // 4
    last = max(notes, key=lambda n: n.tick)
    tick = min(last.tick, grid.length - beat)
    duration = max(beat - 20, min(last.tick + last.duration, grid.length) - tick - 20)
    here = _under(grid, tick, tick + duration)
    pitch = _cadence_pitch(last.pitch, here, "final", scale, _floor(here, low, high), high)
    kept = [n for n in notes if n.tick < tick]
    return [*kept, Hit(tick=tick, duration=duration, pitch=pitch, velocity=last.velocity)]


def lead(
    intent: PipelineIntent,
    progression: Progression,
    arrangement: Arrangement,
    *,
    seed: int,
    params: PartParams = PartParams(),
) -> Track:
    """The lead track; ``params`` override the genre's style and the lead's density."""
    key = style_key(intent, "lead", params)
    style = tables().parts.lead[key]
    scale = scale_of(intent.key.root, intent.key.mode)
    density = part_density(intent, "lead", params)
    feel = feel_mod.of(intent)
    seed += params.seed
    theme_rng = stream(seed, "lead", key, "motif")
    motif = ph.thin(ph.parse(theme_rng.choice(style.cells)), density, theme_rng)
    answer = ph.thin(ph.parse(theme_rng.choice(style.cells)), density, theme_rng)
    if answer == motif:
        answer = ph.vary(motif, theme_rng)
    contours: dict[tuple[int, str], tuple[int, ...]] = {}
    clips = []
    for grid in sections(arrangement, progression, "lead"):
        felt = intent.tempo.half_time and style.sung  # a sung line follows the felt tempo; riffs stay on the clock's grid
        unit = grid.ticks_per_bar * (2 if felt else 1)
        step = unit // STEPS
        bars = -(-grid.length // unit)
        kind_rng = stream(seed, "lead", key, "theme", grid.section.kind)
        size = max(2, style.phrase_bars // 2) if felt else style.phrase_bars  # felt bars are two clock bars long
        plan = ph.plan(bars, size, style, motif, answer, kind_rng, fine=felt)
        k = occurrence(grid, arrangement)
        plan = ph.repeat_varied(plan, k, stream(seed, "lead", key, grid.section.kind, k))
        rng = stream(seed, "lead", key, grid.index)
        notes = _statement(grid, plan, contours, unit, step, scale, style, stream(seed, "lead", key, "pitch", grid.section.kind))
        clips.append(clip(grid, feel_mod.perform(notes, feel, rng, part="lead", bpm=intent.tempo.bpm)))
    return track("lead", clips, params)
