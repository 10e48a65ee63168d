"""Stage 1: a prompt becomes a ``PipelineIntent`` (seed task 6.1), by rules and table look-ups.

The prompt is scanned once for every phrase the tables know (artists, genres, moods, section kinds,
lexicon words); influences are weighted by the order they are named; the genre DNA is their blend,
nudged by moods. Tempo, key and length are taken from the prompt when stated and otherwise inferred
from the blend (two influences whose tempo ranges only meet at double speed give a half-time feel).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from .errors import BadRequestError
from .model import (
    OUTPUTS,
    ArtistInfluence,
    CreativityDials,
    Duration,
    Energy,
    GenreBlend,
    GenreDNA,
    Key,
    Output,
    PipelineIntent,
    Tempo,
)
from .rng import stream
from .tables import GenreEntry, tables
from .targets import spelled_accidentals
from .theory import canonical_mode, pitch_class, spell_root
from .words import normal, with_digits

MAX_PROMPT = 2000
MAX_BARS = 1024
DEFAULT_GENRE = "pop"
DEFAULT_OUTPUTS: tuple[Output, ...] = ("progression", "midi", "presets", "effects", "arrangement")


@dataclass(frozen=True, slots=True)
class Mention:
    """One phrase of the prompt that a table knows: ``kind`` is artist/genre/subgenre/mood/section/word."""

    kind: str
    key: str
    start: int
    phrase: str = ""
    """The words of the prompt it was read from (as normalised)."""


def _normal(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("\u2013", "-").replace("\u2014", "-")
    return re.sub(r"[\s_\-]+", " ", text)


@cache
def _phrasebook() -> tuple[re.Pattern[str], dict[str, tuple[str, str]]]:
    """One alternation of every known phrase, longest first, and what each phrase means."""
    t = tables().intent
    meaning: dict[str, tuple[str, str]] = {}

    def add(phrase: str, kind: str, key: str) -> None:
        meaning.setdefault(_normal(phrase), (kind, key))

    for artist in t.artists:
        for phrase in (artist.name, *artist.aliases):
            add(phrase, "artist", artist.name)
    for key, genre in t.genres.items():
        for phrase in (key, genre.name, *genre.aliases):
            add(phrase, "genre", key)
    for key, sub in t.subgenres.items():
        for phrase in (key, sub.name, *sub.aliases):
            add(phrase, "subgenre", key)
    for key, mood in t.moods.items():
        for phrase in mood.words:
            add(phrase, "mood", key)
    for kind in tables().arrangement.priority:
        add(kind, "section", kind)
    lex = t.lexicon
    for phrase in lex.half_time:
        add(phrase, "word", "half-time")
    for arc, phrases in lex.arcs.items():
        for phrase in phrases:
            add(phrase, "word", f"arc:{arc}")
    for dial, phrases in lex.creativity.model_dump(by_alias=False).items():
        for phrase in phrases:
            add(phrase, "word", f"dial:{dial}")
    for group, table in (("only", lex.outputs.only), ("add", lex.outputs.add)):
        for output, phrases in table.items():
            for phrase in phrases:
                add(phrase, "word", f"{group}:{output}")
    alternation = "|".join(re.escape(p) for p in sorted(meaning, key=len, reverse=True))
    return re.compile(rf"(?<![a-z0-9&])(?:{alternation})(?![a-z0-9&])"), meaning


@dataclass(frozen=True, slots=True)
class Guess:
    """An artist the tables do not know, placed through the genre a language model named for it."""

    name: str
    genre: str
    """Key of genres.toml."""
    start: int
    """Where the prompt names the artist (decides its weight among the influences)."""


@dataclass(frozen=True, slots=True)
class Hints:
    """What a language model read in a prompt, already checked against the tables (built by
    ``generators.llm.repair``). The prompt's own words win wherever both speak; the rules here
    still infer everything neither states."""

    mentions: tuple[Mention, ...] = ()
    """Table phrases the model found (a misspelt artist, a mood in other words), as ``scan`` gives them."""
    guesses: tuple[Guess, ...] = ()
    bpm: float | None = None
    root: str | None = None
    mode: str | None = None
    """A scales.toml key."""
    bars: int | None = None
    half_time: bool = False


def _merged(found: list[Mention], hints: Hints) -> list[Mention]:
    """The prompt's mentions plus the hints' new ones, in prompt order. Sections the model listed
    replace the prompt's only when the prompt itself names fewer than two (a form is all or nothing)."""
    own_form = sum(m.kind == "section" for m in found) >= 2
    have = {(m.kind, m.key) for m in found if m.kind != "section"}
    extra = [
        m for m in hints.mentions
        if (m.kind == "section" and not own_form) or (m.kind != "section" and (m.kind, m.key) not in have)
    ]
    if any(m.kind == "section" for m in extra):
        found = [m for m in found if m.kind != "section"]
    return sorted([*found, *extra], key=lambda m: m.start)


