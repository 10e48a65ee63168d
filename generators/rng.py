"""Seeded randomness: every stage draws from its own stream, derived from the song seed and a label.

Streams are independent, so regenerating one part (or adding a stage) never shifts what another
part draws: the same seed gives the same drums whether or not the bass was regenerated.
"""

from __future__ import annotations

import hashlib
import random


def stream(seed: int, *labels: object) -> random.Random:
    """A ``random.Random`` for ``seed`` and ``labels`` (e.g. ``stream(7, "drums", 3)``)."""
    text = ":".join([str(seed), *map(str, labels)]).encode()
    return random.Random(int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big"))
