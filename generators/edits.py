"""Small edits of a finished song that need no generator, and the one way a change enters the
song's history."""

from __future__ import annotations

from datetime import datetime, timezone

from .model import HistoryEntry, SongState
from .sound import with_effects


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def with_history(song: SongState, action: str, request: str, targets: list[str], files: list[str],
                 snapshot: str | None = None) -> SongState:
    """``song`` with one more history entry: what was done (``action``, as asked: ``request``), what
    it reached, the session files it rewrote and the snapshot of the song before it (for undo)."""
    entry = HistoryEntry(at=now_iso(), action=action, request=request, targets=targets, files=files, snapshot=snapshot)
    return song.model_copy(update={"history": [*song.history, entry]})


def retempo(song: SongState, bpm: float) -> SongState:
    """``song`` at ``bpm``: the tempo (now explicit) and every time-based effect value recomputed.
    Notes are in ticks, so the parts themselves do not change."""
    intent = song.intent
    tempo = intent.tempo.model_copy(update={"bpm": float(bpm), "confidence": "explicit"})
    intent = intent.model_copy(update={"tempo": tempo})
    return song.model_copy(update={"intent": intent, "tracks": with_effects(intent, song.tracks, bpm)})
