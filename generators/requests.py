"""The grammar of refinement requests: what a producer types becomes a ``Reading``.

A request is made regular (``words``), its misspellings corrected out loud (``spelling``), then cut
into clauses at commas, "and", "then", "but"; lists stay whole ("drums and bass", "chords 2 and 3").
Each clause is read on its own: the change phrases of config/refine.toml, the values in it (a
tempo, a percentage, bars, semitones, a key, a swing amount), how much ("a bit", "way") and what
it points at (``targets``: parts, drum lanes, sections, chords). A clause with a change but no
target takes the previous clause's ("the 3rd chord sounds weird, make it darker"); one with
targets but no change takes the previous change ("mute the lead, the bass"). Changes apply in
the order they were read. A change the song cannot take (chord 9 of 4, a section it lacks, an
instrument it has no part for) is a problem line; one that needs a target and has none is a
question; in both cases nothing changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from .model import PARTS, SongState
from .reading import COMMANDS, Change, Correction, Reading
from .spelling import correct
from .tables import tables
from .targets import ChordRef, PartRef, SectionRef, alternation, chords_in, key_in, parts_in, sections_in, spelled_accidentals
from .words import ORDINALS, TENS, UNITS, normal, with_digits

MIN_BPM, MAX_BPM = 20.0, 300.0
GENERIC = ("remove", "add", "keep", "alternative", "choose", "boring", "double")
"""Change kinds whose meaning depends on what they point at; a specific change in the same clause wins."""
EXAMPLES = ('"bass simpler", "3rd chord darker", "tempo 96", "mute the lead", "make the intro 8 bars", '
            '"warmer", "more swing" or "give me a different bassline"')


@dataclass(frozen=True, slots=True)
class _Hit:
    name: str
    kind: str
    start: int
    end: int
    words: str


@dataclass(frozen=True, slots=True)
class _Grammar:
    changes: re.Pattern[str]
    change_of: dict[str, str]
    degrees: re.Pattern[str]
    steer: re.Pattern[str]
    forms: re.Pattern[str]
    targets: re.Pattern[str]
    target_of: dict[str, str]
    lists: re.Pattern[str]
    tiers: tuple[frozenset[str], ...]
    """The vocabulary for spelling, most important first: targets and commands, changes, the rest."""
    vocabulary: frozenset[str]
    known: frozenset[str]
    chat: frozenset[str]


UNIT_WORDS = ("bpm", "bar", "bars", "percent", "semitone", "semitones", "tone", "tones", "step", "steps", "half", "whole",
              "up", "down", "by", "to", "at", "of", "in", "on", "for", "from", "into", "out", "the", "and", "then", "also",
              "plus", "but", "except", "everything", "all", "every", "each", "only", "just", "last", "final", "chord",
              "section", "number", "speed", "pace", "tempo", "transpose", "major", "minor", "sharp", "flat", "feel",
              "beats", "minute", "minutes", "what", "which", "how", "many", "long", "song", "track", "please", "make",
              "something", "option", "alternative", "a", "b", "c", "d", "e", "f", "g", "it", "is", "are", "be", "me")


def _words_of(phrases: object) -> set[str]:
    return {w for p in phrases for w in re.findall(r"[a-z]+", p)}  # type: ignore[attr-defined]


@cache
def grammar() -> _Grammar:
    """config/refine.toml compiled: one alternation per kind of phrase, and the vocabulary."""
    r = tables().refine
    change_of: dict[str, str] = {}
    for name, change in r.changes.items():
        for w in change.words:
            change_of.setdefault(w, name)
    target_of = {w: t for t, words in r.targets.items() for w in words}
    listed = [w for words in r.parts.values() for w in words] + [w for lane in r.lanes.values() for w in lane.words]
    listed += [w for s in r.sections.values() for w in s.words] + list(r.parts)
    lists = re.compile(rf"({alternation(listed)}|\b\d+)\s*(?:,|\band\b|&|\bor\b)\s*(?:the\s+)?(?=(?:{alternation(listed)}|\d+\b))")
    c = r.commands
    first = _words_of([*listed, *r.words.not_parts, *c.undo, *c.redo, *c.revert, "tempo", "key", "bpm", "chord", "chords"])
    second = _words_of([*change_of, *target_of, *r.degrees, *r.genre_forms, *c.jump, *c.next, *c.stop, *c.play]) - first
    phrases = [*r.words.steer, *r.words.fillers, *r.sections, *UNITS, *TENS, *ORDINALS, *UNIT_WORDS, *r.spellings.values()]
    from .routing import questions  # the question words are vocabulary too

    for q in questions():
        phrases += re.findall(r"[a-z]{3,}", " ".join(q.patterns))
    for key, g in tables().intent.genres.items():
        phrases += [key, g.name.lower(), *g.aliases]
    phrases += [n for s in tables().intent.subgenres.values() for n in (s.name.lower(), *s.aliases)]
    phrases += [n for key, s in tables().theory.scales.items() for n in (key, *s.aliases)]
    rest = frozenset(_words_of(phrases)) - first - second
    vocabulary = first | second | rest
    return _Grammar(
        changes=re.compile(alternation(change_of)), change_of=change_of,
        degrees=re.compile(alternation(r.degrees)), steer=re.compile(alternation(r.words.steer)),
        forms=re.compile(alternation(r.genre_forms)), targets=re.compile(alternation(target_of)), target_of=target_of,
        lists=lists, tiers=(frozenset(first), frozenset(second), rest), vocabulary=vocabulary, known=vocabulary | frozenset(r.words.chat), chat=frozenset(r.words.chat),
    )


def prepare(text: str) -> tuple[str, list[Correction]]:
    """``text`` made regular for the grammar: normal, misspellings corrected, numbers in digits,
    lists joined with "+" so clause splitting keeps them whole; and the corrections made."""
    g = grammar()
    r = tables().refine
    words, fixes = correct(spelled_accidentals(normal(text)).split(" "), g.tiers, r.spellings, g.chat, g.vocabulary)
    clean = with_digits(" ".join(words))
    clean = g.lists.sub(r"\1 + ", g.lists.sub(r"\1 + ", clean))
    return clean, [Correction(word=f.word, reading=f.reading) for f in fixes]


_SPLIT = re.compile(r"\s*(?:[,;!?:()\"]|(?<!\d)\.|\.(?!\d)|\band then\b|\bthen\b|\band also\b|\balso\b|\bplus\b|\bbut\b|\band\b|\bafter that\b)\s*")


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
_LETTER = re.compile(r"\b(?:option|alternative|version|take|number)\s+([a-f])\b|\b([a-f])\s+(?:option|alternative|version)\b")
_ORDINAL_WORD = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")
_EVERYTHING = re.compile(r"\b(?:everything|every part|all parts|all the parts|all of it|all)\b")
_EXCEPT = re.compile(r"\b(?:except(?: for)?|apart from|other than|besides|but not)\b")
_ONLY = re.compile(r"^(?:(?:\w+\s+){0,3})?(?:only|just)\b")
_NEW_SONG = re.compile(
    r"\b(?:new|another|different)\s+(?:song|track|tune|beat|one entirely|banger|jam)\b|\bmake me\b|\bcompose\b|\bstart (?:a|over with a)\b"
    r"|\b(?:a|an)\s+(?:[\w&'-]+\s+){0,5}(?:song|track|tune|banger|anthem|jam|piece|loop|beat|ballad|instrumental|sketch)\b"
    r"|\b(?:type|style)\s+beat\b"
)


@dataclass
class _Clause:
    text: str
    hits: list[_Hit]
    parts: list[PartRef]
    sections: list[SectionRef]
    chords: list[ChordRef]
    degree: float
    targets: list[str]

    @property
    def has_targets(self) -> bool:
        return bool(self.parts or self.sections or self.chords or self.targets)


@dataclass
class _State:
    song: SongState
    changes: list[Change] = field(default_factory=list)
    problem: str | None = None
    question: str | None = None
    last: _Clause | None = None
    """The clause before, for a clause that lacks a change or a target."""
    understood: bool = False
    steered: bool = False
    mentions: list = field(default_factory=list)
    """What the composer's tables know in the request (genres, artists, moods): ``intent.scan``."""


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s <= start < e or s < end <= e for s, e in spans)


