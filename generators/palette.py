"""The Pad Perform palette: up to 16 chords for MPC Beats' progression pads, the song's own first.

A song's loop holds 2-8 chords, often repeated; MPC's own progressions fill all 16 pads. After the
song's chords (each once) come useful neighbours, so the pads are a palette to play with: the key's
other diatonic chords (substitutes), the secondary dominants of the song's chords, then colour chords
borrowed from the parallel modes (then, while pads are left, the dominants of the other diatonic
chords and the diatonic chords one tone plainer or richer). Neighbours take the song's chord size (its colour: triads, sevenths
or ninths) and are voiced in the song's register, smoothly after its last chord. No chord appears twice
(two spellings of the same notes count as one).
"""

from __future__ import annotations

from .errors import BadRequestError
from .harmony import Planned, chords_of, plan_of, voice
from .model import Chord, Progression
from .theory import ChordShape, Scale, scale_of, stack, symbol

PADS = 16
_DIATONIC_ORDER = ("1", "4", "5", "6", "2", "3", "7")
"""Substitutes in order of how often they serve: tonic, subdominant and dominant first."""
_COLOUR = {
    False: ("b7", "b6", "4", "b3", "b2"),  # a major-ish key borrows from its parallel minors
    True: ("4", "5", "b2", "2", "7"),  # a minor-ish key from dorian, harmonic minor, phrygian
}
"""Borrowed degrees, most idiomatic first (stack() finds the parallel mode each comes from)."""
BEATS = 4
"""A palette chord's length (the .progression file has no durations; a Chord needs one)."""


def _key(shape: ChordShape, bass: int) -> tuple[int, frozenset[int], int]:
    return shape.root, frozenset(shape.tones), bass


def _dominant_of(target: int, size: int) -> ChordShape:
    """The dominant seventh (a ninth for five or more tones) whose root is a fifth above ``target``."""
    root = (target + 7) % 12
    intervals = (0, 4, 7, 10, 2) if size >= 5 else (0, 4, 7, 10)
    return ChordShape(root, "9" if size >= 5 else "7", tuple((root + i) % 12 for i in intervals))


def palette(progression: Progression, pads: int = PADS) -> list[Chord]:
    """The song's chords (in order, each once), then neighbours, ``pads`` at most."""
    scale = scale_of(progression.key.root, progression.key.mode)
    own = plan_of(progression)
    seen: set[tuple[int, frozenset[int], int]] = set()
    first: list[tuple[Planned, Chord]] = []
    for p, chord in zip(own, progression.chords):
        if _key(p.shape, p.bass) not in seen:
            seen.add(_key(p.shape, p.bass))
            first.append((p, chord))
    size = max(len(p.shape.tones) for p in own)
    extra: list[tuple[Planned, str]] = []  # (plan, roman label for secondary dominants, else "")

    def offer(p: Planned, label: str = "") -> None:
        if len(first) + len(extra) < pads and _key(p.shape, p.bass) not in seen:
            seen.add(_key(p.shape, p.bass))
            extra.append((p, label))

    for degree in _DIATONIC_ORDER:
        offer(_planned(scale, degree, size))
    for p, chord in first:
        dominant = _dominant_of(p.shape.root, size)
        offer(Planned("5", dominant, BEATS, dominant.root), f"V{dominant.quality}/{chord.degree}")
    minor = 3 in scale.intervals and 4 not in scale.intervals
    for degree in _COLOUR[minor]:
        try:
            offer(_planned(scale, degree, size))
        except BadRequestError:
            continue  # no parallel mode has that root: skip it
    for degree in _DIATONIC_ORDER[1:]:  # still room: the dominants of the other diatonic chords...
        target = _planned(scale, degree, size)
        dominant = _dominant_of(target.shape.root, size)
        offer(Planned("5", dominant, BEATS, dominant.root), f"V{dominant.quality}/{degree}")
    for degree in _DIATONIC_ORDER:  # ...then the diatonic chords one tone plainer, or richer
        offer(_planned(scale, degree, max(3, size - 1)))
    for degree in _DIATONIC_ORDER:
        offer(_planned(scale, degree, min(6, size + 1)))
    return [c for _, c in first] + _voiced(scale, [p for p, _ in first], extra)


def _planned(scale: Scale, degree: str, size: int) -> Planned:
    shape = stack(scale, degree, size)
    return Planned(degree, shape, BEATS, shape.root)


def _voiced(scale: Scale, before: list[Planned], extra: list[tuple[Planned, str]]) -> list[Chord]:
    """The neighbours as chords, voiced on from the song's chords (whose voicings stay as they are)."""
    if not extra:
        return []
    planned = [p for p, _ in extra]
    notes = voice([*before, *planned])[len(before):]
    chords = chords_of(scale, planned)
    out = []
    for chord, voicing, (p, label) in zip(chords, notes, extra):
        update: dict = {"notes": voicing}
        if label:  # roman() knows scale degrees, not applied dominants
            update.update(degree=label, symbol=symbol(scale, p.shape))
        out.append(chord.model_copy(update=update))
    return out
