"""The context hierarchy of DESIGN.md §4, built from a song in the making: Project ▸ Group ▸ Track ▸ Clip.

Every LLM prompt is rendered from these values (``generators.llm.prompts``), so each level is a
validated model (``generators.model``) that round-trips through JSON. The builders take a ``Plan``:
anything with the song's intent and, as far as they exist, its progression, arrangement and tracks
(a pipeline ``Draft`` while the stages run, a ``SongState`` once the song is whole).
"""

from __future__ import annotations

from typing import Protocol

from backbeat.engine.time import PPQ

from .grid import spans, ticks_per_bar
from .model import (
    Arrangement,
    ClipContext,
    GroupContext,
    GroupRole,
    Part,
    PipelineIntent,
    ProjectContext,
    Progression,
    Track,
    TrackContext,
)
from .tables import tables

GROUPS: tuple[GroupRole, ...] = ("rhythm", "harmony", "melody")


class Plan(Protocol):
    """What the builders read; ``pipeline.Draft`` and ``model.SongState`` both are one."""

    @property
    def intent(self) -> PipelineIntent | None: ...
    @property
    def progression(self) -> Progression | None: ...
    @property
    def arrangement(self) -> Arrangement | None: ...
    @property
    def tracks(self) -> list[Track]: ...


def meter_label(arrangement: Arrangement | None) -> str:
    if arrangement is None:
        return "4/4"
    return f"{arrangement.meter.numerator}/{arrangement.meter.denominator}"


def project(plan: Plan) -> ProjectContext:
    """The song as a whole, as far as it is decided (sections: the arrangement's, else the prompt's)."""
    intent = plan.intent
    if intent is None:
        raise ValueError("the project context needs the song's intent")
    key = plan.progression.key if plan.progression is not None else intent.key
    sections = [s.name for s in plan.arrangement.sections] if plan.arrangement is not None else list(intent.duration.sections)
    return ProjectContext(
        prompt=intent.prompt,
        genre=intent.genre.primary,
        key=key.label(),
        tempo=intent.tempo.bpm,
        meter=meter_label(plan.arrangement),
        mood=list(intent.mood),
        sections=sections,
    )


def group(plan: Plan, role: GroupRole) -> GroupContext:
    """The tracks that share ``role``: the song's, or before they exist, the parts table's."""
    if plan.tracks:
        names = [t.name for t in plan.tracks if t.group == role]
    else:
        names = [spec.name for spec in tables().parts.parts.values() if spec.group == role]
    return GroupContext(role=role, tracks=names)


def groups(plan: Plan) -> list[GroupContext]:
    return [group(plan, role) for role in GROUPS]


def track(plan: Plan, part: Part) -> TrackContext:
    """One part's track: its name, channel and (once chosen) instrument."""
    existing = next((t for t in plan.tracks if t.part == part), None)
    if existing is not None:
        instrument = existing.preset.instrument if existing.preset is not None else None
        return TrackContext(name=existing.name, part=part, channel=existing.channel, instrument=instrument)
    spec = tables().parts.parts[part]
    return TrackContext(name=spec.name, part=part, channel=spec.channel)


def clip(plan: Plan, part: Part, section: int) -> ClipContext:
    """What one clip is asked to be: ``part`` in section number ``section`` (zero-based)."""
    if plan.arrangement is None or plan.progression is None:
        raise ValueError("a clip context needs the progression and the arrangement")
    s = plan.arrangement.sections[section]
    bar = ticks_per_bar(plan.arrangement)
    beat = PPQ * 4 // plan.arrangement.meter.denominator
    changes = [span.chord.symbol for span in spans(s, plan.progression, bar, beat)]
    return ClipContext(
        track=track(plan, part).name,
        section=s.name,
        bars=s.bars,
        energy=s.energy,
        chords=changes,
    )