def _clause(text: str, song: SongState) -> _Clause:
    g = grammar()
    hits = [_Hit(g.change_of[m.group(0)], tables().refine.changes[g.change_of[m.group(0)]].kind, m.start(), m.end(), m.group(0))
            for m in g.changes.finditer(text)]
    taken = [(h.start, h.end) for h in hits]
    chords = chords_in(text, song)
    chord_spans = [(c.start, c.end) for c in chords]
    parts = [p for p in parts_in(text) if not _overlaps(p.start, p.end, taken + chord_spans)]
    sections = [s for s in sections_in(text, song) if not _overlaps(s.start, s.end, taken)]
    degree = next((tables().refine.degrees[m.group(0)] for m in g.degrees.finditer(text) if not _overlaps(m.start(), m.end(), taken)), 1.0)
    targets = [g.target_of[m.group(0)] for m in g.targets.finditer(text) if not _overlaps(m.start(), m.end(), taken)]
    return _Clause(text, hits, parts, sections, chords, degree, targets)


def _section_changes(s: _State, refs: list[SectionRef], make) -> bool:  # noqa: ANN001 - a small local callback
    """``make(index)`` for every section ``refs`` name; False (and the problem noted) if one is missing."""
    for ref in refs:
        if ref.problem:
            s.problem = s.problem or ref.problem
            return False
        for i in ref.indices:
            s.changes.append(make(i, s.song.arrangement.sections[i].name))
    return True


