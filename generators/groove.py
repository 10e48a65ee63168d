"""The drum groove bar by bar, as step strings: what the drums play and what a locked bass follows.

Each bar starts from the style's lanes for the section's density level (half-time lanes laid over
them), then varies: a syncopated kick and ghost snares by the rhythmic dial, a turnaround at the end
of each 4-bar phrase, hi-hat rolls of several kinds on varying beats. The last bar before a section
change carries a fill — always into a section of higher energy — and a section the drums sit out
gets a one-bar pickup when the next one rises. ``drums`` renders the bars to notes; ``bass`` reads
their kicks (``kicks``) where the genre locks the bass to the kick.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .grid import SectionGrid, level, part_density, sections, style_key
from .model import Arrangement, PartParams, PipelineIntent, Progression, Section
from .rng import stream
from .tables import DrumFill, DrumStyle, tables

RISE = 0.05
"""An energy step larger than this into the next section asks for a fill."""
_BACKBONE = frozenset({"kick", "kick2", "snare", "snare2", "clap"})
"""Lanes that carry the groove's backbone; bar-to-bar ad-libs touch only the others."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of drums: lane -> step string, plus roll hits off the step grid."""

    lanes: dict[str, str]
    rolls: tuple[tuple[int, str, int], ...] = ()
    """(tick within the bar, lane, base velocity) of each roll hit (off the step grid)."""
    graces: tuple[tuple[int, str, int], ...] = ()
    """The same for the grace hits of flams."""
    fill: str | None = None
    """The fill this bar carries, if any."""


def rises(section: Section, nxt: Section | None) -> bool:
    """Whether ``nxt`` is a section of higher energy that the drums play in from its first bar."""
    return nxt is not None and "drums" in nxt.active_tracks and not nxt.enters.get("drums") and nxt.energy > section.energy + RISE


def entry_bar(section: Section) -> int:
    """The bar the drums come in at (a pickup enters on the section's last bar)."""
    return min(section.enters.get("drums", 0), section.bars - 1)


def _lanes(style: DrumStyle, energy: float, half_time: bool, density: float) -> dict[str, str]:
    lanes = dict(style.variants[level(energy, density)])
    if half_time:
        lanes.update(style.halftime)
    return lanes


def _vary(lanes: dict[str, str], style: DrumStyle, rng: random.Random, rhythmic: float, syncopation: float) -> dict[str, list[str]]:
    bar = {k: list(v) for k, v in lanes.items()}
    steps = style.steps
    if "kick" in bar and rng.random() < rhythmic * syncopation:
        offbeats = [s for s in range(steps) if s % 4 in (2, 3) and bar["kick"][s] == "." and bar["kick"][s - 1] == "."]
        if offbeats:
            bar["kick"][rng.choice(offbeats)] = "x"
    if "snare" in bar and style.ghosts and rng.random() < rhythmic * style.ghosts:
        empty = [s for s in range(steps) if s % 2 and bar["snare"][s] == "."]
        for s in rng.sample(empty, k=min(len(empty), 1 + int(rhythmic * 2))):
            bar["snare"][s] = "o"
    texture = [lane for lane in bar if lane not in _BACKBONE and lane not in style.keep]
    for _ in range(2):
        if texture and rng.random() < style.vary:
            lane = rng.choice(texture)
            gaps = [s for s in range(1, steps) if all(text[s] == "." for text in bar.values())]
            if gaps and rng.random() < 0.6:
                bar[lane][rng.choice(gaps)] = "x"  # a hit where the groove leaves room, as a player ad-libs
            else:
                s = rng.randrange(1, steps)
                bar[lane][s] = "." if bar[lane][s] != "." else "x"
    return bar


def _turn(bar: dict[str, list[str]], style: DrumStyle) -> None:
    """The turnaround at the end of a 4-bar phrase: the style's own overrides, laid over the groove."""
    for lane, text in style.turn.items():
        base = bar.get(lane, ["."] * len(text))
        bar[lane] = [t if t != "." else b for t, b in zip(text, base)]


def with_fill(lanes: dict[str, str], fill: DrumFill) -> dict[str, str]:
    """``lanes`` with ``fill`` laid over them from its first hit on, its ``clear`` lanes silenced."""
    starts = [len(text) - len(text.lstrip(".")) for text in fill.lanes.values() if text.strip(".")]
    first = fill.clear_from if fill.clear_from is not None else min(starts) if starts else 0
    result = dict(lanes)
    for lane in (list(result) if "*" in fill.clear else fill.clear):
        if lane in result:
            result[lane] = result[lane][:first] + "." * (len(result[lane]) - first)
    for lane, text in fill.lanes.items():
        base = result.get(lane, "." * len(text))
        result[lane] = "".join(f if f != "." else b for f, b in zip(text, base))
    return result


def choose_fill(style: DrumStyle, section: Section, rng: random.Random, *, pickup: bool = False, lift: bool = False, sparse: bool = False) -> str | None:
    """A fill of the style's, the transition's kind first (a drop-out into a cut, a build-up into a
    drop): one that stands alone for a pickup, one strong enough to lift into a section of higher
    energy where it rises (over a sparse groove, one that adds hits rather than a drop-out, which
    would hardly be heard)."""
    fills = tables().parts.drums.fills

    def fits(f: str, transition: bool = True) -> bool:
        fill = fills[f]
        if sparse and lift and "*" in fill.clear:
            return False
        suits = not transition or not fill.transitions or section.transition in fill.transitions
        return (not pickup or fill.pickup) and (not lift or fill.lift) and suits

    pool = [f for f in style.fills if fits(f)] or [f for f in style.fills if fits(f, False)] or [f for f in fills if fits(f)]
    return rng.choice(pool) if pool else None


