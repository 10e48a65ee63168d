"""Stage 6.6: apply a producer's changes to a song, regenerating only what they reach.

Each change edits the song's plan (intent, progression, arrangement) or one part's parameters and
names the dimensions it touched; the sensitivity table of config/refine.toml turns dimensions into
the parts to regenerate. Regeneration reuses each part's stored parameters and the song's seed, so
a part the change does not reach is not touched at all, and one it reaches changes only as the
change implies. Effects follow: a genre change rebuilds them, a tempo change recomputes their
time-based values, a mix change nudges them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import structure
from .arrangement import chord_order
from .errors import BadRequestError
from .alternatives import styles
from .grid import STYLE_FIELDS, part_density, style_key
from .harmony import in_key, with_beats
from .model import PARTS, Arrangement, EffectSlot, GenreDNA, Key, Part, SongState, Track
from .parts import regenerate, silenced_track
from .reading import Change
from .recolor import recolor
from .sound import chain, retime, with_presets
from .tables import tables
from .theory import pitch_class, spell_root

MIN_BPM, MAX_BPM = 20.0, 300.0


@dataclass
class Work:
    """The song being changed, and what the changes reached so far."""

    song: SongState
    dimensions: set[str] = field(default_factory=set)
    parts: set[Part] = field(default_factory=set)
    """Parts a change aimed at directly (their parameters changed)."""
    notes: list[str] = field(default_factory=list)
    """What each change did, one line each."""
    mix: list[tuple[str, Part | None]] = field(default_factory=list)
    """Mix changes in order: (a key of [mix], the part it is for or None for every part)."""
    density: dict[Part, float] = field(default_factory=dict)
    """Parts whose density a change moved, and which way (negative: sparser)."""
    kept: set[Part] = field(default_factory=set)
    """Parts the request said to leave as they are."""
    form: bool = False
    """Which parts play in a section changed (a live song is replaced at a section boundary)."""
    changes: tuple[Change, ...] = ()

    def track(self, part: str) -> Track:
        return self.song.track(part)  # type: ignore[arg-type]

    def replace(self, **update: object) -> None:
        self.song = self.song.model_copy(update=update)

    def put_track(self, track: Track) -> None:
        self.replace(tracks=[track if t.part == track.part else t for t in self.song.tracks])


@dataclass(frozen=True, slots=True)
class Outcome:
    song: SongState
    regenerated: tuple[Part, ...]
    dimensions: tuple[str, ...]
    notes: tuple[str, ...]
    structure: bool
    """The arrangement changed (a live song must be replaced whole, at a section boundary)."""


# --- one function per kind of change ---------------------------------------------------------------


def _density(w: Work, c: Change) -> None:
    track = w.track(c.part)
    before = part_density(w.song.intent, c.part, track.params)
    after = round(min(max(before + c.amount, 0.05), 1.0), 3)
    w.put_track(track.model_copy(update={"params": track.params.model_copy(update={"density": after})}))
    w.parts.add(c.part)
    w.density[c.part] = c.amount
    if after != before:
        w.notes.append(f"{c.part}: density {before:.2f} → {after:.2f}")


def _color(w: Work, c: Change) -> None:
    if c.target == "key":
        order = tables().refine.modes_by_brightness
        mode = w.song.progression.key.mode
        i = order.index(mode) if mode in order else order.index("minor")
        j = min(max(i + (1 if c.amount < 0 else -1), 0), len(order) - 1)
        if j == i:
            raise BadRequestError(f"{w.song.progression.key.label()} is already as {'dark' if c.amount < 0 else 'bright'} as a key gets")
        _key(w, Change("key", key=(w.song.progression.key.root, order[j])))
        return
    if c.chord is not None and c.chord != -1 and not 1 <= c.chord <= len(w.song.progression.chords):
        raise BadRequestError(f"the progression has {len(w.song.progression.chords)} chords; there is no chord {c.chord}")
    progression, note = recolor(w.song.progression, c.chord or 1, c.amount)
    w.replace(progression=progression)
    w.dimensions.add("progression")
    w.notes.append(note)


def _key(w: Work, c: Change) -> None:
    old = w.song.progression.key
    root, mode = c.key or (None, None)
    mode = mode or old.mode
    root = root or old.root
    root = spell_root(pitch_class(root), mode, prefer=root if c.key and c.key[0] else None)
    key = Key(root=root, mode=mode, confidence="explicit")
    if key.root == old.root and key.mode == old.mode:
        raise BadRequestError(f"the song is already in {old.label()}")
    w.replace(intent=w.song.intent.model_copy(update={"key": key}), progression=in_key(w.song.progression, key))
    w.dimensions |= {"key", "scale"}
    w.notes.append(f"key {old.label()} → {key.label()}")


def _transpose(w: Work, c: Change) -> None:
    old = w.song.progression.key
    root = spell_root((pitch_class(old.root) + int(c.amount)) % 12, old.mode)
    _key(w, Change("key", key=(root, old.mode)))


def _tempo(w: Work, bpm: float) -> None:
    bpm = round(bpm, 2)
    if not MIN_BPM <= bpm <= MAX_BPM:
        raise BadRequestError(f"tempo {bpm:g} BPM is out of range: give {MIN_BPM:g} to {MAX_BPM:g} BPM")
    intent = w.song.intent
    before = intent.tempo.bpm
    if bpm == before:
        raise BadRequestError(f"the song is already at {bpm:g} BPM")
    tempo = intent.tempo.model_copy(update={"bpm": float(bpm), "confidence": "explicit"})
    w.replace(intent=intent.model_copy(update={"tempo": tempo}))
    w.dimensions.add("tempo")
    w.notes.append(f"tempo {before:g} → {bpm:g}")


def _mute(w: Work, c: Change) -> None:
    if c.section is not None:
        arrangement, note = structure.with_part(w.song.arrangement, c.section, c.part, c.amount <= 0)
        w.replace(arrangement=arrangement)
        w.parts.add(c.part)
        w.form = True
        w.notes.append(note)
        return
    track = w.track(c.part)
    if c.lane is not None:
        _lane(w, c, track)
        return
    on = c.amount > 0
    if track.muted == on:
        if len(w.changes) > 1:  # "unmute everything": the parts already playing are no change
            return
        raise BadRequestError(f"the {c.part} {_is(c.part)} {'already muted' if on else 'not muted'}")
    w.put_track(track.model_copy(update={"muted": on}))
    w.notes.append(f"{c.part}: {'muted' if on else 'unmuted'}")


def _lane(w: Work, c: Change, track: Track) -> None:
    """Drums of one lane group ("hats") taken out, or let back in at the next regeneration."""
    lanes = set(tables().refine.lanes[c.lane].lanes)
    silenced = set(track.silenced)
    if c.amount > 0:
        if lanes <= silenced:
            raise BadRequestError(f"the {c.lane} are already out")
        w.put_track(silenced_track(track.model_copy(update={"silenced": sorted(silenced | lanes)})))
        w.notes.append(f"drums: {c.lane} out")
    else:
        if not lanes & silenced:
            raise BadRequestError(f"the {c.lane} are already in")
        w.put_track(track.model_copy(update={"silenced": sorted(silenced - lanes)}))
        w.parts.add("drums")
        w.notes.append(f"drums: {c.lane} back in")


def _is(part: str) -> str:
    return "are" if part in ("drums", "chords") else "is"


def _form(w: Work, arrangement: Arrangement, note: str) -> None:
    duration = w.song.intent.duration.model_copy(update={"total_bars": arrangement.total_bars, "sections": []})
    w.replace(arrangement=arrangement, intent=w.song.intent.model_copy(update={"duration": duration}))
    w.dimensions.add("structure")
    w.notes.append(note)


def _length(w: Work, c: Change) -> None:
    s = w.song.arrangement.sections[c.section]
    _form(w, *structure.resized(w.song.arrangement, c.section, structure.step(s.bars, c.amount > 0, c.bars)))


APPLY = {
    "density": _density,
    "color": _color,
    "key": _key,
    "transpose": _transpose,
    "tempo": lambda w, c: _tempo(w, c.bpm),
    "tempo_rel": lambda w, c: _tempo(w, round(w.song.bpm * c.amount)),  # a producer's tempo is a whole BPM
    "tempo_step": lambda w, c: _tempo(w, w.song.bpm + c.amount),
    "mute": _mute,
    "length": _length,
    "length_set": lambda w, c: _form(w, *structure.resized(w.song.arrangement, c.section, c.bars)),
    "double": lambda w, c: _form(w, *structure.resized(w.song.arrangement, c.section, 2 * w.song.arrangement.sections[c.section].bars)),
    "add_section": lambda w, c: _form(w, *structure.added(w.song.arrangement, c.target, w.song.progression)),
    "remove_section": lambda w, c: _form(w, *structure.removed(w.song.arrangement, c.section)),
    "swing": lambda w, c: _swing(w, w.song.intent.genre.dna_vector.swing + c.amount),
    "swing_set": lambda w, c: _swing(w, c.amount),
    "halftime": lambda w, c: _halftime(w, c),
    "energy": lambda w, c: _energy(w, c),
    "genre": lambda w, c: _genre(w, c),
    "mix": lambda w, c: _mix(w, c),
    "keep": lambda w, c: w.kept.add(c.part),
}
"""Change kind -> what it does to the song (alternatives, choices and the history are the session's business)."""


def _swing(w: Work, value: float) -> None:
    intent = w.song.intent
    dna = intent.genre.dna_vector
    swing = round(min(max(value, 0.0), 1.0), 3)
    if swing == dna.swing:
        raise BadRequestError(f"the swing is already {'as ' + ('straight' if swing == 0 else 'swung') + ' as it goes' if swing in (0.0, 1.0) else f'{swing:.2f}'}")
    genre = intent.genre.model_copy(update={"dna_vector": dna.model_copy(update={"swing": swing})})
    w.replace(intent=intent.model_copy(update={"genre": genre}))
    w.dimensions.add("feel")
    w.notes.append(f"swing {dna.swing:.2f} → {swing:.2f}")


def _halftime(w: Work, c: Change) -> None:
    intent = w.song.intent
    on = c.amount > 0
    if intent.tempo.half_time == on:
        raise BadRequestError(f"the song is already in {'half' if on else 'full'} time")
    tempo = intent.tempo.model_copy(update={"half_time": on})
    w.replace(intent=intent.model_copy(update={"tempo": tempo}), progression=with_beats(w.song.progression, 2 if on else 0.5))
    w.dimensions |= {"feel", "progression"}
    w.notes.append(f"feel: {'half' if on else 'full'} time")


def _energy(w: Work, c: Change) -> None:
    a = w.song.arrangement
    chosen = range(len(a.sections)) if c.section is None else [c.section]
    sections = [
        s.model_copy(update={"energy": round(min(max(s.energy + c.amount, 0.05), 1.0), 3)}) if i in chosen else s
        for i, s in enumerate(a.sections)
    ]
    where = "the whole song" if c.section is None else a.sections[c.section].name
    if sections == a.sections:
        instead = '"busier drums", "more swing" or a longer build before it' if c.amount > 0 else '"sparser drums" or "mute the lead"'
        raise BadRequestError(f"the energy of {where} is already as {'high' if c.amount > 0 else 'low'} as it goes; nothing changed. "
                              f"What would change it: {instead}")
    w.replace(arrangement=a.model_copy(update={"sections": sections}))
    w.dimensions.add("energy")
    w.notes.append(f"energy {'up' if c.amount > 0 else 'down'} in {where}")


def _genre(w: Work, c: Change) -> None:
    intent = w.song.intent
    if c.genre == intent.genre.primary:
        raise BadRequestError(f"the song is already {tables().intent.genres[c.genre].name}")
    dna = GenreDNA.blend([intent.genre.dna_vector, tables().intent.genres[c.genre].dna], [0.5, 0.5])
    genre = intent.genre.model_copy(update={"primary": c.genre, "secondary": intent.genre.primary, "blend_weights": (0.5, 0.5), "dna_vector": dna})
    w.replace(intent=intent.model_copy(update={"genre": genre}))
    w.dimensions.add("genre")
    w.notes.append(f"genre: now {tables().intent.genres[c.genre].name}, blended with {intent.genre.primary}")


def _mix(w: Work, c: Change) -> None:
    w.mix.append((c.mix, c.part))
    w.dimensions.add("mix")
    w.notes.append(f"{c.part + ' ' if c.part else ''}{tables().refine.mix[c.mix].description}")


# --- blast radius and regeneration ----------------------------------------------------------------


def reached(dimensions: set[str], direct: set[Part]) -> tuple[list[Part], bool, bool]:
    """(parts to regenerate, presets chosen again?, effect chains rebuilt?) for the dimensions a
    change touched. A new preset reaches the effects too (effects are sensitive to the preset);
    tempo and mix changes adjust the chains in place instead of rebuilding them."""
    sensitivity = tables().refine.sensitivity
    parts = [p for p in PARTS if p in direct or dimensions & set(sensitivity.get(p, ()))]
    presets = bool(dimensions & set(sensitivity["presets"]))
    rebuilt = presets or bool(dimensions & (set(sensitivity["effects"]) - {"mix", "tempo"}))
    return parts, presets, rebuilt


def note_count(track: Track) -> int:
    return sum(len(c.notes) for c in track.clips)


def _further(song: SongState, part: Part, sparser: bool, count: int) -> tuple[Track, str]:
    """The part one step further than its density goes: the nearest style of the part that plays
    fewer notes (or more), at the density asked for.

    Raises:
        BadRequestError: no style goes further; the answer says what would change instead.
    """
    track = song.track(part)
    current = style_key(song.intent, part, track.params)
    genres = tables().intent.genres
    family = genres[song.intent.genre.primary].family
    kin = {getattr(g, STYLE_FIELDS[part]) for g in genres.values() if g.family == family}
    options = []
    for style in styles(part):
        if style == current:
            continue
        candidate = regenerate(song, part, track.params.model_copy(update={"style": style}))
        n = note_count(candidate)
        if (n < count) if sparser else (n > count):
            options.append((style not in kin, abs(n - count), style, candidate, n))  # the genre family's own styles first
    if not options:
        word = "sparse" if sparser else "busy"
        instead = f'"mute the {part}", "a shorter verse"' if sparser else f'"more energy", "try something different on the {part}"'
        raise BadRequestError(f"the {part} {_is(part)} already as {word} as backbeat plays it ({count} notes); nothing changed. "
                              f"What would change it: {instead}")
    _, _, style, candidate, n = min(options, key=lambda o: o[:2])
    return candidate, f"{part}: at its {'sparsest' if sparser else 'busiest'} in the {current} style, so the {style} style instead ({count} → {n} notes)"


def _chords_follow(song: SongState) -> SongState:
    """Sections keep pointing at valid chords when the progression's length changed."""
    count = len(song.progression.chords)
    sections = [s if max(s.chord_order) < count else s.model_copy(update={"chord_order": chord_order("main", count)}) for s in song.arrangement.sections]
    return song.model_copy(update={"arrangement": song.arrangement.model_copy(update={"sections": sections})})


def _keep(w: Work, parts: list[Part]) -> list[Part]:
    """The parts to regenerate less those a request said to keep; a change that cannot leave a
    kept part as it is (a new key under the chords) is refused."""
    harmonic = w.dimensions & {"key", "progression", "scale", "structure"}
    for part in sorted(w.kept):
        if part in w.parts or (harmonic and part in parts and part != "drums") or (part in parts and "structure" in harmonic):
            raise BadRequestError(f"that change reaches the {part} too, so it cannot stay as it is; ask without \"keep the {part}\"")
    return [p for p in parts if p not in w.kept]


def apply(song: SongState, changes: list[Change]) -> Outcome:
    """``song`` with ``changes`` applied in order (for one element, the later change wins).
    Every change changes something: a density already at its limit goes on to a sparser (or
    busier) style of the part, and a change that would change nothing is refused.

    Raises:
        BadRequestError: a change that cannot be made, or would change nothing (one line, why).
    """
    w = Work(song, changes=tuple(changes))
    for c in changes:
        handler = APPLY.get(c.kind)
        if handler is None:
            raise BadRequestError(f"{c.kind!r} is not a change apply() makes")
        handler(w, c)
    w.song = _chords_follow(w.song)
    parts, presets, effects = reached(w.dimensions, w.parts)
    parts = _keep(w, parts)
    for part in parts:
        w.put_track(regenerate(w.song, part, w.track(part).params))
    for part, amount in w.density.items():
        before, after = note_count(song.track(part)), note_count(w.track(part))
        if (after < before) if amount < 0 else (after > before):
            continue
        track, note = _further(w.song, part, amount < 0, before)
        w.put_track(track)
        w.notes.append(note)
    tracks = w.song.tracks
    if presets:
        tracks = with_presets(w.song.intent, tracks)
    if effects:
        tracks = [t.model_copy(update={"effects": chain(w.song.intent, t.part, w.song.bpm)}) for t in tracks]
    elif "tempo" in w.dimensions:
        tracks = [t.model_copy(update={"effects": retime(t.effects, w.song.bpm)}) for t in tracks]
    for mix, only in w.mix:
        tracks = [t.model_copy(update={"effects": nudged(t.effects, mix)}) if only in (None, t.part) else t for t in tracks]
    w.replace(tracks=tracks)
    if w.song == song:
        raise BadRequestError("that would change nothing in this song; nothing changed")
    return Outcome(w.song, tuple(parts), tuple(sorted(w.dimensions)), tuple(w.notes), "structure" in w.dimensions or w.form)


def nudged(effects: list[EffectSlot], mix: str) -> list[EffectSlot]:
    """``effects`` with the nudges of mix change ``mix`` applied."""
    categories = {e.name: e.category for e in tables().catalog.effects}
    out = []
    for slot in effects:
        params = list(slot.params)
        for n in tables().refine.mix[mix].nudges:
            if categories.get(slot.effect) != n.category:
                continue
            params = [
                p.model_copy(update={"value": round(min(max(p.value * n.scale if n.scale is not None else p.value + n.add, 0.0), n.max), 2)})
                if p.name == n.param and p.synced_to is None else p
                for p in params
            ]
        out.append(slot.model_copy(update={"params": params}))
    return out

