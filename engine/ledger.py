"""The note ledger: which (port, channel, note) is sounding, and which track started it.

Every note-on the engine sends is entered here and every note-off it sends is matched against it,
so stop, jump, replace and shutdown can end exactly the notes they cut off, and a note-off is never
sent for a note that is not sounding.

A key sounding more than once (two overlapping note-ons of the same pitch) is one entry with a count
per track: MIDI cannot tell the instances apart, so releasing sends one note-off per count.
"""

from __future__ import annotations

from dataclasses import dataclass

Key = tuple[str, int, int]
"""(port, channel, note)."""


@dataclass(frozen=True, slots=True)
class Release:
    """``count`` note-offs to send for ``key``, started by ``track``."""

    key: Key
    track: str
    count: int

    def message(self) -> tuple[int, int, int]:
        """The note-off message (status 0x80) that ends this key."""
        _, channel, note = self.key
        return (0x80 | channel, note, 0)


class NoteLedger:
    """Sounding notes: key -> {track: count of note-ons not yet matched by a note-off}."""

    __slots__ = ("_sounding",)

    def __init__(self) -> None:
        self._sounding: dict[Key, dict[str, int]] = {}

    def __len__(self) -> int:
        return len(self._sounding)

    def __contains__(self, key: object) -> bool:
        return key in self._sounding

    def note_on(self, key: Key, track: str) -> None:
        tracks = self._sounding.setdefault(key, {})
        tracks[track] = tracks.get(track, 0) + 1

    def note_off(self, key: Key, track: str) -> bool:
        """Match a note-off of ``track``; False when that track has no such note sounding.

        A False return means the note-off must not be sent: the note was already ended (by a stop,
        jump, replace or panic) or never started.
        """
        tracks = self._sounding.get(key)
        if not tracks or track not in tracks:
            return False
        if tracks[track] > 1:
            tracks[track] -= 1
        else:
            del tracks[track]
            if not tracks:
                del self._sounding[key]
        return True

    def count(self, key: Key, track: str | None = None) -> int:
        """How many note-ons of ``key`` (from ``track``, or from any track) are unmatched."""
        tracks = self._sounding.get(key, {})
        return sum(tracks.values()) if track is None else tracks.get(track, 0)

    def sounding(self, track: str | None = None) -> list[Release]:
        """What is sounding (for ``track`` only, if given), without releasing it."""
        return [
            Release(key, t, n)
            for key, tracks in self._sounding.items()
            for t, n in tracks.items()
            if track is None or t == track
        ]

    def release_track(self, track: str) -> list[Release]:
        """Forget and return every note ``track`` started."""
        released = self.sounding(track)
        for r in released:
            tracks = self._sounding[r.key]
            del tracks[track]
            if not tracks:
                del self._sounding[r.key]
        return released

    def release_all(self) -> list[Release]:
        """Forget and return every sounding note, in a stable order (port, channel, note)."""
        released = sorted(self.sounding(), key=lambda r: (r.key, r.track))
        self._sounding.clear()
        return released
