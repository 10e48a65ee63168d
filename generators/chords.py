"""Stage 4c: chords — the progression's voicings played in the genre's comping rhythm.

The part plays each chord's voice-led upper structure; where the bass is silent (an intro of pads
alone) it adds the chord's bass note, so the harmony never loses its floor. A chord change always
re-strikes the chord rather than holding the previous one across it. Arpeggio styles walk the
voicing one note per onset.
"""

from __future__ import annotations

import random

from .grid import SectionGrid, Span, clip, level, part_density, sections, step_ticks, style_key, track, velocity
from .model import Arrangement, Note, PartParams, PipelineIntent, Progression, Track
from .rng import stream
from .tables import PatternStyle, tables

_BASE = {"X": 96, "x": 84}


def _voicing(span: Span, with_bass: bool) -> list[int]:
    return list(span.chord.notes) if with_bass else list(span.chord.notes[1:])


def _arp_note(voicing: list[int], k: int, mode: str) -> int:
    if mode == "updown" and len(voicing) > 2:
        cycle = voicing + voicing[-2:0:-1]
        return cycle[k % len(cycle)]
    return voicing[k % len(voicing)]


def _comp(grid: SectionGrid, style: PatternStyle, pattern: str, half_time: bool, rng: random.Random) -> list[Note]:
    step = step_ticks(style.steps, grid.ticks_per_bar, half_time)
    cycle = step * style.steps
    with_bass = "bass" not in grid.section.active_tracks
    starts = {s.start for s in grid.spans}
    onsets: list[tuple[int, str]] = []
    for tick in range(0, grid.length, step):
        char = pattern[(tick % cycle) // step]
        if tick in starts and char == "-":
            char = "x"  # never hold a chord across a change
        if char != "-":
            onsets.append((tick, char))
    onsets.append((grid.length, "."))
    notes: list[Note] = []
    arp = 0
    for (tick, char), (nxt, _) in zip(onsets, onsets[1:]):
        if char == ".":
            continue
        span = next(s for s in grid.spans if s.start <= tick < s.end)
        end = min(nxt, span.end)
        duration = max(30, round((end - tick) * style.gate))
        voicing = _voicing(span, with_bass)
        chosen = [_arp_note(voicing, arp, style.arp)] if style.arp != "none" else voicing
        arp += 1
        v = velocity(_BASE[char], grid.section.energy, rng)
        for i, pitch in enumerate(chosen):
            notes.append(Note(tick=tick, duration=duration, pitch=pitch, velocity=max(1, v - 3 * i)))
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
    seed += params.seed
    clips = []
    for grid in sections(arrangement, progression, "chords"):
        rng = stream(seed, "chords", style, grid.index)
        pattern = pattern_style.variants[level(grid.section.energy, density)]
        clips.append(clip(grid, _comp(grid, pattern_style, pattern, intent.tempo.half_time, rng)))
    return track("chords", clips, params)