def scan(prompt: str) -> list[Mention]:
    """Every known phrase in ``prompt``, in order, longest match first where two overlap."""
    pattern, meaning = _phrasebook()
    text = _normal(prompt)
    return [Mention(*meaning[m.group(0)], m.start(), m.group(0)) for m in pattern.finditer(text)]


@cache
def _tiers() -> tuple[frozenset[str], ...]:
    """The words the tables know, for spelling: genre names first, then moods and the lexicon."""
    t = tables().intent
    words = lambda phrases: frozenset(w for p in phrases for w in re.findall(r"[a-z]+", _normal(p)))  # noqa: E731
    genres = words([n for k, g in t.genres.items() for n in (k, g.name, *g.aliases)] + [n for k, g in t.subgenres.items() for n in (k, g.name, *g.aliases)])
    _, meaning = _phrasebook()
    rest = words(p for p, (kind, _) in meaning.items() if kind != "artist") - genres
    return genres, rest


def spelled(prompt: str) -> tuple[str, list[str]]:
    """``prompt`` with misspelt table words corrected ("deep hosue" -> "deep house"), and one line
    per correction ("reading 'hosue' as 'house'")."""
    from .spelling import correct

    fixes: list[str] = []
    _, meaning = _phrasebook()
    names = frozenset(w for p, (kind, _) in meaning.items() if kind == "artist" for w in p.split())
    vocabulary = frozenset().union(*_tiers()) | names

    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        # Artists' names and capitalised words past the first (names backbeat may not know) are
        # never corrected: an unknown name is not a misspelt genre.
        if word.lower() in vocabulary or (word[0].isupper() and m.start() > 0):
            return word
        (out,), found = correct([word.lower()], _tiers(), tables().refine.spellings)
        if not found:
            return word
        fixes.append(f"reading '{word}' as '{out}'")
        return out
    return re.sub(r"[^\W\d_]+", fix, prompt), fixes


# --- explicit values -----------------------------------------------------------------------------

# A number is read whole (never its last digits), so "1000 BPM" is refused as 1000, not read as "000 BPM".
_TEMPO = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:bpm|beats per minute)\b|\btempo\s*(?:of\s*|at\s*|:\s*)?(\d+(?:\.\d+)?)", re.I)
# A bare number is the tempo when nothing else claims it: not bars, minutes or seconds, not a
# decade ("90s"), not part of a name ("2 step"), and within what a song's tempo can be.
_BARE = re.compile(r"(?<![\w.#'])(\d+(?:\.\d+)?)(?:ish)?(?![\w.%'])(?!\s*(?:bars?|minutes?|mins?|seconds?|secs?|tracks?|parts?|steps?|x\b|%|percent|/))")
BARE_TEMPO = (40, 250)
_BARS = re.compile(r"\b(\d{1,5})\s*-?\s*bars?\b", re.I)
_LENGTH = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*-?\s*(minutes?|mins?|seconds?|secs?)\b", re.I)
_MODE_WORDS = r"harmonic minor|major|minor|maj|min|dorian|phrygian|lydian|mixolydian|locrian|aeolian|ionian"
# A key needs an upper-case letter ("A minor"), or "in"/"key of" before it, so "a minor change" is no key.
# After "in" a lower-case letter needs an accidental or a mode ("in eb", "in a minor"), and the letter
# must end the word, so "in a dark room", "in bed" and "in demand" name no key. Mode words are matched
# in any case ("C Major").
_ACC = "#b\u266d\u266f"
_KEY = re.compile(
    rf"(?:\b(?i:in|key of)\s+([A-G]|[a-g](?=[{_ACC}]|\s*(?i:{_MODE_WORDS})\b|m\b))([{_ACC}]?)"
    rf"(?:\s*((?i:{_MODE_WORDS}))\b|m\b)?(?![\w{_ACC}]))"
    rf"|(?:\b([A-G])([{_ACC}]?)\s*((?i:{_MODE_WORDS}))\b)"
)
_MODE_ONLY = re.compile(rf"\b({_MODE_WORDS})\s+key\b|\bin\s+({_MODE_WORDS})\b", re.I)
_MODE_ALIASES = {"maj": "major", "min": "minor"}