def _part_list(c: _Clause, s: _State) -> list[PartRef] | None:
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


def _tempo(c: _Clause, s: _State) -> bool:
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


def _key(c: _Clause, s: _State) -> bool:
    if m := _TRANSPOSE.search(c.text):
        unit = m.group(3)
        steps = int(m.group(2) or 1) * (2 if re.match(r"(?:whole|tone|step)", unit) and "half" not in unit else 1)
        s.changes.append(Change("transpose", float(steps if m.group(1) == "up" else -steps), phrase=m.group(0)))
        return True
    found = key_in(c.text)
    if found is None or _overlaps(found[1], found[2], [(h.start, h.end) for h in c.hits]):
        return False
    s.changes.append(Change("key", key=found[0], phrase=c.text[found[1]:found[2]]))
    return True


def _lengths(c: _Clause, s: _State) -> bool:
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
        return _section_changes(s, c.sections, lambda i, n: Change("length", float(sign), section=i, where=n, bars=bars, phrase=c.text)) or True
    return _section_changes(s, c.sections, lambda i, n: Change("length_set", section=i, where=n, bars=bars, phrase=c.text)) or True


def _swing(c: _Clause, s: _State) -> bool:
    m = _SWING_SET.search(c.text)
    if m is None or not any(h.kind == "swing" for h in c.hits):
        return False
    value = float(m.group(1) or m.group(3))
    percent = m.group(2) or m.group(4) or value > 1
    # Swing percentages as a DAW or MPC shows them: 50% is straight, 66% a full triplet swing.
    amount = min(max((value - 50) / (200 / 12), 0.0), 1.0) if percent and value >= 50 else value / 100 if percent else value
    s.changes.append(Change("swing_set", round(amount, 3), phrase=m.group(0)))
    return True


def _genre(c: _Clause, s: _State) -> bool:
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


def _values(c: _Clause, s: _State) -> bool:
    """The clause's values (tempo, key, lengths, swing, genre); True if one of them was read."""
    return any([_tempo(c, s), _key(c, s), _lengths(c, s), _swing(c, s), _genre(c, s)])


def _choose(c: _Clause, s: _State, parts: list[PartRef]) -> bool:
    letter = _LETTER.search(c.text)
    ordinal = _ORDINAL_WORD.search(c.text)
    label = (letter.group(1) or letter.group(2)).upper() if letter else chr(64 + int(ordinal.group(1))) if ordinal else None
    if label is None:
        return False
    if not parts:
        s.question = (f"Back to the {ordinal.group(0) if ordinal else 'alternative ' + label} what? Name the part, "
                      f"e.g. \"the first bassline\" or \"drums option B\".")
        return True
    for p in parts:
        s.changes.append(Change("choose", part=p.part, target=label, phrase=c.text))
    return True


