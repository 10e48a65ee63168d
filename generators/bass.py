"""Stage 4b: bass — the genre's bass style played over the chord spans, with its feel.

Every chord change is marked by the chord's bass note (its root, or the written slash bass) on the
change itself; between changes the pattern's roles pick roots, octaves, chord tones, walking steps
and diatonic or chromatic approaches into the next chord. Where the genre locks the bass to the kick
(trap's 808, drill, boom bap: ``lock`` in its feel table) the bass plays on the drums' kicks instead
of a pattern of its own. The last bar of each 4-bar phrase walks into the next one where the chord
changes, and the creativity dial varies the pattern bar by bar. Roots move to the nearest octave, so
the line stays low and smooth.
"""

from __future__ import annotations

import random

from . import feel as feel_mod
from .grid import Hit, SectionGrid, Span, clip, level, part_density, sections, style_key, track, velocity
from .groove import kicks
from .model import Arrangement, Chord, PartParams, PipelineIntent, Progression, Track
from .rng import stream
from .tables import PatternStyle, tables
from .theory import Scale, pitch_class, scale_of

ROOT_ZONE = (28, 47)
"""Where chord roots are placed (E1..B2); octaves and chord tones sit above."""
_TONE = {"3": (3, 4, 2, 5), "5": (7, 6, 8), "7": (10, 11, 9)}
_MOVING = "58a"
"""Roles the creativity dial may put on an empty off-beat."""
LOCK_SPARSE, LOCK_BUSY = 0.35, 0.6
"""Below and above these densities a locked bass leaves out kicks or adds notes between them."""


def span_at(grid: SectionGrid, tick: int) -> Span:
    for span in grid.spans:
        if span.start <= tick < span.end:
            return span
    return grid.spans[-1]


def _bass_pc(chord: Chord) -> int:
    return pitch_class(chord.bass or chord.root)


def _near(pc: int, anchor: int, low: int, high: int) -> int:
    options = [p for p in range(low, high + 1) if p % 12 == pc]
    return min(options, key=lambda p: (abs(p - anchor), p))


def _target(span: Span, root: int) -> int:
    """The next chord's bass note where the line will play it (nearest this chord's root)."""
    return _near(_bass_pc(span.next_chord), root, *ROOT_ZONE)


def _pitch(role: str, span: Span, root: int, previous: int, scale: Scale, high: int) -> int:
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
        target = _target(span, root)
        if target == root:
            return scale.step(scale.snap(root), 1)
        return scale.step(scale.snap(target, 1 if target < root else -1), -1 if target > root else 1)
    if role == "c":  # a semitone into the next chord's bass, from below (from above when that is nearer)
        target = _target(span, root)
        return target - 1 if target - 1 >= ROOT_ZONE[0] and (target >= previous or target + 1 > high) else target + 1
    if role == "w":  # walking: a step of the scale from the last note toward the next chord's bass
        target = _target(span, root)
        pitch = scale.step(scale.snap(previous), 1 if target > previous else -1) if target != previous else scale.step(scale.snap(previous), 2)
        return min(max(pitch, ROOT_ZONE[0]), high)
    return root


