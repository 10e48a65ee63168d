"""Stage 4b: bass — the genre's bass style played over the chord spans.

Every chord change is marked by the chord's bass note (its root, or the written slash bass) on the
change itself; between changes the pattern's roles pick roots, octaves, chord tones and scale-step
approaches into the next chord. Roots move to the nearest octave, so the line stays low and smooth.
"""

from __future__ import annotations

import random

from backbeat.engine.time import PPQ

from .grid import SectionGrid, Span, clip, level, part_density, sections, step_ticks, style_key, track, velocity
from .model import Arrangement, Note, PartParams, PipelineIntent, Progression, Track
from .rng import stream
from .tables import PatternStyle, tables
from .theory import Scale, pitch_class, scale_of

ROOT_ZONE = (28, 47)
"""Where chord roots are placed (E1..B2); octaves and chord tones sit above."""
_TONE = {"3": (3, 4, 2, 5), "5": (7, 6, 8), "7": (10, 11, 9)}


def _span_at(grid: SectionGrid, tick: int) -> Span:
    for span in grid.spans:
        if span.start <= tick < span.end:
            return span
    return grid.spans[-1]


def _bass_pc(span_chord) -> int:
    return pitch_class(span_chord.bass or span_chord.root)


def _near(pc: int, anchor: int, low: int, high: int) -> int:
    options = [p for p in range(low, high + 1) if p % 12 == pc]
    return min(options, key=lambda p: (abs(p - anchor), p))


def _pitch(role: str, span: Span, root: int, scale: Scale, high: int) -> int:
    if role == "8":
        return root + 12 if root + 12 <= high else root
    if role in _TONE:
        intervals = tables().theory.qualities[span.chord.quality].intervals
        # chord tones are counted from the chord's root, which sits at or below a slash bass
        chord_root = root - (root - pitch_class(span.chord.root)) % 12
        for i in _TONE[role]:
            if i in intervals:
                pitch = chord_root + i
                pitch = pitch if pitch > root else pitch + 12
                return pitch if pitch <= high else pitch - 12  # a high root: the tone below it, in range
        return root
    if role == "a":
        target = _near(_bass_pc(span.next_chord), root, ROOT_ZONE[0], ROOT_ZONE[1] + 5)
        if target == root:
            return scale.step(scale.snap(root), 1)
        return scale.step(scale.snap(target, 1 if target < root else -1), -1 if target > root else 1)
    return root


def _positions(grid: SectionGrid, style: PatternStyle, pattern: str, half_time: bool, rng: random.Random, creativity: float) -> list[tuple[int, str]]:
    """(tick, role) for every step of the section: the pattern, varied bar by bar.

    Per cycle of the pattern, the creativity dial decides how many steps change: an off-beat rest
    or hold becomes a fifth, an octave or an approach note, or an off-beat note drops out. The
    downbeats are never touched (the chord changes are marked there).
    """
    step = step_ticks(style.steps, grid.ticks_per_bar, half_time)
    cycle = step * style.steps
    out: list[tuple[int, str]] = []
    for start in range(0, grid.length, cycle):
        bar = list(pattern)
        for _ in range(sum(rng.random() < creativity for _ in range(3))):
            s = rng.choice([i for i in range(1, style.steps) if i % 4])
            bar[s] = rng.choice("58a") if bar[s] in "-." else "."
        out += [(start + i * step, bar[i]) for i in range(style.steps) if start + i * step < grid.length]
    return out


def _line(grid: SectionGrid, positions: list[tuple[int, str]], style: PatternStyle, scale: Scale, rng: random.Random) -> list[Note]:
    high = tables().parts.parts["bass"].pitch_range[1]
    starts = {s.start for s in grid.spans}
    onsets: list[tuple[int, str, Span]] = []
    for tick, char in positions:
        span = _span_at(grid, tick)
        if tick in starts and char in "-.":
            char = "R"  # a chord change always sounds the chord's bass note
        if char not in "-":
            onsets.append((tick, char, span))
    onsets.append((grid.length, ".", grid.spans[-1]))
    notes: list[Note] = []
    anchor = 36
    for (tick, role, span), (nxt, _, _) in zip(onsets, onsets[1:]):
        if role == ".":
            continue
        root = _near(_bass_pc(span.chord), anchor, *ROOT_ZONE)
        anchor = root
        pitch = _pitch(role, span, root, scale, high)
        end = min(nxt, span.end)
        duration = max(30, round((end - tick) * style.gate))
        accent = 100 if tick % PPQ == 0 else 86
        notes.append(Note(tick=tick, duration=duration, pitch=pitch, velocity=velocity(accent, grid.section.energy, rng)))
    return notes


def bass(
    intent: PipelineIntent,
    progression: Progression,
    arrangement: Arrangement,
    *,
    seed: int,
    params: PartParams = PartParams(),
) -> Track:
    """The bass track; ``params`` override the genre's style, density (0..1) and creativity."""
    style = style_key(intent, "bass", params)
    pattern_style = tables().parts.bass[style]
    scale = scale_of(intent.key.root, intent.key.mode)
    density = part_density(intent, "bass", params)
    creativity = (intent.creativity_dials.rhythmic if params.creativity is None else params.creativity) * 0.5
    seed += params.seed
    clips = []
    for grid in sections(arrangement, progression, "bass"):
        rng = stream(seed, "bass", style, grid.index)
        pattern = pattern_style.variants[level(grid.section.energy, density)]
        positions = _positions(grid, pattern_style, pattern, intent.tempo.half_time, rng, creativity)
        clips.append(clip(grid, _line(grid, positions, pattern_style, scale, rng)))
    return track("bass", clips, params)
