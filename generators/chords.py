"""Stage 4c: chords — the progression's voicings played in the genre's comping rhythm, with its feel.

The part plays each chord's voice-led upper structure, its top voice the loudest (the melody of the
chords); where the bass is silent (an intro of pads alone) it adds the chord's bass note, so the
harmony never loses its floor. A chord change always re-strikes the chord rather than holding the
previous one across it. Arpeggio styles walk the voicing one note per onset.

A section that comes back (the second chorus) is recognisably the same and never a copy: it may
revoice block chords (the top voice dropped an octave, or a drop-2 spread, so the top never rises
above the progression's voicing), anticipate changes by an eighth where the style pushes, and vary
the last bar of its phrases. The genre's feel then swings, lays back and strums it.
"""

from __future__ import annotations

import random

from . import feel as feel_mod
from .grid import Hit, SectionGrid, Span, clip, level, part_density, sections, style_key, track, velocity
from .model import Arrangement, PartParams, PipelineIntent, Progression, Track
from .rng import stream
from .tables import PatternStyle, tables

_BASE = {"X": 96, "x": 84}
EIGHTH = 240


def occurrence(grid: SectionGrid, arrangement: Arrangement) -> int:
    """How many sections of this section's kind came before it (0 for the first chorus)."""
    return sum(s.kind == grid.section.kind for s in arrangement.sections[: grid.index])


def revoice(notes: list[int], how: int) -> list[int]:
    """An upper structure revoiced without raising its top: 1 drops the top voice an octave,
    2 drops the second voice from the top (drop 2); anything else keeps it."""
    if len(notes) < 3 or how not in (1, 2):
        return notes
    i = len(notes) - how
    moved = notes[i] - 12
    return sorted([*notes[:i], moved, *notes[i + 1 :]]) if moved not in notes else notes


def _voicing(span: Span, with_bass: bool, how: int) -> list[int]:
    upper = revoice(list(span.chord.notes[1:]), how)
    return [span.chord.notes[0], *upper] if with_bass else upper


def _arp_note(voicing: list[int], k: int, mode: str) -> int:
    if mode == "updown" and len(voicing) > 2:
        cycle = voicing + voicing[-2:0:-1]
        return cycle[k % len(cycle)]
    return voicing[k % len(voicing)]


def _onsets(grid: SectionGrid, style: PatternStyle, pattern: str, variant: str, repeat: int, rng: random.Random) -> list[tuple[int, str, int]]:
    """(tick, hit, tick of the chord it sounds) of every strike: the pattern per bar, the last bar of
    each 8-bar phrase (each 4-bar one in a repeat) varied, now and then a bar of another density
    level's rhythm (``vary``), changes anticipated by an eighth in a repeat where the style pushes."""
    step = grid.ticks_per_bar // style.steps
    starts = {s.start for s in grid.spans}
    pushed = {s.start for s in grid.spans if s.start >= EIGHTH and repeat and rng.random() < style.anticipate}
    onsets: list[tuple[int, str, int]] = []
    others = [v for v in style.variants.values() if v != pattern] or [pattern]
    for b in range(grid.section.bars):
        turn = b % 8 == 7 or (repeat and b % 4 == 3)
        if repeat and b == grid.section.bars - 1:
            text = variant  # a repeat ends on a varied last bar
        else:
            text = variant if turn and b < grid.section.bars - 1 and rng.random() < 0.7 else pattern
        if text is pattern and b and rng.random() < style.vary:
            text = rng.choice(others)
        for i, char in enumerate(text):
            tick = b * grid.ticks_per_bar + i * step
            if tick in pushed:
                continue  # struck an eighth early, held through the change
            if tick + EIGHTH in pushed:
                onsets.append((tick, "X", tick + EIGHTH))
                continue
            if tick in starts and char == "-":
                char = "x"  # never hold a chord across a change
            if char != "-":
                onsets.append((tick, char, tick))
    return onsets


def _comp(grid: SectionGrid, style: PatternStyle, level_name: str, repeat: int, rng: random.Random, feel: feel_mod.Feel) -> list[Hit]:
    pattern = style.variants[level_name]
    variant = style.variants["busy" if level_name != "busy" else "main"]
    onsets = _onsets(grid, style, pattern, variant, repeat, rng)
    onsets.append((grid.length, ".", grid.length))
    with_bass = "bass" not in grid.section.active_tracks
    starts = sorted(s.start for s in grid.spans)
    notes: list[Hit] = []
    arp = 0
    revoiced = {s.start: (rng.choice((0, 0, 0, 1, 2)) if repeat and style.arp == "none" else 0) for s in grid.spans}
    for (tick, char, sounding), (nxt, _, _) in zip(onsets, onsets[1:]):
        if char == ".":
            continue
        span = next(s for s in grid.spans if s.start <= sounding < s.end)
        later = [s for s in starts if s > sounding]
        end = min(nxt, later[0] if later else grid.length)
        duration = max(30, round((end - tick) * style.gate))
        voicing = _voicing(span, with_bass, revoiced[span.start])
        chosen = [_arp_note(voicing, arp, style.arp)] if style.arp != "none" else voicing
        arp += 1
        v = velocity(_BASE[char], grid.section.energy, rng) + feel_mod.accent(feel.accent, tick, grid.ticks_per_bar)
        top = len(chosen) - 1
        for i, pitch in enumerate(chosen):
            shaped = v + 6 if i == top else v - 3 * (top - i)  # the top voice sings: the loudest
            notes.append(Hit(tick=tick, duration=duration, pitch=pitch, velocity=max(1, min(127, shaped))))
    return notes


def chords(
    intent: PipelineIntent,
    progression: Progression,
    arrangement: Arrangement,
    *,
    seed: int,
    params: PartParams = PartParams(),
) -> Track:
    """The chord track; ``params`` override the genre's comping style and density."""
    style = style_key(intent, "chords", params)
    pattern_style = tables().parts.comping[style]
    density = part_density(intent, "chords", params)
    feel = feel_mod.of(intent)
    clips = []
    for grid in sections(arrangement, progression, "chords"):
        rng = stream(seed + params.seed, "chords", style, grid.index)
        repeat = occurrence(grid, arrangement)
        notes = _comp(grid, pattern_style, level(grid.section.energy, density), repeat, rng, feel)
        clips.append(clip(grid, feel_mod.perform(notes, feel, rng, part="chords", bpm=intent.tempo.bpm, chords=True)))
    return track("chords", clips, params)
