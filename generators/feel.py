"""Feel: how a genre's parts sit in time — swing, micro-timing, accents — applied to every part alike.

The part generators write their notes on a straight grid; ``perform`` then swings them (a time warp
of each pair of grid steps, so every part of a song swings by the same ratio on the same grid), moves
them behind or ahead of the beat by the part's lag, and humanises each onset by a seeded Gaussian
error. Accent shapes (``accent``) give hats, bass and comping their velocity contour across the bar.
Everything is read from a genre's ``[feel]`` table in config/genres.toml and is deterministic for a
seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from backbeat.engine.time import PPQ

from .grid import Hit
from .model import PipelineIntent
from .tables import FeelSpec, tables

STRAIGHT = 0.5
MAX_SWING = 0.75
HAT_LANES = frozenset({"hat", "phat", "ohat", "shaker", "ride", "tamb", "cabasa"})
"""Drum lanes that take the genre's hat accent shape."""


@dataclass(frozen=True, slots=True)
class Feel:
    """One song's feel, resolved from its genre's table and its DNA."""

    swing: float
    """Off-beat position within a pair of grid steps (0.5 straight, 0.667 triplet)."""
    grid: int
    """Ticks of the step that swings (240: eighths, 120: sixteenths)."""
    human_ms: float
    lag_ms: Mapping[str, float]
    strum_ms: float
    lock: bool
    hat_accent: str
    accent: str

    @property
    def swings(self) -> bool:
        return self.swing >= 0.54


def spec(genre: str) -> FeelSpec:
    return tables().intent.genres[genre].feel


def of(intent: PipelineIntent) -> Feel:
    """The song's feel: its primary genre's, with the swing moved by how far the song's DNA swing
    ("more swing") is from the genre's own (a whole DNA step is a sixth of a beat pair)."""
    genre = tables().intent.genres[intent.genre.primary]
    table = genre.feel
    shift = (intent.genre.dna_vector.swing - genre.dna.swing) / 6
    ratio = round(min(max(table.swing + shift, STRAIGHT), MAX_SWING), 4)
    return Feel(
        swing=ratio,
        grid=PPQ // 2 if table.grid == 8 else PPQ // 4,
        human_ms=table.human_ms,
        lag_ms=dict(table.lag_ms),
        strum_ms=table.strum_ms,
        lock=table.lock,
        hat_accent=table.hat_accent,
        accent=table.accent,
    )


def swung(tick: int, feel: Feel) -> int:
    """Straight ``tick`` on the swung grid: the first step of each pair stretches to ``2 * swing``
    of the pair, the second shrinks to the rest (a continuous, monotonic warp)."""
    if feel.swing == STRAIGHT:
        return tick
    g = feel.grid
    pair, split = 2 * g, 2 * g * feel.swing
    k, x = divmod(tick, pair)
    y = x * split / g if x < g else split + (x - g) * (pair - split) / g
    return k * pair + round(y)


def accent(shape: str, tick: int, bar_ticks: int) -> int:
    """Velocity offset of ``shape`` (16 digits, 5 neutral) at ``tick`` of a bar."""
    step = round((tick % bar_ticks) * 16 / bar_ticks) % 16
    return (int(shape[step]) - 5) * 4


def ticks_per_ms(bpm: float) -> float:
    return bpm * PPQ / 60_000


MAX_ERROR_TICKS = 5.5
"""The human error's spread never exceeds this many ticks: at a fast clock (half-time soul at 130
BPM) a player's milliseconds would otherwise smear the 16th grid the part is felt on."""


def perform(
    notes: Iterable[Hit],
    feel: Feel,
    rng: random.Random,
    *,
    part: str,
    bpm: float,
    lanes: Mapping[int, str] | None = None,
    chords: bool = False,
) -> list[Hit]:
    """``notes`` (on a straight grid) swung, laid back or pushed, and humanised.

    Notes that start together (a chord) move together, a strum spreading them low to high when
    ``chords``; ``lanes`` names the drum lane of each pitch so lanes can lag on their own (a late
    snare). Onsets never move before the clip's start; lengths keep their swung end.
    """
    per_ms = ticks_per_ms(bpm)
    sigma = min(feel.human_ms * per_ms, MAX_ERROR_TICKS) if feel.human_ms > 0 else 0.0
    lags: dict[str, float] = {}

    def lag(lane: str) -> float:
        if lane not in lags:
            lags[lane] = feel.lag_ms.get(lane, feel.lag_ms.get(part, 0.0)) * per_ms
        return lags[lane]

    def move(lane: str) -> int:
        error = max(-2.5, min(2.5, rng.gauss(0.0, 1.0))) * sigma if sigma else 0.0
        return round(lag(lane) + error)

    strum = feel.strum_ms * per_ms if chords else 0.0
    by_onset: dict[int, list[Hit]] = {}
    for n in notes:
        by_onset.setdefault(n.tick, []).append(n)
    out: list[Hit] = []
    for tick in sorted(by_onset):
        group = by_onset[tick]
        if len(group) > 1:
            group.sort(key=lambda n: n.pitch)
        start = swung(tick, feel)
        shared = None if lanes else move(part)
        last = len(group) - 1
        for i, n in enumerate(group):
            shift = shared if shared is not None else move(lanes.get(n.pitch, part))
            if strum and last:
                shift += round(strum * i / last)
            begin = max(0, start + shift)
            end = swung(n.tick + n.duration, feel) + shift
            out.append(Hit(begin, max(1, end - begin), n.pitch, n.velocity))
    return out
