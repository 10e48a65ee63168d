"""One clause of a request, and the values it states: a tempo (set, by a percentage or by BPM, half
or double speed), a key or a transposition, a section's length in bars, a swing amount, a genre
steered toward. ``generators.requests`` reads the clause's change phrases on top of these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .grammar import grammar
from .model import PARTS, SongState
from .reading import Change
from .tables import tables
from .targets import ChordRef, PartRef, SectionRef, chords_in, key_in, parts_in, sections_in

MIN_BPM, MAX_BPM = 20.0, 300.0
_EVERYTHING = re.compile(r"\b(?:everything|every part|all parts|all the parts|all of it|all)\b")
_EXCEPT = re.compile(r"\b(?:except(?: for)?|apart from|other than|besides|but not)\b")


@dataclass(frozen=True, slots=True)
class Hit:
    name: str
    kind: str
    start: int
    end: int
    words: str



# --- values in a clause ------------------------------------------------------------------------------

_PERCENT = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:%|percent)\s*(faster|quicker|slower|up|down)\b")
_HALF_SPEED = re.compile(r"\bhalf\s+(?:the\s+)?(?:speed|tempo|pace)\b")
_DOUBLE_SPEED = re.compile(r"\b(?:double\s+(?:the\s+)?(?:speed|tempo|pace|time)|twice\s+as\s+fast)\b")
_BPM = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:bpm|beats per minute)\b|\b(?:tempo|bpm|speed|pace)\b[^\d]{0,24}?(?<![\w.])(\d+(?:\.\d+)?)(?!\s*(?:bars?|%|percent|\d))")
_BARE = re.compile(r"(?<![\w.#])(\d+(?:\.\d+)?)(?:ish)?(?![\w.%])(?!\s*(?:bars?|percent|semitones?|steps?|tones?|minutes?|st\b|nd\b|rd\b|th\b))")
_BARS = re.compile(r"\b(\d+)\s*bars?\b|\bby\s+(\d+)\b")
_TRANSPOSE = re.compile(r"\b(up|down)\s+(?:by\s+)?(?:(\d+)|an?)?\s*(semitones?|half steps?|half tones?|tones?|whole steps?|whole tones?|steps?)\b")
_SWING_SET = re.compile(r"\bswing\b[^\d]{0,12}?(\d+(?:\.\d+)?)\s*(%|percent)?|(\d+(?:\.\d+)?)\s*(%|percent)?\s*swing\b")
_TEMPO_WORD = re.compile(r"\b(?:tempo|bpm|speed|pace)\b")
_UP = re.compile(r"\b(?:faster|up|add|plus|raise|bump|more|quicker|increase)\b")
_DOWN = re.compile(r"\b(?:slower|down|off|minus|lower|drop|knock|less|reduce|decrease|take)\b")
_SET = re.compile(r"\b(?:to|at|=|is|be|of)\s*(?:like\s+)?\d")

@dataclass
class Clause:
    text: str
    hits: list[Hit]
    parts: list[PartRef]
    sections: list[SectionRef]
    chords: list[ChordRef]
    degree: float
    targets: list[str]

    @property
    def has_targets(self) -> bool:
        return bool(self.parts or self.sections or self.chords or self.targets)


@dataclass
class State:
    song: SongState
    changes: list[Change] = field(default_factory=list)
    problem: str | None = None
    question: str | None = None
    last: Clause | None = None
    """The clause before, for a clause that lacks a change or a target."""
    understood: bool = False
    steered: bool = False
    mentions: list = field(default_factory=list)
    """What the composer's tables know in the request (genres, artists, moods): ``intent.scan``."""


def overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s <= start < e or s < end <= e for s, e in spans)