def _act(c: _Clause, hit: _Hit, s: _State) -> None:
    """The change ``hit`` asks for, aimed at the clause's targets."""
    spec = tables().refine.changes[hit.name]
    k, d = spec.kind, c.degree
    parts = _part_list(c, s)
    if parts is None:
        return
    sections = c.sections
    ask_part = "Which part: drums, bass, chords or lead? (e.g. \"bass simpler\")"
    if k in ("remove", "add", "mute"):
        on = 1.0 if k == "remove" or (k == "mute" and spec.amount > 0) else 0.0
        if parts:
            for p in parts:
                if sections:
                    _section_changes(s, sections, lambda i, n, p=p: Change("mute", on, part=p.part, lane=p.lane, section=i, where=n, phrase=hit.words))
                else:
                    s.changes.append(Change("mute", on, part=p.part, lane=p.lane, phrase=hit.words))
        elif sections and k == "add":
            for ref in sections:
                s.changes.append(Change("add_section", target=ref.kind, phrase=hit.words))
        elif sections and k == "remove":
            _section_changes(s, sections, lambda i, n: Change("remove_section", section=i, where=n, phrase=hit.words))
        elif k == "add" and (m := re.search(rf"\b(?:add|need|needs|insert|throw in)\s+(?:a|an|another)?\s*({alternation(tables().refine.sections)})", c.text)):
            s.changes.append(Change("add_section", target=m.group(1), phrase=hit.words))
        elif k == "mute":
            s.question = "Which part: drums, bass, chords or lead?"
    elif k == "keep":
        for p in parts:
            s.changes.append(Change("keep", part=p.part, phrase=hit.words))
    elif k == "density" or (k == "energy" and parts and not sections):
        if not parts:
            s.question = ask_part
        amount = spec.amount if k == "density" else (0.3 if spec.amount > 0 else -0.3)
        for p in parts:
            s.changes.append(Change("density", round(amount * d, 3), part=p.part, phrase=hit.words))
    elif k == "color":
        _color(c, hit, s, parts, spec.amount)
    elif k == "mix":
        for p in parts or [None]:
            s.changes.append(Change("mix", mix=spec.mix, part=p.part if p else None, phrase=hit.words))
    elif k in ("length", "double"):
        if not sections:
            if k == "double":
                return
            s.question = f"Which section? The song has: {', '.join(x.name for x in s.song.arrangement.sections)}"
            return
        kind = "double" if k == "double" else "length"
        _section_changes(s, sections, lambda i, n: Change(kind, 1.0 if spec.amount >= 0 else -1.0, section=i, where=n, phrase=hit.words))
    elif k == "tempo_rel":
        s.changes.append(Change("tempo_rel", round(1 + (spec.amount - 1) * d, 4), phrase=hit.words))
    elif k == "swing":
        if spec.value is not None:
            s.changes.append(Change("swing_set", spec.value, phrase=hit.words))
        else:
            s.changes.append(Change("swing", round(spec.amount * d, 3), phrase=hit.words))
    elif k == "halftime":
        s.changes.append(Change("halftime", spec.amount, phrase=hit.words))
    elif k in ("energy", "boring"):
        if k == "boring" and parts:
            for p in parts:
                s.changes.append(Change("alternative", part=p.part, phrase=hit.words))
            return
        amount = round((spec.amount if k == "energy" else 0.15) * d, 3)
        if sections:
            _section_changes(s, sections, lambda i, n: Change("energy", amount, section=i, where=n, phrase=hit.words))
        else:
            s.changes.append(Change("energy", amount, phrase=hit.words))
    elif k in ("alternative", "choose"):
        if _choose(c, s, parts):
            return
        if not parts:
            if k == "alternative":
                s.question = "Something different on which part: drums, bass, chords or lead?"
            return
        for p in parts:
            s.changes.append(Change("alternative", part=p.part, phrase=hit.words))


def _color(c: _Clause, hit: _Hit, s: _State, parts: list[PartRef], amount: float) -> None:
    if c.chords:
        for ref in c.chords:
            if ref.problem:
                s.problem = s.problem or ref.problem
                return
            for n in ref.chords:
                s.changes.append(Change("color", amount, chord=n, target="chord", phrase=hit.words))
        return
    if "key" in c.targets:
        s.changes.append(Change("color", amount, target="key", phrase=hit.words))
        return
    if "mix" in c.targets:
        s.changes.append(Change("mix", mix="warm" if amount < 0 else "bright", phrase=hit.words))
        return
    if any(p.part == "chords" for p in parts):
        for n in range(1, len(s.song.progression.chords) + 1):
            s.changes.append(Change("color", amount, chord=n, target="chord", phrase=hit.words))
        return
    if parts:
        for p in parts:
            s.changes.append(Change("mix", mix="warm" if amount < 0 else "bright", part=p.part, phrase=hit.words))
        return
    s.changes.append(Change("color", amount, target="key", phrase=hit.words))  # the mood of the whole song: its mode


def _only(c: _Clause, s: _State) -> bool:
    """ "just drums", "only bass and drums": every other part is muted."""
    if c.hits or not c.parts or not _ONLY.search(c.text):
        return False
    keep = {p.part for p in c.parts}
    for part in PARTS:
        if part not in keep:
            s.changes.append(Change("mute", 1.0, part=part, phrase=c.text))
    return True


