"""Stage 6.7: alternatives of a part to compare and choose from.

Three approaches, cycled as more are asked for: **A** the best match (the genre's own style, a new
take), **B** more creative (the rhythmic dial up 10%, and busier — or sparser where the part is
already busy), **C** a different structure (another style of the part from the same genre family:
a walking bass instead of an 808, stabs instead of pads). Each is scored by heuristics (in key, on
the chord changes, near the genre's density, varied) and described in one sentence. All are kept
in ``SongState.alternatives``; choosing one makes it the part; "try something different" takes the
best one not yet heard, and makes more (bolder) ones when they are used up.
"""

from __future__ import annotations

import string

from .errors import BadRequestError
from .grid import STYLE_FIELDS, style_key, ticks_per_bar
from .model import Alternative, Part, PartParams, SongState, Track
from .parts import generate
from .tables import tables
from .theory import pitch_class, scale_of

APPROACHES = ("best-match", "more-creative", "different-structure")


def styles(part: str) -> list[str]:
    """Every style of ``part`` the pattern tables have."""
    t = tables().parts
    return list({"drums": t.drums.styles, "bass": t.bass, "chords": t.comping, "lead": t.lead}[part])


def other_style(song: SongState, part: str, current: str, used: set[str]) -> str:
    """A style of ``part`` that genres of the song's family use, not ``current`` nor one in ``used``;
    any other style when the family has none left."""
    family = tables().intent.genres[song.intent.genre.primary].family
    kin = [getattr(g, STYLE_FIELDS[part]) for g in tables().intent.genres.values() if g.family == family]
    for style in [*dict.fromkeys(kin), *styles(part)]:
        if style != current and style not in used:
            return style
    return current


def notes_of(track: Track, bar: int) -> set[tuple[int, int]]:
    """(absolute tick, pitch) of every note: what overlap between two versions is measured on."""
    return {(c.start_bar * bar + n.tick, n.pitch) for c in track.clips for n in c.notes}


def overlap(a: Track, b: Track, bar: int) -> float:
    """Shared notes over all notes (Jaccard) of two versions of a part."""
    x, y = notes_of(a, bar), notes_of(b, bar)
    return len(x & y) / len(x | y) if x | y else 1.0


def score(song: SongState, track: Track) -> float:
    """0..1: in the song's scale, on the chord changes (bass), near the genre's density, varied."""
    notes = [n for c in track.clips for n in c.notes]
    if not notes:
        return 0.0
    bars = max(1, sum(c.bars for c in track.clips))
    scale = scale_of(song.progression.key.root, song.progression.key.mode)
    parts = []
    if track.part != "drums":
        parts.append(sum(scale.contains(n.pitch) for n in notes) / len(notes))
    if track.part == "bass":
        roots = {pitch_class(c.bass or c.root) for c in song.progression.chords}
        firsts = [min(c.notes, key=lambda n: n.tick).pitch % 12 for c in track.clips if c.notes]
        parts.append(sum(p in roots for p in firsts) / max(len(firsts), 1))
    density = len(notes) / bars
    reference = {"drums": 14.0, "bass": 5.0, "chords": 8.0, "lead": 5.0}[track.part]
    parts.append(max(0.0, 1.0 - abs(density - reference) / (2 * reference)))
    parts.append(min(1.0, len({n.pitch for n in notes}) / (6 if track.part == "drums" else 8)))
    return round(sum(parts) / len(parts), 3)


def _describe(approach: str, label: str, part: str, style: str, current: str, busier: bool, seed: int) -> str:
    return {
        "best-match": f"{label} keeps the {style} {part} the genre calls for, with a fresh take (seed +{seed}).",
        "more-creative": f"{label} is {'busier' if busier else 'sparser'} and bolder: 10% more creativity, more syncopation and passing notes.",
        "different-structure": f"{label} takes another approach: the {style} style instead of {current}.",
    }[approach]


