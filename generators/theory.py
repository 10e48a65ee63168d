"""Pitch arithmetic: note names and spelling, scales, chords stacked in a scale, roman numerals.

Facts (scale intervals, chord qualities) come from ``config/theory.toml``; this module only computes.
Pitch classes are 0..11 with C = 0; MIDI note 60 is C4.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from .errors import BadRequestError
from .tables import QualityEntry, tables

SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_NUMERALS = ("I", "II", "III", "IV", "V", "VI", "VII")
# Relative-major tonics whose key signatures are written with sharps. C is written with flats
# because borrowed colour in C (bVI, bVII, iv) is spelled with flats.
_SHARP_KEYS = {7, 2, 9, 4, 11}


def pitch_class(name: str) -> int:
    """Pitch class of a note name such as "Eb", "F#", "c", "Bbb" (C = 0)."""
    m = re.fullmatch(r"([A-Ga-g])([#b]*)", name.strip())
    if not m:
        raise BadRequestError(f"not a note name: {name!r}")
    letter, accidentals = m.groups()
    return (_LETTER_PC[letter.upper()] + accidentals.count("#") - accidentals.count("b")) % 12


_LETTERS = "CDEFGAB"
_ACCIDENTAL = {0: "", 1: "#", 11: "b"}


@dataclass(frozen=True, slots=True)
class Scale:
    """A key: tonic (pitch class and spelling), mode name, and the accidentals its signature uses."""

    tonic: int
    mode: str
    intervals: tuple[int, ...]
    flats: bool
    tonic_name: str = ""

    @property
    def pitch_classes(self) -> frozenset[int]:
        return frozenset((self.tonic + i) % 12 for i in self.intervals)

    def name(self, pc: int) -> str:
        """How the key spells pitch class ``pc``: a scale tone by its degree's letter (Cb, not B,
        in Eb minor), anything else with the key's sharps or flats."""
        pc %= 12
        if self.tonic_name and len(self.intervals) == 7 and pc in self.pitch_classes:
            degree = next(d for d, i in enumerate(self.intervals) if (self.tonic + i) % 12 == pc)
            letter = _LETTERS[(_LETTERS.index(self.tonic_name[0]) + degree) % 7]
            accidental = _ACCIDENTAL.get((pc - _LETTER_PC[letter]) % 12)
            if accidental is not None:
                return letter + accidental
        return (FLAT_NAMES if self.flats else SHARP_NAMES)[pc]

    def degree_pc(self, degree: int) -> int:
        """Pitch class of zero-based scale ``degree`` (may exceed the scale length)."""
        n = len(self.intervals)
        return (self.tonic + self.intervals[degree % n]) % 12

    def contains(self, pitch: int) -> bool:
        return pitch % 12 in self.pitch_classes

    def snap(self, pitch: int, direction: int = -1) -> int:
        """``pitch`` if in the scale, else the nearest scale pitch in ``direction`` (-1 down, 1 up)."""
        while not self.contains(pitch):
            pitch += direction
        return pitch

    def step(self, pitch: int, steps: int) -> int:
        """The scale pitch ``steps`` scale degrees away from in-scale ``pitch``."""
        direction = 1 if steps > 0 else -1
        for _ in range(abs(steps)):
            pitch += direction
            while not self.contains(pitch):
                pitch += direction
        return pitch


def canonical_mode(mode: str) -> str:
    """The scales.toml key for ``mode`` or one of its aliases ("aeolian" -> "minor")."""
    wanted = mode.strip().lower()
    for key, entry in tables().theory.scales.items():
        if wanted == key or wanted in entry.aliases:
            return key
    raise BadRequestError(f"unknown mode {mode!r}; known: {', '.join(tables().theory.scales)}")


def _relative_major(tonic: int, intervals: tuple[int, ...]) -> int:
    major = tables().theory.scales["major"].intervals
    pcs = {(tonic + i) % 12 for i in intervals}
    for candidate in range(12):
        if {(candidate + i) % 12 for i in major} == pcs:
            return candidate
    return (tonic + (3 if 3 in intervals else 0)) % 12  # non-diatonic scales: spell as the relative minor


def scale_of(root: str, mode: str) -> Scale:
    """The scale for a key given as the user or a table spells it ("Eb", "minor")."""
    mode = canonical_mode(mode)
    intervals = tuple(tables().theory.scales[mode].intervals)
    tonic = pitch_class(root)
    if "b" in root[1:]:
        flats = True
    elif "#" in root:
        flats = False
    else:
        flats = _relative_major(tonic, intervals) not in _SHARP_KEYS
    return Scale(tonic, mode, intervals, flats, root[0].upper() + root[1:])


_SHARP_COUNT = {0: 0, 7: 1, 2: 2, 9: 3, 4: 4, 11: 5, 6: 6, 1: 7}
_FLAT_COUNT = {0: 0, 5: 1, 10: 2, 3: 3, 8: 4, 1: 5, 6: 6, 11: 7}


def spell_root(pc: int, mode: str, prefer: str | None = None) -> str:
    """A tonic name for pitch class ``pc`` in ``mode``: ``prefer`` when it names that pitch class,
    else the spelling whose key signature has fewer accidentals (C# dorian, not Db dorian)."""
    if prefer is not None and pitch_class(prefer) == pc:
        return prefer
    sharp, flat = SHARP_NAMES[pc], FLAT_NAMES[pc]
    if sharp == flat:
        return sharp
    intervals = tuple(tables().theory.scales[canonical_mode(mode)].intervals)
    major = _relative_major(pc, intervals)
    sharps, flats = _SHARP_COUNT.get(major, 99), _FLAT_COUNT.get(major, 99)
    return flat if flats <= sharps else sharp  # a tie (6 and 6) reads easier in flats: Eb minor, Gb major