def _read_clause(c: _Clause, s: _State) -> None:
    before = len(s.changes)
    valued = _values(c, s)
    if s.problem or s.question:
        return
    specific = [h for h in c.hits if h.kind not in GENERIC and not (valued and h.kind in ("tempo_rel", "swing", "length"))]
    generic = [h for h in c.hits if h.kind in GENERIC]
    if not c.hits and not valued:
        if _only(c, s):
            return
        if c.has_targets and s.last is not None and s.last.hits:  # "mute the lead, the bass"
            inherited = _Clause(c.text, s.last.hits, c.parts, c.sections, c.chords, c.degree, c.targets)
            for h in inherited.hits[:1]:
                _act(inherited, h, s)
        return
    if c.hits and not c.has_targets and s.last is not None and s.last.has_targets and (
        not s.last.hits or {h.kind for h in s.last.hits} & {h.kind for h in c.hits}
    ):  # "the 3rd chord sounds weird, make it darker"; "bass too busy, simplify"
        c = _Clause(c.text, c.hits, s.last.parts, s.last.sections, s.last.chords, c.degree, s.last.targets)
    chosen = specific or ([] if valued else generic[:1])
    if valued and not specific:
        return
    for h in chosen:
        _act(c, h, s)
        if s.problem or s.question:
            return
    if generic and not specific and len(s.changes) == before and not s.question:
        for h in generic[1:]:
            _act(c, h, s)
            if len(s.changes) > before or s.question or s.problem:
                return


def _unknown(clean: str) -> list[str]:
    known = grammar().known
    return list(dict.fromkeys(w for w in re.findall(r"[a-z']+", clean) if w not in known and w.strip("'") not in known and len(w) > 1))


def read(text: str, song: SongState) -> Reading:
    """What ``text`` asks of ``song``: changes in order, or a question or a problem (then nothing changes)."""
    if not text.strip():
        return Reading(text=text, question=f"What should change? e.g. {EXAMPLES}", understood=False)
    clean, fixes = prepare(text)
    from .transport import history_command

    if (kind := history_command(clean)) is not None:
        return Reading(text=text, changes=[Change(kind, phrase=kind)], corrections=fixes)
    from .intent import scan

    s = _State(song, mentions=scan(clean))
    for part in _SPLIT.split(clean):
        part = part.strip(" +")
        if not part:
            continue
        if s.changes and s.changes[-1].kind == "length_set" and (m := re.fullmatch(r"(.+?)\s+(\d+)", part)):
            part = f"{m.group(1)} {m.group(2)} bars"  # "the intro 8 bars and the outro 8"
        c = _clause(part, song)
        _read_clause(c, s)
        if s.problem or s.question:
            break
        s.last = c
    describes = _describes(clean, s)
    if s.problem or s.question:
        return Reading(text=text, corrections=fixes, question=s.question, problem=s.problem, describes=describes)
    changes = _unique(s.changes)
    if not changes:
        unknown = _unknown(clean)
        heard = f" (not understood: {', '.join(unknown)})" if unknown else ""
        return Reading(text=text, corrections=fixes, unknown=unknown, understood=False, describes=describes,
                       question=f"I did not catch a change{heard}. Try e.g. {EXAMPLES}.")
    return Reading(text=text, changes=changes, corrections=fixes, unknown=_unknown(clean), describes=describes)


def _describes(clean: str, s: _State) -> bool:
    """Whether the request describes a song (a genre, an artist or a new-song phrase) rather than
    asking for changes beyond its tempo, key and length."""
    if _NEW_SONG.search(clean):
        return True
    if s.steered or s.problem or s.question:
        return False
    mentions = {m.kind for m in s.mentions}
    if not mentions & {"genre", "subgenre", "artist", "mood"}:
        return False
    musical = {c.kind for c in s.changes} - {"tempo", "key", "length_set"}
    return not musical if mentions & {"genre", "subgenre", "artist"} else not s.changes


def _unique(changes: list[Change]) -> list[Change]:
    """Each change once ("too busy, simplify" asks once), in the order first read."""
    out: list[Change] = []
    for c in changes:
        if not any(c.model_dump(exclude={"phrase"}) == u.model_dump(exclude={"phrase"}) for u in out):
            out.append(c)
    return out


def parse(request: str, song: SongState) -> list[Change] | Question:
    """The changes ``request`` asks for, or a question (the form ``generators.llm.refining`` takes).

    Raises:
        BadRequestError: the request names what the song does not have.
    """
    from .errors import BadRequestError

    reading = read(request, song)
    if reading.problem:
        raise BadRequestError(reading.problem)
    if reading.question or not reading.changes:
        return Question(reading.question or "What should change?", reading.understood)
    return list(reading.changes)


@dataclass(frozen=True, slots=True)
class Question:
    """Nothing changed: the request needs an answer first."""

    text: str
    understood: bool = True
    """False when no change was recognised at all (a model, if configured, may read it instead)."""


__all__ = ["COMMANDS", "Change", "Question", "Reading", "parse", "prepare", "read"]
