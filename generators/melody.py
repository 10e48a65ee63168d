"""Stage 4d: lead — one motif for the whole song, repeated and developed over the chords.

The motif is a rhythm (cells from the lead style) and a contour in scale steps. Each statement is
anchored on a tone of the chord it starts over, so repeats become sequences; every fourth statement
answers with the contour inverted, every third varies the tail. Notes on the beat are pulled onto
chord tones; every note is in the song's scale.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .grid import SectionGrid, clip, part_density, sections, step_ticks, style_key, track, velocity
from .model import Arrangement, Note, PartParams, PipelineIntent, Progression, Track
from .rng import stream
from .tables import LeadStyle, tables
from .theory import Scale, scale_of

STEPS = 16


@dataclass(frozen=True, slots=True)
class Motif:
    onsets: tuple[tuple[int, int], ...]
    """(step, length in steps) from the motif's start."""
    contour: tuple[int, ...]
    """Scale steps from the first note, one per onset."""
    bars: int


def motif(style: LeadStyle, rng: random.Random, density: float) -> Motif:
    cells = [rng.choice(style.cells) for _ in range(style.motif_bars)]
    text = "".join(cells)
    onsets = []
    for i, char in enumerate(text):
        if char != "x" or (onsets and rng.random() > density):
            continue
        end = i + 1
        while end < len(text) and text[end] == "-":
            end += 1
        onsets.append((i, end - i))
    contour, position = [0], 0
    moves = [d for d in range(-style.leap, style.leap + 1) if d]
    for _ in onsets[1:]:
        choices = [d for d in moves if -4 <= position + d <= 6]
        position += rng.choices(choices, weights=[1 / abs(d) for d in choices])[0]
        contour.append(position)
    return Motif(tuple(onsets), tuple(contour), style.motif_bars)


def _develop(m: Motif, statement: int, rng: random.Random) -> tuple[int, ...]:
    if statement % 4 == 3:
        return tuple(-c for c in m.contour)
    if statement % 4 == 2 and len(m.contour) > 2:
        tail = rng.choice((-2, -1, 1, 2))
        return (*m.contour[:-1], m.contour[-1] + tail)
    return m.contour


def _chord_pcs(notes: list[int]) -> set[int]:
    return {n % 12 for n in notes}


def _on_chord(pitch: int, pcs: set[int], scale: Scale, low: int, high: int) -> int:
    """``pitch``, or the nearest in-scale chord tone within a whole tone that stays in ``low..high``."""
    for delta in (0, -1, 1, -2, 2):
        p = pitch + delta
        if p % 12 in pcs and scale.contains(p) and low <= p <= high:
            return p
    return pitch


def _statement(grid: SectionGrid, start: int, step: int, contour: tuple[int, ...], m: Motif, anchor: int, scale: Scale, rng: random.Random) -> tuple[list[Note], int]:
    low, high = tables().parts.parts["lead"].pitch_range
    span = next(s for s in grid.spans if s.start <= start < s.end)
    pcs = _chord_pcs(span.chord.notes)
    tones = [p for p in range(low, high - 7) if p % 12 in pcs and scale.contains(p)] or [scale.snap(anchor)]
    first = min(tones, key=lambda p: (abs(p - anchor), p))
    pitches = [scale.step(first, c) for c in contour]
    while max(pitches) > high:
        pitches = [p - 12 for p in pitches]
    while min(pitches) < low:
        pitches = [p + 12 for p in pitches]
    notes = []
    for (offset, length), pitch in zip(m.onsets, pitches):
        tick = start + offset * step
        if tick >= grid.length:
            break
        if offset % 4 == 0:
            here = next(s for s in grid.spans if s.start <= tick < s.end)
            pitch = _on_chord(pitch, _chord_pcs(here.chord.notes), scale, low, high)
        accent = 98 if offset % 4 == 0 else 84
        notes.append(Note(tick=tick, duration=max(30, length * step - 20), pitch=pitch, velocity=velocity(accent, grid.section.energy, rng)))
    return notes, first


def lead(
    intent: PipelineIntent,
    progression: Progression,
    arrangement: Arrangement,
    *,
    seed: int,
    params: PartParams = PartParams(),
) -> Track:
    """The lead track; ``params`` override the genre's style and the lead's density."""
    style = style_key(intent, "lead", params)
    lead_style = tables().parts.lead[style]
    scale = scale_of(intent.key.root, intent.key.mode)
    dna = intent.genre.dna_vector
    seed += params.seed
    m = motif(lead_style, stream(seed, "lead", style, "motif"), part_density(intent, "lead", params))
    low, high = tables().parts.parts["lead"].pitch_range
    home = scale.snap((low + high) // 2 - 4)
    clips = []
    for grid in sections(arrangement, progression, "lead"):
        rng = stream(seed, "lead", style, grid.index)
        step = step_ticks(STEPS, grid.ticks_per_bar, intent.tempo.half_time)
        length = m.bars * STEPS * step
        rest_every = 2 if dna.repetition < 0.5 else 0  # through-composed genres breathe between statements
        notes: list[Note] = []
        anchor = home
        for k, start in enumerate(range(0, grid.length, length)):
            if rest_every and k % (2 * rest_every) == 2 * rest_every - 1 and grid.section.energy < 0.8:
                continue
            base = 3 if grid.section.kind in ("bridge", "break", "solo") else 0
            played, anchor = _statement(grid, start, step, _develop(m, k + base, rng), m, anchor, scale, rng)
            notes += played
        clips.append(clip(grid, notes))
    return track("lead", clips, params)