# --- chords ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChordShape:
    """A chord as pitch classes: root, quality key of theory.toml, and its tones."""

    root: int
    quality: str
    tones: tuple[int, ...]  # pitch classes, root first, in stacking order

    @property
    def entry(self) -> QualityEntry:
        return tables().theory.qualities[self.quality]


@cache
def _quality_index() -> dict[frozenset[int], str]:
    return {frozenset(q.intervals): key for key, q in tables().theory.qualities.items()}


def name_quality(intervals: frozenset[int]) -> str | None:
    """The quality key whose interval set is exactly ``intervals``, if theory.toml has one."""
    return _quality_index().get(intervals)


_PARALLEL = ("minor", "major", "mixolydian", "dorian", "phrygian", "lydian", "harmonic minor")


def parse_degree(degree: str) -> tuple[int, int]:
    """("b6") -> (5, -1): zero-based scale degree and chromatic shift."""
    m = re.fullmatch(r"([b#]?)([1-7])", degree)
    if not m:
        raise BadRequestError(f"not a scale degree: {degree!r}")
    return int(m.group(2)) - 1, {"": 0, "b": -1, "#": 1}[m.group(1)]


def stack(scale: Scale, degree: str, size: int) -> ChordShape:
    """The chord on ``degree`` with ``size`` tones (3 triad, 4 seventh, 5 ninth, 6 eleventh).

    Thirds are stacked inside the song's scale, or for an altered degree ("b6") inside the first
    parallel mode in which that root is diatonic (modal mixture). Tones that make no chord known to
    theory.toml, and minor ninths on anything but a dominant, are dropped from the top.
    """
    index, shift = parse_degree(degree)
    source = scale
    root = (scale.degree_pc(index) + shift) % 12
    if shift:
        for mode in _PARALLEL:
            candidate = scale_of(FLAT_NAMES[scale.tonic], mode)
            if candidate.degree_pc(index) == root:
                source = candidate
                break
        else:
            raise BadRequestError(f"degree {degree} has no parallel mode in {scale.mode}")
    tones = [source.degree_pc(index + 2 * k) for k in range(max(3, min(size, 6)))]
    while True:
        intervals = frozenset((t - root) % 12 for t in tones)
        quality = name_quality(intervals)
        bad_ninth = 1 in intervals and quality is not None and tables().theory.qualities[quality].kind != "dominant"
        if quality is not None and not bad_ninth:
            return ChordShape(root, quality, tuple(tones))
        if len(tones) <= 3:
            raise BadRequestError(f"no chord quality for degree {degree} in {scale.mode}")
        tones.pop()


@dataclass(frozen=True, slots=True)
class Planned:
    """A chord before voicing: its degree in the key, its shape, its length, its bass pitch class."""

    degree: str
    shape: ChordShape
    beats: int
    bass: int


_STACK_RANK = {0: 0, 3: 1, 4: 1, 6: 2, 7: 2, 8: 2, 9: 3, 10: 3, 11: 3, 1: 4, 2: 4, 5: 5}
"""Where an interval sits in a stack of thirds: root, third, fifth, seventh (or sixth), ninth, eleventh."""


def stack_order(intervals: list[int]) -> list[int]:
    """Chord tones in stacking order (root, third, fifth, seventh, ninth, eleventh); in a
    suspended chord the second or fourth stands where the third would."""
    rank = dict(_STACK_RANK)
    if not {3, 4} & set(intervals):
        rank[2] = rank[5] = 1
    return sorted(intervals, key=lambda i: (rank[i], i))


def shape_of(root: int, quality: str) -> ChordShape:
    """The chord of ``quality`` (a theory.toml key) on pitch class ``root``, tones in stacking order."""
    intervals = tables().theory.qualities[quality].intervals
    return ChordShape(root % 12, quality, tuple((root + i) % 12 for i in stack_order(intervals)))


def degree_of(scale: Scale, root: int) -> str:
    """The scale degree a root stands on: "5" in the scale, else "b3" (a flattened degree) or "#4"."""
    n = len(scale.intervals)
    for shift, sign in ((0, ""), (1, "b"), (-1, "#")):
        for d in range(n):
            if scale.degree_pc(d) == (root + shift) % 12:
                return f"{sign}{d + 1}"
    raise BadRequestError(f"pitch class {root} is on no degree of {scale.mode}")


def roman(degree: str, shape: ChordShape) -> str:
    """Roman numeral with quality: "i9", "bVImaj7", "V7", "viiø7"."""
    index, shift = parse_degree(degree)
    kind = shape.entry.kind
    numeral = _NUMERALS[index]
    if kind in ("minor", "diminished", "half-diminished"):
        numeral = numeral.lower()
    suffix = shape.quality
    if kind == "minor" and suffix.startswith("m") and not suffix.startswith("maj"):
        suffix = suffix[1:]
    suffix = {"dim": "°", "dim7": "°7", "m7b5": "ø7", "aug": "+"}.get(shape.quality, suffix)
    return {-1: "b", 0: "", 1: "#"}[shift] + numeral + suffix


def symbol(scale: Scale, shape: ChordShape, bass_pc: int | None = None) -> str:
    text = scale.name(shape.root) + shape.quality
    if bass_pc is not None and bass_pc != shape.root:
        text += "/" + scale.name(bass_pc)
    return text


def note_name(pitch: int, flats: bool = True) -> str:
    """"C4"-style name of MIDI ``pitch``."""
    return (FLAT_NAMES if flats else SHARP_NAMES)[pitch % 12] + str(pitch // 12 - 1)
