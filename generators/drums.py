"""Stage 4a: drums — the genre's groove from config/drums.toml, shaped per section.

Energy picks the density variant and scales velocity; the genre DNA's swing delays off-beat
sixteenths; the rhythmic dial adds syncopated kicks, ghost snares and hi-hat rolls; the last bar
before a section change gets a fill; a rise in energy is marked with a crash. General MIDI notes on
channel 10.
"""

from __future__ import annotations

import random

from .grid import SectionGrid, clip, level, part_density, sections, step_ticks, style_key, swing_amount, swing_offset, track, velocity
from .model import Arrangement, Note, PartParams, PipelineIntent, Progression, Track
from .rng import stream
from .tables import DrumStyle, tables

_BASE = {"X": 112, "x": 92, "o": 46}
HIT = 60
"""Length of a drum hit in ticks (an eighth of a beat): drum samples ignore it, DAWs show it."""


def _lanes(style: DrumStyle, grid: SectionGrid, intent: PipelineIntent, density: float) -> dict[str, str]:
    lanes = dict(style.variants[level(grid.section.energy, density)])
    if intent.tempo.half_time:
        lanes.update(style.halftime)
    return lanes


def _bar_lanes(lanes: dict[str, str], style: DrumStyle, rng: random.Random, rhythmic: float, syncopation: float) -> dict[str, str]:
    """One bar's lanes: the groove with this bar's syncopated kick and ghost notes."""
    bar = {k: list(v) for k, v in lanes.items()}
    steps = style.steps
    if "kick" in bar and rng.random() < rhythmic * syncopation:
        offbeats = [s for s in range(steps) if s % 4 in (2, 3) and bar["kick"][s] == "." and bar["kick"][s - 1] == "."]
        if offbeats:
            bar["kick"][rng.choice(offbeats)] = "x"
    if "snare" in bar and rng.random() < rhythmic * 0.6:
        empty = [s for s in range(steps) if s % 2 and bar["snare"][s] == "."]
        for s in rng.sample(empty, k=min(len(empty), 1 + int(rhythmic * 2))):
            bar["snare"][s] = "o"
    return {k: "".join(v) for k, v in bar.items()}


def _with_fill(bar: dict[str, str], fill_key: str) -> dict[str, str]:
    fill = tables().parts.drums.fills[fill_key]
    starts = [len(text) - len(text.lstrip(".")) for text in fill.lanes.values() if text.strip(".")]
    first = min(starts) if starts else 0
    result = dict(bar)
    for lane in fill.clear:
        if lane in result:
            result[lane] = result[lane][:first] + "." * (len(result[lane]) - first)
    for lane, text in fill.lanes.items():
        base = result.get(lane, "." * len(text))
        result[lane] = "".join(f if f != "." else b for f, b in zip(text, base))
    return result


def drums(
    intent: PipelineIntent,
    progression: Progression,
    arrangement: Arrangement,
    *,
    seed: int,
    params: PartParams = PartParams(),
) -> Track:
    """The drum track; ``params`` override the genre's groove, density and the rhythmic dial."""
    t = tables()
    gm = t.parts.drums.gm
    style = style_key(intent, "drums", params)
    groove = t.parts.drums.styles[style]
    dial = intent.creativity_dials.rhythmic if params.creativity is None else params.creativity
    density = part_density(intent, "drums", params)
    syncopation = intent.genre.dna_vector.syncopation
    swing = swing_amount(intent, groove.swing)
    seed += params.seed
    clips = []
    for grid in sections(arrangement, progression, "drums"):
        rng = stream(seed, "drums", style, grid.index)
        lanes = _lanes(groove, grid, intent, density)
        step = step_ticks(groove.steps, grid.ticks_per_bar, False)
        energy = grid.section.energy
        notes: list[Note] = []
        for bar in range(grid.section.bars):
            bar_start = bar * grid.ticks_per_bar
            pattern = _bar_lanes(lanes, groove, rng, dial, syncopation)
            last = bar == grid.section.bars - 1
            if last and grid.next_section is not None and grid.section.transition != "cut" and groove.fills:
                pattern = _with_fill(pattern, rng.choice(groove.fills))
            roll = "hat" in pattern and groove.rolls and rng.random() < groove.rolls * (0.5 + dial)
            for lane, text in pattern.items():
                for s, char in enumerate(text):
                    if char == ".":
                        continue
                    if roll and lane == "hat" and s >= groove.steps - groove.steps // 4:
                        continue
                    tick = bar_start + s * step + swing_offset(s, swing, step)
                    notes.append(Note(tick=tick, duration=HIT, pitch=gm[lane], velocity=velocity(_BASE[char], energy, rng)))
            if roll:
                tail = bar_start + (groove.steps - groove.steps // 4) * step
                ratchet = step // 2
                for k in range(2 * (groove.steps // 4)):
                    v = velocity(60 + 6 * k, energy, rng, jitter=3)
                    notes.append(Note(tick=tail + k * ratchet, duration=ratchet - 10, pitch=gm["hat"], velocity=v))
        previous = grid.previous_section
        if energy >= 0.7 and (previous is None or previous.energy < energy - 0.1):
            notes.append(Note(tick=0, duration=HIT, pitch=gm["crash"], velocity=velocity(104, energy, rng, jitter=3)))
        clips.append(clip(grid, notes))
    return track("drums", clips, params)
