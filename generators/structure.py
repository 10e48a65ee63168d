"""Changes to a song's form: a section's length, a section added or removed, a part brought into
or out of a section. Each returns the new arrangement and one line saying what changed, or raises
``BadRequestError`` when the change would change nothing or cannot be made.

Sections are renamed after a change ("verse 1", "verse 2" become "verse" when one is removed), as
the arrangement stage names them.
"""

from __future__ import annotations

from .arrangement import PHRASE, chord_order
from .errors import BadRequestError
from .model import Arrangement, Part, Progression, Section
from .tables import tables

MAX_BARS = 1024
PEAKS = ("chorus", "drop", "hook", "head")
"""Section kinds a new section goes before (the last of them), unless it opens or ends the song."""


def renamed(sections: list[Section]) -> list[Section]:
    """``sections`` named by kind, numbered where a kind repeats ("chorus 1", "chorus 2")."""
    kinds = [s.kind for s in sections]
    seen: dict[str, int] = {}
    out = []
    for s in sections:
        seen[s.kind] = seen.get(s.kind, 0) + 1
        name = f"{s.kind} {seen[s.kind]}" if kinds.count(s.kind) > 1 else s.kind
        out.append(s if s.name == name else s.model_copy(update={"name": name}))
    return out


def _total(sections: list[Section]) -> list[Section]:
    if sum(s.bars for s in sections) > MAX_BARS:
        raise BadRequestError(f"the song would be longer than {MAX_BARS} bars")
    return sections


def resized(a: Arrangement, index: int, bars: int) -> tuple[Arrangement, str]:
    s = a.sections[index]
    bars = max(1, bars)
    if bars == s.bars:
        raise BadRequestError(f"the {s.name} is already {s.bars} bars long")
    sections = _total([x.model_copy(update={"bars": bars}) if i == index else x for i, x in enumerate(a.sections)])
    return a.model_copy(update={"sections": sections}), f"{s.name}: {s.bars} → {bars} bars"


def step(bars: int, longer: bool, by: int | None) -> int:
    """A section's length after "longer"/"shorter": by ``by`` bars, else by a phrase (a short
    section is halved rather than cut to nothing)."""
    if by is not None:
        return bars + by if longer else bars - by
    if longer:
        return bars + PHRASE
    return bars - PHRASE if bars > PHRASE else max(1, bars // 2)


def removed(a: Arrangement, index: int) -> tuple[Arrangement, str]:
    if len(a.sections) == 1:
        raise BadRequestError("the song has only one section; it cannot lose it")
    name = a.sections[index].name
    sections = renamed([s for i, s in enumerate(a.sections) if i != index])
    return a.model_copy(update={"sections": sections}), f"removed the {name} ({a.sections[index].bars} bars)"


def _like(kind: str, a: Arrangement, progression: Progression) -> Section:
    """A new section of ``kind``: like the song's own of that kind if it has one, else like the
    kind in the arrangement templates."""
    own = next((s for s in a.sections if s.kind == kind), None)
    if own is not None:
        return own
    templates = tables().arrangement.templates
    spec = next((s for t in [templates[a.template], *templates.values()] for s in t.sections if s.kind == kind), None)
    if spec is None:
        known = sorted({s.kind for t in templates.values() for s in t.sections})
        raise BadRequestError(f"backbeat has no section of kind {kind!r}; it knows: {', '.join(known)}")
    return Section(name=kind, kind=kind, bars=spec.bars, energy=spec.energy, transition=spec.transition,
                   active_tracks=list(spec.tracks), chord_order=chord_order(spec.harmony, len(progression.chords)))


def added(a: Arrangement, kind: str, progression: Progression) -> tuple[Arrangement, str]:
    """``a`` with a section of ``kind``: an intro first, an outro last, anything else before the
    last chorus (or drop, hook, head), else before the outro, else at the end."""
    new = _like(kind, a, progression)
    kinds = [s.kind for s in a.sections]
    if kind == "intro":
        at = 0
    elif kind == "outro":
        at = len(kinds)
    else:
        peaks = [i for i, k in enumerate(kinds) if k in PEAKS]
        at = peaks[-1] if peaks else kinds.index("outro") if "outro" in kinds else len(kinds)
    sections = renamed(_total([*a.sections[:at], new, *a.sections[at:]]))
    where = f"before the {sections[at + 1].name}" if at + 1 < len(sections) else "at the end"
    return a.model_copy(update={"sections": sections}), f"added a {kind} of {new.bars} bars {where}"


def with_part(a: Arrangement, index: int, part: Part, playing: bool) -> tuple[Arrangement, str]:
    """``part`` brought into (``playing``) or taken out of section ``index``."""
    s = a.sections[index]
    if (part in s.active_tracks) == playing:
        verb = ("already play" if playing else "already rest") if part in ("drums", "chords") else ("already plays" if playing else "already rests")
        raise BadRequestError(f"the {part} {verb} in the {s.name}")
    tracks = [*s.active_tracks, part] if playing else [t for t in s.active_tracks if t != part]
    sections = [s.model_copy(update={"active_tracks": tracks}) if i == index else x for i, x in enumerate(a.sections)]
    return a.model_copy(update={"sections": sections}), f"{part}: {'in' if playing else 'out of'} the {s.name}"
