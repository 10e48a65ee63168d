"""The General MIDI program each part previews with: a .mid file's program changes.

MPC Beats ignores program changes (its tracks choose their own instruments), but every other player
and DAW would otherwise preview every melodic part as a grand piano. The genre table names a program
per melodic part (``programs`` in config/genres.toml); drums on channel 10 take none (the channel is
the drum kit).
"""

from __future__ import annotations

from .model import Part, SongState
from .tables import tables

DEFAULTS: dict[str, int] = {"bass": 33, "chords": 0, "lead": 80}
"""Fingered bass, grand piano and a square lead where a genre names none."""


def program(song: SongState, part: Part | str) -> int | None:
    """The 0-based GM program of ``part`` in ``song`` (None for the drums)."""
    if part == "drums":
        return None
    genre = tables().intent.genres.get(song.intent.genre.primary)
    chosen = genre.programs if genre is not None else {}
    return chosen.get(part, DEFAULTS.get(part))  # type: ignore[call-overload]
