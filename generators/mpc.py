"""How MPC Beats spells what backbeat writes for it (docs/MPC_BEATS.md §3)."""

MPC_KEY_NAMES = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#", "Cb": "B", "Fb": "E",
                 "E#": "F", "B#": "C"}
"""MPC spells keys with sharps ("D#", "A#") in its own files."""


def mpc_key(root: str) -> str:
    """A tonic as MPC spells it: sharps, never flats."""
    return MPC_KEY_NAMES.get(root, root)
