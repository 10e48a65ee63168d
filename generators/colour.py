"""Chromatic colour in a progression, as a genre calls for it (config/genres.toml ``[harmony]``).

Each device is a rule a player would reach for, tried at random places of a diatonic plan:

- ``secondary``: the chord before X becomes X's dominant (vi -> ii turns VI7 -> ii), or a dominant of
  X is squeezed into the last two beats before it;
- ``passing-dim``: between two chords a whole step apart, a diminished seventh on the semitone
  between them (I, #I°7, ii);
- ``tritone``: a dominant resolving down a fifth is replaced by the dominant a tritone away (bII7);
- ``approach``: the target chord's quality a semitone above it, on the beats just before it;
- ``blues``: a major chord on the tonic or the fourth made a dominant seventh.

A device is kept only while the share of out-of-scale tones (weighted by length) stays within the
genre's ``budget`` and the progression within ``limit`` chords, so the key is never lost.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from .theory import Planned, Scale, degree_of, shape_of

DEVICES = ("secondary", "passing-dim", "tritone", "approach", "blues")


def out_share(scale: Scale, chords: list[Planned]) -> float:
    total = sum(len(p.shape.tones) * p.beats for p in chords)
    out = sum(sum(t not in scale.pitch_classes for t in p.shape.tones) * p.beats for p in chords)
    return out / total if total else 0.0


def _dominant(size: int) -> str:
    return "" if size <= 3 else "7" if size == 4 else "9"


def _chord(scale: Scale, root: int, quality: str, beats: int) -> Planned:
    shape = shape_of(root, quality)
    return Planned(degree_of(scale, shape.root), shape, beats, shape.root)


def _split(chords: list[Planned], i: int, new: Planned) -> list[Planned] | None:
    """``new`` takes the last two beats of chord ``i`` (which must last four or more)."""
    p = chords[i]
    if p.beats < 4:
        return None
    kept = Planned(p.degree, p.shape, p.beats - 2, p.bass)
    return [*chords[:i], kept, Planned(new.degree, new.shape, 2, new.bass), *chords[i + 1 :]]


def _secondary(scale: Scale, chords: list[Planned], i: int, rng: random.Random) -> list[Planned] | None:
    target = chords[(i + 1) % len(chords)]
    if target.shape.entry.kind in ("diminished", "half-diminished"):
        return None
    root = (target.shape.root + 7) % 12
    p = chords[i]
    quality = _dominant(len(p.shape.tones))
    if p.shape.root == root and p.shape.entry.kind != "dominant" and p.bass == p.shape.root:
        return [*chords[:i], _chord(scale, root, quality, p.beats), *chords[i + 1 :]]
    if i + 1 < len(chords) and p.shape.root != root:
        return _split(chords, i, _chord(scale, root, quality, 2))
    return None


def _passing_dim(scale: Scale, chords: list[Planned], i: int, rng: random.Random) -> list[Planned] | None:
    if i + 1 >= len(chords):
        return None
    a, b = chords[i], chords[i + 1]
    if (b.shape.root - a.shape.root) % 12 != 2:
        return None
    quality = "dim7" if len(a.shape.tones) >= 4 else "dim"
    return _split(chords, i, _chord(scale, a.shape.root + 1, quality, 2))


def _tritone(scale: Scale, chords: list[Planned], i: int, rng: random.Random) -> list[Planned] | None:
    p, target = chords[i], chords[(i + 1) % len(chords)]
    if p.shape.entry.kind != "dominant" or (p.shape.root - target.shape.root) % 12 != 7:
        return None
    return [*chords[:i], _chord(scale, p.shape.root + 6, p.shape.quality, p.beats), *chords[i + 1 :]]


def _approach(scale: Scale, chords: list[Planned], i: int, rng: random.Random) -> list[Planned] | None:
    if i + 1 >= len(chords):
        return None
    target = chords[i + 1]
    if target.shape.root == chords[i].shape.root:
        return None
    return _split(chords, i, _chord(scale, target.shape.root + 1, target.shape.quality, 2))


def _blues(scale: Scale, chords: list[Planned], i: int, rng: random.Random) -> list[Planned] | None:
    p = chords[i]
    on = (p.shape.root - scale.tonic) % 12
    if on not in (0, 5) or p.shape.entry.kind != "major" or len(p.shape.tones) < 4:
        return None
    return [*chords[:i], _chord(scale, p.shape.root, "7" if len(p.shape.tones) == 4 else "9", p.beats), *chords[i + 1 :]]


_RULES = {"secondary": _secondary, "passing-dim": _passing_dim, "tritone": _tritone, "approach": _approach, "blues": _blues}


def _diatonic(scale: Scale, p: Planned) -> bool:
    return all(t in scale.pitch_classes for t in p.shape.tones)


def colour(scale: Scale, chords: list[Planned], devices: Mapping[str, float], budget: float, limit: int, rng: random.Random) -> list[Planned]:
    """``chords`` with the genre's devices applied where they fit, each at its chance per place.

    A device leads into a diatonic chord (the blues seventh leads nowhere) and, but for a tritone
    substitute, which replaces a dominant, grows out of one, so colour chords never pile up."""
    for name in DEVICES:
        chance = devices.get(name, 0.0)
        if chance <= 0:
            continue
        places = list(range(len(chords)))
        rng.shuffle(places)
        for i in places:
            if i >= len(chords) or rng.random() >= chance:
                continue
            target = chords[(i + 1) % len(chords)]
            leads = name != "blues"  # every device but the blues seventh leads into the next chord
            if (leads and not _diatonic(scale, target)) or (name != "tritone" and not _diatonic(scale, chords[i])):
                continue
            trial = _RULES[name](scale, chords, i, rng)
            if trial is not None and len(trial) <= limit and out_share(scale, trial) <= budget:
                chords = trial
    return chords
