"""Turning a model's answers into valid backbeat values: intent hints, a progression, an arrangement,
instruments and effect chains (clips are ``clips``' business).

Every function here takes an answer that already matched its schema (``schemas``) and either
returns a value that passes backbeat's own validation, or raises ``RepairError`` when nothing
musical is left to save; the calling stage then falls back to its algorithm. What can be fixed is
fixed: chord symbols and roman numerals are mapped onto theory.toml's qualities, chords that are no
chord are dropped, a key-breaking progression is snapped back into the scale (within the genre's
colour budget, at least ``harmony.OUT_BUDGET``),
section kinds are mapped onto the arrangement table and fitted to the exact length, catalog names
are checked, and tempo-synced times are recomputed from the tempo, never taken from the model.

Nothing the model invents survives: artists, genres, a tempo, a key, a length or a form the prompt
does not name are dropped (``named_in``: the prompt's words, a misspelling the model corrected
included); effect parameters are kept only where the sound tables know that parameter for that
kind of effect, with its unit and within its unit's range; and the model's prose (a purpose, a
reason) is kept only where it reads as words (``plain``), else the catalog's description stands.
"""

from __future__ import annotations

import logging
import math
import re
from difflib import SequenceMatcher
from functools import cache

from backbeat.engine.time import ms_per_note

from backbeat.generators import sound
from backbeat.generators.arrangement import chord_order, fit, with_pickups
from backbeat.generators.errors import GeneratorError
from backbeat.generators.harmony import OUT_BUDGET, Planned, voice
from backbeat.generators.intent import Guess, Hints, Mention, explicit_key, scan
from backbeat.generators.model import (
    OUTPUTS,
    PARTS,
    Arrangement,
    Chord,
    EffectParam,
    EffectSlot,
    Meter,
    Part,
    PipelineIntent,
    PresetChoice,
    Progression,
    Section,
    Track,
)
from backbeat.generators.tables import SectionSpec, tables
from backbeat.generators.theory import ChordShape, Scale, pitch_class, roman, scale_of, stack, symbol

from .errors import RepairError
from .schemas import Answer, ArrangementAnswer, ChordAnswer, HarmonyAnswer, IntentAnswer

log = logging.getLogger(__name__)

MAX_CHORDS = 16
PART_ALIASES: dict[str, Part] = {"drum": "drums", "beat": "drums", "percussion": "drums", "keys": "chords",
                                 "chord": "chords", "pads": "chords", "harmony": "chords", "melody": "lead",
                                 "lead": "lead", "bassline": "bass", "808": "bass"}
SECTION_ALIASES = {"pre-chorus": "pre", "prechorus": "pre", "pre chorus": "pre", "breakdown": "break",
                   "interlude": "break", "refrain": "chorus", "instrumental": "solo", "coda": "outro",
                   "ending": "outro", "buildup": "build", "build-up": "build", "build up": "build", "riser": "build"}
TRANSITIONS = ("cut", "fade", "build", "breakdown", "drop", "filter_sweep")
HARMONY_SPANS = ("main", "first-half", "second-half", "tonic", "reverse", "bridge")
NOTE_VALUES = ("1/1", "1/2", "1/2 dotted", "1/2 triplet", "1/4", "1/4 dotted", "1/4 triplet", "1/8", "1/8 dotted",
               "1/8 triplet", "1/16", "1/16 dotted", "1/16 triplet", "1/32", "1/64", "1/128")
"""Note values a time in ms without one is snapped to."""
TIME_PARAMS = re.compile(r"\b(time|delay|pre-?delay)\b", re.I)
"""Parameter names that are times following the tempo (a reverb's Time in s is not: its unit says)."""


def part_named(name: str) -> Part | None:
    key = name.strip().lower()
    return key if key in PARTS else PART_ALIASES.get(key)  # type: ignore[return-value]


# --- stage 1: intent ------------------------------------------------------------------------------------


_WORD = re.compile(r"[^\w#]+")
NAMED_RATIO = 0.8
"""How close (difflib ratio) a stretch of the prompt must be to a name for the prompt to name it."""


def named_in(prompt: str, name: str) -> bool:
    """Whether ``prompt`` names ``name``: its words appear, or a stretch of as many words that
    differs by a misspelling ("Frank Ocaen" names Frank Ocean)."""
    words, wanted = _WORD.sub(" ", prompt.lower()).split(), _WORD.sub(" ", name.lower()).split()
    if not wanted:
        return False
    n = len(wanted)
    target = " ".join(wanted)
    windows = (" ".join(words[i : i + n]) for i in range(max(1, len(words) - n + 1)))
    return any(w == target or SequenceMatcher(None, w, target).ratio() >= NAMED_RATIO for w in windows)