def make(song: SongState, part: Part, n: int = 3, *, boldness: float = 0.0) -> list[Alternative]:
    """``n`` new alternatives of ``part`` (labels continue after those already kept).

    ``boldness`` adds to the creativity of every variant (a "temperature bump" when the earlier
    ones were all heard).
    """
    if n < 1 or n > 12:
        raise BadRequestError("ask for 1 to 12 alternatives")
    track = song.track(part)
    kept = song.alternatives.get(part, [])
    current = style_key(song.intent, part, track.params)
    used = {current} | {style_key(song.intent, part, a.track.params) for a in kept}
    dial = song.intent.creativity_dials.rhythmic if track.params.creativity is None else track.params.creativity
    made = []
    for k in range(n):
        index = len(kept) + k
        approach = APPROACHES[index % len(APPROACHES)]
        seed = track.params.seed + 101 * (index + 1)
        creative = min(1.0, dial + boldness)
        params = PartParams(seed=seed, creativity=creative if boldness else None)
        busier = True
        if approach == "more-creative":
            variant, busier = _bolder(song, track, made[0].track if made else track, seed, min(1.0, dial + 0.1 + boldness))
            params = variant.params
        else:
            if approach == "different-structure":
                style = other_style(song, part, current, used)
                used.add(style)
                params = PartParams(seed=seed, style=style, creativity=params.creativity)
            fresh = generate(song, part, seed=song.seed, params=params)
            variant = track.model_copy(update={"clips": fresh.clips, "params": params})
        label = _label(index)
        style = style_key(song.intent, part, params)
        made.append(Alternative(
            label=label, approach=approach, score=score(song, variant), track=variant,
            description=_describe(approach, label, part, style, current, busier, seed - track.params.seed),
        ))
    return made


def _bolder(song: SongState, track: Track, versus: Track, seed: int, creativity: float) -> tuple[Track, bool]:
    """The more creative variant: busier or sparser, whichever differs more from ``versus`` (a part
    already at its busiest can only get sparser to sound different). Returns (track, busier)."""
    base = track.params.density if track.params.density is not None else 0.5
    bar = bar_ticks(song)
    options = []
    for busier, density in ((True, min(1.0, base + 0.35)), (False, max(0.05, base - 0.35))):
        params = PartParams(seed=seed, creativity=creativity, density=density)
        fresh = generate(song, track.part, seed=song.seed, params=params)
        variant = track.model_copy(update={"clips": fresh.clips, "params": params})
        options.append((overlap(variant, versus, bar), not busier, variant, busier))
    _, _, variant, busier = min(options, key=lambda o: (o[0], o[1]))
    return variant, busier


def _label(index: int) -> str:
    letters = string.ascii_uppercase
    return letters[index] if index < 26 else letters[index // 26 - 1] + letters[index % 26]


def with_alternatives(song: SongState, part: Part, made: list[Alternative]) -> SongState:
    kept = {**song.alternatives, part: [*song.alternatives.get(part, []), *made]}
    return song.model_copy(update={"alternatives": kept})


def choose(song: SongState, part: Part, label: str) -> SongState:
    """``song`` playing alternative ``label`` of ``part`` (kept alternatives stay kept).

    Raises:
        BadRequestError: no such alternative.
    """
    kept = song.alternatives.get(part, [])
    wanted = label.strip().upper()
    chosen = next((a for a in kept if a.label == wanted), None)
    if chosen is None:
        have = ", ".join(a.label for a in kept) or "none yet (make some with alternatives)"
        raise BadRequestError(f"no alternative {label!r} for {part}; there are: {have}")
    old = song.track(part)
    version = max((c.version for c in old.clips), default=0) + 1
    track = chosen.track.model_copy(update={
        "clips": [c.model_copy(update={"version": version}) for c in chosen.track.clips],
        "preset": old.preset, "effects": old.effects, "muted": old.muted,
    })
    marked = [a.model_copy(update={"chosen": a.label == wanted or a.chosen}) for a in kept]
    tracks = [track if t.part == part else t for t in song.tracks]
    return song.model_copy(update={"tracks": tracks, "alternatives": {**song.alternatives, part: marked}})


def next_untried(song: SongState, part: Part) -> Alternative | None:
    """The best-scored alternative of ``part`` not chosen yet."""
    fresh = [a for a in song.alternatives.get(part, []) if not a.chosen]
    return max(fresh, key=lambda a: a.score) if fresh else None


def something_different(song: SongState, part: Part) -> tuple[SongState, Alternative]:
    """"Try something different": the next ranked alternative, making bolder ones when all were heard."""
    pick = next_untried(song, part)
    if pick is None:
        rounds = len(song.alternatives.get(part, [])) // len(APPROACHES)
        song = with_alternatives(song, part, make(song, part, 3, boldness=min(0.5, 0.1 * (rounds + 1))))
        pick = next_untried(song, part)
    return choose(song, part, pick.label), pick


def bar_ticks(song: SongState) -> int:
    return ticks_per_bar(song.arrangement)
