"""What a clause of a request points at: parts and drum lanes, sections, chords, a key.

Each finder reads one clause (already ``words.normal`` and with digits) and gives what it names
with where it names it, resolved against the song: "the second chorus" is section 5 of this song,
"the last two chords" chords 3 and 4. What the song lacks comes back as a problem line naming it
("the song has no bridge: its sections are intro, build 1, drop 1, ..."), never as a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from .model import SongState
from .tables import tables


def alternation(phrases: object) -> str:
    """A regular-expression alternation of ``phrases``, longest first, each a whole word or phrase."""
    ordered = sorted({re.escape(p) for p in phrases}, key=len, reverse=True)  # type: ignore[attr-defined]
    return rf"(?<![\w#&])(?:{'|'.join(ordered)})(?![\w#&])"


@dataclass(frozen=True, slots=True)
class PartRef:
    part: str | None
    """None for an instrument backbeat has no part for (``word`` says which)."""
    lane: str | None
    word: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class SectionRef:
    indices: tuple[int, ...]
    """The sections meant, in song order (empty when the song has none of them)."""
    kind: str
    specific: bool
    """An ordinal, a number or "last" picked it (not just "the chorus")."""
    problem: str | None
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class ChordRef:
    chords: tuple[int, ...]
    problem: str | None
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Book:
    parts: re.Pattern[str]
    part_of: dict[str, tuple[str | None, str | None]]
    sections: re.Pattern[str]
    kind_of: dict[str, tuple[str, bool]]
    modes: str


@cache
def _book() -> _Book:
    r = tables().refine
    part_of: dict[str, tuple[str | None, str | None]] = {}
    for lane, entry in r.lanes.items():
        for w in entry.words:
            part_of.setdefault(w, ("drums", lane))
    for part, words in r.parts.items():
        for w in (part, *words):
            part_of.setdefault(w, (part, None))
    for w in r.words.not_parts:
        part_of.setdefault(w, (None, None))
    kind_of: dict[str, tuple[str, bool]] = {}
    for kind, entry in r.sections.items():
        words = {kind, *entry.words}
        for w in sorted(words, key=len):
            plural = w.endswith("s") and (w[:-1] in words or w[:-2] in words)
            kind_of.setdefault(w, (kind, plural))
    section = (
        r"(?:(?P<ord>\d+)(?:st|nd|rd|th)\s+|(?P<last>last|final)\s+|(?P<every>every|each|all the|all)\s+)?"
        rf"(?P<word>{alternation(kind_of)})(?:\s+(?P<num>\d+)\b(?!\s*(?:bars?|bpm|%|percent|beats?|\.\d)))?"
    )
    names = [n for key, s in tables().theory.scales.items() for n in (key, *s.aliases)] + ["maj", "min"]
    return _Book(re.compile(alternation(part_of)), part_of, re.compile(section), kind_of, alternation(names))


def parts_in(clause: str) -> list[PartRef]:
    b = _book()
    return [PartRef(*b.part_of[m.group(0)], m.group(0), m.start(), m.end()) for m in b.parts.finditer(clause)]


def _names(song: SongState) -> str:
    return ", ".join(s.name for s in song.arrangement.sections)


def _of_kind(song: SongState, kind: str) -> list[int]:
    sections = song.arrangement.sections
    found = [i for i, s in enumerate(sections) if s.kind == kind]
    for peer in tables().refine.sections[kind].peers if kind in tables().refine.sections else ():
        if found:
            break
        found = [i for i, s in enumerate(sections) if s.kind == peer]
    return found


def sections_of_kind(song: SongState, word: str) -> list[int]:
    """Indices of the song's sections a kind word names ("chorus", "refrain", "the drop"), in song
    order; a kind the song lacks is stood in for by its peers (config/refine.toml: chorus = hook =
    drop where the song has one). Empty when nothing fits."""
    word = re.sub(r"^the\s+", "", " ".join(word.lower().split()))
    kind = _book().kind_of.get(word, (word, False))[0]
    return _of_kind(song, kind)


def sections_in(clause: str, song: SongState) -> list[SectionRef]:
    """Every section the clause names: by kind ("the chorus": the first), ordinal ("the second
    chorus", "chorus 2"), "last", every one ("every chorus", "the verses"), number ("section 3") or
    bar range ("bars 17 to 24": the sections those bars are in)."""
    b = _book()
    found = []
    for m in b.sections.finditer(clause):
        kind, plural = b.kind_of[m.group("word")]
        indices = _of_kind(song, kind)
        n = int(m.group("ord") or m.group("num") or 0)
        specific = bool(n or m.group("last"))
        problem = None
        if not indices:
            problem = f"the song has no {kind}{f' {n}' if n else ''}: its sections are {_names(song)}"
        elif n:
            if n > len(indices):
                problem = f"the song has no {kind} {n} ({len(indices)} {kind}{'s' if len(indices) > 1 else ''}): its sections are {_names(song)}"
                indices = []
            else:
                indices = [indices[n - 1]]
        elif m.group("last"):
            indices = [indices[-1]]
        elif not (plural or m.group("every")):
            indices = [indices[0]]
        found.append(SectionRef(tuple(indices), kind, specific, problem, m.start(), m.end()))
    count = len(song.arrangement.sections)
    for m in re.finditer(r"\bsection\s+(?:#\s*|number\s+)?(\d+)\b", clause):
        n = int(m.group(1))
        problem = None if 1 <= n <= count else f"the song has {count} sections (1-{count}): {_names(song)}"
        found.append(SectionRef((n - 1,) if problem is None else (), "section", True, problem, m.start(), m.end()))
    for m in re.finditer(r"\bbars?\s+(\d+)\s*(?:-|to|through|thru|until|till)\s*(\d+)\b", clause):
        lo, hi = sorted((int(m.group(1)), int(m.group(2))))
        found.append(_bars(song, lo, hi, m.start(), m.end()))
    return sorted(found, key=lambda r: r.start)


def _bars(song: SongState, lo: int, hi: int, start: int, end: int) -> SectionRef:
    a = song.arrangement
    if not 1 <= lo <= a.total_bars:
        return SectionRef((), "bars", True, f"the song has {a.total_bars} bars (1-{a.total_bars})", start, end)
    starts = a.start_bars()
    hit = tuple(i for i, (s, b) in enumerate(zip(a.sections, starts)) if b < hi and b + s.bars >= lo)
    return SectionRef(hit, "bars", True, None, start, end)


def section_at_bar(song: SongState, bar: int) -> int | None:
    """The index of the section bar ``bar`` (1-based) is in."""
    a = song.arrangement
    return a.section_at(bar - 1) if 1 <= bar <= a.total_bars else None


_ALL_CHORDS = re.compile(r"\b(?:all(?: of)?(?: the)?|every|each)\s+chords?\b")
_FIRST_LAST = re.compile(r"\b(1st|last|final)\s+(\d+)\s+chords\b")
_ORDINAL = re.compile(r"\b(?:(\d+)(?:st|nd|rd|th)|(last|final))\s+chord\b")
_NUMBERED = re.compile(r"\bchords?\s+(?:#\s*|number\s+|no\s+)?(\d+(?:\s*\+\s*\d+)*)\b(?!\s*(?:bars?|bpm|%))")


def chords_in(clause: str, song: SongState) -> list[ChordRef]:
    """The chords the clause names, 1-based, with a problem for one the progression lacks."""
    count = len(song.progression.chords)
    found: list[ChordRef] = []

    def add(numbers: list[int], m: re.Match[str]) -> None:
        bad = [n for n in numbers if not 1 <= n <= count]
        problem = f"the progression has {count} chords; there is no chord {bad[0]}" if bad else None
        found.append(ChordRef(tuple(numbers) if not bad else (), problem, m.start(), m.end()))

    for m in _ALL_CHORDS.finditer(clause):
        add(list(range(1, count + 1)), m)
    for m in _FIRST_LAST.finditer(clause):
        n = int(m.group(2))
        add(list(range(1, n + 1)) if m.group(1) == "1st" else list(range(count - n + 1, count + 1)), m)
    for m in _ORDINAL.finditer(clause):
        add([count if m.group(2) else int(m.group(1))], m)
    for m in _NUMBERED.finditer(clause):
        add([int(n) for n in re.findall(r"\d+", m.group(1))], m)
    taken: list[ChordRef] = []
    for ref in sorted(found, key=lambda r: (r.start, -(r.end - r.start))):
        if not any(t.start <= ref.start < t.end for t in taken):
            taken.append(ref)
    return taken


_NOTE = r"(?P<root>[a-g])(?P<acc>#|b(?![a-z]))?"


@cache
def _key_patterns() -> tuple[re.Pattern[str], ...]:
    modes = _book().modes
    mode = rf"(?:\s*(?P<mode>{modes})\b|(?P<m>m)\b)"
    return (
        re.compile(rf"\bkey\s+(?:of\s+|to\s+|is\s+|=\s*|in\s+)?{_NOTE}{mode}?(?![\w#])"),
        re.compile(rf"\bin\s+the\s+key\s+of\s+{_NOTE}{mode}?(?![\w#])"),
        re.compile(rf"\bin\s+{_NOTE}{mode}?(?![\w#])"),
        re.compile(rf"(?<![\w#]){_NOTE}\s*(?P<mode>{modes})\b(?!\s+key)"),
        re.compile(rf"(?<![\w#])(?P<mode>{modes})\b"),
    )


_SHARP = re.compile(r"\b([A-Ga-g])\s*(?:-\s*)?sharp\b", re.I)
_FLAT = re.compile(r"\b([A-Ga-g])\s*(?:-\s*)?flat\b", re.I)


def spelled_accidentals(text: str) -> str:
    """ "f sharp" as "f#", "e flat" as "eb" (either case)."""
    return _FLAT.sub(r"\1b", _SHARP.sub(r"\1#", text))


def key_in(clause: str) -> tuple[tuple[str | None, str | None], int, int] | None:
    """(root, mode) the clause names ("key of f# minor", "in bb", "c major", "minor"), where."""
    from .theory import canonical_mode

    for n, pattern in enumerate(_key_patterns()):
        m = pattern.search(clause)
        if not m:
            continue
        groups = m.groupdict()
        if n == 2 and not (groups.get("acc") or groups.get("mode") or groups.get("m")):
            continue  # "in a", "in f": a word, not a key
        root = groups.get("root")
        root = root.upper() + (groups.get("acc") or "") if root else None
        mode = groups.get("mode")
        if mode is None and groups.get("m"):
            mode = "minor"
        if mode is not None:
            mode = canonical_mode({"maj": "major", "min": "minor"}.get(mode, mode))
        return (root, mode), m.start(), m.end()
    return None

