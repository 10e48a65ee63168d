"""The note ledger: which (port, channel, note) is sounding, and which tracks owe it a note-off.

Every note-on the engine sends is entered here and every note-off it sends is matched against it,
so stop, jump, replace and shutdown can end exactly the notes they cut off, and on every key the
wire carries note-ons and note-offs that alternate exactly: never a note-off for a key that is not
sounding, never a second note-on for a key that is.

MIDI cannot tell two instances of one key apart, so a key started again while it sounds (a drum hit
retriggered before its previous hit's note-off, a chord tone another track also holds) is
*retriggered*: the caller sends a note-off and then the new note-on. The ledger remembers every
note-off still owed — per track, because each track's note-offs arrive on their own — and the key
stops sounding only when the last one arrives: earlier ones are swallowed. So a note-on always
articulates, and the longest of overlapping notes decides when the key ends.
"""

from __future__ import annotations

from dataclasses import dataclass

Key = tuple[str, int, int]
"""(port, channel, note)."""


@dataclass(frozen=True, slots=True)
class Release:
    """``key`` stops sounding; ``track`` owed it ``count`` note-offs (one note-off goes on the wire)."""

    key: Key
    track: str
    count: int

    def message(self) -> tuple[int, int, int]:
        """The note-off message (status 0x80) that ends this key."""
        _, channel, note = self.key
        return (0x80 | channel, note, 0)


class NoteLedger:
    """Sounding keys: key -> {track: note-offs that track owes the key}."""

    __slots__ = ("_sounding",)

    def __init__(self) -> None:
        self._sounding: dict[Key, dict[str, int]] = {}

    def __len__(self) -> int:
        """How many keys are sounding."""
        return len(self._sounding)

    def __contains__(self, key: object) -> bool:
        return key in self._sounding

    def note_on(self, key: Key, track: str) -> bool:
        """Enter a note-on of ``track``; True when ``key`` already sounds, so the caller must send a
        note-off before this note-on (a retrigger)."""
        tracks = self._sounding.get(key)
        if tracks is None:
            self._sounding[key] = {track: 1}
            return False
        tracks[track] = tracks.get(track, 0) + 1
        return True

    def note_off(self, key: Key, track: str) -> bool:
        """Match a note-off of ``track``; True when it must be sent: ``track`` owed ``key`` one and
        no other note-off is owed any more.

        False means the note-off must not be sent: the note was already ended (by a stop, jump,
        replace or panic), never started, or a later retrigger of the key still sounds.
        """
        tracks = self._sounding.get(key)
        if not tracks or track not in tracks:
            return False
        if tracks[track] > 1:
            tracks[track] -= 1
        else:
            del tracks[track]
        if tracks:
            return False
        del self._sounding[key]
        return True

    def count(self, key: Key, track: str | None = None) -> int:
        """How many note-offs ``key`` is owed (by ``track``, or by every track)."""
        tracks = self._sounding.get(key, {})
        return sum(tracks.values()) if track is None else tracks.get(track, 0)

    def keys(self) -> list[Key]:
        """The sounding keys."""
        return list(self._sounding)

    def sounding(self, track: str | None = None) -> list[Release]:
        """What is owed (by ``track`` only, if given), without releasing it."""
        return [
            Release(key, t, n)
            for key, tracks in self._sounding.items()
            for t, n in tracks.items()
            if track is None or t == track
        ]

    def release_track(self, track: str) -> list[Release]:
        """Forget what ``track`` owes; the keys that stop sounding because of it (no other track
        holds them), each to be ended with one note-off."""
        released = []
        for r in self.sounding(track):
            tracks = self._sounding[r.key]
            del tracks[track]
            if not tracks:
                del self._sounding[r.key]
                released.append(r)
        return released

    def release_all(self, port: str | None = None) -> list[Release]:
        """Forget every sounding key (of ``port`` only, if given): one Release per key, in a stable
        order (port, channel, note)."""
        keys = sorted(k for k in self._sounding if port is None or k[0] == port)
        released = [Release(k, *min(self._sounding.pop(k).items())) for k in keys]
        return released
