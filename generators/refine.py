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

from .arrangement import chord_order
from .errors import BadRequestError
from .grid import part_density
from .harmony import in_key, with_beats
from .model import PARTS, EffectSlot, GenreDNA, Key, Part, SongState, Track
from .pipeline import PART_GENERATORS
from .recolor import recolor
from .requests import Change
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
    mix: list[str] = field(default_factory=list)

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
    w.notes.append(f"{c.part}: density {before:.2f} -> {after:.2f}")


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
    w.notes.append(f"key: {old.label()} -> {key.label()}")


def _tempo(w: Work, bpm: float) -> None:
    bpm = round(bpm, 2)
    if not MIN_BPM <= bpm <= MAX_BPM:
        raise BadRequestError(f"tempo {bpm:g} BPM is out of range: give {MIN_BPM:g} to {MAX_BPM:g} BPM")
    intent = w.song.intent
    before = intent.tempo.bpm
    tempo = intent.tempo.model_copy(update={"bpm": float(bpm), "confidence": "explicit"})
    w.replace(intent=intent.model_copy(update={"tempo": tempo}))
    w.dimensions.add("tempo")
    w.notes.append(f"tempo: {before:g} -> {bpm:g} BPM")


def _mute(w: Work, c: Change) -> None:
    track = w.track(c.part)
    on = c.amount > 0
    w.put_track(track.model_copy(update={"muted": on}))
    w.notes.append(f"{c.part}: {'muted' if on else 'back in'}")


def _length(w: Work, c: Change) -> None:
    a = w.song.arrangement
    s = a.sections[c.section]
    bars = max(1, s.bars + int(c.amount))
    if a.total_bars - s.bars + bars > 1024:
        raise BadRequestError("the song would be longer than 1024 bars")
    sections = [x.model_copy(update={"bars": bars}) if i == c.section else x for i, x in enumerate(a.sections)]
    arrangement = a.model_copy(update={"sections": sections})
    duration = w.song.intent.duration.model_copy(update={"total_bars": arrangement.total_bars})
    w.replace(arrangement=arrangement, intent=w.song.intent.model_copy(update={"duration": duration}))
    w.dimensions.add("structure")
    w.notes.append(f"{s.name}: {s.bars} -> {bars} bars")


def _swing(w: Work, c: Change) -> None:
    intent = w.song.intent
    dna = intent.genre.dna_vector
    swing = round(min(max(dna.swing + c.amount, 0.0), 1.0), 3)
    genre = intent.genre.model_copy(update={"dna_vector": dna.model_copy(update={"swing": swing})})
    w.replace(intent=intent.model_copy(update={"genre": genre}))
    w.dimensions.add("feel")
    w.notes.append(f"swing: {dna.swing:.2f} -> {swing:.2f}")


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
    w.replace(arrangement=a.model_copy(update={"sections": sections}))
    w.dimensions.add("energy")
    where = "the whole song" if c.section is None else a.sections[c.section].name
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
    w.mix.append(c.mix)
    w.dimensions.add("mix")
    w.notes.append(tables().refine.mix[c.mix].description)


APPLY = {
    "density": _density,
    "color": _color,
    "key": _key,
    "tempo": lambda w, c: _tempo(w, c.bpm),
    "tempo_rel": lambda w, c: _tempo(w, w.song.bpm * c.amount),
    "mute": _mute,
    "length": _length,
    "swing": _swing,
    "halftime": _halftime,
    "energy": _energy,
    "genre": _genre,
    "mix": _mix,
}
"""Change kind -> what it does to the song (alternative and undo are the session's business)."""


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


def _regenerate(song: SongState, part: Part) -> Track:
    """``part`` generated again from its stored parameters; clips whose notes came out the same are
    kept as they were (same version), so only real changes count as new versions."""
    old = song.track(part)
    fresh = PART_GENERATORS[part](song.intent, song.progression, song.arrangement, seed=song.seed, params=old.params)
    version = max((c.version for c in old.clips), default=0) + 1
    before = {(c.section, c.start_bar, c.bars): c for c in old.clips}
    clips = []
    for c in fresh.clips:
        same = before.get((c.section, c.start_bar, c.bars))
        clips.append(same if same is not None and same.notes == c.notes else c.model_copy(update={"version": version}))
    return old.model_copy(update={"clips": clips})


def _chords_follow(song: SongState) -> SongState:
    """Sections keep pointing at valid chords when the progression's length changed."""
    count = len(song.progression.chords)
    sections = [s if max(s.chord_order) < count else s.model_copy(update={"chord_order": chord_order("main", count)}) for s in song.arrangement.sections]
    return song.model_copy(update={"arrangement": song.arrangement.model_copy(update={"sections": sections})})


def apply(song: SongState, changes: list[Change]) -> Outcome:
    """``song`` with ``changes`` applied in order (for one element, the later change wins).

    Raises:
        BadRequestError: a change that cannot be made (with the reason, one line).
    """
    w = Work(song)
    for c in changes:
        handler = APPLY.get(c.kind)
        if handler is None:
            raise BadRequestError(f"{c.kind!r} is not a change apply() makes")
        handler(w, c)
    w.song = _chords_follow(w.song)
    parts, presets, effects = reached(w.dimensions, w.parts)
    for part in parts:
        w.put_track(_regenerate(w.song, part))
    for part in sorted(w.parts):
        if w.track(part).clips == song.track(part).clips:
            w.notes.append(f"{part}: its style already plays it that way, so no note changed (try \"try something different on the {part}\")")
    tracks = w.song.tracks
    if presets:
        tracks = with_presets(w.song.intent, tracks)
    if effects:
        tracks = [t.model_copy(update={"effects": chain(w.song.intent, t.part, w.song.bpm)}) for t in tracks]
    elif "tempo" in w.dimensions:
        tracks = [t.model_copy(update={"effects": retime(t.effects, w.song.bpm)}) for t in tracks]
    for mix in w.mix:
        tracks = [t.model_copy(update={"effects": nudged(t.effects, mix)}) for t in tracks]
    w.replace(tracks=tracks)
    return Outcome(w.song, tuple(parts), tuple(sorted(w.dimensions)), tuple(w.notes), "structure" in w.dimensions)


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