def _pattern_positions(grid: SectionGrid, style: PatternStyle, pattern: str, rng: random.Random, creativity: float) -> list[tuple[int, str]]:
    """(tick, role) for every step of the section: the pattern, varied bar by bar.

    Per bar, the creativity dial decides how many steps change: an off-beat rest or hold becomes a
    fifth, an octave or an approach note, or an off-beat note drops out. The last bar of each
    4-bar phrase approaches the next bar's chord on its last eighth. Downbeats are never touched
    (the chord changes are marked there).
    """
    step = grid.ticks_per_bar // style.steps
    out: list[tuple[int, str]] = []
    for b, start in enumerate(range(0, grid.length, grid.ticks_per_bar)):
        bar = list(pattern)
        for _ in range(sum(rng.random() < creativity for _ in range(3))):
            s = rng.choice([i for i in range(1, style.steps) if i % 4])
            bar[s] = rng.choice(_MOVING) if bar[s] in "-." else "."
        if b % 4 == 3 and style.approach and start + grid.ticks_per_bar < grid.length:
            bar[style.steps - style.steps // 8] = style.approach
        out += [(start + i * step, bar[i]) for i in range(style.steps) if start + i * step < grid.length]
    return out


def _locked_positions(grid: SectionGrid, style: PatternStyle, kick_ticks: list[int], pattern: str, density: float,
                      rng: random.Random) -> list[tuple[int, str]]:
    """(tick, role) on every kick, plus the chord changes the kicks miss. A bass asked to be busier
    than the genre's default adds the pattern's own notes between the kicks; one asked to be
    sparser rests on some kicks off the beat."""
    starts = {s.start for s in grid.spans}
    ticks = set(kick_ticks) | starts
    beat = grid.ticks_per_bar // 4
    if density < LOCK_SPARSE:
        ticks = {t for t in ticks if t in starts or t % beat == 0 or rng.random() >= (LOCK_SPARSE - density) * 2}
    elif density > LOCK_BUSY:
        step = grid.ticks_per_bar // style.steps
        extra = [b + i * step for b in range(0, grid.length, grid.ticks_per_bar) for i, c in enumerate(pattern) if c not in "-."]
        extra += list(range(beat // 2, grid.length, beat))  # and the off-beat eighths, as a rolling 808 plays
        ticks |= {t for t in extra if all(abs(t - k) > 60 for k in ticks) and rng.random() < (density - LOCK_BUSY) * 2}
    roles = style.lock_roles
    return [(t, "R" if t in starts else rng.choice(roles)) for t in sorted(ticks) if t < grid.length]


def _line(grid: SectionGrid, positions: list[tuple[int, str]], style: PatternStyle, scale: Scale, feel: feel_mod.Feel, rng: random.Random) -> list[Hit]:
    high = tables().parts.parts["bass"].pitch_range[1]
    starts = {s.start for s in grid.spans}
    onsets: list[tuple[int, str, Span]] = []
    for tick, char in positions:
        span = span_at(grid, tick)
        if tick in starts and char in "-.":
            char = "R"  # a chord change always sounds the chord's bass note
        if tick in starts:
            char = "R" if char not in "R8" else char
        if char != "-":
            onsets.append((tick, char, span))
    onsets.append((grid.length, ".", grid.spans[-1]))
    notes: list[Hit] = []
    anchor = previous = 36
    for (tick, role, span), (nxt, _, _) in zip(onsets, onsets[1:]):
        if role == ".":
            continue
        root = _near(_bass_pc(span.chord), anchor, *ROOT_ZONE)
        anchor = root
        pitch = _pitch(role, span, root, previous, scale, high)
        previous = pitch
        end = min(nxt, span.end)
        duration = max(30, round((end - tick) * style.gate))
        base = 100 if tick % (grid.ticks_per_bar // 4) == 0 else 88
        v = velocity(base, grid.section.energy, rng) + feel_mod.accent(feel.accent, tick, grid.ticks_per_bar)
        notes.append(Hit(tick=tick, duration=duration, pitch=pitch, velocity=max(1, min(127, v))))
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
    feel = feel_mod.of(intent)
    locked = kicks(intent, progression, arrangement, seed) if feel.lock and pattern_style.lock_roles else {}
    clips = []
    for grid in sections(arrangement, progression, "bass"):
        rng = stream(seed + params.seed, "bass", style, grid.index)
        pattern = pattern_style.variants[level(grid.section.energy, density)]
        if locked.get(grid.index):
            positions = _locked_positions(grid, pattern_style, locked[grid.index], pattern, density, rng)
        else:
            positions = _pattern_positions(grid, pattern_style, pattern, rng, creativity)
        notes = _line(grid, positions, pattern_style, scale, feel, rng)
        clips.append(clip(grid, feel_mod.perform(notes, feel, rng, part="bass", bpm=intent.tempo.bpm)))
    return track("bass", clips, params)
