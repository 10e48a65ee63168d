"""Stages 5 and 6: an MPC Beats instrument for every track and an insert-effect chain for it.

Both come from tables: config/sound.toml says which instrument categories and which chain suit a
part in a genre family; config/mpc_beats.toml says which instruments and effects MPC Beats really
ships (with sources). Time-based parameters are note values turned into milliseconds at the song's
tempo, so a tempo change recomputes every one of them.
"""

from __future__ import annotations

import re

from backbeat.engine.time import ms_per_note

from .errors import ConfigError
from .model import EffectParam, EffectSlot, PipelineIntent, PresetChoice, Track
from .tables import SoundRule, tables

_SYNC = re.compile(r"(\d+)\s*/\s*(\d+)(?:\s+(dotted|triplet))?")


def note_fraction(sync: str) -> float:
    """"1/8 dotted" -> 0.1875 of a whole note."""
    m = _SYNC.fullmatch(sync.strip())
    if not m:
        raise ConfigError(f"not a note value: {sync!r} (write e.g. 1/8, 1/8 dotted, 1/4 triplet)")
    fraction = int(m.group(1)) / int(m.group(2))
    return fraction * {None: 1.0, "dotted": 1.5, "triplet": 2 / 3}[m.group(3)]


def rule_for(intent: PipelineIntent, part: str) -> SoundRule:
    """The most specific rule: the genre itself, then its family, then "*"."""
    genre = intent.genre.primary
    family = tables().intent.genres[genre].family
    rules = [r for r in tables().sound.rules if r.part == part]
    for wanted in (genre, family, "*"):
        for rule in rules:
            if wanted in rule.families:
                return rule
    raise ConfigError(f"config/sound.toml has no rule for {part} (not even a '*' fallback)")


def preset(intent: PipelineIntent, part: str) -> PresetChoice:
    rule = rule_for(intent, part)
    catalog = tables().catalog.instruments
    for category in rule.categories:
        # the most specialised instrument first: the one that lists the category earliest
        fitting = sorted((i for i in catalog if category in i.categories), key=lambda i: i.categories.index(category))
        for instrument in fitting:
                named = next((p for p in instrument.presets if p.category == category), None)
                genre = tables().intent.genres[intent.genre.primary].name
                return PresetChoice(
                    instrument=instrument.name,
                    preset=named.name if named else None,
                    category=category,
                    reason=f"{category} sound for {genre} {part}: {instrument.description}",
                    source=named.source if named else instrument.source,
                )
    raise ConfigError(f"no MPC Beats instrument in categories {rule.categories} for {part}")


def chain(intent: PipelineIntent, part: str, bpm: float) -> list[EffectSlot]:
    """The effect chain for ``part``; time-based values computed at ``bpm``."""
    effects = tables().catalog.effects
    slots = []
    for spec in rule_for(intent, part).chain:
        effect = next(e for e in effects if e.category == spec.effect)
        params = [
            EffectParam(name=p.name, value=round(ms_per_note(bpm, note_fraction(p.sync)), 1), unit="ms", synced_to=p.sync)
            if p.sync
            else EffectParam(name=p.name, value=p.value, unit=p.unit)
            for p in spec.params
        ]
        slots.append(EffectSlot(effect=effect.name, purpose=spec.purpose, params=params, source=effect.source))
    return slots


def with_presets(intent: PipelineIntent, tracks: list[Track]) -> list[Track]:
    """Stage 5: every track with its instrument."""
    return [t.model_copy(update={"preset": preset(intent, t.part)}) for t in tracks]


def with_effects(intent: PipelineIntent, tracks: list[Track], bpm: float | None = None) -> list[Track]:
    """Stage 6: every track with its effect chain at ``bpm`` (the intent's tempo by default)."""
    bpm = intent.tempo.bpm if bpm is None else bpm
    return [t.model_copy(update={"effects": chain(intent, t.part, bpm)}) for t in tracks]


def retime(effects: list[EffectSlot], bpm: float) -> list[EffectSlot]:
    """``effects`` with every tempo-synced value recomputed at ``bpm`` (other values kept)."""
    return [
        slot.model_copy(update={"params": [
            p.model_copy(update={"value": round(ms_per_note(bpm, note_fraction(p.synced_to)), 1)}) if p.synced_to else p
            for p in slot.params
        ]})
        for slot in effects
    ]
