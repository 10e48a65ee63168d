"""One chord made darker or brighter ("3rd chord too bright, make it darker").

Candidates are the chords a producer would reach for: the same degree with fewer or more
extensions, the diatonic chords a third above or below (which share two tones), and the same root
borrowed from a parallel mode (IV -> iv). Each is scored by how bright its intervals sound
(config/refine.toml [brightness]); the nearest candidate on the asked side wins, diatonic ones
first, then the one sharing the most tones with the original. The progression is then voiced again
so the voice-leading stays smooth around the change.
"""

from __future__ import annotations

from .errors import BadRequestError
from .harmony import _MIXTURE, Planned, chords_of, plan_of
from .model import Progression
from .tables import tables
from .theory import ChordShape, Scale, parse_degree, scale_of, stack


def brightness(shape: ChordShape) -> float:
    """How bright the chord sounds: the summed brightness of its intervals above the root (a major
    third +1, a minor third -1, a major seventh brightens, a flat nine darkens...)."""
    weights = tables().refine.brightness
    return sum(weights.get(str((t - shape.root) % 12), 0.0) for t in shape.tones if t != shape.root)


def _candidates(scale: Scale, p: Planned) -> list[tuple[str, ChordShape, bool]]:
    """(degree, shape, diatonic) alternatives for the planned chord ``p``."""
    index, shift = parse_degree(p.degree)
    size = len(p.shape.tones)
    out: list[tuple[str, ChordShape, bool]] = []
    for n in {max(3, size - 1), min(6, size + 1)} - {size}:
        out.append((p.degree, stack(scale, p.degree, n), True))
    if not shift:
        for step in (2, -2, 5):
            degree = str((index + step) % 7 + 1)
            out.append((degree, stack(scale, degree, size), True))
        for mode in _MIXTURE:
            other = scale_of(scale.name(scale.tonic), mode)
            if mode != scale.mode and other.degree_pc(index) == p.shape.root:
                try:
                    out.append((p.degree, stack(other, p.degree, size), False))
                except BadRequestError:
                    continue
    return [c for c in out if c[1].quality != p.shape.quality or c[1].root != p.shape.root]


def recolor(progression: Progression, number: int, direction: float) -> tuple[Progression, str]:
    """``progression`` with chord ``number`` (1-based; -1 the last) darker (direction < 0) or
    brighter, and a sentence saying what changed.

    Raises:
        BadRequestError: no chord there, or nothing darker (brighter) fits.
    """
    planned = plan_of(progression)
    index = len(planned) - 1 if number == -1 else number - 1
    if not 0 <= index < len(planned):
        raise BadRequestError(f"the progression has {len(planned)} chords; there is no chord {number}")
    scale = scale_of(progression.key.root, progression.key.mode)
    p = planned[index]
    before = brightness(p.shape)
    side = [c for c in _candidates(scale, p) if (brightness(c[1]) - before) * direction > 0.05]
    if not side:
        word = "darker" if direction < 0 else "brighter"
        raise BadRequestError(f"chord {index + 1} ({progression.chords[index].symbol}) has no {word} substitute in {progression.key.label()}")
    shared = lambda c: len(set(c[1].tones) & set(p.shape.tones))  # noqa: E731
    degree, shape, _ = min(side, key=lambda c: (not c[2], -shared(c), abs(brightness(c[1]) - before)))
    planned[index] = Planned(degree, shape, p.beats, shape.root)
    degrees = list(progression.degrees)
    degrees[index] = degree
    chords = chords_of(scale, planned)
    changed = progression.model_copy(update={"chords": chords, "degrees": degrees})
    old, new = progression.chords[index].symbol, chords[index].symbol
    return changed, f"chord {index + 1}: {old} -> {new} ({'darker' if direction < 0 else 'brighter'})"