def _stated(value: float | None, prompt: str) -> bool:
    """Whether the number ``value`` is written in ``prompt``."""
    return value is not None and re.search(rf"(?<![\d.]){round(value)}(?![\d])", prompt) is not None


def intent_hints(answer: IntentAnswer, prompt: str) -> Hints:
    """The model's reading of ``prompt`` checked against the prompt and the tables, ready for
    ``intent.decompose``.

    Artists and genres count only where the prompt names them (``named_in``); known ones are
    looked up (a misspelling the model corrected counts); an artist the table lacks is placed
    through the genre the model named, if the genre table knows it; a tempo, length, key, form or
    half-time feel counts only where the prompt states it; numbers out of range and modes
    theory.toml lacks are dropped. Order follows the prompt where the prompt names a thing, else the
    model's order after everything the prompt names.
    """
    lowered = prompt.lower()
    late = iter(range(len(prompt) + 1, len(prompt) + 10_000))

    def position(text: str) -> int:
        at = lowered.find(text.strip().lower()) if text.strip() else -1
        return at if at >= 0 else next(late)

    mentions: list[Mention] = []
    guesses: list[Guess] = []
    for artist in answer.artists:
        if not named_in(prompt, artist.name):
            log.info("dropped the artist %r: the prompt does not name it", artist.name)
            continue
        found = [m for m in scan(artist.name) if m.kind in ("artist", "genre")]
        if found:
            mentions.append(Mention(found[0].kind, found[0].key, position(artist.name)))
            continue
        genre = _genre_key(artist.genre or "")
        if genre is not None and artist.name.strip():
            guesses.append(Guess(artist.name.strip(), genre, position(artist.name)))
    for name in answer.genres:
        if named_in(prompt, name) and (genre := _genre_key(name)) is not None:
            mentions.append(Mention("genre", genre, position(name)))
    moods = tables().intent.moods
    for word in answer.moods:
        key = word.strip().lower()
        found = [m.key for m in scan(word) if m.kind == "mood"] or ([key] if key in moods else [])
        mentions += [Mention("mood", k, position(word)) for k in found[:1]]
    kinds = [k for s in answer.sections if named_in(prompt, s) and (k := section_kind(s)) is not None]
    if len(kinds) >= 2:
        mentions += [Mention("section", k, next(late)) for k in kinds]
    mentions += [Mention("word", f"add:{o}", next(late)) for o in answer.outputs if o in OUTPUTS and named_in(prompt, o)]
    root, mode = _key(answer.key) if answer.key and all(named_in(prompt, w) for w in answer.key.split()) else (None, None)
    bpm = answer.tempo_bpm if _stated(answer.tempo_bpm, prompt) and 20 <= answer.tempo_bpm <= 300 else None
    bars = answer.bars if _stated(answer.bars, prompt) and 1 <= answer.bars <= 1024 else None
    half = answer.half_time and "half" in lowered
    return Hints(tuple(mentions), tuple(guesses), bpm, root, mode, bars, half)


def _genre_key(name: str) -> str | None:
    genres = tables().intent.genres
    if name.strip().lower() in genres:
        return name.strip().lower()
    found = [m.key for m in scan(name) if m.kind == "genre"]
    return found[0] if found else None


def _key(text: str | None) -> tuple[str | None, str | None]:
    if not text or not text.strip():
        return None, None
    try:
        return explicit_key(f"in {text.strip()}")
    except GeneratorError:
        return None, None


def section_kind(name: str) -> str | None:
    """A section kind of config/arrangements.toml for what the model called a section, or None."""
    text = re.sub(r"[\s_]*\d+$", "", name.strip().lower())
    if text in tables().arrangement.priority:
        return text
    if text in SECTION_ALIASES:
        return SECTION_ALIASES[text]
    found = [m.key for m in scan(text) if m.kind == "section"]
    return found[0] if found else None


# --- stage 2: harmony ----------------------------------------------------------------------------------