def _digits(prompt: str) -> str:
    """``prompt`` with numbers spelled in words as digits, and the phrases the tables know (names
    such as "2-step" or "Blink-182") blanked out, so their numbers are not read as values."""
    text = normal(prompt)
    pattern, _ = _phrasebook()
    text = pattern.sub(lambda m: " " * len(m.group(0)), text)
    return with_digits(text)


def explicit_tempo(prompt: str) -> float | None:
    """The tempo the prompt states: "96 bpm", "tempo 96", "ninety-six bpm", or a bare number in the
    tempo range ("reggaeton, 95")."""
    text = _digits(prompt)
    m = _TEMPO.search(text)
    if m:
        bpm = float(m.group(1) or m.group(2))
        if not 20 <= bpm <= 300:
            raise BadRequestError(f"tempo {bpm:g} BPM is out of range: give 20 to 300 BPM")
        return bpm
    for bare in _BARE.finditer(text):
        if BARE_TEMPO[0] <= float(bare.group(1)) <= BARE_TEMPO[1]:
            return float(bare.group(1))
    return None


def explicit_bars(prompt: str) -> int | None:
    m = _BARS.search(_digits(prompt))
    return int(m.group(1)) if m else None


def explicit_minutes(prompt: str) -> float | None:
    """The length the prompt states in time ("two minutes", "90 seconds"), in minutes."""
    m = _LENGTH.search(_digits(prompt))
    if not m:
        return None
    value = float(m.group(1))
    return value if m.group(2).lower().startswith("min") else value / 60


def bars_for(minutes: float, bpm: float, beats_per_bar: int = 4) -> int:
    """Whole 4-bar phrases closest to ``minutes`` at ``bpm`` (half a phrase rounds up)."""
    bars = minutes * bpm / beats_per_bar
    return max(4, int(bars / 4 + 0.5) * 4)


def check_bars(bars: int) -> int:
    if not 1 <= bars <= MAX_BARS:
        raise BadRequestError(f"impossible bar count {bars}: give 1 to {MAX_BARS} bars")
    return bars


def explicit_key(prompt: str) -> tuple[str | None, str | None]:
    """(root, mode) as stated ("F sharp minor", "F#m", "in the key of Bb", "e flat minor"); either may be None."""
    prompt = spelled_accidentals(prompt)
    prompt = re.sub(r"\bin the key of\b", "key of", prompt, flags=re.I)
    prompt = re.sub(rf"(?<![\w#])([a-g])([#b])\s*((?i:{_MODE_WORDS}))\b", lambda m: m.group(1).upper() + m.group(2) + " " + m.group(3), prompt)
    m = _KEY.search(prompt)
    if m:
        letter, accidental, mode = (m.group(1), m.group(2), m.group(3)) if m.group(1) else m.group(4, 5, 6)
        accidental = {"\u266d": "b", "\u266f": "#"}.get(accidental, accidental)
        if mode is None and m.group(0).endswith("m"):
            mode = "minor"
        if mode is not None:
            mode = canonical_mode(_MODE_ALIASES.get(mode.lower(), mode.lower()))
        return letter.upper() + accidental, mode
    m = _MODE_ONLY.search(prompt)
    if m:
        mode = (m.group(1) or m.group(2)).lower()
        return None, canonical_mode(_MODE_ALIASES.get(mode, mode))
    return None, None


