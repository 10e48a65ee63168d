"""A producer's refinement request, in words, as a list of changes — or a question back.

Rule-based, from config/refine.toml: the request is scanned once for change phrases, parts, chord
ordinals, sections, keys, tempos and genres, and each change phrase is paired with the target
nearest to it. A change that needs a target and has none (or could mean several things) turns the
whole request into a clarifying question, so an ambiguous request changes nothing. Several changes
in one request apply in order; for the same element the later one wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from .errors import BadRequestError
from .intent import explicit_key, explicit_tempo
from .model import SongState
from .tables import tables


@dataclass(frozen=True, slots=True)
class Change:
    """One change to a song.

    ``kind`` is a change kind of config/refine.toml, or ``key``, ``tempo``, ``genre``; the other
    fields say what it applies to (whichever the kind needs).
    """

    kind: str
    amount: float = 0.0
    part: str | None = None
    chord: int | None = None
    section: int | None = None
    target: str | None = None
    """For ``color``: chord, key or mix."""
    mix: str | None = None
    key: tuple[str | None, str | None] | None = None
    bpm: float | None = None
    genre: str | None = None
    phrase: str = ""


@dataclass(frozen=True, slots=True)
class Question:
    """Nothing changed: the request needs an answer first."""

    text: str
    understood: bool = True
    """False when no change was recognised at all (a model, if configured, may read it instead)."""


@dataclass(frozen=True, slots=True)
class _Hit:
    kind: str  # change / part / target / section / genre
    key: str
    start: int
    end: int


def _normal(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.lower())


@cache
def _book() -> tuple[re.Pattern[str], dict[str, tuple[str, str]]]:
    r = tables().refine
    meaning: dict[str, tuple[str, str]] = {}
    for name, change in r.changes.items():
        for w in change.words:
            meaning.setdefault(_normal(w), ("change", name))
    for part, words in r.parts.items():
        for w in words:
            meaning.setdefault(_normal(w), ("part", part))
    for target, words in r.targets.items():
        for w in words:
            meaning.setdefault(_normal(w), ("target", target))
    for key, genre in tables().intent.genres.items():
        for w in (key, genre.name, *genre.aliases):
            meaning.setdefault(_normal(w), ("genre", key))
    alternation = "|".join(re.escape(p) for p in sorted(meaning, key=len, reverse=True))
    return re.compile(rf"(?<![a-z0-9&])(?:{alternation})(?![a-z0-9&])"), meaning


def _ordinal_chords(text: str) -> list[tuple[int, int]]:
    """(chord number, position) for "3rd chord", "chord 3", "third chord", "the last chord"."""
    ordinals = tables().refine.ordinals
    found = []
    for m in re.finditer(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+chord\b|\bchord\s+(?:number\s+)?(\d{1,2})\b", text):
        found.append((int(m.group(1) or m.group(2)), m.start()))
    for m in re.finditer(r"\b([a-z]+)\s+chord\b|\bchord\s+([a-z]+)\b", text):
        word = m.group(1) or m.group(2)
        if word in ordinals:
            found.append((ordinals[word], m.start()))
        elif word == "last":
            found.append((-1, m.start()))
    return found


def _sections(text: str, song: SongState) -> list[tuple[int, int]]:
    """(section index, position) of every section named: by name ("chorus 2", "intro"), or by kind
    alone ("the chorus": the first of its kind)."""
    entries = [(s.name.lower(), i) for i, s in enumerate(song.arrangement.sections)]
    for i, s in enumerate(song.arrangement.sections):
        if s.kind not in dict(entries):
            entries.append((s.kind, i))
    found, taken = [], []
    for phrase, index in sorted(entries, key=lambda e: -len(e[0])):
        for m in re.finditer(rf"(?<![a-z0-9]){re.escape(phrase)}s?(?![a-z0-9])", text):
            if not any(a <= m.start() < b for a, b in taken):
                taken.append((m.start(), m.end()))
                found.append((index, m.start()))
    return found


_KEY_TO = re.compile(r"\bkey\s+(?:to\s+|of\s+)?([A-Ga-g][#b]?)(?:\s*(major|minor)|(m)\b)?(?![a-z#])", re.I)


def _key(request: str, text: str) -> tuple[str | None, str | None] | None:
    """A key the request names: "key D minor", "in F#", "change the key to Eb", "minor key"."""
    root, mode = explicit_key(request)
    if root is None:
        m = _KEY_TO.search(request)
        if m:
            root = m.group(1)[0].upper() + m.group(1)[1:]
            mode = "minor" if m.group(3) else (m.group(2).lower() if m.group(2) else mode)
    if root is None and not (mode is not None and re.search(r"\bkey\b|\bmode\b", text)):
        return None
    return root, mode


def _nearest(position: int, candidates: list[tuple[object, int]]) -> object | None:
    return min(candidates, key=lambda c: abs(c[1] - position))[0] if candidates else None


_TARGETED = {"density": "part", "mute": "part", "alternative": "part", "length": "section"}
_QUESTIONS = {
    "density": "Which part: drums, bass, chords or lead? (e.g. \"bass simpler\")",
    "mute": "Which part: drums, bass, chords or lead?",
    "alternative": "Something different on which part: drums, bass, chords or lead?",
    "length": "Which section? The song has: {sections}",
    "color": "{Word} how: a chord (e.g. \"3rd chord {word}\"), the key (\"{word} key\") or the mix (\"{word} mix\")?",
}


def parse(request: str, song: SongState) -> list[Change] | Question:
    """The changes ``request`` asks for, in order, or a question when it is ambiguous."""
    text = _normal(request.strip())
    if not text:
        return Question("What should change? e.g. \"bass too busy\", \"3rd chord darker\", \"tempo 96\"")
    pattern, meaning = _book()
    hits = [_Hit(*meaning[m.group(0)], m.start(), m.end()) for m in pattern.finditer(text)]
    parts = [(h.key, h.start) for h in hits if h.kind == "part"]
    chords = _ordinal_chords(text)
    sections = _sections(text, song)
    targets = [(h.key, h.start) for h in hits if h.kind == "target"]
    changes: list[Change] = []
    r = tables().refine
    for h in (h for h in hits if h.kind == "change"):
        spec = r.changes[h.key]
        needs = _TARGETED.get(spec.kind)
        part = _nearest(h.start, parts)
        section = _nearest(h.start, sections)
        if spec.kind == "color":
            chord = _nearest(h.start, chords)
            target = "chord" if chord is not None else _nearest(h.start, targets)
            if target is None:
                return Question(_QUESTIONS["color"].format(word="darker" if spec.amount < 0 else "brighter", Word="Darker" if spec.amount < 0 else "Brighter"))
            if target == "mix":
                changes.append(Change("mix", mix="warm" if spec.amount < 0 else "bright", phrase=h.key))
                continue
            changes.append(Change("color", spec.amount, chord=chord if isinstance(chord, int) else None, target=target, phrase=h.key))
            continue
        if needs == "part" and part is None:
            return Question(_QUESTIONS[spec.kind])
        if needs == "section" and section is None:
            return Question(_QUESTIONS["length"].format(sections=", ".join(s.name for s in song.arrangement.sections)))
        changes.append(Change(spec.kind, spec.amount, part=part if needs == "part" else None,
                              section=section if spec.kind in ("length", "energy") else None, mix=spec.mix, phrase=h.key))
    for genre in {h.key for h in hits if h.kind == "genre"}:
        changes.append(Change("genre", genre=genre, phrase=genre))
    bpm = explicit_tempo(request)
    if bpm is not None:
        changes.append(Change("tempo", bpm=bpm, phrase=f"{bpm:g} BPM"))
    key = _key(request, text)
    if key is not None:
        changes.append(Change("key", key=key, phrase=" ".join(x for x in key if x)))
    if not changes:
        return Question(
            "I did not catch a change. Try e.g. \"bass simpler\", \"3rd chord darker\", \"key D minor\", \"tempo 96\", "
            "\"mute the lead\", \"longer intro\", \"warmer\" or \"try something different on the drums\".",
            understood=False,
        )
    _check_chords(changes, song)
    unique: list[Change] = []
    for c in changes:  # "too busy, simplify" asks once, not twice
        if not any(_same(c, u) for u in unique):
            unique.append(c)
    return unique


def _same(a: Change, b: Change) -> bool:
    return (a.kind, a.part, a.chord, a.section, a.target, a.mix, a.genre) == (b.kind, b.part, b.chord, b.section, b.target, b.mix, b.genre) and a.amount == b.amount


def _check_chords(changes: list[Change], song: SongState) -> None:
    count = len(song.progression.chords)
    for c in changes:
        if c.chord is not None and c.chord != -1 and not 1 <= c.chord <= count:
            raise BadRequestError(f"the progression has {count} chords; there is no chord {c.chord}")


_TOWARD = re.compile(r"^\s*(make it|make the song|more|less|turn it|switch it|go|change it)\b")


def is_refinement(request: str, song: SongState) -> bool:
    """Whether ``request`` asks to change ``song`` rather than for a new song: it names a change
    ("simpler", "darker"), a chord, or a tempo or key without describing a new song; a genre alone
    ("deep house") is a new song unless the request steers toward it ("make it more trap")."""
    text = _normal(request)
    pattern, meaning = _book()
    kinds = {meaning[m.group(0)][0] for m in pattern.finditer(text)}
    if "change" in kinds or _ordinal_chords(text):
        return True
    from .intent import scan  # the composer's own vocabulary: does this describe a song?

    describes_a_song = any(m.kind in ("artist", "genre", "mood") for m in scan(request))
    if "genre" in kinds:
        return bool(_TOWARD.search(text))
    if explicit_tempo(request) is not None or _key(request, text) is not None:
        return not describes_a_song
    return False