_SYMBOL = re.compile(r"([A-Ga-g])([#b\u266d\u266f]?)([^/]*)(?:/([A-Ga-g][#b\u266d\u266f]?))?")
_ROMAN = re.compile(r"([b#\u266d\u266f]?)(VII|VI|IV|V|III|II|I|vii|vi|iv|v|iii|ii|i|[1-7])(.*)")
_SUFFIX = re.compile(r"(?:maj|min|dim|aug|sus|add|alt|no|omit|[mMΔ°øo+#b0-9()\-,])*")
"""What a chord symbol's suffix is made of; "anana" (of "banana") is not a chord."""
_NUMERALS = ("i", "ii", "iii", "iv", "v", "vi", "vii")
QUALITY_ALIASES = {"maj": "", "M": "", "major": "", "min": "m", "-": "m", "minor": "m", "M7": "maj7", "Δ": "maj7",
                   "Δ7": "maj7", "min7": "m7", "-7": "m7", "ø": "m7b5", "ø7": "m7b5", "°": "dim", "o": "dim",
                   "°7": "dim7", "o7": "dim7", "+": "aug", "sus": "sus4", "dom7": "7", "min9": "m9", "-9": "m9",
                   "M9": "maj9", "min11": "m11", "69": "6", "m69": "m6", "add2": "add9"}
MINOR_NUMERAL = {"": "m", "7": "m7", "9": "m9", "11": "m11", "6": "m6", "maj7": "mmaj7", "maj9": "mmaj9",
                 "add9": "madd9", "7b9": "m7b9"}
"""A lower-case numeral's suffix as a quality key (the inverse of ``theory.roman`` for minor chords)."""
# Stacking order of chord tones by interval: root, third, fifth, seventh, ninth, eleventh.
_STACK_RANK = {0: 0, 3: 1, 4: 1, 2: 4, 5: 5, 6: 2, 7: 2, 8: 2, 9: 3, 10: 3, 11: 3, 1: 4}


def _accidental(text: str) -> str:
    return text.replace("\u266d", "b").replace("\u266f", "#")


def _stacking(intervals: list[int]) -> list[int]:
    """``intervals`` in the order ``theory.stack`` builds them: thirds upward from the root (so the
    #11 of maj9#11 comes last, not as a fifth), anything left over by ``_STACK_RANK``."""
    left = sorted({i % 12 for i in intervals} - {0}, key=lambda i: (_STACK_RANK[i], i))
    order = [0]
    while left:
        nxt = next((i for i in left if (i - order[-1]) % 12 in (3, 4)), None)
        if nxt is None:
            break
        order.append(nxt)
        left.remove(nxt)
    return order + left


def _shape(root: int, quality: str) -> ChordShape | None:
    entry = tables().theory.qualities.get(quality)
    if entry is None:
        return None
    return ChordShape(root, quality, tuple((root + i) % 12 for i in _stacking(entry.intervals)))


def _quality(suffix: str, minor: bool | None) -> str | None:
    """theory.toml's quality key for a chord symbol's suffix (``minor`` None) or a roman numeral's
    (``minor``: the numeral is lower case, so "7" means m7 and "" a minor triad), or None."""
    text = QUALITY_ALIASES.get(suffix.strip(), suffix.strip())
    if minor:
        text = MINOR_NUMERAL.get(text, text)
    return text if text in tables().theory.qualities else None


def _degree(scale: Scale, root: int) -> str:
    """The degree string ("4", "b6", "#4") of ``root`` in ``scale``."""
    for shift, mark in ((0, ""), (1, "b"), (-1, "#")):
        pc = (root + shift) % 12
        if pc in scale.pitch_classes:
            index = next(d for d in range(len(scale.intervals)) if scale.degree_pc(d) == pc)
            return f"{mark}{index + 1}"
    return "1"


def _size(suffix: str, default: int) -> int:
    digits = re.findall(r"\d+", suffix)
    top = max((int(d) for d in digits), default=0)
    return {13: 6, 11: 6, 9: 5, 7: 4, 6: 4}.get(top, default)