# --- inference -------------------------------------------------------------------------------------


def _weights(n: int) -> list[float]:
    """Earlier mentions weigh more: 2 influences -> 0.6/0.4, 3 -> 0.44/0.33/0.22."""
    raw = [n - i + 1 for i in range(n)]
    return [round(r / sum(raw), 4) for r in raw]


def _influences(mentions: list[Mention], guesses: tuple[Guess, ...] = ()) -> list[ArtistInfluence]:
    t = tables().intent
    artists = {a.name: a for a in t.artists}
    placed = {g.name: g for g in guesses}
    named = sorted(
        [(m.start, m.kind, m.key) for m in mentions if m.kind in ("artist", "genre", "subgenre")]
        + [(g.start, "guess", g.name) for g in guesses]
    )
    seen: list[tuple[str, str]] = []
    for _, kind, key in named:
        if (kind, key) not in seen:
            seen.append((kind, key))
    result = []
    for (kind, key), weight in zip(seen, _weights(len(seen))):
        if kind == "guess":
            g = t.genres[placed[key].genre]
            traits = [f"like {g.name}", *g.traits, f"{g.tempo[0]}-{g.tempo[1]} BPM"]
            result.append(ArtistInfluence(name=key, traits=traits, genre_mapping=placed[key].genre, weight=weight))
        elif kind == "subgenre":
            sub = t.subgenres[key]
            g = t.genres[sub.parent]
            lo, hi = sub.tempo or g.tempo
            result.append(ArtistInfluence(name=sub.name, traits=[f"{sub.name} as {g.name}", *g.traits, f"{lo}-{hi} BPM"], genre_mapping=sub.parent, weight=weight))
        elif kind == "artist":
            a = artists[key]
            traits = [*a.traits, f"{a.tempo[0]}-{a.tempo[1]} BPM"]
            result.append(ArtistInfluence(name=a.name, traits=traits, genre_mapping=a.genre, weight=weight))
        else:
            g = t.genres[key]
            traits = [*g.traits, f"{g.tempo[0]}-{g.tempo[1]} BPM"]
            result.append(ArtistInfluence(name=g.name, traits=traits, genre_mapping=key, weight=weight))
    return result


def _tempo_range(influence: ArtistInfluence) -> tuple[int, int]:
    t = tables().intent
    for a in t.artists:
        if a.name == influence.name:
            return a.tempo
    for sub in t.subgenres.values():
        if sub.name == influence.name and sub.tempo is not None:
            return sub.tempo
    return t.genres[influence.genre_mapping].tempo


def infer_tempo(influences: list[ArtistInfluence], genre: GenreEntry, energy_nudge: float) -> tuple[float, bool]:
    """(clock bpm, half-time) from the influences' tempo ranges, placed within range by energy.

    Two ranges that overlap give a tempo in the overlap; two that only meet when the slower one is
    doubled give that overlap as the clock and a half-time feel ("Frank Ocean meets Burial": 60-75
    and 130-140 -> 130-140 at half time).
    """
    lo, hi = genre.tempo
    centre = (genre.typical_tempo - lo) / max(hi - lo, 1)
    half = False
    if len(influences) >= 2:
        (a_lo, a_hi), (b_lo, b_hi) = _tempo_range(influences[0]), _tempo_range(influences[1])
        if max(a_lo, b_lo) <= min(a_hi, b_hi):
            lo, hi, centre = max(a_lo, b_lo), min(a_hi, b_hi), 0.5
        else:
            (s_lo, s_hi), (f_lo, f_hi) = sorted([(a_lo, a_hi), (b_lo, b_hi)])
            if max(2 * s_lo, f_lo) <= min(2 * s_hi, f_hi):
                lo, hi, centre, half = max(2 * s_lo, f_lo), min(2 * s_hi, f_hi), 0.5, True
    elif influences:
        lo, hi = _tempo_range(influences[0])
        if influences[0].genre_mapping and influences[0].name == genre.name:
            centre = (genre.typical_tempo - lo) / max(hi - lo, 1)
        else:
            centre = 0.5
    position = min(max(centre + 1.5 * energy_nudge, 0.0), 1.0)
    return float(round(lo + (hi - lo) * position)), half