def _fill_rolls(fill: DrumFill, bar_ticks: int) -> tuple[tuple[int, str, int], ...]:
    if not fill.roll:
        return ()
    spacing = tables().parts.drums.rolls[fill.roll].spacing
    start = fill.roll_from * bar_ticks // len(next(iter(fill.lanes.values()), "." * 16))
    count = (bar_ticks - start) // spacing
    return tuple((start + k * spacing, "hat", 52 + 44 * k // max(1, count)) for k in range(count))


def _roll(style: DrumStyle, bar_ticks: int, rng: random.Random) -> tuple[tuple[int, str, int], ...]:
    """A hi-hat roll: a kind (spacing), a beat to start on, half a beat or a whole one, rising or falling."""
    kinds = tables().parts.drums.rolls
    kind = kinds[rng.choice(style.roll_kinds)]
    beat = bar_ticks // 4
    start = rng.choice(style.roll_beats) * beat + rng.choice((0, beat // 2))
    length = min(rng.choice((beat // 2, beat)), bar_ticks - start)
    count = max(3, length // kind.spacing)
    rising = rng.random() < 0.6
    hits = []
    for k in range(count):
        v = 56 + (k * 40 // count if rising else 40 - k * 40 // count)
        hits.append((start + k * kind.spacing, style.roll_lane, v))
    return tuple(h for h in hits if h[0] < bar_ticks)


FLAM = 40
"""Ticks a flam's grace hit comes before its stroke (a 32nd triplet)."""


def _flams(lanes: dict[str, str], bar_ticks: int) -> tuple[tuple[int, str, int], ...]:
    lane = next((name for name in ("clap", "snare", "snare2", "rim") if name in lanes), None)
    if lane is None:
        return ()
    step = bar_ticks // len(lanes[lane])
    return tuple((s * step - FLAM, lane, 44) for s, c in enumerate(lanes[lane]) if c in "Xx" and s * step >= FLAM)


def bars_of(grid: SectionGrid, style: DrumStyle, intent: PipelineIntent, rng: random.Random, *, density: float, dial: float) -> list[Bar]:
    """Every bar of one section's drums (empty bars before a late entry)."""
    section = grid.section
    lanes = _lanes(style, section.energy, intent.tempo.half_time, density)
    syncopation = intent.genre.dna_vector.syncopation
    enter = entry_bar(section)
    pickup = enter > 0 or "drums" in section.enters
    out: list[Bar] = []
    for b in range(section.bars):
        last = b == section.bars - 1
        if b < enter:
            out.append(Bar({}))
            continue
        if pickup and last:
            name = choose_fill(style, section, rng, pickup=True, lift=True)
            fill = tables().parts.drums.fills[name] if name else None
            out.append(Bar(with_fill({}, fill) if fill else {}, rolls=_fill_rolls(fill, grid.ticks_per_bar) if fill else (), fill=name))
            continue
        bar = _vary(lanes, style, rng, dial, syncopation)
        if b % 4 == 3 and not last:
            _turn(bar, style)
        text = {k: "".join(v) for k, v in bar.items()}
        fill = None
        rolls: tuple[tuple[int, str, int], ...] = ()
        lift = rises(section, grid.next_section)
        wants_fill = grid.next_section is not None and (lift or (section.transition != "cut" and rng.random() < style.fill_chance))
        if last and wants_fill:
            fill = choose_fill(style, section, rng, lift=lift, sparse=sum(c != "." for t in text.values() for c in t) < 8)
            if fill:
                chosen = tables().parts.drums.fills[fill]
                text = with_fill(text, chosen)
                rolls = _fill_rolls(chosen, grid.ticks_per_bar)
        if fill is None and style.roll_lane in text and style.roll_kinds and rng.random() < style.rolls * (0.5 + dial):
            rolls = _roll(style, grid.ticks_per_bar, rng)
        graces = _flams(text, grid.ticks_per_bar) if style.flams and rng.random() < style.flams else ()
        out.append(Bar(text, rolls=rolls, fill=fill, graces=graces))
    return out


def drum_style(intent: PipelineIntent, params: PartParams) -> tuple[str, DrumStyle]:
    key = style_key(intent, "drums", params)
    return key, tables().parts.drums.styles[key]


def section_bars(intent: PipelineIntent, grid: SectionGrid, seed: int, params: PartParams = PartParams()) -> list[Bar]:
    """One section's drum bars, exactly as the drum part plays them with ``params``."""
    key, style = drum_style(intent, params)
    dial = intent.creativity_dials.rhythmic if params.creativity is None else params.creativity
    rng = stream(seed + params.seed, "drums", key, grid.index)
    return bars_of(grid, style, intent, rng, density=part_density(intent, "drums", params), dial=dial)


def kicks(intent: PipelineIntent, progression: Progression, arrangement: Arrangement, seed: int) -> dict[int, list[int]]:
    """Section index -> the straight ticks (from the section start) of the genre's kicks."""
    out: dict[int, list[int]] = {}
    _, style = drum_style(intent, PartParams())
    for grid in sections(arrangement, progression, "drums"):
        step = grid.ticks_per_bar // style.steps
        ticks = []
        for b, bar in enumerate(section_bars(intent, grid, seed)):
            for lane in ("kick", "kick2"):
                ticks += [b * grid.ticks_per_bar + s * step for s, c in enumerate(bar.lanes.get(lane, "")) if c != "."]
        out[grid.index] = sorted(set(ticks))
    return out