def _planned(chord: ChordAnswer, scale: Scale, size: int) -> Planned | None:
    """One answered chord as a chord before voicing, or None when it is no chord."""
    beats = max(1, min(32, round(chord.beats))) if math.isfinite(chord.beats) else 4
    if chord.symbol and (m := _SYMBOL.fullmatch(chord.symbol.strip().replace("6/9", "69"))):
        letter, acc, suffix, slash = m.groups()
        root = pitch_class(letter.upper() + _accidental(acc))
        quality = _quality(suffix, None)
        shape = _shape(root, quality) if quality is not None else None
        if shape is None and _SUFFIX.fullmatch(suffix):  # a chord we lack the quality of ("7#9"): snap it
            shape = _stacked(scale, root, _size(suffix, size))
        if shape is not None:
            bass = pitch_class(_accidental(slash[0].upper() + slash[1:])) if slash else shape.root
            return Planned(_degree(scale, shape.root), shape, beats, bass if bass in shape.tones else shape.root)
    if chord.degree and (m := _ROMAN.fullmatch(chord.degree.strip().split("/")[0])):
        acc, numeral, suffix = m.groups()
        shift = {"": 0, "b": -1, "#": 1}[_accidental(acc)]
        index = int(numeral) - 1 if numeral.isdigit() else _NUMERALS.index(numeral.lower())
        # "VI" is the song scale's sixth; "bVI" is flat against the major scale, as producers write
        # it ("i - bVI - bVII" in minor), so in a minor key bVI and VI name the same chord.
        major = tables().theory.scales["major"].intervals
        root = (scale.degree_pc(index) if not shift else scale.tonic + major[index] + shift) % 12
        quality = None if numeral.isdigit() else _quality(suffix, numeral.islower())
        shape = (_shape(root, quality) if quality is not None else None) or _stacked(scale, root, _size(suffix, size))
        if shape is not None:
            return Planned(_degree(scale, root), shape, beats, shape.root)
    return None


def _stacked(scale: Scale, root: int, size: int) -> ChordShape | None:
    """The chord stacked in the key (or a parallel mode) on ``root``; None if no mode has that root."""
    try:
        return stack(scale, _degree(scale, root), size)
    except GeneratorError:
        return None


def _out_weight(scale: Scale, p: Planned) -> int:
    return sum(t not in scale.pitch_classes for t in p.shape.tones) * p.beats


def in_budget(scale: Scale, chords: list[Planned], budget: float = OUT_BUDGET) -> list[Planned]:
    """``chords`` with the worst offenders replaced by the chord stacked on the nearest scale degree
    below, until at most ``budget`` of the tones (weighted by length) lie outside the scale."""
    chords = list(chords)
    while True:
        total = sum(len(p.shape.tones) * p.beats for p in chords)
        out = sum(_out_weight(scale, p) for p in chords)
        if out <= budget * total:
            return chords
        i = max(range(len(chords)), key=lambda k: _out_weight(scale, chords[k]))
        p = chords[i]
        root = scale.snap(p.shape.root)
        shape = stack(scale, _degree(scale, root % 12), len(p.shape.tones))
        chords[i] = Planned(_degree(scale, shape.root), shape, p.beats, shape.root)


def progression(answer: HarmonyAnswer, intent: PipelineIntent) -> Progression:
    """The answered chord loop in the song's key, voiced and within the out-of-scale budget.

    Raises:
        RepairError: not one answered chord is a chord.
    """
    scale = scale_of(intent.key.root, intent.key.mode)
    c = intent.genre.dna_vector.harmonic_complexity
    size = 3 if c < 0.3 else 4 if c < 0.55 else 5
    planned = [p for chord in answer.chords[:MAX_CHORDS] if (p := _planned(chord, scale, size)) is not None]
    if not planned:
        raise RepairError("no chord in the answer could be read as a chord")
    if len(planned) < len(answer.chords[:MAX_CHORDS]):
        log.info("dropped %d answered chord(s) that are no chord", len(answer.chords[:MAX_CHORDS]) - len(planned))
    planned = in_budget(scale, planned, max(OUT_BUDGET, tables().intent.genres[intent.genre.primary].harmony.budget))
    chords = []
    for p, notes in zip(planned, voice(planned)):
        slash = p.bass if p.bass != p.shape.root else None
        chords.append(Chord(
            symbol=symbol(scale, p.shape, slash), root=scale.name(p.shape.root), quality=p.shape.quality,
            bass=scale.name(slash) if slash is not None else None, degree=roman(p.degree, p.shape),
            beats=p.beats, notes=notes,
        ))
    genre = tables().intent.genres[intent.genre.primary].name
    name = answer.name.strip()[:60] or f"{genre} - from the model"
    bridge = min(max(answer.bridge, 0), len(chords) - 1)
    return Progression(name=name, key=intent.key, chords=chords, style="llm", degrees=[p.degree for p in planned], bridge=bridge)


# --- stage 3: arrangement ------------------------------------------------------------------------------