def clause_of(text: str, song: SongState) -> Clause:
    g = grammar()
    hits = [Hit(g.change_of[m.group(0)], tables().refine.changes[g.change_of[m.group(0)]].kind, m.start(), m.end(), m.group(0))
            for m in g.changes.finditer(text)]
    taken = [(h.start, h.end) for h in hits]
    chords = chords_in(text, song)
    chord_spans = [(c.start, c.end) for c in chords]
    parts = [p for p in parts_in(text) if not overlaps(p.start, p.end, taken + chord_spans)]
    sections = [s for s in sections_in(text, song) if not overlaps(s.start, s.end, taken)]
    degree = next((tables().refine.degrees[m.group(0)] for m in g.degrees.finditer(text) if not overlaps(m.start(), m.end(), taken)), 1.0)
    targets = [g.target_of[m.group(0)] for m in g.targets.finditer(text) if not overlaps(m.start(), m.end(), taken)]
    return Clause(text, hits, parts, sections, chords, degree, targets)


def section_changes(s: State, refs: list[SectionRef], make) -> bool:  # noqa: ANN001 - a small local callback
    """``make(index)`` for every section ``refs`` name; False (and the problem noted) if one is missing."""
    for ref in refs:
        if ref.problem:
            s.problem = s.problem or ref.problem
            return False
        for i in ref.indices:
            s.changes.append(make(i, s.song.arrangement.sections[i].name))
    return True


def part_list(c: Clause, s: State) -> list[PartRef] | None:
    """The parts a clause names ("everything except the drums" counted out), None on a problem."""
    if _EVERYTHING.search(c.text) and not c.sections:
        cut = _EXCEPT.search(c.text)
        excluded = {p.part for p in c.parts if cut and p.start > cut.start()}
        return [PartRef(p, None, p, 0, 0) for p in PARTS if p not in excluded]
    missing = [p.word for p in c.parts if p.part is None]
    if missing and not [p for p in c.parts if p.part is not None]:
        s.problem = f"there is no {missing[0]} part: the parts are drums, bass, chords and lead"
        return None
    return [p for p in c.parts if p.part is not None]


def _tempo(c: Clause, s: State) -> bool:
    """A tempo change in the clause: set, by a percentage, by BPM, half or double speed."""
    t = c.text
    if m := _PERCENT.search(t):
        p = float(m.group(1)) / 100
        s.changes.append(Change("tempo_rel", round(1 + p if m.group(2) in ("faster", "quicker", "up") else 1 - p, 4), phrase=m.group(0)))
        return True
    if m := _HALF_SPEED.search(t):
        s.changes.append(Change("tempo_rel", 0.5, phrase=m.group(0)))
        return True
    if m := _DOUBLE_SPEED.search(t):
        s.changes.append(Change("tempo_rel", 2.0, phrase=m.group(0)))
        return True
    m = _BPM.search(t)
    tempo_hit = any(h.kind == "tempo_rel" for h in c.hits) or _TEMPO_WORD.search(t)
    others = [h for h in c.hits if h.kind != "tempo_rel"]
    if m is None and tempo_hit and not (c.parts or c.sections or c.chords):
        m = _BARE.search(t)  # "slow it down by 5", "bump the tempo up to 130"
        bpm = float(m.group(1)) if m else None
    elif m is None:
        bare = _BARE.search(t) if not (c.has_targets or others or _BARS.search(t) or key_in(t)) else None
        if bare is None or not MIN_BPM <= float(bare.group(1)) <= MAX_BPM * 2:
            return False
        m, bpm = bare, float(bare.group(1))  # "set it to 96", "can we do 90"
    else:
        bpm = float(m.group(1) or m.group(2))
    if m is None or bpm is None:
        return False
    relative = re.search(rf"\bby\s+{re.escape(m.group(1) or m.group(2) or '')}", t) or (
        not _SET.search(t) and (_UP.search(t) or _DOWN.search(t)) and not re.match(r"^\s*(?:tempo|bpm)\s+\d", t)
    )
    if relative:
        down = bool(_DOWN.search(t)) and not re.search(r"\b(?:faster|quicker|up|add|plus|raise)\b", t)
        s.changes.append(Change("tempo_step", -bpm if down else bpm, phrase=m.group(0)))
        return True
    if not MIN_BPM <= bpm <= MAX_BPM:
        s.problem = f"tempo {bpm:g} BPM is out of range: give {MIN_BPM:g} to {MAX_BPM:g} BPM"
        return True
    s.changes.append(Change("tempo", bpm=bpm, phrase=m.group(0)))
    return True


