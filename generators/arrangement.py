"""Stage 3: the arrangement (seed task 6.3) — a genre template fitted to the requested length, its
energy shaped by the intent's arc, each section given its parts and its share of the chord loop.

The seed picks the template among the genre's own (``arrangement`` and ``arrangements`` in
config/genres.toml) and keeps or drops its optional sections (``chance``), so two seeds of a genre
differ within its conventions; a prompt that names its form gets that form, proportioned as the
genre's main template. A requested bar count is met exactly. Sections keep whole 4-bar
phrases where the length allows; a song too short for every section keeps the most important ones
(config/arrangements.toml ``[priority]``), first occurrences before repeats. A bridge plays the
progression's own bridge chords; a section the drums sit out gets a one-bar drum pickup when the
next section rises in energy.
"""

from __future__ import annotations

import math
import random

from .model import Arrangement, Meter, Part, PipelineIntent, Progression, Section
from .rng import stream
from .tables import SectionSpec, tables

PHRASE = 4
"""Bars per phrase: the unit sections are scaled in when the song is long enough."""


def _requested(kinds: list[str], template: list[SectionSpec]) -> list[SectionSpec]:
    """Sections in the order the prompt named them, each as its template counterpart."""
    priority = tables().arrangement.priority
    specs = []
    for kind in kinds:
        spec = next((s for s in template if s.kind == kind), None)
        if spec is None:  # a kind the template lacks: shape it like the template's nearest in importance
            spec = min(template, key=lambda s: abs(priority.get(s.kind, 3) - priority.get(kind, 3)))
            spec = spec.model_copy(update={"kind": kind})
        specs.append(spec)
    return specs


def _keep(specs: list[SectionSpec], count: int) -> list[SectionSpec]:
    """The ``count`` most important sections, in song order."""
    priority = tables().arrangement.priority
    seen: dict[str, int] = {}
    ranked = []
    for i, s in enumerate(specs):
        occurrence = seen.get(s.kind, 0)
        seen[s.kind] = occurrence + 1
        ranked.append((occurrence, priority.get(s.kind, 3), i))
    kept = sorted(sorted(ranked)[:count], key=lambda r: r[2])
    return [specs[i] for _, _, i in kept]