def _spec(kind: str, s: object) -> SectionSpec:
    tracks = [p for name in getattr(s, "tracks", []) if (p := part_named(name)) is not None]
    energy = getattr(s, "energy", 0.5)
    return SectionSpec(
        kind=kind,
        bars=max(1, min(256, int(getattr(s, "bars", 8)))),
        energy=min(max(energy if math.isfinite(energy) else 0.5, 0.0), 1.0),
        transition=getattr(s, "transition", "cut") if getattr(s, "transition", "cut") in TRANSITIONS else "cut",
        tracks=list(dict.fromkeys(tracks)) or list(PARTS),
        harmony=getattr(s, "harmony", "main") if getattr(s, "harmony", "main") in HARMONY_SPANS else "main",
    )


def arrangement(answer: ArrangementAnswer, intent: PipelineIntent, progression: Progression) -> Arrangement:
    """The answered sections with kinds the tables know, fitted to exactly the requested length.

    A form the prompt asked for (``intent.duration.sections``) is kept whatever the model answered:
    each asked-for section takes the model's attributes for its kind where it gave one.

    Raises:
        RepairError: no answered section has a kind backbeat knows.
    """
    specs = [_spec(kind, s) for s in answer.sections if (kind := section_kind(s.kind)) is not None]
    wanted = list(intent.duration.sections)
    if wanted and [s.kind for s in specs] != wanted:
        by_kind = {s.kind: s for s in reversed(specs)}
        specs = [by_kind.get(k) or _spec(k, object()) for k in wanted]
    if not specs:
        raise RepairError("no answered section has a kind backbeat knows")
    total = intent.duration.total_bars
    fitted = [(s, s.bars) for s in specs] if sum(s.bars for s in specs) == total else fit(specs, total)
    counts = {k: [s.kind for s, _ in fitted].count(k) for k in {s.kind for s, _ in fitted}}
    seen: dict[str, int] = {}
    sections = []
    for spec, bars in fitted:
        seen[spec.kind] = seen.get(spec.kind, 0) + 1
        name = f"{spec.kind} {seen[spec.kind]}" if counts[spec.kind] > 1 else spec.kind
        sections.append(Section(
            name=name, kind=spec.kind, bars=bars, energy=round(spec.energy, 3), transition=spec.transition,
            active_tracks=list(spec.tracks), chord_order=chord_order(spec.harmony, len(progression.chords), progression.bridge),
        ))
    return Arrangement(meter=Meter(), sections=with_pickups(sections), template=_template(intent, [s.kind for s in sections]))


def _template(intent: PipelineIntent, kinds: list[str]) -> str:
    """The first of the genre's arrangement templates that introduces the answered section kinds in
    the answer's order (the template's name labels the arrangement; the model does not give it)."""
    genre = tables().intent.genres[intent.genre.primary]
    wanted = list(dict.fromkeys(kinds))
    for key in (genre.arrangement, *genre.arrangements):
        form = [k for k in dict.fromkeys(s.kind for s in tables().arrangement.templates[key].sections) if k in wanted]
        if form == wanted:
            return key
    return genre.arrangement


# --- stages 5 and 6: sound -----------------------------------------------------------------------------


_CAPS = re.compile(r"\b[A-Z]{5,}\b")


def plain(text: str, limit: int = 200) -> str | None:
    """``text`` if it reads as a sentence of words (what a producer may be shown), else None: no
    code-like tokens (underscores, long runs of capitals), mostly letters, at most ``limit`` long."""
    text = " ".join(text.split())
    if not text or len(text) > limit or "_" in text or _CAPS.search(text):
        return None
    letters = sum(c.isalpha() or c.isspace() for c in text)
    return text if letters >= 0.8 * len(text) else None


def presets(answer: Answer, intent: PipelineIntent, tracks: list[Track]) -> tuple[list[Track], list[Part]]:
    """Every track with the model's instrument where the catalog has it and it suits the part; the
    parts that kept the algorithmic choice instead (missing, or e.g. a drum kit on the bass)."""
    catalog = {i.name: i for i in tables().catalog.instruments}
    picks = {p: pick for pick in getattr(answer, "tracks", []) if (p := part_named(pick.part)) is not None}
    result, fallback = [], []
    for track in tracks:
        pick = picks.get(track.part)
        instrument = catalog.get(pick.instrument) if pick is not None else None
        wanted = sound.rule_for(intent, track.part).categories
        fitting = [c for c in wanted if instrument is not None and c in instrument.categories]
        if not fitting:
            fallback.append(track.part)
            result.append(track.model_copy(update={"preset": sound.preset(intent, track.part)}))
            continue
        named = next((p for p in instrument.presets if p.name == getattr(pick, "preset", None)), None)
        choice = PresetChoice(
            instrument=instrument.name, preset=named.name if named else None, category=fitting[0],
            reason=plain(pick.reason, 300) or f"{fitting[0]} sound for the {track.part}",
            source=named.source if named else instrument.source,
        )
        result.append(track.model_copy(update={"preset": choice}))
    return result, fallback