def _key(c: Clause, s: State) -> bool:
    if m := _TRANSPOSE.search(c.text):
        unit = m.group(3)
        steps = int(m.group(2) or 1) * (2 if re.match(r"(?:whole|tone|step)", unit) and "half" not in unit else 1)
        s.changes.append(Change("transpose", float(steps if m.group(1) == "up" else -steps), phrase=m.group(0)))
        return True
    found = key_in(c.text)
    if found is None or overlaps(found[1], found[2], [(h.start, h.end) for h in c.hits]):
        return False
    s.changes.append(Change("key", key=found[0], phrase=c.text[found[1]:found[2]]))
    return True


def _lengths(c: Clause, s: State) -> bool:
    """ "make the intro 8 bars", "the outro 8", "extend the bridge by 4 bars", "double the chorus"."""
    if not c.sections:
        return False
    kinds = {h.kind for h in c.hits}
    m = _BARS.search(c.text)
    bare = _BARE.search(c.text) if m is None and not kinds - {"remove", "add", "keep"} else None
    if m is None and bare is None:
        return False
    bars = int(m.group(1) or m.group(2)) if m else int(float(bare.group(1)))
    if not 1 <= bars <= 256:
        s.problem = f"a section of {bars} bars? give 1 to 256"
        return True
    by = m is not None and (m.group(2) or re.search(r"\bby\s+\d", c.text))
    direction = next((h for h in c.hits if h.kind == "length"), None)
    if direction is not None or by:
        sign = 1 if direction is None or tables().refine.changes[direction.name].amount > 0 else -1
        return section_changes(s, c.sections, lambda i, n: Change("length", float(sign), section=i, where=n, bars=bars, phrase=c.text)) or True
    return section_changes(s, c.sections, lambda i, n: Change("length_set", section=i, where=n, bars=bars, phrase=c.text)) or True


def _swing(c: Clause, s: State) -> bool:
    m = _SWING_SET.search(c.text)
    if m is None or not any(h.kind == "swing" for h in c.hits):
        return False
    value = float(m.group(1) or m.group(3))
    percent = m.group(2) or m.group(4) or value > 1
    # Swing percentages as a DAW or MPC shows them: 50% is straight, 66% a full triplet swing.
    amount = min(max((value - 50) / (200 / 12), 0.0), 1.0) if percent and value >= 50 else value / 100 if percent else value
    s.changes.append(Change("swing_set", round(amount, 3), phrase=m.group(0)))
    return True


def _genre(c: Clause, s: State) -> bool:
    """A genre the clause steers toward ("make it more trap", "jazzier"); a genre named without
    steering describes a new song."""
    g = grammar()
    if m := g.forms.search(c.text):
        s.changes.append(Change("genre", genre=tables().refine.genre_forms[m.group(0)], phrase=m.group(0)))
        s.steered = True
        return True
    genres = [m for m in s.mentions if m.kind in ("genre", "subgenre") and m.phrase in c.text]
    if not genres or not g.steer.search(c.text):
        return False
    genre = genres[0].key if genres[0].kind == "genre" else tables().intent.subgenres[genres[0].key].parent
    s.changes.append(Change("genre", genre=genre, phrase=c.text))
    s.steered = True
    return True


def read_values(c: Clause, s: State) -> bool:
    """The clause's values (tempo, key, lengths, swing, genre); True if one of them was read."""
    return any([_tempo(c, s), _key(c, s), _lengths(c, s), _swing(c, s), _genre(c, s)])