def fit(specs: list[SectionSpec], total: int) -> list[tuple[SectionSpec, int]]:
    """Section lengths summing to exactly ``total`` bars, proportional to the template's."""
    if total < PHRASE * len(specs):
        specs = _keep(specs, max(1, min(len(specs), total // PHRASE)))
    unit = PHRASE if total >= PHRASE * len(specs) else 1
    units = total // unit
    leftover = total - units * unit
    template_total = sum(s.bars for s in specs)
    raw = [s.bars * units / template_total for s in specs]
    counts = [max(1, math.floor(r)) for r in raw]
    while sum(counts) > units:  # units >= len(specs), so some section still has more than one
        i = max((k for k in range(len(counts)) if counts[k] > 1), key=lambda k: (counts[k] - raw[k], counts[k]))
        counts[i] -= 1
    while sum(counts) < units:
        i = max(range(len(counts)), key=lambda k: (raw[k] - counts[k], -k))
        counts[i] += 1
    bars = [c * unit for c in counts]
    bars[max(range(len(bars)), key=lambda k: bars[k])] += leftover
    return list(zip(specs, bars))


def shape_energy(energies: list[float], template_arc: str, intent: PipelineIntent) -> list[float]:
    """Energies following the intent's arc and centred on its overall energy."""
    n = len(energies)
    arc = intent.energy.arc
    ramp = [i / (n - 1) if n > 1 else 1.0 for i in range(n)]
    if arc != template_arc:
        if arc == "building":
            energies = [0.4 * e + 0.6 * (0.3 + 0.7 * r) for e, r in zip(energies, ramp)]
        elif arc == "declining":
            energies = [0.4 * e + 0.6 * (1.0 - 0.7 * r) for e, r in zip(energies, ramp)]
        elif arc == "steady":
            energies = [0.5 * e + 0.5 * intent.energy.overall for e in energies]
    shift = 0.5 * (intent.energy.overall - sum(energies) / n)
    return [round(min(max(e + shift, 0.05), 1.0), 3) for e in energies]


def chord_order(harmony: str, chords: int, bridge: int = 0) -> list[int]:
    """The indices a section of ``harmony`` plays, of a progression of ``chords`` whose last
    ``bridge`` chords are its bridge (a bridge without bridge chords plays the loop reversed)."""
    loop = max(1, chords - bridge)
    half = max(1, loop // 2)
    if harmony == "bridge":
        return list(range(loop, chords)) if chords > loop else list(reversed(range(loop)))
    return {
        "main": list(range(loop)),
        "first-half": list(range(half)),
        "second-half": list(range(loop - half, loop)),
        "tonic": [0],
        "reverse": list(reversed(range(loop))),
    }[harmony]


def _names(kinds: list[str]) -> list[str]:
    counts = {k: kinds.count(k) for k in kinds}
    seen: dict[str, int] = {}
    names = []
    for k in kinds:
        seen[k] = seen.get(k, 0) + 1
        names.append(f"{k} {seen[k]}" if counts[k] > 1 else k)
    return names


def templates_for(intent: PipelineIntent) -> list[str]:
    """Arrangement templates for the song, its genre's own first, then its genre family's."""
    genres = tables().intent.genres
    own = genres[intent.genre.primary]
    kin = [g.arrangement for g in genres.values() if g.family == own.family]
    return list(dict.fromkeys([own.arrangement, *own.arrangements, *kin, *tables().arrangement.templates]))


def _pick(intent: PipelineIntent, rng: random.Random) -> str:
    genre = tables().intent.genres[intent.genre.primary]
    keys = [genre.arrangement, *genre.arrangements]
    return rng.choices(keys, weights=[2.0] + [1.0] * (len(keys) - 1))[0]


def _optional(specs: list[SectionSpec], rng: random.Random) -> list[SectionSpec]:
    """The template's sections, each optional one kept at its chance."""
    kept = [s for s in specs if s.chance >= 1.0 or rng.random() < s.chance]
    return kept or specs


def with_pickups(sections: list[Section]) -> list[Section]:
    """Drums enter on the last bar of a section they sit out when the next one rises."""
    out = []
    for s, nxt in zip(sections, [*sections[1:], None]):
        if nxt is not None and "drums" not in s.active_tracks and "drums" in nxt.active_tracks and nxt.energy > s.energy + 0.05:
            tracks: list[Part] = [*s.active_tracks, "drums"]
            s = s.model_copy(update={"active_tracks": tracks, "enters": {**s.enters, "drums": s.bars - 1}})
        out.append(s)
    return out


def arrangement(intent: PipelineIntent, progression: Progression, *, template: str | None = None, seed: int = 0) -> Arrangement:
    """The song's sections, exactly ``intent.duration.total_bars`` long, from one of the genre's
    templates (or ``template``, a key of config/arrangements.toml)."""
    rng = stream(seed, "arrangement")
    # a prompt that names its form gets it in the proportions of the genre's main template
    named = tables().intent.genres[intent.genre.primary].arrangement if intent.duration.sections else None
    key = template or named or _pick(intent, rng)
    chosen = tables().arrangement.templates[key]
    specs = chosen.sections
    if intent.duration.sections:
        specs = _requested(intent.duration.sections, specs)
    else:
        specs = _optional(specs, rng)
    fitted = fit(specs, intent.duration.total_bars)
    energies = shape_energy([s.energy for s, _ in fitted], chosen.arc, intent)
    names = _names([s.kind for s, _ in fitted])
    count, bridge = len(progression.chords), progression.bridge
    sections = []
    for (spec, bars), energy, name, i in zip(fitted, energies, names, range(len(fitted))):
        last = i == len(fitted) - 1
        harmony = "bridge" if spec.kind == "bridge" and spec.harmony == "main" else spec.harmony
        sections.append(
            Section(
                name=name,
                kind=spec.kind,
                bars=bars,
                energy=energy,
                transition="fade" if last and spec.transition != "cut" else spec.transition,
                active_tracks=list(spec.tracks),
                chord_order=chord_order(harmony, count, bridge),
            )
        )
    return Arrangement(meter=Meter(), sections=with_pickups(sections), template=key)