UNIT_RANGES = {"ms": (0.0, 10_000.0), "s": (0.0, 60.0), "%": (0.0, 100.0), "dB": (-80.0, 24.0),
               "Hz": (10.0, 22_000.0), "ratio": (1.0, 30.0), "": (0.0, 1.0)}
"""Values an effect parameter can take, by unit; a model's value outside is clamped to the range."""


@cache
def known_params() -> dict[str, dict[str, tuple[str, str]]]:
    """Effect category -> parameter name (lower case) -> (its name, its unit), as the sound tables
    (config/sound.toml chains, config/refine.toml mix nudges) use them."""
    known: dict[str, dict[str, tuple[str, str]]] = {}
    for rule in tables().sound.rules:
        for slot in rule.chain:
            for p in slot.params:
                known.setdefault(slot.effect, {})[_param_key(p.name)] = (p.name, "ms" if p.sync else p.unit)
    for change in tables().refine.mix.values():
        for nudge in change.nudges:
            known.setdefault(nudge.category, {}).setdefault(_param_key(nudge.param), (nudge.param, ""))
    return known


def _param_key(name: str, category: str = "") -> str:
    """A parameter name compared loosely: case, hyphens and the effect's own kind ("Delay Time" of
    a delay is its Time) do not matter."""
    words = re.sub(r"[\s_\-]+", " ", name.strip().lower()).split()
    if len(words) > 1 and words[0] == category:
        words = words[1:]
    return " ".join(words)


def checked_param(category: str, name: str, value: float, unit: str) -> tuple[str, float, str] | None:
    """A model's parameter as the tables know it for ``category``: (name, value in range, unit), or
    None when that kind of effect has no such parameter."""
    spec = known_params().get(category, {}).get(_param_key(name, category))
    if spec is None or not math.isfinite(value):
        return None
    known_name, known_unit = spec
    unit = known_unit or unit.strip()
    low, high = UNIT_RANGES.get(unit, (-1e6, 1e6))
    return known_name, min(max(value, low), high), unit


def synced(bpm: float, name: str, value: float, unit: str, sync: str | None) -> EffectParam:
    """One parameter; a time that follows the tempo is recomputed at ``bpm`` (never the model's ms)."""
    if sync:
        try:
            return EffectParam(name=name, value=round(ms_per_note(bpm, sound.note_fraction(sync)), 1), unit="ms", synced_to=sync)
        except GeneratorError:
            pass
    if unit.strip().lower() == "ms" and TIME_PARAMS.search(name) and value > 0:
        nearest = min(NOTE_VALUES, key=lambda v: abs(math.log(ms_per_note(bpm, sound.note_fraction(v)) / value)))
        return synced(bpm, name, value, unit, nearest)
    return EffectParam(name=name, value=round(value, 3), unit=unit.strip()[:8])


def effects(answer: Answer, intent: PipelineIntent, tracks: list[Track]) -> tuple[list[Track], list[Part]]:
    """Every track with the model's chain (catalog effects only, times at the song's tempo); the
    parts that kept the algorithmic chain because the model gave none for them."""
    catalog = {e.name: e for e in tables().catalog.effects}
    chains = {p: c for c in getattr(answer, "chains", []) if (p := part_named(c.part)) is not None}
    bpm = intent.tempo.bpm
    result, fallback = [], []
    for track in tracks:
        chain = chains.get(track.part)
        if chain is None:
            fallback.append(track.part)
            result.append(track.model_copy(update={"effects": sound.chain(intent, track.part, bpm)}))
            continue
        slots = []
        for pick in chain.effects:
            effect = catalog[pick.effect]
            params = []
            for p in pick.params:
                if (known := checked_param(effect.category, p.name, p.value, p.unit)) is not None:
                    params.append(synced(bpm, known[0], known[1], known[2], p.synced_to))
            slots.append(EffectSlot(effect=effect.name, purpose=plain(pick.purpose) or effect.description,
                                    params=params, source=effect.source))
        result.append(track.model_copy(update={"effects": slots}))
    return result, fallback

