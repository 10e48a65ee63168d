"""The names of a song's parts, in song order: one list for every layer.

It imports nothing, so the command line and the TUI can read it at start-up without loading the
song's models (``model`` re-exports both names; the protocol validates parts against ``Part``).
"""

from typing import Literal

Part = Literal["drums", "bass", "chords", "lead"]
PARTS: tuple[Part, ...] = ("drums", "bass", "chords", "lead")