def _clamp(x: float) -> float:
    return round(min(max(x, 0.0), 1.0), 4)


def _nudged(dna: GenreDNA, moods: list[str]) -> GenreDNA:
    table = tables().intent.moods
    values = dna.model_dump(by_alias=False)
    for mood in moods:
        for name, delta in table[mood].dna.items():
            values[name] = _clamp(values[name] + delta)
    return GenreDNA(**values)


_UNKNOWN_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+(?:\s+[A-Z][a-z]+)+)\b")


def _unknown_names(prompt: str, mentions: list[Mention]) -> list[str]:
    """Capitalised multi-word names the tables do not know (likely artists backbeat can't place)."""
    known = {_normal(m.key) for m in mentions}
    names = []
    for m in _UNKNOWN_NAME.finditer(prompt):
        words = _normal(m.group(1))
        if not any(k in words or words in k for k in known) and not scan(m.group(1)):
            names.append(m.group(1))
    return names


def decompose(prompt: str, *, seed: int, bars: int | None = None, hints: Hints | None = None) -> PipelineIntent:
    """The structured intent of ``prompt``; ``bars`` (from the command line) overrides the prompt.

    ``hints`` (a language model's reading of the prompt) add what the tables' phrases missed; the
    prompt's explicit words still win, and whatever neither states is inferred as without them.

    Raises:
        BadRequestError: an empty or oversize prompt, a tempo or bar count out of range.
    """
    prompt = prompt.strip()
    if not prompt:
        raise BadRequestError('the prompt is empty: describe the song, e.g. "Frank Ocean meets Burial, late-night vibes"')
    if len(prompt) > MAX_PROMPT:
        raise BadRequestError(f"the prompt is {len(prompt)} characters long: keep it under {MAX_PROMPT}")
    t = tables().intent
    rng = stream(seed, "intent")
    hints = hints or Hints()
    prompt_as_typed = prompt
    prompt, corrections = spelled(prompt)
    mentions = _merged(scan(prompt), hints)
    kinds = lambda kind: [m.key for m in mentions if m.kind == kind]  # noqa: E731
    words = set(kinds("word"))
    moods = list(dict.fromkeys(kinds("mood")))
    ambiguities: list[str] = [f"spelling: {line}" for line in corrections]

    influences = _influences(mentions, hints.guesses)
    if not influences:
        hint = next((t.moods[m].genre_hint for m in moods if t.moods[m].genre_hint), None)
        genre_key = hint or DEFAULT_GENRE
        ambiguities.append(
            f"genre: no artist or genre named; assuming {t.genres[genre_key].name}. Which genre or artists did you have in mind?"
        )
        g = t.genres[genre_key]
        influences = [ArtistInfluence(name=g.name, traits=[*g.traits], genre_mapping=genre_key, weight=1.0)]
    for m in {m.key: m for m in reversed(mentions) if m.kind == "subgenre"}.values():
        sub = t.subgenres[m.key]
        said = sub.name.lower() if _normal(sub.name) == m.phrase or not m.phrase else m.phrase
        ambiguities.append(f"genre: {sub.name} has no idiom of its own; it plays as {t.genres[sub.parent].name} "
                           f"({said} → {sub.parent} idiom)")
    placed = {_normal(g.name) for g in hints.guesses}
    for name in _unknown_names(prompt, mentions):
        if _normal(name) in placed:
            continue
        ambiguities.append(f"influence: {name!r} is not in the artist table and was not used")

    by_genre: dict[str, float] = {}
    for inf in influences:
        by_genre[inf.genre_mapping] = by_genre.get(inf.genre_mapping, 0.0) + inf.weight
    ranked = sorted(by_genre.items(), key=lambda kv: -kv[1])
    primary, secondary = ranked[0][0], (ranked[1][0] if len(ranked) > 1 else None)
    top = ranked[0][1] + (ranked[1][1] if secondary else 0.0)
    blend = (round(ranked[0][1] / top, 4), round(ranked[1][1] / top, 4) if secondary else 0.0)
    dna = GenreDNA.blend([t.genres[k].dna for k, _ in ranked], [w for _, w in ranked])
    dna = _nudged(dna, moods)
    genre = t.genres[primary]

    energy_nudge = sum(t.moods[m].energy for m in moods)
    stated_bpm = explicit_tempo(prompt)
    if stated_bpm is None:
        stated_bpm = hints.bpm
    bpm, half = infer_tempo(influences, genre, energy_nudge)
    half = half or genre.half_time_feel or "half-time" in words or hints.half_time
    if stated_bpm is not None:
        bpm = stated_bpm
        if not any(genre.tempo[0] <= x <= genre.tempo[1] for x in (bpm, bpm / 2, bpm * 2)):
            ambiguities.append(f"tempo: {bpm:g} BPM is outside {genre.name}'s usual {genre.tempo[0]}-{genre.tempo[1]}; using {bpm:g} as asked")
    tempo = Tempo(bpm=bpm, confidence="explicit" if stated_bpm is not None else "inferred", half_time=half)

    root, mode = explicit_key(prompt)
    root, mode = root or hints.root, mode or hints.mode
    mood_mode = next((t.moods[m].mode for m in moods if t.moods[m].mode), None)
    key_stated = root is not None or mode is not None
    if mode is None:
        mode = mood_mode if mood_mode else (genre.modes[0] if rng.random() < 0.7 else rng.choice(genre.modes))
    if root is None:
        root = spell_root(pitch_class(rng.choice(genre.keys)), mode)
    key = Key(root=root, mode=mode, confidence="explicit" if key_stated else "inferred")

    total = bars if bars is not None else explicit_bars(prompt)
    minutes = explicit_minutes(prompt) if total is None else None
    if minutes is not None:
        total = bars_for(minutes, bpm)
        ambiguities.append(f"length: {minutes:g} minute(s) at {bpm:g} BPM is {total} bars")
    total = total if total is not None else hints.bars
    template = tables().arrangement.templates[genre.arrangement]
    total = check_bars(total) if total is not None else sum(s.bars for s in template.sections)
    sections = kinds("section")  # in order, repeats kept: "verse chorus verse chorus" is a form
    duration = Duration(total_bars=total, sections=sections if len(sections) >= 2 else [])

    arc = next((w.split(":")[1] for w in kinds("word") if w.startswith("arc:")), template.arc)
    energy = Energy(overall=_clamp(dna.energy + energy_nudge), arc=arc)

    def dial(base: float, name: str) -> float:
        return _clamp(base + 0.3 * (f"dial:{name}_up" in words) - 0.3 * (f"dial:{name}_down" in words))

    dials = CreativityDials(
        harmonic=dial(0.2 + 0.5 * dna.harmonic_complexity, "harmonic"),
        rhythmic=dial(0.2 + 0.5 * dna.syncopation, "rhythmic"),
    )
    only = [w.split(":")[1] for w in words if w.startswith("only:")]
    added = [w.split(":")[1] for w in words if w.startswith("add:")]
    outputs = [o for o in OUTPUTS if o in (only or [*DEFAULT_OUTPUTS, *added])]

    return PipelineIntent(
        prompt=prompt_as_typed,
        influences=influences,
        mood=[tag for m in moods for tag in t.moods[m].tags],
        genre=GenreBlend(primary=primary, secondary=secondary, blend_weights=blend, dna_vector=dna),
        tempo=tempo,
        key=key,
        duration=duration,
        energy=energy,
        creativity_dials=dials,
        requested_outputs=outputs,
        ambiguities=ambiguities,
    )
