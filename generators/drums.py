"""Stage 4a: drums — the genre's groove from config/drums.toml, bar by bar, with its feel.

``groove`` decides what each bar plays (variation, turnarounds, rolls, fills, pickups); this module
turns the bars into notes: velocities from the hit strength, the section's energy and the genre's
hat accent shape, a crash on the downbeat after every fill into a higher-energy section, then the
genre's swing, lane lags (a late snare) and human timing. General MIDI notes on channel 10: the
notes are drum *roles* (kick, snare, hat, ...), which a drum map turns into pads where MIDI is
rendered.
"""

from __future__ import annotations

from . import feel as feel_mod
from .grid import Hit, clip, sections, track, velocity
from .groove import RISE, drum_style, section_bars
from .model import Arrangement, PartParams, PipelineIntent, Progression, Track
from .rng import stream
from .tables import tables

_BASE = {"X": 112, "x": 92, "o": 46}
HIT = 60
"""Length of a drum hit in ticks (an eighth of a beat): drum samples ignore it, DAWs show it."""


def crashes(grid) -> bool:
    """A crash marks the downbeat of a section that rises in energy (or opens the song loud)."""
    previous, energy = grid.previous_section, grid.section.energy
    if previous is None:
        return energy >= 0.7
    return energy > previous.energy + RISE and energy >= 0.5


def drums(
    intent: PipelineIntent,
    progression: Progression,
    arrangement: Arrangement,
    *,
    seed: int,
    params: PartParams = PartParams(),
) -> Track:
    """The drum track; ``params`` override the genre's groove, density and the rhythmic dial."""
    gm = tables().parts.drums.gm
    key, style = drum_style(intent, params)
    feel = feel_mod.of(intent)
    lanes_of = {number: lane for lane, number in gm.items()}
    clips = []
    for grid in sections(arrangement, progression, "drums"):
        rng = stream(seed + params.seed, "drums", key, grid.index, "notes")
        step = grid.ticks_per_bar // style.steps
        energy = grid.section.energy
        notes: list[Hit] = []
        for b, bar in enumerate(section_bars(intent, grid, seed, params)):
            start = b * grid.ticks_per_bar
            rolled = {t for t, _, _ in bar.rolls}
            window = (min(rolled), max(rolled)) if rolled else None
            for lane, text in bar.lanes.items():
                shape = feel.hat_accent if lane in feel_mod.HAT_LANES else None
                for s, char in enumerate(text):
                    if char == ".":
                        continue
                    tick = s * step
                    if window and lane == style.roll_lane and window[0] <= tick <= window[1]:
                        continue
                    v = velocity(_BASE[char], energy, rng)
                    if shape and char != "o":
                        v = max(1, min(127, v + feel_mod.accent(shape, tick, grid.ticks_per_bar)))
                    notes.append(Hit(tick=start + tick, duration=HIT, pitch=gm[lane], velocity=v))
            for tick, lane, base in bar.rolls:
                v = velocity(base, energy, rng, jitter=3) + feel_mod.accent(feel.hat_accent, tick, grid.ticks_per_bar) // 2
                notes.append(Hit(tick=start + tick, duration=20, pitch=gm[lane], velocity=max(1, min(127, v))))
            for tick, lane, base in bar.graces:
                notes.append(Hit(tick=start + tick, duration=20, pitch=gm[lane], velocity=velocity(base, energy, rng, jitter=3)))
        if crashes(grid) and style.crash:
            notes.append(Hit(tick=0, duration=HIT, pitch=gm["crash"], velocity=velocity(104, energy, rng, jitter=3)))
        notes = feel_mod.perform(notes, feel, rng, part="drums", bpm=intent.tempo.bpm, lanes=lanes_of)
        clips.append(clip(grid, notes))
    return track("drums", clips, params)
